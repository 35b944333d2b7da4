// Issue 11, item 8: introspection, `gazette schema` and the committed schema.graphql
// describe one schema, as graphql-js reads them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  lexicographicSortSchema,
  printSchema,
} from 'graphql';

import { endpoint, gazetteBin } from '../lib/gazette.mjs';

const committed = readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8');
const printed = (schema) => printSchema(lexicographicSortSchema(schema));

test('introspection and schema.graphql print the same schema', async () => {
  const query = getIntrospectionQuery({
    descriptions: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    schemaDescription: true,
    inputValueDeprecation: true,
  });
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, operationName: 'IntrospectionQuery' }),
  });
  const result = await response.json();
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  const live = buildClientSchema(result.data);
  const fromFile = buildSchema(committed);
  assert.equal(printed(live), printed(fromFile));
  assert.match(live.description ?? '', /^Gazette: /);
  assert.equal(live.getType('DateTime').specifiedByURL, 'https://datatracker.ietf.org/doc/html/rfc3339');
  assert.doesNotMatch(live.getType('DateTime').description, /Implement/);
});

test('gazette schema prints the committed file', () => {
  const run = spawnSync(gazetteBin, ['schema'], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  assert.equal(run.stdout, committed);
});
