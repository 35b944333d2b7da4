//! Reading the whole site for `gazette export`, whoever may see what (the export is the
//! operator's): posts a page at a time by id, each page's comments in one statement.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::comments::CommentStatus;
use crate::error::StoreError;
use crate::posts::PostStatus;

/// A post as the export writes it, with its author's slug and its tags in order.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportedPost {
    pub id: i64,
    pub author_slug: String,
    pub slug: String,
    pub title: String,
    pub body: String,
    pub body_html: String,
    pub excerpt: String,
    pub custom_excerpt: bool,
    pub status: PostStatus,
    pub comments_open: bool,
    pub published_at: Option<DateTime<Utc>>,
    pub tag_slugs: Vec<String>,
    pub tag_names: Vec<String>,
}

/// A comment as the export writes it. Tombstones (deleted comments kept for their
/// replies) have no text and are not read; their replies name them as parent.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportedComment {
    pub id: i64,
    pub post_id: i64,
    pub parent_id: Option<i64>,
    pub author_name: String,
    pub author_email: Option<String>,
    pub author_url: Option<String>,
    pub body: String,
    pub body_html: String,
    pub status: CommentStatus,
    pub created_at: DateTime<Utc>,
}

/// An author: their slug (the export's login) and name. Tokens and emails stay behind.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportedAuthor {
    pub slug: String,
    pub name: String,
}

/// The authors who wrote a post, by slug (ids are not exported: an import makes new ones).
pub async fn authors_unchecked(
    exec: impl PgExecutor<'_>,
) -> Result<Vec<ExportedAuthor>, StoreError> {
    let authors = sqlx::query_as(
        "select a.slug, a.name from authors a \
         where exists (select 1 from posts p where p.author_id = a.id) order by a.slug",
    )
    .fetch_all(exec)
    .await?;
    Ok(authors)
}

/// Up to `limit` posts after the id `after`, by id.
pub async fn posts_unchecked(
    exec: impl PgExecutor<'_>,
    after: i64,
    limit: i64,
) -> Result<Vec<ExportedPost>, StoreError> {
    let posts = sqlx::query_as(
        r#"
        select p.id, a.slug as author_slug, p.slug, p.title, p.body, p.body_html, p.excerpt,
               p.custom_excerpt, p.status, p.comments_open, p.published_at,
               coalesce(t.slugs, '{}') as tag_slugs, coalesce(t.names, '{}') as tag_names
        from posts p
        join authors a on a.id = p.author_id
        left join lateral (
            select array_agg(tg.slug order by pt.position, tg.id) as slugs,
                   array_agg(tg.name order by pt.position, tg.id) as names
            from post_tags pt join tags tg on tg.id = pt.tag_id
            where pt.post_id = p.id
        ) t on true
        where p.id > $1
        order by p.id
        limit $2
        "#,
    )
    .bind(after)
    .bind(limit)
    .fetch_all(exec)
    .await?;
    Ok(posts)
}

/// The comments of `post_ids` that have text, by post and id (parents before replies).
pub async fn comments_unchecked(
    exec: impl PgExecutor<'_>,
    post_ids: &[i64],
) -> Result<Vec<ExportedComment>, StoreError> {
    let comments = sqlx::query_as(
        "select id, post_id, parent_id, author_name, author_email, author_url, body, body_html, \
                status, created_at \
         from comments where post_id = any($1) and status <> 'deleted' order by post_id, id",
    )
    .bind(post_ids)
    .fetch_all(exec)
    .await?;
    Ok(comments)
}

/// Each tombstone's parent, for the tombstones under `post_ids`: a reply under a deleted
/// comment is exported under the nearest ancestor that is exported.
pub async fn tombstone_parents_unchecked(
    exec: impl PgExecutor<'_>,
    post_ids: &[i64],
) -> Result<Vec<(i64, Option<i64>)>, StoreError> {
    let parents = sqlx::query_as(
        "select id, parent_id from comments where post_id = any($1) and status = 'deleted'",
    )
    .bind(post_ids)
    .fetch_all(exec)
    .await?;
    Ok(parents)
}
