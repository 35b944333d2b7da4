//! Posts: their rows, and the queries that read and write them.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::error::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum PostStatus {
    Draft,
    Published,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Post {
    pub id: i64,
    pub author_id: i64,
    pub slug: String,
    pub title: String,
    /// Markdown source.
    pub body: String,
    /// `body` rendered to sanitised HTML when it was written.
    pub body_html: String,
    pub excerpt: String,
    pub status: PostStatus,
    pub comments_open: bool,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The columns of [`Post`], for queries that select them from `posts p`.
const POST_COLUMNS: &str = "p.id, p.author_id, p.slug, p.title, p.body, p.body_html, p.excerpt, \
     p.status, p.comments_open, p.published_at, p.created_at, p.updated_at";

/// A post to insert; the caller renders `body_html` and `excerpt`.
#[derive(Debug, Clone)]
pub struct NewPost<'a> {
    pub author_id: i64,
    pub slug: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub body_html: &'a str,
    pub excerpt: &'a str,
    pub status: PostStatus,
    pub published_at: Option<DateTime<Utc>>,
}

pub async fn insert(exec: impl PgExecutor<'_>, post: &NewPost<'_>) -> Result<Post, StoreError> {
    let inserted = sqlx::query_as(
        r#"
        insert into posts (author_id, slug, title, body, body_html, excerpt, status, published_at, created_at, updated_at)
        values ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($8, now()), coalesce($8, now()))
        returning id, author_id, slug, title, body, body_html, excerpt, status, comments_open,
                  published_at, created_at, updated_at
        "#,
    )
    .bind(post.author_id)
    .bind(post.slug)
    .bind(post.title)
    .bind(post.body)
    .bind(post.body_html)
    .bind(post.excerpt)
    .bind(post.status)
    .bind(post.published_at)
    .fetch_one(exec)
    .await?;
    Ok(inserted)
}

pub async fn find_by_id(exec: impl PgExecutor<'_>, id: i64) -> Result<Option<Post>, StoreError> {
    let post = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {POST_COLUMNS} from posts p where p.id = $1"
    )))
    .bind(id)
    .fetch_optional(exec)
    .await?;
    Ok(post)
}

pub async fn find_by_slug(
    exec: impl PgExecutor<'_>,
    slug: &str,
) -> Result<Option<Post>, StoreError> {
    let post = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {POST_COLUMNS} from posts p where p.slug = $1"
    )))
    .bind(slug)
    .fetch_optional(exec)
    .await?;
    Ok(post)
}
