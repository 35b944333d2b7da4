//! A worker run costs what changed, not what exists: with nothing changed it runs the same
//! few statements at any site size and renders nothing, a change rebuilds only the feeds
//! and channel texts it touches, and a post's comment feed is built when first asked for.
//! Counted by PostgreSQL and by the worker's report, never timed. And the API answers
//! while the worker renders.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use chrono::TimeDelta;
use gazette_store::synthetic::{self, SyntheticSite};
use gazette_worker::{BeforeRender, RunReport, Worker, WorkerConfig};
use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestApp, settings};

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
        // The counts below are of every post and comment.
        hold_back_every: 0,
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
    // A generated site is no news: nothing for webhooks (docs/webhooks.md).
    assert_eq!(app.count("select count(*) from outbox_events").await, 0);
    let config = worker_config(&app);
    gazette_worker::run_all(&app.pool, &config)
        .await
        .expect("first run");
    assert!(stored_feeds(&app, "tags/%").await > 0);
    app.database.statements_since_last_count().await;
    let report = gazette_worker::run_all(&app.pool, &config)
        .await
        .expect("idle run");
    // Nothing changed: no text is looked at, let alone rendered (measured).
    assert!(!report.social.looked, "{report:?}");
    assert_eq!(
        report.social.summaries_rendered + report.social.digests_rendered,
        0
    );
    let statements = app.database.statements_since_last_count().await;
    app.stop().await;
    statements
}

