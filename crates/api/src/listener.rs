//! Accepting and serving connections within bounds. `axum::serve` sets no timer, so
//! hyper's header-read timeout never applied: a connection that sent nothing, half its
//! headers, or sat idle between requests was kept for ever, and one address could hold
//! every file descriptor (20,000 here) until the server accepted no one. It also spoke
//! HTTP/2 without TLS, where one socket carries 200 request bodies at once.
//!
//! Here each connection is HTTP/1.1 (WebSocket upgrades included), must send a request's
//! headers within [`HEADER_READ_TIMEOUT`] (idle keep-alive connections too), and counts
//! against a process-wide cap and, when clients connect directly, a per-address one:
//! past either it is closed as soon as it is accepted. A connection whose writes make no
//! progress for the write timeout (a client that does not read its answers) is closed,
//! and what its answer held is freed (see [`crate::unsent`]); under pressure ([`Stalls`])
//! after [`PRESSURE_STALL`] already. A connection upgraded to a
//! WebSocket leaves these counts for the sockets' own caps (`--ws-max-connections`, and
//! per client).

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use gazette_domain::ClientKey;
use gazette_store::BudgetPool;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tower_service::Service;

use crate::limits::{AnswerShares, Places};

/// How long a connection may take to send a request's headers, and how long an idle
/// keep-alive connection is kept.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a stalled connection is kept under pressure: long enough for a client that
/// reads to drain what the kernel holds, short enough that clients that read nothing
/// cannot keep the memory (see [`Stalls`]).
pub const PRESSURE_STALL: Duration = Duration::from_secs(2);

/// How many connections may be stalled at once before the listener is under pressure:
/// each holds hyper's buffer and the kernel's unsent bytes (about 290 KB), which the
/// unsent pools do not see for answers under 64 KiB.
const STALLED_BEFORE_PRESSURE: usize = 256;

/// How many stalled connections one address may have before, under pressure, they are
/// its to lose: a browser opens six per site.
const FAIR_STALLS_PER_CLIENT: usize = 8;

/// How often a stalled connection looks at the clock and the pressure.
const STALL_CHECK: Duration = Duration::from_secs(1);

/// hyper's buffer per connection: a request's head must fit in it (hyper takes URIs of
/// up to 64 KiB, a GraphQL query in a GET's URL; the other headers get as much again),
/// and an answer's pieces wait in it to be written. hyper's default is 408 KiB, held by
/// every client that reads nothing.
pub const CONNECTION_BUFFER_BYTES: usize = 128 * 1024;

/// How much of an answer the kernel may hold unsent for a connection (`TCP_NOTSENT_LOWAT`).
/// Without it the kernel takes up to 4 MiB (`tcp_wmem`) and says the socket is writable
/// again only once a third of that is gone: a client reading 32 KB/s made no progress a
/// 20 s write timeout could see, and was cut off. With it, progress follows the client's
/// reads, and one that reads nothing holds 128 KiB of the kernel's memory, not 4 MiB.
const UNSENT_LOW_WATER: u32 = 128 * 1024;

/// How many connections may be open at once.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// In the process.
    pub total: usize,
    /// From one address (an IPv6 /64); not applied behind a trusted proxy, whose address
    /// every connection has.
    pub per_client: Option<usize>,
    /// How long a connection's writes may make no progress (at least [`PRESSURE_STALL`]).
    pub write_timeout: Duration,
    /// The pool of answers waiting to be read, and its shares per client: over half full,
    /// the listener is under pressure.
    pub unsent: Option<(Arc<BudgetPool>, AnswerShares)>,
}

/// The connections whose writes wait for their clients to read. Under pressure, a
/// connection stalled for [`PRESSURE_STALL`] is closed, not after the whole write timeout,
/// when its client is a cause: more than [`STALLED_BEFORE_PRESSURE`] connections stall and
/// its address has more than [`FAIR_STALLS_PER_CLIENT`] of them, or the unsent answers'
/// pool is over half full and its address holds some of it. Clients that keep answers
/// unread then have to read to hold them (a probe filled the pool from 17 addresses and
/// had every other client's large answers refused for as long as it liked; another, from
/// 34 addresses holding one answer each, when only addresses holding more than half their
/// share were cut). Many stalled connections on small or static answers cost only the
/// addresses with many of them: a lone slow reader keeps the whole write timeout (a first
/// version cut every stalled connection, which 257 connections from three addresses could
/// switch on). Behind a trusted proxy, whose address every connection has, only the write
/// timeout applies: the proxy reads answers as fast as it is sent them.
#[derive(Debug)]
pub struct Stalls {
    stalled: AtomicUsize,
    per_client: Mutex<HashMap<ClientKey, usize>>,
    unsent: Option<(Arc<BudgetPool>, AnswerShares)>,
    write_timeout: Duration,
    /// Whether connections come from their clients (not through a proxy).
    direct: bool,
}

