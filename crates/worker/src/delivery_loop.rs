//! The loop every outgoing delivery queue runs (webhooks, federation): claim due
//! deliveries — with `FOR UPDATE SKIP LOCKED` and a lease, in the store — up to the
//! slots free, never more than a few to one receiver at once (a slow receiver holds a few
//! slots, not all), attempt each in its own task, prune now and then, and sleep until a
//! poll, a wake-up or a finished attempt. A worker that stops lets attempts under way
//! finish within `drain`; the rest keep their leases and another worker takes them over.

use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gazette_store::StoreError;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;

use crate::in_flight::PerReceiver;
use crate::scheduler::stopped;

/// A queue of deliveries in the database.
pub(crate) trait Queue: Send + Sync + 'static {
    type Delivery: Send + 'static;
    type Receiver: Clone + Eq + Hash + Send + Sync + 'static;

    /// What log lines call the deliveries ("webhook deliveries").
    const NAME: &'static str;

    fn receiver(delivery: &Self::Delivery) -> Self::Receiver;
    fn id(delivery: &Self::Delivery) -> i64;

    /// Work before each claim (federation fans events out into deliveries here).
    fn prepare(&self) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// Claims up to `limit` due deliveries, none to a receiver in `busy`.
    fn claim(
        &self,
        limit: i64,
        busy: Vec<Self::Receiver>,
    ) -> impl Future<Output = Result<Vec<Self::Delivery>, StoreError>> + Send;

    /// Gives claimed deliveries back untried.
    fn hand_back(&self, ids: Vec<i64>) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// One attempt, its outcome recorded (an unrecorded one is attempted again when its
    /// lease runs out: at least once).
    fn attempt(self: Arc<Self>, delivery: Self::Delivery) -> impl Future<Output = ()> + Send;

    /// Forgets what is old.
    fn prune(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

/// How many at once, and how often.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pace {
    pub in_flight: usize,
    pub per_receiver: usize,
    /// Without a wake-up, look for due deliveries this often.
    pub poll: Duration,
    pub prune_every: Duration,
    /// How long attempts under way may finish once the worker stops.
    pub drain: Duration,
}

/// Delivers from `queue` until `stopping`; `woken` says work may be waiting.
pub(crate) async fn run<Q: Queue>(
    queue: Arc<Q>,
    pace: Pace,
    mut stopping: watch::Receiver<bool>,
    woken: Arc<Notify>,
) {
    let in_flight = Arc::new(Semaphore::new(pace.in_flight));
    let per_receiver = Arc::new(PerReceiver::new(pace.per_receiver));
    let mut tasks = JoinSet::new();
    let mut last_prune = Instant::now();
    loop {
        if *stopping.borrow() {
            break;
        }
        queue.prepare().await;
        let free = in_flight.available_permits();
        let claimed = match free {
            0 => Ok(Vec::new()),
            free => claim(&*queue, free, &per_receiver).await,
        };
        let claimed = claimed.unwrap_or_else(|error| {
            tracing::warn!(error = %gazette_store::display_chain(&error), "cannot claim {}; retrying", Q::NAME);
            Vec::new()
        });
        let full = !claimed.is_empty() && claimed.len() == free;
        for delivery in claimed {
            let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                break;
            };
            let (queue, per_receiver) = (queue.clone(), per_receiver.clone());
            tasks.spawn(async move {
                let receiver = Q::receiver(&delivery);
                queue.attempt(delivery).await;
                per_receiver.release(&receiver);
                drop(permit);
            });
        }
        if last_prune.elapsed() > pace.prune_every {
            last_prune = Instant::now();
            if let Err(error) = queue.prune().await {
                tracing::warn!(error = %gazette_store::display_chain(&error), "cannot prune old {}", Q::NAME);
            }
        }
        tokio::select! {
            () = tokio::time::sleep(pace.poll), if !full => {}
            () = woken.notified() => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            () = stopped(&mut stopping) => break,
        }
    }
    let _ = tokio::time::timeout(pace.drain, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
}

/// Claims up to `free` due deliveries, none for a receiver that has its share under way,
/// and counts them in; what one claim brings beyond a receiver's share is handed back at
/// once for a later round.
async fn claim<Q: Queue>(
    queue: &Q,
    free: usize,
    per_receiver: &PerReceiver<Q::Receiver>,
) -> Result<Vec<Q::Delivery>, StoreError> {
    let limit = i64::try_from(free).unwrap_or(i64::MAX);
    let claimed = queue.claim(limit, per_receiver.busy()).await?;
    let (kept, handed_back): (Vec<_>, Vec<_>) = claimed
        .into_iter()
        .partition(|delivery| per_receiver.take(&Q::receiver(delivery)));
    if !handed_back.is_empty() {
        queue
            .hand_back(handed_back.iter().map(Q::id).collect())
            .await?;
    }
    Ok(kept)
}
