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

use crate::delivery_loop::{self, Pace, Queue};
use crate::error::WorkerError;
use crate::scheduler::Runner;

/// A receiver has this long to answer.
const TIMEOUT: Duration = Duration::from_secs(15);
/// A claimed delivery is this worker's for this long: the timeout and a margin. After a
/// crash, another worker takes it over when it runs out.
const LEASE: Duration = Duration::from_secs(20);
/// Deliveries in flight at once, in all, and to one endpoint.
const IN_FLIGHT: usize = 16;
const PER_ENDPOINT: usize = 2;
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
    pool: gazette_store::PgPool,
}

/// Delivers until the worker stops (see [`crate::delivery_loop`]).
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
        pool: runner.pool.clone(),
    });
    let pace = Pace {
        in_flight: IN_FLIGHT,
        per_receiver: PER_ENDPOINT,
        poll: POLL,
        prune_every: Duration::from_secs(3600),
        drain: TIMEOUT,
    };
    delivery_loop::run(
        deliverer,
        pace,
        runner.stopping.clone(),
        runner.outbox_changed.clone(),
    )
    .await;
}

fn client(settings: &WebhookSettings) -> Result<reqwest::Client, WorkerError> {
    gazette_domain::outbound::client(
        settings.endpoints.allow_private,
        TIMEOUT,
        gazette_domain::outbound::Purpose::Outbound,
    )
    .map_err(|error| WorkerError::Hub(error.to_string()))
}

impl Queue for Deliverer {
    type Delivery = Claimed;
    type Receiver = i64;
    const NAME: &'static str = "webhook deliveries";

    fn receiver(delivery: &Claimed) -> i64 {
        delivery.webhook.id
    }

    fn id(delivery: &Claimed) -> i64 {
        delivery.delivery_id
    }

    async fn claim(&self, limit: i64, busy: Vec<i64>) -> Result<Vec<Claimed>, StoreError> {
        webhooks::claim_due(&self.pool, limit, LEASE, &busy).await
    }

    async fn hand_back(&self, ids: Vec<i64>) -> Result<(), StoreError> {
        webhooks::hand_back(&self.pool, &ids).await
    }

    async fn attempt(self: Arc<Self>, delivery: Claimed) {
        Deliverer::attempt(&self, delivery).await;
    }

    async fn prune(&self) -> Result<u64, StoreError> {
        webhooks::prune(&self.pool, KEEP_EVENTS).await
    }
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
    async fn attempt(&self, delivery: Claimed) {
        let pool = &self.pool;
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
        if let Err(refused) = rules::resolve_allowed(
            &url,
            self.settings.endpoints,
            gazette_domain::outbound::Purpose::Outbound,
        )
        .await
        {
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
        let response = match sent {
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
        let (retry_after, answer) = gazette_domain::outbound::refusal(response).await;
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
