//! Gazette's requests to addresses others give it (webhook endpoints, fediverse actors and
//! inboxes): an HTTP client that will not reach loopback, private, link-local or metadata
//! addresses unless told to, that follows no redirect and uses no proxy.

use std::collections::HashMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use tokio::sync::Semaphore;

use crate::webhooks::is_forbidden_address;

/// A name that does not resolve this soon fails the request.
pub const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// How many name look-ups may be under way at once for one [`Purpose`].
const LOOKUP_SLOTS: usize = 16;
/// How many of them may be for names of one site (its last two labels).
const LOOKUPS_PER_SITE: usize = 4;

/// Why Gazette looks a name up, which decides whose look-ups can crowd out whose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// What the API fetches: a signature's key or an actor an inbox activity names
    /// (anyone on the internet decides these names), and the staff's follows and replies.
    Inbound,
    /// What the worker sends (deliveries to followers, webhooks), and an admin's webhook
    /// endpoint, checked when it is saved.
    Outbound,
}

/// The system resolver blocks a thread per look-up and cannot be stopped: a name whose
/// server never answers holds that thread for the resolver's own timeouts (10–30 s), long
/// after Gazette gave up on it. Each look-up therefore keeps its slot until it really
/// ends, so slow names occupy a bounded number of threads, not the blocking pool. Names
/// a peer makes slow, on fresh subdomains, could then fill every slot: hence a pool per
/// [`Purpose`] (inbound requests cannot stall deliveries and webhooks) and a cap per site
/// within each (one peer's domain cannot stall look-ups of the others).
#[derive(Debug)]
struct Lookups {
    slots: Arc<Semaphore>,
    sites: Arc<Mutex<HashMap<String, usize>>>,
    per_site: usize,
}

impl Lookups {
    fn new(slots: usize, per_site: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            sites: Arc::default(),
            per_site,
        }
    }

    /// A place for a look-up of `name`, or `None` when its site has all of its own.
    fn enter(&self, name: &str) -> Option<SitePlace> {
        let site = site_of(name);
        let mut sites = self.sites.lock().ok()?;
        let under_way = sites.entry(site.clone()).or_default();
        if *under_way >= self.per_site {
            return None;
        }
        *under_way += 1;
        Some(SitePlace {
            sites: Arc::clone(&self.sites),
            site,
        })
    }
}

/// One look-up's place in its site's count, given back when dropped.
struct SitePlace {
    sites: Arc<Mutex<HashMap<String, usize>>>,
    site: String,
}

impl Drop for SitePlace {
    fn drop(&mut self) {
        if let Ok(mut sites) = self.sites.lock()
            && let Some(under_way) = sites.get_mut(&self.site)
        {
            *under_way = under_way.saturating_sub(1);
            if *under_way == 0 {
                sites.remove(&self.site);
            }
        }
    }
}

/// The site a name belongs to, for the per-site cap: its last two labels (`a.b.example.org`
/// → `example.org`). Approximate where a suffix has two labels (`co.uk`), which only makes
/// the cap stricter there.
fn site_of(name: &str) -> String {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    let mut dots = name.rmatch_indices('.');
    match (dots.next(), dots.next()) {
        (Some(_), Some((second, _))) => name[second + 1..].to_owned(),
        _ => name,
    }
}

static INBOUND: LazyLock<Lookups> = LazyLock::new(|| Lookups::new(LOOKUP_SLOTS, LOOKUPS_PER_SITE));
static OUTBOUND: LazyLock<Lookups> = LazyLock::new(|| Lookups::new(LOOKUP_SLOTS, LOOKUPS_PER_SITE));

/// Why a name gave no addresses.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("{0} did not resolve in time")]
    TimedOut(String),
    #[error("no name look-up came free in time for {0}")]
    NoSlot(String),
    #[error("too many look-ups of names under {0} are under way")]
    SiteBusy(String),
    #[error("{0} cannot be resolved: {1}")]
    Failed(String, std::io::Error),
}

/// The addresses `name` resolves to (with `port`), within [`RESOLVE_TIMEOUT`] counted
/// from the call, waiting for a free look-up slot included.
pub async fn lookup(
    purpose: Purpose,
    name: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, LookupError> {
    let lookups = match purpose {
        Purpose::Inbound => &*INBOUND,
        Purpose::Outbound => &*OUTBOUND,
    };
    let owned = name.to_owned();
    lookup_with(lookups, RESOLVE_TIMEOUT, name, move || {
        (owned.as_str(), port)
            .to_socket_addrs()
            .map(Iterator::collect)
    })
    .await
}

/// [`lookup`] with its pool, time and resolver given: the resolver runs on a blocking
/// thread that holds its slot and its site's place until it returns, whenever the caller
/// stops waiting.
async fn lookup_with(
    lookups: &Lookups,
    timeout: Duration,
    name: &str,
    resolve: impl FnOnce() -> std::io::Result<Vec<SocketAddr>> + Send + 'static,
) -> Result<Vec<SocketAddr>, LookupError> {
    let place = lookups
        .enter(name)
        .ok_or_else(|| LookupError::SiteBusy(site_of(name)))?;
    let deadline = tokio::time::Instant::now() + timeout;
    let slot = tokio::time::timeout_at(deadline, Arc::clone(&lookups.slots).acquire_owned())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| LookupError::NoSlot(name.to_owned()))?;
    let looking_up = tokio::task::spawn_blocking(move || {
        let _held = (slot, place);
        resolve()
    });
    match tokio::time::timeout_at(deadline, looking_up).await {
        Ok(Ok(Ok(addresses))) => Ok(addresses),
        Ok(Ok(Err(error))) => Err(LookupError::Failed(name.to_owned(), error)),
        Ok(Err(_)) | Err(_) => Err(LookupError::TimedOut(name.to_owned())),
    }
}

