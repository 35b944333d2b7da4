//! Social channels: where an organisation announces its posts.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

pub use gazette_syndication::social::ChannelKind;

use crate::error::StoreError;
use crate::visibility::Reader;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Channel {
    pub id: i64,
    pub slug: String,
    #[sqlx(try_from = "String")]
    pub kind: ChannelKind,
    pub name: String,
    pub url: String,
    pub enabled: bool,
    pub template: Option<String>,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewChannel<'a> {
    pub slug: &'a str,
    pub kind: ChannelKind,
    pub name: &'a str,
    pub url: &'a str,
    /// `None`: after the last channel.
    pub position: Option<i32>,
    pub enabled: bool,
    pub template: Option<&'a str>,
}

/// Inserts `channel` unless the site has `max` channels already (`None` then), in one
/// transaction that holds the channels' advisory lock, so concurrent inserts cannot pass
/// the bound together.
pub async fn insert_within(
    conn: &mut PgConnection,
    channel: &NewChannel<'_>,
    max: usize,
) -> Result<Option<Channel>, StoreError> {
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    sqlx::query("select pg_advisory_xact_lock(hashtext('gazette:channels'))")
        .execute(&mut *tx)
        .await?;
    let count: i64 = sqlx::query_scalar("select count(*) from social_channels")
        .fetch_one(&mut *tx)
        .await?;
    if usize::try_from(count).unwrap_or(usize::MAX) >= max {
        return Ok(None);
    }
    let inserted = insert(&mut *tx, channel).await?;
    tx.commit().await?;
    Ok(Some(inserted))
}

pub async fn insert(
    exec: impl PgExecutor<'_>,
    channel: &NewChannel<'_>,
) -> Result<Channel, StoreError> {
    let inserted = sqlx::query_as(
        r#"
        insert into social_channels (slug, kind, name, url, position, enabled, template)
        values ($1, $2, $3, $4,
                coalesce($5, (select coalesce(max(position) + 1, 0) from social_channels)), $6, $7)
        returning *
        "#,
    )
    .bind(channel.slug)
    .bind(channel.kind.as_str())
    .bind(channel.name)
    .bind(channel.url)
    .bind(channel.position)
    .bind(channel.enabled)
    .bind(channel.template)
    .fetch_one(exec)
    .await?;
    Ok(inserted)
}

/// Changes to a channel; `None` leaves a column as it is. `template: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ChannelChanges<'a> {
    pub slug: Option<&'a str>,
    pub kind: Option<ChannelKind>,
    pub name: Option<&'a str>,
    pub url: Option<&'a str>,
    pub enabled: Option<bool>,
    pub template: Option<Option<&'a str>>,
}

pub async fn update(
    exec: impl PgExecutor<'_>,
    id: i64,
    changes: &ChannelChanges<'_>,
) -> Result<Option<Channel>, StoreError> {
    let updated = sqlx::query_as(
        r#"
        update social_channels set
            slug = coalesce($2, slug),
            kind = coalesce($3, kind),
            name = coalesce($4, name),
            url = coalesce($5, url),
            enabled = coalesce($6, enabled),
            template = case when $7 then $8 else template end,
            updated_at = now()
        where id = $1
        returning *
        "#,
    )
    .bind(id)
    .bind(changes.slug)
    .bind(changes.kind.map(ChannelKind::as_str))
    .bind(changes.name)
    .bind(changes.url)
    .bind(changes.enabled)
    .bind(changes.template.is_some())
    .bind(changes.template.flatten())
    .fetch_optional(exec)
    .await?;
    Ok(updated)
}

pub async fn delete(exec: impl PgExecutor<'_>, id: i64) -> Result<Option<Channel>, StoreError> {
    let deleted = sqlx::query_as("delete from social_channels where id = $1 returning *")
        .bind(id)
        .fetch_optional(exec)
        .await?;
    Ok(deleted)
}

/// A channel's columns as `reader` may see them: its template only for admins.
const VISIBLE_COLUMNS: &str = "id, slug, kind, name, url, enabled, \
     case when $1 then template end as template, position, created_at, updated_at";

/// The channels `reader` may see, in display order: enabled ones to everyone, disabled
/// ones too to admins (see [`Reader::sees_channel_settings`]).
pub async fn list(exec: impl PgExecutor<'_>, reader: Reader) -> Result<Vec<Channel>, StoreError> {
    let channels = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {VISIBLE_COLUMNS} from social_channels where (enabled or $1) order by position, id"
    )))
    .bind(reader.sees_channel_settings())
    .fetch_all(exec)
    .await?;
    Ok(channels)
}

/// The channels summaries are written for.
pub async fn enabled_unchecked(exec: impl PgExecutor<'_>) -> Result<Vec<Channel>, StoreError> {
    let channels =
        sqlx::query_as("select * from social_channels where enabled order by position, id")
            .fetch_all(exec)
            .await?;
    Ok(channels)
}

/// The channels of `ids` that `reader` may see.
pub async fn find_by_ids(
    exec: impl PgExecutor<'_>,
    ids: &[i64],
    reader: Reader,
) -> Result<HashMap<i64, Channel>, StoreError> {
    let channels: Vec<Channel> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {VISIBLE_COLUMNS} from social_channels where (enabled or $1) and id = any($2)"
    )))
    .bind(reader.sees_channel_settings())
    .bind(ids)
    .fetch_all(exec)
    .await?;
    Ok(channels
        .into_iter()
        .map(|channel| (channel.id, channel))
        .collect())
}

/// The channel with this slug, if `reader` may see it.
pub async fn find_by_slug(
    exec: impl PgExecutor<'_>,
    slug: &str,
    reader: Reader,
) -> Result<Option<Channel>, StoreError> {
    let channel = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {VISIBLE_COLUMNS} from social_channels where (enabled or $1) and slug = $2"
    )))
    .bind(reader.sees_channel_settings())
    .bind(slug)
    .fetch_optional(exec)
    .await?;
    Ok(channel)
}
