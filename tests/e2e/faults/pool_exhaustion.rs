//! Scenario 5: more slow requests than database connections.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use super::storm::CLIENT_TIMEOUT;
use crate::support::{TestApp, connect_to, hold_in_transaction, http_client};

/// Scenario 5: more slow requests than connections. Requests queue for a connection for a
/// bounded time and are answered 503 `DATABASE_UNAVAILABLE` with `Retry-After`; those that
/// got one are stopped by the statement timeout; nothing hangs or crashes, and the next
/// request after the jam is served.
#[tokio::test]
async fn pool_exhaustion_queues_then_refuses_with_retry_after() {
    let app = TestApp::spawn_api_only_with(&[
        "--db-max-connections",
        "3",
        "--db-statement-timeout",
        "2s",
        "--graphql-cache-ttl",
        "0",
    ])
    .await;
    let mut holder = connect_to(&app.database).await;
    hold_in_transaction(&mut holder, "lock table tags in access exclusive mode").await;
    let started = Instant::now();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let url = app.url("/graphql");
        requests.spawn(async move {
            let response = http_client()
                .post(url)
                .json(&json!({ "query": "{ tags(first: 5) { edges { node { name } } } }" }))
                .timeout(CLIENT_TIMEOUT)
                .send()
                .await
                .expect("an answer, not a hang");
            let status = response.status();
            let retry_after = response
                .headers()
                .contains_key(reqwest::header::RETRY_AFTER);
            let body: serde_json::Value = response.json().await.expect("JSON");
            let code = body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("NONE")
                .to_owned();
            (status, retry_after, code)
        });
    }
    let mut outcomes = std::collections::BTreeMap::<String, u32>::new();
    while let Some(outcome) = requests.join_next().await {
        let (status, retry_after, code) = outcome.expect("joined");
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(retry_after, "503 comes with Retry-After");
        }
        *outcomes
            .entry(format!("{} {code}", status.as_u16()))
            .or_default() += 1;
    }
    let all_answered_in = started.elapsed();
    sqlx::query("rollback")
        .execute(&mut holder)
        .await
        .expect("release");
    println!(
        "FIGURES pool: 12 requests on 3 connections held by a lock: {outcomes:?}, all answered within {all_answered_in:?}"
    );
    assert!(
        outcomes.contains_key("503 DATABASE_UNAVAILABLE"),
        "some waited for a connection and were refused: {outcomes:?}"
    );
    assert!(
        outcomes
            .keys()
            .all(|outcome| outcome == "503 DATABASE_UNAVAILABLE" || outcome == "200 TIMEOUT"),
        "{outcomes:?}"
    );
    assert!(
        all_answered_in < Duration::from_secs(15),
        "{all_answered_in:?}"
    );
    let after: serde_json::Value = app
        .graphql("{ tags(first: 5) { edges { node { name } } } }", json!({}))
        .await;
    assert!(
        after["errors"].is_null(),
        "served again after the jam: {after}"
    );
    app.stop().await;
}
