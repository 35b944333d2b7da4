//! Compiled reads answer exactly as the resolvers do. The server runs in verify mode (as
//! every test of this suite does: see `TestApp::start`), where each query the planner
//! covers runs on both paths and any difference in the bytes of the answer fails the
//! request with COMPILED_MISMATCH. Here the corpus is built to reach every field the
//! planner covers, through aliases, fragments, variables and cursors, over data with
//! drafts and held, spam and deleted comments, for an anonymous reader, an author and an
//! admin; and the benchmark's own queries (bench/queries). Errors must match too: a plan
//! that meets one leaves the request to the resolvers.

use gazette_store::tokens::Role;
use serde_json::{Value, json};

use crate::support::{TestApp, error_code};

/// Every field of `Post`, `Author` and `Tag` the planner covers, and a connection's.
const EVERY_POST_FIELD: &str = r#"query { posts(first: 5) {
  __typename totalCount
  pageInfo { __typename hasNextPage hasPreviousPage startCursor endCursor }
  edges { __typename cursor node {
    __typename id slug title body bodyHtml excerpt status publishedAt createdAt updatedAt
    commentsOpen url commentsFeedUrl commentCount
    author { __typename id slug name bio url }
    tags { __typename id slug name feedUrl } } } } }"#;

/// Every field of `Comment`, in every kind of list.
const EVERY_COMMENT_FIELD: &str = r#"query($slug: String, $order: CommentOrder) { post(slug: $slug) {
  comments(first: 4, orderBy: $order) { totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { ...C
      replies(first: 2) { __typename totalCount pageInfo { endCursor hasNextPage }
        edges { cursor node { ...C parent { ...C } } } nodes { id } } } } }
  thread(first: 12) { totalCount pageInfo { endCursor hasNextPage }
    nodes { ...C parent { id depth parent { id body } } post { slug commentCount } } } } }
fragment C on Comment { __typename id author { __typename name url } body bodyHtml status depth
  createdAt updatedAt replyCount }"#;

/// Aliases, merged fields, named and inline fragments (on the type and on `Node`).
const ALIASES_AND_FRAGMENTS: &str = r#"query Front { __typename
  first: posts(first: 2) { nodes { ...P t: title } edges { node { id } } }
  second: posts(first: 2, after: null) { nodes { title } }
  one: post(slug: "post-3") { ...P ... on Post { slug author { slug } } ... on Node { id } }
  none: post(slug: "no-such-post") { id } }
fragment P on Post { id title author { name } tags { name } }"#;

const PAGE: &str = r#"query($first: Int, $after: String, $last: Int, $before: String) {
  posts(first: $first, after: $after, last: $last, before: $before) {
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor } edges { cursor node { slug } } } }"#;

const THREAD_PAGE: &str = r#"query($id: ID, $after: String) { post(id: $id) {
  thread(first: 7, after: $after) { pageInfo { endCursor hasNextPage } edges { cursor node { id depth parent { id } } } } } }"#;

/// Requests every reader sends, each twice; the answer's errors (if any) must match too.
/// `node` for every kind of object, through fragments on the types and on `Node`.
const NODES: &str = r#"query($post: ID!, $draft: ID!, $comment: ID!, $held: ID!, $tag: ID!,
    $author: ID!, $admin: ID!) {
  post: node(id: $post) { __typename id ... on Post { title author { name }
    thread(first: 3) { nodes { id parent { id } } } } ... on Tag { name } }
  draft: node(id: $draft) { id ... on Post { status commentCount } }
  comment: node(id: $comment) { ...N ... on Comment { body replyCount post { slug } } }
  held: node(id: $held) { ... on Comment { status body parent { id } } }
  tag: node(id: $tag) { ... on Tag { name feedUrl } ... on Author { bio } }
  author: node(id: $author) { ...N ... on Author { name url } }
  admin: node(id: $admin) { id ... on Node { ... on Author { slug } } } }
