//! Feeds, parsed with a real feed parser (feed-rs): content, order, links, escaping, the
//! change trigger, conditional GET, worker exclusion, a killed worker, WebSub.

use std::sync::{Arc, Mutex};

use axum::routing::post;
use gazette_store::tokens::Role;
use reqwest::StatusCode;
use reqwest::header;
use serde_json::json;
use sqlx::Connection;

use crate::support::{
    TestApp, add_comment, command, eventually, gazette, hold_feed_lock, published_post, settings,
};

const DEMO_SLUG: &str = "the-implementation-of-enterprise-2-0-by-government-departments";

/// The body of the feed at `path` once it satisfies `ready` (the worker runs within seconds
/// of a change; polled for at most ten seconds).
async fn feed_when(app: &TestApp, path: &str, ready: impl Fn(&str) -> bool) -> String {
    eventually(100, || async {
        let response = app.get(path).await;
        if response.status() != StatusCode::OK {
            return None;
        }
        let body = response.text().await.ok()?;
        ready(&body).then_some(body)
    })
    .await
    .unwrap_or_else(|| panic!("{path} never became ready"))
}

fn parse(xml: &str) -> feed_rs::model::Feed {
    feed_rs::parser::parse(xml.as_bytes()).unwrap_or_else(|error| panic!("{error}: {xml}"))
}

fn titles(feed: &feed_rs::model::Feed) -> Vec<String> {
    feed.entries
        .iter()
        .map(|entry| {
            entry
                .title
                .as_ref()
                .map(|title| title.content.clone())
                .unwrap_or_default()
        })
        .collect()
}

