//! The HTTP surface: GraphQL, GraphiQL, health, the feed.

use reqwest::StatusCode;
use reqwest::header;
use serde_json::json;

use crate::support::{TestApp, error_code, http_client};
use gazette_store::tokens::Role;

const DEMO_SLUG: &str = "the-implementation-of-enterprise-2-0-by-government-departments";

#[tokio::test]
async fn the_demo_post_is_reachable_by_slug_and_id() {
    let app = TestApp::spawn_seeded().await;
    let by_slug = app
        .graphql(
            "query($slug: String) { post(slug: $slug) { id title status publishedAt url excerpt bodyHtml } }",
            json!({ "slug": DEMO_SLUG }),
        )
        .await;
    let post = &by_slug["data"]["post"];
    assert_eq!(
        post["title"],
        "The implementation of Enterprise 2.0 by government departments"
    );
    assert_eq!(post["status"], "PUBLISHED");
    assert_eq!(post["publishedAt"], "2013-08-22T12:00:00+00:00");
    assert_eq!(post["url"], app.url(&format!("/posts/{DEMO_SLUG}")));
    assert!(
        post["excerpt"]
            .as_str()
            .is_some_and(|e| e.starts_with("As a government department employee"))
    );
    assert!(
        post["bodyHtml"].as_str().is_some_and(|html| html
            .contains(r#"<a href="http://australia.gov.au/news-and-media/social-media/podcasts""#)),
        "{post}"
    );

    let by_id = app
        .graphql(
            "query($id: ID) { post(id: $id) { slug } }",
            json!({ "id": post["id"] }),
        )
        .await;
    assert_eq!(by_id["data"]["post"]["slug"], DEMO_SLUG);
    app.stop().await;
}

#[tokio::test]
async fn unknown_posts_are_null_and_bad_ids_are_user_errors() {
    let app = TestApp::spawn_seeded().await;
    let unknown = app
        .graphql(r#"{ post(slug: "no-such-post") { id } }"#, json!({}))
        .await;
    assert_eq!(unknown["data"]["post"], serde_json::Value::Null);
    assert!(unknown.get("errors").is_none(), "{unknown}");

    let bad = app
        .graphql(r#"{ post(id: "not-an-id") { id } }"#, json!({}))
        .await;
    assert_eq!(error_code(&bad), Some("BAD_USER_INPUT"), "{bad}");
    assert_eq!(bad["errors"][0]["extensions"]["field"], "id");
    app.stop().await;
}

#[tokio::test]
async fn graphiql_is_served_from_gazette_itself() {
    let app = TestApp::spawn().await;
    let root = app.get("/").await;
    assert!(root.status().is_redirection());
    assert_eq!(root.headers()[header::LOCATION], "/graphiql");

    let page = app.get("/graphiql").await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("page body");
    assert!(html.contains(r#"data-endpoint="/graphql""#), "{html}");
    assert!(
        html.contains(r#"data-subscription-endpoint="/graphql/ws""#),
        "{html}"
    );
    assert!(
        !html.contains("https://"),
        "the page must load nothing from elsewhere: {html}"
    );
    let scripts: Vec<&str> = html
        .split("src=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    let stylesheets: Vec<&str> = html
        .split("stylesheet\" href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(scripts.len(), 4, "{html}");
    assert_eq!(stylesheets.len(), 1, "{html}");
    for asset in scripts.iter().chain(&stylesheets) {
        assert!(asset.starts_with("/graphiql/assets/"), "{asset}");
        let response = app.get(asset).await;
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        let body = response.text().await.expect("asset body");
        assert!(body.len() > 100, "{asset} is suspiciously small");
        // Gzipped once ahead of time, with a validator (not per request by the compression
        // layer, whose state an unread connection held uncounted).
        let gzipped = app
            .client
            .get(app.url(asset))
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .expect("request");
        assert_eq!(
            gzipped.headers()[header::CONTENT_ENCODING],
            "gzip",
            "{asset}"
        );
        let etag = gzipped.headers()[header::ETAG].clone();
        let compressed = gzipped.bytes().await.expect("gzipped body");
        let mut unzipped = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(compressed.as_ref()),
            &mut unzipped,
        )
        .expect("gzip");
        assert_eq!(unzipped, body, "{asset}");
        let again = app
            .client
            .get(app.url(asset))
            .header(header::ACCEPT_ENCODING, "gzip")
            .header(header::IF_NONE_MATCH, etag)
            .send()
            .await
            .expect("request");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{asset}");
    }
    assert_eq!(
        app.get("/graphiql/assets/3.9.0/nope.js").await.status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

#[tokio::test]
async fn browsers_get_no_room_to_guess_types_or_frame_pages() {
    let app = TestApp::spawn_seeded().await;
    // Feeds and the plain-text syndication documents are never sniffed into something else.
    let mut paths = vec![
        "/feed.xml".to_owned(),
        "/graphiql".to_owned(),
        "/graphiql/assets/3.9.0/gazette-graphiql.js".to_owned(),
    ];
    let syndication = app.get_when_ok("/syndication/twitter.txt", 100).await;
    assert!(
        syndication.is_some(),
        "the worker writes the syndication documents"
    );
    paths.push("/syndication/twitter.txt".to_owned());
    for path in &paths {
        let response = app.get(path).await;
        assert_eq!(
            response.headers()[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff",
            "{path}"
        );
        assert_eq!(
            response.headers()[header::X_FRAME_OPTIONS],
            "DENY",
            "{path}"
        );
    }
    let page = app.get("/graphiql").await;
    let policy = page.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("policy")
        .to_owned();
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    // A token typed into the playground's Headers tab stays out of the browser's storage.
    let script = app
        .get("/graphiql/assets/3.9.0/gazette-graphiql.js")
        .await
        .text()
        .await
        .expect("script");
    assert!(script.contains("shouldPersistHeaders: false"), "{script}");
    assert!(!script.contains("shouldPersistHeaders: true"));
    app.stop().await;
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test]
async fn the_feed_lists_the_demo_post_and_supports_conditional_get() {
    let app = TestApp::spawn_seeded().await;
    // The worker builds the feed as it starts; give it a moment.
    let response = app
        .get_when_ok("/feed.xml", 100)
        .await
        .expect("the feed appears");
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/rss+xml; charset=utf-8"
    );
    let etag = response.headers()[header::ETAG]
        .to_str()
        .expect("etag")
        .to_owned();
    let last_modified = response.headers()[header::LAST_MODIFIED]
        .to_str()
        .expect("date")
        .to_owned();
    let body = response.bytes().await.expect("feed body");
    let feed = feed_rs::parser::parse(&body[..]).expect("a valid feed");
    assert_eq!(feed.entries.len(), 1);
    let entry = &feed.entries[0];
    assert_eq!(
        entry.title.as_ref().map(|title| title.content.as_str()),
        Some("The implementation of Enterprise 2.0 by government departments")
    );
    assert_eq!(entry.links[0].href, app.url(&format!("/posts/{DEMO_SLUG}")));
    let categories: Vec<&str> = entry.categories.iter().map(|c| c.term.as_str()).collect();
    assert_eq!(categories, ["Enterprise 2.0", "Government", "Social media"]);
    let stored = gazette_store::feeds::find(&app.pool, "feed.xml")
        .await
        .expect("read the stored feed")
        .expect("the worker stored the feed");
    assert_eq!(stored.item_count, 1);
    assert_eq!(format!("\"{}\"", stored.content_hash), etag);

    let unchanged = app
        .client
        .get(app.url("/feed.xml"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("conditional GET");
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert!(unchanged.bytes().await.expect("body").is_empty());
    let since = app
        .client
        .get(app.url("/feed.xml"))
        .header(header::IF_MODIFIED_SINCE, &last_modified)
        .send()
        .await
        .expect("conditional GET");
    assert_eq!(since.status(), StatusCode::NOT_MODIFIED);

    let head = app
        .client
        .head(app.url("/feed.xml"))
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(
        head.headers()[header::ETAG].to_str().ok(),
        Some(etag.as_str())
    );
    assert!(head.bytes().await.expect("body").is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_links_gazette_hands_out_lead_to_readable_pages() {
    let app = TestApp::spawn_seeded().await;
    let page = app.get(&format!("/posts/{DEMO_SLUG}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()[header::CONTENT_TYPE]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/html"))
    );
    assert!(page.headers().contains_key(header::CONTENT_SECURITY_POLICY));
    let html = page.text().await.expect("page");
    for expected in [
        "<h1>The implementation of Enterprise 2.0 by government departments</h1>",
        "Government Blogger",
        "22 August 2013",
        r#"<a href="http://australia.gov.au/news-and-media/social-media/facebook""#,
        &format!(r#"href="{}""#, app.url("/tags/government")),
        &format!(
            r#"href="{}""#,
            app.url(&format!("/posts/{DEMO_SLUG}/comments/feed.xml"))
        ),
        "Good read!",
        "Thank you for commenting on my blog!",
        r#"id="comments""#,
    ] {
        assert!(html.contains(expected), "missing {expected}");
    }

    let token = app
        .token("Writer", gazette_store::tokens::Role::Author)
        .await;
    app.create_post(&token, json!({ "title": "<script>alert(1)</script> & co", "status": "PUBLISHED", "tags": ["government"] })).await;
    app.create_post(&token, json!({ "title": "Secret draft" }))
        .await;
    let hostile = app
        .get("/posts/script-alert-1-script-co")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        hostile.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"),
        "{hostile}"
    );
    assert!(!hostile.contains("<script>"));
    assert_eq!(
        app.get("/posts/secret-draft").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/posts/no-such-post").await.status(),
        StatusCode::NOT_FOUND
    );

    let tag = app
        .get("/tags/government")
        .await
        .text()
        .await
        .expect("tag page");
    assert!(tag.contains("<h1>Government</h1>"));
    assert!(tag.contains(&format!(
        r#"href="{}""#,
        app.url(&format!("/posts/{DEMO_SLUG}"))
    )));
    assert!(
        tag.contains("&lt;script&gt;"),
        "both posts are listed, escaped"
    );
    assert_eq!(
        app.get("/tags/no-such-tag").await.status(),
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

/// Issue 11, item 9 (part): a missing page is a small HTML page in the pages' style, and
/// browsers asking for `/favicon.ico` get an icon rather than a 404.
#[tokio::test]
async fn missing_pages_are_html_and_the_favicon_exists() {
    let app = TestApp::spawn().await;
    for path in ["/posts/no-such-post", "/tags/no-such-tag"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let media = response.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .expect("type")
            .to_owned();
        assert!(media.starts_with("text/html"), "{path}: {media}");
        let body = response.text().await.expect("body");
        assert!(
            body.starts_with("<!doctype html>") && body.contains("<h1>Not found</h1>"),
            "{body}"
        );
    }
    let icon = app.get("/favicon.ico").await;
    assert_eq!(icon.status(), StatusCode::OK);
    assert_eq!(
        icon.headers()[reqwest::header::CONTENT_TYPE],
        "image/svg+xml"
    );
    assert!(icon.text().await.expect("icon").starts_with("<svg"));
    app.stop().await;
}

/// No address answers with an empty body: one that leads nowhere gets the 404 page, a method
/// an address does not take gets a `405` with a sentence and the methods it takes.
#[tokio::test]
async fn unknown_addresses_and_methods_are_answered_in_words() {
    let app = TestApp::spawn_api_only().await;
    for path in [
        "/nothing-here",
        "/posts/",
        "//feed.xml",
        "/feed.xml/",
        "/FEED.XML",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            response.headers()[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff"
        );
        let body = response.text().await.expect("body");
        assert!(
            body.contains("There is nothing at this address."),
            "{path}: {body}"
        );
    }
    let cases = [
        (reqwest::Method::DELETE, "/feed.xml", "GET,HEAD"),
        (reqwest::Method::POST, "/sitemap.xml", "GET,HEAD"),
        (reqwest::Method::PUT, "/graphql", "GET,HEAD,POST"),
        (reqwest::Method::GET, "/inbox", "POST"),
        (reqwest::Method::PATCH, "/posts", "GET,HEAD"),
    ];
    for (method, path, allowed) in cases {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(
            response.headers()[header::ALLOW],
            allowed,
            "{method} {path}"
        );
        assert_eq!(
            response.headers()[header::X_CONTENT_TYPE_OPTIONS],
            "nosniff"
        );
        let body = response.text().await.expect("body");
        assert!(
            body.contains(&format!("does not take {method} requests")),
            "{method} {path}: {body}"
        );
    }
    app.stop().await;
}

/// The page a list's "Older posts" link leads to.
async fn follow_older_posts(list: &str) -> String {
    let next = list
        .split("<a rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a link to older posts")
        .replace("&amp;", "&");
    let older = http_client().get(&next).send().await.expect("older posts");
    assert_eq!(older.status(), StatusCode::OK, "{next}");
    older.text().await.expect("body")
}

/// Issue 11, item 9: readers get a list of the latest posts at `/posts` (the site title's
/// link), list items carry their dates, and pages revalidate with ETags. A tag's page
/// pages through its posts the same way.
#[tokio::test]
async fn readers_page_through_the_latest_posts_and_revalidate() {
    let app = TestApp::spawn().await;
    let empty = app.get("/posts").await;
    assert_eq!(empty.status(), StatusCode::OK);
    assert!(
        empty
            .text()
            .await
            .expect("body")
            .contains("Nothing is published yet.")
    );

    let editor = app.token("Editor", Role::Admin).await;
    let mut titles = Vec::new();
    for number in 1..=23 {
        let title = format!("Post number {number:02}");
        app.create_post(
            &editor,
            json!({ "title": title, "body": "Text.", "status": "PUBLISHED", "tags": ["Listed"] }),
        )
        .await;
        titles.push(title);
    }
    app.create_post(
        &editor,
        json!({ "title": "A draft nobody sees", "body": "x" }),
    )
    .await;

    let first = app.get("/posts").await;
    assert_eq!(first.status(), StatusCode::OK);
    let headers = first.headers().clone();
    assert_eq!(headers[reqwest::header::CACHE_CONTROL], "public, no-cache");
    let etag = headers[reqwest::header::ETAG]
        .to_str()
        .expect("etag")
        .to_owned();
    assert!(etag.starts_with("W/\""), "{etag}");
    let body = first.text().await.expect("body");
    assert!(
        body.contains(&format!("href=\"{}\"", app.url("/posts"))),
        "the site title leads here"
    );
    assert!(!body.contains("A draft nobody sees"));
    // Newest first, 20 to a page, each with its date.
    let shown: Vec<&String> = titles
        .iter()
        .filter(|title| body.contains(title.as_str()))
        .collect();
    assert_eq!(shown.len(), 20, "{body}");
    assert!(body.find("Post number 23") < body.find("Post number 04"));
    assert!(!body.contains("Post number 03"));
    assert_eq!(
        body.matches("<time class=\"byline\" datetime=\"").count(),
        20
    );
    let older = follow_older_posts(&body).await;
    for number in ["03", "02", "01"] {
        assert!(older.contains(&format!("Post number {number}")), "{older}");
    }
    assert!(!older.contains("Post number 04") && !older.contains("rel=\"next\""));

    // A tag's page continues the same way, through its own address.
    let tag_page = app
        .get("/tags/listed")
        .await
        .text()
        .await
        .expect("tag page");
    assert_eq!(tag_page.matches("<li>").count(), 20, "{tag_page}");
    assert!(tag_page.contains("Post number 04") && !tag_page.contains("Post number 03"));
    assert!(tag_page.contains(&format!("href=\"{}", app.url("/tags/listed?after="))));
    let older = follow_older_posts(&tag_page).await;
    assert_eq!(older.matches("<li>").count(), 3, "{older}");
    assert!(older.contains("Post number 01") && !older.contains("rel=\"next\""));
    let mangled = app.get("/tags/listed?after=nonsense").await;
    assert_eq!(mangled.status(), StatusCode::BAD_REQUEST);
    assert!(
        mangled
            .text()
            .await
            .expect("body")
            .contains("This page of posts does not exist")
    );

    // Revalidation: the same version is a 304 without a body; a change is a new ETag.
    let again = http_client()
        .get(app.url("/posts"))
        .header(reqwest::header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("revalidation");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()[reqwest::header::ETAG], etag.as_str());
    assert!(again.bytes().await.expect("body").is_empty());
    app.create_post(
        &editor,
        json!({ "title": "Post number 24", "body": "x", "status": "PUBLISHED" }),
    )
    .await;
    let changed = http_client()
        .get(app.url("/posts"))
        .header(reqwest::header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("after a change");
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()[reqwest::header::ETAG], etag.as_str());

    // Post and tag pages revalidate the same way; tag pages date their posts.
    let tag = app.get("/tags/listed").await;
    let tag_etag = tag.headers()[reqwest::header::ETAG].clone();
    assert!(
        tag.text()
            .await
            .expect("body")
            .contains("<time class=\"byline\" datetime=\"")
    );
    let post = app.get("/posts/post-number-01").await;
    let post_etag = post.headers()[reqwest::header::ETAG].clone();
    for (path, etag) in [
        ("/tags/listed", tag_etag),
        ("/posts/post-number-01", post_etag),
    ] {
        let response = http_client()
            .get(app.url(path))
            .header(reqwest::header::IF_NONE_MATCH, etag)
            .send()
            .await
            .expect("revalidation");
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{path}");
    }

    let bad = app.get("/posts?after=yesterday").await;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(
        bad.text()
            .await
            .expect("body")
            .starts_with("<!doctype html>")
    );
    app.stop().await;
}
