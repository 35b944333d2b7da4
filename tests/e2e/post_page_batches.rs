//! Post pages of requests arriving together share one statement (`store::batches`): every
//! request gets the page it would have got alone (drafts, held comments and missing posts
//! included, each charged to its own budget), in fewer statements; a request that runs
//! the statement for others and leaves early neither strands them nor stalls its line.
//! On a real PostgreSQL: a transaction holding the `posts` table makes the first
//! statement wait, so the requests behind it are in line when it goes (PostgreSQL's own
//! `pg_stat_activity` says when it waits), and `pg_stat_statements` counts the statements.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use gazette_store::comments::{self, Columns, Comment, CommentStatus, NewComment, ThreadPage};
use gazette_store::posts::{self, NewPost, Post, PostColumns, PostKey, PostStatus};
use gazette_store::testing::TestDatabase;
use gazette_store::{
    FirstPostPage, PgPool, ReadBudget, Reader, StoreError, WarmConnections, authors,
};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};

use crate::support::TestApp;

const PAGE: FirstPostPage = FirstPostPage {
    reader: Reader::PUBLIC,
    post_columns: PostColumns::All,
    comment_columns: Columns::All,
    limit: 100,
};

/// Six published posts with comments of every status (the third has none), and a draft;
/// their slugs, the draft's last.
async fn fill(pool: &PgPool) -> Vec<String> {
    let author = authors::find_or_create(&mut pool.acquire().await.expect("conn"), "ann", "Ann")
        .await
        .expect("author");
    let mut slugs = Vec::new();
    for n in 0..7 {
        let slug = format!("post-{n}");
        let draft = n == 6;
        let post = posts::insert(
            pool,
            &NewPost {
                author_id: author.id,
                slug: &slug,
                title: &format!("Post {n}"),
                body: "Body",
                body_html: "<p>Body</p>",
                excerpt: "Body",
                custom_excerpt: false,
                status: if draft {
                    PostStatus::Draft
                } else {
                    PostStatus::Published
                },
                comments_open: true,
                published_at: (!draft).then(chrono::Utc::now),
            },
        )
        .await
        .expect("post");
        let statuses = [
            CommentStatus::Published,
            CommentStatus::Pending,
            CommentStatus::Spam,
            CommentStatus::Published,
        ];
        let mut first = None;
        for (index, status) in statuses.iter().enumerate().take(if n == 2 { 0 } else { 4 }) {
            let body = format!("comment {index} on {n}");
            let comment = comments::insert(
                pool,
                &NewComment {
                    post_id: post.id,
                    // The first is a thread's root, the second and fourth replies to it.
                    parent_id: if index % 2 == 1 { first } else { None },
                    author_name: "Reader",
                    author_email: Some("reader@example.com"),
                    author_url: None,
                    author_id: None,
                    body: &body,
                    body_html: &format!("<p>{body}</p>"),
                    status: *status,
                    created_at: None,
                    client_address: None,
                    client_mutation_id: None,
                },
            )
            .await
            .expect("comment");
            first = first.or(Some(comment.id));
        }
        slugs.push(slug);
    }
    slugs
}

type Found = Option<(Post, Vec<Comment>)>;

/// What `slug`'s page is, read alone.
async fn alone(pool: &PgPool, slug: &str) -> Found {
    let page = ThreadPage {
        after_path: None,
        limit: PAGE.limit,
        columns: PAGE.comment_columns,
    };
    let budget = ReadBudget::unlimited();
    let key = PostKey::Slug(slug);
    comments::post_page(pool, key, PAGE.post_columns, PAGE.reader, page, &budget)
        .await
        .expect("read alone")
}

fn read(
    warm: &Arc<WarmConnections>,
    slug: &str,
    budget: ReadBudget,
) -> tokio::task::JoinHandle<Result<Found, StoreError>> {
    let (warm, slug) = (warm.clone(), slug.to_owned());
    tokio::spawn(async move { warm.post_page(PostKey::Slug(&slug), PAGE, &budget).await })
}

/// How many times post page statements ran since the counts were last reset.
async fn post_page_statements(database: &TestDatabase) -> i64 {
    let mut connection = PgConnection::connect_with(database.options())
        .await
        .expect("connect");
    sqlx::query_scalar(
        "select coalesce(sum(calls), 0)::bigint from pg_stat_statements \
         where dbid = (select oid from pg_database where datname = current_database()) \
           and query like '%cross join lateral%' and query not like '%pg_stat%'",
    )
    .fetch_one(&mut connection)
    .await
    .expect("pg_stat_statements")
}

