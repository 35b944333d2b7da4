// graphql-ws (the graphql-transport-ws protocol) receives a comment as it is posted, and
// urql pages connections to their end with no gaps or repeats.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Client, cacheExchange, fetchExchange, gql } from '@urql/core';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import { adminToken, commentUntil, demoPostId, endpoint, graphql, wsEndpoint } from '../lib/gazette.mjs';

test('graphql-ws: commentAdded delivers a comment posted over HTTP', async () => {
  const postId = await demoPostId();
  const client = createClient({ url: wsEndpoint, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
  try {
    const received = new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no event within 10 s')), 10_000);
      client.subscribe(
        { query: 'subscription($post: ID!) { commentAdded(postId: $post) { body post { id } } }', variables: { post: postId } },
        {
          next: (event) => {
            clearTimeout(timer);
            resolve(event);
          },
          error: reject,
          complete: () => reject(new Error('completed without an event')),
        },
      );
    });
    const prefix = `Heard through graphql-ws ${Date.now()}`;
    const event = await commentUntil(postId, prefix, received);
    assert.equal(event.errors, undefined);
    assert.ok(event.data.commentAdded.body.startsWith(prefix), event.data.commentAdded.body);
    assert.equal(event.data.commentAdded.post.id, postId);
  } finally {
    await client.dispose();
  }
});

test('urql pages through posts and tags to the end, forwards and backwards', async () => {
  for (let number = 1; number <= 7; number += 1) {
    await graphql(
      'mutation($input: CreatePostInput!) { createPost(input: $input) { post { id } } }',
      { input: { title: `Paged post ${number} ${Date.now()}`, body: 'Paging.', status: 'PUBLISHED', tags: [`paging-${number}`] } },
      adminToken,
    );
  }
  const client = new Client({ url: endpoint, exchanges: [cacheExchange, fetchExchange], requestPolicy: 'network-only' });
  const everything = await client
    .query(gql`{ posts(first: 100) { totalCount edges { node { id } } } tags(first: 100) { edges { node { id } } } }`, {})
    .toPromise();
  assert.equal(everything.error, undefined, String(everything.error));
  const allPosts = everything.data.posts.edges.map((edge) => edge.node.id);
  const allTags = everything.data.tags.edges.map((edge) => edge.node.id);
  assert.ok(allPosts.length >= 8, `${allPosts.length} posts`);
  assert.equal(everything.data.posts.totalCount, allPosts.length);

  const forwards = async (field) => {
    const ids = [];
    let after = null;
    for (let page = 0; page < 100; page += 1) {
      const result = await client
        .query(gql`query($after: String) { ${field}(first: 3, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }`, { after })
        .toPromise();
      assert.equal(result.error, undefined, String(result.error));
      const connection = result.data[field];
      ids.push(...connection.edges.map((edge) => edge.node.id));
      if (!connection.pageInfo.hasNextPage) return ids;
      after = connection.pageInfo.endCursor;
    }
    assert.fail('no end after 100 pages');
  };
  const backwards = async (field) => {
    const ids = [];
    let before = null;
    for (let page = 0; page < 100; page += 1) {
      const result = await client
        .query(gql`query($before: String) { ${field}(last: 3, before: $before) { edges { node { id } } pageInfo { hasPreviousPage startCursor } } }`, { before })
        .toPromise();
      assert.equal(result.error, undefined, String(result.error));
      const connection = result.data[field];
      ids.unshift(...connection.edges.map((edge) => edge.node.id));
      if (!connection.pageInfo.hasPreviousPage) return ids;
      before = connection.pageInfo.startCursor;
    }
    assert.fail('no start after 100 pages');
  };
  assert.deepEqual(await forwards('posts'), allPosts);
  assert.deepEqual(await backwards('posts'), allPosts);
  assert.deepEqual(await forwards('tags'), allTags);
  assert.deepEqual(await backwards('tags'), allTags);
});
