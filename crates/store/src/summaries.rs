//! Social summaries and digests as the worker generated them, stored like feeds: with a
//! content hash, rewritten only when they change.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgExecutor, QueryBuilder};

use crate::error::StoreError;
use crate::visibility::Reader;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredSummary {
    pub channel_id: i64,
    pub post_id: i64,
    #[sqlx(flatten)]
    pub written: WrittenText,
}

/// A text written for a channel, as a summary and a digest both store it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct WrittenText {
    pub text: String,
    /// Under the channel's own counting rule.
    pub length: i32,
    pub char_limit: i32,
    pub truncated: bool,
    pub generated_at: DateTime<Utc>,
}

/// A summary to store.
#[derive(Debug, Clone)]
pub struct NewSummary<'a> {
    pub channel_id: i64,
    pub post_id: i64,
    pub text: &'a str,
    pub length: i32,
    pub char_limit: i32,
    pub truncated: bool,
    /// What the summary was made of (migration 0013).
    pub input_hash: &'a str,
}

fn hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Stores a summary; its text and time change only when the text does (the input hash
/// is recorded either way). True when the text changed.
pub async fn store(
    exec: impl PgExecutor<'_>,
    summary: &NewSummary<'_>,
) -> Result<bool, StoreError> {
    let changed: Option<bool> = sqlx::query_scalar(
        r#"
        insert into channel_summaries as s (key, channel_id, post_id, body, content_hash, length, char_limit,
                                            truncated, input_hash, generated_at)
        values ($1 || '/' || $2, $1, $2, $3, $4, $5, $6, $7, $8, now())
        on conflict (key) do update
        set body = excluded.body, content_hash = excluded.content_hash, length = excluded.length,
            char_limit = excluded.char_limit, truncated = excluded.truncated,
            input_hash = excluded.input_hash,
            generated_at = case when s.content_hash <> excluded.content_hash
                                  or s.char_limit <> excluded.char_limit
                                then excluded.generated_at else s.generated_at end
        where s.content_hash <> excluded.content_hash
           or s.char_limit <> excluded.char_limit
           or s.input_hash is distinct from excluded.input_hash
        -- now() is this transaction's start: a text rewritten now, not one kept.
        returning s.generated_at = now()
        "#,
    )
    .bind(summary.channel_id)
    .bind(summary.post_id)
    .bind(summary.text)
    .bind(hash(summary.text))
    .bind(summary.length)
    .bind(summary.char_limit)
    .bind(summary.truncated)
    .bind(summary.input_hash)
    .fetch_optional(exec)
    .await?;
    Ok(changed.unwrap_or(false))
}

/// Serialises the regeneration of channel texts across workers, until the caller's
/// transaction ends.
pub async fn lock_regeneration(tx: &mut PgConnection) -> Result<(), StoreError> {
    const SOCIAL_REGENERATION_LOCK: i64 = 0x6761_7a65_736f_6369; // "gazesoci"
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(SOCIAL_REGENERATION_LOCK)
        .execute(tx)
        .await?;
    Ok(())
}

/// Claims every pending change to the channel texts (migration 0013) for the caller's
/// transaction, like the feeds' changes: how many there were.
pub async fn claim_changes(tx: &mut PgConnection) -> Result<i64, StoreError> {
    let count = sqlx::query_scalar(
        "with claimed as (delete from channel_text_changes returning 1) select count(*) from claimed",
    )
    .fetch_one(tx)
    .await?;
    Ok(count)
}

/// A stored text of an enabled channel and what it was made of: a summary (of `post_id`)
/// or the digest of one period.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredText {
    pub channel_id: i64,
    pub post_id: Option<i64>,
    pub input_hash: Option<String>,
    pub text: String,
    pub length: i32,
    pub char_limit: i32,
    pub truncated: bool,
}

/// The enabled channels' summaries, and their digests of the period starting at
/// `period_start` (with no `post_id`).
pub async fn stored_texts(
    exec: impl PgExecutor<'_>,
    period_start: DateTime<Utc>,
) -> Result<Vec<StoredText>, StoreError> {
    let texts = sqlx::query_as(
        r#"
        select s.channel_id, s.post_id, s.input_hash, s.body as text, s.length, s.char_limit, s.truncated
        from channel_summaries s join social_channels c on c.id = s.channel_id
        where c.enabled and s.post_id is not null
        union all
        select d.channel_id, null, d.input_hash, d.body, d.length, d.char_limit, d.truncated
        from channel_digests d join social_channels c on c.id = d.channel_id
        where c.enabled and d.period_start = $1
        "#,
    )
    .bind(period_start)
    .fetch_all(exec)
    .await?;
    Ok(texts)
}

/// Removes a channel's summaries of posts other than `keep` (they left the latest posts).
pub async fn remove_others(
    exec: impl PgExecutor<'_>,
    channel_id: i64,
    keep: &[i64],
) -> Result<u64, StoreError> {
    let removed = sqlx::query(
        "delete from channel_summaries where channel_id = $1 and post_id is not null and post_id <> all($2)",
    )
    .bind(channel_id)
    .bind(keep)
    .execute(exec)
    .await?;
    Ok(removed.rows_affected())
}

