//! Back-pressure for the whole process: how many GraphQL operations run at once, how many
//! WebSockets are open (per client and in all), and which clients keep sending documents
//! that are refused. The per-document limits (cost, depth, aliases, size) are in
//! `graphql::pricing`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use gazette_domain::ClientKey;
use gazette_store::BudgetPool;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Slots for GraphQL operations executing at once.
#[derive(Clone)]
pub struct ExecutionSlots(Arc<Semaphore>);

impl ExecutionSlots {
    pub fn new(slots: usize) -> Self {
        Self(Arc::new(Semaphore::new(slots.max(1))))
    }

    /// A slot, held until the permit drops; `None` when none frees up within `wait`.
    pub async fn acquire(&self, wait: Duration) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = self.0.clone().try_acquire_owned() {
            return Some(permit);
        }
        let _waiting = Waiting::start();
        tokio::time::timeout(wait, self.0.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }
}

/// One operation counted as waiting for a slot until dropped, also when its client goes
/// away mid-wait (the future is dropped, not finished).
struct Waiting;

impl Waiting {
    fn start() -> Self {
        gazette_metrics::metrics().graphql_waiting.inc();
        Self
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        gazette_metrics::metrics().graphql_waiting.dec();
    }
}

/// Clients that keep sending documents the server refuses (over its limits, invalid, or
/// unreadable). Each refusal costs the server the work of finding it out; past
/// `max_per_window` refusals in a minute, a client's GraphQL requests wait a second each
/// and are answered `429` until the minute is over, so a client sending junk as fast as it
/// can gets one answer per connection per second and leaves the processor to everyone
/// else (docs/security.md). Clients that send valid documents are never slowed down.
#[derive(Clone)]
pub struct Refusals(Arc<RefusalsInner>);

struct RefusalsInner {
    max_per_window: u32,
    windows: Mutex<Windows>,
}

#[derive(Default)]
struct Windows {
    by_client: HashMap<ClientKey, RefusalWindow>,
    /// When windows that are over were last dropped.
    pruned: Option<Instant>,
}

#[derive(Debug, Clone, Copy)]
struct RefusalWindow {
    started: Instant,
    refused: u32,
}

impl Refusals {
    /// The window refusals are counted in.
    pub const WINDOW: Duration = Duration::from_secs(60);
    /// How long a penalised client's request waits before its `429`.
    pub const DELAY: Duration = Duration::from_secs(1);
    /// Clients tracked at once; beyond, windows that are over are dropped first, and a
    /// new client is not tracked while the table is full of live windows (it fails open).
    const MAX_CLIENTS: usize = 100_000;

    /// `max_per_window` zero: no client is ever penalised.
    pub fn new(max_per_window: u32) -> Self {
        Self(Arc::new(RefusalsInner {
            max_per_window,
            windows: Mutex::default(),
        }))
    }

    /// Counts one refused document from `client`.
    pub fn refused(&self, client: &ClientKey) {
        if self.0.max_per_window == 0 {
            return;
        }
        let now = Instant::now();
        let mut windows = self
            .0
            .windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !windows.by_client.contains_key(client) && windows.by_client.len() >= Self::MAX_CLIENTS {
            // At most once a second: a stream of new addresses must not make every refusal
            // walk the whole table.
            if windows
                .pruned
                .is_none_or(|pruned| now.duration_since(pruned) >= Duration::from_secs(1))
            {
                windows
                    .by_client
                    .retain(|_, window| now.duration_since(window.started) < Self::WINDOW);
                windows.pruned = Some(now);
            }
            if windows.by_client.len() >= Self::MAX_CLIENTS {
                return;
            }
        }
        let window = windows
            .by_client
            .entry(client.clone())
            .or_insert(RefusalWindow {
                started: now,
                refused: 0,
            });
        if now.duration_since(window.started) >= Self::WINDOW {
            *window = RefusalWindow {
                started: now,
                refused: 0,
            };
        }
        window.refused = window.refused.saturating_add(1);
    }

    /// How long `client` stays penalised, when it is.
    pub fn penalty(&self, client: &ClientKey) -> Option<Duration> {
        if self.0.max_per_window == 0 {
            return None;
        }
        let windows = self
            .0
            .windows
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let window = windows.by_client.get(client)?;
        let left = Self::WINDOW.checked_sub(window.started.elapsed())?;
        (window.refused > self.0.max_per_window && !left.is_zero()).then_some(left)
    }
}

/// Each client's share of the answer pool: one whole answer, so that one client building
/// large answers (each within its own budget) cannot leave every other client
/// `SERVER_BUSY`.
#[derive(Clone)]
pub struct AnswerShares(Arc<AnswerSharesInner>);

impl std::fmt::Debug for AnswerShares {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AnswerShares")
            .field("share", &self.0.share)
            .finish_non_exhaustive()
    }
}

struct AnswerSharesInner {
    share: usize,
    shares: Mutex<HashMap<ClientKey, std::sync::Weak<BudgetPool>>>,
}

impl AnswerShares {
    /// Shares of `share` bytes each.
    pub fn new(share: usize) -> Self {
        Self(Arc::new(AnswerSharesInner {
            share,
            shares: Mutex::default(),
        }))
    }

    /// The bytes each share may hold.
    pub fn share(&self) -> usize {
        self.0.share
    }

