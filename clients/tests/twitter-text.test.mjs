// Issue 11, item 3: X counts exactly as twitter-text 3.1 does, over a generated corpus and
// over every X text Gazette serves.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { test } from 'node:test';

import { boundaryCorpus, corpus } from '../lib/corpus.mjs';
import { base, gazetteBin } from '../lib/gazette.mjs';

const twitter = createRequire(import.meta.url)('twitter-text');

function measuredByGazette(texts) {
  const run = spawnSync(gazetteBin, ['measure', '--channel', 'twitter'], {
    input: texts.map((text) => JSON.stringify(text)).join('\n') + '\n',
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.equal(run.status, 0, run.stderr);
  const lengths = run.stdout.trim().split('\n').map(Number);
  assert.equal(lengths.length, texts.length);
  return lengths;
}

test('the corpus measures the same in Gazette and in twitter-text 3.1', () => {
  assert.equal(createRequire(import.meta.url)('twitter-text/package.json').version, '3.1.0');
  const texts = corpus(4000, 2026);
  const ours = measuredByGazette(texts);
  const differences = texts
    .map((text, index) => ({ text, gazette: ours[index], twitterText: twitter.parseTweet(text).weightedLength }))
    .filter(({ gazette, twitterText }) => gazette !== twitterText);
  assert.deepEqual(differences.slice(0, 20), [], `${differences.length} of ${texts.length} texts differ`);
  // The corpus exercises what it claims to: links X shortens and IP hosts it does not.
  assert.ok(texts.some((text) => text.includes('http://127.0.0.1')));
  assert.ok(texts.filter((text) => twitter.extractUrls(text).length > 0).length > 500);
});

test('hosts measure the same whatever stands before and after them', () => {
  const texts = boundaryCorpus();
  const ours = measuredByGazette(texts);
  const differences = texts
    .map((text, index) => ({ text, gazette: ours[index], twitterText: twitter.parseTweet(text).weightedLength }))
    .filter(({ gazette, twitterText }) => gazette !== twitterText);
  assert.deepEqual(differences.slice(0, 20), [], `${differences.length} of ${texts.length} texts differ`);
  assert.ok(texts.length > 15000);
});

test('every X text Gazette serves has the length twitter-text gives it, within the limit', async () => {
  const response = await fetch(new URL('/syndication/twitter.json', base));
  assert.equal(response.status, 200);
  const document = await response.json();
  const texts = [document.digest, ...document.summaries];
  assert.ok(document.summaries.length >= 1, 'the demo post has an X summary');
  // The default public URL is an IP address: X does not shorten it, and the summary
  // must still fit.
  assert.match(document.summaries[0].text, /http:\/\/127\.0\.0\.1:\d+\/posts\//);
  for (const { text, length, limit } of texts) {
    const parsed = twitter.parseTweet(text);
    assert.equal(length, parsed.weightedLength, text);
    assert.ok(parsed.valid, `X would refuse: ${text}`);
    assert.ok(length <= limit, text);
  }
});