/// Only addresses Gazette may call: a name that resolves to a private address is refused
/// at connection time too, so a name cannot be pointed elsewhere between check and call.
struct PublicOnly {
    allow_private: bool,
    purpose: Purpose,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let (allow_private, purpose) = (self.allow_private, self.purpose);
        Box::pin(async move {
            let found: Vec<SocketAddr> = lookup(purpose, name.as_str(), 0)
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
pub fn client(
    allow_private: bool,
    timeout: Duration,
    purpose: Purpose,
) -> Result<reqwest::Client, reqwest::Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(gazette_syndication::GENERATOR)
        .dns_resolver(Arc::new(PublicOnly {
            allow_private,
            purpose,
        }))
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

    fn answers(last: u8) -> impl FnOnce() -> std::io::Result<Vec<SocketAddr>> + Send + 'static {
        move || Ok(vec![SocketAddr::from(([192, 0, 2, last], 443))])
    }

    #[tokio::test]
    async fn a_look_up_given_up_on_keeps_its_slot_until_it_ends() {
        let lookups = Lookups::new(1, 4);
        let wait = Duration::from_millis(100);
        let (release, stuck) = held_resolver();
        let first = lookup_with(&lookups, wait, "stuck.example", stuck).await;
        assert!(matches!(first, Err(LookupError::TimedOut(_))), "{first:?}");
        // The stuck look-up still runs: the next one finds no slot and gives up in time,
        // without starting a second blocked thread.
        let started = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let marker = Arc::clone(&started);
        let second = lookup_with(&lookups, wait, "next.example", move || {
            marker.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(Vec::new())
        })
        .await;
        assert!(matches!(second, Err(LookupError::NoSlot(_))), "{second:?}");
        assert!(!started.load(std::sync::atomic::Ordering::SeqCst));
        // Once the stuck one ends, its slot serves the next name.
        release.send(()).expect("the stuck look-up is waiting");
        let third = lookup_with(
            &lookups,
            Duration::from_secs(30),
            "fine.example",
            answers(7),
        )
        .await
        .expect("resolved");
        assert_eq!(third, vec![SocketAddr::from(([192, 0, 2, 7], 443))]);
    }

    #[tokio::test]
    async fn one_site_cannot_take_every_slot() {
        let lookups = Lookups::new(16, 2);
        let wait = Duration::from_millis(100);
        // Two fresh subdomains of one site whose name server never answers.
        let mut releases = Vec::new();
        for name in ["a1.slow.example", "a2.SLOW.example."] {
            let (release, stuck) = held_resolver();
            releases.push(release);
            let stalled = lookup_with(&lookups, wait, name, stuck).await;
            assert!(
                matches!(stalled, Err(LookupError::TimedOut(_))),
                "{stalled:?}"
            );
        }
        // A third is refused at once, without a thread; another site is looked up.
        let third = lookup_with(&lookups, wait, "a3.slow.example", answers(3)).await;
        assert!(
            matches!(&third, Err(LookupError::SiteBusy(site)) if site == "slow.example"),
            "{third:?}"
        );
        lookup_with(&lookups, wait, "inbox.peer.example", answers(4))
            .await
            .expect("another site");
        // When the stalled ones end, the site may look names up again.
        for release in releases {
            release.send(()).expect("waiting");
        }
        let again = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match lookup_with(&lookups, wait, "a4.slow.example", answers(5)).await {
                    Err(LookupError::SiteBusy(_)) => {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                    other => break other,
                }
            }
        })
        .await
        .expect("the site's places came back");
        assert!(again.is_ok(), "{again:?}");
    }

    #[test]
    fn a_site_is_a_names_last_two_labels() {
        assert_eq!(site_of("a.b.Example.org."), "example.org");
        assert_eq!(site_of("example.org"), "example.org");
        assert_eq!(site_of("localhost"), "localhost");
    }

    #[tokio::test]
    async fn a_failed_look_up_names_the_host() {
        let lookups = Lookups::new(1, 1);
        let failed = lookup_with(&lookups, Duration::from_secs(30), "nowhere.example", || {
            Err(std::io::Error::other("no such host"))
        })
        .await;
        let Err(LookupError::Failed(name, _)) = failed else {
            panic!("{failed:?}");
        };
        assert_eq!(name, "nowhere.example");
        assert_eq!(lookups.slots.available_permits(), 1, "the slot is back");
        assert!(
            lookups.sites.lock().expect("sites").is_empty(),
            "and the site's place"
        );
    }
}
