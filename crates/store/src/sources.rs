//! The rows feeds, channel texts and digests are built from, as a reader sees them. The
//! worker and the feed builder read as [`Reader::PUBLIC`]: what they write is served to
//! anyone, so it is built only from what anyone may see.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, QueryBuilder};

use crate::error::StoreError;
use crate::visibility::Reader;

/// A published post with what a feed shows of it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FeedPost {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub excerpt: String,
    pub body_html: String,
    pub published_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub author_name: String,
    pub tags: Vec<String>,
    pub comment_count: i64,
}

/// A published comment with what a feed shows of it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FeedComment {
    pub id: i64,
    pub post_id: i64,
    pub post_slug: String,
    pub post_title: String,
    pub author_name: String,
    pub author_url: Option<String>,
    pub body: String,
    pub body_html: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A published post that has a comments feed.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FeedSubject {
    pub id: i64,
    pub slug: String,
    pub title: String,
}

/// A tag that labels published posts.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FeedTag {
    pub slug: String,
    pub name: String,
}

/// The latest posts `reader` sees (with `tag`, when given), newest first, each with the
/// number of its comments `reader` sees.
pub async fn latest_posts(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    tag: Option<&str>,
    limit: i64,
) -> Result<Vec<FeedPost>, StoreError> {
    let mut query = QueryBuilder::new(
        "select p.id, p.slug, p.title, p.excerpt, p.body_html, p.published_at, p.created_at, \
         p.updated_at, a.name as author_name, \
         array(select t.name from post_tags pt join tags t on t.id = pt.tag_id \
               where pt.post_id = p.id order by pt.position, t.name) as tags, \
         (select count(*) from comments c where c.post_id = p.id and c.status = 'published'",
    );
    reader.push_comment_visible(&mut query);
    query.push(") as comment_count from posts p join authors a on a.id = p.author_id where true");
    reader.push_post_visible(&mut query, "p");
    if let Some(tag) = tag {
        query
            .push(" and exists (select 1 from post_tags pt join tags t on t.id = pt.tag_id where pt.post_id = p.id and t.slug = ")
            .push_bind(tag.to_owned())
            .push(")");
    }
    query.push(" order by coalesce(p.published_at, p.created_at) desc, p.id desc limit ");
    query.push_bind(limit);
    let posts = query.build_query_as().fetch_all(exec).await?;
    Ok(posts)
}

/// The latest published comments readers can see (of one post, when given), newest first.
pub async fn latest_comments(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    post_id: Option<i64>,
    limit: i64,
) -> Result<Vec<FeedComment>, StoreError> {
    let mut query = QueryBuilder::new(
        "select c.id, c.post_id, p.slug as post_slug, p.title as post_title, c.author_name, \
         c.author_url, c.body, c.body_html, c.created_at, c.updated_at \
         from comments c join posts p on p.id = c.post_id \
         where c.status = 'published'",
    );
    if let Some(post_id) = post_id {
        query.push(" and c.post_id = ").push_bind(post_id);
    }
    reader.push_comment_visible(&mut query);
    query.push(" order by c.id desc limit ").push_bind(limit);
    let comments = query.build_query_as().fetch_all(exec).await?;
    Ok(comments)
}

/// The published post with `slug`, for its comment feed.
pub async fn published_post(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    slug: &str,
) -> Result<Option<FeedSubject>, StoreError> {
    // Feeds are for the public: the one visibility rule decides which posts have one.
    let mut query = QueryBuilder::new("select p.id, p.slug, p.title from posts p where p.slug = ");
    query.push_bind(slug.to_owned());
    reader.push_post_visible(&mut query, "p");
    let post = query.build_query_as().fetch_optional(exec).await?;
    Ok(post)
}

/// Posts `reader` sees whose comment feed is stored (those of `ids`, when given): the
/// comment feeds a change must refresh. The others are built when first asked for. `keys`
/// are the parts of a comment feed's key around the post's slug.
pub async fn posts_with_comment_feeds(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    keys: &[(&str, &str)],
    ids: Option<&[i64]>,
) -> Result<Vec<FeedSubject>, StoreError> {
    let mut query =
        QueryBuilder::new("select p.id, p.slug, p.title from posts p where exists (select 1 from ");
    crate::feeds::push_key_parts(&mut query, keys);
    query.push(" join generated_feeds f on f.key = k.prefix || p.slug || k.suffix)");
    if let Some(ids) = ids {
        query
            .push(" and p.id = any(")
            .push_bind(ids.to_vec())
            .push(")");
    }
    reader.push_post_visible(&mut query, "p");
    query.push(" order by p.id");
    let posts = query.build_query_as().fetch_all(exec).await?;
    Ok(posts)
}

/// Tags the public sees (those of `ids` or on posts of `post_ids`, when given), for their
/// feeds.
pub async fn published_tags(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    only: Option<(&[i64], &[i64])>,
) -> Result<Vec<FeedTag>, StoreError> {
    let mut query = QueryBuilder::new("select t.slug, t.name from tags t where true");
    reader.push_tag_visible(&mut query);
    if let Some((ids, post_ids)) = only {
        query
            .push(" and (t.id = any(")
            .push_bind(ids.to_vec())
            .push(") or exists (select 1 from post_tags pt where pt.tag_id = t.id and pt.post_id = any(")
            .push_bind(post_ids.to_vec())
            .push(")))");
    }
    query.push(" order by t.slug");
    let tags = query.build_query_as().fetch_all(exec).await?;
    Ok(tags)
}

/// A post published in a digest's period.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PeriodPost {
    pub id: i64,
    pub slug: String,
    pub title: String,
}

/// A post's new published comments in a digest's period.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PeriodFeedback {
    pub id: i64,
    pub slug: String,
    pub title: String,
    pub new_comments: i64,
}

/// Posts `reader` sees published in `[start, end)`, newest first.
pub async fn posts_published_between(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<PeriodPost>, StoreError> {
    let mut query = QueryBuilder::new(
        "select p.id, p.slug, p.title from posts p \
         where p.status = 'published' and coalesce(p.published_at, p.created_at) >= ",
    );
    query
        .push_bind(start)
        .push(" and coalesce(p.published_at, p.created_at) < ")
        .push_bind(end);
    reader.push_post_visible(&mut query, "p");
    query.push(" order by coalesce(p.published_at, p.created_at) desc, p.id desc");
    let posts = query.build_query_as().fetch_all(exec).await?;
    Ok(posts)
}

/// Published posts' published comments made in `[start, end)` that readers can see, most
/// discussed first.
pub async fn feedback_between(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<PeriodFeedback>, StoreError> {
    let mut query = QueryBuilder::new(
        r#"
        select p.id, p.slug, p.title, count(*) as new_comments
        from comments c join posts p on p.id = c.post_id
        where c.status = 'published' and c.created_at >= "#,
    );
    query
        .push_bind(start)
        .push(" and c.created_at < ")
        .push_bind(end);
    reader.push_comment_visible(&mut query);
    query.push(" group by p.id order by new_comments desc, p.title, p.id");
    let feedback = query.build_query_as().fetch_all(exec).await?;
    Ok(feedback)
}
