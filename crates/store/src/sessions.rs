//! Moderators' sessions on the moderation pages: a random secret in the browser's cookie,
//! its digest here. A session lasts until it expires, its moderator signs out, or its API
//! token is revoked (migration 0015).

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;

use crate::error::StoreError;
use crate::tokens::{TokenOwner, digest, random_hex};

/// Starts a session for a token's owner until `expires_at`; returns its secret, which is
/// not stored and goes into the cookie. Sessions long expired are cleared on the way.
pub async fn start(
    exec: impl PgExecutor<'_>,
    owner: &TokenOwner,
    expires_at: DateTime<Utc>,
) -> Result<String, StoreError> {
    let secret = random_hex()?;
    sqlx::query(
        "with cleared as (delete from moderation_sessions where expires_at < now() - interval '1 day') \
         insert into moderation_sessions (secret_hash, token_id, expires_at) values ($1, $2, $3)",
    )
    .bind(digest(&secret))
    .bind(owner.token_id)
    .bind(expires_at)
    .execute(exec)
    .await?;
    Ok(secret)
}

/// Who holds the session with `secret`, while it and its token are good.
pub async fn owner(
    exec: impl PgExecutor<'_>,
    secret: &str,
) -> Result<Option<TokenOwner>, StoreError> {
    let owner = sqlx::query_as(
        "select t.id as token_id, t.author_id, t.role \
         from moderation_sessions s join api_tokens t on t.id = s.token_id \
         where s.secret_hash = $1 and s.expires_at > now() and t.revoked_at is null",
    )
    .bind(digest(secret))
    .fetch_optional(exec)
    .await?;
    Ok(owner)
}

/// Ends the session with `secret` (signing out); nothing happens for an unknown one.
pub async fn end(exec: impl PgExecutor<'_>, secret: &str) -> Result<(), StoreError> {
    sqlx::query("delete from moderation_sessions where secret_hash = $1")
        .bind(digest(secret))
        .execute(exec)
        .await?;
    Ok(())
}
