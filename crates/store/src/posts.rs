//! Posts: their rows, and the queries that read and write them.
//!
//! Lists are paged by keyset (the sort key and the id of the last row seen), never by
//! OFFSET, so page 1,000 costs what page 1 costs.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder};

use crate::budget::{ReadBudget, TextBytes};
use crate::error::StoreError;
use crate::keyset::{Direction, Limit, Position, SortKey, Window, in_list_order, push_window};
use crate::positional::{Narrowed, Positional, column, expect_columns};
use crate::visibility::Reader;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum PostStatus {
    #[default]
    Draft,
    /// Waiting for its `published_at`, when the worker publishes it.
    Scheduled,
    Published,
}

#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Whether the author wrote the excerpt (else it follows the body).
    pub custom_excerpt: bool,
    pub status: PostStatus,
    pub comments_open: bool,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TextBytes for Post {
    fn text_bytes(&self) -> usize {
        self.slug.len()
            + self.title.len()
            + self.body.len()
            + self.body_html.len()
            + self.excerpt.len()
    }
}

/// The columns of [`Post`], selected from `posts p`, in the order its decoder reads them.
const POST_COLUMNS: &str = "p.id, p.author_id, p.slug, p.title, p.body, p.body_html, p.excerpt, \
     p.custom_excerpt, p.status, p.comments_open, p.published_at, p.created_at, p.updated_at";

/// The names [`POST_COLUMNS`] gives, in order.
const POST_COLUMN_NAMES: [&str; 13] = [
    "id",
    "author_id",
    "slug",
    "title",
    "body",
    "body_html",
    "excerpt",
    "custom_excerpt",
    "status",
    "comments_open",
    "published_at",
    "created_at",
    "updated_at",
];

/// [`POST_COLUMNS`], by position.
impl Positional for Post {
    const COLUMNS: usize = POST_COLUMN_NAMES.len();

    fn from_columns(row: &PgRow, first: usize) -> Result<Self, sqlx::Error> {
        expect_columns(row, first, &POST_COLUMN_NAMES)?;
        Ok(Self {
            id: column(row, first)?,
            author_id: column(row, first + 1)?,
            slug: column(row, first + 2)?,
            title: column(row, first + 3)?,
            body: column(row, first + 4)?,
            body_html: column(row, first + 5)?,
            excerpt: column(row, first + 6)?,
            custom_excerpt: column(row, first + 7)?,
            status: column(row, first + 8)?,
            comments_open: column(row, first + 9)?,
            published_at: column(row, first + 10)?,
            created_at: column(row, first + 11)?,
            updated_at: column(row, first + 12)?,
        })
    }
}

impl<'r> sqlx::FromRow<'r, PgRow> for Post {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Self::from_columns(row, 0)
    }
}

/// Which of a post's texts a read returns. A list or a page that shows neither the
/// Markdown source nor the HTML of its posts need not read them (two thirds of a front
/// page's bytes); what is left out comes back empty and still counts against the read
/// budget, so a narrow read is refused exactly when the whole one would be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostColumns {
    All,
    Shown { body: bool, body_html: bool },
}

impl PostColumns {
    /// [`POST_COLUMNS`], or their narrow form, then `omitted_bytes`; written once for each
    /// of the four forms (a post page's statement is built on every request).
    pub(crate) fn select(self) -> &'static str {
        static SELECTS: LazyLock<[String; 4]> = LazyLock::new(|| {
            [(false, false), (false, true), (true, false), (true, true)]
                .map(|(body, body_html)| PostColumns::written(body, body_html))
        });
        let (body, body_html) = match self {
            PostColumns::All => (true, true),
            PostColumns::Shown { body, body_html } => (body, body_html),
        };
        &SELECTS[usize::from(body) * 2 + usize::from(body_html)]
    }

    fn written(body: bool, body_html: bool) -> String {
        // What a left-out text would have counted, as `TextBytes` counts it.
        let (body_column, body_bytes) = match body {
            true => ("p.body", "0::bigint"),
            false => ("''::text as body", "octet_length(p.body)::bigint"),
        };
        let (html_column, html_bytes) = match body_html {
            true => ("p.body_html", "0::bigint"),
            false => ("''::text as body_html", "octet_length(p.body_html)::bigint"),
        };
        format!(
            "p.id, p.author_id, p.slug, p.title, {body_column}, {html_column}, p.excerpt, \
             p.custom_excerpt, p.status, p.comments_open, p.published_at, p.created_at, \
             p.updated_at, {body_bytes} + {html_bytes} as omitted_bytes"
        )
    }
}

