//! WebSockets as a door into the server: tokens re-checked on open sockets, only
//! subscriptions on them, the close codes of graphql-transport-ws, bounded messages, idle
//! time, sockets per client and subscriptions per socket, one statement per event however
//! many subscribers, and nothing held reaching anonymous subscribers.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use gazette_store::tokens::{self, Role};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::support::{
    Socket, TestApp, WHOLE_BATCHES, add_comment, connect, connect_with, open, published_post,
    receive, send, subscribe, subscribe_to_comments, subscribe_with,
};

/// The close frame's code, if the socket closes within `wait` (other messages are skipped).
async fn closed_with(socket: &mut Socket, wait: Duration) -> Option<u16> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return None,
            Ok(None) | Ok(Some(Err(_))) => return Some(1006),
            Ok(Some(Ok(Message::Close(frame)))) => {
                return Some(frame.map_or(1005, |frame| u16::from(frame.code)));
            }
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// The first error code of a protocol message (`error` or `next` with errors).
fn error_of(message: &Value) -> Option<&str> {
    let errors = match message["type"].as_str() {
        Some("error") => &message["payload"],
        _ => &message["payload"]["errors"],
    };
    errors[0]["extensions"]["code"].as_str()
}

const POST_PUBLISHED: &str = "subscription { postPublished { title } }";

#[tokio::test]
async fn a_revoked_token_stops_working_on_open_sockets() {
    let app = TestApp::spawn_api_only().await;
    let secret = app.token("Night Editor", Role::Admin).await;
    let owner = tokens::authenticate(&app.pool, &secret)
        .await
        .expect("lookup")
        .expect("a valid token");
    let mut socket = connect_with(
        &app,
        "graphql-transport-ws",
        json!({ "Authorization": format!("Bearer {secret}") }),
    )
    .await;
    subscribe(&mut socket, "1", POST_PUBLISHED).await;
    assert!(
        receive(&mut socket, Duration::from_millis(300))
            .await
            .is_none(),
        "the subscription runs"
    );

    assert!(
        tokens::revoke(&app.pool, owner.token_id)
            .await
            .expect("revoke")
    );
    // Either the next operation is refused or the socket is closed first; within seconds,
    // the socket is closed with 4403 either way.
    subscribe(&mut socket, "2", POST_PUBLISHED).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut refused = false;
    let code = loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(Ok(Message::Text(text)))) => {
                let message: Value = serde_json::from_str(&text).expect("json");
                if message["type"] != "complete" {
                    assert_eq!(error_of(&message), Some("UNAUTHENTICATED"), "{message}");
                    refused = true;
                }
            }
            Ok(Some(Ok(Message::Close(frame)))) => break frame.map(|frame| u16::from(frame.code)),
            Ok(Some(Ok(_))) => continue,
            other => panic!("the socket stayed open or broke: {other:?}"),
        }
    };
    assert_eq!(code, Some(4403), "refused first: {refused}");
    app.stop().await;
}

#[tokio::test]
async fn only_subscriptions_run_over_websocket() {
    let app = TestApp::spawn_api_only().await;
    let (_, post) = published_post(&app).await;
    let mut socket = connect(&app, "graphql-transport-ws").await;
    subscribe(&mut socket, "1", "{ posts { totalCount } }").await;
    let answer = receive(&mut socket, Duration::from_secs(10))
        .await
        .expect("an answer");
    assert_eq!(error_of(&answer), Some("OPERATION_NOT_ALLOWED"), "{answer}");
    subscribe_with(
        &mut socket,
        "2",
        "mutation($post: ID!) { addComment(input: {postId: $post, authorName: \"WS\", body: \"over the socket\"}) { comment { id } } }",
        json!({ "post": post }),
    )
    .await;
    let answer = loop {
        let message = receive(&mut socket, Duration::from_secs(10))
            .await
            .expect("an answer");
        if message["id"] == "2" && message["type"] != "complete" {
            break message;
        }
    };
    assert_eq!(error_of(&answer), Some("OPERATION_NOT_ALLOWED"), "{answer}");
    assert_eq!(
        app.count("select count(*) from comments").await,
        0,
        "the mutation did not run"
    );
    app.stop().await;
}

