//! GraphQL subscriptions over WebSocket at `/graphql/ws`, in both the
//! `graphql-transport-ws` protocol and the legacy `graphql-ws` one. A token may come in the
//! upgrade request's `Authorization` header or in the `connection_init` payload
//! (`{"Authorization": "Bearer …"}`), since browsers cannot set headers on WebSockets.
//!
//! A socket is a long-lived door into the server, so it is watched: only subscriptions run
//! on it (queries and mutations go over HTTP, with its limits); each operation re-checks
//! the token, and a socket whose token is revoked is closed within seconds (4403); a bad
//! `connection_init` closes with 4403, a missing one after 10 seconds with 4408; messages,
//! idle time, sockets per client and subscriptions per socket are bounded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_graphql::Data;
use async_graphql::futures_util::{SinkExt, StreamExt, future};
use async_graphql::http::{
    ALL_WEBSOCKET_PROTOCOLS, WebSocket as GraphqlSocket, WebSocketProtocols as Protocols, WsMessage,
};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gazette_domain::{ClientKey, Viewer};
use gazette_store::{PgPool, tokens};
use std::net::SocketAddr;
use std::sync::Mutex;

use super::errors::ApiError;
use super::socket_session::SocketSession;
use crate::auth::authenticate;
use crate::client::client_key;
use crate::limits::{SocketGuard, SocketRefusal};
use crate::state::AppState;

/// How long a client has to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an open socket's token is checked against revocation.
const TOKEN_RECHECK: Duration = Duration::from_secs(3);
/// How often the socket's timers are looked at.
const TICK: Duration = Duration::from_millis(500);

pub async fn subscriptions(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(protocol) = requested_protocol(&headers) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "Ask for the `graphql-transport-ws` (or legacy `graphql-ws`) subprotocol in Sec-WebSocket-Protocol.",
        );
    };
    if !origin_allowed(&headers, &state.config) {
        // Cross-site WebSocket hijacking: another site's page would use its visitors'
        // browsers (and addresses, and cookies) to subscribe.
        return refused(
            StatusCode::FORBIDDEN,
            "This origin may not open a WebSocket here: only this site's own pages and the origins in --cors-origins may.",
        );
    }
    let header_viewer = match authenticate(&state.pool, headers.get(header::AUTHORIZATION)).await {
        Ok(viewer) => viewer,
        Err(response) => return *response,
    };
    let client = client_key(&headers, peer, state.config.trusted_proxy_hops);
    if state.refusals.penalty(&client).is_some() {
        return refused(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many of your requests were refused in the last minute: try again later.",
        );
    }
    let guard = match state.sockets.open(client.clone()) {
        Ok(guard) => guard,
        Err(SocketRefusal::ClientFull) => {
            return refused(
                StatusCode::TOO_MANY_REQUESTS,
                &format!(
                    "Your address has {} WebSockets open already: close one first.",
                    state.config.limits.ws_max_connections_per_client
                ),
            );
        }
        Err(SocketRefusal::ProcessFull) => {
            return refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server has as many WebSockets open as it takes: try again shortly.",
            );
        }
    };
    let max_bytes = state.config.limits.ws_max_message_bytes;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(max_bytes)
        .max_frame_size(max_bytes)
        .on_upgrade(move |socket| {
            let connection = Connection {
                state,
                protocol,
                header_viewer,
                client,
                _guard: guard,
            };
            connection.serve(socket)
        })
        .into_response()
}

/// The first GraphQL subprotocol the client offers.
fn requested_protocol(headers: &HeaderMap) -> Option<Protocols> {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|offered| offered.trim().parse::<Protocols>().ok())
}

/// Whether a browser page of `Origin` may open a socket: no `Origin` (not a browser), the
/// site's own origin ([`crate::own_origin`]), or an origin `--cors-origins` allows.
fn origin_allowed(headers: &HeaderMap, config: &crate::state::ApiConfig) -> bool {
    let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
    else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    crate::own_origin::is_own_origin(origin, host, &config.site.public_url)
        || match &config.cors {
            crate::state::CorsOrigins::Any => true,
            crate::state::CorsOrigins::List(allowed) => allowed
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(origin)),
            crate::state::CorsOrigins::None => false,
        }
}

