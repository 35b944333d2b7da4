//! Reliability (issue 12): each finding from reading the code, as a test that failed before
//! its fix, and the fault scenarios (`fault_suite`), bounded in count and time. Figures
//! the scenarios print are recorded in docs/reliability.md.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use sqlx::{Connection, PgConnection};
use tokio::process::Child;

use crate::cli_errors::command;
use crate::helpers::{TestApp, http_client};
use gazette_store::testing::TestDatabase;
use gazette_store::tokens::Role;

/// A free loopback port (bound and released; the race with another process is accepted).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

/// Sends SIGTERM and waits for the exit, at most `within`; returns how long it took.
pub async fn terminate(
    child: &mut Child,
    within: Duration,
) -> (std::process::ExitStatus, Duration) {
    let pid = child.id().expect("still running");
    let started = Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let status = tokio::time::timeout(within, child.wait())
        .await
        .unwrap_or_else(|_| panic!("the process did not exit within {within:?} of SIGTERM"))
        .expect("wait");
    (status, started.elapsed())
}

/// Waits until `url` answers 200, at most `within`.
pub async fn until_ok(url: &str, within: Duration) -> Duration {
    let started = Instant::now();
    let client = http_client();
    loop {
        let ok = client
            .get(url)
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|response| response.status() == StatusCode::OK);
        if ok {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "{url} did not answer 200 within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `gazette serve` used to await the worker's first run before the API served: on a large
/// site (or one whose feeds wait on a lock) the port was bound but unanswered, and SIGTERM
/// went unheard, for as long as that run took.
#[tokio::test]
async fn serve_answers_and_stops_while_the_first_worker_run_waits() {
    let database = TestDatabase::create().await;
    // The worker's first run begins by claiming the recorded changes: hold that table.
    let mut holder = PgConnection::connect_with(database.options())
        .await
        .expect("connect");
    sqlx::query("begin")
        .execute(&mut holder)
        .await
        .expect("begin");
    sqlx::query("lock table feed_changes in access exclusive mode")
        .execute(&mut holder)
        .await
        .expect("lock");

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut serve = command(
        &["serve", "--seed", "false", "--listen", &listen],
        &[("DATABASE_URL", database.url())],
    )
    .spawn()
    .expect("start gazette serve");
    let base = format!("http://{listen}");
    until_ok(&format!("{base}/healthz"), Duration::from_secs(20)).await;
    let answer: serde_json::Value = http_client()
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": "{ posts(first: 1) { totalCount } }" }))
        .send()
        .await
        .expect("a query")
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["data"]["posts"]["totalCount"], 0, "{answer}");
    // The worker is still stuck on the lock: SIGTERM is heard, the run is abandoned
    // after the drain time, and the process ends cleanly.
    let waiting: i64 = sqlx::query_scalar(
        "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()",
    )
    .fetch_one(&database.pool().await)
    .await
    .expect("pg_stat_activity");
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
    let mut first = PgConnection::connect_with(database.options())
        .await
        .expect("connect");
    let mut second = PgConnection::connect_with(database.options())
        .await
        .expect("connect");
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
        async move { crate::cli_errors::gazette(&args, &env).await }
    };
    let writer = app.token("Writer", Role::Author).await;
    app.create_post(&writer, json!({ "title": "Before", "status": "PUBLISHED" }))
        .await;
    assert!(once(&[]).await.status.success());

    let mut lock = PgConnection::connect_with(app.database.options())
        .await
        .expect("connect");
    sqlx::query("select pg_advisory_lock(hashtextextended('feed:' || $1, 0))")
        .bind("feed.xml")
        .execute(&mut lock)
        .await
        .expect("hold feed.xml");
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
    let channels: i64 = sqlx::query_scalar("select count(*) from social_channels")
        .fetch_one(&app.pool)
        .await
        .expect("social_channels");
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
            crate::cli_errors::gazette(&["worker", "--once"], &env),
            crate::cli_errors::gazette(&["worker", "--once"], &env),
        );
        assert!(first.status.success(), "{first:?}");
        assert!(second.status.success(), "{second:?}");
        let together = stored_texts(&app).await;
        let alone = crate::cli_errors::gazette(&["worker", "--once"], &env).await;
        assert!(alone.status.success());
        assert_eq!(stored_texts(&app).await, together, "round {round}");
        let summaries: i64 =
            sqlx::query_scalar("select count(*) from channel_summaries where post_id is not null")
                .fetch_one(&app.pool)
                .await
                .expect("count");
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
