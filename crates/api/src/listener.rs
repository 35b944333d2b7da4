//! Accepting and serving connections within bounds. `axum::serve` sets no timer, so
//! hyper's header-read timeout never applied: a connection that sent nothing, half its
//! headers, or sat idle between requests was kept for ever, and one address could hold
//! every file descriptor (20,000 here) until the server accepted no one. It also spoke
//! HTTP/2 without TLS, where one socket carries 200 request bodies at once.
//!
//! Here each connection is HTTP/1.1 (WebSocket upgrades included), must send a request's
//! headers within [`HEADER_READ_TIMEOUT`] (idle keep-alive connections too), and counts
//! against a process-wide cap and, when clients connect directly, a per-address one:
//! past either it is closed as soon as it is accepted. A connection upgraded to a
//! WebSocket leaves these counts for the sockets' own caps (`--ws-max-connections`, and
//! per client).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use gazette_domain::ClientKey;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower_service::Service;

/// How long a connection may take to send a request's headers, and how long an idle
/// keep-alive connection is kept.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// How many connections may be open at once.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// In the process.
    pub total: usize,
    /// From one address (an IPv6 /64); not applied behind a trusted proxy, whose address
    /// every connection has.
    pub per_client: Option<usize>,
}

/// Open connections, in all and by client.
#[derive(Debug, Default)]
struct Open {
    total: usize,
    by_client: HashMap<ClientKey, usize>,
}

/// A connection's place among the open ones, given back when it closes.
struct Place {
    open: Arc<Mutex<Open>>,
    client: ClientKey,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.by_client.get_mut(&self.client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.by_client.remove(&self.client);
            }
        }
    }
}

/// A place for a new connection from `client`, or `None` when a cap is reached.
fn enter(open: &Arc<Mutex<Open>>, limits: ConnectionLimits, client: ClientKey) -> Option<Place> {
    let mut counts = open.lock().unwrap_or_else(PoisonError::into_inner);
    if counts.total >= limits.total {
        return None;
    }
    let from_client = counts.by_client.get(&client).copied().unwrap_or(0);
    if limits.per_client.is_some_and(|most| from_client >= most) {
        return None;
    }
    counts.total += 1;
    *counts.by_client.entry(client.clone()).or_default() += 1;
    Some(Place {
        open: Arc::clone(open),
        client,
    })
}

/// Serves `app` on `listener` until `shutdown` completes; then connections finish their
/// requests, for `drain` at most.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .keep_alive(true);
    let open = Arc::new(Mutex::new(Open::default()));
    // Told to stop, each connection finishes the request it is on; the last one to end
    // closes `all_ended`.
    let (stop, stopping) = watch::channel(false);
    let (still_open, mut all_ended) = mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or the peer left: try again shortly,
                    // without a busy loop.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(place) = enter(&open, limits, ClientKey::from_ip(peer.ip())) else {
            tracing::debug!(%peer, "too many connections: closed at once");
            drop(stream);
            continue;
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let connection = builder
            .serve_connection(TokioIo::new(stream), with_peer(app.clone(), peer))
            .with_upgrades();
        let (mut stopping, still_open) = (stopping.clone(), still_open.clone());
        tokio::spawn(async move {
            let (_place, _still_open) = (place, still_open);
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                ended = connection.as_mut() => {
                    if let Err(error) = ended {
                        tracing::trace!(%error, "connection ended with an error");
                    }
                    return;
                }
                _ = stopping.wait_for(|stop| *stop) => connection.as_mut().graceful_shutdown(),
            }
            if let Err(error) = connection.await {
                tracing::trace!(%error, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    drop(still_open);
    tokio::select! {
        _ = all_ended.recv() => {}
        () = tokio::time::sleep(drain) => {
            tracing::warn!(?drain, "connections still open after the drain time; stopping without them");
        }
    }
    Ok(())
}

/// `app` as a hyper service for one connection, its requests carrying the peer's address
/// (`ConnectInfo`), as `axum::serve` gives them.
fn with_peer(
    app: Router,
    peer: SocketAddr,
) -> impl hyper::service::Service<
    hyper::Request<Incoming>,
    Response = axum::response::Response,
    Error = Infallible,
    Future = impl Future<Output = Result<axum::response::Response, Infallible>> + Send,
> + Clone {
    hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        let mut app = app.clone();
        async move { app.call(request).await }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(address: &str) -> ClientKey {
        ClientKey::from_ip(address.parse().expect("an address"))
    }

    #[test]
    fn places_are_capped_per_client_and_in_all_and_given_back() {
        let open = Arc::new(Mutex::new(Open::default()));
        let limits = ConnectionLimits {
            total: 3,
            per_client: Some(2),
        };
        let first = enter(&open, limits, client("192.0.2.1")).expect("a place");
        let _second = enter(&open, limits, client("192.0.2.1")).expect("a place");
        assert!(
            enter(&open, limits, client("192.0.2.1")).is_none(),
            "per client"
        );
        let _other = enter(&open, limits, client("192.0.2.2")).expect("another client");
        assert!(
            enter(&open, limits, client("192.0.2.3")).is_none(),
            "in all"
        );
        drop(first);
        assert!(
            enter(&open, limits, client("192.0.2.1")).is_some(),
            "given back"
        );
        let behind_proxy = ConnectionLimits {
            total: 10,
            per_client: None,
        };
        let open = Arc::new(Mutex::new(Open::default()));
        let places: Vec<Place> = (0..10)
            .filter_map(|_| enter(&open, behind_proxy, client("192.0.2.9")))
            .collect();
        assert_eq!(places.len(), 10);
    }
}
