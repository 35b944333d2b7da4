//! What imports brought in (migration 0010): export ids mapped to Gazette's posts and
//! comments, so an import can be run again and adds only what is new.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, QueryBuilder};

use crate::error::StoreError;
use crate::visibility::Reader;

/// Settings for an import's batch transaction. It commits without waiting for its WAL to reach
/// the disk: an import can be run again and adds what is missing, so a crash that loses
/// its last few commits loses nothing, and waiting for the disk at each commit would be
/// most of an import's time. And its statements are planned for their parameters each
/// time: an import starts on small tables and ends on large ones, and a plan cached while
/// the tables were small (a sequential scan) would make every later batch slower. Its
/// comments and tag links send no notification each (migration 0014); one `post_changed`
/// for the batch, sent at commit, wakes the worker and empties caches.
pub async fn begin_batch(tx: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query(
        "select set_config('synchronous_commit', 'off', true), \
                set_config('gazette.import_batch', 'on', true), \
                gazette_notify('post_changed', null, null)",
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// The post an export's `external_id` became, if it was imported before.
pub async fn post_unchecked(
    exec: impl PgExecutor<'_>,
    source: &str,
    external_id: &str,
) -> Result<Option<i64>, StoreError> {
    let found = sqlx::query_scalar(
        "select post_id from imported where source = $1 and external_id = $2 and post_id is not null",
    )
    .bind(source)
    .bind(external_id)
    .fetch_optional(exec)
    .await?;
    Ok(found)
}

/// The comment an export's `external_id` became, if it was imported before.
pub async fn comment_unchecked(
    exec: impl PgExecutor<'_>,
    source: &str,
    external_id: &str,
) -> Result<Option<i64>, StoreError> {
    let found = sqlx::query_scalar(
        "select comment_id from imported where source = $1 and external_id = $2 and comment_id is not null",
    )
    .bind(source)
    .bind(external_id)
    .fetch_optional(exec)
    .await?;
    Ok(found)
}

/// Takes the statistics of the tables an import fills, so the plans of its statements
/// (cached per connection) follow their size.
pub async fn analyze_import_tables(exec: impl PgExecutor<'_>) -> Result<(), StoreError> {
    sqlx::query("analyze posts, comments, imported, post_tags, tags")
        .execute(exec)
        .await?;
    Ok(())
}

/// What an export id became, with where it stands: a comment's post and thread path (the
/// ids from its top-level ancestor down to it); a post's own id and an empty path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedRecord {
    pub imported: Imported,
    pub post_id: i64,
    pub path: Vec<i64>,
}

/// A row of `imported` with its comment's post and path.
#[derive(sqlx::FromRow)]
struct ImportedRow {
    external_id: String,
    post_id: Option<i64>,
    comment_id: Option<i64>,
    comment_post_id: Option<i64>,
    path: Option<Vec<i64>>,
}

/// What each of `external_ids` became, for those imported before: one look-up for a batch.
pub async fn find_many_unchecked(
    exec: impl PgExecutor<'_>,
    source: &str,
    external_ids: &[&str],
) -> Result<std::collections::HashMap<String, ImportedRecord>, StoreError> {
    let rows: Vec<ImportedRow> = sqlx::query_as(
        "select i.external_id, i.post_id, i.comment_id, c.post_id as comment_post_id, c.path from imported i \
             left join comments c on c.id = i.comment_id \
             where i.source = $1 and i.external_id = any($2)",
    )
    .bind(source)
    .bind(external_ids)
    .fetch_all(exec)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let ImportedRow {
                external_id,
                post_id: post,
                comment_id: comment,
                comment_post_id: comment_post,
                path,
            } = row;
            let record = match (post, comment, comment_post) {
                (Some(post), _, _) => ImportedRecord {
                    imported: Imported::Post(post),
                    post_id: post,
                    path: Vec::new(),
                },
                (None, Some(comment), Some(post)) => ImportedRecord {
                    imported: Imported::Comment(comment),
                    post_id: post,
                    path: path.unwrap_or_default(),
                },
                _ => return None,
            };
            Some((external_id, record))
        })
        .collect())
}

