//! Federation's deliveries (docs/federation.md): queued outbox events are fanned out to
//! the followers' inboxes, and due deliveries are claimed with `FOR UPDATE SKIP LOCKED`
//! and a lease, signed with the blog's key and sent — a few at a time per instance, so a
//! dead instance holds up no other; retried with back-off over days; at least once across
//! worker crashes (an expired lease is claimed again).

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use gazette_domain::federation::remote::{Delivered, Remote, TIMEOUT};
use gazette_domain::federation::{Federation, fanout};
use gazette_domain::outbound::Purpose;
use gazette_domain::webhooks::RetrySchedule;
use gazette_store::federation::{self as store, ClaimedDelivery};
use gazette_store::{PgPool, StoreError};

use crate::delivery_loop::{self, Pace, Queue};
use crate::scheduler::Runner;

/// A claimed delivery is this worker's for this long: the timeout and a margin.
const LEASE: Duration = Duration::from_secs(20);
/// Deliveries in flight at once, in all, and to one instance.
const IN_FLIGHT: usize = 16;
const PER_INSTANCE: usize = 2;
/// Without a wake-up, look for work this often.
const POLL: Duration = Duration::from_secs(1);
/// Finished deliveries are kept this long (to look at), then forgotten.
const KEEP_DELIVERIES: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// Fan-out batches per round, so deliveries start while a large backlog is fanned out.
const FAN_OUT_ROUNDS: usize = 4;

/// Fans out and delivers until the worker stops (see [`crate::delivery_loop`]).
pub(crate) async fn federate(runner: Runner) {
    let Some(federation) = runner.config.federation.clone() else {
        return;
    };
    let remote = match Remote::new(&federation, Purpose::Outbound) {
        Ok(remote) => remote,
        Err(error) => {
            tracing::error!(%error, "federation deliveries cannot be made");
            return;
        }
    };
    let federator = Arc::new(Federator {
        pool: runner.pool.clone(),
        federation,
        remote,
        retries: runner.config.webhooks.retries.clone(),
    });
    let pace = Pace {
        in_flight: IN_FLIGHT,
        per_receiver: PER_INSTANCE,
        poll: POLL,
        prune_every: Duration::from_secs(3600),
        drain: TIMEOUT,
    };
    delivery_loop::run(
        federator,
        pace,
        runner.stopping.clone(),
        runner.federation_changed.clone(),
    )
    .await;
}

struct Federator {
    pool: PgPool,
    federation: Federation,
    remote: Remote,
    retries: RetrySchedule,
}

impl Queue for Federator {
    type Delivery = ClaimedDelivery;
    type Receiver = String;
    const NAME: &'static str = "federation deliveries";

    /// The instance (its host on any port): at most two deliveries to it at once.
    fn receiver(delivery: &ClaimedDelivery) -> String {
        gazette_domain::federation::instance_of(&delivery.host)
    }

    fn id(delivery: &ClaimedDelivery) -> i64 {
        delivery.id
    }

    /// Queued events become deliveries first, a few batches a round, so deliveries start
    /// while a large backlog is fanned out.
    async fn prepare(&self) {
        for _ in 0..FAN_OUT_ROUNDS {
            match fanout::fan_out(&self.pool, &self.federation).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(error = %gazette_store::display_chain(&error), "cannot fan out federation events; retrying");
                    break;
                }
            }
        }
    }

    async fn claim(
        &self,
        limit: i64,
        busy: Vec<String>,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        store::claim_deliveries(&self.pool, limit, LEASE, &busy).await
    }

    async fn hand_back(&self, ids: Vec<i64>) -> Result<(), StoreError> {
        store::hand_back_deliveries(&self.pool, &ids).await
    }

    async fn attempt(self: Arc<Self>, delivery: ClaimedDelivery) {
        attempt(&self.remote, &self.pool, &self.retries, delivery).await;
    }

    async fn prune(&self) -> Result<u64, StoreError> {
        store::prune(&self.pool, KEEP_DELIVERIES).await
    }
}

async fn attempt(
    remote: &Remote,
    pool: &PgPool,
    retries: &RetrySchedule,
    delivery: ClaimedDelivery,
) {
    let started = Instant::now();
    let attempts = u32::try_from(delivery.attempts).unwrap_or(u32::MAX);
    let retry_at = |retry_after: Option<Duration>| {
        retries
            .next_delay(attempts, retry_after)
            .map(|delay| Utc::now() + chrono::TimeDelta::from_std(delay).unwrap_or_default())
    };
    let (label, recorded) = match remote.deliver(&delivery.inbox, &delivery.activity).await {
        Delivered::Accepted(code) => (
            "delivered",
            store::record_delivered(pool, delivery.id, i32::from(code)).await,
        ),
        // Gone: the inbox will never take it.
        Delivered::Failed {
            code: Some(410), ..
        } => (
            "gave_up",
            store::record_failed(
                pool,
                delivery.id,
                Some(410),
                "The inbox is gone (410).",
                None,
            )
            .await,
        ),
        Delivered::Failed {
            code,
            error,
            retry_after,
        } => {
            let retry_at = retry_at(retry_after);
            let label = if retry_at.is_some() {
                "retrying"
            } else {
                "gave_up"
            };
            (
                label,
                store::record_failed(pool, delivery.id, code.map(i32::from), &error, retry_at)
                    .await,
            )
        }
        // Retried on the schedule, as webhooks are: a name that does not resolve for a
        // while (the follower's DNS down) refuses too, and its deliveries must not be lost.
        Delivered::Refused(error) => (
            "refused",
            store::record_failed(pool, delivery.id, None, &error, retry_at(None)).await,
        ),
    };
    let metrics = gazette_metrics::metrics();
    metrics
        .federation_deliveries
        .with_label_values(&[label])
        .inc();
    metrics
        .federation_delivery_seconds
        .with_label_values(&[label])
        .observe(started.elapsed().as_secs_f64());
    if let Err(error) = recorded {
        // The lease runs out and the delivery is attempted again: at least once.
        tracing::warn!(error = %gazette_store::display_chain(&error), delivery = delivery.id, "cannot record a federation delivery");
    }
}