#[tokio::test]
async fn a_run_with_nothing_changed_does_not_grow_with_the_site() {
    let small = idle_run_statements(20).await;
    let large = idle_run_statements(300).await;
    assert_eq!(small, large, "statements of an idle run, 20 vs 300 posts");
    // Publishing the (no) due scheduled posts, claiming the (no) changes of the feeds and
    // of the channel texts, and reading the settings each was built with.
    assert!(small <= 10, "an idle run ran {small} statements");
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

/// A synthetic site with a channel of every kind, and a worker configuration whose one
/// digest period holds every post: periods are aligned on the Unix epoch, and a 100-year
/// one runs from 1970 to 2069.
async fn site_with_channels(posts: u32) -> (TestApp, WorkerConfig, usize) {
    let app = TestApp::spawn_api_only().await;
    synthetic::generate(&app.pool, &site(posts))
        .await
        .expect("synthetic site");
    execute(
        &app,
        "insert into social_channels (slug, kind, name, url, position) \
         select kind, kind, initcap(kind), 'https://' || kind || '.example/gazette', n \
         from unnest(array['facebook', 'twitter', 'youtube', 'flickr', 'blog', 'rss', 'podcast', \
                           'mastodon', 'linkedin', 'other']) with ordinality as k(kind, n)",
    )
    .await;
    let mut config = worker_config(&app);
    config.digest_period = TimeDelta::days(36_500);
    (app, config, 10)
}

async fn run(app: &TestApp, config: &WorkerConfig) -> RunReport {
    gazette_worker::run_all(&app.pool, config)
        .await
        .expect("a worker run")
}

fn rendered(report: &RunReport) -> (usize, usize) {
    (
        report.social.summaries_rendered,
        report.social.digests_rendered,
    )
}

async fn execute(app: &TestApp, statement: &'static str) {
    sqlx::query(statement)
        .execute(&app.pool)
        .await
        .unwrap_or_else(|error| panic!("{statement}: {error}"));
}

#[tokio::test]
async fn a_change_renders_only_the_channel_texts_it_touches() {
    let (app, config, channels) = site_with_channels(150).await;
    let summary_posts = usize::try_from(config.summary_posts).expect("a count");

    let first = run(&app, &config).await;
    assert_eq!(rendered(&first), (channels * summary_posts, channels));
    let idle = run(&app, &config).await;
    assert!(!idle.social.looked, "{idle:?}");
    assert_eq!(rendered(&idle), (0, 0));

    // A comment on an old post: the digests count it; no summary shows comments.
    execute(
        &app,
        "insert into comments (post_id, author_name, body, body_html) \
         select id, 'Reader', 'Late to this.', '<p>Late to this.</p>' from posts where slug = 'post-140'",
    )
    .await;
    assert_eq!(rendered(&run(&app, &config).await), (0, channels));

    // The newest post's title: its summary on every channel, and every digest.
    execute(
        &app,
        "update posts set title = title || ' (updated)' where id = \
         (select id from posts where status = 'published' \
          order by coalesce(published_at, created_at) desc, id desc limit 1)",
    )
    .await;
    assert_eq!(rendered(&run(&app, &config).await), (channels, channels));

    // One channel's template: that channel's summaries only (digests take no template).
    execute(
        &app,
        "update social_channels set template = '{title} {link}' where id = \
         (select id from social_channels where enabled order by position, id limit 1)",
    )
    .await;
    assert_eq!(rendered(&run(&app, &config).await), (summary_posts, 0));
    // An empty template (an empty text) is not the kind's default (no template).
    for template in [Some(""), None] {
        sqlx::query(
            "update social_channels set template = $1 where id = \
             (select id from social_channels where enabled order by position, id limit 1)",
        )
        .bind(template)
        .execute(&app.pool)
        .await
        .expect("template");
        assert_eq!(rendered(&run(&app, &config).await), (summary_posts, 0));
    }

    // An edit that changes nothing a text shows (the body of an old post) renders nothing,
    // though the run looks.
    execute(
        &app,
        "update posts set body = body || ' More.' where slug = 'post-120'",
    )
    .await;
    let unseen = run(&app, &config).await;
    assert!(unseen.social.looked);
    assert_eq!(rendered(&unseen), (0, 0));
    app.stop().await;
}

#[tokio::test]
async fn new_settings_or_a_new_period_render_again() {
    let (app, config, channels) = site_with_channels(20).await;
    let summary_posts = usize::try_from(config.summary_posts).expect("a count");
    run(&app, &config).await;
    // The site's title shows in digests only; its address in every link.
    let mut renamed = config.clone();
    renamed.feeds.site.title = "The Renamed Gazette".to_owned();
    assert_eq!(rendered(&run(&app, &renamed).await), (0, channels));
    let mut moved = renamed.clone();
    moved.feeds.site.public_url = "https://news.example.gov".to_owned();
    assert_eq!(
        rendered(&run(&app, &moved).await),
        (channels * summary_posts, channels)
    );
    assert_eq!(rendered(&run(&app, &moved).await), (0, 0));
    // A new period (here: today's) needs new digests; the summaries stay.
    let mut daily = moved.clone();
    daily.digest_period = TimeDelta::days(1);
    assert_eq!(rendered(&run(&app, &daily).await), (0, channels));
    assert_eq!(rendered(&run(&app, &daily).await), (0, 0));
    app.stop().await;
}

/// What the rendering hook saw: whether the test released it (rather than it giving up).
struct Held {
    entered: Mutex<mpsc::Receiver<()>>,
    release: mpsc::Sender<()>,
    released_by_the_test: Arc<AtomicBool>,
}

/// A hook that holds the run that reaches it until the test releases it (or 30 s pass).
fn hold_rendering() -> (BeforeRender, Held) {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let released = Arc::new(AtomicBool::new(false));
    let released_by_the_test = released.clone();
    let hook = BeforeRender::new(move || {
        let _ = entered_tx.send(());
        let Ok(release) = release_rx.lock() else {
            return;
        };
        if release.recv_timeout(Duration::from_secs(30)).is_ok() {
            released.store(true, Ordering::SeqCst);
        }
    });
    let held = Held {
        entered: Mutex::new(entered_rx),
        release: release_tx,
        released_by_the_test,
    };
    (hook, held)
}

/// One runtime thread, shared by the API and the worker as in `gazette serve`: were the
/// texts rendered on it, holding the rendering would hold every request too.
#[tokio::test(flavor = "current_thread")]
async fn the_api_answers_while_the_worker_renders() {
    let (app, mut config, _) = site_with_channels(40).await;
    let (hook, held) = hold_rendering();
    config.before_render = hook;
    // The worker's start-up run renders every text, and stops in the hook.
    let worker = Worker::start(app.pool.clone(), config)
        .await
        .expect("the worker starts");
    let mut entered = false;
    for _ in 0..300 {
        if held.entered.lock().expect("lock").try_recv().is_ok() {
            entered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(entered, "the worker's run never reached its rendering");

    // Rendering is held: the API still answers, reads and writes.
    for _ in 0..3 {
        assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    }
    let front_page = app
        .graphql("{ posts(first: 5) { nodes { title } } }", json!({}))
        .await;
    assert_eq!(
        front_page["data"]["posts"]["nodes"]
            .as_array()
            .map(Vec::len),
        Some(5),
        "{front_page}"
    );
    assert_eq!(app.get("/feed.xml").await.status(), StatusCode::OK);
    let summaries: i64 = sqlx::query_scalar("select count(*) from channel_summaries")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(summaries, 0, "the run has not written its texts yet");

    held.release.send(()).expect("release the rendering");
    let written = crate::support::eventually(100, || async {
        let summaries: i64 = sqlx::query_scalar("select count(*) from channel_summaries")
            .fetch_one(&app.pool)
            .await
            .expect("count");
        (summaries > 0).then_some(summaries)
    })
    .await;
    assert!(written.is_some(), "the released run wrote its texts");
    assert!(
        held.released_by_the_test.load(Ordering::SeqCst),
        "the rendering waited for the test, not for its own time-out"
    );
    worker.shutdown().await.expect("the worker stops");
    app.stop().await;
}
