//! Scenario 3: a worker killed while it writes.

use gazette_store::tokens::Role;
use serde_json::json;

use crate::support::{
    TestApp, command, connect_to, eventually, gazette, hold_in_transaction,
    sessions_waiting_on_locks,
};

/// The channel texts that mention the post published between the two runs.
const FRESH_TEXTS: &str = "select count(*) from channel_summaries where body like '%Fresh news%'";

/// Scenario 3: a worker killed (SIGKILL) in the middle of writing the channel texts. Its
/// transaction dies with it: no channel shows texts of the new run while another shows the
/// old one, and the next run completes.
#[tokio::test]
async fn a_worker_killed_while_writing_channel_texts_leaves_no_mixture() {
    let app = TestApp::spawn_api_only().await;
    let env = [("DATABASE_URL", app.database.url())];
    sqlx::query("insert into social_channels (slug, kind, name, url, position) values ('first', 'twitter', 'First', 'https://x.example/first', 1), ('second', 'mastodon', 'Second', 'https://m.example/@second', 2)")
        .execute(&app.pool)
        .await
        .expect("channels");
    let writer = app.token("Writer", Role::Author).await;
    app.create_post(
        &writer,
        json!({ "title": "Old news", "status": "PUBLISHED" }),
    )
    .await;
    assert!(gazette(&["worker", "--once"], &env).await.status.success());

    // The next run will write the first channel's texts, then wait on the second's.
    app.create_post(
        &writer,
        json!({ "title": "Fresh news", "status": "PUBLISHED" }),
    )
    .await;
    let mut holder = connect_to(&app.database).await;
    hold_in_transaction(&mut holder, "select 1 from channel_summaries s join social_channels c on c.id = s.channel_id where c.slug = 'second' for update").await;
    let mut worker = command(&["worker"], &env).spawn().expect("start a worker");
    let waited = eventually(200, || async {
        (sessions_waiting_on_locks(&app.pool).await > 0).then_some(())
    })
    .await;
    assert!(waited.is_some(), "the worker reached the second channel");
    worker.start_kill().expect("SIGKILL");
    worker.wait().await.expect("reaped");
    sqlx::query("rollback")
        .execute(&mut holder)
        .await
        .expect("release");

    assert_eq!(
        app.count(FRESH_TEXTS).await,
        0,
        "the killed run left nothing behind"
    );
    let documents: Vec<String> =
        sqlx::query_scalar("select body from generated_feeds where key like 'syndication/%'")
            .fetch_all(&app.pool)
            .await
            .expect("documents");
    assert!(!documents.is_empty());
    assert!(documents.iter().all(|body| !body.contains("Fresh news")));

    assert!(gazette(&["worker", "--once"], &env).await.status.success());
    assert_eq!(
        app.count(FRESH_TEXTS).await,
        2,
        "the next run wrote both channels"
    );
    app.stop().await;
}
