//! Threaded comments. The materialised `path` (maintained by a trigger) orders a post's
//! whole thread depth-first, oldest first, from one index range scan; every descendant's
//! path contains its ancestors' ids, which a GIN index answers for tombstone checks.
//!
//! Why a materialised path: on a post with 10,000 comments in 200 chains 50 levels deep
//! (PostgreSQL 15, debug build of the data, two cores), a page of 100 from the middle of the
//! thread took 0.25 ms by `path` (index range scan, `limit` stops it early) against 13 ms
//! with a recursive CTE, which must walk the whole tree before it can sort and cut a page;
//! with all the visibility rules below, the `path` page takes 1.8 ms. `ltree` would do the
//! same as `bigint[]` but needs an extension.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgRow, PgValueFormat, PgValueRef};
use sqlx::{PgConnection, PgExecutor, Postgres, QueryBuilder, Row as _, ValueRef as _};

use crate::arrays::{self, Elements};
use crate::budget::{ReadBudget, TextBytes};
use crate::error::StoreError;
use crate::positional::{Narrowed, Positional, column, expect_columns};
use crate::posts::{Post, PostColumns, PostKey, PostRow};
use crate::visibility::Reader;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum CommentStatus {
    Published,
    Pending,
    Spam,
    Deleted,
}

impl CommentStatus {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CommentStatus::Published => "published",
            CommentStatus::Pending => "pending",
            CommentStatus::Spam => "spam",
            CommentStatus::Deleted => "deleted",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Where an anonymous commenter wrote from (the rate limit's key); never shown.
    pub client_address: Option<String>,
    pub client_mutation_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The author of the comment's post: a moderator of the comment.
    pub post_author_id: i64,
}

impl TextBytes for Comment {
    fn text_bytes(&self) -> usize {
        self.author_name.len()
            + self.author_email.as_ref().map_or(0, String::len)
            + self.author_url.as_ref().map_or(0, String::len)
            + self.body.len()
            + self.body_html.len()
            + self.path.len() * 8
    }
}

/// [`Comment`]'s columns from `comments c join posts p on p.id = c.post_id`, in the order
/// [`Comment::from_columns`] reads them.
const COLUMNS: &str = "c.id, c.post_id, c.parent_id, c.path, c.depth, c.author_name, c.author_email, \
     c.author_url, c.author_id, c.body, c.body_html, c.status, c.client_address, c.client_mutation_id, c.created_at, \
     c.updated_at, p.author_id as post_author_id";

/// The names [`COLUMNS`] gives, in order (checked in debug builds).
const COLUMN_NAMES: [&str; 17] = [
    "id",
    "post_id",
    "parent_id",
    "path",
    "depth",
    "author_name",
    "author_email",
    "author_url",
    "author_id",
    "body",
    "body_html",
    "status",
    "client_address",
    "client_mutation_id",
    "created_at",
    "updated_at",
    "post_author_id",
];

/// [`COLUMNS`], by position.
impl Positional for Comment {
    const COLUMNS: usize = COLUMN_NAMES.len();

    fn from_columns(row: &PgRow, first: usize) -> Result<Self, sqlx::Error> {
        expect_columns(row, first, &COLUMN_NAMES)?;
        Ok(Self {
            id: column(row, first)?,
            post_id: column(row, first + 1)?,
            parent_id: column(row, first + 2)?,
            path: decode_path(row.try_get_raw(first + 3)?).map_err(|source| {
                sqlx::Error::ColumnDecode {
                    index: "path".to_owned(),
                    source,
                }
            })?,
            depth: column(row, first + 4)?,
            author_name: column(row, first + 5)?,
            author_email: column(row, first + 6)?,
            author_url: column(row, first + 7)?,
            author_id: column(row, first + 8)?,
            body: column(row, first + 9)?,
            body_html: column(row, first + 10)?,
            status: column(row, first + 11)?,
            client_address: column(row, first + 12)?,
            client_mutation_id: column(row, first + 13)?,
            created_at: column(row, first + 14)?,
            updated_at: column(row, first + 15)?,
            post_author_id: column(row, first + 16)?,
        })
    }
}

/// Which of a comment's columns a page read returns. A page shown to readers needs
/// neither the commenter's email, address or mutation id, nor the path (only a thread
/// cursor does), nor the Markdown source unless a query asks for it: left out, a page of
/// the 10,000-comment thread cost PostgreSQL half as much (pgbench, docs/benchmarks.md).
/// Nor does it need the commenter's author id (no shown field reads it), their link or
/// the time of the last edit unless asked for: a post page without those cost PostgreSQL
/// 6–11% less. What is left out comes back empty (a time left out reads as the
/// creation time), and its texts still count against the read budget, so a narrow read
/// is refused exactly when the whole one would be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Columns {
    All,
    Shown {
        path: bool,
        body: bool,
        link: bool,
        edited: bool,
    },
}

impl Columns {
    /// How many forms there are: every `Shown`, then `All`.
    const FORMS: usize = 17;

    /// Every form, in the order of [`Columns::index`].
    fn every() -> [Columns; Columns::FORMS] {
        std::array::from_fn(|index| match index {
            16 => Columns::All,
            bits => Columns::Shown {
                path: bits & 8 != 0,
                body: bits & 4 != 0,
                link: bits & 2 != 0,
                edited: bits & 1 != 0,
            },
        })
    }

    fn index(self) -> usize {
        if self == Columns::All {
            return 16;
        }
        let reads = self.reads();
        usize::from(reads.path) * 8
            + usize::from(reads.body) * 4
            + usize::from(reads.link) * 2
            + usize::from(reads.edited)
    }

