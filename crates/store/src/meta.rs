//! Small facts about the database itself.

use sqlx::{PgConnection, PgExecutor};

use crate::error::StoreError;

/// Serialises first-run work across processes (an API and a worker may start together).
const FIRST_RUN_LOCK: i64 = 0x6761_7a65_7365_6564; // "gazeseed"

/// Claims a one-time task named `key` inside the caller's transaction: true exactly once per
/// database. Concurrent claimers wait for each other. Commit to make the claim stick; roll
/// back (for instance when the task failed) to leave it for the next start.
pub async fn claim_once(tx: &mut PgConnection, key: &str) -> Result<bool, StoreError> {
    sqlx::query("select pg_advisory_xact_lock($1)")
        .bind(FIRST_RUN_LOCK)
        .execute(&mut *tx)
        .await?;
    let claimed: Option<String> = sqlx::query_scalar(
        r#"
        insert into gazette_meta (key, value)
        values ($1, now()::text)
        on conflict (key) do nothing
        returning key
        "#,
    )
    .bind(key)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(claimed.is_some())
}

/// The value stored under `key`, if any.
pub async fn get(exec: impl PgExecutor<'_>, key: &str) -> Result<Option<String>, StoreError> {
    let value = sqlx::query_scalar("select value from gazette_meta where key = $1")
        .bind(key)
        .fetch_optional(exec)
        .await?;
    Ok(value)
}

/// Stores `value` under `key`, replacing what was there.
pub async fn set(exec: impl PgExecutor<'_>, key: &str, value: &str) -> Result<(), StoreError> {
    sqlx::query(
        "insert into gazette_meta (key, value) values ($1, $2) \
         on conflict (key) do update set value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(exec)
    .await?;
    Ok(())
}

/// Whether any post exists (a database someone already filled is never seeded).
pub async fn has_posts(exec: impl PgExecutor<'_>) -> Result<bool, StoreError> {
    let has_posts = sqlx::query_scalar("select exists (select 1 from posts)")
        .fetch_one(exec)
        .await?;
    Ok(has_posts)
}

/// One round trip to the database, for readiness checks.
pub async fn ping(exec: impl PgExecutor<'_>) -> Result<(), StoreError> {
    sqlx::query("select 1").execute(exec).await?;
    Ok(())
}
