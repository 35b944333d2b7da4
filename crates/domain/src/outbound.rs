//! Gazette's requests to addresses others give it (webhook endpoints, fediverse actors and
//! inboxes): an HTTP client that will not reach loopback, private, link-local or metadata
//! addresses unless told to, that follows no redirect and uses no proxy.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::sync::Semaphore;

use crate::webhooks::is_forbidden_address;

/// A name that does not resolve this soon fails the request.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// How many name look-ups may be under way at once in the process.
const LOOKUP_SLOTS: usize = 16;

/// The system resolver blocks a thread per look-up and cannot be stopped: a name whose
/// server never answers holds that thread for the resolver's own timeouts, long after
/// Gazette gave up on it. Each look-up keeps its slot until it really ends, so names a
/// peer makes slow occupy at most this many threads, not the whole blocking pool that
/// HTML rendering shares.
static LOOKUPS: LazyLock<Arc<Semaphore>> = LazyLock::new(|| Arc::new(Semaphore::new(LOOKUP_SLOTS)));

/// Why a name gave no addresses.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("{0} did not resolve in time")]
    TimedOut(String),
    #[error("{0} cannot be resolved: {1}")]
    Failed(String, std::io::Error),
}

/// The addresses `name` resolves to (with `port`), within [`RESOLVE_TIMEOUT`] counted
/// from the call, waiting for a free look-up slot included.
pub async fn lookup(name: &str, port: u16) -> Result<Vec<SocketAddr>, LookupError> {
    let owned = name.to_owned();
    lookup_with(&LOOKUPS, RESOLVE_TIMEOUT, name, move || {
        (owned.as_str(), port)
            .to_socket_addrs()
            .map(Iterator::collect)
    })
    .await
}

/// [`lookup`] with its slots, time and resolver given: the resolver runs on a blocking
/// thread that holds one of `slots` until it returns, whenever the caller stops waiting.
async fn lookup_with(
    slots: &Arc<Semaphore>,
    timeout: Duration,
    name: &str,
    resolve: impl FnOnce() -> std::io::Result<Vec<SocketAddr>> + Send + 'static,
) -> Result<Vec<SocketAddr>, LookupError> {
    let timed_out = || LookupError::TimedOut(name.to_owned());
    let resolved = tokio::time::timeout(timeout, async {
        let slot = Arc::clone(slots)
            .acquire_owned()
            .await
            .map_err(|_| timed_out())?;
        tokio::task::spawn_blocking(move || {
            let _slot = slot;
            resolve()
        })
        .await
        .map_err(|_| timed_out())
    })
    .await
    .map_err(|_| timed_out())??;
    resolved.map_err(|error| LookupError::Failed(name.to_owned(), error))
}

/// Only addresses Gazette may call: a name that resolves to a private address is refused
/// at connection time too, so a name cannot be pointed elsewhere between check and call.
struct PublicOnly {
    allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> = lookup(name.as_str(), 0)
                .await?
                .into_iter()
                .filter(|address| allow_private || !is_forbidden_address(address.ip()))
                .collect();
            if found.is_empty() {
                return Err(
                    format!("{} resolves to no address Gazette may call", name.as_str()).into(),
                );
            }
            let addresses: Addrs = Box::new(found.into_iter());
            Ok(addresses)
        })
    }
}

/// A client for outside addresses: `timeout` per request, no redirects, no proxy (a proxy
/// would resolve names itself, past the resolver that refuses private addresses).
pub fn client(allow_private: bool, timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(gazette_syndication::GENERATOR)
        .dns_resolver(Arc::new(PublicOnly { allow_private }))
        .build()
}

/// Reads at most `limit` bytes of a response's body; `None` when it is longer.
pub async fn read_limited(mut response: reqwest::Response, limit: usize) -> Option<Vec<u8>> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return None;
    }
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        if body.len() + chunk.len() > limit {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

/// What a receiver that refused a delivery said: when to try again (`Retry-After` in
/// seconds), and the start of its answer as one line of text (at most 200 characters of
/// its first 4 KiB, without control characters), for the delivery's error.
pub async fn refusal(mut response: reqwest::Response) -> (Option<Duration>, String) {
    const ANSWER_BYTES: usize = 4096;
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut answer = Vec::new();
    while answer.len() < ANSWER_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
            _ => break,
        }
    }
    answer.truncate(ANSWER_BYTES);
    let excerpt = String::from_utf8_lossy(&answer)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    (retry_after, excerpt)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resolver that answers when the test lets it, as a DNS server that never replies
    /// would not.
    fn held_resolver() -> (
        std::sync::mpsc::Sender<()>,
        impl FnOnce() -> std::io::Result<Vec<SocketAddr>> + Send + 'static,
    ) {
        let (release, released) = std::sync::mpsc::channel::<()>();
        let resolve = move || {
            released.recv().ok();
            Ok(vec![SocketAddr::from(([192, 0, 2, 1], 443))])
        };
        (release, resolve)
    }

    #[tokio::test]
    async fn a_look_up_given_up_on_keeps_its_slot_until_it_ends() {
        let slots = Arc::new(Semaphore::new(1));
        let wait = Duration::from_millis(100);
        let (release, stuck) = held_resolver();
        let first = lookup_with(&slots, wait, "stuck.example", stuck).await;
        assert!(matches!(first, Err(LookupError::TimedOut(_))), "{first:?}");
        // The stuck look-up still runs: the next one finds no slot and gives up in time,
        // without starting a second blocked thread.
        let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let marker = Arc::clone(&started);
        let second = lookup_with(&slots, wait, "next.example", move || {
            marker.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(Vec::new())
        })
        .await;
        assert!(
            matches!(second, Err(LookupError::TimedOut(_))),
            "{second:?}"
        );
        assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
        // Once the stuck one ends, its slot serves the next name.
        release.send(()).expect("the stuck look-up is waiting");
        let third = lookup_with(&slots, Duration::from_secs(30), "fine.example", || {
            Ok(vec![SocketAddr::from(([192, 0, 2, 7], 443))])
        })
        .await
        .expect("resolved");
        assert_eq!(third, vec![SocketAddr::from(([192, 0, 2, 7], 443))]);
    }

    #[tokio::test]
    async fn a_failed_look_up_names_the_host() {
        let slots = Arc::new(Semaphore::new(1));
        let failed = lookup_with(&slots, Duration::from_secs(30), "nowhere.example", || {
            Err(std::io::Error::other("no such host"))
        })
        .await;
        let Err(LookupError::Failed(name, _)) = failed else {
            panic!("{failed:?}");
        };
        assert_eq!(name, "nowhere.example");
        assert_eq!(slots.available_permits(), 1, "the slot is back");
    }
}
