//! A worker run costs what changed, not what exists: with nothing changed it runs the same
//! few statements at any site size, a change rebuilds only the feeds it touches, and a
//! post's comment feed is built when first asked for. Counted by PostgreSQL, never timed.

use gazette_store::synthetic::{self, SyntheticSite};
use gazette_worker::WorkerConfig;
use reqwest::StatusCode;

use crate::helpers::{TestApp, settings};

/// The worker settings of `app`'s own site, as `gazette serve` would pass them.
fn worker_config(app: &TestApp) -> WorkerConfig {
    let address = app
        .base_url
        .trim_start_matches("http://")
        .parse()
        .expect("the app's address");
    let settings = settings(&[]);
    settings.worker(settings.site(address))
}

fn site(posts: u32) -> SyntheticSite {
    SyntheticSite {
        posts,
        comments_per_post: 3,
        big_thread_chains: 5,
        big_thread_depth: 3,
        ..SyntheticSite::default()
    }
}

async fn stored_feeds(app: &TestApp, pattern: &str) -> i64 {
    sqlx::query_scalar("select count(*) from generated_feeds where key like $1")
        .bind(pattern)
        .fetch_one(&app.pool)
        .await
        .expect("count feeds")
}

/// Statements of a worker run after a first, full one.
async fn idle_run_statements(posts: u32) -> i64 {
    let app = TestApp::spawn_api_only().await;
    synthetic::generate(&app.pool, &site(posts))
        .await
        .expect("synthetic site");
    let config = worker_config(&app);
    gazette_worker::run_all(&app.pool, &config)
        .await
        .expect("first run");
    assert!(stored_feeds(&app, "tags/%").await > 0);
    app.database.statements_since_last_count().await;
    gazette_worker::run_all(&app.pool, &config)
        .await
        .expect("idle run");
    let statements = app.database.statements_since_last_count().await;
    app.stop().await;
    statements
}

#[tokio::test]
async fn a_run_with_nothing_changed_does_not_grow_with_the_site() {
    let small = idle_run_statements(20).await;
    let large = idle_run_statements(300).await;
    assert_eq!(small, large, "statements of an idle run, 20 vs 300 posts");
    // Publishing the (no) due scheduled posts, claiming the (no) changes and the channel
    // texts' few reads; no feed is rebuilt.
    assert!(small <= 13, "an idle run ran {small} statements");
}

#[tokio::test]
async fn comment_feeds_are_built_on_first_request_and_kept_current() {
    let app = TestApp::spawn_api_only().await;
    synthetic::generate(&app.pool, &site(30))
        .await
        .expect("synthetic site");
    let config = worker_config(&app);
    gazette_worker::run_all(&app.pool, &config)
        .await
        .expect("full run");
    // Site and tag feeds exist; no post's comment feed was built ahead of demand.
    assert_eq!(stored_feeds(&app, "feed.xml").await, 1);
    assert_eq!(stored_feeds(&app, "posts/%").await, 0);

    let response = app.get("/posts/post-3/comments/feed.xml").await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.expect("body");
    assert_eq!(body.matches("<item>").count(), 3, "{body}");
    assert_eq!(stored_feeds(&app, "posts/%").await, 1);
    assert_eq!(
        app.get("/posts/no-such-post/comments/feed.xml")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(stored_feeds(&app, "posts/%").await, 1);

    // A new comment on post-3 reaches its feed on the next run, and only the feeds it
    // touches are rebuilt.
    sqlx::query(
        "insert into comments (post_id, author_name, body, body_html) \
         select id, 'Latecomer', 'late', '<p>late</p>' from posts where slug = 'post-3'",
    )
    .execute(&app.pool)
    .await
    .expect("comment");
    let before: Vec<(String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("select key, generated_at from generated_feeds order by key")
            .fetch_all(&app.pool)
            .await
            .expect("feeds");
    gazette_worker::run_all(&app.pool, &config)
        .await
        .expect("change run");
    let after: Vec<(String, chrono::DateTime<chrono::Utc>)> =
        sqlx::query_as("select key, generated_at from generated_feeds order by key")
            .fetch_all(&app.pool)
            .await
            .expect("feeds");
    let changed: Vec<&str> = after
        .iter()
        .filter(|feed| !before.contains(feed))
        .map(|(key, _)| key.as_str())
        .collect();
    let tags: Vec<String> = sqlx::query_scalar(
        "select 'tags/' || t.slug || '/feed.xml' from tags t join post_tags pt on pt.tag_id = t.id \
         join posts p on p.id = pt.post_id where p.slug = 'post-3' order by 1",
    )
    .fetch_all(&app.pool)
    .await
    .expect("tags");
    let mut expected: Vec<&str> = vec![
        "comments/feed.atom",
        "comments/feed.json",
        "comments/feed.xml",
        "feed.atom",
        "feed.json",
        "feed.xml",
        "posts/post-3/comments/feed.xml",
    ];
    expected.extend(tags.iter().map(String::as_str));
    assert!(
        changed.iter().all(|key| expected.contains(key)),
        "rebuilt {changed:?}, beyond what the comment touches ({expected:?})"
    );
    for must in [
        "posts/post-3/comments/feed.xml",
        "comments/feed.xml",
        "feed.xml",
    ] {
        assert!(
            changed.contains(&must),
            "{must} was not rebuilt: {changed:?}"
        );
    }
    let pending: i64 = sqlx::query_scalar("select count(*) from feed_changes")
        .fetch_one(&app.pool)
        .await
        .expect("pending");
    assert_eq!(pending, 0, "the run acknowledged what it handled");
    app.stop().await;
}
