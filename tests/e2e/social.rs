//! Social-channel summaries and digests: written by the worker on change, for enabled
//! channels only, fitted to each channel's rule; channel management; previews; the
//! /syndication documents.

use gazette_store::tokens::Role;
use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};

use crate::support::{TestApp, add_comment, error_code, eventually};

const DEMO_SLUG: &str = "the-implementation-of-enterprise-2-0-by-government-departments";
const SUMMARY: &str =
    "text length limit truncated generatedAt channel { slug kind name } post { slug title }";
/// A yearly schedule: only change events can make the worker write.
const NO_SCHEDULE: [&str; 2] = ["--schedule", "0 0 0 1 1 *"];

async fn summaries(app: &TestApp, post: Option<&Value>) -> Vec<Value> {
    let response = app
        .graphql(
            &format!("query($post: ID) {{ socialSummaries(post: $post) {{ {SUMMARY} }} }}"),
            json!({ "post": post }),
        )
        .await;
    response["data"]["socialSummaries"]
        .as_array()
        .unwrap_or_else(|| panic!("{response}"))
        .clone()
}

/// The summaries of `post` once there are `count` of them (the worker writes them within
/// seconds of a change).
async fn summaries_when(app: &TestApp, post: &Value, count: usize) -> Vec<Value> {
    eventually(150, || async {
        let found = summaries(app, Some(post)).await;
        (found.len() == count).then_some(found)
    })
    .await
    .unwrap_or_else(|| panic!("never {count} summaries for {post}"))
}

async fn channel_id(app: &TestApp, slug: &str) -> Value {
    let response = app
        .graphql(
            "query($slug: String) { channel(slug: $slug) { id } }",
            json!({ "slug": slug }),
        )
        .await;
    response["data"]["channel"]["id"].clone()
}

/// X/Twitter's weighted count, by hand: ASCII 1, the ellipsis (U+2026) 2, and the post's
/// URL in full: the test server's host is an IP address, which X (twitter-text) does not
/// link, so it is not shortened to 23.
fn counted_by_hand(text: &str, url: &str) -> usize {
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let urls = text.matches(url).count();
    let rest = text.replace(url, "");
    let mut count = urls * url.chars().count();
    for c in rest.chars() {
        count += match c {
            '…' => 2,
            c if c.is_ascii() => 1,
            other => panic!("unexpected character {other:?} in the demo summary"),
        };
    }
    count
}

#[tokio::test]
async fn the_demo_post_summaries_read_well() {
    let app = TestApp::spawn_seeded().await;
    let post = app.post_id(DEMO_SLUG).await;
    let all = summaries_when(&app, &post, 7).await;
    let kinds: Vec<&str> = all
        .iter()
        .map(|s| s["channel"]["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(
        kinds,
        [
            "FACEBOOK", "BLOG", "TWITTER", "YOUTUBE", "FLICKR", "RSS", "PODCAST"
        ]
    );
    let url = app.url(&format!("/posts/{DEMO_SLUG}"));
    for summary in &all {
        let text = summary["text"].as_str().expect("text");
        assert!(
            summary["length"].as_i64() <= summary["limit"].as_i64(),
            "{summary}"
        );
        assert!(text.contains(&url), "every summary links the post: {text}");
        assert!(
            text.starts_with("The implementation of Enterprise 2.0 by government departments"),
            "{text}"
        );
        assert!(
            !text.contains('<') && !text.contains("**"),
            "plain text only: {text}"
        );
    }

    let x = all
        .iter()
        .find(|s| s["channel"]["kind"] == "TWITTER")
        .expect("the X summary");
    let text = x["text"].as_str().expect("text");
    assert!(
        text.starts_with("The implementation of Enterprise 2.0 by government departments: As a government department employee, I have observed"),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("… {url} #Enterprise20 #Government #SocialMedia")),
        "{text}"
    );
    let by_hand = counted_by_hand(text, &url);
    assert_eq!(
        x["length"].as_u64(),
        Some(by_hand as u64),
        "the reported length is X's count"
    );
    assert!(
        by_hand <= 280 && by_hand > 250,
        "shortened only as much as needed: {by_hand}"
    );
    assert_eq!(x["limit"], 280);
    assert_eq!(x["truncated"], true);

    let blog = all
        .iter()
        .find(|s| s["channel"]["kind"] == "BLOG")
        .expect("the blog summary");
    assert_eq!(
        blog["truncated"], false,
        "the excerpt fits a blog post whole"
    );
    assert!(
        blog["text"]
            .as_str()
            .expect("text")
            .ends_with(&format!("Read more: {url}"))
    );
    app.stop().await;
}

