//! Generated feeds: what the worker reads to build them, and the feeds it built, stored
//! whole so every API process can serve every feed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};

use crate::error::StoreError;
use crate::visibility::Reader;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredFeed {
    /// The feed's path under the public URL, e.g. `feed.xml`.
    pub key: String,
    pub content_type: String,
    pub body: String,
    /// Hex SHA-256 of `body`: the feed's strong ETag.
    pub content_hash: String,
    pub item_count: i32,
    /// When the content last changed: the feed's Last-Modified.
    pub generated_at: DateTime<Utc>,
}

/// A stored feed without its body.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FeedInfo {
    pub key: String,
    pub content_type: String,
    pub content_hash: String,
    pub item_count: i32,
    pub generated_at: DateTime<Utc>,
}

/// What the feeds have not caught up with (migration 0006's `feed_changes`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingChanges {
    /// How many change rows were claimed.
    pub count: i64,
    /// Posts that changed (their comments, tags or themselves).
    pub post_ids: Vec<i64>,
    /// Tags that gained or lost a post, or were renamed.
    pub tag_ids: Vec<i64>,
    /// When the oldest claimed change was recorded.
    pub oldest: Option<DateTime<Utc>>,
}

impl PendingChanges {
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

type ClaimedRow = (
    i64,
    Option<Vec<i64>>,
    Option<Vec<i64>>,
    Option<DateTime<Utc>>,
);

/// Claims every pending change for the caller's transaction: commit once the feeds show
/// them (they are gone), roll back on failure (they stay for the next run). Another worker
/// claiming at the same time waits for this one, then gets only what is newer.
pub async fn claim_changes(tx: &mut PgConnection) -> Result<PendingChanges, StoreError> {
    let (count, post_ids, tag_ids, oldest): ClaimedRow = sqlx::query_as(
        r#"
        with claimed as (delete from feed_changes returning post_id, tag_id, changed_at)
        select count(*),
               array_agg(distinct post_id) filter (where post_id is not null),
               array_agg(distinct tag_id) filter (where tag_id is not null),
               min(changed_at)
        from claimed
        "#,
    )
    .fetch_one(tx)
    .await?;
    Ok(PendingChanges {
        count,
        post_ids: post_ids.unwrap_or_default(),
        tag_ids: tag_ids.unwrap_or_default(),
        oldest,
    })
}

/// Which stored keys are a tag's or a post's feeds: the parts of the key around the slug,
/// `("tags/", "/feed.xml")`, for each such feed (the domain's feed table gives them).
#[derive(Debug, Clone, Copy)]
pub struct SlugKeys<'a> {
    pub tags: &'a [(&'a str, &'a str)],
    pub posts: &'a [(&'a str, &'a str)],
}

/// Removes the stored feeds of tags and posts the public no longer sees (deleted,
/// unpublished, renamed), and any key under their prefixes that is not one of `keys` (a
/// feed no longer published); returns their keys. (Channels' documents:
/// [`remove_stale_channel_documents`].)
pub async fn remove_stale(
    exec: impl PgExecutor<'_>,
    keys: SlugKeys<'_>,
) -> Result<Vec<String>, StoreError> {
    // Stored feeds are public: a tag's feeds stay while the public sees the tag, a post's
    // comment feeds while the public sees the post.
    remove_announced(exec, |query| {
        query.push("(");
        push_stale(query, keys.tags, "tags t", "t", |query| {
            Reader::PUBLIC.push_tag_visible(query)
        });
        query.push(") or (");
        push_stale(query, keys.posts, "posts p", "p", |query| {
            Reader::PUBLIC.push_post_visible(query, "p")
        });
        query.push(")");
    })
    .await
}

/// `unnest(…) k(prefix, suffix)`: the parts of feed keys around a slug, as rows.
pub(crate) fn push_key_parts(query: &mut QueryBuilder<Postgres>, parts: &[(&str, &str)]) {
    let (prefixes, suffixes): (Vec<String>, Vec<String>) = parts
        .iter()
        .map(|(prefix, suffix)| ((*prefix).to_owned(), (*suffix).to_owned()))
        .unzip();
    query
        .push("unnest(")
        .push_bind(prefixes)
        .push("::text[], ")
        .push_bind(suffixes)
        .push("::text[]) k(prefix, suffix)");
}

/// ` f.key is under one of `parts`' prefixes and names no row of `table` that `visible`
/// admits`. The slug is cut out of the key, so each check is an index look-up by slug.
fn push_stale(
    query: &mut QueryBuilder<Postgres>,
    parts: &[(&str, &str)],
    table: &str,
    alias: &str,
    visible: impl FnOnce(&mut QueryBuilder<Postgres>),
) {
    let prefixes: Vec<String> = parts
        .iter()
        .map(|(prefix, _)| format!("{prefix}%"))
        .collect();
    query
        .push("f.key like any(")
        .push_bind(prefixes)
        .push(") and not exists (select 1 from ");
    push_key_parts(query, parts);
    query.push(format!(
        " join {table} on {alias}.slug = \
             substr(f.key, length(k.prefix) + 1, \
             greatest(length(f.key) - length(k.prefix) - length(k.suffix), 0)) \
             where f.key = k.prefix || {alias}.slug || k.suffix"
    ));
    visible(query);
    query.push(")");
}

