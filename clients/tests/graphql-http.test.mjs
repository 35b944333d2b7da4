// The GraphQL-over-HTTP audit (graphql-http): every MUST passes.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { auditServer } from 'graphql-http';

import { endpoint } from '../lib/gazette.mjs';

test('graphql-http audit: no MUST fails', async () => {
  const results = await auditServer({ url: endpoint });
  const failures = results
    .filter((result) => result.name.startsWith('MUST') && result.status !== 'ok')
    .map((result) => `${result.name}: ${result.reason}`);
  assert.deepEqual(failures, []);
  const counts = results.reduce((all, { status }) => ({ ...all, [status]: (all[status] ?? 0) + 1 }), {});
  console.log('graphql-http audit:', JSON.stringify(counts));
  assert.ok(results.length >= 50, `the audit ran ${results.length} checks`);
});
