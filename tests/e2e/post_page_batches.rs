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
use gazette_store::tokens::Role;
use gazette_store::{
    FirstPostPage, PgPool, ReadBudget, Reader, StoreError, WarmConnections, authors,
};
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};

use crate::support::{Scrape, Server, TestApp, http_client, post_graphql};

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
/// A read running in a task of its own.
type Reading = tokio::task::JoinHandle<Result<Found, StoreError>>;
/// A read polled by the test itself.
type Pending = Pin<Box<dyn Future<Output = Result<Found, StoreError>> + Send>>;

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

fn read(warm: &Arc<WarmConnections>, slug: &str, budget: ReadBudget) -> Reading {
    let (warm, slug) = (warm.clone(), slug.to_owned());
    tokio::spawn(async move { warm.post_page(PostKey::Slug(&slug), PAGE, &budget).await })
}

/// How many times post page statements ran since the counts were last reset.
async fn post_page_statements(database: &TestDatabase) -> i64 {
    statements_like(database, "%cross join lateral%").await
}

/// How many times statements whose text is `like` ran since the counts were last reset.
async fn statements_like(database: &TestDatabase, like: &str) -> i64 {
    let mut connection = PgConnection::connect_with(database.options())
        .await
        .expect("connect");
    sqlx::query_scalar(
        "select coalesce(sum(calls), 0)::bigint from pg_stat_statements \
         where dbid = (select oid from pg_database where datname = current_database()) \
           and query like $1 and query not like '%pg_stat%'",
    )
    .bind(like)
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
    // Every post (the draft included), one twice, one that does not exist, one no text
    // column can hold and one longer than any slug, which must find nothing without
    // failing the others (the last two are answered without joining the line).
    let mut keys = slugs.clone();
    keys.extend([
        "post-1".to_owned(),
        "missing".to_owned(),
        "post\0nul".to_owned(),
        "long-".repeat(100),
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
    // All but the first and the two answered at once wait in line, with the small one.
    let in_line = keys.len() - 3 + 1;
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

/// A read of `slug` that has joined its line (and, alone there, holds the turn): polled
/// once, not yet finished.
async fn joined(warm: &Arc<WarmConnections>, slug: &str) -> Pending {
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
async fn without_a_limit_every_page_is_a_statement_of_its_own_at_once() {
    let database = TestDatabase::create().await;
    let pool = database.pool().await;
    let slugs = fill(&pool).await;
    let mut expected = Vec::new();
    for slug in &slugs {
        expected.push(alone(&pool, slug).await);
    }
    database.statements_since_last_count().await;
    let warm = WarmConnections::new(pool.clone(), 0);
    assert!(!warm.shares_post_pages());
    let holder = hold_posts(&database).await;
    let reads: Vec<_> = slugs
        .iter()
        .map(|slug| read(&warm, slug, ReadBudget::unlimited()))
        .collect();
    until_a_statement_waits(&database).await;
    assert_eq!(warm.post_pages_waiting(), 0, "nothing waits in line");
    release(holder).await;
    let mut found = Vec::new();
    for handle in reads {
        found.push(ended(handle).await.expect("read"));
    }
    assert_eq!(found, expected);
    assert_eq!(post_page_statements(&database).await, slugs.len() as i64);
}

/// A fresh database and a line on a pool of its one connection, with the reads that
/// make it (see [`line_of_three`]).
struct Line {
    database: TestDatabase,
    pool: PgPool,
    slugs: Vec<String>,
    warm: Arc<WarmConnections>,
}

/// The pool's one connection, which the test holds until it lets the first read run.
type Taken = sqlx::pool::PoolConnection<sqlx::Postgres>;

/// A line of three: the first read holding the turn, waiting for the pool's one
/// connection (not spawned: the test drops it or spawns it), and the reads of the second
/// and fourth posts waiting behind it. Statements are cancelled after `statement_timeout`
/// when given.
async fn line_of_three(statement_timeout: Option<&str>) -> (Line, Pending, Taken, [Reading; 2]) {
    let database = TestDatabase::create().await;
    let slugs = fill(&database.pool().await).await;
    let mut options = database.options().clone();
    if let Some(timeout) = statement_timeout {
        options = options.options([("statement_timeout", timeout)]);
    }
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .expect("a pool of one connection");
    let warm = WarmConnections::new(pool.clone(), 1);
    let taken = pool.acquire().await.expect("the only connection");
    let first = joined(&warm, &slugs[0]).await;
    let behind = [
        read(&warm, &slugs[1], ReadBudget::unlimited()),
        read(&warm, &slugs[3], ReadBudget::unlimited()),
    ];
    until("both in line", || async { warm.post_pages_waiting() == 2 }).await;
    let line = Line {
        database,
        pool,
        slugs,
        warm,
    };
    (line, first, taken, behind)
}

impl Line {
    /// The reads behind the first end with the pages of the second and fourth posts,
    /// and the line is empty.
    async fn behind_read_as_alone(&self, behind: [Reading; 2]) {
        for (handle, slug) in behind.into_iter().zip([&self.slugs[1], &self.slugs[3]]) {
            assert_eq!(
                ended(handle).await.expect("read"),
                alone(&self.pool, slug).await
            );
        }
        assert_eq!(self.warm.post_pages_waiting(), 0);
    }
}

/// `handle`'s read, which must end within ten seconds (a line that stopped never would).
async fn ended(handle: Reading) -> Result<Found, StoreError> {
    tokio::time::timeout(Duration::from_secs(10), handle)
        .await
        .expect("the read ended within ten seconds")
        .expect("join")
}

#[tokio::test]
async fn a_turn_left_before_its_statement_passes_to_the_next_in_line() {
    let (line, first, taken, behind) = line_of_three(None).await;
    drop(first);
    drop(taken);
    line.behind_read_as_alone(behind).await;
}

#[tokio::test]
async fn requests_taken_in_by_one_that_left_wait_for_the_next_statement() {
    let (line, first, taken, behind) = line_of_three(None).await;
    let leaving = tokio::spawn(first);
    // The first read takes the connection and both waiting pages into its statement,
    // which waits for the lock; then its request leaves.
    let holder = hold_posts(&line.database).await;
    drop(taken);
    until_a_statement_waits(&line.database).await;
    assert_eq!(
        line.warm.post_pages_waiting(),
        0,
        "taken into the statement"
    );
    leaving.abort();
    until("both back in line, the first with the turn", || async {
        line.warm.post_pages_waiting() == 1
    })
    .await;
    release(holder).await;
    line.behind_read_as_alone(behind).await;
}

#[tokio::test]
async fn a_failed_statement_fails_the_requests_it_read_for_and_the_line_goes_on() {
    // Statements that wait for the lock past 300 ms fail.
    let (line, first, taken, behind) = line_of_three(Some("300")).await;
    let failing = tokio::spawn(first);
    let holder = hold_posts(&line.database).await;
    drop(taken);
    let failed = ended(failing).await;
    assert!(
        matches!(failed, Err(StoreError::StatementTimeout(_))),
        "{failed:?}"
    );
    for handle in behind {
        let told = ended(handle).await;
        assert!(
            matches!(told, Err(StoreError::SharedReadFailed)),
            "{told:?}"
        );
    }
    release(holder).await;
    // The turn came back: the next read runs.
    let next = read(&line.warm, &line.slugs[4], ReadBudget::unlimited());
    let expected = alone(&line.pool, &line.slugs[4]).await;
    assert_eq!(ended(next).await.expect("read"), expected);
}

const POST_PAGE: &str = "query PostPage($slug: String!) { post(slug: $slug) { id title \
    thread(first: 100) { totalCount edges { cursor node { id depth bodyHtml author { name } } } } } }";

/// An app whose compiled reads run every request (no response cache, all at once), with
/// `args`, and a second instance on its data whose reads all run on the resolvers.
async fn app_and_resolvers(args: &[&str]) -> (TestApp, TestApp) {
    let mut all = vec![
        "--graphql-compiled-reads",
        "on",
        "--graphql-cache-ttl",
        "0",
        "--graphql-max-concurrent",
        "64",
    ];
    all.extend_from_slice(args);
    let app = TestApp::spawn_api_only_with(&all).await;
    let resolvers = app
        .another_instance_with(&["--graphql-compiled-reads", "off"])
        .await;
    (app, resolvers)
}

/// The answer to `query` with `slug`, as `token`'s reader, sent now.
fn spawn_request(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    slug: &str,
) -> tokio::task::JoinHandle<serde_json::Value> {
    let request = app.graphql_request(token, query, json!({ "slug": slug }));
    tokio::spawn(crate::support::json_answer(request))
}

#[tokio::test]
async fn post_pages_over_http_share_statements_per_reader_and_answer_as_the_resolvers_do() {
    let (app, resolvers) = app_and_resolvers(&["--db-post-page-statements", "1"]).await;
    let slugs = fill(&app.pool).await;
    // The public, the draft's author and an admin: three lines of their own.
    let author = app.token("Ann", Role::Author).await;
    let admin = app.token("Root", Role::Admin).await;
    let readers = [None, Some(author.as_str()), Some(admin.as_str())];
    let requests: Vec<(Option<&str>, &str)> = (0..30)
        .map(|n| (readers[n % 3], slugs[n % slugs.len()].as_str()))
        .collect();
    let mut expected = Vec::new();
    for (token, slug) in &requests {
        let variables = json!({ "slug": slug });
        expected.push(resolvers.graphql_as(*token, POST_PAGE, variables).await);
    }
    let draft = |n: usize| expected[n]["data"]["post"]["title"].clone();
    assert!(
        draft(6).is_null(),
        "the draft is not the public's: {}",
        expected[6]
    );
    assert_eq!(
        draft(13),
        json!("Post 6"),
        "the author's own draft: {}",
        expected[13]
    );
    assert_eq!(
        draft(20),
        json!("Post 6"),
        "an admin sees it: {}",
        expected[20]
    );
    // A document's first request runs on the resolvers and plans it.
    app.graphql(POST_PAGE, json!({ "slug": "post-0" })).await;
    app.database.statements_since_last_count().await;

    let holder = hold_posts(&app.database).await;
    let first = spawn_request(&app, requests[0].0, POST_PAGE, requests[0].1);
    until_a_statement_waits(&app.database).await;
    let rest: Vec<_> = requests[1..]
        .iter()
        .map(|(token, slug)| spawn_request(&app, *token, POST_PAGE, slug))
        .collect();
    // Nothing outside the process sees its lines: the requests are given a moment to
    // reach them (a late one makes another statement, which the count allows).
    tokio::time::sleep(Duration::from_millis(500)).await;
    release(holder).await;
    let mut answers = vec![first.await.expect("join")];
    for handle in rest {
        answers.push(handle.await.expect("join"));
    }
    assert_eq!(answers, expected);
    // Each reader's first page alone, then the others of its line together.
    let statements = post_page_statements(&app.database).await;
    assert!(
        (6..=8).contains(&statements),
        "{statements} statements for {} post pages",
        requests.len()
    );
}

/// A post page after a list: the request holds a connection when it reads the page.
const LIST_THEN_POST_PAGE: &str = "query ListThenPage($slug: String!) { \
    posts(first: 2) { edges { node { slug } } } \
    post(slug: $slug) { title thread(first: 10) { edges { node { id } } } } }";

#[tokio::test]
async fn a_request_holding_a_connection_reads_its_post_page_on_it() {
    // Two connections, and more requests than that at once, each taking one for its
    // list: were a post page to take a second, they could hold the whole pool waiting
    // for each other's, until the pool gave up and they fell back to the resolvers.
    let (app, resolvers) = app_and_resolvers(&[
        "--db-max-connections",
        "2",
        "--db-post-page-statements",
        "2",
    ])
    .await;
    let slugs = fill(&app.pool).await;
    let requests: Vec<&str> = (0..12).map(|n| slugs[n % slugs.len()].as_str()).collect();
    let mut expected = Vec::new();
    for slug in &requests {
        let variables = json!({ "slug": slug });
        expected.push(resolvers.graphql(LIST_THEN_POST_PAGE, variables).await);
    }
    app.graphql(LIST_THEN_POST_PAGE, json!({ "slug": "post-0" }))
        .await;
    app.database.statements_since_last_count().await;
    let handles: Vec<_> = requests
        .iter()
        .map(|slug| spawn_request(&app, None, LIST_THEN_POST_PAGE, slug))
        .collect();
    let mut answers = Vec::new();
    for handle in handles {
        answers.push(handle.await.expect("join"));
    }
    assert_eq!(answers, expected);
    // One page statement per request, on its own connection, and none on the resolvers
    // (which read a post by its slug alone).
    assert_eq!(
        post_page_statements(&app.database).await,
        requests.len() as i64
    );
    assert_eq!(
        statements_like(&app.database, "%where p.slug = $1%").await,
        0
    );
}

/// Operators see the lines at work, from a real `gazette api`: the pages each shared
/// statement read in `gazette_db_post_pages_per_statement`, and the reads in line in
/// `gazette_db_post_pages_waiting`.
#[tokio::test]
async fn the_lines_show_in_the_metrics() {
    let database = TestDatabase::create().await;
    let slugs = fill(&database.pool().await).await;
    let mut server = Server::start(
        "api",
        &[
            "--metrics-listen",
            "api",
            "--graphql-compiled-reads",
            "on",
            "--graphql-cache-ttl",
            "0",
            "--db-post-page-statements",
            "1",
        ],
        &[("DATABASE_URL", database.url())],
    )
    .await;
    let metrics = server.url("/metrics");
    let client = http_client();
    let page = |slug: &str| {
        let (client, base) = (client.clone(), server.base.clone());
        let body = json!({ "query": POST_PAGE, "variables": { "slug": slug } });
        tokio::spawn(async move { post_graphql(&client, &base, body).await })
    };
    // A document's first request runs on the resolvers and plans it; the second reads
    // its page alone.
    for slug in ["post-0", "post-1"] {
        page(slug).await.expect("join");
    }
    let before = Scrape::of(&metrics).await;
    let statements = |scrape: &Scrape| scrape.sum("gazette_db_post_pages_per_statement_count", &[]);
    let pages = |scrape: &Scrape| scrape.sum("gazette_db_post_pages_per_statement_sum", &[]);
    let at_most = |scrape: &Scrape, le: &str| {
        scrape.sum("gazette_db_post_pages_per_statement_bucket", &[("le", le)])
    };
    assert_eq!(statements(&before), 1.0, "{}", before.text);
    assert_eq!(pages(&before), 1.0);

    let holder = hold_posts(&database).await;
    let first = page(&slugs[0]);
    until_a_statement_waits(&database).await;
    // Nine more of the published posts, some twice: all in line behind the first.
    let rest: Vec<_> = slugs[..6]
        .iter()
        .cycle()
        .skip(1)
        .take(9)
        .map(|slug| page(slug))
        .collect();
    until("nine reads in line, as the metrics say", || async {
        Scrape::of(&metrics)
            .await
            .sum("gazette_db_post_pages_waiting", &[])
            == 9.0
    })
    .await;
    release(holder).await;
    for answer in std::iter::once(first).chain(rest) {
        let (status, answer) = answer.await.expect("join");
        assert_eq!(status, reqwest::StatusCode::OK);
        assert!(answer["data"]["post"]["title"].is_string(), "{answer}");
    }

    let after = Scrape::of(&metrics).await;
    // The first page alone, then the nine in line in one statement.
    assert_eq!(
        statements(&after) - statements(&before),
        2.0,
        "{}",
        after.text
    );
    assert_eq!(pages(&after) - pages(&before), 10.0);
    assert_eq!(at_most(&after, "1") - at_most(&before, "1"), 1.0);
    assert_eq!(at_most(&after, "8") - at_most(&before, "8"), 1.0);
    assert_eq!(at_most(&after, "16") - at_most(&before, "16"), 2.0);
    assert_eq!(after.sum("gazette_db_post_pages_waiting", &[]), 0.0);
    server.stop().await;
}
