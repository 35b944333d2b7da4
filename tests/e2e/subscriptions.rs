//! Subscriptions over WebSocket, in both protocols, across two API processes on one
//! database: events travel through PostgreSQL LISTEN/NOTIFY.

use std::time::Duration;

use gazette_store::tokens::Role;
use serde_json::{Value, json};

use crate::support::{
    Socket, TestApp, add_comment, connect, published_post, receive, send, subscribe,
    subscribe_to_comments,
};

/// Runs `trigger` until the subscription delivers (the server sets the subscription up
/// asynchronously, so the first triggers may come too early); returns the delivery.
async fn first_delivery<F, Fut>(socket: &mut Socket, mut trigger: F) -> Value
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = ()>,
{
    for attempt in 0..20 {
        trigger(attempt).await;
        if let Some(message) = receive(socket, Duration::from_millis(500)).await {
            return message;
        }
    }
    panic!("the subscription delivered nothing");
}

#[tokio::test]
async fn comments_reach_subscribers_of_another_process() {
    let writer = TestApp::spawn().await;
    let reader = writer.another_instance().await;
    let (poster, post) = published_post(&writer).await;
    let mut socket = connect(&reader, "graphql-transport-ws").await;
    subscribe_to_comments(&mut socket, "1", &post, "body status author { name }").await;

    let first = first_delivery(&mut socket, |attempt| {
        let writer = &writer;
        let post = post.clone();
        async move {
            let response = add_comment(
                writer,
                None,
                json!({ "postId": post, "authorName": "Ann", "body": format!("hello {attempt}") }),
            )
            .await;
            assert!(response.get("errors").is_none(), "{response}");
        }
    })
    .await;
    assert_eq!(first["type"], "next", "{first}");
    assert_eq!(first["id"], "1");
    assert_eq!(
        first["payload"]["data"]["commentAdded"]["author"]["name"],
        "Ann"
    );
    assert!(
        first["payload"]["data"]["commentAdded"]["body"]
            .as_str()
            .is_some_and(|b| b.starts_with("hello"))
    );
    // Drain deliveries of any earlier attempts.
    while receive(&mut socket, Duration::from_millis(300))
        .await
        .is_some()
    {}

    // Held comments are not announced; approving one is.
    let held = add_comment(&writer, None, json!({ "postId": post, "authorName": "Spam", "body": "http://a.example http://b.example" })).await;
    add_comment(
        &writer,
        None,
        json!({ "postId": post, "authorName": "Ben", "body": "published" }),
    )
    .await;
    let next = receive(&mut socket, Duration::from_secs(10))
        .await
        .expect("a delivery");
    assert_eq!(
        next["payload"]["data"]["commentAdded"]["body"], "published",
        "{next}"
    );
    writer
        .graphql_as(
            Some(&poster),
            "mutation($id: ID!) { approveComment(input: {id: $id}) { comment { status } } }",
            json!({ "id": held["data"]["addComment"]["comment"]["id"] }),
        )
        .await;
    let approved = receive(&mut socket, Duration::from_secs(10))
        .await
        .expect("a delivery");
    assert_eq!(
        approved["payload"]["data"]["commentAdded"]["author"]["name"],
        "Spam"
    );
    assert_eq!(
        approved["payload"]["data"]["commentAdded"]["status"],
        "PUBLISHED"
    );

    send(&mut socket, json!({ "id": "1", "type": "complete" })).await;
    socket.close(None).await.expect("close");
    reader.stop().await;
    writer.stop().await;
}

#[tokio::test]
async fn the_legacy_protocol_announces_published_posts() {
    let writer = TestApp::spawn().await;
    let reader = writer.another_instance().await;
    let token = writer.token("Poster", Role::Author).await;
    let mut socket = connect(&reader, "graphql-ws").await;
    send(
        &mut socket,
        json!({ "id": "7", "type": "start", "payload": { "query": "subscription { postPublished { title status } }" } }),
    )
    .await;
    let delivered = first_delivery(&mut socket, |attempt| {
        let writer = &writer;
        let token = token.clone();
        async move {
            writer
                .create_post(
                    &token,
                    json!({ "title": format!("News {attempt}"), "status": "PUBLISHED" }),
                )
                .await;
        }
    })
    .await;
    assert_eq!(delivered["type"], "data", "{delivered}");
    assert_eq!(delivered["id"], "7");
    assert_eq!(
        delivered["payload"]["data"]["postPublished"]["status"],
        "PUBLISHED"
    );
    while receive(&mut socket, Duration::from_millis(300))
        .await
        .is_some()
    {}

    // Drafts are not announced; publishing them is.
    let draft = writer
        .create_post(&token, json!({ "title": "Later" }))
        .await;
    writer
        .graphql_as(
            Some(&token),
            "mutation($id: ID!) { publishPost(input: {id: $id}) { post { id } } }",
            json!({ "id": draft["id"] }),
        )
        .await;
    let published = receive(&mut socket, Duration::from_secs(10))
        .await
        .expect("a delivery");
    assert_eq!(
        published["payload"]["data"]["postPublished"]["title"],
        "Later"
    );
    socket.close(None).await.expect("close");
    reader.stop().await;
    writer.stop().await;
}

#[tokio::test]
async fn subscribing_to_a_missing_post_is_an_error() {
    let app = TestApp::spawn().await;
    let mut socket = connect(&app, "graphql-transport-ws").await;
    subscribe(
        &mut socket,
        "1",
        "subscription { commentAdded(postId: \"UG9zdDo5OTk5\") { body } }",
    )
    .await;
    let answer = receive(&mut socket, Duration::from_secs(10))
        .await
        .expect("an answer");
    let errors = match answer["type"].as_str() {
        Some("error") => answer["payload"].clone(),
        _ => answer["payload"]["errors"].clone(),
    };
    assert_eq!(errors[0]["extensions"]["code"], "NOT_FOUND", "{answer}");
    app.stop().await;
}