    /// What the form reads (`All`: everything, the private columns too).
    fn reads(self) -> Reads {
        match self {
            Columns::All => Reads {
                path: true,
                body: true,
                link: true,
                edited: true,
                private: true,
            },
            Columns::Shown {
                path,
                body,
                link,
                edited,
            } => Reads {
                path,
                body,
                link,
                edited,
                private: false,
            },
        }
    }

    /// [`Columns::written`], once for each form (a page's statement is built on every
    /// request).
    fn select(self) -> &'static str {
        static SELECTS: LazyLock<[String; Columns::FORMS]> =
            LazyLock::new(|| Columns::every().map(Columns::written));
        &SELECTS[self.index()]
    }

    /// [`COLUMNS`], or their narrow form, then `omitted_bytes`: what the left-out texts
    /// would have counted (as [`TextBytes`] counts them).
    fn written(self) -> String {
        match self {
            Columns::All => format!("{COLUMNS}, 0::bigint as omitted_bytes"),
            Columns::Shown { .. } => {
                let reads = self.reads();
                // Summed as bigint: a body and an email over 2 GB together would overflow.
                let (path_column, path_bytes) = match reads.path {
                    true => ("c.path", "0"),
                    false => ("'{}'::bigint[] as path", "cardinality(c.path)::bigint * 8"),
                };
                let (body_column, body_bytes) = match reads.body {
                    true => ("c.body", "0"),
                    false => ("''::text as body", "octet_length(c.body)::bigint"),
                };
                let (link_column, link_bytes) = match reads.link {
                    true => ("c.author_url", "0"),
                    false => (
                        "null::text as author_url",
                        "coalesce(octet_length(c.author_url), 0)::bigint",
                    ),
                };
                let edited_column = match reads.edited {
                    true => "c.updated_at",
                    false => "c.created_at as updated_at",
                };
                format!(
                    "c.id, c.post_id, c.parent_id, {path_column}, c.depth, c.author_name, \
                     null::text as author_email, {link_column}, null::bigint as author_id, \
                     {body_column}, c.body_html, c.status, null::text as client_address, \
                     null::text as client_mutation_id, c.created_at, {edited_column}, \
                     p.author_id as post_author_id, {path_bytes} + {body_bytes} + {link_bytes} \
                     + coalesce(octet_length(c.author_email), 0)::bigint as omitted_bytes"
                )
            }
        }
    }
}

/// Which of a comment's columns a form of [`Columns`] reads.
#[derive(Debug, Clone, Copy)]
struct Reads {
    path: bool,
    body: bool,
    link: bool,
    edited: bool,
    /// The commenter's email, address, mutation id and author id.
    private: bool,
}

/// A comment read with [`Columns`], charged for what it would hold read whole.
type PageRow = Narrowed<Comment>;

/// A comment's `path` (`bigint[]`), read straight from PostgreSQL's binary array format:
/// sqlx's generic array decoding (a type check and a clone of the element type per
/// element) cost a seventh of a thread page's CPU, on paths up to 50 ids long.
fn decode_path(value: PgValueRef<'_>) -> Result<Vec<i64>, BoxDynError> {
    if value.format() == PgValueFormat::Text {
        return <Vec<i64> as sqlx::Decode<'_, sqlx::Postgres>>::decode(value);
    }
    arrays::int8_array(value.as_bytes()?)
}

impl<'r> sqlx::FromRow<'r, PgRow> for Comment {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        Self::from_columns(row, 0)
    }
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
    pub client_address: Option<&'a str>,
    pub client_mutation_id: Option<&'a str>,
}

pub async fn insert(
    exec: impl PgExecutor<'_>,
    comment: &NewComment<'_>,
) -> Result<Comment, StoreError> {
    let inserted = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        r#"
        with c as (
            insert into comments (post_id, parent_id, author_name, author_email, author_url, author_id,
                                  body, body_html, status, created_at, updated_at, client_address,
                                  client_mutation_id)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, coalesce($10, now()), coalesce($10, now()), $11, $12)
            returning *
        )
        select {COLUMNS} from c join posts p on p.id = c.post_id
        "#
    )))
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
    .bind(comment.client_address)
    .bind(comment.client_mutation_id)
    .fetch_one(exec)
    .await?;
    Ok(inserted)
}