#[tokio::test]
async fn publishing_writes_summaries_for_enabled_channels_only() {
    let app = TestApp::spawn_with(true, true, &NO_SCHEDULE).await;
    let admin = app.token("Root", Role::Admin).await;
    let twitter = channel_id(&app, "twitter").await;
    let disabled = app
        .graphql_as(
            Some(&admin),
            "mutation($id: ID!) { updateChannel(input: {id: $id, enabled: false}) { channel { enabled } } }",
            json!({ "id": twitter }),
        )
        .await;
    assert_eq!(
        disabled["data"]["updateChannel"]["channel"]["enabled"], false,
        "{disabled}"
    );

    let post = app
        .create_post(&admin, json!({ "title": "Fresh news", "body": "Something happened.", "tags": ["news"], "status": "PUBLISHED" }))
        .await;
    let written = summaries_when(&app, &post["id"], 6).await;
    assert!(
        written.iter().all(|s| s["channel"]["kind"] != "TWITTER"),
        "nothing for the disabled channel"
    );
    assert!(written.iter().all(|s| s["post"]["title"] == "Fresh news"));
    let gone = eventually(150, || async {
        (app.get("/syndication/twitter.json").await.status() == StatusCode::NOT_FOUND).then_some(())
    })
    .await;
    assert!(gone.is_some(), "a disabled channel's texts are removed");

    // Enabling it again brings them back; deleting it removes them for good.
    app.graphql_as(
        Some(&admin),
        "mutation($id: ID!) { updateChannel(input: {id: $id, enabled: true}) { channel { enabled } } }",
        json!({ "id": twitter }),
    )
    .await;
    summaries_when(&app, &post["id"], 7).await;
    let deleted = app
        .graphql_as(
            Some(&admin),
            "mutation($id: ID!) { deleteChannel(input: {id: $id}) { deletedChannelId } }",
            json!({ "id": twitter }),
        )
        .await;
    assert_eq!(
        deleted["data"]["deleteChannel"]["deletedChannelId"],
        twitter
    );
    assert_eq!(summaries(&app, Some(&post["id"])).await.len(), 6);
    app.stop().await;
}

#[tokio::test]
async fn the_digest_counts_the_feedback_of_the_period() {
    let app = TestApp::spawn_with(
        true,
        true,
        &["--schedule", "0 0 0 1 1 *", "--comment-rate-limit", "0"],
    )
    .await;
    let author = app.token("Writer", Role::Author).await;
    let busy = app
        .create_post(&author, json!({ "title": "Busy", "status": "PUBLISHED" }))
        .await;
    let quiet = app
        .create_post(&author, json!({ "title": "Quiet", "status": "PUBLISHED" }))
        .await;
    for (post, body) in [
        (&busy, "one"),
        (&busy, "two"),
        (&busy, "three"),
        (&quiet, "only"),
    ] {
        let response = add_comment(
            &app,
            None,
            json!({ "postId": post["id"], "authorName": "R", "body": body }),
        )
        .await;
        assert!(response.get("errors").is_none(), "{response}");
    }
    // Held comments are not feedback yet.
    add_comment(&app, None, json!({ "postId": quiet["id"], "authorName": "S", "body": "http://a.example http://b.example" })).await;

    let facebook = channel_id(&app, "facebook").await;
    let query = "query($channel: ID!) { channelDigest(channel: $channel) { periodStart periodEnd text length limit truncated publishedPosts { title } feedback { post { title } newComments } } }";
    let digest = eventually(150, || async {
        let response = app.graphql(query, json!({ "channel": facebook })).await;
        let digest = response["data"]["channelDigest"].clone();
        (digest["feedback"].as_array().map(Vec::len) == Some(2)
            && digest["feedback"][0]["newComments"] == 3
            && digest["feedback"][1]["newComments"] == 1)
            .then_some(digest)
    })
    .await
    .expect("the digest catches up with the comments");
    assert_eq!(
        digest["feedback"][0]["post"]["title"], "Busy",
        "most discussed first"
    );
    assert_eq!(digest["feedback"][1]["post"]["title"], "Quiet");
    let published: Vec<&str> = digest["publishedPosts"]
        .as_array()
        .expect("posts")
        .iter()
        .map(|p| p["title"].as_str().expect("title"))
        .collect();
    assert_eq!(
        published,
        ["Quiet", "Busy"],
        "the demo post of 2013 is not in today's period"
    );
    let text = digest["text"].as_str().expect("text");
    assert!(text.contains("Feedback (4 new comments):"), "{text}");
    assert!(text.contains("• Busy: 3 new comments"), "{text}");
    assert!(digest["length"].as_i64() <= digest["limit"].as_i64());
    app.stop().await;
}