/// A post read with [`PostColumns`], charged for what it would hold read whole.
pub(crate) type PostRow = Narrowed<Post>;

/// How a single post is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostKey<'k> {
    Id(i64),
    Slug(&'k str),
}

/// A post to insert; the caller renders `body_html` and the excerpt.
#[derive(Debug, Clone)]
pub struct NewPost<'a> {
    pub author_id: i64,
    pub slug: &'a str,
    pub title: &'a str,
    pub body: &'a str,
    pub body_html: &'a str,
    pub excerpt: &'a str,
    pub custom_excerpt: bool,
    pub status: PostStatus,
    pub comments_open: bool,
    pub published_at: Option<DateTime<Utc>>,
}

pub async fn insert(exec: impl PgExecutor<'_>, post: &NewPost<'_>) -> Result<Post, StoreError> {
    let inserted = sqlx::query_as(
        r#"
        insert into posts (author_id, slug, title, body, body_html, excerpt, custom_excerpt, status,
                           comments_open, published_at, created_at, updated_at)
        values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                least(coalesce($10, now()), now()), least(coalesce($10, now()), now()))
        returning id, author_id, slug, title, body, body_html, excerpt, custom_excerpt, status,
                  comments_open, published_at, created_at, updated_at
        "#,
    )
    .bind(post.author_id)
    .bind(post.slug)
    .bind(post.title)
    .bind(post.body)
    .bind(post.body_html)
    .bind(post.excerpt)
    .bind(post.custom_excerpt)
    .bind(post.status)
    .bind(post.comments_open)
    .bind(post.published_at)
    .fetch_one(exec)
    .await?;
    Ok(inserted)
}

impl PostStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            PostStatus::Draft => "draft",
            PostStatus::Scheduled => "scheduled",
            PostStatus::Published => "published",
        }
    }
}

/// Inserts `posts` in one statement (an import's batch) with the ids given (`None`: the
/// next one); returns them in the order given, matched by their slugs, which are unique.
pub async fn insert_many(
    exec: impl PgExecutor<'_>,
    posts: &[NewPost<'_>],
    ids: &[Option<i64>],
) -> Result<Vec<Post>, StoreError> {
    if posts.is_empty() {
        return Ok(Vec::new());
    }
    let inserted: Vec<Post> = sqlx::query_as(
        r#"
        insert into posts (id, author_id, slug, title, body, body_html, excerpt, custom_excerpt,
                           status, comments_open, published_at, created_at, updated_at)
        overriding system value
        select coalesce(n.id, nextval(pg_get_serial_sequence('posts', 'id'))), n.author_id, n.slug, n.title, n.body, n.body_html, n.excerpt, n.custom_excerpt,
               n.status, n.comments_open, n.published_at,
               least(coalesce(n.published_at, now()), now()), least(coalesce(n.published_at, now()), now())
        from unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                    $7::bool[], $8::text[], $9::bool[], $10::timestamptz[], $11::bigint[])
             as n (author_id, slug, title, body, body_html, excerpt, custom_excerpt, status,
                   comments_open, published_at, id)
        returning id, author_id, slug, title, body, body_html, excerpt, custom_excerpt, status,
                  comments_open, published_at, created_at, updated_at
        "#,
    )
    .bind(posts.iter().map(|post| post.author_id).collect::<Vec<_>>())
    .bind(posts.iter().map(|post| post.slug).collect::<Vec<_>>())
    .bind(posts.iter().map(|post| post.title).collect::<Vec<_>>())
    .bind(posts.iter().map(|post| post.body).collect::<Vec<_>>())
    .bind(posts.iter().map(|post| post.body_html).collect::<Vec<_>>())
    .bind(posts.iter().map(|post| post.excerpt).collect::<Vec<_>>())
    .bind(posts.iter().map(|post| post.custom_excerpt).collect::<Vec<_>>())
    .bind(posts.iter().map(|post| post.status.as_str()).collect::<Vec<_>>())
    .bind(posts.iter().map(|post| post.comments_open).collect::<Vec<_>>())
    .bind(posts.iter().map(|post| post.published_at).collect::<Vec<_>>())
    .bind(ids)
    .fetch_all(exec)
    .await?;
    let mut by_slug: HashMap<String, Post> = inserted
        .into_iter()
        .map(|post| (post.slug.clone(), post))
        .collect();
    Ok(posts
        .iter()
        .filter_map(|post| by_slug.remove(post.slug))
        .collect())
}