/// Inserts comments (with ids from [`crate::imports::reserve_ids`]) in one statement, in the order given:
/// an import's batch, written by no client (no address, no retry id). A parent must be in
/// the database before the statement or come earlier in `comments` (the thread path is
/// the parent's and the comment's id, and each row's trigger sees the rows written
/// before it in the same statement).
pub async fn insert_many_reserved(
    exec: impl PgExecutor<'_>,
    comments: &[(i64, NewComment<'_>)],
) -> Result<(), StoreError> {
    if comments.is_empty() {
        return Ok(());
    }
    let column = |pick: fn(&NewComment<'_>) -> Option<String>| {
        comments
            .iter()
            .map(|(_, comment)| pick(comment))
            .collect::<Vec<_>>()
    };
    sqlx::query(
        r#"
        insert into comments (id, post_id, parent_id, author_name, author_email, author_url,
                              author_id, body, body_html, status, created_at, updated_at)
        overriding system value
        select n.id, n.post_id, n.parent_id, n.author_name, n.author_email, n.author_url,
               n.author_id, n.body, n.body_html, n.status,
               coalesce(n.created_at, now()), coalesce(n.created_at, now())
        from unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                    $7::bigint[], $8::text[], $9::text[], $10::text[], $11::timestamptz[])
             with ordinality
             as n (id, post_id, parent_id, author_name, author_email, author_url, author_id, body,
                   body_html, status, created_at, place)
        order by n.place
        "#,
    )
    .bind(comments.iter().map(|(id, _)| *id).collect::<Vec<_>>())
    .bind(comments.iter().map(|(_, c)| c.post_id).collect::<Vec<_>>())
    .bind(
        comments
            .iter()
            .map(|(_, c)| c.parent_id)
            .collect::<Vec<_>>(),
    )
    .bind(
        comments
            .iter()
            .map(|(_, c)| c.author_name)
            .collect::<Vec<_>>(),
    )
    .bind(column(|c| c.author_email.map(str::to_owned)))
    .bind(column(|c| c.author_url.map(str::to_owned)))
    .bind(
        comments
            .iter()
            .map(|(_, c)| c.author_id)
            .collect::<Vec<_>>(),
    )
    .bind(comments.iter().map(|(_, c)| c.body).collect::<Vec<_>>())
    .bind(
        comments
            .iter()
            .map(|(_, c)| c.body_html)
            .collect::<Vec<_>>(),
    )
    .bind(
        comments
            .iter()
            .map(|(_, c)| c.status.as_str())
            .collect::<Vec<_>>(),
    )
    .bind(
        comments
            .iter()
            .map(|(_, c)| c.created_at)
            .collect::<Vec<_>>(),
    )
    .execute(exec)
    .await?;
    Ok(())
}

/// Comments by id, each only if `reader` may see it, read within `budget`.
pub async fn find_visible(
    exec: impl PgExecutor<'_>,
    ids: &[i64],
    reader: Reader,
    budget: &ReadBudget,
) -> Result<HashMap<i64, Comment>, StoreError> {
    let mut query = QueryBuilder::new(format!(
        "select {COLUMNS} from comments c join posts p on p.id = c.post_id where c.id = any("
    ));
    query.push_bind(ids.to_vec()).push(")");
    reader.push_comment_visible(&mut query);
    let comments: Vec<Comment> = budget.collect(query.build_query_as().fetch(exec)).await?;
    Ok(comments
        .into_iter()
        .map(|comment| (comment.id, comment))
        .collect())
}

/// Held comments the reader moderates, newest first, older than the comment `before`: the
/// moderation queue. The reader's visibility decides whose: admins see every held
/// comment, authors those on their own posts, anyone else none.
pub async fn held(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<Comment>, StoreError> {
    let mut query = QueryBuilder::new(format!(
        "select {COLUMNS} from comments c join posts p on p.id = c.post_id where c.status = 'pending'"
    ));
    reader.push_comment_visible(&mut query);
    if let Some(before) = before {
        query.push(" and c.id < ").push_bind(before);
    }
    query.push(" order by c.id desc limit ").push_bind(limit);
    let comments = query.build_query_as().fetch_all(exec).await?;
    Ok(comments)
}

/// How many comments the reader moderates are held, and how many are marked as spam.
pub async fn moderation_counts(
    exec: impl PgExecutor<'_>,
    reader: Reader,
) -> Result<(i64, i64), StoreError> {
    let mut query = QueryBuilder::new(
        "select count(*) filter (where c.status = 'pending'), count(*) filter (where c.status = 'spam') \
         from comments c join posts p on p.id = c.post_id where c.status in ('pending', 'spam')",
    );
    reader.push_comment_visible(&mut query);
    let counts = query.build_query_as().fetch_one(exec).await?;
    Ok(counts)
}

/// The comment, locked until the end of the caller's transaction, whoever may see it: for
/// the domain's use cases, which check the policy next.
pub async fn find_for_update_unchecked(
    conn: &mut PgConnection,
    id: i64,
) -> Result<Option<Comment>, StoreError> {
    let comment = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "select {COLUMNS} from comments c join posts p on p.id = c.post_id where c.id = $1 for update of c"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(comment)
}

/// Where a page of [`thread_page_within`] (`per_page` comments, `max_bytes`) showing the
/// comment at `path` starts: `None` when the thread's first page shows it (as `reader`
/// sees it), else the path of the comment just before it, which a page after it opens
/// with. One statement.
pub async fn page_start_before(
    exec: impl PgExecutor<'_>,
    post_id: i64,
    path: &[i64],
    reader: Reader,
    per_page: i64,
    max_bytes: i64,
) -> Result<Option<Vec<i64>>, StoreError> {
    let mut query = QueryBuilder::new(format!(
        "select c.path, {PRINTED_BYTES} from comments c \
         join posts p on p.id = c.post_id where c.post_id = "
    ));
    query.push_bind(post_id);
    reader.push_comment_visible(&mut query);
    query.push(" and c.path < ").push_bind(path.to_vec());
    query
        .push(" order by c.path desc limit ")
        .push_bind(per_page);
    let before: Vec<(Vec<i64>, i64)> = query.build_query_as().fetch_all(exec).await?;
    // Fewer than a page before it: they are all the comments before it, and the first page
    // shows it unless what they print fills the page first.
    let printed_before: i64 = before.iter().map(|(_, bytes)| bytes).sum();
    let on_first_page = usize::try_from(per_page).is_ok_and(|per_page| before.len() < per_page)
        && printed_before < max_bytes;
    Ok(match on_first_page {
        true => None,
        false => before.into_iter().next().map(|(path, _)| path),
    })
}

/// One page of a post's whole thread in display order (depth-first, oldest first), after
/// the comment at `after_path`: ONE statement, whatever the depth; read within `budget`.
pub async fn thread_page(
    exec: impl PgExecutor<'_>,
    post_id: i64,
    reader: Reader,
    after_path: Option<&[i64]>,
    limit: i64,
    columns: Columns,
    budget: &ReadBudget,
) -> Result<Vec<Comment>, StoreError> {
    let mut query = QueryBuilder::new(format!("select {} ", columns.select()));
    push_thread_after(&mut query, post_id, reader, after_path);
    query.push(" order by c.path limit ").push_bind(limit);
    let rows: Vec<PageRow> = budget.collect(query.build_query_as().fetch(exec)).await?;
    Ok(rows.into_iter().map(|row| row.value).collect())
}

/// Appends `from` and `where` for post `post_id`'s comments `reader` sees after the
/// comment at `after_path` (all of them without one).
fn push_thread_after(
    query: &mut QueryBuilder<Postgres>,
    post_id: i64,
    reader: Reader,
    after_path: Option<&[i64]>,
) {
    query
        .push("from comments c join posts p on p.id = c.post_id where c.post_id = ")
        .push_bind(post_id);
    reader.push_comment_visible(query);
    if let Some(path) = after_path {
        query.push(" and c.path > ").push_bind(path.to_vec());
    }
}

/// What a page a person reads shows of a comment (`render_comment` in the API's pages):
/// its place, name, link and HTML; not its Markdown source, nor the commenter's email,
/// address or mutation id.
const PRINTED_COLUMNS: Columns = Columns::Shown {
    path: true,
    body: false,
    link: true,
    edited: false,
};

/// An upper bound of the bytes a page prints for comment `c`: its HTML, and its name (twice:
/// the byline and the reply link's label) and link, each at most six times longer escaped
/// (`"` is `&quot;`). Known to PostgreSQL without reading a text (`octet_length` does not
/// detoast).
const PRINTED_BYTES: &str = "(octet_length(c.body_html) + 6 * (2 * octet_length(c.author_name) \
     + coalesce(octet_length(c.author_url), 0)))::bigint";

/// A comment of [`thread_page_within`], and whether the thread goes on after it.
struct WithinRow {
    comment: Comment,
    more: bool,
}

impl<'r> sqlx::FromRow<'r, PgRow> for WithinRow {
    fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
        expect_columns(row, PageRow::COLUMNS, &["more"])?;
        Ok(Self {
            comment: PageRow::from_columns(row, 0)?.value,
            more: column(row, PageRow::COLUMNS)?,
        })
    }
}

/// One page of a post's thread for a page a person reads, in display order after the
/// comment at `after_path`, with only what the page shows of each ([`PRINTED_COLUMNS`]):
/// at most `limit` comments, and none once those before it on the page would print
/// `max_bytes` ([`PRINTED_BYTES`]; the first always). The sizes are known to PostgreSQL
/// without reading the texts, so a thread of long comments costs a page no more than its
/// bound; with whether the thread goes on after the page. One statement, whatever the
/// depth.
pub async fn thread_page_within(
    exec: impl PgExecutor<'_>,
    post_id: i64,
    reader: Reader,
    after_path: Option<&[i64]>,
    limit: i64,
    max_bytes: i64,
) -> Result<(Vec<Comment>, bool), StoreError> {
    let mut query = QueryBuilder::new(format!(
        "select t.* from (select {}, lead(c.id) over thread is not null as more, \
         sum({PRINTED_BYTES}) over thread - {PRINTED_BYTES} as printed_before ",
        PRINTED_COLUMNS.select()
    ));
    push_thread_after(&mut query, post_id, reader, after_path);
    query
        .push(
            " window thread as (order by c.path rows between unbounded preceding and current row)",
        )
        .push(" order by c.path limit ")
        .push_bind(limit)
        .push(") t where t.printed_before < ")
        .push_bind(max_bytes)
        .push(" order by t.path");
    let rows: Vec<WithinRow> = query.build_query_as().fetch_all(exec).await?;
    let more = rows.last().is_some_and(|row| row.more);
    Ok((rows.into_iter().map(|row| row.comment).collect(), more))
}

/// Post pages to read in one statement: posts by id or by slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostKeys {
    Ids(Vec<i64>),
    Slugs(Vec<String>),
}

