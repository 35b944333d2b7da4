//! Webhook endpoints and their deliveries from the event outbox (migration 0016). Events
//! and deliveries are written by triggers with the changes they report; this module
//! manages the endpoints, and lets workers claim, record and retry deliveries.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::delivery_rows::{DeliveryTable, failure_text};
use crate::error::StoreError;

/// An endpoint as stored (its secrets sealed; `gazette_domain::webhooks` opens them).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub secret_sealed: Vec<u8>,
    pub previous_secret_sealed: Option<Vec<u8>>,
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One delivery of an event to an endpoint, and how its attempts went.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Delivery {
    pub id: i64,
    pub event_id: i64,
    pub webhook_id: i64,
    pub event_type: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_response_code: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A delivery a worker claimed: what to send, and where.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Claimed {
    pub delivery_id: i64,
    /// Attempts so far, this one included.
    pub attempts: i32,
    pub event_id: i64,
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// The event's data, as JSON text.
    pub data: String,
    #[sqlx(flatten)]
    pub webhook: Webhook,
}

const WEBHOOK_COLUMNS: &str = "w.id, w.url, w.description, w.events, w.secret_sealed, \
     w.previous_secret_sealed, w.previous_secret_until, w.enabled, w.disabled_reason, \
     w.failing_since, w.created_at, w.updated_at";

const DELIVERY_COLUMNS: &str = "d.id, d.event_id, d.webhook_id, e.type as event_type, d.status, \
     d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_response_code, d.last_error, \
     d.delivered_at";

pub async fn create(
    exec: impl PgExecutor<'_>,
    url: &str,
    description: &str,
    events: &[String],
    secret_sealed: &[u8],
) -> Result<Webhook, StoreError> {
    let webhook = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "insert into webhooks as w (url, description, events, secret_sealed) values ($1, $2, $3, $4) \
         returning {WEBHOOK_COLUMNS}"
    )))
    .bind(url)
    .bind(description)
    .bind(events)
    .bind(secret_sealed)
    .fetch_one(exec)
    .await?;
    Ok(webhook)
}

/// Every endpoint, oldest first.
pub async fn all(exec: impl PgExecutor<'_>) -> Result<Vec<Webhook>, StoreError> {
    let webhooks = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {WEBHOOK_COLUMNS} from webhooks w order by w.id"
    )))
    .fetch_all(exec)
    .await?;
    Ok(webhooks)
}

/// How many endpoints there are.
pub async fn count(exec: impl PgExecutor<'_>) -> Result<i64, StoreError> {
    let count = sqlx::query_scalar("select count(*) from webhooks")
        .fetch_one(exec)
        .await?;
    Ok(count)
}

pub async fn find(exec: impl PgExecutor<'_>, id: i64) -> Result<Option<Webhook>, StoreError> {
    let webhook = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {WEBHOOK_COLUMNS} from webhooks w where w.id = $1"
    )))
    .bind(id)
    .fetch_optional(exec)
    .await?;
    Ok(webhook)
}

/// Changes what is given; `None` leaves it.
pub async fn update(
    exec: impl PgExecutor<'_>,
    id: i64,
    url: Option<&str>,
    description: Option<&str>,
    events: Option<&[String]>,
) -> Result<Option<Webhook>, StoreError> {
    let webhook = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update webhooks w set url = coalesce($2, url), description = coalesce($3, description), \
         events = coalesce($4, events), updated_at = now() where w.id = $1 returning {WEBHOOK_COLUMNS}"
    )))
    .bind(id)
    .bind(url)
    .bind(description)
    .bind(events)
    .fetch_optional(exec)
    .await?;
    Ok(webhook)
}