#[tokio::test]
async fn connection_init_is_required_and_checked() {
    let app = TestApp::spawn_api_only().await;
    // A token that is not valid: 4403 Forbidden, as graphql-transport-ws prescribes.
    let mut socket = open(&app, "graphql-transport-ws").await.expect("open");
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": "Bearer gz_nope" } }),
    )
    .await;
    assert_eq!(
        closed_with(&mut socket, Duration::from_secs(10)).await,
        Some(4403)
    );
    // An operation before connection_init: 4401 Unauthorized.
    let mut socket = open(&app, "graphql-transport-ws").await.expect("open");
    subscribe(&mut socket, "1", POST_PUBLISHED).await;
    assert_eq!(
        closed_with(&mut socket, Duration::from_secs(10)).await,
        Some(4401)
    );
    // No connection_init at all: 4408 after ten seconds.
    let mut socket = open(&app, "graphql-transport-ws").await.expect("open");
    assert_eq!(
        closed_with(&mut socket, Duration::from_secs(20)).await,
        Some(4408)
    );
    app.stop().await;
}

#[tokio::test]
async fn oversized_messages_close_the_socket() {
    let app = TestApp::spawn_api_only_with(&["--ws-max-message-bytes", "4096"]).await;
    let mut socket = connect(&app, "graphql-transport-ws").await;
    let padding = "x".repeat(10_000);
    subscribe(
        &mut socket,
        "1",
        &format!("subscription {{ postPublished {{ title }} }} # {padding}"),
    )
    .await;
    assert_eq!(
        closed_with(&mut socket, Duration::from_secs(10)).await,
        Some(1009)
    );
    app.stop().await;
}

#[tokio::test]
async fn idle_sockets_are_closed_and_subscribed_ones_stay() {
    let app = TestApp::spawn_api_only_with(&["--ws-idle-timeout", "1s"]).await;
    let mut idle = connect(&app, "graphql-transport-ws").await;
    let mut busy = connect(&app, "graphql-transport-ws").await;
    subscribe(&mut busy, "1", POST_PUBLISHED).await;
    assert_eq!(
        closed_with(&mut idle, Duration::from_secs(10)).await,
        Some(1000)
    );
    assert_eq!(
        closed_with(&mut busy, Duration::from_secs(3)).await,
        None,
        "a socket with a subscription is not idle"
    );
    // Once its subscription completes, it is idle too.
    send(&mut busy, json!({ "id": "1", "type": "complete" })).await;
    assert_eq!(
        closed_with(&mut busy, Duration::from_secs(10)).await,
        Some(1000)
    );
    app.stop().await;
}

/// A page of another site may not open a socket with its visitors' browsers (cross-site
/// WebSocket hijacking); the site's own pages and clients without `Origin` may.
#[tokio::test]
async fn other_sites_pages_may_not_open_sockets() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    let app = TestApp::spawn_api_only().await;
    let handshake_as = |origin: Option<String>, host: Option<String>| {
        let url = format!(
            "{}/graphql/ws",
            app.base_url.replacen("http://", "ws://", 1)
        );
        let mut request = url.into_client_request().expect("request");
        let headers = request.headers_mut();
        headers.insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        if let Some(origin) = origin {
            headers.insert("origin", HeaderValue::from_str(&origin).expect("origin"));
        }
        if let Some(host) = host {
            headers.insert("host", HeaderValue::from_str(&host).expect("host"));
        }
        async move { tokio_tungstenite::connect_async(request).await }
    };
    let handshake = |origin: Option<String>| handshake_as(origin, None);
    match handshake(Some("https://evil.example".to_owned())).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
        }
        other => panic!(
            "another site's page opened a socket: {:?}",
            other.map(|_| ())
        ),
    }
    // DNS rebinding: a page that pointed its own name at the server, so that its Host
    // and Origin agree (found by a probe).
    let port = app.base_url.rsplit(':').next().unwrap_or_default();
    let rebound = format!("rebind.evil.example:{port}");
    match handshake_as(Some(format!("http://{rebound}")), Some(rebound)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
        }
        other => panic!("a rebound page opened a socket: {:?}", other.map(|_| ())),
    }
    assert!(
        handshake(Some(app.base_url.clone())).await.is_ok(),
        "the site's own page"
    );
    assert!(
        handshake(None).await.is_ok(),
        "a client that is not a browser"
    );
    app.stop().await;
}