impl PostKeys {
    fn push_condition(self, query: &mut QueryBuilder<Postgres>) {
        match self {
            PostKeys::Ids(ids) => query.push("p.id = any(").push_bind(ids),
            PostKeys::Slugs(slugs) => query.push("p.slug = any(").push_bind(slugs),
        };
        query.push(")");
    }
}

/// Posts and the first page of each one's thread, read in one statement: a post page's
/// two reads cost PostgreSQL a quarter more CPU as two statements (pgbench on the
/// benchmark's data, docs/benchmarks.md). Each post is one row: its columns, then its
/// page's comments as parallel arrays ([`PageArrays`]), so the server decodes a row per
/// post instead of a row per comment. Only the posts `reader` sees come back, in no
/// particular order; [`PostPage::is`] tells which key a row answers. Nothing is charged
/// to a budget here: the reader of each page does that ([`PostPage::read`]).
pub async fn post_pages(
    exec: impl PgExecutor<'_>,
    keys: PostKeys,
    post_columns: PostColumns,
    reader: Reader,
    page: ThreadPage<'_>,
) -> Result<Vec<PostPage>, StoreError> {
    let mut query = QueryBuilder::new(format!(
        "with p as (select {} from posts p where ",
        post_columns.select()
    ));
    keys.push_condition(&mut query);
    reader.push_post_visible(&mut query, "p");
    // `array_agg` takes the rows in the order the subquery sorted them: its query level
    // joins nothing that could reorder them (PostgreSQL's manual, "Aggregate Functions"),
    // and every array of the row is gathered in that same pass, so they line up.
    query
        .push(") select p.*, c.* from p cross join lateral (select ")
        .push(PageArrays::aggregates(page.columns))
        .push(" from (select ")
        .push(page.columns.select())
        .push(" from comments c where c.post_id = p.id");
    reader.push_comment_visible(&mut query);
    if let Some(path) = page.after_path {
        query.push(" and c.path > ").push_bind(path.to_vec());
    }
    query
        .push(" order by c.path limit ")
        .push_bind(page.limit)
        .push(") c) c");
    let rows = query.build().fetch_all(exec).await?;
    Ok(rows.into_iter().map(|row| PostPage { row }).collect())
}

