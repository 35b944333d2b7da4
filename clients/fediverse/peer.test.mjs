// Gazette's federation against an independent implementation (issue 27): a fediverse
// peer built with Fedify (https://fedify.dev, the framework Ghost's ActivityPub service is
// built on; @fedify/fedify from npm, on Node 22). The peer, `alice`, looks the blog up by
// WebFinger, follows it and gets the Accept, gets a signed Create(Article) when a post is
// published, replies with a Note — held, approved by a moderator, announced back — then
// edits and deletes it. Fedify verifies Gazette's signatures on everything Gazette
// delivers, and signs what it sends with RFC 9421 first (falling back to draft-cavage,
// "double knocking"); a second peer signs with draft-cavage only. Its own `gazette serve`
// with federation on, on loopback (--federation-allow-private), every comment held.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  createFederation,
  exportJwk,
  generateCryptoKeyPair,
  importJwk,
  MemoryKvStore,
} from '@fedify/fedify';
import {
  Accept,
  Announce,
  Article,
  Create,
  Delete,
  Endpoints,
  Follow,
  Hashtag,
  Note,
  Person,
  PUBLIC_COLLECTION,
  Tombstone,
  Update,
} from '@fedify/fedify/vocab';
import { lookupWebFinger } from '@fedify/webfinger';

const gazetteBin = process.env.GAZETTE_BIN ?? assert.fail('GAZETTE_BIN is set by clients/run');

let gazette;
let dataDir;
let base;
let adminToken;
const peers = [];
// Every answer Gazette's inbox gives, to tell a signature it understood from one Fedify
// had to send again in the other form ("double knocking" hides a refusal).
const inboxAnswers = [];
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const response = await realFetch(input, init);
  const url = typeof input === 'string' ? input : input.url ?? String(input);
  if (base && url.startsWith(`${base}/`) && url.endsWith('inbox')) inboxAnswers.push(response.status);
  return response;
};

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

