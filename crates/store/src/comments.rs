//! Threaded comments. The materialised `path` (maintained by a trigger) orders a post's
//! whole thread depth-first, oldest first, from one index range scan.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::error::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum CommentStatus {
    Published,
    Pending,
    Spam,
    Deleted,
}

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Comment {
    pub id: i64,
    pub post_id: i64,
    pub parent_id: Option<i64>,
    pub path: Vec<i64>,
    pub depth: i32,
    pub author_name: String,
    pub author_email: Option<String>,
    pub author_url: Option<String>,
    pub author_id: Option<i64>,
    pub body: String,
    pub body_html: String,
    pub status: CommentStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A comment to insert; the caller renders `body_html`.
#[derive(Debug, Clone)]
pub struct NewComment<'a> {
    pub post_id: i64,
    pub parent_id: Option<i64>,
    pub author_name: &'a str,
    pub author_email: Option<&'a str>,
    pub author_url: Option<&'a str>,
    pub author_id: Option<i64>,
    pub body: &'a str,
    pub body_html: &'a str,
    pub status: CommentStatus,
    /// Set for imported comments; new ones get `now()`.
    pub created_at: Option<DateTime<Utc>>,
}

pub async fn insert(
    exec: impl PgExecutor<'_>,
    comment: &NewComment<'_>,
) -> Result<Comment, StoreError> {
    let inserted = sqlx::query_as(
        r#"
        insert into comments (post_id, parent_id, author_name, author_email, author_url, author_id,
                              body, body_html, status, created_at, updated_at)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, now()), coalesce($10, now()))
        returning *
        "#,
    )
    .bind(comment.post_id)
    .bind(comment.parent_id)
    .bind(comment.author_name)
    .bind(comment.author_email)
    .bind(comment.author_url)
    .bind(comment.author_id)
    .bind(comment.body)
    .bind(comment.body_html)
    .bind(comment.status)
    .bind(comment.created_at)
    .fetch_one(exec)
    .await?;
    Ok(inserted)
}

/// A post's whole thread in display order (depth-first, oldest first), every status.
pub async fn thread(exec: impl PgExecutor<'_>, post_id: i64) -> Result<Vec<Comment>, StoreError> {
    let comments = sqlx::query_as("select * from comments where post_id = $1 order by path")
        .bind(post_id)
        .fetch_all(exec)
        .await?;
    Ok(comments)
}

/// The number of published comments on each of `post_ids` (posts without any are absent).
pub async fn published_counts(
    exec: impl PgExecutor<'_>,
    post_ids: &[i64],
) -> Result<HashMap<i64, i64>, StoreError> {
    let counts: Vec<(i64, i64)> = sqlx::query_as(
        r#"
        select post_id, count(*)
        from comments
        where post_id = any($1) and status = 'published'
        group by post_id
        "#,
    )
    .bind(post_ids)
    .fetch_all(exec)
    .await?;
    Ok(counts.into_iter().collect())
}