/// One post and the first page of its thread ([`post_pages`] for one key), charged to
/// `budget`. `None` when `reader` does not see the post.
pub async fn post_page(
    exec: impl PgExecutor<'_>,
    post: PostKey<'_>,
    post_columns: PostColumns,
    reader: Reader,
    page: ThreadPage<'_>,
    budget: &ReadBudget,
) -> Result<Option<(Post, Vec<Comment>)>, StoreError> {
    budget.check()?;
    let keys = match post {
        PostKey::Id(id) => PostKeys::Ids(vec![id]),
        // No text column holds a NUL, and PostgreSQL refuses a parameter with one.
        PostKey::Slug(slug) if !crate::could_be_stored(slug) => return Ok(None),
        PostKey::Slug(slug) => PostKeys::Slugs(vec![slug.to_owned()]),
    };
    let pages = post_pages(exec, keys, post_columns, reader, page).await?;
    match pages.iter().find(|found| found.is(post)) {
        Some(found) => found.read(budget).map(Some),
        None => Ok(None),
    }
}

/// A post and its thread page as [`post_pages`] read them, not decoded yet.
#[derive(Debug)]
pub struct PostPage {
    row: PgRow,
}

impl PostPage {
    /// Whether this is the post `key` names.
    pub fn is(&self, key: PostKey<'_>) -> bool {
        // Columns as `PostColumns::select` writes them: `p.id` first, `p.slug` third.
        match key {
            PostKey::Id(id) => column::<i64>(&self.row, 0).is_ok_and(|found| found == id),
            PostKey::Slug(slug) => column::<&str>(&self.row, 2).is_ok_and(|found| found == slug),
        }
    }

    /// The post and its comments, each charged to `budget` before the next is made.
    pub fn read(&self, budget: &ReadBudget) -> Result<(Post, Vec<Comment>), StoreError> {
        let post = PostRow::from_columns(&self.row, 0)?;
        budget.charge_loaded(post.text_bytes())?;
        let post = post.value;
        let comments = PageArrays::read(&self.row, PostRow::COLUMNS)?.comments(&post, budget)?;
        Ok((post, comments))
    }
}

/// A page of a thread: the comments after `after_path` (from the start without one), at
/// most `limit`, read with `columns`.
#[derive(Debug, Clone, Copy)]
pub struct ThreadPage<'p> {
    pub after_path: Option<&'p [i64]>,
    pub limit: i64,
    pub columns: Columns,
}

/// A post page's comments as its row of [`post_pages`] holds them: an array
/// per column, in thread order. A column the page does not read ([`Columns::Shown`]) is
/// a null array, read as the narrow row read would have it (empty, or null).
struct PageArrays<'r> {
    ids: Elements<'r>,
    parent_ids: Elements<'r>,
    paths: Option<Elements<'r>>,
    depths: Elements<'r>,
    author_names: Elements<'r>,
    author_emails: Option<Elements<'r>>,
    author_urls: Option<Elements<'r>>,
    author_ids: Option<Elements<'r>>,
    bodies: Option<Elements<'r>>,
    bodies_html: Elements<'r>,
    statuses: Elements<'r>,
    client_addresses: Option<Elements<'r>>,
    client_mutation_ids: Option<Elements<'r>>,
    created: Elements<'r>,
    updated: Option<Elements<'r>>,
    omitted: Elements<'r>,
}

/// The names of [`PageArrays`]' columns, in order (checked in debug builds).
const PAGE_ARRAY_NAMES: [&str; 16] = [
    "ids",
    "parent_ids",
    "paths",
    "depths",
    "author_names",
    "author_emails",
    "author_urls",
    "author_ids",
    "bodies",
    "bodies_html",
    "statuses",
    "client_addresses",
    "client_mutation_ids",
    "created",
    "updated",
    "omitted",
];

