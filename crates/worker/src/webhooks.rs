//! Delivers the outbox's events to webhook endpoints (docs/webhooks.md). Due deliveries
//! are claimed with `FOR UPDATE SKIP LOCKED` and a lease, so several workers share them
//! and each is attempted by one at a time; a worker that dies mid-delivery leaves a lease
//! that runs out, and another worker delivers again with the same `webhook-id`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gazette_domain::EditTokenKey;
use gazette_domain::webhooks::{self as rules, EndpointRules, RetrySchedule};
use gazette_store::webhooks::{self, Claimed};
use gazette_store::{SiteConfig, StoreError};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::error::WorkerError;
use crate::in_flight::PerReceiver;
use crate::scheduler::{Runner, stopped};

/// A receiver has this long to answer.
const TIMEOUT: Duration = Duration::from_secs(15);
/// A claimed delivery is this worker's for this long: the timeout and a margin. After a
/// crash, another worker takes it over when it runs out.
const LEASE: Duration = Duration::from_secs(20);
/// Deliveries in flight at once, in all, and to one endpoint.
const IN_FLIGHT: usize = 16;
const PER_ENDPOINT: usize = 2;
/// The most of a receiver's answer that is read (for the delivery's error text).
const ANSWER_BYTES: usize = 4096;
/// Without a wake-up, look for due deliveries this often.
const POLL: Duration = Duration::from_secs(1);
/// Events delivered everywhere are kept this long (for redelivery), then forgotten.
const KEEP_EVENTS: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// How this worker delivers webhooks.
#[derive(Clone, Debug, Default)]
pub struct WebhookSettings {
    /// The key endpoint secrets are sealed with (the edit-token key file).
    pub key: Option<EditTokenKey>,
    pub endpoints: EndpointRules,
    pub retries: RetrySchedule,
}

struct Deliverer {
    client: reqwest::Client,
    key: EditTokenKey,
    settings: WebhookSettings,
    site: SiteConfig,
}

/// Delivers until the worker stops; `woken` says an event may be waiting.
pub(crate) async fn deliver(runner: Runner) {
    let settings = runner.config.webhooks.clone();
    let Some(key) = settings.key.clone() else {
        tracing::info!("webhooks are not delivered by this worker: it has no secret key");
        return;
    };
    let client = match client(&settings) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "webhooks cannot be delivered");
            return;
        }
    };
    let deliverer = Arc::new(Deliverer {
        client,
        key,
        settings,
        site: runner.config.feeds.site.clone(),
    });
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    // Deliveries under way per endpoint: a slow endpoint holds two slots, not all of them.
    let per_endpoint = Arc::new(PerReceiver::new(PER_ENDPOINT));
    let mut tasks = JoinSet::new();
    let mut stopping = runner.stopping.clone();
    let mut last_prune = Instant::now();
    loop {
        if *stopping.borrow() {
            break;
        }
        let free = in_flight.available_permits();
        let claimed = match free {
            0 => Ok(Vec::new()),
            free => claim(&runner, free, &per_endpoint).await,
        };
        let claimed = claimed.unwrap_or_else(|error| {
            tracing::warn!(error = %gazette_store::display_chain(&error), "cannot claim webhook deliveries; retrying");
            Vec::new()
        });
        let full = !claimed.is_empty() && claimed.len() == free;
        for delivery in claimed {
            let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                break;
            };
            let deliverer = deliverer.clone();
            let pool = runner.pool.clone();
            let per_endpoint = per_endpoint.clone();
            tasks.spawn(async move {
                let webhook = delivery.webhook.id;
                deliverer.attempt(&pool, delivery).await;
                per_endpoint.release(&webhook);
                drop(permit);
            });
        }
        if last_prune.elapsed() > Duration::from_secs(3600) {
            last_prune = Instant::now();
            if let Err(error) = webhooks::prune(&runner.pool, KEEP_EVENTS).await {
                tracing::warn!(error = %gazette_store::display_chain(&error), "cannot prune old events");
            }
        }
        tokio::select! {
            () = tokio::time::sleep(POLL), if !full => {}
            () = runner.outbox_changed.notified() => {}
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            () = stopped(&mut stopping) => break,
        }
    }
    // Deliveries under way finish (each within its timeout); the rest keep their leases.
    let _ = tokio::time::timeout(TIMEOUT, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
}

fn client(settings: &WebhookSettings) -> Result<reqwest::Client, WorkerError> {
    gazette_domain::outbound::client(settings.endpoints.allow_private, TIMEOUT)
        .map_err(|error| WorkerError::Hub(error.to_string()))
}

/// Claims up to `free` due deliveries, none for an endpoint that has [`PER_ENDPOINT`]
/// under way already, and counts them in; what one claim brings beyond that for an
/// endpoint is handed back at once for a later round.
async fn claim(
    runner: &Runner,
    free: usize,
    per_endpoint: &PerReceiver<i64>,
) -> Result<Vec<Claimed>, StoreError> {
    let limit = i64::try_from(free).unwrap_or(i64::MAX);
    let claimed = webhooks::claim_due(&runner.pool, limit, LEASE, &per_endpoint.busy()).await?;
    let (kept, handed_back): (Vec<Claimed>, Vec<Claimed>) = claimed
        .into_iter()
        .partition(|delivery| per_endpoint.take(&delivery.webhook.id));
    if !handed_back.is_empty() {
        let ids: Vec<i64> = handed_back
            .iter()
            .map(|delivery| delivery.delivery_id)
            .collect();
        webhooks::hand_back(&runner.pool, &ids).await?;
    }
    Ok(kept)
}