/// Which of `slugs` posts already have, in one look-up of the unique index.
pub async fn taken_slugs_unchecked(
    exec: impl PgExecutor<'_>,
    slugs: &[&str],
) -> Result<std::collections::HashSet<String>, StoreError> {
    let taken: Vec<String> = sqlx::query_scalar("select slug from posts where slug = any($1)")
        .bind(slugs)
        .fetch_all(exec)
        .await?;
    Ok(taken.into_iter().collect())
}

/// Changes to a post; `None` leaves a column as it is.
#[derive(Debug, Clone, Default)]
pub struct PostChanges<'a> {
    pub slug: Option<&'a str>,
    pub title: Option<&'a str>,
    /// New body with its rendering.
    pub body: Option<(&'a str, &'a str)>,
    /// New excerpt, and whether the author wrote it.
    pub excerpt: Option<(&'a str, bool)>,
    pub comments_open: Option<bool>,
    pub status: Option<PostStatus>,
    pub published_at: Option<DateTime<Utc>>,
}

/// Applies `changes` and bumps `updated_at`; `None` when there is no such post.
pub async fn update(
    exec: impl PgExecutor<'_>,
    id: i64,
    changes: &PostChanges<'_>,
) -> Result<Option<Post>, StoreError> {
    let updated = sqlx::query_as(
        r#"
        update posts p set
            slug = coalesce($2, p.slug),
            title = coalesce($3, p.title),
            body = coalesce($4, p.body),
            body_html = coalesce($5, p.body_html),
            excerpt = coalesce($6, p.excerpt),
            custom_excerpt = coalesce($7, p.custom_excerpt),
            comments_open = coalesce($8, p.comments_open),
            status = coalesce($9, p.status),
            published_at = coalesce($10, p.published_at),
            updated_at = now()
        where p.id = $1
        returning p.id, p.author_id, p.slug, p.title, p.body, p.body_html, p.excerpt,
                  p.custom_excerpt, p.status, p.comments_open, p.published_at, p.created_at,
                  p.updated_at
        "#,
    )
    .bind(id)
    .bind(changes.slug)
    .bind(changes.title)
    .bind(changes.body.map(|(body, _)| body))
    .bind(changes.body.map(|(_, html)| html))
    .bind(changes.excerpt.map(|(excerpt, _)| excerpt))
    .bind(changes.excerpt.map(|(_, custom)| custom))
    .bind(changes.comments_open)
    .bind(changes.status)
    .bind(changes.published_at)
    .fetch_optional(exec)
    .await?;
    Ok(updated)
}

/// Deletes a post with its comments and tag links; false when there was none.
pub async fn delete(exec: impl PgExecutor<'_>, id: i64) -> Result<bool, StoreError> {
    let result = sqlx::query("delete from posts where id = $1")
        .bind(id)
        .execute(exec)
        .await?;
    Ok(result.rows_affected() == 1)
}

/// The posts of `ids` that `reader` may see, read within `budget`.
pub async fn find_visible(
    exec: impl PgExecutor<'_>,
    ids: &[i64],
    reader: Reader,
    columns: PostColumns,
    budget: &ReadBudget,
) -> Result<HashMap<i64, Post>, StoreError> {
    let mut query = QueryBuilder::new(format!(
        "select {} from posts p where p.id = any(",
        columns.select()
    ));
    query.push_bind(ids.to_vec()).push(")");
    reader.push_post_visible(&mut query, "p");
    let rows: Vec<PostRow> = budget.collect(query.build_query_as().fetch(exec)).await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.value.id, row.value))
        .collect())
}

/// The post with this slug, if `reader` may see it, read within `budget`.
pub async fn find_visible_by_slug(
    exec: impl PgExecutor<'_>,
    slug: &str,
    reader: Reader,
    columns: PostColumns,
    budget: &ReadBudget,
) -> Result<Option<Post>, StoreError> {
    if !crate::could_be_stored(slug) {
        return Ok(None);
    }
    let mut query = QueryBuilder::new(format!(
        "select {} from posts p where p.slug = ",
        columns.select()
    ));
    query.push_bind(slug.to_owned());
    reader.push_post_visible(&mut query, "p");
    let rows: Vec<PostRow> = budget.collect(query.build_query_as().fetch(exec)).await?;
    Ok(rows.into_iter().next().map(|row| row.value))
}

