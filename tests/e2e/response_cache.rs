//! Anonymous query responses are kept until the content changes: a repeated query runs no
//! statement, a mutation is visible to the next read at once, a change made elsewhere
//! (another process, psql) empties the cache through its change event, and token holders
//! are never served from it. Counted by PostgreSQL, never timed.

use gazette_store::tokens::Role;
use serde_json::json;

use crate::support::{TestApp, eventually};

const FRONT_PAGE: &str = "{ posts(first: 5) { edges { node { slug title commentCount } } } }";

fn comment_count(response: &serde_json::Value) -> i64 {
    response["data"]["posts"]["edges"][0]["node"]["commentCount"]
        .as_i64()
        .unwrap_or_else(|| panic!("no comment count in {response}"))
}

#[tokio::test]
async fn anonymous_queries_are_answered_from_memory_until_something_changes() {
    let app = TestApp::spawn_api_only().await;
    let token = app.token("Writer", Role::Author).await;
    let post = app
        .create_post(&token, json!({ "title": "Cached", "status": "PUBLISHED" }))
        .await;

    let first = app.graphql(FRONT_PAGE, json!({})).await;
    assert_eq!(comment_count(&first), 0);
    // The writes above announce themselves asynchronously; once their notifications have
    // arrived (and emptied the cache), repeats are answered from memory.
    let cached = eventually(20, || async {
        app.graphql(FRONT_PAGE, json!({})).await;
        app.database.statements_since_last_count().await;
        for _ in 0..5 {
            assert_eq!(app.graphql(FRONT_PAGE, json!({})).await, first);
        }
        (app.database.statements_since_last_count().await == 0).then_some(())
    })
    .await;
    assert!(
        cached.is_some(),
        "five repeats of an anonymous query ran statements"
    );

    // A mutation through this process: the next read sees it, without waiting.
    let added = app
        .graphql(
            "mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } } }",
            json!({ "input": { "postId": post["id"], "authorName": "Ann", "body": "First!" } }),
        )
        .await;
    assert!(added.get("errors").is_none(), "{added}");
    assert_eq!(comment_count(&app.graphql(FRONT_PAGE, json!({})).await), 1);

    // A change made elsewhere arrives as a change event and empties the cache (well
    // before the 5 s TTL would).
    sqlx::query(
        "insert into comments (post_id, author_name, body, body_html) \
         select id, 'Psql', 'from psql', '<p>from psql</p>' from posts where slug = 'cached'",
    )
    .execute(&app.pool)
    .await
    .expect("insert");
    let refreshed = eventually(10, || async {
        let response = app.graphql(FRONT_PAGE, json!({})).await;
        (comment_count(&response) == 2).then_some(response)
    })
    .await;
    assert!(refreshed.is_some(), "the change event emptied the cache");

    // So does renaming an author (names show on every post).
    let query = "{ posts(first: 1) { edges { node { author { name } } } } }";
    app.graphql(query, json!({})).await;
    sqlx::query("update authors set name = 'Renamed' where slug = 'writer'")
        .execute(&app.pool)
        .await
        .expect("rename");
    let renamed = eventually(10, || async {
        let response = app.graphql(query, json!({})).await;
        (response["data"]["posts"]["edges"][0]["node"]["author"]["name"] == "Renamed").then_some(())
    })
    .await;
    assert!(renamed.is_some(), "an author's new name reached the cache");
    app.stop().await;
}

#[tokio::test]
async fn token_holders_and_disabled_caches_always_execute() {
    let app = TestApp::spawn_api_only_with(&["--graphql-cache-ttl", "0"]).await;
    app.graphql(FRONT_PAGE, json!({})).await;
    app.database.statements_since_last_count().await;
    app.graphql(FRONT_PAGE, json!({})).await;
    assert!(app.database.statements_since_last_count().await > 0);
    app.stop().await;

    let app = TestApp::spawn_api_only().await;
    let token = app.token("Admin", Role::Admin).await;
    app.graphql_as(Some(&token), FRONT_PAGE, json!({})).await;
    app.database.statements_since_last_count().await;
    let response = app.graphql_as(Some(&token), FRONT_PAGE, json!({})).await;
    assert!(response.get("errors").is_none(), "{response}");
    assert!(
        app.database.statements_since_last_count().await > 0,
        "a token holder's query ran again"
    );
    app.stop().await;
}

/// Repeats `query` until it is answered from memory (no statement), as the first test does.
async fn cached(app: &TestApp, query: &str) -> serde_json::Value {
    let answer = app.graphql(query, json!({})).await;
    let kept = eventually(20, || async {
        app.graphql(query, json!({})).await;
        app.database.statements_since_last_count().await;
        for _ in 0..3 {
            app.graphql(query, json!({})).await;
        }
        (app.database.statements_since_last_count().await == 0).then_some(())
    })
    .await;
    assert!(kept.is_some(), "{query} was never answered from memory");
    answer
}

/// The worker's writes (feeds, channel texts) drop only the answers that read them: a busy
/// worker does not keep the front page from being served from memory.
#[tokio::test]
async fn the_workers_writes_drop_only_what_reads_them() {
    const FEEDS: &str = "{ feeds(first: 50) { url itemCount } }";
    let app = TestApp::spawn_api_only().await;
    let token = app.token("Writer", Role::Author).await;
    app.create_post(&token, json!({ "title": "Kept", "status": "PUBLISHED" }))
        .await;
    let front_page = cached(&app, FRONT_PAGE).await;
    let before = cached(&app, FEEDS).await;
    assert_eq!(before["data"]["feeds"], json!([]), "no worker has run yet");

    // The worker writes every feed, and each write is announced.
    let address = app
        .base_url
        .trim_start_matches("http://")
        .parse()
        .expect("the app's address");
    let settings = crate::support::settings(&[]);
    gazette_worker::run_all(&app.pool, &settings.worker(settings.site(address)))
        .await
        .expect("a worker run");
    let refreshed = eventually(50, || async {
        let answer = app.graphql(FEEDS, json!({})).await;
        (answer["data"]["feeds"]
            .as_array()
            .is_some_and(|feeds| !feeds.is_empty()))
        .then_some(answer)
    })
    .await;
    assert!(
        refreshed.is_some(),
        "the list of feeds never showed the new feeds"
    );

    // The front page was kept through all of it.
    app.database.statements_since_last_count().await;
    for _ in 0..5 {
        assert_eq!(app.graphql(FRONT_PAGE, json!({})).await, front_page);
    }
    assert_eq!(
        app.database.statements_since_last_count().await,
        0,
        "the worker's writes emptied the front page's cached answer"
    );
    app.stop().await;
}