    /// What `client`'s share holds now: nothing when it has none.
    pub fn held_by(&self, client: &ClientKey) -> usize {
        let shares = self.0.shares.lock().unwrap_or_else(PoisonError::into_inner);
        shares
            .get(client)
            .and_then(std::sync::Weak::upgrade)
            .map_or(0, |share| share.held())
    }

    /// `client`'s share: the one its answers being built now hold, or a new one.
    pub fn of(&self, client: &ClientKey) -> Arc<BudgetPool> {
        let mut shares = self.0.shares.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(share) = shares.get(client).and_then(std::sync::Weak::upgrade) {
            return share;
        }
        // Shares live as long as their answers: forget the ended ones now and then.
        if shares.len() >= 1_024 && shares.len().is_power_of_two() {
            shares.retain(|_, share| share.strong_count() > 0);
        }
        let share = BudgetPool::new(self.0.share);
        shares.insert(client.clone(), Arc::downgrade(&share));
        share
    }
}

/// Why a WebSocket was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketRefusal {
    /// The process has as many as it takes.
    ProcessFull,
    /// This client has as many as one client may.
    ClientFull,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_client: HashMap<ClientKey, usize>,
}

/// Things open at once (WebSockets, connections), counted in all and per client, each
/// until its [`Place`] drops.
#[derive(Clone)]
pub struct Places {
    counts: Arc<Mutex<Counts>>,
    max_total: usize,
    max_per_client: usize,
}

impl Places {
    pub fn new(max_total: usize, max_per_client: usize) -> Self {
        Self {
            counts: Arc::default(),
            max_total,
            max_per_client,
        }
    }

    /// Counts a new one of `client`, or says why it may not open.
    pub fn enter(&self, client: ClientKey) -> Result<Place, SocketRefusal> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= self.max_total {
            return Err(SocketRefusal::ProcessFull);
        }
        let of_client = counts.per_client.entry(client.clone()).or_default();
        if *of_client >= self.max_per_client {
            return Err(SocketRefusal::ClientFull);
        }
        *of_client += 1;
        counts.total += 1;
        Ok(Place {
            counts: self.counts.clone(),
            client,
        })
    }
}

/// One thing open, counted until dropped.
pub struct Place {
    counts: Arc<Mutex<Counts>>,
    client: ClientKey,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(of_client) = counts.per_client.get_mut(&self.client) {
            *of_client = of_client.saturating_sub(1);
            if *of_client == 0 {
                counts.per_client.remove(&self.client);
            }
        }
    }
}

/// The open WebSockets of this process.
#[derive(Clone)]
pub struct SocketRegistry(Places);

impl SocketRegistry {
    pub fn new(max_total: usize, max_per_client: usize) -> Self {
        Self(Places::new(max_total, max_per_client))
    }

    /// Counts a new socket of `client`, or says why it may not open. The socket counts
    /// until the guard drops.
    pub fn open(&self, client: ClientKey) -> Result<SocketGuard, SocketRefusal> {
        let place = self.0.enter(client)?;
        gazette_metrics::metrics().websocket_connections.inc();
        Ok(SocketGuard { _place: place })
    }
}

/// One open WebSocket, counted until dropped.
pub struct SocketGuard {
    _place: Place,
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        gazette_metrics::metrics().websocket_connections.dec();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(address: &str) -> ClientKey {
        ClientKey::from_ip(address.parse().expect("an address"))
    }

    #[test]
    fn sockets_are_capped_per_client_and_in_all() {
        let registry = SocketRegistry::new(3, 2);
        let a1 = registry.open(client("192.0.2.1")).expect("first");
        let _a2 = registry.open(client("192.0.2.1")).expect("second");
        assert_eq!(
            registry.open(client("192.0.2.1")).err(),
            Some(SocketRefusal::ClientFull)
        );
        let _b1 = registry.open(client("192.0.2.2")).expect("another client");
        assert_eq!(
            registry.open(client("192.0.2.3")).err(),
            Some(SocketRefusal::ProcessFull)
        );
        drop(a1);
        assert!(
            registry.open(client("192.0.2.1")).is_ok(),
            "a closed socket frees its place"
        );
    }

    #[test]
    fn a_client_past_its_refusals_is_penalised_alone() {
        let refusals = Refusals::new(3);
        let (junk, reader) = (client("192.0.2.66"), client("192.0.2.1"));
        for _ in 0..3 {
            refusals.refused(&junk);
        }
        assert_eq!(refusals.penalty(&junk), None, "three are allowed");
        refusals.refused(&junk);
        assert!(
            refusals
                .penalty(&junk)
                .is_some_and(|left| left <= Refusals::WINDOW)
        );
        assert_eq!(refusals.penalty(&reader), None);
        let off = Refusals::new(0);
        for _ in 0..10 {
            off.refused(&junk);
        }
        assert_eq!(off.penalty(&junk), None);
    }

    #[tokio::test]
    async fn executions_wait_briefly_for_a_slot() {
        let slots = ExecutionSlots::new(1);
        let held = slots
            .acquire(Duration::from_millis(10))
            .await
            .expect("free");
        assert!(slots.acquire(Duration::from_millis(10)).await.is_none());
        drop(held);
        assert!(slots.acquire(Duration::from_millis(10)).await.is_some());
    }
}