impl<'r> PageArrays<'r> {
    /// [`PageArrays::written`], once for each form of [`Columns`].
    fn aggregates(columns: Columns) -> &'static str {
        static AGGREGATES: LazyLock<[String; Columns::FORMS]> =
            LazyLock::new(|| Columns::every().map(PageArrays::written));
        &AGGREGATES[columns.index()]
    }

    /// The aggregates over a subquery of [`Columns::select`]'s columns, named as
    /// [`PAGE_ARRAY_NAMES`]. Paths come as `bytea` (`array_send`):
    /// `array_agg` cannot gather arrays of different lengths, and as text they cost
    /// PostgreSQL an `array_out` per comment.
    fn written(columns: Columns) -> String {
        let Reads {
            path,
            body,
            link,
            edited,
            private,
        } = columns.reads();
        let gathered = |read: bool, column: &str, null_type: &str| match read {
            true => format!("array_agg({column})"),
            false => format!("null::{null_type}[]"),
        };
        format!(
            "array_agg(c.id) as ids, array_agg(c.parent_id) as parent_ids, {} as paths, \
             array_agg(c.depth) as depths, array_agg(c.author_name) as author_names, \
             {} as author_emails, {} as author_urls, {} as author_ids, {} as bodies, \
             array_agg(c.body_html) as bodies_html, array_agg(c.status) as statuses, \
             {} as client_addresses, {} as client_mutation_ids, \
             array_agg(c.created_at) as created, {} as updated, \
             array_agg(c.omitted_bytes) as omitted",
            gathered(path, "array_send(c.path)", "bytea"),
            gathered(private, "c.author_email", "text"),
            gathered(link, "c.author_url", "text"),
            gathered(private, "c.author_id", "int8"),
            gathered(body, "c.body", "text"),
            gathered(private, "c.client_address", "text"),
            gathered(private, "c.client_mutation_id", "text"),
            gathered(edited, "c.updated_at", "timestamptz"),
        )
    }

    /// The arrays of `row` from column `first` on.
    fn read(row: &'r PgRow, first: usize) -> Result<Self, sqlx::Error> {
        expect_columns(row, first, &PAGE_ARRAY_NAMES)?;
        let mut columns = (first..).map(|index| (index, PAGE_ARRAY_NAMES[index - first]));
        let mut next = |element_type: i32| match columns.next() {
            Some((index, name)) => array_column(row, index, name, element_type),
            None => Err(sqlx::Error::ColumnIndexOutOfBounds {
                index: first + PAGE_ARRAY_NAMES.len(),
                len: row.len(),
            }),
        };
        // `array_agg` over no rows is null: every array read is empty then.
        let empty_if_null = |array: Option<Elements<'r>>| array.unwrap_or_else(Elements::empty);
        Ok(Self {
            ids: empty_if_null(next(arrays::INT8)?),
            parent_ids: empty_if_null(next(arrays::INT8)?),
            paths: next(arrays::BYTEA)?,
            depths: empty_if_null(next(arrays::INT4)?),
            author_names: empty_if_null(next(arrays::TEXT)?),
            author_emails: next(arrays::TEXT)?,
            author_urls: next(arrays::TEXT)?,
            author_ids: next(arrays::INT8)?,
            bodies: next(arrays::TEXT)?,
            bodies_html: empty_if_null(next(arrays::TEXT)?),
            statuses: empty_if_null(next(arrays::TEXT)?),
            client_addresses: next(arrays::TEXT)?,
            client_mutation_ids: next(arrays::TEXT)?,
            created: empty_if_null(next(arrays::TIMESTAMPTZ)?),
            updated: next(arrays::TIMESTAMPTZ)?,
            omitted: empty_if_null(next(arrays::INT8)?),
        })
    }

    /// The comments of `post`, each charged to `budget` as the narrow row read would
    /// charge its row, before the next is made.
    fn comments(mut self, post: &Post, budget: &ReadBudget) -> Result<Vec<Comment>, StoreError> {
        let undecodable = |source| {
            StoreError::from(sqlx::Error::ColumnDecode {
                index: "a thread page's arrays".to_owned(),
                source,
            })
        };
        let count = self.ids.len();
        self.check_lengths(count).map_err(undecodable)?;
        let mut comments = Vec::with_capacity(count);
        for _ in 0..count {
            let row = self.next(post).map_err(undecodable)?;
            budget.charge_loaded(row.text_bytes())?;
            comments.push(row.value);
        }
        Ok(comments)
    }

    /// Every array read has `count` elements: they were gathered in one pass.
    fn check_lengths(&self, count: usize) -> Result<(), BoxDynError> {
        let required = [
            &self.parent_ids,
            &self.depths,
            &self.author_names,
            &self.bodies_html,
            &self.statuses,
            &self.created,
            &self.omitted,
        ];
        let optional = [
            &self.paths,
            &self.author_emails,
            &self.author_urls,
            &self.author_ids,
            &self.updated,
            &self.bodies,
            &self.client_addresses,
            &self.client_mutation_ids,
        ];
        let lengths_agree = required.into_iter().all(|array| array.len() == count)
            && optional
                .into_iter()
                .flatten()
                .all(|array| array.len() == count);
        match lengths_agree {
            true => Ok(()),
            false => Err("a thread page's arrays differ in length".into()),
        }
    }

    fn next(&mut self, post: &Post) -> Result<PageRow, BoxDynError> {
        let optional_text =
            |elements: &mut Option<Elements<'r>>| -> Result<Option<String>, BoxDynError> {
                match elements {
                    Some(elements) => elements.next_optional(arrays::text),
                    None => Ok(None),
                }
            };
        let created_at = arrays::timestamptz(self.created.next_present()?)?;
        let comment = Comment {
            id: arrays::int8(self.ids.next_present()?)?,
            post_id: post.id,
            parent_id: self.parent_ids.next_optional(arrays::int8)?,
            path: match &mut self.paths {
                Some(paths) => arrays::int8_array(paths.next_present()?)?,
                None => Vec::new(),
            },
            depth: arrays::int4(self.depths.next_present()?)?,
            author_name: arrays::text(self.author_names.next_present()?)?,
            author_email: optional_text(&mut self.author_emails)?,
            author_url: match &mut self.author_urls {
                Some(urls) => urls.next_optional(arrays::text)?,
                None => None,
            },
            author_id: match &mut self.author_ids {
                Some(ids) => ids.next_optional(arrays::int8)?,
                None => None,
            },
            body: match &mut self.bodies {
                Some(bodies) => arrays::text(bodies.next_present()?)?,
                None => String::new(),
            },
            body_html: arrays::text(self.bodies_html.next_present()?)?,
            status: comment_status(self.statuses.next_present()?)?,
            client_address: optional_text(&mut self.client_addresses)?,
            client_mutation_id: optional_text(&mut self.client_mutation_ids)?,
            created_at,
            updated_at: match &mut self.updated {
                Some(updated) => arrays::timestamptz(updated.next_present()?)?,
                None => created_at,
            },
            post_author_id: post.author_id,
        };
        let omitted_bytes = arrays::int8(self.omitted.next_present()?)?;
        Ok(Narrowed::new(comment, omitted_bytes))
    }
}

/// Column `index` of `row`, an array of `element_type` (`None` when null).
fn array_column<'r>(
    row: &'r PgRow,
    index: usize,
    name: &str,
    element_type: i32,
) -> Result<Option<Elements<'r>>, sqlx::Error> {
    let value = row.try_get_raw(index)?;
    if value.is_null() {
        return Ok(None);
    }
    let binary = match value.format() {
        PgValueFormat::Binary => value.as_bytes(),
        PgValueFormat::Text => Err("an array in text format".into()),
    };
    binary
        .and_then(|bytes| Elements::of(Some(bytes), element_type))
        .map(Some)
        .map_err(|source| sqlx::Error::ColumnDecode {
            index: name.to_owned(),
            source,
        })
}

