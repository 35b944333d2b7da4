//! What imports brought in (migration 0010): export ids mapped to Gazette's posts and
//! comments, so an import can be run again and adds only what is new.

use sqlx::PgExecutor;

use crate::error::StoreError;

/// Lets the caller's transaction commit without waiting for its WAL to reach the disk. An
/// import can be run again and adds what is missing, so a crash that loses its last few
/// commits loses nothing; waiting for the disk at each of ten thousand commits would be
/// most of an import's time.
pub async fn commit_without_waiting(tx: &mut sqlx::PgConnection) -> Result<(), StoreError> {
    sqlx::query("set local synchronous_commit = off")
        .execute(tx)
        .await?;
    Ok(())
}

/// The post an export's `external_id` became, if it was imported before.
pub async fn post(
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
pub async fn comment(
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

pub async fn record_post(
    exec: impl PgExecutor<'_>,
    source: &str,
    external_id: &str,
    post_id: i64,
) -> Result<(), StoreError> {
    sqlx::query("insert into imported (source, external_id, post_id) values ($1, $2, $3)")
        .bind(source)
        .bind(external_id)
        .bind(post_id)
        .execute(exec)
        .await?;
    Ok(())
}

pub async fn record_comment(
    exec: impl PgExecutor<'_>,
    source: &str,
    external_id: &str,
    comment_id: i64,
) -> Result<(), StoreError> {
    sqlx::query("insert into imported (source, external_id, comment_id) values ($1, $2, $3)")
        .bind(source)
        .bind(external_id)
        .bind(comment_id)
        .execute(exec)
        .await?;
    Ok(())
}

/// The post imported from a WordPress export as `external_id` (`post-123`), from any
/// WordPress site imported: `/?p=123` links name no site.
pub async fn post_by_wordpress_id(
    exec: impl PgExecutor<'_>,
    external_id: &str,
) -> Result<Option<i64>, StoreError> {
    let found = sqlx::query_scalar(
        "select post_id from imported where source like 'wordpress:%' and external_id = $1 \
         and post_id is not null order by source limit 1",
    )
    .bind(external_id)
    .fetch_optional(exec)
    .await?;
    Ok(found)
}
