//! Findings from reading the code (issue 12), each a test that failed before its fix:
//! races between processes, transactions and requests.

use std::time::Duration;

use gazette_store::testing::TestDatabase;
use gazette_store::tokens::Role;
use serde_json::json;
use sqlx::Connection;

use super::storm::ADD_COMMENT;
use crate::support::{
    TestApp, command, connect_to, free_address, gazette, graphql_at, hold_feed_lock,
    hold_in_transaction, sessions_waiting_on_locks, terminate, until_ok,
};

/// `gazette serve` used to await the worker's first run before the API served: on a large
/// site (or one whose feeds wait on a lock) the port was bound but unanswered, and SIGTERM
/// went unheard, for as long as that run took.
#[tokio::test]
async fn serve_answers_and_stops_while_the_first_worker_run_waits() {
    let database = TestDatabase::create().await;
    // The worker's first run begins by claiming the recorded changes: hold that table.
    let mut holder = connect_to(&database).await;
    hold_in_transaction(
        &mut holder,
        "lock table feed_changes in access exclusive mode",
    )
    .await;

    let listen = free_address();
    // Its own data directory: the admin token and the edit-token key go there, never into
    // the directory the tests run in.
    let data = tempfile::tempdir().expect("data dir");
    let data_dir = data.path().to_str().expect("utf-8 path");
    let mut serve = command(
        &[
            "serve",
            "--seed",
            "false",
            "--listen",
            &listen,
            "--data-dir",
            data_dir,
        ],
        &[("DATABASE_URL", database.url())],
    )
    .spawn()
    .expect("start gazette serve");
    let base = format!("http://{listen}");
    until_ok(&format!("{base}/healthz"), Duration::from_secs(20)).await;
    let answer = graphql_at(
        &base,
        json!({ "query": "{ posts(first: 1) { totalCount } }" }),
    )
    .await;
    assert_eq!(answer["data"]["posts"]["totalCount"], 0, "{answer}");
    // The worker is still stuck on the lock: SIGTERM is heard, the run is abandoned
    // after the drain time, and the process ends cleanly.
    let waiting = sessions_waiting_on_locks(&database.pool().await).await;
    assert!(waiting >= 1, "the worker's first run waits on the lock");
    let (status, took) = terminate(&mut serve, Duration::from_secs(20)).await;
    assert!(status.success(), "{status:?}");
    assert!(
        took < gazette_worker::SHUTDOWN_DRAIN + Duration::from_secs(5),
        "{took:?}"
    );
    sqlx::query("rollback")
        .execute(&mut holder)
        .await
        .expect("release");
}

/// Two first uses of one author at once (two tokens created together): the second insert
/// waited for the first and then saw nothing in its own snapshot, and failed.
#[tokio::test]
async fn an_author_created_twice_at_once_is_one_author() {
    let database = TestDatabase::create().await;
    let mut first = connect_to(&database).await;
    let mut second = connect_to(&database).await;
    let mut transaction = first.begin().await.expect("begin");
    let created = gazette_store::authors::find_or_create(&mut transaction, "race", "Race")
        .await
        .expect("create");
    let racing = tokio::spawn(async move {
        gazette_store::authors::find_or_create(&mut second, "race", "Race").await
    });
    // The racer now waits on the uncommitted row.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !racing.is_finished(),
        "the second creator waits for the first"
    );
    transaction.commit().await.expect("commit");
    let found = racing
        .await
        .expect("joined")
        .expect("the racer finds the author");
    assert_eq!(found.id, created.id);
}

/// One feed that cannot be rebuilt (here: its lock is held past the statement timeout) used
/// to end the run: the feeds after it and every channel text stayed stale. Now the others
/// are rebuilt, the failure is reported, and the failed feed's changes stay pending.
#[tokio::test]
async fn a_failing_feed_stops_neither_the_other_feeds_nor_the_channel_texts() {
    let app = TestApp::spawn_api_only().await;
    let env = [("DATABASE_URL", app.database.url())];
    let once = |extra: &'static [&'static str]| {
        let mut args = vec!["worker", "--once"];
        args.extend_from_slice(extra);
        async move { gazette(&args, &env).await }
    };
    let writer = app.token("Writer", Role::Author).await;
    app.create_post(&writer, json!({ "title": "Before", "status": "PUBLISHED" }))
        .await;
    assert!(once(&[]).await.status.success());

    let lock = hold_feed_lock(&app.database, "feed.xml").await;
    app.create_post(
        &writer,
        json!({ "title": "After", "status": "PUBLISHED", "tags": ["Later"] }),
    )
    .await;
    let failed = once(&["--db-statement-timeout", "1s"]).await;
    assert!(!failed.status.success(), "a failed feed is reported");
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("could not be rebuilt"), "{stderr}");

    let body = |key: &'static str| {
        let pool = app.pool.clone();
        async move {
            gazette_store::feeds::find(&pool, key)
                .await
                .expect("read")
                .map(|feed| feed.body)
                .unwrap_or_default()
        }
    };
    assert!(
        !body("feed.xml").await.contains("After"),
        "held: not rebuilt"
    );
    assert!(
        body("feed.atom").await.contains("After"),
        "the feed after it was"
    );
    assert!(body("tags/later/feed.xml").await.contains("After"));
    assert!(
        body("syndication/twitter.json").await.contains("After")
            || body("syndication/facebook.json").await.contains("After")
            || channel_texts_mention(&app, "After").await,
        "the channel texts were regenerated"
    );

    lock.close().await.expect("release");
    assert!(once(&[]).await.status.success());
    assert!(
        body("feed.xml").await.contains("After"),
        "the change stayed pending and the next run rebuilt the feed"
    );
    app.stop().await;
}

