//! Scenario 1: a comment storm on one in-process server.

use super::storm::{STORM_SERVER, assert_stored_once, storm, storm_size};
use crate::support::{TestApp, connect_to, demo_post_id};

/// Scenario 1: a comment storm. Every acknowledged comment is stored exactly once; retries
/// with a `clientMutationId` add nothing; the only failures are documented back-pressure.
#[tokio::test]
async fn a_comment_storm_loses_and_doubles_nothing() {
    let app = TestApp::spawn_with(true, true, &STORM_SERVER).await;
    let post = demo_post_id(&app.base_url).await;
    let (clients, duration) = storm_size();
    let report = storm(vec![app.url("")], post, clients, duration).await;
    report.assert_only_documented_failures();
    let mut connection = connect_to(&app.database).await;
    let stored = assert_stored_once(&mut connection, &report).await;
    println!(
        "FIGURES storm: clients {clients}, {duration:?}, requests {}, statuses {:?}, codes {:?}, retries {}, acknowledged {}, stored {stored}, slowest {:?}",
        report.requests,
        report.by_status,
        report.by_code,
        report.retries,
        report.acknowledged.len(),
        report.slowest
    );
    assert!(
        report.acknowledged.len() > clients,
        "the storm posted comments"
    );
    app.stop().await;
}
