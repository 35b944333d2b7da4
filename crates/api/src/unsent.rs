//! Answers built and waiting for their clients to read them. A client that sends requests
//! and never reads the answers leaves each one in the server's memory until its connection
//! closes: a probe held 66 MB with 1,000 unread answers of 83 KB, and one address may open
//! 128 connections for answers of up to 10 MiB each.
//!
//! Two bounds, besides the connection caps ([`crate::listener`]):
//! - in time: a connection whose writes make no progress for the listener's write timeout
//!   is closed, and what it held is freed;
//! - in bytes: an answer larger than [`UNCHARGED_BYTES`] holds what it costs in a pool, in
//!   all and per client, until the connection has taken the whole of it (the kernel and
//!   hyper's buffer take what they can; hyper asks for more only as it writes). What it
//!   costs: its own size, the copies waiting in hyper's buffer, and, when the client
//!   accepts a compressed answer, the compressor's state (the compression layer is outside,
//!   pulling from the answer as hyper writes). An answer the pools cannot hold is not
//!   sent: `503` (`SERVER_BUSY` for GraphQL), which frees it at once.
//!
//! Not charged: small answers (most of them), `HEAD` answers (no body is sent), answers
//! the response cache shares with every client ([`SharedAnswer`]), and static files and
//! feeds, which are routed outside this layer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use gazette_domain::ClientKey;
use gazette_store::ReadBudget;
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::client::client_ip;
use crate::listener::CONNECTION_BUFFER_BYTES;
use crate::state::AppState;

/// The part of each answer that is never charged: what most answers take, and about what
/// the kernel's socket buffer takes at once.
pub const UNCHARGED_BYTES: usize = 64 * 1024;

/// What a compressor (gzip at its default level, as the compression layer uses) holds
/// while it compresses one answer: measured about 430 KB per connection.
const COMPRESSOR_BYTES: usize = 448 * 1024;

/// Set on a response whose body the response cache shares: holding it costs no copy.
#[derive(Debug, Clone, Copy)]
pub struct SharedAnswer;

/// The pieces an answer is handed to the connection in: hyper asks for the next one only
/// when its buffer has room, so a connection that is not read holds its buffer, not the
/// answer's copy.
const PIECE_BYTES: usize = 16 * 1024;

/// What an answer or a message waiting to be taken holds in the pools, given back (and
/// taken off the gauge) when dropped.
pub struct Charge {
    _pools: ReadBudget,
    bytes: usize,
}

impl Drop for Charge {
    fn drop(&mut self) {
        gazette_metrics::metrics()
            .http_unsent_bytes
            .sub(i64::try_from(self.bytes).unwrap_or(i64::MAX));
    }
}

/// Charges `bytes` to `client`'s share and the process's pool (only the process's without a
/// client); `None` when either is full.
pub fn charge(state: &AppState, client: Option<&ClientKey>, bytes: usize) -> Option<Charge> {
    let pools = match client {
        Some(client) => state.unsent_pools(client),
        None => vec![state.unsent.clone()],
    };
    let budget = ReadBudget::new(usize::MAX, pools);
    budget.charge_built(bytes).ok()?;
    gazette_metrics::metrics()
        .http_unsent_bytes
        .add(i64::try_from(bytes).unwrap_or(i64::MAX));
    Some(Charge {
        _pools: budget,
        bytes,
    })
}

/// Middleware: an answer over [`UNCHARGED_BYTES`] is held within the pools (see the module)
/// or refused.
pub async fn hold(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() == Method::HEAD {
        return next.run(request).await;
    }
    let compressed = request
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .any(|value| value.as_bytes() != b"identity" && !value.is_empty());
    // The address only: its key is made for the few answers that are charged.
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| {
            client_ip(request.headers(), *peer, state.config.trusted_proxy_hops)
        });
    let response = next.run(request).await;
    let size = HttpBody::size_hint(response.body()).exact();
    let Some(size) = size.and_then(|size| usize::try_from(size).ok()) else {
        // Streamed answers (WebSocket upgrades) are not buffers built per request.
        return response;
    };
    if size <= UNCHARGED_BYTES || response.extensions().get::<SharedAnswer>().is_some() {
        return response;
    }
    let charged = size
        .saturating_add(CONNECTION_BUFFER_BYTES + PIECE_BYTES)
        .saturating_add(if compressed { COMPRESSOR_BYTES } else { 0 });
    let client = client.map(ClientKey::from_ip);
    let Some(charge) = charge(&state, client.as_ref(), charged) else {
        let json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_some_and(|media| media.as_bytes().windows(4).any(|part| part == b"json"));
        return refused(json);
    };
    let (parts, body) = response.into_parts();
    // A body of known size (a buffer built whole) is read at once, without a copy.
    let Ok(bytes) = axum::body::to_bytes(body, size).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    Response::from_parts(
        parts,
        Body::new(Held {
            rest: bytes,
            charge: Some(charge),
        }),
    )
}

/// `503`, which frees the answer at once; JSON (`SERVER_BUSY`) for a GraphQL client.
fn refused(json: bool) -> Response {
    let sentence = "Answers to this client, or to all clients, are waiting to be read: read them, then try again in a few seconds.";
    let mut response = match json {
        true => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::json!({ "errors": [{
                "message": sentence,
                "extensions": { "code": "SERVER_BUSY" }
            }]})
            .to_string(),
        )
            .into_response(),
        false => (StatusCode::SERVICE_UNAVAILABLE, format!("{sentence}\n")).into_response(),
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}

/// An answer handed out in pieces, its charge held until the last piece is taken.
struct Held {
    rest: Bytes,
    charge: Option<Charge>,
}

impl HttpBody for Held {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.rest.is_empty() {
            return Poll::Ready(None);
        }
        let length = self.rest.len().min(PIECE_BYTES);
        // A copy, not a slice: a slice would keep the whole answer alive in hyper's buffer
        // after the charge is given back.
        let piece = Bytes::copy_from_slice(&self.rest[..length]);
        let rest = self.rest.slice(length..);
        self.rest = rest;
        if self.rest.is_empty() {
            // The whole answer is the connection's now: its buffer is freed here.
            self.charge = None;
        }
        Poll::Ready(Some(Ok(Frame::data(piece))))
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.rest.len() as u64)
    }
}