async fn channel_texts_mention(app: &TestApp, text: &str) -> bool {
    let count: i64 = sqlx::query_scalar(
        "select count(*) from channel_summaries where body like '%' || $1 || '%'",
    )
    .bind(text)
    .fetch_one(&app.pool)
    .await
    .expect("channel_summaries");
    let channels = app.count("select count(*) from social_channels").await;
    assert!(channels > 0 || count == 0);
    channels == 0 || count > 0
}

/// Two workers at once write exactly what one writes: the channel texts are regenerated by
/// one worker at a time, in one transaction.
#[tokio::test]
async fn two_workers_at_once_write_what_one_writes() {
    let app = TestApp::spawn_api_only().await;
    let env = [("DATABASE_URL", app.database.url())];
    let writer = app.token("Writer", Role::Admin).await;
    sqlx::query("insert into social_channels (slug, kind, name, url, position) values ('x', 'twitter', 'X', 'https://x.example/gov', 1), ('m', 'mastodon', 'Mastodon', 'https://m.example/@gov', 2)")
        .execute(&app.pool)
        .await
        .expect("channels");
    for round in 0..3 {
        for number in 0..4 {
            app.create_post(
                &writer,
                json!({ "title": format!("Round {round} post {number}"), "status": "PUBLISHED" }),
            )
            .await;
        }
        let (first, second) = tokio::join!(
            gazette(&["worker", "--once"], &env),
            gazette(&["worker", "--once"], &env),
        );
        assert!(first.status.success(), "{first:?}");
        assert!(second.status.success(), "{second:?}");
        let together = stored_texts(&app).await;
        let alone = gazette(&["worker", "--once"], &env).await;
        assert!(alone.status.success());
        assert_eq!(stored_texts(&app).await, together, "round {round}");
        let summaries = app
            .count("select count(*) from channel_summaries where post_id is not null")
            .await;
        assert_eq!(summaries, 2 * 10.min(4 * (round + 1)), "round {round}");
    }
    app.stop().await;
}

async fn stored_texts(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as(
        "select key, content_hash from channel_summaries union all select key, content_hash from generated_feeds order by 1",
    )
    .fetch_all(&app.pool)
    .await
    .expect("stored texts")
}

/// A comment racing a close: `addComment` reads the post share-locked, so a close that
/// commits while the comment waits is seen, and the comment is refused; a plain read would
/// have let it onto a closed post.
#[tokio::test]
async fn a_comment_racing_a_close_sees_the_close() {
    let app = TestApp::spawn_api_only().await;
    let writer = app.token("Writer", Role::Author).await;
    let post = app
        .create_post(
            &writer,
            json!({ "title": "Closing soon", "status": "PUBLISHED" }),
        )
        .await;
    let post_id = post["id"].as_str().expect("id").to_owned();
    let database_id: i64 = sqlx::query_scalar("select id from posts where slug = 'closing-soon'")
        .fetch_one(&app.pool)
        .await
        .expect("post");
    let mut closer = connect_to(&app.database).await;
    sqlx::query("begin")
        .execute(&mut closer)
        .await
        .expect("begin");
    sqlx::query("update posts set comments_open = false where id = $1")
        .bind(database_id)
        .execute(&mut closer)
        .await
        .expect("close, not yet committed");
    let comment = tokio::spawn({
        let base = app.base_url.clone();
        let input = json!({ "postId": post_id, "authorName": "Racer", "body": "Just in time?" });
        async move {
            graphql_at(
                &base,
                json!({ "query": ADD_COMMENT, "variables": { "input": input } }),
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(
        !comment.is_finished(),
        "the comment waits for the close to decide"
    );
    sqlx::query("commit")
        .execute(&mut closer)
        .await
        .expect("commit the close");
    let answer = comment.await.expect("joined");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "COMMENTS_CLOSED",
        "{answer}"
    );
    let stored: i64 = sqlx::query_scalar("select count(*) from comments where post_id = $1")
        .bind(database_id)
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(stored, 0);
    app.stop().await;
}
