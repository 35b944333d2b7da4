// GraphQL Code Generator makes the same types from the live endpoint as from
// schema.graphql; the committed example client is current, compiles, and runs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { example, generated } from '../codegen.mjs';
import { base, endpoint } from '../lib/gazette.mjs';

// The typescript plugin writes a scalar's description as a comment only when the schema
// came from SDL (it reads the AST node, which introspection has not): comments aside, the
// two must match character for character.
const withoutComments = (code) => code.replace(/^\s*\/\*\*.*\*\/\n/gm, '');

test('types generated from the live endpoint equal those from schema.graphql, and the committed ones', async () => {
  const fromFile = await generated();
  const fromEndpoint = await generated(endpoint);
  assert.deepEqual(Object.keys(fromEndpoint), Object.keys(fromFile));
  for (const [path, content] of Object.entries(fromFile)) {
    assert.equal(withoutComments(fromEndpoint[path]), withoutComments(content), `${path}: the endpoint and the file disagree`);
    assert.ok(withoutComments(content).length > content.length / 2, 'comments are not most of it');
    assert.equal(readFileSync(path, 'utf8'), content, `${path} is out of date: npm run codegen in examples/typed-client`);
    assert.match(content, /export type LatestPostsQuery = /);
  }
});

test('the typed example client compiles and lists posts and adds a comment', () => {
  const tsc = spawnSync(join(example, 'node_modules/.bin/tsc'), ['-p', example], { encoding: 'utf8' });
  assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
  const run = spawnSync(process.execPath, [join(example, 'dist/index.js')], {
    encoding: 'utf8',
    env: { ...process.env, GAZETTE_URL: base },
    timeout: 30_000,
  });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /^\d+ published posts; the latest:\n- /);
  assert.match(run.stdout, /Added comment \S+ to ".+": PUBLISHED\n$/);
});