/// What came of one attempt.
enum Outcome {
    Delivered(u16),
    Failed {
        code: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
    Gone,
    Refused(String),
}

impl Deliverer {
    async fn attempt(&self, pool: &gazette_store::PgPool, delivery: Claimed) {
        let started = Instant::now();
        let outcome = self.send(&delivery).await;
        let attempts = u32::try_from(delivery.attempts).unwrap_or(u32::MAX);
        let (label, recorded) = match outcome {
            Outcome::Delivered(code) => (
                "delivered",
                webhooks::record_delivered(pool, delivery.delivery_id, i32::from(code)).await,
            ),
            Outcome::Gone => (
                "gone",
                webhooks::record_failed(
                    pool,
                    delivery.delivery_id,
                    Some(410),
                    "The receiver answered 410 Gone: the endpoint is disabled.",
                    None,
                    true,
                    rules::DISABLE_AFTER_FAILING,
                )
                .await,
            ),
            Outcome::Failed {
                code,
                error,
                retry_after,
            } => {
                let retry_at = self.retry_at(attempts, retry_after);
                let label = if retry_at.is_some() {
                    "retrying"
                } else {
                    "gave_up"
                };
                (
                    label,
                    webhooks::record_failed(
                        pool,
                        delivery.delivery_id,
                        code.map(i32::from),
                        &error,
                        retry_at,
                        false,
                        rules::DISABLE_AFTER_FAILING,
                    )
                    .await,
                )
            }
            Outcome::Refused(error) => {
                let retry_at = self.retry_at(attempts, None);
                (
                    "refused",
                    webhooks::record_failed(
                        pool,
                        delivery.delivery_id,
                        None,
                        &error,
                        retry_at,
                        false,
                        rules::DISABLE_AFTER_FAILING,
                    )
                    .await,
                )
            }
        };
        let metrics = gazette_metrics::metrics();
        metrics.webhook_deliveries.with_label_values(&[label]).inc();
        metrics
            .webhook_delivery_seconds
            .with_label_values(&[label])
            .observe(started.elapsed().as_secs_f64());
        if let Err(error) = recorded {
            // The lease runs out and the delivery is attempted again: at least once.
            tracing::warn!(error = %gazette_store::display_chain(&error), delivery = delivery.delivery_id, "cannot record a webhook delivery");
        }
    }

    /// When a delivery whose `attempts`-th attempt failed is tried again, if it is.
    fn retry_at(&self, attempts: u32, retry_after: Option<Duration>) -> Option<DateTime<Utc>> {
        self.settings
            .retries
            .next_delay(attempts, retry_after)
            .map(|delay| Utc::now() + chrono::TimeDelta::from_std(delay).unwrap_or_default())
    }

    async fn send(&self, delivery: &Claimed) -> Outcome {
        let Ok(url) = url::Url::parse(&delivery.webhook.url) else {
            return Outcome::Refused("The endpoint's address is not a URL.".to_owned());
        };
        // Literal addresses skip the resolver: checked here. Names are checked again as
        // they are resolved for the connection.
        if let Err(refused) = rules::resolve_allowed(&url, self.settings.endpoints).await {
            return Outcome::Refused(refused.to_string());
        }
        let body = payload(delivery, &self.site);
        let message_id = format!("msg_{}", delivery.event_id);
        let now = Utc::now();
        let timestamp = now.timestamp();
        let Some(signature) = rules::signatures(
            &self.key,
            &delivery.webhook,
            &message_id,
            timestamp,
            body.as_bytes(),
            now,
        ) else {
            return Outcome::Refused(
                "The endpoint's secret was sealed with another key: rotate its secret.".to_owned(),
            );
        };
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => {
                return Outcome::Failed {
                    code: None,
                    error: describe(&error),
                    retry_after: None,
                };
            }
        };
        let status = response.status();
        if status.is_success() {
            return Outcome::Delivered(status.as_u16());
        }
        if status == reqwest::StatusCode::GONE {
            return Outcome::Gone;
        }
        let retry_after = response
            .headers()
            .get("retry-after")
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
        let answer = String::from_utf8_lossy(&answer);
        let answer: String = answer
            .chars()
            .filter(|c| !c.is_control())
            .take(200)
            .collect();
        Outcome::Failed {
            code: Some(status.as_u16()),
            error: format!("The receiver answered {status}: {answer}"),
            retry_after,
        }
    }
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return format!("No answer within {} seconds.", TIMEOUT.as_secs());
    }
    if error.is_connect() {
        return format!("Cannot connect: {}", gazette_store::display_chain(error));
    }
    gazette_store::display_chain(error)
}

/// The body receivers get: `{type, timestamp, data}`, with the public URLs added to the
/// event's data (ids, slugs, titles and statuses only).
fn payload(delivery: &Claimed, site: &SiteConfig) -> String {
    let mut data: Value = serde_json::from_str(&delivery.data).unwrap_or(Value::Null);
    let post_url = data
        .pointer("/post/slug")
        .and_then(Value::as_str)
        .map(|slug| site.post_url(slug));
    if let (Some(url), Some(post)) = (&post_url, data.get_mut("post")) {
        post["url"] = Value::String(url.clone());
    }
    let comment_url = data
        .pointer("/comment/databaseId")
        .and_then(Value::as_i64)
        .zip(post_url)
        .map(|(id, post_url)| format!("{post_url}#comment-{id}"));
    if let (Some(url), Some(comment)) = (comment_url, data.get_mut("comment")) {
        comment["url"] = Value::String(url);
    }
    serde_json::json!({
        "type": delivery.event_type,
        "timestamp": delivery.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": data,
    })
    .to_string()
}