#[tokio::test]
async fn the_demo_post_reads_as_a_reader_expects() {
    let app = TestApp::spawn_seeded().await;
    let xml = feed_when(&app, "/feed.xml", |body| body.contains("<item>")).await;
    let post_url = app.url(&format!("/posts/{DEMO_SLUG}"));
    for expected in [
        "<title>Gazette</title>".to_owned(),
        format!("<link>{}/</link>", app.base_url),
        "<language>en</language>".to_owned(),
        "<ttl>5</ttl>".to_owned(),
        "<generator>Gazette".to_owned(),
        "<lastBuildDate>".to_owned(),
        format!(
            r#"<atom:link href="{}" rel="self" type="application/rss+xml"/>"#,
            app.url("/feed.xml")
        ),
        "<title>The implementation of Enterprise 2.0 by government departments</title>".to_owned(),
        format!("<link>{post_url}</link>"),
        r#"<guid isPermaLink="false">tag:127.0.0.1,2013-08-22:post-"#.to_owned(),
        "<pubDate>Thu, 22 Aug 2013 12:00:00 +0000</pubDate>".to_owned(),
        "<dc:creator>Government Blogger</dc:creator>".to_owned(),
        "<category>Enterprise 2.0</category>".to_owned(),
        format!("<comments>{post_url}#comments</comments>"),
        format!("<wfw:commentRss>{post_url}/comments/feed.xml</wfw:commentRss>"),
        "<slash:comments>2</slash:comments>".to_owned(),
        "<content:encoded><![CDATA[<p>As a government department employee".to_owned(),
        "<description><![CDATA[As a government department employee".to_owned(),
    ] {
        assert!(xml.contains(&expected), "missing {expected}\n{xml}");
    }
    let feed = parse(&xml);
    let entry = &feed.entries[0];
    let content = entry
        .content
        .as_ref()
        .and_then(|c| c.body.clone())
        .expect("content");
    assert!(
        content
            .contains(r#"<a href="http://australia.gov.au/news-and-media/social-media/facebook""#),
        "{content}"
    );

    let comments = parse(
        &feed_when(
            &app,
            &format!("/posts/{DEMO_SLUG}/comments/feed.xml"),
            |b| b.contains("<item>"),
        )
        .await,
    );
    assert_eq!(
        titles(&comments),
        ["By: Government Blogger", "By: Anonymous"],
        "newest first"
    );
    assert!(
        comments.entries[1].links[0]
            .href
            .starts_with(&format!("{post_url}#comment-"))
    );
    app.stop().await;
}

#[tokio::test]
async fn every_feed_parses_with_absolute_links_and_escaped_text() {
    let app = TestApp::spawn_with(false, true, &["--comment-rate-limit", "0"]).await;
    let token = app.token("Writer", Role::Author).await;
    let hostile = "<script>alert(\"x\")</script> & Tom's \u{7} \"quotes\"";
    for (day, title, tags) in [
        (1, "Oldest", vec!["news"]),
        (2, hostile, vec!["news", "Security"]),
        (3, "Newest", vec![]),
    ] {
        app.create_post(
            &token,
            json!({
                "title": title,
                "body": "Read [the guide](/guide) and ![a map](maps/1.png).",
                "tags": tags,
                "status": "PUBLISHED",
                "publishedAt": format!("2024-05-0{day}T08:00:00Z"),
            }),
        )
        .await;
    }
    let rss = parse(
        &feed_when(&app, "/feed.xml", |body| {
            body.matches("<item>").count() == 3
        })
        .await,
    );
    assert_eq!(
        titles(&rss),
        [
            "Newest",
            "<script>alert(\"x\")</script> & Tom's  \"quotes\"",
            "Oldest"
        ]
    );
    // Each feed is stored on its own: the Atom one may follow the RSS one by a moment.
    let atom = parse(
        &feed_when(&app, "/feed.atom", |body| {
            body.matches("<entry>").count() == 3
        })
        .await,
    );
    let atom_type = app.get("/feed.atom").await.headers()[header::CONTENT_TYPE].clone();
    assert_eq!(atom_type, "application/atom+xml; charset=utf-8");
    assert_eq!(atom.feed_type, feed_rs::model::FeedType::Atom);
    assert_eq!(titles(&atom), titles(&rss));
    assert_eq!(
        atom.entries[1].id, rss.entries[1].id,
        "the same permanent id in both formats"
    );

    let news = parse(
        &feed_when(&app, "/tags/news/feed.xml", |body| {
            body.matches("<item>").count() == 2
        })
        .await,
    );
    assert_eq!(titles(&news).len(), 2);
    assert_eq!(
        news.entries[0]
            .categories
            .iter()
            .map(|c| c.term.as_str())
            .collect::<Vec<_>>(),
        ["news", "Security"]
    );

    for feed in [&rss, &atom, &news] {
        for entry in &feed.entries {
            for link in &entry.links {
                assert!(link.href.starts_with(&app.base_url), "{}", link.href);
            }
            let content = entry
                .content
                .as_ref()
                .and_then(|c| c.body.clone())
                .unwrap_or_default();
            assert!(
                content.contains(&format!(r#"href="{}/guide""#, app.base_url)),
                "{content}"
            );
            assert!(
                content.contains(&format!(r#"src="{}/posts/maps/1.png""#, app.base_url)),
                "{content}"
            );
        }
    }

    // Comments, site-wide and per post.
    let post = rss.entries[0].links[0]
        .href
        .rsplit('/')
        .next()
        .expect("slug")
        .to_owned();
    let post_id = app.post_id(&post).await;
    for body in ["First!", "<b>bold</b> & <script>x</script>"] {
        let response = add_comment(
            &app,
            None,
            json!({ "postId": post_id, "authorName": "Ann <admin>", "body": body }),
        )
        .await;
        assert!(response.get("errors").is_none(), "{response}");
    }
    let site_comments = parse(
        &feed_when(&app, "/comments/feed.xml", |b| {
            b.matches("<item>").count() == 2
        })
        .await,
    );
    assert_eq!(
        titles(&site_comments)[0],
        "Comment on Newest by Ann <admin>"
    );
    let content = site_comments.entries[0]
        .content
        .as_ref()
        .and_then(|c| c.body.clone())
        .expect("content");
    assert!(!content.contains("<script"), "{content}");
    let atom_comments = parse(
        &feed_when(&app, "/comments/feed.atom", |b| {
            b.matches("<entry>").count() == 2
        })
        .await,
    );
    assert_eq!(atom_comments.entries.len(), 2);
    let post_comments = parse(
        &feed_when(&app, &format!("/posts/{post}/comments/feed.xml"), |b| {
            b.matches("<item>").count() == 2
        })
        .await,
    );
    assert_eq!(
        titles(&post_comments),
        ["By: Ann <admin>", "By: Ann <admin>"]
    );

    let listed = app
        .graphql("{ feeds { url format itemCount generatedAt } }", json!({}))
        .await;
    let feeds = listed["data"]["feeds"].as_array().expect("feeds");
    let site = feeds
        .iter()
        .find(|feed| feed["url"] == app.url("/feed.xml"))
        .expect("the site feed is listed");
    assert_eq!(site["format"], "RSS");
    assert_eq!(site["itemCount"], 3);
    assert!(
        feeds
            .iter()
            .any(|feed| feed["url"] == app.url("/feed.atom") && feed["format"] == "ATOM")
    );
    assert!(
        feeds
            .iter()
            .any(|feed| feed["url"] == app.url("/tags/security/feed.xml"))
    );
    app.stop().await;
}

#[tokio::test]
async fn changes_reach_the_feeds_without_waiting_for_the_schedule() {
    // The schedule would run next year: only the change trigger can update the feeds.
    let app = TestApp::spawn_with(false, true, &["--schedule", "0 0 0 1 1 *"]).await;
    let token = app.token("Writer", Role::Author).await;
    feed_when(&app, "/feed.xml", |body| body.contains("<channel>")).await;
    let post = app
        .create_post(&token, json!({ "title": "Breaking", "tags": ["urgent"] }))
        .await;
    assert!(
        !app.get("/feed.xml")
            .await
            .text()
            .await
            .expect("body")
            .contains("Breaking"),
        "drafts stay out"
    );
    app.graphql_as(
        Some(&token),
        "mutation($id: ID!) { publishPost(input: {id: $id}) { post { id } } }",
        json!({ "id": post["id"] }),
    )
    .await;
    feed_when(&app, "/feed.xml", |body| {
        body.contains("<title>Breaking</title>")
    })
    .await;
    feed_when(&app, "/tags/urgent/feed.xml", |body| {
        body.contains("<title>Breaking</title>")
    })
    .await;
    feed_when(&app, "/posts/breaking/comments/feed.xml", |body| {
        body.contains("<channel>")
    })
    .await;

    app.graphql_as(Some(&token), "mutation($id: ID!) { updatePost(input: {id: $id, title: \"Breaking, updated\"}) { post { id } } }", json!({ "id": post["id"] }))
        .await;
    feed_when(&app, "/feed.xml", |body| {
        body.contains("<title>Breaking, updated</title>")
    })
    .await;

    app.graphql_as(
        Some(&token),
        "mutation($id: ID!) { unpublishPost(input: {id: $id}) { post { id } } }",
        json!({ "id": post["id"] }),
    )
    .await;
    feed_when(&app, "/feed.xml", |body| !body.contains("Breaking")).await;
    let gone = eventually(100, || async {
        let status = app.get("/posts/breaking/comments/feed.xml").await.status();
        (status == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    assert!(
        gone.is_some(),
        "an unpublished post's comment feed goes away"
    );
    assert_eq!(
        app.get("/tags/urgent/feed.xml").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/tags/no-such-tag/feed.xml").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/posts/Not%20A%20Slug/comments/feed.xml")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

/// Waits until some session waits for an advisory lock (a worker blocked on a feed).
async fn a_worker_waits_for_a_feed(app: &TestApp) {
    let waiting = eventually(100, || async {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from pg_locks where locktype = 'advisory' and not granted",
        )
        .fetch_one(&app.pool)
        .await
        .expect("pg_locks");
        (waiting > 0).then_some(())
    })
    .await;
    assert!(waiting.is_some(), "no worker ever waited for the feed");
}

#[tokio::test]
async fn two_workers_never_build_the_same_feed_at_once() {
    let app = TestApp::spawn_api_only().await;
    let token = app.token("Writer", Role::Author).await;
    app.create_post(&token, json!({ "title": "One", "status": "PUBLISHED" }))
        .await;
    let worker_config = settings(&["--database-url", app.database.url()])
        .worker(settings(&[]).site("127.0.0.1:8080".parse().expect("address")));

    let lock = hold_feed_lock(&app.database, "feed.xml").await;
    let first = tokio::spawn({
        let (pool, config) = (app.pool.clone(), worker_config.clone());
        async move { gazette_worker::run_all(&pool, &config).await }
    });
    let second = tokio::spawn({
        let (pool, config) = (app.pool.clone(), worker_config.clone());
        async move { gazette_worker::run_all(&pool, &config).await }
    });
    a_worker_waits_for_a_feed(&app).await;
    assert!(
        !first.is_finished() && !second.is_finished(),
        "both wait while the feed is being built"
    );
    assert!(
        gazette_store::feeds::find(&app.pool, "feed.xml")
            .await
            .expect("read")
            .is_none()
    );
    lock.close().await.expect("release");
    first.await.expect("joined").expect("first run");
    second.await.expect("joined").expect("second run");
    let feed = gazette_store::feeds::find(&app.pool, "feed.xml")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(titles(&parse(&feed.body)), ["One"]);
    app.stop().await;
}

#[tokio::test]
async fn a_killed_worker_leaves_the_last_feed_intact() {
    let app = TestApp::spawn_api_only().await;
    let token = app.token("Writer", Role::Author).await;
    app.create_post(&token, json!({ "title": "Before", "status": "PUBLISHED" }))
        .await;
    let mut worker = command(&["worker"], &[("DATABASE_URL", app.database.url())])
        .spawn()
        .expect("start gazette worker");
    let first = eventually(200, || async {
        gazette_store::feeds::find(&app.pool, "feed.xml")
            .await
            .expect("read")
    })
    .await
    .expect("the worker builds the feed");

    // A change sets the worker building again; it stalls on the feed we hold, and dies there.
    let lock = hold_feed_lock(&app.database, "feed.xml").await;
    app.create_post(&token, json!({ "title": "After", "status": "PUBLISHED" }))
        .await;
    a_worker_waits_for_a_feed(&app).await;
    worker.start_kill().expect("kill -9");
    worker.wait().await.expect("reaped");
    lock.close().await.expect("release");

    let kept = gazette_store::feeds::find(&app.pool, "feed.xml")
        .await
        .expect("read")
        .expect("still there");
    assert_eq!(kept, first, "the killed run changed nothing");
    assert_eq!(titles(&parse(&kept.body)), ["Before"]);
    let once = gazette(
        &["worker", "--once"],
        &[("DATABASE_URL", app.database.url())],
    )
    .await;
    assert!(once.status.success(), "{once:?}");
    let rebuilt = gazette_store::feeds::find(&app.pool, "feed.xml")
        .await
        .expect("read")
        .expect("stored");
    assert_eq!(titles(&parse(&rebuilt.body)), ["After", "Before"]);
    app.stop().await;
}

#[tokio::test]
async fn changed_feeds_are_announced_to_the_websub_hub() {
    // A stub hub that refuses each announcement the first time, to see the retries.
    let received: Arc<Mutex<Vec<String>>> = Arc::default();
    let hub = axum::Router::new().route(
        "/hub",
        post({
            let received = received.clone();
            move |body: String| {
                let received = received.clone();
                async move {
                    let mut received = received.lock().expect("lock");
                    let first_time = !received.contains(&body);
                    received.push(body);
                    if first_time {
                        StatusCode::SERVICE_UNAVAILABLE
                    } else {
                        StatusCode::NO_CONTENT
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hub_url = format!("http://{}/hub", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, hub).await });

    let app = TestApp::spawn_with(false, true, &["--websub-hub", &hub_url]).await;
    let xml = feed_when(&app, "/feed.xml", |body| body.contains("<channel>")).await;
    assert!(
        xml.contains(&format!(r#"<atom:link href="{hub_url}" rel="hub"/>"#)),
        "{xml}"
    );
    let atom = app.get("/feed.atom").await.text().await.expect("body");
    assert!(
        atom.contains(&format!(r#"href="{hub_url}""#)) && atom.contains(r#"rel="hub""#),
        "{atom}"
    );

    let feed_url = app.url("/feed.xml");
    let expected = format!("hub.mode=publish&hub.url={}", urlencode(&feed_url));
    let announcements = |at_least: usize| {
        let received = received.clone();
        let expected = expected.clone();
        async move {
            let seen = eventually(100, || {
                let received = received.clone();
                let expected = expected.clone();
                async move {
                    let received = received.lock().expect("lock");
                    (received.iter().filter(|body| **body == expected).count() >= at_least)
                        .then_some(())
                }
            })
            .await;
            let heard = received.lock().expect("lock").clone();
            assert!(
                seen.is_some(),
                "the hub heard {heard:?}, not {expected} {at_least} times"
            );
        }
    };
    // The first build is announced, refused, and retried.
    announcements(2).await;
    let token = app.token("Writer", Role::Author).await;
    app.create_post(&token, json!({ "title": "Push me", "status": "PUBLISHED" }))
        .await;
    // A change is announced again.
    announcements(3).await;
    app.stop().await;
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (byte as char).to_string()
            }
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn feeds_are_served_from_memory() {
    // A yearly schedule: no scheduled run may touch the database during the count.
    let app = TestApp::spawn_with(true, true, &["--schedule", "0 0 0 1 1 *"]).await;
    feed_when(&app, "/feed.xml", |body| body.contains("<item>")).await;
    // The channel documents are the start-up run's last writes: the worker is idle after.
    feed_when(&app, "/syndication/twitter.json", |body| {
        body.contains("digest")
    })
    .await;
    assert_eq!(app.get("/feed.xml").await.status(), StatusCode::OK);
    app.database.statements_since_last_count().await;
    for _ in 0..20 {
        assert_eq!(app.get("/feed.xml").await.status(), StatusCode::OK);
    }
    // Only the worker may have touched the database meanwhile (its change follower is idle).
    assert_eq!(
        app.database.statements_since_last_count().await,
        0,
        "twenty feed requests, no statements"
    );
    app.stop().await;
}

#[tokio::test]
async fn the_last_good_copy_is_served_while_the_database_is_down() {
    // Re-check on every request: the database is asked each time, and is down.
    let app = TestApp::spawn_with(true, true, &["--feed-recheck-seconds", "0"]).await;
    let first = feed_when(&app, "/feed.xml", |body| body.contains("<item>")).await;
    let etag = app.get("/feed.xml").await.headers()[header::ETAG].clone();

    let mut admin =
        sqlx::PgConnection::connect_with(&app.database.options().clone().database("postgres"))
            .await
            .expect("connect as admin");
    let name = app.database.name().to_owned();
    let set_connections = |allowed: bool| {
        sqlx::AssertSqlSafe(format!(
            r#"alter database "{name}" with allow_connections {allowed}"#
        ))
    };
    sqlx::query(set_connections(false))
        .execute(&mut admin)
        .await
        .expect("close the database");
    sqlx::query("select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()")
        .bind(&name)
        .execute(&mut admin)
        .await
        .expect("cut its connections");

    let during = app.get("/feed.xml").await;
    assert_eq!(
        during.status(),
        StatusCode::OK,
        "the cached feed survives the outage"
    );
    assert_eq!(during.headers()[header::ETAG], etag);
    assert_eq!(during.text().await.expect("body"), first);
    let never_cached = app.get("/comments/feed.xml").await;
    assert_eq!(never_cached.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(never_cached.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    sqlx::query(set_connections(true))
        .execute(&mut admin)
        .await
        .expect("reopen the database");
    admin.close().await.expect("close");
    app.stop().await;
}

/// A feed is gzipped once per version, not per request: a client that accepts gzip gets
/// the stored gzip variant with its own strong ETag, which revalidates like the plain one.
#[tokio::test]
async fn feeds_come_gzipped_with_an_etag_per_encoding() {
    let app = TestApp::spawn_seeded().await;
    let plain = feed_when(&app, "/feed.xml", |body| body.contains("<item>")).await;
    let gzip_request = || {
        app.client
            .get(app.url("/feed.xml"))
            .header(header::ACCEPT_ENCODING, "gzip, deflate, br")
    };
    let response = gzip_request().send().await.expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(headers[header::VARY], "accept-encoding");
    let etag = headers[header::ETAG].to_str().expect("etag").to_owned();
    assert!(etag.ends_with("-gzip\""), "{etag}");
    let compressed = response.bytes().await.expect("body");
    assert!(compressed.len() < plain.len());
    let mut unzipped = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(compressed.as_ref()),
        &mut unzipped,
    )
    .expect("valid gzip");
    assert_eq!(unzipped, plain);

    let revalidated = gzip_request()
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("request");
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    // The plain representation keeps its own ETag.
    let plain_etag = app.get("/feed.xml").await.headers()[header::ETAG].clone();
    assert_ne!(plain_etag.to_str().expect("etag"), etag);
    app.stop().await;
}

/// `Query.feeds` lists feeds only, each with the media type it is served as: a client
/// discovering feeds through the API must not hand a channel's JSON or text to a reader.
#[tokio::test]
async fn query_feeds_lists_only_feeds_with_their_media_type() {
    let app = TestApp::spawn_seeded().await;
    feed_when(&app, "/feed.xml", |body| body.contains("<item>")).await;
    // The demo's channels have their texts stored next to the feeds.
    let channels = app
        .graphql("{ channels { syndicationUrls } }", json!({}))
        .await;
    let syndication = channels["data"]["channels"][0]["syndicationUrls"][0]
        .as_str()
        .expect("a channel text URL")
        .to_owned();
    eventually(100, || async {
        (app.get(syndication.trim_start_matches(&app.url("")))
            .await
            .status()
            == StatusCode::OK)
            .then_some(())
    })
    .await
    .expect("the channel texts are generated");

    let listed = app
        .graphql("{ feeds { url format mediaType } }", json!({}))
        .await;
    let feeds = listed["data"]["feeds"].as_array().expect("feeds");
    assert!(feeds.len() >= 4, "{listed}");
    for feed in feeds {
        let url = feed["url"].as_str().expect("url");
        assert!(!url.contains("/syndication/"), "{url} is not a feed");
        let media_type = feed["mediaType"].as_str().expect("media type");
        let expected = match feed["format"].as_str() {
            Some("RSS") => "application/rss+xml",
            Some("ATOM") => "application/atom+xml",
            Some("JSON_FEED") => "application/feed+json",
            other => panic!("format {other:?}"),
        };
        assert!(media_type.starts_with(expected), "{url}: {media_type}");
        let served = app.get(url.trim_start_matches(&app.url(""))).await;
        assert_eq!(served.headers()[header::CONTENT_TYPE], media_type, "{url}");
    }
    app.stop().await;
}

/// The clean-up of stored feeds follows the feed table: a key under a tag's or a post's
/// prefix that no row of the table makes (an old format, a malformed key) is removed with
/// the feeds of unpublished posts, and the feeds the table makes for visible tags stay.
#[tokio::test]
async fn stored_keys_that_are_no_feed_are_cleaned_up() {
    let app = TestApp::spawn_with(false, true, &["--schedule", "0 0 0 1 1 *"]).await;
    let token = app.token("Writer", Role::Author).await;
    let post = app
        .create_post(&token, json!({ "title": "Kept", "tags": ["kept"] }))
        .await;
    app.graphql_as(
        Some(&token),
        "mutation($id: ID!) { publishPost(input: {id: $id}) { post { id } } }",
        json!({ "id": post["id"] }),
    )
    .await;
    feed_when(&app, "/tags/kept/feed.xml", |body| body.contains("Kept")).await;
    for key in [
        "tags/kept/feed.atom",
        "tags/x",
        "posts/",
        "posts/kept/comments/old.xml",
    ] {
        sqlx::query(
            "insert into generated_feeds (key, content_type, body, content_hash, item_count) \
             values ($1, 'text/plain', 'old', 'old', 0)",
        )
        .bind(key)
        .execute(&app.pool)
        .await
        .expect("an old key");
    }
    // Any change makes the worker run, and its clean-up with it.
    app.create_post(&token, json!({ "title": "Draft" })).await;
    app.graphql_as(
        Some(&token),
        "mutation($id: ID!) { updatePost(input: {id: $id, title: \"Kept still\"}) { post { id } } }",
        json!({ "id": post["id"] }),
    )
    .await;
    let cleaned = eventually(100, || async {
        let left = app
            .count("select count(*) from generated_feeds where body = 'old'")
            .await;
        (left == 0).then_some(())
    })
    .await;
    assert!(cleaned.is_some(), "old keys are removed");
    assert_eq!(
        app.get("/tags/kept/feed.xml").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.count("select count(*) from generated_feeds where key = 'tags/kept/feed.xml'")
            .await,
        1
    );
    app.stop().await;
}

/// A post's comment count in the feeds is what readers see of its thread: a deleted
/// comment kept as a tombstone for its reply is not counted, its reply is.
#[tokio::test]
async fn a_tombstone_is_not_counted_in_the_feed() {
    let app = TestApp::spawn_with(false, true, &["--comment-moderation", "open"]).await;
    let (token, post) = published_post(&app).await;
    let parent = add_comment(
        &app,
        None,
        json!({ "postId": post, "authorName": "Ann", "body": "First" }),
    )
    .await;
    let parent_id = parent["data"]["addComment"]["comment"]["id"].clone();
    let reply = add_comment(
        &app,
        None,
        json!({ "postId": post, "parentId": parent_id, "authorName": "Bo", "body": "Reply" }),
    )
    .await;
    assert!(reply.get("errors").is_none(), "{reply}");
    feed_when(&app, "/feed.xml", |body| {
        body.contains("<slash:comments>2</slash:comments>")
    })
    .await;
    let deleted = app
        .graphql_as(
            Some(&token),
            "mutation($id: ID!) { deleteComment(input: {id: $id}) { comment { status } } }",
            json!({ "id": parent_id }),
        )
        .await;
    assert_eq!(
        deleted["data"]["deleteComment"]["comment"]["status"], "DELETED",
        "{deleted}"
    );
    feed_when(&app, "/feed.xml", |body| {
        body.contains("<slash:comments>1</slash:comments>")
    })
    .await;
    app.stop().await;
}