async function graphql(query, variables = {}, token = adminToken) {
  const response = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const result = await response.json();
  assert.equal(result.errors, undefined, `GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data;
}

/** Waits (bounded) until `check` returns something. */
async function eventually(what, check, seconds = 30) {
  for (let waited = 0; waited < seconds * 4; waited += 1) {
    const found = await check();
    if (found) return found;
    await sleep(250);
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** A Fedify peer on loopback with one actor, recording what its inbox receives. */
async function startPeer(name, firstKnock) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const received = [];
  const keys = [];
  const federation = createFederation({
    kv: new MemoryKvStore(),
    // Loopback peers: Gazette and this peer both run on 127.0.0.1.
    allowPrivateAddress: true,
    firstKnock,
    origin,
  });
  federation
    .setActorDispatcher('/users/{identifier}', async (ctx, identifier) => {
      if (identifier !== name) return null;
      const pairs = await ctx.getActorKeyPairs(identifier);
      return new Person({
        id: ctx.getActorUri(identifier),
        preferredUsername: identifier,
        name: `${name[0].toUpperCase()}${name.slice(1)} Peer`,
        url: new URL(`/@${identifier}`, origin),
        inbox: ctx.getInboxUri(identifier),
        endpoints: new Endpoints({ sharedInbox: ctx.getInboxUri() }),
        publicKey: pairs[0].cryptographicKey,
        assertionMethods: pairs.map((pair) => pair.multikey),
      });
    })
    .setKeyPairsDispatcher(async () => {
      if (keys.length === 0) {
        const pair = await generateCryptoKeyPair('RSASSA-PKCS1-v1_5');
        keys.push({ privateKey: await exportJwk(pair.privateKey), publicKey: await exportJwk(pair.publicKey) });
      }
      return Promise.all(keys.map(async (pair) => ({
        privateKey: await importJwk(pair.privateKey, 'private'),
        publicKey: await importJwk(pair.publicKey, 'public'),
      })));
    });
  const record = async (ctx, activity) => {
    received.push({ activity, json: await activity.toJsonLd() });
  };
  federation
    .setInboxListeners('/users/{identifier}/inbox', '/inbox')
    .on(Accept, record)
    .on(Create, record)
    .on(Update, record)
    .on(Delete, record)
    .on(Announce, record);
  // Node's HTTP server in front of Fedify's fetch-style handler.
  const server = createHttpServer(async (incoming, outgoing) => {
    const chunks = [];
    for await (const chunk of incoming) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const request = new Request(new URL(incoming.url, origin), {
      method: incoming.method,
      headers: incoming.headers,
      body: ['GET', 'HEAD'].includes(incoming.method) ? undefined : body,
    });
    const response = await federation.fetch(request, {
      contextData: undefined,
      onNotFound: () => new Response('Not found', { status: 404 }),
      onNotAcceptable: () => new Response('Not acceptable', { status: 406 }),
    });
    outgoing.writeHead(response.status, Object.fromEntries(response.headers));
    outgoing.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  const peer = {
    name,
    origin,
    received,
    federation,
    server,
    context: () => federation.createContext(new URL(origin), undefined),
    actorId: () => new URL(`/users/${name}`, origin),
  };
  peers.push(peer);
  return peer;
}

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gazette-fediverse-'));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  gazette = spawn(
    gazetteBin,
    [
      'serve', '--data-dir', dataDir, '--listen', `127.0.0.1:${port}`, '--metrics-listen', 'off',
      '--federation', '--federation-allow-private', '--comment-moderation', 'all',
      // Retries after a failed delivery come soon, so a test never waits on back-off.
      '--webhooks-retry-delays', '1s,2s',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  gazette.stderr.on('data', (chunk) => { log += chunk; });
  for (let attempt = 0; ; attempt += 1) {
    const ready = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    assert.ok(attempt < 240 && gazette.exitCode === null, `gazette serve did not start:\n${log}`);
    await sleep(500);
  }
  adminToken = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
});

after(async () => {
  for (const peer of peers) {
    peer.server.close();
    peer.server.closeAllConnections();
  }
  if (gazette && gazette.exitCode === null) {
    gazette.kill('SIGTERM');
    // The timer does not hold the process open once gazette is gone.
    await Promise.race([new Promise((resolve) => gazette.once('exit', resolve)), sleep(30_000, undefined, { ref: false })]);
    if (gazette.exitCode === null) gazette.kill('SIGKILL');
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test('a Fedify peer follows the blog, gets its posts, and its reply becomes a moderated comment', async () => {
  const alice = await startPeer('alice', 'rfc9421');
  const ctx = alice.context();

  // WebFinger, by the actor's address (acct: look-ups are https-only in Fedify).
  const finger = await lookupWebFinger(`${base}/actor`, { allowPrivateAddress: true });
  assert.ok(finger, 'WebFinger answers for the actor');
  const self = finger.links.find((link) => link.rel === 'self');
  assert.equal(self.type, 'application/activity+json');
  const blog = await ctx.lookupObject(self.href);
  assert.ok(blog instanceof Person, `the blog actor is a Person, got ${blog?.constructor?.name}`);
  assert.equal(blog.preferredUsername, 'blog');
  assert.ok(blog.inboxId && blog.endpoints?.sharedInbox, 'an inbox and a shared inbox');
  const blogKey = await blog.getPublicKey();
  assert.ok(blogKey?.publicKey, 'the actor publishes its public key');

  // Follow → Accept (delivered by Gazette's worker, signed; Fedify verifies it).
  const followId = new URL(`/follows/${Date.now()}`, alice.origin);
  await ctx.sendActivity(
    { identifier: 'alice' },
    blog,
    new Follow({ id: followId, actor: alice.actorId(), object: blog.id }),
  );
  const accept = await eventually('the Accept', () =>
    alice.received.find(({ activity }) => activity instanceof Accept));
  assert.equal(accept.activity.actorId.href, blog.id.href);
  assert.equal(accept.activity.objectId?.href, followId.href, 'the Accept names the Follow');
  const followers = await fetch(`${base}/actor/followers`, { headers: { accept: 'application/activity+json' } })
    .then((r) => r.json());
  assert.equal(followers.totalItems, 1);

  // A post published → Create(Article), rendered as Mastodon would: name, summary, url,
  // hashtags.
  const created = await graphql(
    `mutation($input: CreatePostInput!) { createPost(input: $input) { post { id slug url } } }`,
    {
      input: {
        title: 'Open data for everyone',
        body: 'The department publishes its **datasets** under an open licence.',
        excerpt: 'Why we publish our data, and where to find it.',
        tags: ['Open data', 'Transparency'],
        status: 'PUBLISHED',
      },
    },
  );
  const post = created.createPost.post;
  const create = await eventually('the Create(Article)', () =>
    alice.received.find(({ activity }) => activity instanceof Create));
  const article = await create.activity.getObject();
  assert.ok(article instanceof Article, 'the object is an Article');
  assert.equal(article.name.toString(), 'Open data for everyone');
  assert.equal(article.summary.toString(), 'Why we publish our data, and where to find it.');
  assert.equal(article.url.href, post.url);
  assert.match(article.content.toString(), /<strong>datasets<\/strong>/);
  const hashtags = [];
  for await (const tag of article.getTags()) {
    if (tag instanceof Hashtag) hashtags.push(tag.name.toString());
  }
  assert.deepEqual(hashtags.sort(), ['#OpenData', '#Transparency']);
  assert.ok(create.activity.toIds.some((id) => id.href === PUBLIC_COLLECTION.href), 'public');

  // A reply → a held comment with alice's name and profile.
  const noteId = new URL(`/notes/${Date.now()}`, alice.origin);
  const note = (content) => new Note({
    id: noteId,
    attribution: alice.actorId(),
    replyTarget: article.id,
    content,
    to: PUBLIC_COLLECTION,
    cc: blog.id,
  });
  await ctx.sendActivity(
    { identifier: 'alice' },
    blog,
    new Create({ id: new URL(`${noteId.href}/create`), actor: alice.actorId(), object: note('<p>Which licence?</p>') }),
  );
  const commentsOf = async () => (await graphql(
    `query($slug: String!) { post(slug: $slug) { comments(first: 10) { nodes { id status body author { name url } } } } }`,
    { slug: post.slug },
  )).post.comments.nodes;
  const held = await eventually('the held comment', async () => (await commentsOf())[0]);
  assert.equal(held.status, 'PENDING');
  assert.equal(held.body, 'Which licence?');
  assert.equal(held.author.name, 'Alice Peer');
  assert.equal(held.author.url, `${alice.origin}/@alice`);
  const anonymous = await fetch(`${base}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: `{ post(slug: "${post.slug}") { comments(first: 10) { nodes { id } } } }` }),
  }).then((r) => r.json());
  assert.deepEqual(anonymous.data.post.comments.nodes, [], 'readers do not see a held reply');

  // Approved by a moderator → on the thread, and announced back to the fediverse.
  await graphql('mutation($id: ID!) { approveComment(input: { id: $id }) { comment { status } } }', { id: held.id });
  const announce = await eventually('the Announce of the approved reply', () =>
    alice.received.find(({ activity }) => activity instanceof Announce));
  assert.equal(announce.activity.objectId.href, noteId.href);

  // Edited there → edited here.
  await ctx.sendActivity(
    { identifier: 'alice' },
    blog,
    new Update({ id: new URL(`${noteId.href}/update`), actor: alice.actorId(), object: note('<p>Which licence, <em>exactly</em>?</p>') }),
  );
  await eventually('the edit', async () => (await commentsOf())[0]?.body === 'Which licence, *exactly*?');

  // Deleted there → gone here.
  await ctx.sendActivity(
    { identifier: 'alice' },
    blog,
    new Delete({ id: new URL(`${noteId.href}/delete`), actor: alice.actorId(), object: new Tombstone({ id: noteId }) }),
  );
  await eventually('the deletion', async () => (await commentsOf()).length === 0);
  assert.ok(inboxAnswers.length >= 4, `Fedify posted to the inbox: ${inboxAnswers}`);
  assert.deepEqual(
    inboxAnswers.filter((status) => status !== 202),
    [],
    'every RFC 9421 signature was taken at the first knock',
  );

  // Unpublished → a Delete of the Article.
  await graphql('mutation($id: ID!) { unpublishPost(input: { id: $id }) { post { status } } }', { id: post.id });
  const deleted = await eventually('the Delete of the Article', () =>
    alice.received.find(({ activity }) => activity instanceof Delete));
  assert.equal(deleted.activity.objectId.href, article.id.href);
});

