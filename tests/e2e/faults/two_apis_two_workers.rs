//! Scenario 6: two API processes and two workers on one database.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gazette_store::tokens::Role;
use serde_json::json;

use crate::support::{
    TestApp, assert_each_rebuilt_once, command, feeds_rebuilt, log_lines, read_log, spawn_logged,
    terminate_cleanly, until_ok,
};

/// The feeds the scenario's one change touches.
const CHANGED: [&str; 3] = ["feed.xml", "feed.atom", "tags/scale/feed.xml"];

/// Scenario 6: two APIs and two workers on one database. One change regenerates each feed
/// once (the workers split the recorded changes between them), and both APIs serve the
/// new feed within seconds. (A comment posted through one API reaching a subscriber on the
/// other is `subscriptions::comments_reach_subscribers_of_another_process`.)
#[tokio::test]
async fn two_apis_and_two_workers_regenerate_each_feed_once() {
    let first = TestApp::spawn_api_only().await;
    let second = first.another_instance().await;
    let logs = tempfile::tempdir().expect("logs");
    let env = [
        ("DATABASE_URL", first.database.url()),
        ("GAZETTE_LOG_FORMAT", "json"),
    ];
    let mut workers = Vec::new();
    for name in ["one", "two"] {
        let log = logs.path().join(format!("worker-{name}.log"));
        workers.push((spawn_logged(command(&["worker"], &env), &log), log));
    }
    until_ok(&first.url("/feed.xml"), Duration::from_secs(30)).await;
    // Both workers finished their start-up runs.
    let settled = |logs: &[PathBuf]| {
        logs.iter()
            .all(|log| read_log(log).contains("feeds regenerated"))
    };
    let paths: Vec<_> = workers.iter().map(|(_, log)| log.clone()).collect();
    for _ in 0..100 {
        if settled(&paths) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(settled(&paths), "both workers ran once");
    let before: Vec<usize> = paths.iter().map(|log| log_lines(log)).collect();

    let writer = first.token("Writer", Role::Author).await;
    let changed = Instant::now();
    first
        .create_post(
            &writer,
            json!({ "title": "Scale-out news", "status": "PUBLISHED", "tags": ["Scale"] }),
        )
        .await;
    let mut served_in = Duration::ZERO;
    for app in [&first, &second] {
        loop {
            let feed = app.get("/feed.xml").await.text().await.expect("feed");
            if feed.contains("Scale-out news") {
                served_in = served_in.max(changed.elapsed());
                break;
            }
            assert!(
                changed.elapsed() < Duration::from_secs(10),
                "the new feed was not served"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Give a second, late run the chance to rebuild again (it must not).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut rebuilt = BTreeMap::<String, u32>::new();
    for (log, skip) in paths.iter().zip(before) {
        for (key, times) in feeds_rebuilt(log, skip, &CHANGED) {
            *rebuilt.entry(key).or_default() += times;
        }
    }
    println!(
        "FIGURES scale-out: rebuilt after one change {rebuilt:?}; both APIs served it within {served_in:?}"
    );
    assert_each_rebuilt_once(&rebuilt, &CHANGED);
    for (mut child, _) in workers {
        terminate_cleanly(&mut child, Duration::from_secs(20)).await;
    }
    second.stop().await;
    first.stop().await;
}
