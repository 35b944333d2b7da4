// Lists Gazette's latest posts and adds a comment to the newest, with every request and
// answer typed from the schema (src/generated/graphql.ts, made by GraphQL Code Generator
// from src/operations.graphql). Run: GAZETTE_URL=http://127.0.0.1:8080 npm start
import { AddCommentDocument, LatestPostsDocument, type TypedDocumentString } from './generated/graphql.js';

const endpoint = new URL('/graphql', process.env.GAZETTE_URL ?? 'http://127.0.0.1:8080').toString();

interface GraphQLError {
  message: string;
  extensions?: { code?: string };
}

/** Runs a typed operation: the variables and the answer have the operation's own types. */
async function execute<TResult, TVariables>(
  document: TypedDocumentString<TResult, TVariables>,
  variables: TVariables,
): Promise<TResult> {
  const response = await fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ query: document.toString(), variables }),
  });
  const result = (await response.json()) as { data?: TResult | null; errors?: GraphQLError[] };
  if (result.errors?.length) {
    throw new Error(result.errors.map((error) => `${error.extensions?.code ?? 'ERROR'}: ${error.message}`).join('; '));
  }
  if (!result.data) throw new Error(`no data in the answer (HTTP ${response.status})`);
  return result.data;
}

const latest = await execute(LatestPostsDocument, { first: 5 });
console.log(`${latest.posts.totalCount} published posts; the latest:`);
for (const { node } of latest.posts.edges) {
  console.log(`- ${node.title} (${node.commentCount} comments, ${node.publishedAt ?? 'unpublished'}) ${node.url}`);
}

const newest = latest.posts.edges[0]?.node;
if (newest) {
  const added = await execute(AddCommentDocument, {
    input: { postId: newest.id, authorName: 'Typed client', body: 'Hello from the typed example client.' },
  });
  const comment = added.addComment?.comment;
  if (!comment) throw new Error('addComment answered without a comment');
  console.log(`Added comment ${comment.id} to "${newest.title}": ${comment.status}`);
}
