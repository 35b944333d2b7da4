//! Federation's discovery (docs/federation.md) over real HTTP: WebFinger finds the blog
//! actor by its handle and by its URL, the actor publishes an RSA key that parses as one,
//! NodeInfo says what the server is; without `--federation` none of it is served. The
//! inbox over real HTTP, from a remote server on loopback whose actor signs as Mastodon
//! does: what it takes, what it refuses, and that it fetches nothing private unless told
//! to. (The independent implementations — a Fedify peer and fediverse-pasture — are in
//! the client stage: clients/fediverse.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::{StatusCode, header};
use rsa::pkcs8::DecodePublicKey;
use serde_json::Value;

use crate::support::{TestApp, eventually, status_type_json};

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
    // The outbox: the published posts' Creates, newest first, each with its tags.
    let (status, _, outbox) = json(&app, "/actor/outbox", "application/activity+json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(outbox["type"], "OrderedCollection");
    assert_eq!(outbox["totalItems"], 1);
    let first = outbox["first"].as_str().expect("a first page").to_owned();
    let (_, _, page) = json(
        &app,
        first.strip_prefix(&app.base_url).expect("ours"),
        "application/activity+json",
    )
    .await;
    assert_eq!(page["orderedItems"][0]["type"], "Create");
    // The Article itself, but for its @context (the activity's carries it).
    let mut embedded = article.clone();
    embedded
        .as_object_mut()
        .expect("an object")
        .remove("@context");
    assert_eq!(page["orderedItems"][0]["object"], embedded);
    assert!(page.get("next").is_none(), "one post, one page");
    assert_eq!(
        json(&app, "/actor/outbox?page=true&before=nonsense", "*/*")
            .await
            .0,
        StatusCode::BAD_REQUEST
    );

    // The pages and the feeds link the actor; the page shows the handle to follow.
    let page = app
        .get(&format!("/posts/{DEMO_SLUG}"))
        .await
        .text()
        .await
        .expect("a page");
    assert!(
        page.contains(&format!("<link rel=\"me\" href=\"{actor_url}\">")),
        "{page}"
    );
    assert!(page.contains(&format!("@blog@{host}")), "the handle shows");
    let feed = app
        .get(&format!("/posts/{DEMO_SLUG}/comments/feed.xml"))
        .await
        .text()
        .await
        .expect("a feed");
    assert!(
        feed.contains(&format!(
            "<atom:link href=\"{actor_url}\" rel=\"me\" type=\"application/activity+json\"/>"
        )),
        "{feed}"
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

/// A remote fediverse server on loopback with one actor, `carol`, whose key signs what the
/// tests send; it counts the requests it gets, and answers 410 for what is marked gone.
struct RemoteServer {
    origin: String,
    key: gazette_federation::ActorKey,
    requests: Arc<AtomicUsize>,
    gone: Arc<Mutex<Vec<String>>>,
}

impl RemoteServer {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let origin = format!("http://{}", listener.local_addr().expect("bound"));
        let key = gazette_federation::ActorKey::generate().expect("a key");
        let requests = Arc::new(AtomicUsize::new(0));
        let gone: Arc<Mutex<Vec<String>>> = Arc::default();
        let (pem, base, counter, gone_paths) = (
            key.public_pem().to_owned(),
            origin.clone(),
            requests.clone(),
            gone.clone(),
        );
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let (pem, base, counter, gone_paths) =
                (pem.clone(), base.clone(), counter.clone(), gone_paths.clone());
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let path = uri.path().to_owned();
                let is_gone = gone_paths.lock().expect("lock").contains(&path);
                // `/raw/…`: a file anyone could upload, claiming to be `/users/…`.
                let name = path
                    .strip_prefix("/users/")
                    .or_else(|| path.strip_prefix("/raw/"))
                    .filter(|_| !is_gone);
                let Some(name) = name else {
                    return axum::response::IntoResponse::into_response(StatusCode::GONE);
                };
                // `dotted-…`: an actor whose id is spelt unusually (`/users/./name`).
                let id = match name.starts_with("dotted-") {
                    true => format!("{base}/users/./{name}"),
                    false => format!("{base}/users/{name}"),
                };
                let key_id = match path.starts_with("/raw/") {
                    true => format!("{base}{path}#main-key"),
                    false => format!("{id}#main-key"),
                };
                let actor = serde_json::json!({
                    "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
                    "id": id,
                    "type": "Person",
                    "preferredUsername": name,
                    "name": format!("{name} (remote)"),
                    "url": format!("{base}/@{name}"),
                    "inbox": format!("{id}/inbox"),
                    "publicKey": { "id": key_id, "owner": id, "publicKeyPem": pem }
                });
                axum::response::IntoResponse::into_response((
                    [(header::CONTENT_TYPE, "application/activity+json")],
                    actor.to_string(),
                ))
            }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self {
            origin,
            key,
            requests,
            gone,
        }
    }

    fn actor(&self, name: &str) -> String {
        format!("{}/users/{name}", self.origin)
    }

    /// POSTs `activity` to the app's inbox, signed (draft-cavage, as Mastodon signs) by
    /// `name`'s key, dated `age` ago.
    async fn send(
        &self,
        app: &TestApp,
        name: &str,
        activity: &Value,
        age: chrono::TimeDelta,
    ) -> reqwest::Response {
        let host = app.base_url.trim_start_matches("http://").to_owned();
        let key_id = format!("{}#main-key", self.actor(name));
        self.send_as(app, &key_id, &host, activity, age).await
    }

    /// [`RemoteServer::send`] signed with the key `key_id` names, for the host `host`.
    async fn send_as(
        &self,
        app: &TestApp,
        key_id: &str,
        host: &str,
        activity: &Value,
        age: chrono::TimeDelta,
    ) -> reqwest::Response {
        use gazette_federation::signatures;
        let body = activity.to_string();
        let date = (chrono::Utc::now() - age)
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let digest = signatures::digest(body.as_bytes());
        let headers = [
            ("host", host),
            ("date", date.as_str()),
            ("digest", digest.as_str()),
        ];
        let signature = signatures::sign(
            self.key.private(),
            key_id,
            &signatures::Request {
                method: "post",
                target: "/actor/inbox",
                headers: &headers,
            },
            &signatures::SIGNED_HEADERS,
        )
        .expect("signed");
        app.client
            .post(app.url("/actor/inbox"))
            .header(header::HOST, host)
            .header(header::CONTENT_TYPE, "application/activity+json")
            .header(header::DATE, date)
            .header("digest", digest)
            .header("signature", signature)
            .body(body)
            .send()
            .await
            .expect("answered")
    }
}

