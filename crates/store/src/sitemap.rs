//! What the sitemap lists: the posts and the tags that label one, each with when it last
//! changed, as a reader sees them (the sitemap reads as [`Reader::PUBLIC`]).

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, QueryBuilder};

use crate::error::StoreError;
use crate::visibility::Reader;

/// A page of the public site and when it last changed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SitemapEntry {
    pub slug: String,
    pub lastmod: DateTime<Utc>,
}

/// How many posts the public sees, and when the latest of them changed.
pub async fn post_summary(
    exec: impl PgExecutor<'_>,
    reader: Reader,
) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
    let mut query = QueryBuilder::new(
        "select count(*), max(greatest(p.updated_at, p.published_at)) from posts p where true",
    );
    reader.push_post_visible(&mut query, "p");
    let summary = query.build_query_as().fetch_one(exec).await?;
    Ok(summary)
}

/// Published posts `offset..offset + limit`, in a stable order (by id).
pub async fn posts(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    offset: i64,
    limit: i64,
) -> Result<Vec<SitemapEntry>, StoreError> {
    let mut query = QueryBuilder::new(
        "select p.slug, greatest(p.updated_at, p.published_at) as lastmod from posts p where true",
    );
    reader.push_post_visible(&mut query, "p");
    query
        .push(" order by p.id limit ")
        .push_bind(limit)
        .push(" offset ")
        .push_bind(offset);
    let entries = query.build_query_as().fetch_all(exec).await?;
    Ok(entries)
}

/// Tags labelling a published post, in a stable order, each with its latest post's change.
pub async fn tags(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    offset: i64,
    limit: i64,
) -> Result<Vec<SitemapEntry>, StoreError> {
    let mut query = QueryBuilder::new(
        "select t.slug, max(greatest(p.updated_at, p.published_at)) as lastmod \
         from tags t join post_tags pt on pt.tag_id = t.id join posts p on p.id = pt.post_id where true",
    );
    reader.push_post_visible(&mut query, "p");
    query
        .push(" group by t.id, t.slug order by t.id limit ")
        .push_bind(limit)
        .push(" offset ")
        .push_bind(offset);
    let entries = query.build_query_as().fetch_all(exec).await?;
    Ok(entries)
}

/// How many tags label a published post.
pub async fn tag_count(exec: impl PgExecutor<'_>, reader: Reader) -> Result<i64, StoreError> {
    let mut query = QueryBuilder::new(
        "select count(distinct pt.tag_id) from post_tags pt join posts p on p.id = pt.post_id where true",
    );
    reader.push_post_visible(&mut query, "p");
    let count = query.build_query_scalar().fetch_one(exec).await?;
    Ok(count)
}
