//! GraphQL over WebSocket, as a client speaks it: open, initialise, send, receive,
//! subscribe.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::app::TestApp;

pub type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Opens a socket speaking `protocol`, without initialising it.
pub async fn open(
    app: &TestApp,
    protocol: &'static str,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    open_at(&app.base_url, protocol).await
}

/// Opens a socket speaking `protocol` to the server at `base_url`, without initialising it.
pub async fn open_at(
    base_url: &str,
    protocol: &'static str,
) -> Result<Socket, tokio_tungstenite::tungstenite::Error> {
    let url = format!("{}/graphql/ws", base_url.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("sec-websocket-protocol", HeaderValue::from_static(protocol));
    let (socket, response) = tokio_tungstenite::connect_async(request).await?;
    assert_eq!(response.headers()["sec-websocket-protocol"], protocol);
    Ok(socket)
}

/// Opens and initialises a socket with `payload` (e.g. a token), expecting the ack.
pub async fn connect_with(app: &TestApp, protocol: &'static str, payload: Value) -> Socket {
    connect_at(&app.base_url, protocol, payload).await
}

/// [`connect_with`] to the server at `base_url`.
pub async fn connect_at(base_url: &str, protocol: &'static str, payload: Value) -> Socket {
    let mut socket = open_at(base_url, protocol).await.expect("connect");
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    let ack = receive(&mut socket, Duration::from_secs(10))
        .await
        .expect("an answer to connection_init");
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    socket
}

pub async fn connect(app: &TestApp, protocol: &'static str) -> Socket {
    connect_with(app, protocol, json!({})).await
}

pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("send");
}

/// The next protocol message other than keep-alives, if one comes within `wait`.
pub async fn receive(socket: &mut Socket, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()??
            .ok()?;
        let Message::Text(text) = message else {
            continue;
        };
        let value: Value = serde_json::from_str(&text).expect("JSON message");
        if !matches!(value["type"].as_str(), Some("ka" | "ping" | "pong")) {
            return Some(value);
        }
    }
}

/// Starts the subscription `query` as operation `id` (graphql-transport-ws).
pub async fn subscribe(socket: &mut Socket, id: &str, query: &str) {
    send(
        socket,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query } }),
    )
    .await;
}

/// [`subscribe`] with `variables`.
pub async fn subscribe_with(socket: &mut Socket, id: &str, query: &str, variables: Value) {
    send(
        socket,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }),
    )
    .await;
}

/// Subscribes, as operation `id`, to the comments added to `post`, each read as `selection`
/// (the fields of a `Comment`).
pub async fn subscribe_to_comments(socket: &mut Socket, id: &str, post: &str, selection: &str) {
    subscribe_with(
        socket,
        id,
        &format!("subscription($post: ID!) {{ commentAdded(postId: $post) {{ {selection} }} }}"),
        json!({ "post": post }),
    )
    .await;
}
