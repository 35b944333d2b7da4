//! Generated feeds: what the worker built, stored whole so every API process can serve it.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgExecutor;

use crate::error::StoreError;

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

/// A published post with what a feed shows of it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FeedPost {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub excerpt: String,
    pub body_html: String,
    pub published_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub author_name: String,
    pub tags: Vec<String>,
    pub comment_count: i64,
}

/// The latest published posts, newest first, with their authors, tags and comment counts.
pub async fn latest_posts(
    exec: impl PgExecutor<'_>,
    limit: i64,
) -> Result<Vec<FeedPost>, StoreError> {
    let posts = sqlx::query_as(
        r#"
        select p.id, p.slug, p.title, p.excerpt, p.body_html, p.published_at, p.updated_at,
               a.name as author_name,
               array(
                   select t.name from post_tags pt join tags t on t.id = pt.tag_id
                   where pt.post_id = p.id order by pt.position, t.name
               ) as tags,
               (select count(*) from comments c where c.post_id = p.id and c.status = 'published') as comment_count
        from posts p
        join authors a on a.id = p.author_id
        where p.status = 'published'
        order by p.published_at desc, p.id desc
        limit $1
        "#,
    )
    .bind(limit)
    .fetch_all(exec)
    .await?;
    Ok(posts)
}

/// Stores a feed unless the stored copy is identical; true when it was written. One
/// statement, so a reader sees the old feed or the new one, never a mix.
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