#[tokio::test]
async fn channels_are_managed_by_admins_with_checked_templates() {
    let app = TestApp::spawn_with(true, false, &[]).await;
    let admin = app.token("Root", Role::Admin).await;
    let author = app.token("Writer", Role::Author).await;
    let create = "mutation($input: CreateChannelInput!) { createChannel(input: $input) { channel { id slug kind name url enabled template limit syndicationUrls } } }";
    let input = json!({ "name": "Our Mastodon", "kind": "MASTODON", "url": "https://social.example/@gov", "template": "{title} {link} {hashtags}" });

    assert_eq!(
        error_code(&app.graphql(create, json!({ "input": input })).await),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        error_code(
            &app.graphql_as(Some(&author), create, json!({ "input": input }))
                .await
        ),
        Some("FORBIDDEN")
    );
    let created = app
        .graphql_as(Some(&admin), create, json!({ "input": input }))
        .await;
    let channel = &created["data"]["createChannel"]["channel"];
    assert_eq!(channel["slug"], "our-mastodon", "{created}");
    assert_eq!(channel["kind"], "MASTODON");
    assert_eq!(channel["limit"], 500);
    assert_eq!(
        channel["syndicationUrls"][0],
        app.url("/syndication/our-mastodon.json")
    );

    let mut unknown = input.clone();
    unknown["template"] = json!("{title} {summary}");
    unknown["name"] = json!("Another");
    let refused = app
        .graphql_as(Some(&admin), create, json!({ "input": unknown }))
        .await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"));
    assert_eq!(refused["errors"][0]["extensions"]["field"], "template");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("{summary}")),
        "{refused}"
    );
    let mut duplicate = input.clone();
    duplicate["slug"] = json!("twitter");
    let refused = app
        .graphql_as(Some(&admin), create, json!({ "input": duplicate }))
        .await;
    assert_eq!(
        refused["errors"][0]["extensions"]["field"], "slug",
        "{refused}"
    );
    let mut bad_url = input.clone();
    bad_url["url"] = json!("javascript:alert(1)");
    let refused = app
        .graphql_as(Some(&admin), create, json!({ "input": bad_url }))
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["field"], "url");

    let update = "mutation($input: UpdateChannelInput!) { updateChannel(input: $input) { channel { template name } } }";
    let cleared = app
        .graphql_as(
            Some(&admin),
            update,
            json!({ "input": { "id": channel["id"], "template": null, "name": "Mastodon" } }),
        )
        .await;
    assert_eq!(
        cleared["data"]["updateChannel"]["channel"]["template"],
        Value::Null
    );
    assert_eq!(
        cleared["data"]["updateChannel"]["channel"]["name"],
        "Mastodon"
    );
    let bad_template = app
        .graphql_as(
            Some(&admin),
            update,
            json!({ "input": { "id": channel["id"], "template": "{nope}" } }),
        )
        .await;
    assert_eq!(bad_template["errors"][0]["extensions"]["field"], "template");

    let listed = app.graphql("{ channels { slug } }", json!({})).await;
    let slugs: Vec<&str> = listed["data"]["channels"]
        .as_array()
        .expect("list")
        .iter()
        .map(|c| c["slug"].as_str().expect("slug"))
        .collect();
    assert_eq!(
        slugs,
        [
            "facebook",
            "blogs",
            "twitter",
            "youtube",
            "flickr",
            "rss-feed",
            "podcasts",
            "our-mastodon"
        ]
    );
    let node = app
        .graphql(
            "query($id: ID!) { node(id: $id) { ... on Channel { name } } }",
            json!({ "id": channel["id"] }),
        )
        .await;
    assert_eq!(node["data"]["node"]["name"], "Mastodon");
    app.stop().await;
}

#[tokio::test]
async fn editors_preview_a_template_before_saving_it() {
    let app = TestApp::spawn_with(true, false, &[]).await;
    let post = app.post_id(DEMO_SLUG).await;
    let twitter = channel_id(&app, "twitter").await;
    let preview = "query($post: ID!, $channel: ID!, $template: String) { previewSocialSummary(post: $post, channel: $channel, template: $template) { text length limit truncated } }";
    // Rendering and measuring texts is work for editors: readers may not ask for it.
    let anonymous = app
        .graphql(
            preview,
            json!({ "post": post, "channel": twitter, "template": "{title}" }),
        )
        .await;
    assert_eq!(
        error_code(&anonymous),
        Some("UNAUTHENTICATED"),
        "{anonymous}"
    );
    let editor = app.token("Editor", Role::Author).await;
    let short = app
        .graphql_as(Some(&editor), preview, json!({ "post": post, "channel": twitter, "template": "New: {title} {link} {hashtags} — {author}, {date}" }))
        .await;
    let result = &short["data"]["previewSocialSummary"];
    let url = app.url(&format!("/posts/{DEMO_SLUG}"));
    assert_eq!(
        result["text"],
        format!(
            "New: The implementation of Enterprise 2.0 by government departments {url} #Enterprise20 #Government #SocialMedia — Government Blogger, 22 August 2013"
        )
    );
    assert_eq!(result["truncated"], false);
    assert_eq!(result["limit"], 280);
    assert_eq!(
        result["length"].as_u64(),
        Some(counted_by_hand_with_dash(result["text"].as_str().expect("text"), &url) as u64)
    );

    let refused = app
        .graphql_as(
            Some(&editor),
            preview,
            json!({ "post": post, "channel": twitter, "template": "{title} {teaser}" }),
        )
        .await;
    assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"));
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("{teaser}"))
    );
    let missing = app
        .graphql_as(
            Some(&editor),
            preview,
            json!({ "post": "UG9zdDo5OTk5", "channel": twitter }),
        )
        .await;
    assert_eq!(error_code(&missing), Some("NOT_FOUND"));
    app.stop().await;
}