/// Moves the post and comment id sequences past every id in use: an import that kept the
/// ids of a Gazette export wrote ids the sequences have not given out yet.
pub async fn advance_id_sequences(exec: impl PgExecutor<'_>) -> Result<(), StoreError> {
    sqlx::query(
        r#"
        select setval(pg_get_serial_sequence('posts', 'id'),
                      greatest((select coalesce(max(id), 0) from posts), nextval(pg_get_serial_sequence('posts', 'id')))),
               setval(pg_get_serial_sequence('comments', 'id'),
                      greatest((select coalesce(max(id), 0) from comments), nextval(pg_get_serial_sequence('comments', 'id'))))
        "#,
    )
    .execute(exec)
    .await?;
    Ok(())
}

/// The tables whose ids an import keeps from a Gazette export (global ids stay valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeptIds {
    Posts,
    Comments,
}

impl KeptIds {
    fn table(self) -> &'static str {
        match self {
            KeptIds::Posts => "posts",
            KeptIds::Comments => "comments",
        }
    }
}

/// Which of `ids` rows of `table` already have.
pub async fn taken_ids_unchecked(
    exec: impl PgExecutor<'_>,
    table: KeptIds,
    ids: &[i64],
) -> Result<std::collections::HashSet<i64>, StoreError> {
    // The table's name is one of two constants.
    let taken: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select id from {} where id = any($1)",
        table.table()
    )))
    .bind(ids)
    .fetch_all(exec)
    .await?;
    Ok(taken.into_iter().collect())
}

/// `count` ids from `table`'s sequence for rows about to be inserted: knowing each id
/// before the insert lets a batch's replies name their parents, and lets ids kept from
/// the file be skipped.
pub async fn reserve_ids(
    exec: impl PgExecutor<'_>,
    table: KeptIds,
    count: usize,
) -> Result<Vec<i64>, StoreError> {
    let ids = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "select nextval(pg_get_serial_sequence('{}', 'id')) from generate_series(1, $1)",
        table.table()
    )))
    .bind(i64::try_from(count).unwrap_or(i64::MAX))
    .fetch_all(exec)
    .await?;
    Ok(ids)
}

/// What a record of an export became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    Post(i64),
    Comment(i64),
}

/// Records what each export record (by its `external_id`) became, all in one statement:
/// a post and its comments cost one round trip, not one each.
pub async fn record(
    exec: impl PgExecutor<'_>,
    source: &str,
    records: &[(&str, Imported)],
) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    let external_ids: Vec<&str> = records.iter().map(|(id, _)| *id).collect();
    let (posts, comments): (Vec<Option<i64>>, Vec<Option<i64>>) = records
        .iter()
        .map(|(_, imported)| match imported {
            Imported::Post(id) => (Some(*id), None),
            Imported::Comment(id) => (None, Some(*id)),
        })
        .unzip();
    sqlx::query(
        "insert into imported (source, external_id, post_id, comment_id) \
         select $1, * from unnest($2::text[], $3::bigint[], $4::bigint[])",
    )
    .bind(source)
    .bind(external_ids)
    .bind(posts)
    .bind(comments)
    .execute(exec)
    .await?;
    Ok(())
}

/// The post imported from a WordPress export as `external_id` (`post-123`), from any
/// WordPress site imported (`/?p=123` links name no site), if `reader` sees it.
pub async fn post_by_wordpress_id(
    exec: impl PgExecutor<'_>,
    external_id: &str,
    reader: Reader,
) -> Result<Option<i64>, StoreError> {
    let mut query = QueryBuilder::new(
        "select i.post_id from imported i join posts p on p.id = i.post_id \
         where i.source like 'wordpress:%' and i.external_id = ",
    );
    query.push_bind(external_id.to_owned());
    reader.push_post_visible(&mut query, "p");
    query.push(" order by i.source limit 1");
    let found = query.build_query_scalar().fetch_optional(exec).await?;
    Ok(found)
}