/// An upgrade refused with a sentence; `Retry-After` only where trying again can help (a
/// busy server, a client over its share), not on a request that will never be taken.
fn refused(status: StatusCode, message: &str) -> Response {
    let mut response = (status, format!("{message}\n")).into_response();
    if matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    }
    response
}

/// Why the server ends a socket.
struct Closing {
    code: u16,
    reason: String,
}

impl Closing {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// What the connection's timers watch, updated as the socket is used.
#[derive(Default)]
struct Watch {
    /// Set once `connection_init` was accepted.
    initialised: AtomicBool,
    /// Set when `connection_init` was refused.
    refused: AtomicBool,
    /// The token the socket runs with, once initialised.
    token_id: Mutex<Option<i64>>,
    /// Why reading from the client failed, when it did.
    read_failure: Mutex<Option<Closing>>,
}

struct Connection {
    state: AppState,
    protocol: Protocols,
    header_viewer: Viewer,
    client: ClientKey,
    _guard: SocketGuard,
}

impl Connection {
    async fn serve(self, socket: WebSocket) {
        let limits = &self.state.config.limits;
        let watch = Arc::new(Watch::default());
        let subscriptions = Arc::new(AtomicUsize::new(0));
        let last_operation = Arc::new(Mutex::new(Instant::now()));
        let (mut sink, stream) = socket.split();

        let input = {
            let watch = watch.clone();
            let last_operation = last_operation.clone();
            stream
                .take_while(move |message| {
                    if let Err(error) = message {
                        let text = error.to_string();
                        let closing = if text.contains("too long") || text.contains("Space limit") {
                            Closing::new(1009, "Message too big")
                        } else {
                            Closing::new(1002, "Unreadable frame")
                        };
                        *lock(&watch.read_failure) = Some(closing);
                    }
                    future::ready(message.is_ok())
                })
                .filter_map(move |message| {
                    let bytes = match message {
                        Ok(Message::Text(text)) => Some(text.as_bytes().to_vec()),
                        Ok(Message::Binary(bytes)) => Some(bytes.to_vec()),
                        _ => None,
                    };
                    // Only what a client asks the server to do keeps an idle socket open;
                    // pings (of either protocol, or of WebSocket itself) do not.
                    if bytes.as_deref().is_some_and(is_operation) {
                        *lock(&last_operation) = Instant::now();
                    }
                    future::ready(bytes)
                })
        };

        let on_init = {
            let state = self.state.clone();
            let watch = watch.clone();
            let header_viewer = self.header_viewer;
            let client = self.client.clone();
            let subscriptions = subscriptions.clone();
            move |payload: serde_json::Value| async move {
                let viewer = match payload_authorization(&payload) {
                    Some(value) => viewer_from(&state.pool, &value).await,
                    None => Ok(header_viewer),
                };
                let viewer = match viewer {
                    Ok(viewer) => viewer,
                    Err(error) => {
                        watch.refused.store(true, Ordering::SeqCst);
                        return Err(error);
                    }
                };
                let token_id = match viewer {
                    Viewer::Token(owner) => Some(owner.token_id),
                    Viewer::Anonymous => None,
                };
                *lock(&watch.token_id) = token_id;
                watch.initialised.store(true, Ordering::SeqCst);
                let mut data = Data::default();
                data.insert(SocketSession::new(
                    state,
                    viewer,
                    client,
                    token_id,
                    subscriptions,
                ));
                Ok(data)
            }
        };
        let mut graphql =
            GraphqlSocket::new(self.state.schemas.guarded.clone(), input, self.protocol)
                .on_connection_init(on_init);

        let opened = Instant::now();
        let mut token_checked = Instant::now();
        let mut ticks = tokio::time::interval(TICK);
        let mut shutting_down = self.state.shutting_down.clone();
        let shutdown = async move {
            let _ = shutting_down.wait_for(|down| *down).await;
        };
        tokio::pin!(shutdown);
        let closing = loop {
            tokio::select! {
                message = graphql.next() => match message {
                    Some(WsMessage::Text(text)) => {
                        // A large message waits for the client to read it within the same
                        // pools as a large HTTP answer; past them the socket is closed, and
                        // the message freed, rather than held for a client that may never
                        // read (a probe held 150 MB with 20 sockets of one address).
                        let _charge = match text.len() > crate::unsent::UNCHARGED_BYTES {
                            true => match crate::unsent::charge(&self.state, Some(&self.client), text.len()) {
                                Some(charge) => Some(charge),
                                None => break Some(Closing::new(1013, "Try again later: messages to this client wait to be read")),
                            },
                            false => None,
                        };
                        if sink.send(Message::Text(text.into())).await.is_err() {
                            break None;
                        }
                    }
                    Some(WsMessage::Close(code, reason)) => break Some(self.translate(&watch, code, reason)),
                    None => {
                        let failure = lock(&watch.read_failure).take();
                        break match failure {
                            Some(closing) => Some(closing),
                            None if watch.refused.load(Ordering::SeqCst) => Some(Closing::new(4403, "Forbidden")),
                            None => None,
                        };
                    }
                },
                _ = ticks.tick() => {
                    if !watch.initialised.load(Ordering::SeqCst) {
                        if opened.elapsed() >= INIT_TIMEOUT {
                            break Some(Closing::new(4408, "Connection initialisation timeout"));
                        }
                        continue;
                    }
                    let idle_for = lock(&last_operation).elapsed();
                    if subscriptions.load(Ordering::SeqCst) == 0 && idle_for >= limits.ws_idle_timeout {
                        break Some(Closing::new(1000, "Closed after a while without subscriptions"));
                    }
                    let token_id = *lock(&watch.token_id);
                    if let Some(token_id) = token_id && token_checked.elapsed() >= TOKEN_RECHECK {
                        token_checked = Instant::now();
                        if let Ok(false) = tokens::is_active(&self.state.pool, token_id).await {
                            break Some(Closing::new(4403, "Forbidden: the token has been revoked"));
                        }
                    }
                }
                // End the connection when the server stops, so shutdown never waits on it.
                () = &mut shutdown => break Some(Closing::new(1001, "The server is shutting down")),
            }
        };
        if let Some(closing) = closing {
            let frame = CloseFrame {
                code: closing.code,
                reason: closing.reason.into(),
            };
            let _ = sink.send(Message::Close(Some(frame))).await;
        }
        let _ = sink.close().await;
    }