/// A comment's stored status.
fn comment_status(bytes: &[u8]) -> Result<CommentStatus, BoxDynError> {
    Ok(match bytes {
        b"published" => CommentStatus::Published,
        b"pending" => CommentStatus::Pending,
        b"spam" => CommentStatus::Spam,
        b"deleted" => CommentStatus::Deleted,
        _ => {
            return Err(format!(
                "an unknown comment status {:?}",
                String::from_utf8_lossy(bytes)
            )
            .into());
        }
    })
}

/// How many comments of a post's thread `reader` sees.
pub async fn thread_count(
    exec: impl PgExecutor<'_>,
    post_id: i64,
    reader: Reader,
) -> Result<i64, StoreError> {
    let mut query = QueryBuilder::new(
        "select count(*) from comments c join posts p on p.id = c.post_id where c.post_id = ",
    );
    query.push_bind(post_id);
    reader.push_comment_visible(&mut query);
    let count = query.build_query_scalar().fetch_one(exec).await?;
    Ok(count)
}

/// Whose children a page lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Parent {
    /// The top-level comments of posts (keys are post ids).
    Post,
    /// The direct replies to comments (keys are comment ids).
    Comment,
}

impl Parent {
    fn condition(self) -> &'static str {
        match self {
            Parent::Post => "c.post_id = x.key and c.parent_id is null",
            Parent::Comment => "c.parent_id = x.key",
        }
    }
}

/// A page of children, by id (creation order): rows strictly between `after` and `before`,
/// at most `limit`, counted from the end when `from_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChildPage {
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub limit: i64,
    pub from_end: bool,
    pub newest_first: bool,
}

/// The same page of children for many parents at once (one statement): a DataLoader's
/// batch. Each parent's rows come in list order; read within `budget`.
pub async fn child_pages(
    exec: impl PgExecutor<'_>,
    parent: Parent,
    keys: &[i64],
    reader: Reader,
    page: ChildPage,
    columns: Columns,
    budget: &ReadBudget,
) -> Result<HashMap<i64, Vec<Comment>>, StoreError> {
    struct Row {
        key: i64,
        page_row: PageRow,
    }
    impl<'r> sqlx::FromRow<'r, PgRow> for Row {
        fn from_row(row: &'r PgRow) -> Result<Self, sqlx::Error> {
            Ok(Self {
                key: row.try_get(0)?,
                page_row: PageRow::from_columns(row, 1)?,
            })
        }
    }
    impl TextBytes for Row {
        fn text_bytes(&self) -> usize {
            self.page_row.text_bytes()
        }
    }
    let mut query = QueryBuilder::new("select x.key, c.* from unnest(");
    query.push_bind(keys.to_vec());
    query.push(format!(
        "::bigint[]) as x(key) cross join lateral (select {} from comments c \
         join posts p on p.id = c.post_id where {}",
        columns.select(),
        parent.condition()
    ));
    reader.push_comment_visible(&mut query);
    // In list order "after" means older when oldest-first, newer when newest-first.
    let (after_op, before_op) = if page.newest_first {
        ("<", ">")
    } else {
        (">", "<")
    };
    if let Some(after) = page.after {
        query
            .push(format!(" and c.id {after_op} "))
            .push_bind(after);
    }
    if let Some(before) = page.before {
        query
            .push(format!(" and c.id {before_op} "))
            .push_bind(before);
    }
    let ascending = page.newest_first == page.from_end;
    let direction = if ascending { "asc" } else { "desc" };
    query.push(format!(" order by c.id {direction} limit "));
    query.push_bind(page.limit);
    query.push(") c");
    let rows: Vec<Row> = budget.collect(query.build_query_as().fetch(exec)).await?;
    let mut pages: HashMap<i64, Vec<Comment>> = HashMap::new();
    for row in rows {
        pages.entry(row.key).or_default().push(row.page_row.value);
    }
    if page.from_end {
        for comments in pages.values_mut() {
            comments.reverse();
        }
    }
    Ok(pages)
}

/// How many children `reader` sees for each of `keys` (one statement).
pub async fn child_counts(
    exec: impl PgExecutor<'_>,
    parent: Parent,
    keys: &[i64],
    reader: Reader,
) -> Result<HashMap<i64, i64>, StoreError> {
    let mut query = QueryBuilder::new(format!(
        "select x.key, (select count(*) from comments c join posts p on p.id = c.post_id where {}",
        parent.condition()
    ));
    reader.push_comment_visible(&mut query);
    query.push(") from unnest(");
    query.push_bind(keys.to_vec());
    query.push("::bigint[]) as x(key)");
    let counts: Vec<(i64, i64)> = query.build_query_as().fetch_all(exec).await?;
    Ok(counts.into_iter().collect())
}

/// How many published comments `reader` sees on each of `post_ids` (posts without any
/// are absent): replies hidden under a held comment do not count.
pub async fn published_counts(
    exec: impl PgExecutor<'_>,
    post_ids: &[i64],
    reader: Reader,
) -> Result<HashMap<i64, i64>, StoreError> {
    // Driven from the posts asked for, one index-only count each: joining comments to
    // posts instead made the generic plan hash every post of the site (2.5 ms vs 0.3 ms
    // for a front page of 20).
    let mut query = QueryBuilder::new(
        "select p.id, (select count(*) from comments c where c.post_id = p.id \
         and c.status = 'published'",
    );
    reader.push_comment_visible(&mut query);
    query.push(") from posts p where p.id = any(");
    query.push_bind(post_ids.to_vec()).push(")");
    published_counts_of(exec, query).await
}

