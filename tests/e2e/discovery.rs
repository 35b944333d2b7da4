//! Discovery (issue 13): `/sitemap.xml` and `/robots.txt` for search engines, JSON Feed 1.1
//! next to RSS and Atom, and `<link rel="alternate">` to the feeds from the pages.

use gazette_store::tokens::Role;
use reqwest::StatusCode;
use reqwest::header;
use serde_json::{Value, json};

use crate::support::{TestApp, http_client};

async fn revalidates(app: &TestApp, path: &str) {
    let first = app.get(path).await;
    assert_eq!(first.status(), StatusCode::OK, "{path}");
    let etag = first.headers()[header::ETAG].clone();
    let again = http_client()
        .get(app.url(path))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("revalidation");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
}

#[tokio::test]
async fn the_sitemap_lists_what_the_public_sees_and_robots_point_to_it() {
    let app = TestApp::spawn_seeded().await;
    let editor = app.token("Editor", Role::Admin).await;
    app.create_post(
        &editor,
        json!({ "title": "Public and listed", "status": "PUBLISHED", "tags": ["Findable"] }),
    )
    .await;
    app.create_post(
        &editor,
        json!({ "title": "Secret draft", "tags": ["Hidden tag"] }),
    )
    .await;
    app.create_post(
        &editor,
        json!({ "title": "Not yet", "status": "SCHEDULED", "publishedAt": "2099-01-01T00:00:00Z" }),
    )
    .await;

    let response = app.get("/sitemap.xml").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/xml; charset=utf-8"
    );
    let xml = response.text().await.expect("body");
    assert!(
        xml.contains("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">"),
        "{xml}"
    );
    for path in [
        "/posts",
        "/posts/public-and-listed",
        "/posts/the-implementation-of-enterprise-2-0-by-government-departments",
        "/tags/findable",
        "/tags/government",
    ] {
        assert!(
            xml.contains(&format!("<loc>{}</loc>", app.url(path))),
            "{path}: {xml}"
        );
    }
    for hidden in ["secret-draft", "not-yet", "hidden-tag"] {
        assert!(!xml.contains(hidden), "{hidden} is not public: {xml}");
    }
    assert_eq!(
        xml.matches("<url>").count(),
        xml.matches("<lastmod>").count(),
        "every URL has its lastmod"
    );
    revalidates(&app, "/sitemap.xml").await;
    assert_eq!(
        app.get("/sitemaps/nothing.xml").await.status(),
        StatusCode::NOT_FOUND
    );

    let robots = app.get("/robots.txt").await.text().await.expect("robots");
    assert!(
        robots.contains(&format!("Sitemap: {}", app.url("/sitemap.xml"))),
        "{robots}"
    );
    assert!(robots.contains("User-agent: *"));
    app.stop().await;
}

#[tokio::test]
async fn json_feeds_stand_next_to_rss_and_atom_and_pages_link_them() {
    let app = TestApp::spawn_seeded().await;
    for path in ["/feed.json", "/comments/feed.json"] {
        let ready = app
            .get_when_ok(path, 200)
            .await
            .expect("the worker builds the JSON Feed");
        assert_eq!(
            ready.headers()[header::CONTENT_TYPE],
            "application/feed+json; charset=utf-8"
        );
        let feed: Value = ready.json().await.expect("JSON");
        assert_eq!(feed["version"], "https://jsonfeed.org/version/1.1");
        assert!(feed["title"].is_string());
        assert_eq!(feed["feed_url"], app.url(path));
        let items = feed["items"].as_array().expect("items");
        assert!(!items.is_empty(), "{path}");
        for item in items {
            assert!(item["id"].as_str().is_some_and(|id| id.starts_with("tag:")));
            assert!(item["content_html"].is_string());
            assert!(
                item["url"]
                    .as_str()
                    .is_some_and(|url| url.starts_with("http://"))
            );
            assert!(
                chrono::DateTime::parse_from_rfc3339(
                    item["date_published"].as_str().expect("date")
                )
                .is_ok()
            );
        }
        revalidates(&app, path).await;
    }
    let listed = app
        .graphql("{ feeds { url format mediaType } }", json!({}))
        .await;
    let feeds = listed["data"]["feeds"].as_array().expect("feeds");
    assert!(
        feeds.iter().any(|feed| feed["url"] == app.url("/feed.json")
            && feed["format"] == "JSON_FEED"
            && feed["mediaType"] == "application/feed+json; charset=utf-8"),
        "{listed}"
    );

    let page = app
        .get("/posts/the-implementation-of-enterprise-2-0-by-government-departments")
        .await
        .text()
        .await
        .expect("page");
    for (kind, path) in [
        ("application/rss+xml", "/feed.xml"),
        ("application/atom+xml", "/feed.atom"),
        ("application/feed+json", "/feed.json"),
    ] {
        assert!(
            page.contains(&format!(
                "<link rel=\"alternate\" type=\"{kind}\" title=\"Gazette\" href=\"{}\">",
                app.url(path)
            )),
            "{kind}: {page}"
        );
    }
    let graphiql = app.get("/graphiql").await.text().await.expect("graphiql");
    assert!(graphiql.contains("<link rel=\"alternate\" type=\"application/feed+json\""));
    app.stop().await;
}