test('a peer signing with draft-cavage only is understood, and a forged request is refused', async () => {
  const bob = await startPeer('bob', 'draft-cavage-http-signatures-12');
  const ctx = bob.context();
  const blog = await ctx.lookupObject(`${base}/actor`);
  await ctx.sendActivity(
    { identifier: 'bob' },
    blog,
    new Follow({ id: new URL('/follows/1', bob.origin), actor: bob.actorId(), object: blog.id }),
  );
  await eventually('the Accept', () => bob.received.find(({ activity }) => activity instanceof Accept));

  // The same Follow without a signature, and with its body altered after signing.
  const follow = JSON.stringify({
    '@context': 'https://www.w3.org/ns/activitystreams',
    id: `${bob.origin}/follows/2`,
    type: 'Follow',
    actor: bob.actorId().href,
    object: blog.id.href,
  });
  const unsigned = await fetch(`${base}/actor/inbox`, {
    method: 'POST',
    headers: { 'content-type': 'application/activity+json' },
    body: follow,
  });
  assert.equal(unsigned.status, 401);
  const { signRequest } = await import('@fedify/fedify');
  const [pair] = await bob.federation.createContext(new URL(bob.origin)).getActorKeyPairs('bob');
  const signed = await signRequest(
    new Request(`${base}/actor/inbox`, {
      method: 'POST',
      headers: { 'content-type': 'application/activity+json' },
      body: follow,
    }),
    pair.privateKey,
    pair.keyId,
  );
  const altered = await fetch(signed.url, {
    method: 'POST',
    headers: signed.headers,
    body: follow.replace('follows/2', 'follows/3'),
  });
  assert.equal(altered.status, 401, 'an altered body does not match its digest');
  const genuine = await fetch(signed.url, { method: 'POST', headers: signed.headers, body: follow });
  assert.equal(genuine.status, 202, await genuine.text());
});
