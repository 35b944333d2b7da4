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
use gazette_domain::webhooks::RetrySchedule;
use gazette_store::federation::{self as store, ClaimedDelivery};
use gazette_store::{PgPool, StoreError};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::in_flight::PerReceiver;
use crate::scheduler::{Runner, stopped};

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

/// Fans out and delivers until the worker stops.
pub(crate) async fn federate(runner: Runner) {
    let Some(federation) = runner.config.federation.clone() else {
        return;
    };
    let remote = match Remote::new(&federation) {
        Ok(remote) => Arc::new(remote),
        Err(error) => {
            tracing::error!(%error, "federation deliveries cannot be made");
            return;
        }
    };
    let retries = Arc::new(runner.config.webhooks.retries.clone());
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let per_instance = Arc::new(PerReceiver::new(PER_INSTANCE));
    let mut tasks = JoinSet::new();
    let mut stopping = runner.stopping.clone();
    let mut last_prune = Instant::now();
    loop {
        if *stopping.borrow() {
            break;
        }
        fan_out(&runner.pool, &federation).await;
        let free = in_flight.available_permits();
        let claimed = match free {
            0 => Ok(Vec::new()),
            free => claim(&runner.pool, free, &per_instance).await,
        };
        let claimed = claimed.unwrap_or_else(|error| {
            tracing::warn!(error = %gazette_store::display_chain(&error), "cannot claim federation deliveries; retrying");
            Vec::new()
        });
        let full = !claimed.is_empty() && claimed.len() == free;
        for delivery in claimed {
            let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                break;
            };
            let (remote, pool, per_instance, retries) = (
                remote.clone(),
                runner.pool.clone(),
                per_instance.clone(),
                retries.clone(),
            );
            tasks.spawn(async move {
                let host = delivery.host.clone();
                attempt(&remote, &pool, &retries, delivery).await;
                per_instance.release(&host);
                drop(permit);
            });
        }
        if last_prune.elapsed() > Duration::from_secs(3600) {
            last_prune = Instant::now();
            if let Err(error) = store::prune(&runner.pool, KEEP_DELIVERIES).await {
                tracing::warn!(error = %gazette_store::display_chain(&error), "cannot prune old federation deliveries");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(POLL), if !full => {}
            () = runner.federation_changed.notified() => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            () = stopped(&mut stopping) => break,
        }
    }
    let _ = tokio::time::timeout(TIMEOUT, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
}

async fn fan_out(pool: &PgPool, federation: &Federation) {
    for _ in 0..FAN_OUT_ROUNDS {
        match fanout::fan_out(pool, federation).await {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(error = %gazette_store::display_chain(&error), "cannot fan out federation events; retrying");
                break;
            }
        }
    }
}

/// Claims up to `free` due deliveries, none for an instance with [`PER_INSTANCE`] under
/// way; what one claim brings beyond that is handed back.
async fn claim(
    pool: &PgPool,
    free: usize,
    per_instance: &PerReceiver<String>,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let limit = i64::try_from(free).unwrap_or(i64::MAX);
    let claimed = store::claim_deliveries(pool, limit, LEASE, &per_instance.busy()).await?;
    let (kept, handed_back): (Vec<_>, Vec<_>) = claimed
        .into_iter()
        .partition(|delivery| per_instance.take(&delivery.host));
    if !handed_back.is_empty() {
        let ids: Vec<i64> = handed_back.iter().map(|delivery| delivery.id).collect();
        store::hand_back_deliveries(pool, &ids).await?;
    }
    Ok(kept)
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
        Delivered::Refused(error) => (
            "refused",
            store::record_failed(pool, delivery.id, None, &error, None).await,
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
