// The comment form and the moderation queue in Debian's Chromium (issue 25): a reader
// comments without JavaScript and with it, replies under a comment, is told a comment with
// links is held; a moderator signs in, approves it, and it shows on the page and in the
// post's comment feed; a cross-site POST, an expired form and a filled honeypot are
// refused. Its own `gazette serve` (forms last 8 s and may be sent after 1 s, so expiry is
// quick to reach); a screenshot of each page in target/clients/.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { chromium } from 'playwright-core';

import { DEMO_SLUG, gazetteBin } from '../lib/gazette.mjs';

const screenshots = process.env.GAZETTE_SCREENSHOTS ?? new URL('../../target/clients/', import.meta.url).pathname;
mkdirSync(screenshots, { recursive: true });

const FILL_TIME_MS = 1200;
const FORM_LIFETIME = '8s';

let server;
let dataDir;
let base;
let postUrl;
let adminToken;
let browser;

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gazette-forms-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  postUrl = `${base}/posts/${DEMO_SLUG}`;
  server = spawn(
    gazetteBin,
    [
      'serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--metrics-listen', 'off',
      '--comment-form-min-fill', '1s', '--comment-form-lifetime', FORM_LIFETIME,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  server.stderr.on('data', (chunk) => { log += chunk; });
  for (let attempt = 0; ; attempt += 1) {
    const ready = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    assert.ok(attempt < 240 && server.exitCode === null, `gazette serve did not start:\n${log}`);
    await sleep(500);
  }
  adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await Promise.race([new Promise((resolve) => server.once('exit', resolve)), sleep(30_000)]);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function reader({ javaScript = true, viewport = { width: 1100, height: 900 } } = {}) {
  const context = await browser.newContext({ javaScriptEnabled: javaScript, viewport });
  return context.newPage();
}

/** Fills the form under the page and sends it with the button, after a person's pause. */
async function comment(page, { name, body, email = '' }) {
  await page.fill('#comment-name', name);
  if (email) await page.fill('#comment-email', email);
  await page.fill('#comment-body', body);
  await sleep(FILL_TIME_MS);
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.click('button:has-text("Post comment")'),
  ]);
  return response;
}

test('a reader comments without JavaScript and lands on the comment', async () => {
  const page = await reader({ javaScript: false });
  await page.goto(postUrl);
  assert.equal(await page.locator('#comment-form h2').textContent(), 'Leave a comment');
  await page.screenshot({ path: join(screenshots, 'comment-form.png'), fullPage: true });
  const response = await comment(page, { name: 'Reader without script', body: 'Plain form, no script.', email: 'r@example.org' });
  assert.equal(response.status(), 200);
  assert.match(page.url(), /#comment-\d+$/);
  const id = page.url().split('#')[1];
  assert.match(await page.locator(`#${id}`).textContent(), /Plain form, no script\./);
  assert.equal(await page.locator('text=r@example.org').count(), 0, 'emails are never shown');
  await page.context().close();
});

test('with JavaScript, by keyboard alone, a reader replies under a comment', async () => {
  const page = await reader();
  await page.goto(postUrl);
  await page.click('a[aria-label="Reply to Reader without script"]');
  assert.match(page.url(), /\?reply=\d+#comment-form$/);
  const parentId = new URL(page.url()).searchParams.get('reply');
  assert.equal(await page.locator('#comment-form h2').textContent(), 'Reply to Reader without script');
  // Keyboard only: each Tab goes to the next field; the honeypot is skipped.
  await page.focus('#comment-name');
  await page.keyboard.type('Keyboard reader');
  const order = [];
  for (let step = 0; step < 4; step += 1) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement.id || document.activeElement.textContent));
  }
  assert.deepEqual(order, ['comment-email', 'comment-website', 'comment-body', 'Post comment']);
  await page.focus('#comment-body');
  await page.keyboard.type('A reply, typed.');
  await sleep(FILL_TIME_MS);
  await page.focus('button:has-text("Post comment")');
  await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  assert.match(page.url(), /#comment-\d+$/);
  const reply = page.locator(`#${page.url().split('#')[1]}`);
  assert.match(await reply.textContent(), /A reply, typed\./);
  // Threaded: indented one step more than the comment it answers.
  const indent = async (id) => page.locator(`#comment-${id}`).evaluate((el) => parseFloat(el.style.marginLeft));
  assert.equal(await indent(page.url().split('#comment-')[1]), (await indent(parentId)) + 1);
  await page.context().close();
});