    /// The close codes `graphql-transport-ws` prescribes, where the library chose others.
    fn translate(&self, watch: &Watch, code: u16, reason: String) -> Closing {
        if watch.refused.load(Ordering::SeqCst) {
            return Closing::new(4403, "Forbidden");
        }
        match code {
            // A message before connection_init was acknowledged.
            1011 if !watch.initialised.load(Ordering::SeqCst) => Closing::new(4401, "Unauthorized"),
            // A message that is not valid JSON or not a known message.
            1002 if self.protocol == Protocols::GraphQLWS => Closing::new(4400, reason),
            _ => Closing::new(code, reason),
        }
    }
}

/// Whether a client's message starts an operation (`subscribe`, or the legacy `start`):
/// pings, and stops of operations that may not exist, do not keep a socket alive.
fn is_operation(message: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Kind<'a> {
        #[serde(rename = "type", borrow)]
        kind: std::borrow::Cow<'a, str>,
    }
    serde_json::from_slice::<Kind<'_>>(message)
        .is_ok_and(|message| matches!(&*message.kind, "subscribe" | "start"))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `Authorization` (any case) from a `connection_init` payload.
fn payload_authorization(payload: &serde_json::Value) -> Option<String> {
    payload
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, value)| value.as_str())
        .map(str::to_owned)
}

async fn viewer_from(pool: &PgPool, authorization: &str) -> async_graphql::Result<Viewer> {
    let value = HeaderValue::from_str(authorization).map_err(|_| {
        ApiError::from(gazette_domain::DomainError::Unauthenticated(
            "The Authorization value must be `Bearer <token>`.".to_owned(),
        ))
    })?;
    authenticate(pool, Some(&value)).await.map_err(|_| {
        ApiError::from(gazette_domain::DomainError::Unauthenticated(
            "The token is not valid: it is unknown or has been revoked.".to_owned(),
        ))
        .into()
    })
}
