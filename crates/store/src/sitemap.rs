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

/// What a part of the sitemap lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listed {
    /// The published posts, each with its last change.
    Posts,
    /// The tags labelling a published post, each with its latest post's change.
    Tags,
}

impl Listed {
    /// The name in the sitemap's file names (`posts-1.xml`) and in the pages' paths
    /// (`/posts/{slug}`).
    pub fn name(self) -> &'static str {
        match self {
            Listed::Posts => "posts",
            Listed::Tags => "tags",
        }
    }

    /// The list [`Listed::name`] names, if any.
    pub fn from_name(name: &str) -> Option<Self> {
        [Listed::Posts, Listed::Tags]
            .into_iter()
            .find(|listed| listed.name() == name)
    }
}

/// Entries `offset..offset + limit` of what `listed` names, in a stable order (by id).
pub async fn entries(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    listed: Listed,
    offset: i64,
    limit: i64,
) -> Result<Vec<SitemapEntry>, StoreError> {
    let (select, order) = match listed {
        Listed::Posts => (
            "select p.slug, greatest(p.updated_at, p.published_at) as lastmod from posts p where true",
            " order by p.id",
        ),
        Listed::Tags => (
            "select t.slug, max(greatest(p.updated_at, p.published_at)) as lastmod \
             from tags t join post_tags pt on pt.tag_id = t.id join posts p on p.id = pt.post_id where true",
            " group by t.id, t.slug order by t.id",
        ),
    };
    let mut query = QueryBuilder::new(select);
    reader.push_post_visible(&mut query, "p");
    query
        .push(order)
        .push(" limit ")
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