fragment N on Node { id __typename }"#;

/// The tag and author lists and look-ups.
const TAGS_AND_AUTHORS: &str = r#"query($tag: String, $author: String, $after: String) {
  tags(first: 4, after: $after) { __typename totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { __typename cursor node { __typename id slug name feedUrl } } }
  authors(first: 3) { totalCount nodes { id slug name bio url } pageInfo { endCursor } }
  last: authors(last: 2) { edges { cursor node { slug } } }
  tag(slug: $tag) { id name } author(slug: $author) { id name bio }
  none: tag(slug: "no-such-tag") { id } }"#;

fn corpus(big_thread: &str, drafted: &str, nodes: &Value) -> Vec<(&'static str, String, Value)> {
    let q2 = include_str!("../../bench/queries/q2.gazette.graphql");
    vec![
        ("node of every kind", NODES.to_owned(), nodes.clone()),
        (
            "tags and authors, listed and looked up",
            TAGS_AND_AUTHORS.to_owned(),
            json!({ "tag": "topic-2", "author": "writer" }),
        ),
        (
            "the tags of a page, an author of no published post",
            TAGS_AND_AUTHORS.to_owned(),
            json!({ "tag": "topic-1", "author": "chief", "after": "dGFnczpuYW1lfDJ8c1RvcGljIDI" }),
        ),
        (
            "a tag and an author by id",
            "query($tag: ID, $author: ID) { tag(id: $tag) { slug } author(id: $author) { slug } }"
                .to_owned(),
            json!({ "tag": nodes["tag"], "author": nodes["admin"] }),
        ),
        (
            "a tag by an author's id",
            "query($id: ID) { tag(id: $id) { slug } }".to_owned(),
            json!({ "id": nodes["author"] }),
        ),
        (
            "a channel's node (left to the resolvers)",
            "query($id: ID!) { node(id: $id) { id ... on Channel { name } } }".to_owned(),
            json!({ "id": nodes["channel"] }),
        ),
        (
            "nodes of every kind, one twice and one missing",
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id \
             ... on Post { title thread(first: 2) { nodes { id parent { id } } } } \
             ... on Comment { body post { slug } } ... on Tag { name } \
             ... on Author { name } } }"
                .to_owned(),
            json!({ "ids": [
                nodes["post"], nodes["draft"], nodes["comment"], nodes["held"], nodes["tag"],
                nodes["author"], nodes["admin"], nodes["post"], nodes["missing"],
            ] }),
        ),
        // Found by probing a running server: a fragment on another type shared a key
        // with the one that applies, and the resolvers' answer put the key where the other
        // fragment named it (the plan, as CollectFields says, did not).
        (
            "fragments on other types naming the same fields",
            "query($post: ID!, $ids: [ID!]!) { \
             node(id: $post) { ... on Comment { status } ... on Post { title status } } \
             nodes(ids: $ids) { ... on Comment { status body } ... on Post { title status } } \
             post(slug: \"post-1\") { ... on Node { ... on Comment { status } } title status \
               comments(first: 2) { nodes { ... on Node { ... on Post { createdAt } } id createdAt } } } \
             posts(first: 2) { nodes { ... on Node { ... on Tag { slug } } id slug } } \
             none: posts(first: 1) { nodes { ... on Node { ... on Tag { slug } } } } }"
                .to_owned(),
            json!({ "post": nodes["post"], "ids": [nodes["post"], nodes["comment"], nodes["tag"]] }),
        ),
        (
            "nodes in a literal list",
            format!(
                "{{ nodes(ids: [{}, {}]) {{ id }} }}",
                nodes["tag"], nodes["author"]
            ),
            json!({}),
        ),
        (
            "no nodes",
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }".to_owned(),
            json!({ "ids": [] }),
        ),
        (
            "nodes with a channel among them (left to the resolvers)",
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }".to_owned(),
            json!({ "ids": [nodes["post"], nodes["channel"]] }),
        ),
        (
            "a node id that is not one",
            "query { node(id: \"bm9wZQ\") { id } }".to_owned(),
            json!({}),
        ),
        (
            "q1",
            include_str!("../../bench/queries/q1.gazette.graphql").to_owned(),
            json!({}),
        ),
        ("q2", q2.to_owned(), json!({})),
        (
            "q3",
            include_str!("../../bench/queries/q3.gazette.graphql").to_owned(),
            json!({}),
        ),
        ("every post field", EVERY_POST_FIELD.to_owned(), json!({})),
        (
            "every comment field, oldest first",
            EVERY_COMMENT_FIELD.to_owned(),
            json!({ "slug": "post-2", "order": "OLDEST" }),
        ),
        (
            "a non-null argument's variable without a value",
            EVERY_COMMENT_FIELD.to_owned(),
            json!({ "slug": "post-2" }),
        ),
        (
            "every comment field, newest first",
            EVERY_COMMENT_FIELD.to_owned(),
            json!({ "slug": "post-2", "order": "NEWEST" }),
        ),
        (
            "a draft's comments",
            EVERY_COMMENT_FIELD.to_owned(),
            json!({ "slug": drafted, "order": "OLDEST" }),
        ),
        (
            "aliases and fragments",
            ALIASES_AND_FRAGMENTS.to_owned(),
            json!({}),
        ),
        ("a page from the end", PAGE.to_owned(), json!({ "last": 3 })),
        ("a page too large", PAGE.to_owned(), json!({ "first": 101 })),
        (
            "first and last",
            PAGE.to_owned(),
            json!({ "first": 1, "last": 1 }),
        ),
        (
            "a cursor that is not one",
            PAGE.to_owned(),
            json!({ "after": "bm9wZQ" }),
        ),
        (
            "a variable of the wrong type",
            PAGE.to_owned(),
            json!({ "first": "3" }),
        ),
        (
            "an id of another kind",
            "query { post(id: \"VGFnOjE=\") { id } }".to_owned(),
            json!({}),
        ),
        (
            "both id and slug",
            "query { post(id: \"UG9zdDox\", slug: \"post-1\") { id } }".to_owned(),
            json!({}),
        ),
        (
            "a thread's parents show the body its own comments do not",
            "query($id: ID) { post(id: $id) { thread(first: 40) { nodes { id \
             parent { id body parent { body bodyHtml } } } } } }"
                .to_owned(),
            json!({ "id": big_thread }),
        ),
        (
            "a thread's parents show the link and edit time its own comments do not",
            "query($id: ID) { post(id: $id) { thread(first: 40) { nodes { id createdAt \
             author { name } parent { id updatedAt author { url } } } } } }"
                .to_owned(),
            json!({ "id": big_thread }),
        ),
        (
            "a post page's comments with their links and edit times",
            "query($slug: String) { post(slug: $slug) { title thread(first: 20) { nodes { id \
             updatedAt author { name url } } } } }"
                .to_owned(),
            json!({ "slug": "post-3" }),
        ),
        (
            "two pages of one thread: the first read with its post, the second alone",
            "query($slug: String) { post(slug: $slug) { title \
             a: thread(first: 3) { nodes { id body } } \
             b: thread(first: 6) { totalCount pageInfo { endCursor } nodes { id depth } } } }"
                .to_owned(),
            json!({ "slug": "post-2" }),
        ),
        (
            "a draft's thread, read with the draft",
            "query($slug: String) { post(slug: $slug) { id status \
             thread(first: 20) { nodes { id status parent { id } } } } }"
                .to_owned(),
            json!({ "slug": drafted }),
        ),
        (
            "a thread's cursors without its paths' texts",
            "query($id: ID) { post(id: $id) { thread(first: 5) { pageInfo { startCursor } \
             nodes { id } } } }"
                .to_owned(),
            json!({ "id": big_thread }),
        ),
        (
            "a thread cursor of another list",
            THREAD_PAGE.to_owned(),
            json!({ "id": big_thread, "after": "cG9zdHM6cHVibGlzaGVkOmRlc2N8MXx0eA" }),
        ),
        // A plan takes a children's `totalCount` from the page when the page shows every
        // child; after or before a cursor it cannot, and counts.
        (
            "children counted where a page is full",
            "query($slug: String) { post(slug: $slug) { comments(first: 1) { totalCount \
             nodes { id replies(first: 1) { totalCount } } } \
             latest: comments(first: 2, orderBy: NEWEST) { totalCount \
             nodes { id replies(last: 1) { totalCount } } } } }"
                .to_owned(),
            json!({ "slug": "post-2" }),
        ),
        (
            "a thread counted after a cursor past its last comment",
            "query($slug: String, $after: String) { post(slug: $slug) { \
             thread(first: 5, after: $after) { totalCount nodes { id } } } }"
                .to_owned(),
            // thread|0|s9000000000000000000
            json!({ "slug": "post-2", "after": "dGhyZWFkfDB8czkwMDAwMDAwMDAwMDAwMDAwMDA" }),
        ),
        (
            "children read from the end, replies after a cursor past their last",
            "query($slug: String, $after: String) { post(slug: $slug) { \
             comments(last: 3) { totalCount nodes { id \
               replies(first: 2, after: $after) { totalCount nodes { id } } } } } }"
                .to_owned(),
            // replies:oldest|9000000000000000000|i9000000000000000000: every page empty,
            // every count still the comment's replies.
            json!({
                "slug": "post-2",
                "after": "cmVwbGllczpvbGRlc3R8OTAwMDAwMDAwMDAwMDAwMDAwMHxpOTAwMDAwMDAwMDAwMDAwMDAwMA",
            }),
        ),
        (
            "children before a cursor ahead of the first, replies from the end",
            "query($slug: String, $before: String) { post(slug: $slug) { \
             none: comments(last: 2, before: $before) { totalCount nodes { id } } \
             comments(first: 4) { nodes { id replies(last: 1) { totalCount nodes { id } } } } } }"
                .to_owned(),
            // comments:oldest|0|i0: an empty page of a post with comments.
            json!({ "slug": "post-2", "before": "Y29tbWVudHM6b2xkZXN0fDB8aTA" }),
        ),
        (
            "a required variable missing",
            "query($slug: String!) { post(slug: $slug) { id } }".to_owned(),
            json!({}),
        ),
        (
            "one key, different arguments under repeated parents (left to the resolvers)",
            "query { p: post(slug: \"post-2\") { c: comments(first: 1) { totalCount } } \
             p: post(slug: \"post-2\") { c: comments(first: 3) { nodes { id } } } }"
                .to_owned(),
            json!({}),
        ),
        (
            "one key, different arguments across a fragment (left to the resolvers)",
            "query { p: post(slug: \"post-2\") { title } ... on Query { p: post(slug: \"post-3\") { slug } } }"
                .to_owned(),
            json!({}),
        ),
        (
            "one key, the same field asked for through fragments and repeated parents",
            "query { p: post(slug: \"post-2\") { body ... on Post { body } author { name } } \
             ... on Query { p: post(slug: \"post-2\") { body author { slug } } } }"
                .to_owned(),
            json!({}),
        ),
        (
            "a filter (left to the resolvers)",
            "query { posts(first: 3, filter: { tag: \"topic-1\" }) { nodes { slug } } }".to_owned(),
            json!({}),
        ),
        (
            "a directive (left to the resolvers)",
            "query($yes: Boolean!) { posts(first: 2) { nodes { slug title @include(if: $yes) } } }"
                .to_owned(),
            json!({ "yes": false }),
        ),
    ]
    .into_iter()
    .chain(
        queries_in_the_docs()
            .into_iter()
            .map(|query| ("a query from the docs", query, json!({}))),
    )
    .collect()
}