test('a comment with links is held, and the reader is told so', async () => {
  const page = await reader({ javaScript: false });
  await page.goto(postUrl);
  await comment(page, {
    name: 'Link sharer',
    body: 'Sources: https://www.example.org/report and https://www.example.org/data',
  });
  assert.match(page.url(), /\?held=1#comment-held$/);
  assert.match(await page.locator('#comment-held').textContent(), /held for moderation/);
  assert.equal(await page.locator('text=www.example.org/report').count(), 0);
  await page.screenshot({ path: join(screenshots, 'comment-held.png'), fullPage: true });
  await page.context().close();
});

test('a moderator signs in, approves the held comment, and it is published', async () => {
  const page = await reader();
  await page.goto(`${base}/moderation`);
  await page.screenshot({ path: join(screenshots, 'moderation-sign-in.png') });
  await page.fill('#token', adminToken);
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign in")')]);
  const cookies = await page.context().cookies();
  const session = cookies.find((cookie) => cookie.name === 'gazette_moderation');
  assert.ok(session?.httpOnly, 'an HttpOnly session cookie');
  assert.equal(session.sameSite, 'Strict');
  assert.match(await page.locator('.counts').textContent(), /^1 held for moderation/);
  const held = page.locator('article', { hasText: 'Link sharer' });
  assert.match(await held.textContent(), /Sources:/);
  await page.screenshot({ path: join(screenshots, 'moderation-queue.png'), fullPage: true });
  await Promise.all([page.waitForNavigation(), held.locator('button:has-text("Approve")').click()]);
  assert.match(await page.locator('[role=status]').textContent(), /approved/);
  assert.match(await page.locator('.counts').textContent(), /^0 held/);

  await page.goto(postUrl);
  assert.equal(await page.locator('.comment', { hasText: 'Link sharer' }).count(), 1);
  // The post's comment feed follows (the worker rebuilds it on the change).
  let feed = '';
  for (let attempt = 0; attempt < 60 && !feed.includes('Link sharer'); attempt += 1) {
    feed = await fetch(`${postUrl}/comments/feed.xml`).then((r) => r.text());
    if (!feed.includes('Link sharer')) await sleep(500);
  }
  assert.match(feed, /Link sharer/);
  await page.context().close();
});

test('a forged cross-site POST is refused', async () => {
  const page = await reader();
  const form = await (await fetch(postUrl)).text();
  const token = form.match(/name="form_token" value="([0-9a-f]+)"/)[1];
  // Another site's page whose form posts to Gazette, with a token it fetched itself.
  await page.route('http://attacker.test/**', (route) => route.fulfill({
    contentType: 'text/html',
    body: `<form method="post" action="${postUrl}/comments">
      <input name="form_token" value="${token}"><input name="name" value="Forger">
      <input name="body" value="Posted for you"><button>Win a prize</button></form>`,
  }));
  await page.goto('http://attacker.test/prize');
  await sleep(FILL_TIME_MS);
  const [response] = await Promise.all([page.waitForNavigation(), page.click('button')]);
  assert.equal(response.status(), 403);
  assert.match(await page.textContent('main'), /sent from another site/);
  await page.goto(postUrl);
  assert.equal(await page.locator('text=Posted for you').count(), 0);
  await page.context().close();
});

test('an expired form is refused with the text kept', async () => {
  const page = await reader({ javaScript: false });
  await page.goto(postUrl);
  await page.fill('#comment-name', 'Slow writer');
  await page.fill('#comment-body', 'I took my time over this.');
  await sleep(9_000);
  const [response] = await Promise.all([page.waitForNavigation(), page.click('button:has-text("Post comment")')]);
  assert.equal(response.status(), 403);
  assert.match(await page.locator('[role=alert]').textContent(), /This form has expired/);
  assert.equal(await page.inputValue('#comment-body'), 'I took my time over this.');
  await page.screenshot({ path: join(screenshots, 'comment-form-refused.png'), fullPage: true });
  // The form that came back has a fresh token: sending it again works.
  await sleep(FILL_TIME_MS);
  await Promise.all([page.waitForNavigation(), page.click('button:has-text("Post comment")')]);
  assert.match(page.url(), /#comment-\d+$/);
  await page.context().close();
});

test('a filled honeypot is refused, and the form reads well on a phone', async () => {
  const page = await reader({ javaScript: false, viewport: { width: 390, height: 844 } });
  await page.goto(postUrl);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `no sideways scrolling on a phone (${overflow}px too wide)`);
  await page.screenshot({ path: join(screenshots, 'comment-form-phone.png'), fullPage: true });
  await page.fill('#comment-name', 'Spam bot');
  await page.fill('#comment-body', 'Cheap pills');
  await page.fill('#comment-homepage', 'http://spam.example', { force: true });
  await sleep(FILL_TIME_MS);
  const [response] = await Promise.all([page.waitForNavigation(), page.click('button:has-text("Post comment")')]);
  assert.equal(response.status(), 400);
  assert.match(await page.locator('[role=alert]').textContent(), /must stay empty/);
  await page.context().close();
});