/// Removes the published documents of channels that are gone or disabled (or renamed):
/// returns their keys.
pub async fn remove_stale_channel_documents(
    exec: impl PgExecutor<'_>,
) -> Result<Vec<String>, StoreError> {
    remove_announced(exec, |query| {
        query.push(
            "f.key like 'syndication/%' and not exists (select 1 from social_channels c \
             where c.enabled \
             and f.key in ('syndication/' || c.slug || '.json', 'syndication/' || c.slug || '.txt'))",
        );
    })
    .await
}

/// Removes the stored documents (`f`) that `condition` selects, announcing each removal as
/// a feed change marked `removed` (API processes drop their copies); returns their keys.
async fn remove_announced(
    exec: impl PgExecutor<'_>,
    condition: impl FnOnce(&mut QueryBuilder<Postgres>),
) -> Result<Vec<String>, StoreError> {
    let mut query = QueryBuilder::new("with removed as (delete from generated_feeds f where ");
    condition(&mut query);
    query.push(
        " returning f.key) select key from removed, lateral (\
         select pg_notify('gazette_events', \
             json_build_object('kind', 'feed_changed', 'key', key, 'removed', true)::text)\
         ) notified",
    );
    let removed = query.build_query_scalar().fetch_all(exec).await?;
    Ok(removed)
}

/// Makes feed `key` this transaction's to build: other workers wait until it commits or
/// rolls back, so two never build the same feed at once.
pub async fn lock(tx: &mut PgConnection, key: &str) -> Result<(), StoreError> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('feed:' || $1, 0))")
        .bind(key)
        .execute(tx)
        .await?;
    Ok(())
}

/// Stores a feed unless the stored copy is identical; true when it was written. One
/// statement, so a reader sees the old feed or the new one, never a mix; a change is
/// announced (`feed_changed`) when the transaction commits.
pub async fn store_if_changed(
    exec: impl PgExecutor<'_>,
    key: &str,
    content_type: &str,
    body: &str,
    item_count: i32,
) -> Result<bool, StoreError> {
    let content_hash = hex::encode(Sha256::digest(body.as_bytes()));
    let written: Option<String> = sqlx::query_scalar(
        r#"
        with written as (
            insert into generated_feeds (key, content_type, body, content_hash, item_count, generated_at)
            values ($1, $2, $3, $4, $5, now())
            on conflict (key) do update
            set content_type = excluded.content_type,
                body = excluded.body,
                content_hash = excluded.content_hash,
                item_count = excluded.item_count,
                generated_at = excluded.generated_at
            where generated_feeds.content_hash <> excluded.content_hash
               or generated_feeds.content_type <> excluded.content_type
            returning key
        )
        select key from written, lateral (
            select pg_notify('gazette_events', json_build_object('kind', 'feed_changed', 'key', key)::text)
        ) notified
        "#,
    )
    .bind(key)
    .bind(content_type)
    .bind(body)
    .bind(&content_hash)
    .bind(item_count)
    .fetch_optional(exec)
    .await?;
    Ok(written.is_some())
}

pub async fn find(exec: impl PgExecutor<'_>, key: &str) -> Result<Option<StoredFeed>, StoreError> {
    let feed = sqlx::query_as("select * from generated_feeds where key = $1")
        .bind(key)
        .fetch_optional(exec)
        .await?;
    Ok(feed)
}

/// The content hash of each of `keys` that is stored (to revalidate cached copies).
pub async fn hashes(
    exec: impl PgExecutor<'_>,
    keys: &[String],
) -> Result<HashMap<String, String>, StoreError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("select key, content_hash from generated_feeds where key = any($1)")
            .bind(keys)
            .fetch_all(exec)
            .await?;
    Ok(rows.into_iter().collect())
}

/// The stored feeds (RSS, Atom and JSON Feed, not the channel texts stored alongside), by
/// key, without bodies: at most `limit`, after the key `after_key` when given.
pub async fn list(
    exec: impl PgExecutor<'_>,
    after_key: Option<&str>,
    limit: i64,
) -> Result<Vec<FeedInfo>, StoreError> {
    let feeds = sqlx::query_as(
        "select key, content_type, content_hash, item_count, generated_at from generated_feeds \
         where (content_type like 'application/rss+xml%' or content_type like 'application/atom+xml%' \
            or content_type like 'application/feed+json%') and ($1::text is null or key > $1) \
         order by key limit $2",
    )
    .bind(after_key)
    .bind(limit)
    .fetch_all(exec)
    .await?;
    Ok(feeds)
}
