//! Scenario 4: SIGTERM under load.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use super::storm::{CLIENT_TIMEOUT, STORM_SERVER, assert_stored_once, storm, storm_size};
use crate::support::{
    EmbeddedServe, connect_at, connect_embedded, demo_post_id, hold_in_transaction, http_client,
    read_log, short_temp_dir, subscribe_to_comments, until_ok,
};

/// Scenario 4: SIGTERM under load. A request in flight (held on a lock) finishes; the
/// WebSocket client gets a close frame (1001); the worker stops; the embedded cluster
/// stops cleanly, so the next start needs no recovery; nothing acknowledged is lost.
#[tokio::test]
async fn sigterm_under_load_finishes_what_is_in_flight_and_stops_clean() {
    let data = short_temp_dir("gz-stop-");
    let data_dir = data.path().join("data");
    let serve = EmbeddedServe::new(&data_dir, &STORM_SERVER);
    let mut server = serve.start("serve.log").await;
    let base = serve.base.clone();
    until_ok(&format!("{base}/readyz"), Duration::from_secs(30)).await;
    let post = demo_post_id(&base).await;

    let mut socket = connect_at(&base, "graphql-transport-ws", json!({})).await;
    subscribe_to_comments(&mut socket, "1", &post, "id").await;

    let (clients, _) = storm_size();
    let load = tokio::spawn(storm(
        vec![base.clone()],
        post.clone(),
        clients,
        Duration::from_secs(6),
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;

    // A request that is in flight when the signal comes: it waits on a lock we hold.
    let mut holder = connect_embedded(&data_dir).await;
    hold_in_transaction(&mut holder, "lock table tags in access exclusive mode").await;
    let in_flight = tokio::spawn({
        let base = base.clone();
        async move {
            http_client()
                .post(format!("{base}/graphql"))
                .json(&json!({ "query": "{ tags(first: 5) { edges { node { name } } } }" }))
                .timeout(CLIENT_TIMEOUT)
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = server.child.id().expect("running");
    let signalled = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill")
            .success()
    );
    tokio::time::sleep(Duration::from_millis(700)).await;
    sqlx::query("rollback")
        .execute(&mut holder)
        .await
        .expect("release");
    drop(holder);

    let answered = in_flight
        .await
        .expect("joined")
        .expect("the request in flight was answered");
    assert_eq!(answered.status(), StatusCode::OK);
    let answer: serde_json::Value = answered.json().await.expect("JSON");
    assert!(answer["data"]["tags"]["edges"].is_array(), "{answer}");

    let close = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Close(frame)) => return frame.map(|frame| u16::from(frame.code)),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .expect("the socket closes");
    assert_eq!(
        close,
        Some(1001),
        "a close frame saying the server is going away"
    );

    let status = tokio::time::timeout(Duration::from_secs(40), server.child.wait())
        .await
        .expect("exits")
        .expect("wait");
    let stopped_in = signalled.elapsed();
    let log = read_log(&server.log);
    assert!(status.success(), "{status:?}\n{log}");
    assert!(log.contains("worker stopped"), "{log}");
    assert!(log.contains("embedded PostgreSQL stopped"), "{log}");

    let report = load.await.expect("storm");
    // After the signal, new connections are refused (status 1, not a hang) until exit.
    assert_eq!(report.by_status.get(&0), None, "{report:?}");
    for status in report.by_status.keys() {
        assert!(matches!(status, 1 | 200 | 503), "{report:?}");
    }

    // Restarting needs no recovery: the cluster was shut down, not left crashed.
    let mut again = serve.start("again.log").await;
    let server_log = read_log(&data_dir.join("postgres/server.log"));
    let last_start = server_log
        .rsplit("starting PostgreSQL")
        .next()
        .unwrap_or_default();
    assert!(
        last_start.contains("database system was shut down at")
            && !last_start.contains("automatic recovery in progress"),
        "{last_start}"
    );
    let mut connection = connect_embedded(&data_dir).await;
    let stored = assert_stored_once(&mut connection, &report).await;
    println!(
        "FIGURES shutdown: {report:?}, stored {stored}, exited {stopped_in:?} after SIGTERM (a request held 0.7 s finished first), websocket closed 1001, restart without recovery"
    );
    again.stop(Duration::from_secs(30)).await;
}
