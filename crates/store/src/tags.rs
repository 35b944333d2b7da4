//! Tags and the posts they label.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, QueryBuilder};

use crate::error::StoreError;
use crate::keyset::{Direction, Limit, Position, SortKey, Window, in_list_order, push_window};
use crate::visibility::Reader;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Tag {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A tag as a post names it: its display name, and the slug it gets if it is new and the
/// slug is free (else the next free one: `slug-2`, `slug-3`…).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagName<'a> {
    pub slug: &'a str,
    pub name: &'a str,
}

/// Most bytes of a tag's slug (the `tags_slug_format` constraint).
const MAX_TAG_SLUG: usize = 100;

/// Replaces a post's tags, creating the tags that do not exist yet; returns them in order.
/// Tags are matched by name, without regard to case.
pub async fn set_post_tags(
    conn: &mut PgConnection,
    post_id: i64,
    tags: &[TagName<'_>],
) -> Result<Vec<Tag>, StoreError> {
    let mut ids = Vec::with_capacity(tags.len());
    for tag in tags {
        ids.push(find_or_create(conn, tag).await?);
    }
    sqlx::query("delete from post_tags where post_id = $1")
        .bind(post_id)
        .execute(&mut *conn)
        .await?;
    let linked = sqlx::query_as(
        r#"
        with wanted as (
            select id, ordinality - 1 as position from unnest($2::bigint[]) with ordinality as w (id, ordinality)
        ), linked as (
            insert into post_tags (post_id, tag_id, position)
            select $1, w.id, w.position from wanted w
            on conflict do nothing
            returning tag_id, position
        )
        select t.id, t.slug, t.name, t.created_at
        from linked l join tags t on t.id = l.tag_id
        order by l.position
        "#,
    )
    .bind(post_id)
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(linked)
}

/// Gives new posts their tags (an import's batch: no post has any yet), creating the tags
/// that do not exist; one statement links them all. `known` holds tag ids by lowercase name
/// from earlier batches; returns the ids this call looked up, for the caller to remember
/// once its transaction commits.
pub async fn set_tags_of_new_posts(
    conn: &mut PgConnection,
    posts: &[(i64, Vec<TagName<'_>>)],
    known: &std::collections::HashMap<String, i64>,
) -> Result<std::collections::HashMap<String, i64>, StoreError> {
    let mut ids_by_name: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    let (mut post_ids, mut tag_ids, mut positions) = (Vec::new(), Vec::new(), Vec::new());
    for (post_id, tags) in posts {
        for (position, tag) in tags.iter().enumerate() {
            let key = tag.name.to_lowercase();
            let tag_id = match ids_by_name.get(&key).or_else(|| known.get(&key)) {
                Some(id) => *id,
                None => {
                    let id = find_or_create(conn, tag).await?;
                    ids_by_name.insert(key, id);
                    id
                }
            };
            post_ids.push(*post_id);
            tag_ids.push(tag_id);
            positions.push(i16::try_from(position).unwrap_or(i16::MAX));
        }
    }
    if post_ids.is_empty() {
        return Ok(ids_by_name);
    }
    sqlx::query(
        "insert into post_tags (post_id, tag_id, position) \
         select * from unnest($1::bigint[], $2::bigint[], $3::smallint[]) on conflict do nothing",
    )
    .bind(post_ids)
    .bind(tag_ids)
    .bind(positions)
    .execute(conn)
    .await?;
    Ok(ids_by_name)
}

/// The id of the tag named `tag.name`, created with the first free slug from `tag.slug`
/// when there is none. Two writers creating tags at once may both want a slug: the loser
/// of the race tries again (the unique indexes decide), a bounded number of times.
async fn find_or_create(conn: &mut PgConnection, tag: &TagName<'_>) -> Result<i64, StoreError> {
    // Room for a `-NNNN` suffix within the slug's limit, cut at a word boundary.
    let mut base = tag.slug.to_owned();
    if base.len() > MAX_TAG_SLUG - 5 {
        base.truncate(MAX_TAG_SLUG - 5);
        base = base.trim_end_matches('-').to_owned();
    }
    for _ in 0..5 {
        let found: Option<i64> =
            sqlx::query_scalar("select id from tags where lower(name) = lower($1)")
                .bind(tag.name)
                .fetch_optional(&mut *conn)
                .await?;
        if let Some(id) = found {
            return Ok(id);
        }
        let created: Option<i64> = sqlx::query_scalar(
            r#"
            insert into tags (slug, name)
            select c.slug, $2 from (
                select case when n = 1 then $1 else $1 || '-' || n end as slug, n
                from generate_series(1, 10000) n
            ) c
            where not exists (select 1 from tags t where t.slug = c.slug)
            order by c.n
            limit 1
            on conflict do nothing
            returning id
            "#,
        )
        .bind(&base)
        .bind(tag.name)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(id) = created {
            return Ok(id);
        }
    }
    Err(StoreError::Constraint {
        constraint: "tags_slug_key".to_owned(),
    })
}

/// The tags of each of `post_ids`, in the order the post lists them. A post's tags are as
/// visible as the post, and the callers (through the domain's policy) pass ids of posts
/// the reader has just read: checking the posts again here cost a join per tag row on
/// every page of posts.
pub async fn for_posts_unchecked(
    exec: impl PgExecutor<'_>,
    post_ids: &[i64],
) -> Result<HashMap<i64, Vec<Tag>>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        post_id: i64,
        #[sqlx(flatten)]
        tag: Tag,
    }
    let rows: Vec<Row> = sqlx::query_as(
        r#"
        select pt.post_id, t.id, t.slug, t.name, t.created_at
        from post_tags pt join tags t on t.id = pt.tag_id
        where pt.post_id = any($1)
        order by pt.post_id, pt.position, t.name
        "#,
    )
    .bind(post_ids)
    .fetch_all(exec)
    .await?;
    let mut by_post: HashMap<i64, Vec<Tag>> = HashMap::new();
    for row in rows {
        by_post.entry(row.post_id).or_default().push(row.tag);
    }
    Ok(by_post)
}

const TAG_COLUMNS: &str = "t.id, t.slug, t.name, t.created_at";

/// The tag with this slug, if it labels a post `reader` sees.
pub async fn find_visible_by_slug(
    exec: impl PgExecutor<'_>,
    slug: &str,
    reader: Reader,
) -> Result<Option<Tag>, StoreError> {
    if !crate::could_be_stored(slug) {
        return Ok(None);
    }
    let mut query = QueryBuilder::new(format!("select {TAG_COLUMNS} from tags t where t.slug = "));
    query.push_bind(slug.to_owned());
    reader.push_tag_visible(&mut query);
    let tag = query.build_query_as().fetch_optional(exec).await?;
    Ok(tag)
}

/// The tags of `ids` that label a post `reader` sees.
pub async fn find_visible(
    exec: impl PgExecutor<'_>,
    ids: &[i64],
    reader: Reader,
) -> Result<HashMap<i64, Tag>, StoreError> {
    let mut query = QueryBuilder::new(format!(
        "select {TAG_COLUMNS} from tags t where t.id = any("
    ));
    query.push_bind(ids.to_vec()).push(")");
    reader.push_tag_visible(&mut query);
    let tags: Vec<Tag> = query.build_query_as().fetch_all(exec).await?;
    Ok(tags.into_iter().map(|tag| (tag.id, tag)).collect())
}

/// The tags that label a post `reader` sees, by name (then id).
pub async fn page(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    window: &Window,
) -> Result<Vec<Tag>, StoreError> {
    let mut query = QueryBuilder::new(format!("select {TAG_COLUMNS} from tags t where true"));
    reader.push_tag_visible(&mut query);
    push_window(
        &mut query,
        "t.name",
        "t.id",
        Direction::Asc,
        window,
        Limit::Bound,
    );
    let tags = query.build_query_as().fetch_all(exec).await?;
    Ok(in_list_order(tags, window))
}

/// How many tags label a post `reader` sees.
pub async fn count(exec: impl PgExecutor<'_>, reader: Reader) -> Result<i64, StoreError> {
    let mut query = QueryBuilder::new("select count(*) from tags t where true");
    reader.push_tag_visible(&mut query);
    let count = query.build_query_scalar().fetch_one(exec).await?;
    Ok(count)
}

impl Tag {
    /// This tag's position in the tag list (by name).
    pub fn position(&self) -> Position {
        Position {
            key: SortKey::Text(self.name.clone()),
            id: self.id,
        }
    }
}