/// [`counted_by_hand`], with the em dash (U+2014, inside X's light range 8208–8223)
/// counting 1.
fn counted_by_hand_with_dash(text: &str, url: &str) -> usize {
    let dashes = text.matches('—').count();
    counted_by_hand(&text.replace('—', ""), url) + dashes
}

#[tokio::test]
async fn channel_texts_are_served_like_feeds() {
    let app = TestApp::spawn_seeded().await;
    let response = app
        .get_when_ok("/syndication/twitter.json", 150)
        .await
        .expect("the worker writes the channel's texts");
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json; charset=utf-8"
    );
    let etag = response.headers()[header::ETAG]
        .to_str()
        .expect("etag")
        .to_owned();
    let document: Value = response.json().await.expect("JSON");
    assert_eq!(document["channel"]["kind"], "TWITTER");
    assert_eq!(
        document["channel"]["url"],
        "http://australia.gov.au/news-and-media/social-media/twitter"
    );
    assert_eq!(document["summaries"][0]["post"]["slug"], DEMO_SLUG);
    assert!(document["summaries"][0]["length"].as_u64() <= Some(280));
    assert!(document["digest"]["text"].is_string());

    let text = app.get("/syndication/twitter.txt").await;
    assert_eq!(
        text.headers()[header::CONTENT_TYPE],
        "text/plain; charset=utf-8"
    );
    assert!(text.text().await.expect("body").contains("#Enterprise20"));
    let unchanged = app
        .client
        .get(app.url("/syndication/twitter.json"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("conditional GET");
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    for missing in [
        "/syndication/nope.json",
        "/syndication/twitter.xml",
        "/syndication/..json",
    ] {
        assert_eq!(
            app.get(missing).await.status(),
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    app.stop().await;
}

/// A title is plain text: in a summary it comes through verbatim (only shortened), never
/// read as Markdown or HTML — no list numbers eaten, no tags dropped, no entities decoded,
/// no curly quotes.
#[tokio::test]
async fn titles_reach_summaries_verbatim() {
    let app = TestApp::spawn_with(true, true, &[]).await;
    let token = app.token("Writer", Role::Admin).await;
    let twitter = channel_id(&app, "twitter").await;
    let preview = "query($post: ID!, $channel: ID!) { previewSocialSummary(post: $post, channel: $channel, template: \"{title}\") { text } }";
    let titles = [
        "2024. A year in review",
        "1. Why we publish",
        "<br> vs <br/>",
        "Fish &amp; chips, \"quoted\" and 'single'",
        "*Not emphasis* and `not code`",
    ];
    for title in titles {
        let post = app
            .create_post(&token, json!({ "title": title, "status": "PUBLISHED" }))
            .await;
        let result = app
            .graphql_as(
                Some(&token),
                preview,
                json!({ "post": post["id"], "channel": twitter }),
            )
            .await;
        assert_eq!(
            result["data"]["previewSocialSummary"]["text"], title,
            "{result}"
        );
    }
    // The worker's stored summaries too.
    let stored = eventually(100, || async {
        let response = app
            .graphql(
                "query($channel: ID) { socialSummaries(channel: $channel) { text } }",
                json!({ "channel": twitter }),
            )
            .await;
        let texts: Vec<String> = response["data"]["socialSummaries"]
            .as_array()?
            .iter()
            .filter_map(|summary| summary["text"].as_str().map(str::to_owned))
            .collect();
        titles
            .iter()
            .all(|title| texts.iter().any(|text| text.starts_with(title)))
            .then_some(texts)
    })
    .await;
    assert!(
        stored.is_some(),
        "every title opens a stored X summary verbatim"
    );
    app.stop().await;
}
