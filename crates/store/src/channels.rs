//! Social channels: where an organisation announces its posts.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::error::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum ChannelKind {
    Facebook,
    Twitter,
    Youtube,
    Flickr,
    Blog,
    Rss,
    Podcast,
    Mastodon,
    Linkedin,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Channel {
    pub id: i64,
    pub slug: String,
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
    pub position: i32,
}

pub async fn insert(
    exec: impl PgExecutor<'_>,
    channel: &NewChannel<'_>,
) -> Result<Channel, StoreError> {
    let inserted = sqlx::query_as(
        r#"
        insert into social_channels (slug, kind, name, url, position)
        values ($1, $2, $3, $4, $5)
        returning *
        "#,
    )
    .bind(channel.slug)
    .bind(channel.kind)
    .bind(channel.name)
    .bind(channel.url)
    .bind(channel.position)
    .fetch_one(exec)
    .await?;
    Ok(inserted)
}

/// Every channel, in display order.
pub async fn list(exec: impl PgExecutor<'_>) -> Result<Vec<Channel>, StoreError> {
    let channels = sqlx::query_as("select * from social_channels order by position, id")
        .fetch_all(exec)
        .await?;
    Ok(channels)
}