/// The queries the documentation shows (`docs/*.md`, README.md), for the differential run:
/// backticked documents (`{ … }`, `query …`) and selections from the root
/// (`posts(first: 66) { … }`), which are asked as `{ … }`.
fn queries_in_the_docs() -> Vec<String> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|entry| entry.expect("a docs entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "md"))
        .collect();
    files.push(root.join("README.md"));
    let root_fields = [
        "posts(", "post(", "tags", "tag(", "authors", "author(", "node(", "nodes(",
    ];
    let mut queries = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).expect("a doc");
        let spans = text
            .lines()
            .filter(|line| !line.trim_start().starts_with("```"))
            .flat_map(|line| line.split('`').skip(1).step_by(2));
        for span in spans {
            let span = span.trim();
            let balanced =
                span.contains('{') && span.matches('{').count() == span.matches('}').count();
            // JSON and templates in backticks have quotes, ellipses or no space after `{`.
            if !balanced || span.contains('"') || span.contains('…') {
                continue;
            }
            if span.starts_with("{ ") || span.starts_with("query ") {
                queries.push(span.to_owned());
            } else if root_fields.iter().any(|field| span.starts_with(field)) {
                queries.push(format!("{{ {span} }}"));
            }
        }
    }
    queries
}

/// The answer to a request, and whether a plan gave it (and the resolvers matched it:
/// verify mode says so in a header).
async fn ask(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> (Value, bool) {
    let response = app
        .graphql_request(token, query, variables)
        .send()
        .await
        .expect("a request");
    let planned = response
        .headers()
        .contains_key(gazette_api::graphql::http::VERIFIED_HEADER);
    (response.json().await.expect("a JSON answer"), planned)
}

#[tokio::test]
async fn compiled_answers_are_the_resolvers_answers_for_every_reader() {
    let app = TestApp::spawn_api_only_with(&["--graphql-cache-ttl", "0"]).await;
    gazette_store::synthetic::generate(
        &app.pool,
        &gazette_store::synthetic::SyntheticSite {
            posts: 30,
            authors: 3,
            tags: 6,
            comments_per_post: 9,
            big_thread_chains: 3,
            big_thread_depth: 6,
            hold_back_every: 10,
        },
    )
    .await
    .expect("synthetic site");
    let author = app.token("Writer", Role::Author).await;
    let admin = app.token("Chief", Role::Admin).await;
    // The author moderates post-2 and has a draft with comments (kept from when it was
    // published) and a post of their own.
    let writer: i64 = sqlx::query_scalar("select id from authors where slug = 'writer'")
        .fetch_one(&app.pool)
        .await
        .expect("writer");
    for statement in [
        "update posts set author_id = $1 where slug in ('post-2', 'post-5')",
        "update posts set status = 'draft' where slug = 'post-5'",
    ] {
        sqlx::query(statement)
            .bind(writer)
            .execute(&app.pool)
            .await
            .expect(statement);
    }
    // Some commenters left a link and some comments were edited: a page that does not
    // read those columns must not answer for them.
    sqlx::query(
        "update comments set author_url = 'https://example.org/' || id, \
         updated_at = created_at + interval '5 minutes' where id % 3 = 0",
    )
    .execute(&app.pool)
    .await
    .expect("links and edits");
    // On post-2: a held comment, one marked spam and a deleted one, each with replies
    // (the deleted one stays as a tombstone while its replies show).
    for (status, rank) in [("pending", 1), ("spam", 2), ("deleted", 3)] {
        sqlx::query(
            "update comments set status = $1 where id = (select id from comments \
             where post_id = (select id from posts where slug = 'post-2') and parent_id is null \
             order by id offset $2 limit 1)",
        )
        .bind(status)
        .bind(rank - 1)
        .execute(&app.pool)
        .await
        .expect("a hidden comment");
    }
    let big_thread = app.post_id("big-thread").await;
    let big_thread = big_thread.as_str().expect("the big thread's id").to_owned();
    // The ids `node` is asked for, read by the admin (who sees the draft and held ones).
    let found = app
        .graphql_as(
            Some(admin.as_str()),
            "{ post(slug: \"post-2\") { id thread(first: 30) { nodes { id status } } } \
             draft: post(slug: \"post-5\") { id } tag(slug: \"topic-1\") { id } \
             author(slug: \"writer\") { id } viewer { author { id } } }",
            json!({}),
        )
        .await;
    let data = &found["data"];
    let comment_with = |status: &str| {
        data["post"]["thread"]["nodes"]
            .as_array()
            // The last of its status: the first ones sit under the held comment.
            .and_then(|nodes| nodes.iter().rev().find(|node| node["status"] == status))
            .map(|node| node["id"].clone())
            .unwrap_or_else(|| panic!("a {status} comment on post-2: {found}"))
    };
    let nodes = json!({
        "post": data["post"]["id"],
        "draft": data["draft"]["id"],
        "comment": comment_with("PUBLISHED"),
        "held": comment_with("PENDING"),
        "tag": data["tag"]["id"],
        "author": data["author"]["id"],
        "admin": data["viewer"]["author"]["id"],
        "channel": gazette_api::graphql::GlobalId::new(gazette_api::graphql::NodeKind::Channel, 1)
            .to_id()
            .0,
        "missing": gazette_api::graphql::GlobalId::new(gazette_api::graphql::NodeKind::Post, 999_999)
            .to_id()
            .0,
    });
    assert!(
        nodes
            .as_object()
            .is_some_and(|ids| ids.values().all(Value::is_string)),
        "{found}"
    );

    assert!(
        queries_in_the_docs()
            .iter()
            .any(|query| query.contains("posts(")),
        "the docs' queries were found: {:?}",
        queries_in_the_docs()
    );
    for (reader, token) in [
        ("anonymous", None),
        ("author", Some(author.as_str())),
        ("admin", Some(admin.as_str())),
    ] {
        for (name, query, variables) in corpus(&big_thread, "post-5", &nodes) {
            for run in 0..2 {
                let (answer, planned) = ask(&app, token, &query, variables.clone()).await;
                assert_ne!(
                    error_code(&answer),
                    Some("COMPILED_MISMATCH"),
                    "{name} as {reader}, run {run}: {answer}"
                );
                assert!(
                    answer.get("data").is_some() || answer.get("errors").is_some(),
                    "{name} as {reader}: {answer}"
                );
                // Each request of a covered document without errors was answered by its
                // plan and compared (from its second run: the first may teach the plan);
                // one with an error, or left to the resolvers, never is.
                let covered =
                    !name.contains("left to the resolvers") && answer.get("errors").is_none();
                if run == 1 || !covered {
                    assert_eq!(
                        planned, covered,
                        "{name} as {reader}, run {run}: answered by a plan? {answer}"
                    );
                }
            }
        }
        // Paging through the thread and the front page with the cursors they return.
        for (query, path, variables) in [
            (THREAD_PAGE, ["post", "thread"], json!({ "id": big_thread })),
            (PAGE, ["posts", "posts"], json!({ "first": 4 })),
        ] {
            let mut variables = variables;
            for page in 0..4 {
                let (answer, planned) = ask(&app, token, query, variables.clone()).await;
                assert!(
                    answer.get("errors").is_none(),
                    "page {page} as {reader}: {answer}"
                );
                assert!(planned, "page {page} as {reader} was answered by its plan");
                let list = match path[0] {
                    "post" => &answer["data"]["post"]["thread"],
                    _ => &answer["data"]["posts"],
                };
                variables["after"] = list["pageInfo"]["endCursor"].clone();
            }
        }
    }
    app.stop().await;
}