/// How many published direct replies `reader` sees to each of `comment_ids`.
pub async fn published_reply_counts(
    exec: impl PgExecutor<'_>,
    comment_ids: &[i64],
    reader: Reader,
) -> Result<HashMap<i64, i64>, StoreError> {
    let mut query = QueryBuilder::new(
        "select k.id, (select count(*) from comments c where c.parent_id = k.id \
         and c.status = 'published'",
    );
    reader.push_comment_visible(&mut query);
    query.push(") from comments k join posts p on p.id = k.post_id where k.id = any(");
    query.push_bind(comment_ids.to_vec()).push(")");
    published_counts_of(exec, query).await
}

async fn published_counts_of(
    exec: impl PgExecutor<'_>,
    mut query: QueryBuilder<sqlx::Postgres>,
) -> Result<HashMap<i64, i64>, StoreError> {
    let counts: Vec<(i64, i64)> = query.build_query_as().fetch_all(exec).await?;
    Ok(counts.into_iter().filter(|(_, count)| *count > 0).collect())
}

/// Serialises the callers that use the same `key` until their transactions end.
pub async fn lock(conn: &mut PgConnection, key: &str) -> Result<(), StoreError> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}

/// The comment an earlier `addComment` with this client mutation id made on this post in
/// the last 24 hours, whoever may see it: the domain decides what the retry gets back.
pub async fn find_retry_unchecked(
    conn: &mut PgConnection,
    post_id: i64,
    client_mutation_id: &str,
) -> Result<Option<Comment>, StoreError> {
    let comment = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        r#"
        select {COLUMNS} from comments c join posts p on p.id = c.post_id
        where c.post_id = $1 and c.client_mutation_id = $2 and c.created_at > now() - interval '24 hours'
        order by c.created_at
        limit 1
        "#
    )))
    .bind(post_id)
    .bind(client_mutation_id)
    .fetch_optional(conn)
    .await?;
    Ok(comment)
}

/// How many comments `client` posted without a token since `since`, and when the oldest
/// of them was posted: counted from their rate events, which outlive the comments.
pub async fn recent_from_client_unchecked(
    conn: &mut PgConnection,
    client: &str,
    since: DateTime<Utc>,
) -> Result<(i64, Option<DateTime<Utc>>), StoreError> {
    let recent = sqlx::query_as(
        "select count(*), min(created_at) from comment_rate_events \
         where client_address = $1 and created_at > $2",
    )
    .bind(client)
    .bind(since)
    .fetch_one(conn)
    .await?;
    Ok(recent)
}

/// Records that `client` posted a comment without a token, and forgets the events older
/// than an hour (the rate limit looks at the last minute).
pub async fn record_rate_event(conn: &mut PgConnection, client: &str) -> Result<(), StoreError> {
    sqlx::query(
        "with forgotten as (delete from comment_rate_events where created_at < now() - interval '1 hour') \
         insert into comment_rate_events (client_address) values ($1)",
    )
    .bind(client)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces a comment's body (and its status, when moderation says so).
pub async fn update_body(
    exec: impl PgExecutor<'_>,
    id: i64,
    body: &str,
    body_html: &str,
    status: CommentStatus,
) -> Result<Comment, StoreError> {
    let updated = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        r#"
        with c as (
            update comments set body = $2, body_html = $3, status = $4, updated_at = now()
            where id = $1
            returning *
        )
        select {COLUMNS} from c join posts p on p.id = c.post_id
        "#
    )))
    .bind(id)
    .bind(body)
    .bind(body_html)
    .bind(status)
    .fetch_one(exec)
    .await?;
    Ok(updated)
}

pub async fn set_status(
    exec: impl PgExecutor<'_>,
    id: i64,
    status: CommentStatus,
) -> Result<Comment, StoreError> {
    let updated = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        r#"
        with c as (
            update comments set status = $2, updated_at = now() where id = $1 returning *
        )
        select {COLUMNS} from c join posts p on p.id = c.post_id
        "#
    )))
    .bind(id)
    .bind(status)
    .fetch_one(exec)
    .await?;
    Ok(updated)
}

/// Deletes a comment, keeping its row as a tombstone (which holds its replies in place) but
/// nothing of what it said or who said it.
pub async fn tombstone(exec: impl PgExecutor<'_>, id: i64) -> Result<Comment, StoreError> {
    let deleted = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        r#"
        with c as (
            update comments
            set status = 'deleted', body = '', body_html = '', author_name = '[deleted]',
                author_email = null, author_url = null, client_address = null, updated_at = now()
            where id = $1
            returning *
        )
        select {COLUMNS} from c join posts p on p.id = c.post_id
        "#
    )))
    .bind(id)
    .fetch_one(exec)
    .await?;
    Ok(deleted)
}

/// How many comments wait for a moderator (held: `pending`), site-wide.
pub async fn awaiting_moderation_unchecked(exec: impl PgExecutor<'_>) -> Result<i64, StoreError> {
    let count = sqlx::query_scalar("select count(*) from comments where status = 'pending'")
        .fetch_one(exec)
        .await?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_form_of_columns_has_its_own_written_statement_parts() {
        for (position, columns) in Columns::every().into_iter().enumerate() {
            assert_eq!(columns.index(), position, "{columns:?}");
            assert_eq!(columns.select(), columns.written(), "{columns:?}");
            assert_eq!(
                PageArrays::aggregates(columns),
                PageArrays::written(columns),
                "{columns:?}"
            );
        }
        let selects: std::collections::HashSet<&str> =
            Columns::every().into_iter().map(Columns::select).collect();
        assert_eq!(selects.len(), Columns::FORMS);
    }
}