pub async fn delete(exec: impl PgExecutor<'_>, id: i64) -> Result<bool, StoreError> {
    let deleted = sqlx::query("delete from webhooks where id = $1")
        .bind(id)
        .execute(exec)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// A new secret; the current one keeps signing until `previous_until`.
pub async fn rotate_secret(
    exec: impl PgExecutor<'_>,
    id: i64,
    secret_sealed: &[u8],
    previous_until: DateTime<Utc>,
) -> Result<Option<Webhook>, StoreError> {
    let webhook = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update webhooks w set previous_secret_sealed = secret_sealed, previous_secret_until = $3, \
         secret_sealed = $2, updated_at = now() where w.id = $1 returning {WEBHOOK_COLUMNS}"
    )))
    .bind(id)
    .bind(secret_sealed)
    .bind(previous_until)
    .fetch_optional(exec)
    .await?;
    Ok(webhook)
}

/// Enables (and forgets past failures) or disables with a reason.
pub async fn set_enabled(
    exec: impl PgExecutor<'_>,
    id: i64,
    enabled: bool,
    reason: Option<&str>,
) -> Result<Option<Webhook>, StoreError> {
    let webhook = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "update webhooks w set enabled = $2, disabled_reason = case when $2 then null else $3 end, \
         failing_since = case when $2 then null else failing_since end, updated_at = now() \
         where w.id = $1 returning {WEBHOOK_COLUMNS}"
    )))
    .bind(id)
    .bind(enabled)
    .bind(reason)
    .fetch_optional(exec)
    .await?;
    Ok(webhook)
}

/// The latest deliveries to an endpoint, newest first.
pub async fn recent_deliveries(
    exec: impl PgExecutor<'_>,
    webhook_ids: &[i64],
    per_webhook: i64,
) -> Result<Vec<Delivery>, StoreError> {
    let deliveries = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {DELIVERY_COLUMNS} from unnest($1::bigint[]) as w(id) \
         cross join lateral (select * from webhook_deliveries d where d.webhook_id = w.id \
         order by d.id desc limit $2) d join outbox_events e on e.id = d.event_id \
         order by d.webhook_id, d.id desc"
    )))
    .bind(webhook_ids)
    .bind(per_webhook)
    .fetch_all(exec)
    .await?;
    Ok(deliveries)
}

/// Queues `event_id` for the endpoint again, at once (with the event's own webhook-id);
/// `None` when the endpoint was never sent that event.
pub async fn redeliver(
    exec: impl PgExecutor<'_>,
    webhook_id: i64,
    event_id: i64,
) -> Result<Option<Delivery>, StoreError> {
    let delivery = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with d as (insert into webhook_deliveries (event_id, webhook_id) \
         select e.id, $1 from outbox_events e where e.id = $2 \
         and exists (select 1 from webhook_deliveries p where p.event_id = e.id and p.webhook_id = $1) \
         returning *) \
         select {DELIVERY_COLUMNS} from d join outbox_events e on e.id = d.event_id"
    )))
    .bind(webhook_id)
    .bind(event_id)
    .fetch_optional(exec)
    .await?;
    Ok(delivery)
}

/// A `webhook.test` event for one endpoint only, delivered at once.
pub async fn queue_test(
    exec: impl PgExecutor<'_>,
    webhook_id: i64,
    data_json: &str,
) -> Result<Delivery, StoreError> {
    let delivery = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with e as (insert into outbox_events (type, data) values ('webhook.test', $2::jsonb) returning *), \
                  d as (insert into webhook_deliveries (event_id, webhook_id) select e.id, $1 from e returning *) \
         select {DELIVERY_COLUMNS} from d join e on e.id = d.event_id"
    )))
    .bind(webhook_id)
    .bind(data_json)
    .fetch_one(exec)
    .await?;
    Ok(delivery)
}

