//! Back-pressure for the whole process: how many GraphQL operations run at once, and how
//! many WebSockets are open (per client and in all). The per-operation limits (cost,
//! depth, aliases, size) are in `graphql::limits`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use gazette_domain::ClientKey;
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

/// Why a WebSocket was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketRefusal {
    /// The process has as many as it takes.
    ProcessFull,
    /// This client has as many as one client may.
    ClientFull,
}

#[derive(Default)]
struct SocketCounts {
    total: usize,
    per_client: HashMap<ClientKey, usize>,
}

/// The open WebSockets of this process.
#[derive(Clone)]
pub struct SocketRegistry {
    counts: Arc<Mutex<SocketCounts>>,
    max_total: usize,
    max_per_client: usize,
}

impl SocketRegistry {
    pub fn new(max_total: usize, max_per_client: usize) -> Self {
        Self {
            counts: Arc::default(),
            max_total,
            max_per_client,
        }
    }

    /// Counts a new socket of `client`, or says why it may not open. The socket counts
    /// until the guard drops.
    pub fn open(&self, client: ClientKey) -> Result<SocketGuard, SocketRefusal> {
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
        gazette_metrics::metrics().websocket_connections.inc();
        Ok(SocketGuard {
            counts: self.counts.clone(),
            client,
        })
    }
}

/// One open WebSocket, counted until dropped.
pub struct SocketGuard {
    counts: Arc<Mutex<SocketCounts>>,
    client: ClientKey,
}

impl Drop for SocketGuard {
    fn drop(&mut self) {
        gazette_metrics::metrics().websocket_connections.dec();
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