impl Stalls {
    fn per_client(&self) -> MutexGuard<'_, HashMap<ClientKey, usize>> {
        self.per_client
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn enter(&self, client: &ClientKey) {
        self.stalled.fetch_add(1, Ordering::Relaxed);
        *self.per_client().entry(client.clone()).or_default() += 1;
    }

    fn leave(&self, client: &ClientKey) {
        self.stalled.fetch_sub(1, Ordering::Relaxed);
        let mut per_client = self.per_client();
        if let Some(count) = per_client.get_mut(client) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                per_client.remove(client);
            }
        }
    }

    /// Whether a connection of `client`'s stalled for `stalled_for` is given up on.
    fn gives_up(&self, stalled_for: Duration, client: &ClientKey) -> bool {
        if stalled_for >= self.write_timeout {
            return true;
        }
        if stalled_for < PRESSURE_STALL || !self.direct {
            return false;
        }
        let many_stalled = self.stalled.load(Ordering::Relaxed) > STALLED_BEFORE_PRESSURE
            && self.per_client().get(client).copied().unwrap_or(0) > FAIR_STALLS_PER_CLIENT;
        let pool_filling = self.unsent.as_ref().is_some_and(|(pool, shares)| {
            pool.held() > pool.limit() / 2 && shares.held_by(client) > 0
        });
        many_stalled || pool_filling
    }
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
        .max_buf_size(CONNECTION_BUFFER_BYTES)
        .keep_alive(true);
    let open = Places::new(limits.total, limits.per_client.unwrap_or(usize::MAX));
    let stalls = Arc::new(Stalls {
        stalled: AtomicUsize::new(0),
        per_client: Mutex::default(),
        unsent: limits.unsent,
        write_timeout: limits.write_timeout.max(PRESSURE_STALL),
        direct: limits.per_client.is_some(),
    });
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
        let client = ClientKey::from_ip(peer.ip());
        let Ok(place) = open.enter(client.clone()) else {
            tracing::debug!(%peer, "too many connections: closed at once");
            drop(stream);
            continue;
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Err(error) = socket2::SockRef::from(&stream).set_tcp_notsent_lowat(UNSENT_LOW_WATER)
        {
            tracing::debug!(%error, "cannot set TCP_NOTSENT_LOWAT");
        }
        let connection = builder
            .serve_connection(
                TokioIo::new(WriteStall::new(stream, stalls.clone(), client)),
                with_peer(app.clone(), peer),
            )
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

/// A stream whose writes fail with `TimedOut` once they have waited without progress for
/// as long as [`Stalls`] allows; any byte written starts the wait again.
struct WriteStall<S> {
    inner: S,
    stalls: Arc<Stalls>,
    client: ClientKey,
    /// Since when writes wait, while they do (counted in `stalls`).
    stalled_since: Option<Instant>,
    check: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> WriteStall<S> {
    fn new(inner: S, stalls: Arc<Stalls>, client: ClientKey) -> Self {
        Self {
            inner,
            stalls,
            client,
            stalled_since: None,
            check: None,
        }
    }

    fn unstall(&mut self) {
        if self.stalled_since.take().is_some() {
            self.stalls.leave(&self.client);
        }
        self.check = None;
    }

    /// `poll`'s result, or `TimedOut` when it has been pending for too long.
    fn watch<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.unstall();
            return poll;
        }
        let since = match self.stalled_since {
            Some(since) => since,
            None => {
                self.stalls.enter(&self.client);
                *self.stalled_since.insert(Instant::now())
            }
        };
        loop {
            let check = self
                .check
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(STALL_CHECK)));
            if check.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.check = None;
            if self.stalls.gives_up(since.elapsed(), &self.client) {
                self.unstall();
                return Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client read nothing for the write timeout",
                )));
            }
        }
    }
}

impl<S> Drop for WriteStall<S> {
    fn drop(&mut self) {
        self.unstall();
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteStall<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteStall<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(address: &str) -> ClientKey {
        ClientKey::from_ip(address.parse().expect("an address"))
    }

    #[test]
    fn places_are_capped_per_client_and_in_all_and_given_back() {
        let open = Places::new(3, 2);
        let first = open.enter(client("192.0.2.1")).expect("a place");
        let _second = open.enter(client("192.0.2.1")).expect("a place");
        assert!(open.enter(client("192.0.2.1")).is_err(), "per client");
        let _other = open.enter(client("192.0.2.2")).expect("another client");
        assert!(open.enter(client("192.0.2.3")).is_err(), "in all");
        drop(first);
        assert!(open.enter(client("192.0.2.1")).is_ok(), "given back");
        let behind_proxy = Places::new(10, usize::MAX);
        let places: Vec<crate::limits::Place> = (0..10)
            .filter_map(|_| behind_proxy.enter(client("192.0.2.9")).ok())
            .collect();
        assert_eq!(places.len(), 10);
    }
}