/// Claims up to `limit` due deliveries to enabled endpoints other than `busy` for `lease`
/// (rows other workers hold are skipped, not waited for), counting the attempt.
pub async fn claim_due(
    exec: impl PgExecutor<'_>,
    limit: i64,
    lease: Duration,
    busy: &[i64],
) -> Result<Vec<Claimed>, StoreError> {
    let claimed = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "with due as ( \
             select d.id from webhook_deliveries d join webhooks w on w.id = d.webhook_id \
             where d.status = 'pending' and d.next_attempt_at <= now() \
               and (d.leased_until is null or d.leased_until < now()) and w.enabled \
               and not (d.webhook_id = any($3)) \
             order by d.next_attempt_at, d.id limit $1 \
             for update of d skip locked), \
         claimed as ( \
             update webhook_deliveries d set leased_until = now() + make_interval(secs => $2), \
                 attempts = d.attempts + 1, last_attempt_at = now() \
             from due where d.id = due.id returning d.id, d.event_id, d.webhook_id, d.attempts) \
         select c.id as delivery_id, c.attempts, e.id as event_id, e.type as event_type, \
             e.occurred_at, e.data::text as data, {WEBHOOK_COLUMNS} \
         from claimed c join outbox_events e on e.id = c.event_id join webhooks w on w.id = c.webhook_id \
         order by e.id"
    )))
        .bind(limit)
    .bind(lease.as_secs_f64())
    .bind(busy)
    .fetch_all(exec)
    .await?;
    Ok(claimed)
}

/// Gives claimed deliveries back untried (a worker claimed more for one endpoint than it
/// sends at once): due again at once, the attempt not counted.
pub async fn hand_back(exec: impl PgExecutor<'_>, delivery_ids: &[i64]) -> Result<(), StoreError> {
    DeliveryTable::Webhooks.hand_back(exec, delivery_ids).await
}

/// The receiver took it.
pub async fn record_delivered(
    exec: impl PgExecutor<'_>,
    delivery_id: i64,
    response_code: i32,
) -> Result<(), StoreError> {
    let delivered = DeliveryTable::Webhooks.delivered("returning webhook_id");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "with d as ({delivered}) \
         update webhooks set failing_since = null where id = (select webhook_id from d)"
    )))
    .bind(delivery_id)
    .bind(response_code)
    .execute(exec)
    .await?;
    Ok(())
}

/// The attempt failed: tried again at `retry_at`, or given up when `None`. The endpoint
/// counts as failing since its first failure after a success, and is disabled as
/// `failing` once that is `disable_after` ago (or at once as `gone` on a 410).
pub async fn record_failed(
    exec: impl PgExecutor<'_>,
    delivery_id: i64,
    response_code: Option<i32>,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    gone: bool,
    disable_after: Duration,
) -> Result<(), StoreError> {
    let failed = DeliveryTable::Webhooks.failed("returning webhook_id");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "with d as ({failed}) \
         update webhooks w set failing_since = coalesce(w.failing_since, now()), \
             enabled = w.enabled and not $5 \
                 and coalesce(w.failing_since, now()) > now() - make_interval(secs => $6), \
             disabled_reason = case \
                 when not w.enabled then w.disabled_reason \
                 when $5 then 'gone' \
                 when coalesce(w.failing_since, now()) <= now() - make_interval(secs => $6) then 'failing' \
                 else null end, \
             updated_at = now() \
         where w.id = (select webhook_id from d)"
    )))
    .bind(delivery_id)
    .bind(response_code)
    .bind(failure_text(error))
    .bind(retry_at)
    .bind(gone)
    .bind(disable_after.as_secs_f64())
    .execute(exec)
    .await?;
    Ok(())
}

/// Deliveries waiting to be attempted (due or not) to enabled endpoints: the backlog.
pub async fn backlog(exec: impl PgExecutor<'_>) -> Result<i64, StoreError> {
    let count = sqlx::query_scalar(
        "select count(*) from webhook_deliveries d join webhooks w on w.id = d.webhook_id \
         where d.status = 'pending' and w.enabled",
    )
    .fetch_one(exec)
    .await?;
    Ok(count)
}

/// Forgets events older than `age` that have nothing left to deliver.
pub async fn prune(exec: impl PgExecutor<'_>, age: Duration) -> Result<u64, StoreError> {
    let pruned = sqlx::query(
        "delete from outbox_events e where e.occurred_at < now() - make_interval(secs => $1) \
         and not exists (select 1 from webhook_deliveries d where d.event_id = e.id and d.status = 'pending') \
         and not exists (select 1 from federation_queue q where q.event_id = e.id)",
    )
    .bind(age.as_secs_f64())
    .execute(exec)
    .await?;
    Ok(pruned.rows_affected())
}