/// Documents refused on a socket have a code and count toward the address's penalty; a
/// socket starts at most ten operations a second (twenty at once).
#[tokio::test]
async fn sockets_refusals_count_and_operations_are_paced() {
    let app = TestApp::spawn_api_only_with(&["--graphql-max-refusals-per-minute", "2"]).await;
    let mut socket = connect(&app, "graphql-transport-ws").await;
    for id in ["a", "b", "c"] {
        subscribe(&mut socket, id, "subscription { postPublished { nope } }").await;
        let refused = receive(&mut socket, Duration::from_secs(5))
            .await
            .expect("an answer");
        let completed = receive(&mut socket, Duration::from_secs(5)).await;
        assert_eq!(
            completed.as_ref().map(|message| message["type"].clone()),
            Some(json!("complete"))
        );
        assert_eq!(
            error_of(&refused),
            Some("GRAPHQL_VALIDATION_FAILED"),
            "{refused}"
        );
    }
    subscribe(&mut socket, "d", POST_PUBLISHED).await;
    let penalised = receive(&mut socket, Duration::from_secs(5))
        .await
        .expect("an answer");
    assert_eq!(error_of(&penalised), Some("RATE_LIMITED"), "{penalised}");
    match open(&app, "graphql-transport-ws").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
        }
        other => panic!(
            "a penalised address opened a socket: {:?}",
            other.map(|_| ())
        ),
    }
    app.stop().await;

    let app = TestApp::spawn_api_only_with(&["--ws-max-subscriptions", "100"]).await;
    let mut socket = connect(&app, "graphql-transport-ws").await;
    for n in 0..30 {
        subscribe(&mut socket, &format!("s{n}"), POST_PUBLISHED).await;
    }
    let mut paced = 0;
    while let Some(message) = receive(&mut socket, Duration::from_millis(500)).await {
        if error_of(&message) == Some("RATE_LIMITED") {
            paced += 1;
        }
    }
    assert!(paced >= 5, "{paced} of 30 operations at once were refused");
    app.stop().await;
}

/// Issue 20, item 8: pings (the protocol's, and WebSocket's own) do not keep a socket
/// without subscriptions open, so a few addresses cannot hold every socket forever.
#[tokio::test]
async fn pings_do_not_keep_an_idle_socket_open() {
    let app = TestApp::spawn_api_only_with(&["--ws-idle-timeout", "1s"]).await;
    let mut pinging = connect(&app, "graphql-transport-ws").await;
    let started = tokio::time::Instant::now();
    let mut closed = None;
    // Pings every 200 ms for up to 6 s: the server closes the socket after its idle second.
    while started.elapsed() < Duration::from_secs(6) && closed.is_none() {
        // Not `send`, which fails the test: the server may close between two pings. A stop
        // of an operation that does not exist is no activity either.
        let ping = json!({ "type": "ping" }).to_string();
        pinging.send(Message::text(ping)).await.ok();
        let stop = json!({ "type": "complete", "id": "none" }).to_string();
        pinging.send(Message::text(stop)).await.ok();
        pinging
            .send(Message::Ping(b"still here".to_vec().into()))
            .await
            .ok();
        closed = closed_with(&mut pinging, Duration::from_millis(200)).await;
    }
    assert_eq!(closed, Some(1000), "the pinging socket was closed as idle");
    app.stop().await;
}