async fn reactions(app: &TestApp) -> (i64, i64) {
    let answer = app
        .graphql(
            "query($slug: String) { post(slug: $slug) { fediverseLikes fediverseBoosts } }",
            serde_json::json!({ "slug": DEMO_SLUG }),
        )
        .await;
    let post = &answer["data"]["post"];
    (
        post["fediverseLikes"].as_i64().expect("likes"),
        post["fediverseBoosts"].as_i64().expect("boosts"),
    )
}

async fn comment_bodies(app: &TestApp) -> Vec<String> {
    let answer = app
        .graphql(
            "query($slug: String) { post(slug: $slug) { comments(first: 50) { nodes { body author { name url } } } } }",
            serde_json::json!({ "slug": DEMO_SLUG }),
        )
        .await;
    answer["data"]["post"]["comments"]["nodes"]
        .as_array()
        .expect("comments")
        .iter()
        .filter_map(|comment| comment["body"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn the_inbox_takes_signed_activities_and_refuses_the_rest() {
    let app =
        TestApp::spawn_with(true, false, &["--federation", "--federation-allow-private"]).await;
    let remote = RemoteServer::start().await;
    let carol = remote.actor("carol");
    let post = app.url(&format!("/posts/{DEMO_SLUG}"));
    let fresh = chrono::TimeDelta::zero();
    let like = |id: &str| {
        serde_json::json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{carol}/likes/{id}"), "type": "Like", "actor": carol, "object": post
        })
    };

    // A Like is counted once per actor, whatever is sent again; a boost apart.
    for id in ["1", "1", "2"] {
        let sent = remote.send(&app, "carol", &like(id), fresh).await;
        assert_eq!(sent.status(), StatusCode::ACCEPTED);
    }
    let boost = serde_json::json!({
        "id": format!("{carol}/boosts/1"), "type": "Announce", "actor": carol, "object": post
    });
    assert_eq!(
        remote.send(&app, "carol", &boost, fresh).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(reactions(&app).await, (1, 1));
    // The key was fetched once and kept.
    assert_eq!(remote.requests.load(Ordering::SeqCst), 1);

    // A reply becomes a comment with the actor's name and profile; sent twice, once.
    let reply = serde_json::json!({
        "id": format!("{carol}/notes/1/activity"), "type": "Create", "actor": carol,
        "object": {
            "id": format!("{carol}/notes/1"), "type": "Note", "attributedTo": carol,
            "inReplyTo": post, "content": "<p>Thanks for <strong>this</strong>!<script>x()</script></p>"
        }
    });
    for _ in 0..2 {
        assert_eq!(
            remote.send(&app, "carol", &reply, fresh).await.status(),
            StatusCode::ACCEPTED
        );
    }
    let bodies = comment_bodies(&app).await;
    assert_eq!(
        bodies
            .iter()
            .filter(|body| body.starts_with("Thanks for"))
            .collect::<Vec<_>>(),
        ["Thanks for **this**!"],
        "sanitised, once: {bodies:?}"
    );

    // Refused: unsigned, old, signed by another actor's key, altered, too large.
    let unsigned = app
        .client
        .post(app.url("/actor/inbox"))
        .body(like("3").to_string())
        .send()
        .await
        .expect("answered");
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    let old = remote
        .send(&app, "carol", &like("4"), chrono::TimeDelta::hours(13))
        .await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    let mut impostor = like("5");
    impostor["actor"] = Value::String(remote.actor("dave"));
    assert_eq!(
        remote.send(&app, "carol", &impostor, fresh).await.status(),
        StatusCode::UNAUTHORIZED,
        "carol's key does not speak for dave"
    );
    let large = serde_json::json!({
        "id": format!("{carol}/likes/6"), "type": "Like", "actor": carol, "object": post,
        "padding": "x".repeat(300 * 1024)
    });
    assert_eq!(
        remote.send(&app, "carol", &large, fresh).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    // A document that is not at its id's address speaks for no one (a file uploaded to
    // the actor's server, claiming to be carol).
    let app_host = app.base_url.trim_start_matches("http://").to_owned();
    let posing = remote
        .send_as(
            &app,
            &format!("{}/raw/carol#main-key", remote.origin),
            &app_host,
            &like("9"),
            fresh,
        )
        .await;
    assert_eq!(posing.status(), StatusCode::UNAUTHORIZED);
    // Signed for another server (whose inbox has the same path): not good here.
    let elsewhere = remote
        .send_as(
            &app,
            &format!("{carol}#main-key"),
            "blog-x.example",
            &like("10"),
            fresh,
        )
        .await;
    assert_eq!(elsewhere.status(), StatusCode::UNAUTHORIZED);
    // Ids on another server than the actor's are not the actor's to use.
    let mut foreign = like("11");
    foreign["id"] = Value::String("https://mastodon.example/likes/1".to_owned());
    assert_eq!(
        remote.send(&app, "carol", &foreign, fresh).await.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(reactions(&app).await, (1, 1), "nothing refused was counted");

    // A blocked instance gets 403 and nothing is fetched from it; unblocked, it is heard.
    let admin = app
        .token("Site Admin", gazette_store::tokens::Role::Admin)
        .await;
    let blocked = app
        .graphql_as(
            Some(&admin),
            "mutation($host: String!) { blockFederatedInstance(input: { host: $host }) { block { kind value } } }",
            // The host without its port: a block covers the host on every port.
            serde_json::json!({ "host": "https://127.0.0.1." }),
        )
        .await;
    assert_eq!(
        blocked["data"]["blockFederatedInstance"]["block"]["value"], "127.0.0.1",
        "{blocked}"
    );
    let fetched = remote.requests.load(Ordering::SeqCst);
    assert_eq!(
        remote.send(&app, "carol", &like("7"), fresh).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(remote.requests.load(Ordering::SeqCst), fetched);
    let anonymous = app
        .graphql(
            "mutation { blockFederatedInstance(input: { host: \"x.example\" }) { block { kind } } }",
            Value::Null,
        )
        .await;
    assert_eq!(
        anonymous["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );
    app.graphql_as(
        Some(&admin),
        "mutation($host: String!) { unblockFederatedInstance(input: { host: $host }) { changed } }",
        serde_json::json!({ "host": "127.0.0.1" }),
    )
    .await;

    // The reply is edited, then its author is deleted: the comment goes.
    let mut edit = reply.clone();
    edit["type"] = Value::String("Update".to_owned());
    edit["id"] = Value::String(format!("{carol}/notes/1/edit"));
    edit["object"]["content"] = Value::String("<p>Thanks, edited.</p>".to_owned());
    assert_eq!(
        remote.send(&app, "carol", &edit, fresh).await.status(),
        StatusCode::ACCEPTED
    );
    assert!(
        comment_bodies(&app)
            .await
            .contains(&"Thanks, edited.".to_owned())
    );
    let delete = serde_json::json!({
        "id": format!("{carol}#delete"), "type": "Delete", "actor": carol, "object": carol
    });
    assert_eq!(
        remote.send(&app, "carol", &delete, fresh).await.status(),
        StatusCode::ACCEPTED
    );
    assert!(
        !comment_bodies(&app)
            .await
            .iter()
            .any(|body| body.starts_with("Thanks")),
        "a deleted actor's comments go"
    );

    // A key that is gone signs nothing, except a Delete of what is gone too — and only
    // with the key kept from before: a never-seen key that is gone verifies nothing.
    let erin = remote.actor("erin");
    let mut from_erin = like("8");
    from_erin["actor"] = Value::String(erin.clone());
    assert_eq!(
        remote.send(&app, "erin", &from_erin, fresh).await.status(),
        StatusCode::ACCEPTED
    );
    remote
        .gone
        .lock()
        .expect("lock")
        .push("/users/erin".to_owned());
    sqlx::query("update federation_actors set fetched_at = now() - interval '2 days'")
        .execute(&app.pool)
        .await
        .expect("the kept key made stale");
    let mut again = like("12");
    again["actor"] = Value::String(erin.clone());
    assert_eq!(
        remote.send(&app, "erin", &again, fresh).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let erin_gone = serde_json::json!({
        "id": format!("{erin}#delete"), "type": "Delete", "actor": erin, "object": erin
    });
    assert_eq!(
        remote.send(&app, "erin", &erin_gone, fresh).await.status(),
        StatusCode::ACCEPTED
    );
    remote
        .gone
        .lock()
        .expect("lock")
        .push("/users/frank".to_owned());
    let frank = remote.actor("frank");
    let frank_gone = serde_json::json!({
        "id": format!("{frank}#delete"), "type": "Delete", "actor": frank, "object": frank
    });
    assert_eq!(
        remote
            .send(&app, "frank", &frank_gone, fresh)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
}

/// Found by a probe of a running server: a key id that does not exist could make an
/// actor's real key fail for five minutes; an actor spelling its id unusually escaped
/// blocks; a NUL character was a 503; a padded Follow came back as large in its Accept;
/// one note sent to two posts became two comments.
#[tokio::test]
async fn hostile_peers_cannot_poison_keys_dodge_blocks_or_write_a_note_twice() {
    let app =
        TestApp::spawn_with(true, false, &["--federation", "--federation-allow-private"]).await;
    let remote = RemoteServer::start().await;
    let carol = remote.actor("carol");
    let post = app.url(&format!("/posts/{DEMO_SLUG}"));
    let host = app.base_url.trim_start_matches("http://").to_owned();
    let fresh = chrono::TimeDelta::zero();
    let like = |actor: &str, id: &str| {
        serde_json::json!({
            "id": format!("{actor}/likes/{id}"), "type": "Like", "actor": actor, "object": post
        })
    };

    // A request naming a key carol's document does not list fails alone: her real key
    // still verifies at once, and her document was fetched once for both.
    let bogus_key = format!("{carol}#no-such-key");
    let bogus = remote
        .send_as(&app, &bogus_key, &host, &like(&carol, "1"), fresh)
        .await;
    assert_eq!(bogus.status(), StatusCode::UNAUTHORIZED);
    let real = remote.send(&app, "carol", &like(&carol, "2"), fresh).await;
    assert_eq!(real.status(), StatusCode::ACCEPTED);
    assert_eq!(remote.requests.load(Ordering::SeqCst), 1);
    assert_eq!(reactions(&app).await, (1, 0));

    // Any NUL character is a 400, not a database error.
    let mut with_nul = like(&carol, "3");
    with_nul["junk"] = Value::String("a\u{0}b".to_owned());
    let refused = remote.send(&app, "carol", &with_nul, fresh).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.expect("body").contains("NUL"));

    // A note nested 60,000 deep (180 KB) is refused before the sanitiser would spend
    // minutes on it.
    let deep_note = serde_json::json!({
        "id": format!("{carol}/notes/deep/activity"), "type": "Create", "actor": carol,
        "object": {
            "id": format!("{carol}/notes/deep"), "type": "Note", "attributedTo": carol,
            "inReplyTo": post, "content": "<b>".repeat(60_000)
        }
    });
    let refused = remote.send(&app, "carol", &deep_note, fresh).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(
        refused
            .text()
            .await
            .expect("body")
            .contains("nests more than 256 elements deep")
    );

    // An actor whose id is not in the URL's usual form is nobody.
    let dotted = format!("{}/users/./dotted-mallory", remote.origin);
    let dodging = remote
        .send_as(
            &app,
            &format!("{dotted}#main-key"),
            &host,
            &like(&dotted, "1"),
            fresh,
        )
        .await;
    assert_eq!(dodging.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(reactions(&app).await, (1, 0));

    // The same note, sent again to another post, is still the one comment it is.
    let admin = app
        .token("Editor", gazette_store::tokens::Role::Admin)
        .await;
    let second = app
        .create_post(
            &admin,
            serde_json::json!({ "title": "Second", "status": "PUBLISHED" }),
        )
        .await;
    let second_url = app.url(&format!(
        "/posts/{}",
        second["slug"].as_str().expect("slug")
    ));
    for (activity, in_reply_to) in [("a", &post), ("b", &second_url)] {
        let create = serde_json::json!({
            "id": format!("{carol}/notes/7/{activity}"), "type": "Create", "actor": carol,
            "object": {
                "id": format!("{carol}/notes/7"), "type": "Note", "attributedTo": carol,
                "inReplyTo": in_reply_to, "content": "<p>Same note twice</p>"
            }
        });
        assert_eq!(
            remote.send(&app, "carol", &create, fresh).await.status(),
            StatusCode::ACCEPTED
        );
    }
    assert_eq!(
        app.count("select count(*) from comments where body = 'Same note twice'")
            .await,
        1
    );

    // With no follower yet, the blog's answer to that reply still goes out (to the
    // reply's author), and so does taking the reply down.
    let queued =
        "select count(*) from federation_queue q join outbox_events e on e.id = q.event_id";
    assert_eq!(app.count(queued).await, 0);
    let note_comment = app
        .graphql(
            "query($slug: String) { post(slug: $slug) { comments(first: 50) { nodes { id body } } } }",
            serde_json::json!({ "slug": DEMO_SLUG }),
        )
        .await["data"]["post"]["comments"]["nodes"]
        .as_array()
        .expect("comments")
        .iter()
        .find(|comment| comment["body"] == "Same note twice")
        .map(|comment| comment["id"].clone())
        .expect("the note's comment");
    let answered = app
        .graphql_as(
            Some(&admin),
            "mutation($post: ID!, $parent: ID!) { addComment(input: { postId: $post, parentId: $parent, authorName: \"Editor\", body: \"An answer\" }) { comment { status } } }",
            serde_json::json!({ "post": app.graphql("query($slug: String) { post(slug: $slug) { id } }", serde_json::json!({ "slug": DEMO_SLUG })).await["data"]["post"]["id"], "parent": note_comment }),
        )
        .await;
    assert_eq!(
        answered["data"]["addComment"]["comment"]["status"], "PUBLISHED",
        "{answered}"
    );
    let spam = app
        .graphql_as(
            Some(&admin),
            "mutation($id: ID!) { markCommentSpam(input: { id: $id }) { comment { status } } }",
            serde_json::json!({ "id": note_comment }),
        )
        .await;
    assert!(spam.get("errors").is_none(), "{spam}");
    assert_eq!(
        app.count("select count(*) from federation_queue q join outbox_events e on e.id = q.event_id where e.type in ('comment.created', 'comment.unpublished')")
            .await,
        2
    );

    // A Follow padded with anything is accepted with an Accept that restates it.
    let follow = serde_json::json!({
        "id": format!("{carol}/follows/1"), "type": "Follow", "actor": carol,
        "object": app.url("/actor"), "padding": "p".repeat(50_000)
    });
    assert_eq!(
        remote.send(&app, "carol", &follow, fresh).await.status(),
        StatusCode::ACCEPTED
    );
    assert_eq!(
        app.count("select count(*) from federation_deliveries where activity->>'type' = 'Accept'")
            .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from federation_deliveries where length(activity::text) > 2000")
            .await,
        0
    );

    // Blocking carol gives up what still waits for her own inbox (no worker runs here,
    // so the Accept is waiting), even while an attempt is under way: claimed here as a
    // worker claims it, failed after the block, it is not brought back to be retried.
    let claimed = gazette_store::federation::claim_deliveries(
        &app.pool,
        10,
        std::time::Duration::from_secs(20),
        &[],
    )
    .await
    .expect("claimed");
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    // Two actors this blog knows on other servers: one alone on its shared inbox, two
    // sharing another, each with a delivery waiting there.
    for statement in [
        "insert into federation_actors (id, host, inbox, shared_inbox, key_id, public_key_pem) values \
         ('https://alone.example/users/g', 'alone.example', 'https://alone.example/users/g/inbox', 'https://alone.example/inbox', 'k', 'p'), \
         ('https://pair.example/users/h', 'pair.example', 'https://pair.example/users/h/inbox', 'https://pair.example/inbox', 'k', 'p'), \
         ('https://pair.example/users/i', 'pair.example', 'https://pair.example/users/i/inbox', 'https://pair.example/inbox', 'k', 'p')",
        "insert into federation_deliveries (inbox, host, activity) values \
         ('https://alone.example/inbox', 'alone.example', '{}'), ('https://pair.example/inbox', 'pair.example', '{}')",
    ] {
        sqlx::query(statement)
            .execute(&app.pool)
            .await
            .expect("actors elsewhere");
    }
    let blocked = app
        .graphql_as(
            Some(&admin),
            "mutation($actor: String!) { blockFederatedActor(input: { actor: $actor }) { block { value } } }",
            serde_json::json!({ "actor": carol }),
        )
        .await;
    assert!(blocked.get("errors").is_none(), "{blocked}");
    gazette_store::federation::record_failed(
        &app.pool,
        claimed[0].id,
        Some(503),
        "busy",
        Some(chrono::Utc::now()),
    )
    .await
    .expect("the attempt's outcome");
    for actor in [
        "https://alone.example/users/g",
        "https://pair.example/users/h",
    ] {
        let blocked = app
            .graphql_as(
                Some(&admin),
                "mutation($actor: String!) { blockFederatedActor(input: { actor: $actor }) { block { value } } }",
                serde_json::json!({ "actor": actor }),
            )
            .await;
        assert!(blocked.get("errors").is_none(), "{blocked}");
    }
    let states: Vec<(String, String)> =
        sqlx::query_as("select host, status from federation_deliveries order by id")
            .fetch_all(&app.pool)
            .await
            .expect("deliveries");
    assert_eq!(
        states
            .iter()
            .map(|(_, status)| status.as_str())
            .collect::<Vec<_>>(),
        ["failed", "failed", "pending"],
        "carol's Accept and the lone actor's shared inbox are given up; the shared one is kept: {states:?}"
    );
    assert_eq!(
        app.count("select count(*) from federation_deliveries where status = 'failed' and last_error = 'The receiver was blocked.'")
            .await,
        2
    );

    app.stop().await;
}

/// Replies from one instance share a rate limit (one server cannot flood a thread by
/// making accounts), charged only for replies that become comments: found by reading the
/// code, an actor sending notes the comment rules refuse used up its instance's quota.
#[tokio::test]
async fn an_instance_quota_is_charged_only_for_replies_written() {
    let app = TestApp::spawn_with(
        true,
        false,
        &[
            "--federation",
            "--federation-allow-private",
            "--comment-rate-limit",
            "2",
        ],
    )
    .await;
    // The worker counts deliveries per instance as the database's claim does.
    for host in [
        "Mastodon.Example:8443",
        "a.example.",
        "[2001:db8::1]:443",
        "127.0.0.1",
    ] {
        let in_sql: String = sqlx::query_scalar("select federation_hostname($1)")
            .bind(host)
            .fetch_one(&app.pool)
            .await
            .expect("federation_hostname");
        assert_eq!(
            gazette_domain::federation::instance_of(host),
            in_sql,
            "{host}"
        );
    }
    let remote = RemoteServer::start().await;
    let post = app.url(&format!("/posts/{DEMO_SLUG}"));
    let fresh = chrono::TimeDelta::zero();
    let note = |name: &str, id: u32, content: &str| {
        let actor = remote.actor(name);
        serde_json::json!({
            "id": format!("{actor}/notes/{id}/activity"), "type": "Create", "actor": actor,
            "object": {
                "id": format!("{actor}/notes/{id}"), "type": "Note", "attributedTo": actor,
                "inReplyTo": post, "content": content
            }
        })
    };
    // Dave's empty notes are refused by the comment rules, and cost his server nothing.
    for id in 1..=3 {
        let refused = remote
            .send(&app, "dave", &note("dave", id, "<p> </p>"), fresh)
            .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    }
    // Two replies from the instance are written; the third, from a third account, waits.
    for name in ["erin", "frank"] {
        let written = remote
            .send(&app, name, &note(name, 1, "<p>Agreed.</p>"), fresh)
            .await;
        assert_eq!(written.status(), StatusCode::ACCEPTED, "{name}");
    }
    let limited = remote
        .send(&app, "grace", &note("grace", 1, "<p>Me too.</p>"), fresh)
        .await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key(header::RETRY_AFTER));
    assert_eq!(
        app.count("select count(*) from comments where body in ('Agreed.', 'Me too.')")
            .await,
        2
    );
    app.stop().await;
}

#[tokio::test]
async fn without_the_setting_private_addresses_are_never_fetched() {
    let app = TestApp::spawn_with(true, false, &["--federation"]).await;
    let remote = RemoteServer::start().await;
    let carol = remote.actor("carol");
    let like = serde_json::json!({
        "id": format!("{carol}/likes/1"), "type": "Like", "actor": carol,
        "object": app.url(&format!("/posts/{DEMO_SLUG}"))
    });
    let sent = remote
        .send(&app, "carol", &like, chrono::TimeDelta::zero())
        .await;
    assert_eq!(sent.status(), StatusCode::UNAUTHORIZED);
    // What the fetch met is not told (it would let anyone probe what the server reaches).
    let reason = sent.text().await.expect("a reason");
    assert_eq!(
        reason,
        "The signer's key could not be fetched from its actor.\n"
    );
    assert_eq!(
        remote.requests.load(Ordering::SeqCst),
        0,
        "nothing was fetched from a loopback address"
    );
    app.stop().await;
}

#[tokio::test]
async fn follows_wait_for_an_admin_when_asked_and_the_list_is_public_only_when_asked() {
    let app = TestApp::spawn_with(
        true,
        false,
        &[
            "--federation",
            "--federation-allow-private",
            "--federation-approve-followers",
            "--federation-list-followers",
        ],
    )
    .await;
    let remote = RemoteServer::start().await;
    let carol = remote.actor("carol");
    let follow = serde_json::json!({
        "id": format!("{carol}/follows/1"), "type": "Follow", "actor": carol,
        "object": app.url("/actor")
    });
    let fresh = chrono::TimeDelta::zero();
    assert_eq!(
        remote.send(&app, "carol", &follow, fresh).await.status(),
        StatusCode::ACCEPTED
    );
    let (_, _, collection) = json(&app, "/actor/followers", "application/activity+json").await;
    assert_eq!(
        collection["totalItems"], 0,
        "a waiting follow is no follower"
    );
    let admin = app
        .token("Site Admin", gazette_store::tokens::Role::Admin)
        .await;
    let listed = app
        .graphql_as(
            Some(&admin),
            "{ federationFollowers { actor state } }",
            Value::Null,
        )
        .await;
    assert_eq!(
        listed["data"]["federationFollowers"],
        serde_json::json!([{ "actor": carol, "state": "pending" }])
    );
    let accepts = "select count(*) from federation_deliveries where activity->>'type' = 'Accept'";
    assert_eq!(app.count(accepts).await, 0);
    let approved = app
        .graphql_as(
            Some(&admin),
            "mutation($actor: String!) { approveFederationFollower(input: { actor: $actor }) { changed } }",
            serde_json::json!({ "actor": carol }),
        )
        .await;
    assert_eq!(
        approved["data"]["approveFederationFollower"]["changed"], true,
        "{approved}"
    );
    assert_eq!(app.count(accepts).await, 1, "the follower is told");
    let (_, _, collection) = json(&app, "/actor/followers", "application/activity+json").await;
    assert_eq!(collection["totalItems"], 1);
    let first = collection["first"]
        .as_str()
        .expect("a first page")
        .to_owned();
    let path = first.strip_prefix(&app.base_url).expect("ours").to_owned();
    let (_, _, page) = json(&app, &path, "application/activity+json").await;
    assert_eq!(page["orderedItems"], serde_json::json!([carol]));
    assert_eq!(
        json(&app, "/actor/followers?page=0", "*/*").await.0,
        StatusCode::BAD_REQUEST
    );

    // Undo of the follow ends it.
    let undo = serde_json::json!({
        "id": format!("{carol}/follows/1/undo"), "type": "Undo", "actor": carol,
        "object": follow
    });
    assert_eq!(
        remote.send(&app, "carol", &undo, fresh).await.status(),
        StatusCode::ACCEPTED
    );
    let (_, _, collection) = json(&app, "/actor/followers", "application/activity+json").await;
    assert_eq!(collection["totalItems"], 0);
    app.stop().await;
}

/// The state of the blog `app` follows at `actor`, once it is `state` (bounded wait).
async fn following_state(app: &TestApp, admin: &str, actor: &str, state: &str) -> bool {
    eventually(100, || async {
        let answer = app
            .graphql_as(
                Some(admin),
                "{ federationFollowing { actor state } }",
                Value::Null,
            )
            .await;
        answer["data"]["federationFollowing"]
            .as_array()
            .is_some_and(|rows| {
                rows.iter()
                    .any(|row| row["actor"] == actor && row["state"] == state)
            })
            .then_some(())
    })
    .await
    .is_some()
}

#[tokio::test]
async fn two_gazette_blogs_follow_each_other_and_a_reply_from_one_is_a_comment_on_the_other() {
    let args = ["--federation", "--federation-allow-private"];
    let ministry = TestApp::spawn_with(true, true, &args).await;
    let agency = TestApp::spawn_with(true, true, &args).await;
    let role = gazette_store::tokens::Role::Admin;
    let (ministry_admin, agency_admin) = (
        ministry.token("Ministry Admin", role).await,
        agency.token("Agency Admin", role).await,
    );
    let (ministry_actor, agency_actor) = (ministry.url("/actor"), agency.url("/actor"));

    // Each follows the other: a signed Follow one way, a signed Accept back, both ways.
    for (app, admin, other) in [
        (&agency, &agency_admin, &ministry_actor),
        (&ministry, &ministry_admin, &agency_actor),
    ] {
        let followed = app
            .graphql_as(
                Some(admin),
                "mutation($actor: String!) { followFederatedActor(input: { actor: $actor }) { following { actor state } } }",
                serde_json::json!({ "actor": other }),
            )
            .await;
        assert_eq!(
            followed["data"]["followFederatedActor"]["following"]["state"], "pending",
            "{followed}"
        );
        assert!(
            following_state(app, admin, other, "accepted").await,
            "the follow of {other} was accepted"
        );
    }
    let (_, _, followers) = json(&ministry, "/actor/followers", "application/activity+json").await;
    assert_eq!(followers["totalItems"], 1);

    // A writer at the agency replies to the ministry's post: it is a comment there.
    let writer = agency
        .token("Agency Writer", gazette_store::tokens::Role::Author)
        .await;
    let (_, _, article) = json(
        &ministry,
        &format!("/posts/{DEMO_SLUG}"),
        "application/activity+json",
    )
    .await;
    let replied = agency
        .graphql_as(
            Some(&writer),
            "mutation($object: String!) { replyToFederatedPost(input: { objectId: $object, body: \"We did the same at the agency.\" }) { reply { id inReplyTo authorName } } }",
            serde_json::json!({ "object": article["id"] }),
        )
        .await;
    let reply = &replied["data"]["replyToFederatedPost"]["reply"];
    assert_eq!(reply["inReplyTo"], article["id"], "{replied}");
    assert_eq!(reply["authorName"], "Agency Writer");
    // Its object is served where its id says.
    let reply_path = reply["id"]
        .as_str()
        .and_then(|id| id.strip_prefix(&agency.base_url))
        .expect("the agency's")
        .to_owned();
    let (status, _, note) = json(&agency, &reply_path, "application/activity+json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(note["attributedTo"], agency_actor);

    let commented = eventually(100, || async {
        let bodies = comment_bodies(&ministry).await;
        bodies
            .iter()
            .any(|body| body.contains("We did the same at the agency."))
            .then_some(bodies)
    })
    .await;
    assert!(
        commented.is_some(),
        "the agency's reply is a comment under the ministry's post"
    );

    // The writer sees and withdraws it (no other writer may): the comment goes there too.
    let listed = agency
        .graphql_as(
            Some(&writer),
            "{ federationReplies { databaseId deletedAt } }",
            Value::Null,
        )
        .await;
    let reply_number = listed["data"]["federationReplies"][0]["databaseId"].clone();
    assert!(reply_number.is_i64(), "{listed}");
    let delete =
        "mutation($id: Int!) { deleteFederatedReply(input: { id: $id }) { reply { deletedAt } } }";
    let stranger = agency
        .token("Another Writer", gazette_store::tokens::Role::Author)
        .await;
    let refused = agency
        .graphql_as(
            Some(&stranger),
            delete,
            serde_json::json!({ "id": reply_number }),
        )
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "NOT_FOUND");
    let withdrawn = agency
        .graphql_as(
            Some(&writer),
            delete,
            serde_json::json!({ "id": reply_number }),
        )
        .await;
    assert!(
        withdrawn["data"]["deleteFederatedReply"]["reply"]["deletedAt"].is_string(),
        "{withdrawn}"
    );
    let gone = agency.get(&reply_path).await;
    assert_eq!(gone.status(), StatusCode::GONE);
    let removed = eventually(100, || async {
        let bodies = comment_bodies(&ministry).await;
        (!bodies
            .iter()
            .any(|body| body.contains("We did the same at the agency.")))
        .then_some(())
    })
    .await;
    assert!(
        removed.is_some(),
        "the withdrawn reply is gone from the ministry"
    );

    // Unfollowing is told to the other side.
    let stopped = agency
        .graphql_as(
            Some(&agency_admin),
            "mutation($actor: String!) { unfollowFederatedActor(input: { actor: $actor }) { changed } }",
            serde_json::json!({ "actor": ministry_actor }),
        )
        .await;
    assert_eq!(stopped["data"]["unfollowFederatedActor"]["changed"], true);
    let unfollowed = eventually(100, || async {
        let (_, _, followers) =
            json(&ministry, "/actor/followers", "application/activity+json").await;
        (followers["totalItems"] == 0).then_some(())
    })
    .await;
    assert!(unfollowed.is_some(), "the ministry lost its follower");
    // Following again is a new follow (a server takes an activity id once).
    agency
        .graphql_as(
            Some(&agency_admin),
            "mutation($actor: String!) { followFederatedActor(input: { actor: $actor }) { following { state } } }",
            serde_json::json!({ "actor": ministry_actor }),
        )
        .await;
    assert!(
        following_state(&agency, &agency_admin, &ministry_actor, "accepted").await,
        "followed again"
    );

    // What a reply may not answer: this site's own post, an account, an address that
    // does not answer — and the writer learns nothing of what the fetch met.
    let reply_to = |object: String| {
        let agency = &agency;
        let writer = &writer;
        async move {
            agency
                .graphql_as(
                    Some(writer),
                    "mutation($object: String!) { replyToFederatedPost(input: { objectId: $object, body: \"x\" }) { reply { id } } }",
                    serde_json::json!({ "object": object }),
                )
                .await
        }
    };
    for (object, message) in [
        (
            agency.url(&format!("/posts/{DEMO_SLUG}")),
            "This is this site's own address: comment on the post here instead.",
        ),
        (
            ministry_actor.clone(),
            "This address does not hold a post (a Note, Article or Page) of its own server.",
        ),
        (
            "http://127.0.0.1:1/notes/1".to_owned(),
            "The post could not be fetched from its server (it must be a public https address).",
        ),
    ] {
        let refused = reply_to(object.clone()).await;
        assert_eq!(
            refused["errors"][0]["message"], message,
            "{object}: {refused}"
        );
    }
    agency.stop().await;
    ministry.stop().await;
}
