// GraphiQL in Debian's Chromium (playwright-core, no browser download): the playground
// loads from Gazette alone, runs a query with ▶ and shows its keys in query order, opens
// the docs, and runs a subscription pasted and started at once (issue 11, items 1 and 11).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, test } from 'node:test';

import { chromium } from 'playwright-core';

import { DEMO_SLUG, base, commentUntil, demoPostId } from '../lib/gazette.mjs';

const screenshots = process.env.GAZETTE_SCREENSHOTS ?? new URL('../../target/clients/', import.meta.url).pathname;
mkdirSync(screenshots, { recursive: true });

let browser;
let page;
const consoleErrors = [];
const foreignRequests = [];

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    // Root in CI containers cannot use Chromium's sandbox.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => consoleErrors.push(String(error)));
  const origin = new URL(base).origin;
  await page.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith('data:') || url.startsWith('blob:')) return route.continue();
    foreignRequests.push(url);
    return route.abort();
  });
  await page.goto(new URL('/graphiql', base).toString());
  await page.waitForSelector('.graphiql-query-editor .CodeMirror');
});

after(async () => {
  await browser?.close();
});

/** Puts `text` in the query editor and presses ▶ in the same task, as a quick paste-and-run does. */
async function pasteAndRun(text) {
  await page.evaluate((query) => {
    document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(query);
    document.querySelector('.graphiql-execute-button').click();
  }, text);
}

async function resultText() {
  return page.evaluate(() => document.querySelector('.result-window .CodeMirror')?.CodeMirror.getValue() ?? '');
}

async function resultWhen(predicate, what) {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const text = await resultText();
    if (predicate(text)) return text;
    await page.waitForTimeout(100);
  }
  assert.fail(`${what}; the result pane shows: ${await resultText()}`);
}

test('a query runs with ▶ and its keys come in query order', async () => {
  await pasteAndRun(`{ post(slug: "${DEMO_SLUG}") { title excerpt slug } }`);
  const text = await resultWhen((text) => text.includes('"excerpt"'), 'the query answered');
  const post = JSON.parse(text).data.post;
  assert.deepEqual(Object.keys(post), ['title', 'excerpt', 'slug']);
  await page.screenshot({ path: `${screenshots}/graphiql-query.png` });
});

test('the documentation explorer opens on the schema', async () => {
  await page.click('[aria-label="Show Documentation Explorer"]');
  const explorer = page.locator('.graphiql-doc-explorer');
  await explorer.waitFor();
  await explorer.getByText('Query', { exact: true }).first().waitFor();
  await page.screenshot({ path: `${screenshots}/graphiql-docs.png` });
});

test('a subscription pasted and run at once goes over the WebSocket', async () => {
  const postId = await demoPostId();
  const prefix = `Seen in GraphiQL ${Date.now()}`;
  await pasteAndRun(`subscription Comments { commentAdded(postId: "${postId}") { body } }`);
  const shown = resultWhen((text) => text.includes(prefix), 'the comment reached the playground');
  await commentUntil(postId, prefix, shown);
  assert.doesNotMatch(await resultText(), /not supported|OPERATION_NOT_ALLOWED/);
  await page.screenshot({ path: `${screenshots}/graphiql-subscription.png` });
  // ▶ became ■ while the subscription runs: stop it, then a query pasted and run at once
  // (GraphiQL still believes the editor holds a subscription) goes back to HTTP.
  await page.click('.graphiql-execute-button');
  await page.waitForTimeout(200);
  await pasteAndRun('query Again { __typename }');
  await resultWhen((text) => text.includes('"__typename": "Query"'), 'the query after the subscription answered');
});

test('no console errors and no request left 127.0.0.1', () => {
  assert.deepEqual(consoleErrors, []);
  assert.deepEqual(foreignRequests, []);
});
