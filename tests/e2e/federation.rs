//! Federation's discovery (docs/federation.md) over real HTTP: WebFinger finds the blog
//! actor by its handle and by its URL, the actor publishes an RSA key that parses as one,
//! NodeInfo says what the server is; without `--federation` none of it is served.

use reqwest::{StatusCode, header};
use rsa::pkcs8::DecodePublicKey;
use serde_json::Value;

use crate::support::{TestApp, status_type_json};

const DEMO_SLUG: &str = "the-implementation-of-enterprise-2-0-by-government-departments";

async fn json(app: &TestApp, path: &str, accept: &str) -> (StatusCode, String, Value) {
    let response = app
        .client
        .get(app.url(path))
        .header(header::ACCEPT, accept)
        .send()
        .await
        .expect("answered");
    status_type_json(response).await
}

#[tokio::test]
async fn the_fediverse_finds_the_blog_actor_and_its_key() {
    let app = TestApp::spawn_with(true, false, &["--federation"]).await;
    let host = app.base_url.trim_start_matches("http://").to_owned();
    let (status, media_type, finger) = json(
        &app,
        &format!("/.well-known/webfinger?resource=acct:blog@{host}"),
        "application/jrd+json",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(media_type, "application/jrd+json");
    assert_eq!(finger["subject"], format!("acct:blog@{host}"));
    let actor_url = finger["links"]
        .as_array()
        .and_then(|links| links.iter().find(|link| link["rel"] == "self"))
        .and_then(|link| link["href"].as_str())
        .expect("a self link")
        .to_owned();
    assert_eq!(actor_url, app.url("/actor"));
    // By the actor's URL too; someone else's handle is not here.
    let by_url = json(
        &app,
        &format!("/.well-known/webfinger?resource={actor_url}"),
        "application/jrd+json",
    )
    .await;
    assert_eq!(by_url.0, StatusCode::OK);
    for missing in [
        format!("/.well-known/webfinger?resource=acct:someone@{host}"),
        "/.well-known/webfinger?resource=acct:blog@elsewhere.example".to_owned(),
    ] {
        assert_eq!(
            json(&app, &missing, "*/*").await.0,
            StatusCode::NOT_FOUND,
            "{missing}"
        );
    }
    assert_eq!(
        json(&app, "/.well-known/webfinger", "*/*").await.0,
        StatusCode::BAD_REQUEST
    );

    let (status, media_type, actor) = json(&app, "/actor", "application/activity+json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(media_type, "application/activity+json");
    assert_eq!(actor["id"], actor_url);
    assert_eq!(actor["type"], "Person");
    assert_eq!(actor["preferredUsername"], "blog");
    assert_eq!(actor["publicKey"]["owner"], actor_url);
    let pem = actor["publicKey"]["publicKeyPem"].as_str().expect("a key");
    let key = rsa::PublicKey::from_public_key_pem(pem).expect("an RSA public key");
    assert_eq!(rsa::traits::PublicKeyParts::size(&key), 256, "2048 bits");
    // A browser asking for the actor is sent to the posts.
    let page = app
        .client
        .get(app.url("/actor"))
        .header(header::ACCEPT, "text/html,application/xhtml+xml")
        .send()
        .await
        .expect("answered");
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    // The key is made once and kept: a second process on the same data shows the same.
    let again = app.another_instance_with(&["--federation"]).await;
    let (_, _, same) = json(&again, "/actor", "application/activity+json").await;
    assert_eq!(same["publicKey"]["publicKeyPem"], pem);
    again.stop().await;

    let (status, _, links) = json(&app, "/.well-known/nodeinfo", "application/json").await;
    assert_eq!(status, StatusCode::OK);
    let href = links["links"][0]["href"]
        .as_str()
        .expect("a link")
        .to_owned();
    assert_eq!(href, app.url("/nodeinfo/2.1"));
    let (status, media_type, nodeinfo) = json(&app, "/nodeinfo/2.1", "application/json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        media_type.contains("nodeinfo.diaspora.software/ns/schema/2.1"),
        "{media_type}"
    );
    assert_eq!(nodeinfo["software"]["name"], "gazette");
    assert_eq!(nodeinfo["protocols"][0], "activitypub");
    assert_eq!(nodeinfo["usage"]["localPosts"], 1, "the demo post");

    // Posts are Articles, at their page's address and at their object id.
    let (status, media_type, article) = json(
        &app,
        &format!("/posts/{DEMO_SLUG}"),
        "application/activity+json",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(media_type, "application/activity+json");
    assert_eq!(article["type"], "Article");
    assert_eq!(
        article["name"],
        "The implementation of Enterprise 2.0 by government departments"
    );
    assert_eq!(article["url"], app.url(&format!("/posts/{DEMO_SLUG}")));
    assert_eq!(article["attributedTo"], actor_url);
    assert_eq!(
        article["to"][0],
        "https://www.w3.org/ns/activitystreams#Public"
    );
    assert!(
        article["summary"]
            .as_str()
            .is_some_and(|summary| !summary.is_empty())
    );
    let hashtags: Vec<&str> = article["tag"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|tag| tag["name"].as_str())
        .collect();
    assert!(hashtags.contains(&"#SocialMedia"), "{hashtags:?}");
    let id = article["id"].as_str().expect("an id").to_owned();
    let path = id.strip_prefix(&app.base_url).expect("ours").to_owned();
    let (status, _, again) = json(&app, &path, "application/activity+json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again, article);
    let page = app
        .client
        .get(&id)
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .expect("answered");
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        page.headers()[header::LOCATION],
        app.url(&format!("/posts/{DEMO_SLUG}"))
    );
    // Drafts are no objects.
    let author = app
        .token("Writer", gazette_store::tokens::Role::Author)
        .await;
    app.create_post(&author, serde_json::json!({ "title": "Not yet" }))
        .await;
    let draft: i64 = app
        .count("select id from posts where slug = 'not-yet'")
        .await;
    assert_eq!(
        json(
            &app,
            &format!("/ap/posts/{draft}"),
            "application/activity+json"
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        json(&app, "/posts/not-yet", "application/activity+json")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    app.stop().await;
}

#[tokio::test]
async fn without_federation_nothing_is_served() {
    let app = TestApp::spawn_api_only().await;
    for path in [
        "/.well-known/webfinger?resource=acct:blog@x",
        "/.well-known/nodeinfo",
        "/nodeinfo/2.1",
        "/actor",
        "/ap/posts/1",
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    app.stop().await;
}
