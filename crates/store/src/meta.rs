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

/// A random secret of this database, created on first use (32 bytes).
pub async fn secret(conn: &mut PgConnection, key: &str) -> Result<Vec<u8>, StoreError> {
    let mut fresh = [0u8; 32];
    getrandom::fill(&mut fresh).map_err(|error| StoreError::Secret(error.to_string()))?;
    let stored: String = sqlx::query_scalar(
        r#"
        with created as (
            insert into gazette_meta (key, value) values ($1, $2)
            on conflict (key) do nothing
            returning value
        )
        select value from created
        union all
        select value from gazette_meta where key = $1
        limit 1
        "#,
    )
    .bind(key)
    .bind(hex::encode(fresh))
    .fetch_one(conn)
    .await?;
    hex::decode(stored).map_err(|error| StoreError::Secret(error.to_string()))
}