/// A transaction holding the `posts` table: every read of it waits until it ends.
async fn hold_posts(database: &TestDatabase) -> PgConnection {
    let mut holder = PgConnection::connect_with(database.options())
        .await
        .expect("connect");
    sqlx::query("begin")
        .execute(&mut holder)
        .await
        .expect("begin");
    sqlx::query("lock table posts in access exclusive mode")
        .execute(&mut holder)
        .await
        .expect("lock posts");
    holder
}

async fn release(mut holder: PgConnection) {
    sqlx::query("rollback")
        .execute(&mut holder)
        .await
        .expect("rollback");
}

/// Waits (at most ten seconds) until `done` holds.
async fn until<F: Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    for _ in 0..200 {
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within ten seconds");
}

/// Waits until a post page statement waits for the lock [`hold_posts`] holds.
async fn until_a_statement_waits(database: &TestDatabase) {
    until("a post page statement waiting for the lock", || async {
        let mut connection = PgConnection::connect_with(database.options())
            .await
            .expect("connect");
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' \
             and query like '%cross join lateral%' and pid <> pg_backend_pid()",
        )
        .fetch_one(&mut connection)
        .await
        .expect("pg_stat_activity");
        waiting > 0
    })
    .await;
}

#[tokio::test]
async fn requests_in_line_share_one_statement_and_each_gets_its_own_page() {
    let database = TestDatabase::create().await;
    let pool = database.pool().await;
    let slugs = fill(&pool).await;
    // Every post (the draft included), one twice, one that does not exist, and one no
    // text column can hold, which must find nothing without failing the others.
    let mut keys = slugs.clone();
    keys.extend([
        "post-1".to_owned(),
        "missing".to_owned(),
        "post\0nul".to_owned(),
    ]);
    let mut expected = Vec::new();
    for key in &keys {
        expected.push(alone(&pool, key).await);
    }
    assert!(
        expected[0]
            .as_ref()
            .is_some_and(|(_, thread)| thread.len() == 2)
    );
    assert!(expected[6].is_none(), "the draft is not the public's");
    database.statements_since_last_count().await;

    let warm = WarmConnections::new(pool.clone(), 1);
    let holder = hold_posts(&database).await;
    let first = read(&warm, &keys[0], ReadBudget::unlimited());
    until_a_statement_waits(&database).await;
    let rest: Vec<_> = keys[1..]
        .iter()
        .map(|key| read(&warm, key, ReadBudget::unlimited()))
        .collect();
    // A page over its own budget fails alone.
    let too_small = read(&warm, &keys[1], ReadBudget::new(8, Vec::new()));
    // All but the NUL slug's (answered at once) wait in line.
    let in_line = keys.len() - 2 + 1;
    until("every other request in line", || async {
        warm.post_pages_waiting() == in_line
    })
    .await;
    release(holder).await;

    let mut found = vec![first.await.expect("join").expect("first read")];
    for handle in rest {
        found.push(handle.await.expect("join").expect("read in line"));
    }
    assert_eq!(found, expected);
    let refused = too_small.await.expect("join");
    assert!(matches!(refused, Err(StoreError::Budget(_))), "{refused:?}");
    assert_eq!(
        post_page_statements(&database).await,
        2,
        "the first page alone, then every page in line in one statement"
    );
    assert_eq!(warm.post_pages_waiting(), 0);
}

/// A pool of one connection that waits for it up to ten seconds.
async fn pool_of_one(database: &TestDatabase) -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(database.options().clone())
        .await
        .expect("pool")
}

/// A read of `slug` that has joined its line (and, alone there, holds the turn): polled
/// once, not yet finished.
async fn joined(
    warm: &Arc<WarmConnections>,
    slug: &str,
) -> Pin<Box<dyn Future<Output = Result<Found, StoreError>> + Send>> {
    let (warm, slug) = (warm.clone(), slug.to_owned());
    let mut reading = Box::pin(async move {
        let budget = ReadBudget::unlimited();
        warm.post_page(PostKey::Slug(&slug), PAGE, &budget).await
    });
    let polled = tokio::time::timeout(Duration::from_millis(50), &mut reading).await;
    assert!(
        polled.is_err(),
        "the read was to wait for the pool's one connection"
    );
    reading
}

