// What every client test needs: where Gazette runs (started by clients/run) and a plain
// GraphQL call for arranging data. The clients under test do their own requests.
import assert from 'node:assert/strict';

export const base = process.env.GAZETTE_URL ?? assert.fail('GAZETTE_URL is set by clients/run');
export const adminToken = process.env.GAZETTE_ADMIN_TOKEN ?? assert.fail('GAZETTE_ADMIN_TOKEN is set by clients/run');
export const gazetteBin = process.env.GAZETTE_BIN ?? assert.fail('GAZETTE_BIN is set by clients/run');
export const endpoint = new URL('/graphql', base).toString();
export const wsEndpoint = endpoint.replace(/^http/, 'ws') + '/ws';
export const DEMO_SLUG = 'the-implementation-of-enterprise-2-0-by-government-departments';

export async function graphql(query, variables = {}, token = undefined) {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json',
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify({ query, variables }),
  });
  const result = await response.json();
  assert.equal(result.errors, undefined, `GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data;
}

export async function demoPostId() {
  const data = await graphql('query($slug: String!) { post(slug: $slug) { id } }', { slug: DEMO_SLUG });
  assert.ok(data.post, 'the demo post is seeded');
  return data.post.id;
}

/** Posts a comment; with the admin token, so retries meet no rate limit or moderation. */
export async function addComment(postId, body, token = adminToken) {
  const data = await graphql(
    'mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id body status } } }',
    { input: { postId, authorName: 'Client test', body } },
    token,
  );
  return data.addComment.comment;
}

/**
 * Posts comments until `delivered` settles: a subscription has no acknowledgement, so
 * the first comment may come before the server registered it. Bounded: 10 tries.
 */
export async function commentUntil(postId, prefix, delivered) {
  let settled = false;
  const outcome = delivered.finally(() => (settled = true));
  for (let attempt = 1; attempt <= 10 && !settled; attempt += 1) {
    await addComment(postId, `${prefix} ${attempt}`);
    await Promise.race([outcome.catch(() => {}), new Promise((resolve) => setTimeout(resolve, 500))]);
  }
  return outcome;
}
