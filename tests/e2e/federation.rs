//! Federation's discovery (docs/federation.md) over real HTTP: WebFinger finds the blog
//! actor by its handle and by its URL, the actor publishes an RSA key that parses as one,
//! NodeInfo says what the server is; without `--federation` none of it is served.

use reqwest::{StatusCode, header};
use rsa::pkcs8::DecodePublicKey;
use serde_json::Value;

use crate::support::TestApp;

async fn json(app: &TestApp, path: &str, accept: &str) -> (StatusCode, String, Value) {
    let response = app
        .client
        .get(app.url(path))
        .header(header::ACCEPT, accept)
        .send()
        .await
        .expect("answered");
    let status = response.status();
    let media_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, media_type, body)
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
    ] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    app.stop().await;
}