/// Removes every channel's summary of one post (it left the public site).
pub async fn remove_for_post(exec: impl PgExecutor<'_>, post_id: i64) -> Result<u64, StoreError> {
    let removed = sqlx::query("delete from channel_summaries where post_id = $1")
        .bind(post_id)
        .execute(exec)
        .await?;
    Ok(removed.rows_affected())
}

/// Removes everything written for channels that are disabled; returns how many rows.
pub async fn remove_disabled(exec: impl PgExecutor<'_>) -> Result<i64, StoreError> {
    let removed = sqlx::query_scalar(
        r#"
        with summaries as (
            delete from channel_summaries s using social_channels c
            where c.id = s.channel_id and not c.enabled
            returning 1
        ), digests as (
            delete from channel_digests d using social_channels c
            where c.id = d.channel_id and not c.enabled
            returning 1
        )
        select (select count(*) from summaries) + (select count(*) from digests)
        "#,
    )
    .fetch_one(exec)
    .await?;
    Ok(removed)
}

/// Stored summaries of posts `reader` may see, of one channel and/or one post when given,
/// newest posts first; at most `limit`.
pub async fn list(
    exec: impl PgExecutor<'_>,
    channel_id: Option<i64>,
    post_id: Option<i64>,
    reader: Reader,
    limit: i64,
) -> Result<Vec<StoredSummary>, StoreError> {
    let mut query = QueryBuilder::new(
        "select s.channel_id, s.post_id, s.body as text, s.length, s.char_limit, s.truncated, s.generated_at \
         from channel_summaries s join social_channels c on c.id = s.channel_id \
         join posts p on p.id = s.post_id where c.enabled",
    );
    reader.push_post_visible(&mut query, "p");
    if let Some(channel_id) = channel_id {
        query.push(" and s.channel_id = ").push_bind(channel_id);
    }
    if let Some(post_id) = post_id {
        query.push(" and s.post_id = ").push_bind(post_id);
    }
    query
        .push(" order by coalesce(p.published_at, p.created_at) desc, p.id desc, c.position, c.id limit ")
        .push_bind(limit);
    let summaries = query.build_query_as().fetch_all(exec).await?;
    Ok(summaries)
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredDigest {
    pub channel_id: i64,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// JSON: `{"posts": [ids], "feedback": [[post id, new comments], …]}`.
    pub details: String,
    #[sqlx(flatten)]
    pub written: WrittenText,
}

/// A digest to store.
#[derive(Debug, Clone)]
pub struct NewDigest<'a> {
    pub channel_id: i64,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub text: &'a str,
    pub details: &'a str,
    pub length: i32,
    pub char_limit: i32,
    pub truncated: bool,
    /// What the digest was made of (migration 0013).
    pub input_hash: &'a str,
}

/// Stores a digest; its text and time change only when the text or details do (the input
/// hash is recorded either way). True when they changed.
pub async fn store_digest(
    exec: impl PgExecutor<'_>,
    digest: &NewDigest<'_>,
) -> Result<bool, StoreError> {
    let content = format!("{}\n{}", digest.text, digest.details);
    let changed: Option<bool> = sqlx::query_scalar(
        r#"
        insert into channel_digests as d (channel_id, period_start, period_end, body, details, length,
                                          char_limit, truncated, content_hash, input_hash, generated_at)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
        on conflict (channel_id, period_start) do update
        set period_end = excluded.period_end, body = excluded.body, details = excluded.details,
            length = excluded.length, char_limit = excluded.char_limit, truncated = excluded.truncated,
            content_hash = excluded.content_hash, input_hash = excluded.input_hash,
            generated_at = case when d.content_hash <> excluded.content_hash
                                then excluded.generated_at else d.generated_at end
        where d.content_hash <> excluded.content_hash
           or d.input_hash is distinct from excluded.input_hash
        -- now() is this transaction's start: a text rewritten now, not one kept.
        returning d.generated_at = now()
        "#,
    )
    .bind(digest.channel_id)
    .bind(digest.period_start)
    .bind(digest.period_end)
    .bind(digest.text)
    .bind(digest.details)
    .bind(digest.length)
    .bind(digest.char_limit)
    .bind(digest.truncated)
    .bind(hash(&content))
    .bind(digest.input_hash)
    .fetch_optional(exec)
    .await?;
    Ok(changed.unwrap_or(false))
}

/// The newest digest of a channel.
pub async fn latest_digest(
    exec: impl PgExecutor<'_>,
    channel_id: i64,
) -> Result<Option<StoredDigest>, StoreError> {
    let digest = sqlx::query_as(
        r#"
        select d.channel_id, d.period_start, d.period_end, d.body as text, d.details, d.length,
               d.char_limit, d.truncated, d.generated_at
        from channel_digests d join social_channels c on c.id = d.channel_id
        where d.channel_id = $1 and c.enabled
        order by d.period_start desc
        limit 1
        "#,
    )
    .bind(channel_id)
    .fetch_optional(exec)
    .await?;
    Ok(digest)
}