#[tokio::test]
async fn sockets_per_client_and_subscriptions_per_socket_are_capped() {
    let app = TestApp::spawn_api_only_with(&[
        "--ws-max-connections-per-client",
        "2",
        "--ws-max-subscriptions",
        "2",
    ])
    .await;
    let mut first = connect(&app, "graphql-transport-ws").await;
    let second = connect(&app, "graphql-transport-ws").await;
    match open(&app, "graphql-transport-ws").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
            assert_eq!(response.headers()["retry-after"], "5");
        }
        other => panic!("a third socket from one address was accepted: {other:?}"),
    }
    // A socket that can never be taken as asked is not told to try again (found by a
    // probe: a missing subprotocol's 400 said `Retry-After: 5`).
    match open(&app, "no-such-protocol").await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
            assert!(response.headers().get("retry-after").is_none());
        }
        other => panic!("a socket without a known protocol was accepted: {other:?}"),
    }
    drop(second);
    // The place frees up once the server sees the socket gone.
    let mut reopened = None;
    for _ in 0..50 {
        if let Ok(socket) = open(&app, "graphql-transport-ws").await {
            reopened = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened.is_some(), "a closed socket frees its place");

    subscribe(&mut first, "1", POST_PUBLISHED).await;
    subscribe(&mut first, "2", POST_PUBLISHED).await;
    subscribe(&mut first, "3", POST_PUBLISHED).await;
    // The three start together; whichever starts last finds the socket full.
    let refused = receive(&mut first, Duration::from_secs(10))
        .await
        .expect("an answer");
    assert_eq!(
        error_of(&refused),
        Some("TOO_MANY_SUBSCRIPTIONS"),
        "{refused}"
    );
    let running: Vec<&str> = ["1", "2", "3"]
        .into_iter()
        .filter(|id| refused["id"] != *id)
        .collect();
    assert_eq!(running.len(), 2, "{refused}");
    // Completing one makes room for another, which then delivers.
    let (completed, kept) = (running[0], running[1]);
    // Drain the refused one's `complete`.
    while let Some(message) = receive(&mut first, Duration::from_millis(300)).await {
        assert_eq!(message["type"], "complete", "{message}");
    }
    send(&mut first, json!({ "id": completed, "type": "complete" })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    subscribe(&mut first, "4", POST_PUBLISHED).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let token = app.token("Publisher", Role::Author).await;
    app.create_post(&token, json!({ "title": "Fresh", "status": "PUBLISHED" }))
        .await;
    let mut delivered_to = Vec::new();
    while let Some(message) = receive(&mut first, Duration::from_secs(3)).await {
        assert!(message["payload"]["errors"].is_null(), "{message}");
        if message["type"] == "next" {
            delivered_to.push(message["id"].as_str().unwrap_or_default().to_owned());
        }
        if delivered_to.len() == 2 {
            break;
        }
    }
    delivered_to.sort();
    let mut expected = vec![kept.to_owned(), "4".to_owned()];
    expected.sort();
    assert_eq!(delivered_to, expected);
    app.stop().await;
}

#[tokio::test]
async fn an_event_costs_one_statement_however_many_subscribe() {
    let app = TestApp::spawn_api_only_with(&WHOLE_BATCHES).await;
    let token = app.token("Publisher", Role::Author).await;
    let draft = app
        .create_post(&token, json!({ "title": "Big news" }))
        .await;
    let mut sockets = Vec::new();
    for _ in 0..8 {
        let mut socket = connect(&app, "graphql-transport-ws").await;
        subscribe(&mut socket, "1", POST_PUBLISHED).await;
        sockets.push(socket);
    }
    // Let every subscription start before the event.
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.database.statements_since_last_count().await;
    sqlx::query("update posts set status = 'published', published_at = now() where slug = $1")
        .bind(draft["slug"].as_str().expect("slug"))
        .execute(&app.pool)
        .await
        .expect("publish");
    for socket in &mut sockets {
        let message = receive(socket, Duration::from_secs(10))
            .await
            .expect("every subscriber gets the event");
        assert_eq!(
            message["payload"]["data"]["postPublished"]["title"],
            "Big news"
        );
    }
    let statements = app.database.statements_since_last_count().await;
    // The update itself, and one read of the post for all eight subscribers.
    assert_eq!(statements, 2, "one statement per event, not per subscriber");
    app.stop().await;
}

#[tokio::test]
async fn replies_under_held_comments_do_not_reach_anonymous_subscribers() {
    let app = TestApp::spawn_api_only().await;
    let (poster, post) = published_post(&app).await;
    let held = add_comment(
        &app,
        None,
        json!({ "postId": post, "authorName": "Linky", "body": "http://a.example http://b.example" }),
    )
    .await;
    let held_id = held["data"]["addComment"]["comment"]["id"].clone();
    assert_eq!(held["data"]["addComment"]["comment"]["status"], "PENDING");

    let mut socket = connect(&app, "graphql-transport-ws").await;
    subscribe_to_comments(&mut socket, "1", &post, "body").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The post's author replies to the held comment: published, but hidden with its parent.
    let reply = add_comment(
        &app,
        Some(&poster),
        json!({ "postId": post, "parentId": held_id, "authorName": "Poster", "body": "reply under a held comment" }),
    )
    .await;
    assert_eq!(
        reply["data"]["addComment"]["comment"]["status"], "PUBLISHED",
        "{reply}"
    );
    add_comment(
        &app,
        None,
        json!({ "postId": post, "authorName": "Ann", "body": "a visible comment" }),
    )
    .await;
    let delivered = receive(&mut socket, Duration::from_secs(10))
        .await
        .expect("a delivery");
    assert_eq!(
        delivered["payload"]["data"]["commentAdded"]["body"], "a visible comment",
        "the hidden reply was not delivered first: {delivered}"
    );
    assert!(
        receive(&mut socket, Duration::from_millis(500))
            .await
            .is_none()
    );
    app.stop().await;
}