#[tokio::test]
async fn a_turn_left_before_its_statement_passes_to_the_next_in_line() {
    let database = TestDatabase::create().await;
    let slugs = fill(&database.pool().await).await;
    let pool = pool_of_one(&database).await;
    let warm = WarmConnections::new(pool.clone(), 1);
    // The pool's one connection is taken: the first read waits for it with the turn.
    let taken = pool.acquire().await.expect("the only connection");
    let leaving = joined(&warm, &slugs[0]).await;
    let staying = [
        read(&warm, &slugs[1], ReadBudget::unlimited()),
        read(&warm, &slugs[3], ReadBudget::unlimited()),
    ];
    until("both in line", || async { warm.post_pages_waiting() == 2 }).await;
    drop(leaving);
    drop(taken);
    let [second, third] = staying;
    assert_eq!(
        second.await.expect("join").expect("read"),
        alone(&pool, &slugs[1]).await
    );
    assert_eq!(
        third.await.expect("join").expect("read"),
        alone(&pool, &slugs[3]).await
    );
    assert_eq!(warm.post_pages_waiting(), 0);
}

#[tokio::test]
async fn requests_read_for_by_one_that_left_are_told_and_the_line_goes_on() {
    let database = TestDatabase::create().await;
    let slugs = fill(&database.pool().await).await;
    let pool = pool_of_one(&database).await;
    let warm = WarmConnections::new(pool.clone(), 1);
    let taken = pool.acquire().await.expect("the only connection");
    let leaving = tokio::spawn(joined(&warm, &slugs[0]).await);
    let stranded = [
        read(&warm, &slugs[1], ReadBudget::unlimited()),
        read(&warm, &slugs[3], ReadBudget::unlimited()),
    ];
    until("both in line", || async { warm.post_pages_waiting() == 2 }).await;
    // The first read takes the connection and both waiting pages into its statement,
    // which waits for the lock; then its request leaves.
    let holder = hold_posts(&database).await;
    drop(taken);
    until_a_statement_waits(&database).await;
    assert_eq!(warm.post_pages_waiting(), 0, "taken into the statement");
    leaving.abort();
    for handle in stranded {
        let told = handle.await.expect("join");
        assert!(
            matches!(told, Err(StoreError::SharedReadFailed)),
            "{told:?}"
        );
    }
    release(holder).await;
    // The turn came back: the next read runs.
    let next = read(&warm, &slugs[4], ReadBudget::unlimited());
    assert_eq!(
        next.await.expect("join").expect("read"),
        alone(&pool, &slugs[4]).await
    );
}

const POST_PAGE: &str = "query PostPage($slug: String!) { post(slug: $slug) { id title \
    thread(first: 100) { totalCount edges { cursor node { id depth bodyHtml author { name } } } } } }";

#[tokio::test]
async fn post_pages_over_http_share_statements_and_answer_as_the_resolvers_do() {
    let app = TestApp::spawn_api_only_with(&[
        "--graphql-compiled-reads",
        "on",
        "--db-post-page-statements",
        "1",
        // Every request reads: none is answered from memory, and all run at once.
        "--graphql-cache-ttl",
        "0",
        "--graphql-max-concurrent",
        "64",
    ])
    .await;
    let resolvers = app
        .another_instance_with(&["--graphql-compiled-reads", "off"])
        .await;
    let slugs = fill(&app.pool).await;
    let requests: Vec<&str> = (0..24).map(|n| slugs[n % slugs.len()].as_str()).collect();
    let mut expected = Vec::new();
    for slug in &requests {
        expected.push(resolvers.graphql(POST_PAGE, json!({ "slug": slug })).await);
    }
    assert!(
        expected[0]["data"]["post"]["title"].is_string(),
        "{}",
        expected[0]
    );
    assert!(expected[6]["data"]["post"].is_null(), "{}", expected[6]);
    // The document's first request runs on the resolvers and plans it.
    app.graphql(POST_PAGE, json!({ "slug": "post-0" })).await;
    app.database.statements_since_last_count().await;

    let holder = hold_posts(&app.database).await;
    let first = {
        let request = app.graphql_request(None, POST_PAGE, json!({ "slug": requests[0] }));
        tokio::spawn(crate::support::json_answer(request))
    };
    until_a_statement_waits(&app.database).await;
    let rest: Vec<_> = requests[1..]
        .iter()
        .map(|slug| {
            let request = app.graphql_request(None, POST_PAGE, json!({ "slug": slug }));
            tokio::spawn(crate::support::json_answer(request))
        })
        .collect();
    // Nothing outside the process sees its line: the requests are given a moment to
    // reach it (a late one makes a third statement, which the count allows).
    tokio::time::sleep(Duration::from_millis(500)).await;
    release(holder).await;
    let mut answers = vec![first.await.expect("join")];
    for handle in rest {
        answers.push(handle.await.expect("join"));
    }
    assert_eq!(answers, expected);
    let statements = post_page_statements(&app.database).await;
    assert!(
        (2..=3).contains(&statements),
        "{statements} statements for {} post pages",
        requests.len()
    );
}