/// A comment held while a Blogger export is read (they come after all the posts), in
/// temporary tables of the importing connection, so memory does not grow with the file.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StagedComment {
    pub external_id: String,
    /// The post, or comment, the comment answers.
    pub answers: String,
    /// Its parent comment, when the export names it.
    pub parent: Option<String>,
    pub author_name: String,
    pub author_email: Option<String>,
    pub author_url: Option<String>,
    pub body: String,
    pub created_at: Option<DateTime<Utc>>,
}

/// Creates (or empties) this connection's staging tables.
pub async fn stage_begin(conn: &mut PgConnection) -> Result<(), StoreError> {
    for statement in [
        "create temporary table if not exists import_staged_posts (external_id text primary key)",
        "create temporary table if not exists import_staged_comments (seq bigserial primary key, \
         external_id text not null, answers text not null, parent text, author_name text not null, \
         author_email text, author_url text, body text not null, created_at timestamptz)",
        // Each post looks up what answers it: without these, a large export is quadratic.
        "create index if not exists import_staged_answers on import_staged_comments (answers)",
        "create index if not exists import_staged_parent on import_staged_comments (parent)",
        "truncate import_staged_posts, import_staged_comments",
    ] {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    Ok(())
}

pub async fn stage_post(conn: &mut PgConnection, external_id: &str) -> Result<(), StoreError> {
    sqlx::query("insert into import_staged_posts (external_id) values ($1) on conflict do nothing")
        .bind(external_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn stage_comment(
    conn: &mut PgConnection,
    comment: &StagedComment,
) -> Result<(), StoreError> {
    sqlx::query(
        "insert into import_staged_comments (external_id, answers, parent, author_name, author_email, \
         author_url, body, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&comment.external_id)
    .bind(&comment.answers)
    .bind(&comment.parent)
    .bind(&comment.author_name)
    .bind(&comment.author_email)
    .bind(&comment.author_url)
    .bind(&comment.body)
    .bind(comment.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The staged comments under the post `post_external_id` (answering it, or answering a
/// comment under it, at any depth), in file order, each with its parent comment: the one
/// the export names, or the comment it answers. A comment belongs to the post it answers;
/// a parent named on another post is the importer's to set aside.
pub async fn staged_comments_of_unchecked(
    conn: &mut PgConnection,
    post_external_id: &str,
) -> Result<Vec<StagedComment>, StoreError> {
    let comments = sqlx::query_as(
        r#"
        with recursive under (external_id) as (
            select c.external_id from import_staged_comments c where c.answers = $1
            union
            select c.external_id from import_staged_comments c
            join under u on c.answers = u.external_id
        )
        select c.external_id, c.answers,
               coalesce(c.parent, case when c.answers <> $1 then c.answers end) as parent,
               c.author_name, c.author_email, c.author_url, c.body, c.created_at
        from import_staged_comments c
        where c.external_id in (select external_id from under)
        order by c.seq
        "#,
    )
    .bind(post_external_id)
    .fetch_all(conn)
    .await?;
    Ok(comments)
}

/// Staged comments under no staged post: what they answer is not in the export.
pub async fn staged_orphans_unchecked(
    conn: &mut PgConnection,
) -> Result<Vec<(String, String)>, StoreError> {
    let orphans = sqlx::query_as(
        r#"
        with recursive placed (external_id) as (
            select c.external_id from import_staged_comments c
            where c.answers in (select external_id from import_staged_posts)
            union
            select c.external_id from import_staged_comments c
            join placed p on c.answers = p.external_id
        )
        select external_id, answers from import_staged_comments
        where external_id not in (select external_id from placed)
        order by seq
        "#,
    )
    .fetch_all(conn)
    .await?;
    Ok(orphans)
}