/// The post, locked until the end of the caller's transaction (edits do not interleave),
/// whoever may see it: for the domain's use cases, which check the policy next.
pub async fn find_for_update_unchecked(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<Post>, StoreError> {
    let post = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {POST_COLUMNS} from posts p where p.id = $1 for update"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(post)
}

/// The post, share-locked until the end of the caller's transaction (it cannot be
/// unpublished, closed or deleted meanwhile), whoever may see it: for the domain's use
/// cases, which check the policy next.
pub async fn find_for_share_unchecked(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<Post>, StoreError> {
    let post = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {POST_COLUMNS} from posts p where p.id = $1 for share"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(post)
}

/// `base` when no post uses it, else the first free `base-2`, `base-3`, …; the unique
/// constraint settles races (the caller retries on `posts_slug_key`).
pub async fn free_slug_unchecked(
    conn: &mut PgConnection,
    base: &str,
    max_len: usize,
) -> Result<String, StoreError> {
    free_slug_avoiding_unchecked(conn, base, max_len, &std::collections::HashSet::new()).await
}

/// As [`free_slug_unchecked`], also avoiding `also_taken` (slugs a batch is about to use).
pub async fn free_slug_avoiding_unchecked(
    conn: &mut PgConnection,
    base: &str,
    max_len: usize,
    also_taken: &std::collections::HashSet<String>,
) -> Result<String, StoreError> {
    // Most slugs are free: one look-up in the unique index says so. Only a taken one needs
    // its numbered variants, whose `like` cannot use that index and reads every post.
    let base_taken: bool =
        sqlx::query_scalar("select exists (select 1 from posts where slug = $1)")
            .bind(base)
            .fetch_one(&mut *conn)
            .await?;
    if !base_taken && !also_taken.contains(base) {
        return Ok(base.to_owned());
    }
    let taken: Vec<String> =
        sqlx::query_scalar("select slug from posts where slug like $1 || '-%'")
            .bind(base)
            .fetch_all(conn)
            .await?;
    let mut suffix = 2u32;
    loop {
        let tail = format!("-{suffix}");
        let mut stem = base.to_owned();
        stem.truncate(max_len.saturating_sub(tail.len()));
        let candidate = format!("{}{tail}", stem.trim_end_matches('-'));
        if candidate != base && !taken.contains(&candidate) && !also_taken.contains(&candidate) {
            return Ok(candidate);
        }
        suffix += 1;
    }
}

/// What to list.
#[derive(Debug, Clone)]
pub struct PostFilter {
    pub status: PostStatus,
    pub author_id: Option<i64>,
    pub tag_id: Option<i64>,
    /// Exclusive bounds on the publication date.
    pub published_after: Option<DateTime<Utc>>,
    pub published_before: Option<DateTime<Utc>>,
    /// Full-text search over title and body (web-search syntax: words, "phrases", -not, or).
    pub search: Option<String>,
}

impl PostFilter {
    /// Whether the best plan depends on the values searched for: a rare word or tag is
    /// found through its index, a common one by walking the posts in order. Such
    /// statements are sent unprepared, which PostgreSQL plans for their values under its
    /// default `plan_cache_mode`; under `--db-generic-plans` only values written into the
    /// statement count (a tag's id is; a search's words are not).
    fn plans_per_value(&self) -> bool {
        self.search.is_some() || self.tag_id.is_some()
    }

    /// Published posts.
    pub fn published() -> Self {
        Self {
            status: PostStatus::Published,
            author_id: None,
            tag_id: None,
            published_after: None,
            published_before: None,
            search: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostOrderField {
    /// Publication date (creation date for drafts never published).
    PublishedAt,
    UpdatedAt,
    Title,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostOrder {
    pub field: PostOrderField,
    pub direction: Direction,
}

impl Default for PostOrder {
    fn default() -> Self {
        Self {
            field: PostOrderField::PublishedAt,
            direction: Direction::Desc,
        }
    }
}

impl PostOrderField {
    fn expression(self) -> &'static str {
        match self {
            PostOrderField::PublishedAt => "coalesce(p.published_at, p.created_at)",
            PostOrderField::UpdatedAt => "p.updated_at",
            PostOrderField::Title => "p.title",
        }
    }
}

impl Post {
    /// This post's position in `field`'s ordering.
    pub fn position(&self, field: PostOrderField) -> Position {
        let key = match field {
            PostOrderField::PublishedAt => {
                SortKey::Time(self.published_at.unwrap_or(self.created_at))
            }
            PostOrderField::UpdatedAt => SortKey::Time(self.updated_at),
            PostOrderField::Title => SortKey::Text(self.title.clone()),
        };
        Position { key, id: self.id }
    }
}

fn push_filter(query: &mut QueryBuilder<Postgres>, reader: Reader, filter: &PostFilter) {
    query.push(match filter.status {
        PostStatus::Published => " and p.status = 'published'",
        PostStatus::Scheduled => " and p.status = 'scheduled'",
        PostStatus::Draft => " and p.status = 'draft'",
    });
    reader.push_post_visible(query, "p");
    if let Some(author) = filter.author_id {
        query.push(" and p.author_id = ").push_bind(author);
    }
    if let Some(tag) = filter.tag_id {
        // Written in (an integer), so the statement is planned for this tag even under
        // `--db-generic-plans`, which makes unprepared statements' parameters generic too:
        // a tag on 98% of 100,000 posts took 0.55 s to list through a generic plan.
        query.push(format!(
            " and exists (select 1 from post_tags pt where pt.post_id = p.id and pt.tag_id = {tag})"
        ));
    }
    if let Some(after) = filter.published_after {
        query.push(" and p.published_at > ").push_bind(after);
    }
    if let Some(before) = filter.published_before {
        query.push(" and p.published_at < ").push_bind(before);
    }
    if let Some(search) = &filter.search {
        query
            .push(" and p.search @@ websearch_to_tsquery('english', ")
            .push_bind(search.clone())
            .push(")");
    }
}

/// One page of the posts `filter` matches that `reader` sees, in `order`, read within
/// `budget`.
pub async fn page(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    filter: &PostFilter,
    order: PostOrder,
    window: &Window,
    columns: PostColumns,
    budget: &ReadBudget,
) -> Result<Vec<Post>, StoreError> {
    let mut query = QueryBuilder::new(format!(
        "select {} from posts p where true",
        columns.select()
    ));
    push_filter(&mut query, reader, filter);
    push_window(
        &mut query,
        order.field.expression(),
        "p.id",
        order.direction,
        window,
        Limit::Bound,
    );
    let rows: Vec<PostRow> = budget
        .collect(
            query
                .build_query_as()
                .persistent(!filter.plans_per_value())
                .fetch(exec),
        )
        .await?;
    let posts = rows.into_iter().map(|row| row.value).collect();
    Ok(in_list_order(posts, window))
}

/// How many of the posts `filter` matches `reader` sees.
pub async fn count(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    filter: &PostFilter,
) -> Result<i64, StoreError> {
    let mut query = QueryBuilder::new("select count(*) from posts p where true");
    push_filter(&mut query, reader, filter);
    let count = query
        .build_query_scalar()
        .persistent(!filter.plans_per_value())
        .fetch_one(exec)
        .await?;
    Ok(count)
}

/// Whose posts a list under a tag or an author holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PostOwner {
    Tag,
    Author,
}

/// Tags whose pages one statement reads: each is a branch PostgreSQL plans on its own
/// (about a quarter of a millisecond each).
pub const OWNER_PAGES_PER_STATEMENT: usize = 100;

/// The same page of published posts under many tags (at most
/// [`OWNER_PAGES_PER_STATEMENT`]) or authors at once (one statement, newest first): a
/// DataLoader's batch. Each owner's posts come in list order; read within `budget`.
pub async fn owner_pages(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    owner: PostOwner,
    keys: &[i64],
    window: &Window,
    columns: PostColumns,
    budget: &ReadBudget,
) -> Result<HashMap<i64, Vec<Post>>, StoreError> {
    struct Row {
        key: i64,
        post: PostRow,
    }
    impl<'r> sqlx::FromRow<'r, PgRow> for Row {
        fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
            expect_columns(row, 0, &["key"])?;
            Ok(Self {
                key: column(row, 0)?,
                post: PostRow::from_columns(row, 1)?,
            })
        }
    }
    impl TextBytes for Row {
        fn text_bytes(&self) -> usize {
            self.post.text_bytes()
        }
    }
    let order = PostOrder::default();
    let page_of = |query: &mut QueryBuilder<Postgres>, limit| {
        push_filter(query, reader, &PostFilter::published());
        push_window(
            query,
            order.field.expression(),
            "p.id",
            order.direction,
            window,
            limit,
        );
    };
    let mut query = QueryBuilder::new("");
    let statement = match owner {
        // A branch per tag, with the tag's id and the page size written into the
        // statement (integers only) so that PostgreSQL plans each branch for its tag
        // whatever `plan_cache_mode` says: walking the posts in order for a tag on most of
        // them, going through `post_tags` for a rare one. One plan for all (a lateral
        // join, or bound parameters under `--db-generic-plans`) must pick one way, and a
        // tag on all 100,000 posts of a site then read every one of them.
        PostOwner::Tag => {
            for (branch, key) in keys.iter().enumerate() {
                if branch > 0 {
                    query.push(" union all ");
                }
                query.push(format!(
                    "(select {key}::bigint as key, {} from posts p where exists \
                     (select 1 from post_tags pt where pt.post_id = p.id and pt.tag_id = {key})",
                    columns.select()
                ));
                page_of(&mut query, Limit::Written);
                query.push(")");
            }
            query.build_query_as().persistent(false)
        }
        // An author's posts are one range of an index, whatever the author.
        PostOwner::Author => {
            query
                .push("select x.key, p.* from unnest(")
                .push_bind(keys.to_vec());
            query.push(format!(
                "::bigint[]) as x(key) cross join lateral (select {} \
                 from posts p where p.author_id = x.key",
                columns.select()
            ));
            page_of(&mut query, Limit::Bound);
            query.push(") p");
            query.build_query_as()
        }
    };
    let rows: Vec<Row> = budget.collect(statement.fetch(exec)).await?;
    let mut pages: HashMap<i64, Vec<Post>> = HashMap::new();
    for row in rows {
        pages.entry(row.key).or_default().push(row.post.value);
    }
    Ok(pages
        .into_iter()
        .map(|(key, posts)| (key, in_list_order(posts, window)))
        .collect())
}

/// How many published posts `reader` sees under each of `keys` (one statement).
pub async fn owner_counts(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    owner: PostOwner,
    keys: &[i64],
) -> Result<HashMap<i64, i64>, StoreError> {
    let mut query = QueryBuilder::new("");
    match owner {
        // A tag's published posts are its links less those of posts not published: a
        // count of one range of `post_tags`' index, and a look at the few drafts and
        // scheduled posts. Counting through the posts themselves costs a look-up per post
        // of a large tag, or a scan of every post for each small one, whichever plan
        // PostgreSQL picks (200 tags of a 100,000-post site: 5 s either way). A published
        // post is visible to every reader, so the count is every reader's.
        PostOwner::Tag => {
            query.push(
                "with unpublished as (select pt.tag_id, count(*) as posts from posts p \
                 join post_tags pt on pt.post_id = p.id \
                 where p.status in ('draft', 'scheduled') and pt.tag_id = any(",
            );
            query.push_bind(keys.to_vec());
            query.push(
                ") group by pt.tag_id) \
                 select x.key, (select count(*) from post_tags pt where pt.tag_id = x.key) \
                     - coalesce(u.posts, 0) \
                 from unnest(",
            );
            query.push_bind(keys.to_vec());
            query.push("::bigint[]) as x(key) left join unpublished u on u.tag_id = x.key");
        }
        PostOwner::Author => {
            query.push("select x.key, (select count(*) from posts p where p.author_id = x.key");
            push_filter(&mut query, reader, &PostFilter::published());
            query.push(") from unnest(").push_bind(keys.to_vec());
            query.push("::bigint[]) as x(key)");
        }
    }
    let rows: Vec<(i64, i64)> = query.build_query_as().fetch_all(exec).await?;
    Ok(rows.into_iter().collect())
}

/// Publishes every scheduled post whose time has come, in one statement: with several
/// workers, each post is published by exactly one of them (the others' updates find it
/// published already). Returns the ids published.
pub async fn publish_due(exec: impl PgExecutor<'_>) -> Result<Vec<i64>, StoreError> {
    let published = sqlx::query_scalar(
        "update posts set status = 'published', updated_at = now() \
         where status = 'scheduled' and published_at <= now() returning id",
    )
    .fetch_all(exec)
    .await?;
    Ok(published)
}

/// When the next scheduled post is due, if any.
pub async fn next_scheduled_unchecked(
    exec: impl PgExecutor<'_>,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let next = sqlx::query_scalar("select min(published_at) from posts where status = 'scheduled'")
        .fetch_one(exec)
        .await?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_form_of_post_columns_reads_what_it_names() {
        for body in [false, true] {
            for body_html in [false, true] {
                let columns = PostColumns::Shown { body, body_html };
                assert_eq!(columns.select(), PostColumns::written(body, body_html));
            }
        }
        assert_eq!(PostColumns::All.select(), PostColumns::written(true, true));
    }
}
