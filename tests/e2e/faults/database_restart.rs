//! Scenario 2: the database restarts under load.

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::storm::{
    ADD_COMMENT, CLIENT_TIMEOUT, STORM_SERVER, assert_stored_once, storm, storm_size,
};
use crate::support::{
    EmbeddedServe, connect_embedded, database_url, demo_post_id, free_address, pg_ctl, read_log,
    short_temp_dir, start_process, until_ok,
};

/// Scenario 2: PostgreSQL stops for three seconds in the middle of a storm, under an API
/// on the embedded cluster and another on `DATABASE_URL`. While it is down, requests fail
/// fast with 503 `DATABASE_UNAVAILABLE` (never a hang), `/readyz` says 503, feeds are
/// served from memory; after it returns, both APIs and the worker heal within 5 s by
/// themselves, and no acknowledged comment is lost.
#[tokio::test]
async fn a_database_restart_under_load_loses_nothing_and_heals() {
    let data = short_temp_dir("gz-restart-");
    let data_dir = data.path().join("data");
    let relaxed = STORM_SERVER;
    let serve = EmbeddedServe::new(&data_dir, &relaxed);
    let mut embedded = serve.start("serve.log").await;
    let logs = tempfile::tempdir().expect("logs");
    let second_listen = free_address();
    let url = database_url(&data_dir);
    // The second API shares the first one's data directory (its edit-token key), as a
    // deployment does; never the directory the tests run in.
    let shared_dir = data_dir.to_str().expect("utf-8 path");
    let mut api_args = vec!["api", "--listen", &second_listen, "--data-dir", shared_dir];
    api_args.extend(relaxed);
    let mut second = start_process(
        &api_args,
        &[("DATABASE_URL", &url)],
        logs.path().join("api.log"),
    )
    .await;
    let bases = vec![serve.base.clone(), format!("http://{second_listen}")];
    for base in &bases {
        until_ok(&format!("{base}/readyz"), Duration::from_secs(30)).await;
    }
    until_ok(&format!("{}/feed.xml", bases[0]), Duration::from_secs(30)).await;
    let post = demo_post_id(&bases[0]).await;

    let (clients, _) = storm_size();
    let load = tokio::spawn(storm(
        bases.clone(),
        post.clone(),
        clients,
        Duration::from_secs(9),
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The worker announces a new version of the feed just before the outage: the copy it
    // supersedes is still the last good one while the new one cannot be read.
    let mut announcer = connect_embedded(&data_dir).await;
    sqlx::query(
        "select pg_notify('gazette_events', \
         json_build_object('kind', 'feed_changed', 'key', 'feed.xml')::text)",
    )
    .execute(&mut announcer)
    .await
    .expect("announce a feed");
    drop(announcer);
    tokio::time::sleep(Duration::from_millis(500)).await;

    let stop_started = Instant::now();
    pg_ctl(&data_dir, &["stop", "-m", "fast"]);
    let stopped_in = stop_started.elapsed();
    // While it is down: quick, clear refusals; readiness says so; feeds from memory.
    let http = reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .expect("client");
    for base in &bases {
        let asked = Instant::now();
        let refused = http
            .post(format!("{base}/graphql"))
            .json(&json!({ "query": "{ posts(first: 1) { totalCount } }" }))
            .send()
            .await
            .expect("an answer while the database is down");
        let refused_in = asked.elapsed();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE, "{base}");
        assert!(refused.headers().contains_key(reqwest::header::RETRY_AFTER));
        let body: serde_json::Value = refused.json().await.expect("JSON");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "DATABASE_UNAVAILABLE",
            "{body}"
        );
        assert!(refused_in < Duration::from_secs(5), "{refused_in:?}");
        assert_eq!(
            http.get(format!("{base}/readyz"))
                .send()
                .await
                .expect("readyz")
                .status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
    let feed = http
        .get(format!("{}/feed.xml", bases[0]))
        .send()
        .await
        .expect("feed");
    assert_eq!(
        feed.status(),
        StatusCode::OK,
        "the feed is served from memory"
    );
    // Through the superseded copy: the new version was asked for, and could not be read.
    assert!(
        read_log(&embedded.log).contains("serving the last good copy of a feed"),
        "the announced version was not asked for"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;

    let start_started = Instant::now();
    pg_ctl(&data_dir, &["start"]);
    let back = Instant::now();
    let mut healed_in = Duration::ZERO;
    for base in &bases {
        let ready = until_ok(&format!("{base}/readyz"), Duration::from_secs(5)).await;
        healed_in = healed_in.max(ready);
    }
    // A write through each API succeeds within 5 s of the database's return.
    for base in &bases {
        let written = loop {
            let answer: serde_json::Value = http
                .post(format!("{base}/graphql"))
                .json(&json!({ "query": ADD_COMMENT, "variables": { "input": {
                    "postId": post, "authorName": "After", "body": format!("after the restart via {base}")
                } } }))
                .send()
                .await
                .expect("answer")
                .json()
                .await
                .expect("JSON");
            if answer["data"]["addComment"]["comment"]["id"].is_string() {
                break back.elapsed();
            }
            assert!(
                back.elapsed() < Duration::from_secs(5),
                "{base} has not healed: {answer}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        healed_in = healed_in.max(written);
    }
    let report = load.await.expect("storm");
    if report.by_code.contains_key("INTERNAL") {
        let internal = |log: &Path| {
            read_log(log)
                .lines()
                .filter(|line| line.contains("ERROR"))
                .take(5)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "internal errors during the restart: {report:?}\n{}\n{}",
            internal(&embedded.log),
            internal(&second.log)
        );
    }
    report.assert_only_documented_failures();
    // The worker heals too: once the storm is over, a new comment posted through the
    // second API reaches the comments feed served by the first.
    http.post(format!("{}/graphql", bases[1]))
        .json(&json!({ "query": ADD_COMMENT, "variables": { "input": {
            "postId": post, "authorName": "After", "body": "the worker heard of this"
        } } }))
        .send()
        .await
        .expect("a comment after the storm");
    let posted = Instant::now();
    let worker_healed = loop {
        let feed = http
            .get(format!("{}/comments/feed.xml", bases[0]))
            .send()
            .await
            .expect("comments feed")
            .text()
            .await
            .expect("body");
        if feed.contains("the worker heard of this") {
            break posted.elapsed();
        }
        assert!(
            posted.elapsed() < Duration::from_secs(15),
            "the worker did not rebuild the comments feed after the restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut connection = connect_embedded(&data_dir).await;
    let stored = assert_stored_once(&mut connection, &report).await;
    println!(
        "FIGURES restart: clients {clients}, requests {}, statuses {:?}, codes {:?}, retries {}, acknowledged {}, stored {stored}, slowest {:?}, stop took {stopped_in:?}, start took {:?}, APIs healed {healed_in:?} after the start, a comment reached the feed {worker_healed:?} after it was posted",
        report.requests,
        report.by_status,
        report.by_code,
        report.retries,
        report.acknowledged.len(),
        report.slowest,
        back.duration_since(start_started),
    );
    assert!(
        report.by_code.contains_key("DATABASE_UNAVAILABLE"),
        "the storm met the outage"
    );
    second.stop(Duration::from_secs(20)).await;
    embedded.stop(Duration::from_secs(30)).await;
}
