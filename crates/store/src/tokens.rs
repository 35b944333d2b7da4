//! API tokens: random secrets shown once, stored only as their SHA-256 digest.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgExecutor;

use crate::error::StoreError;

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    /// Everything.
    Admin,
    /// Their own posts.
    Author,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Author => "author",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiToken {
    pub id: i64,
    pub author_id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Who a valid token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenOwner {
    pub token_id: i64,
    pub author_id: i64,
    pub role: Role,
}

/// The prefix makes Gazette tokens recognisable (secret scanners, logs).
const TOKEN_PREFIX: &str = "gz_";

pub(crate) fn digest(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

fn new_secret() -> Result<String, StoreError> {
    Ok(format!("{TOKEN_PREFIX}{}", random_hex()?))
}

/// 32 random bytes as hex: a secret nobody can guess.
pub(crate) fn random_hex() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| StoreError::Secret(error.to_string()))?;
    Ok(hex::encode(bytes))
}

/// Creates a token; returns it with its secret, which is not stored and cannot be shown again.
pub async fn create(
    exec: impl PgExecutor<'_>,
    author_id: i64,
    name: &str,
    role: Role,
) -> Result<(ApiToken, String), StoreError> {
    let secret = new_secret()?;
    let token = sqlx::query_as(
        r#"
        insert into api_tokens (author_id, name, role, token_hash)
        values ($1, $2, $3, $4)
        returning id, author_id, name, role, created_at, last_used_at, revoked_at
        "#,
    )
    .bind(author_id)
    .bind(name)
    .bind(role)
    .bind(digest(&secret))
    .fetch_one(exec)
    .await?;
    Ok((token, secret))
}

/// The owner of a valid (known, unrevoked) token, recording its use.
pub async fn authenticate(
    exec: impl PgExecutor<'_>,
    secret: &str,
) -> Result<Option<TokenOwner>, StoreError> {
    // last_used_at is refreshed at most once a minute: rewriting the row on every request
    // would turn every authenticated read into a write.
    let owner = sqlx::query_as(
        r#"
        with owner as (
            select id, author_id, role, last_used_at
            from api_tokens
            where token_hash = $1 and revoked_at is null
        ), touched as (
            update api_tokens t
            set last_used_at = now()
            from owner
            where t.id = owner.id
              and (owner.last_used_at is null or owner.last_used_at < now() - interval '1 minute')
        )
        select id as token_id, author_id, role from owner
        "#,
    )
    .bind(digest(secret))
    .fetch_optional(exec)
    .await?;
    Ok(owner)
}

/// Revokes a token by id; false when there is no such unrevoked token.
pub async fn revoke(exec: impl PgExecutor<'_>, id: i64) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "update api_tokens set revoked_at = now() where id = $1 and revoked_at is null",
    )
    .bind(id)
    .execute(exec)
    .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn list(exec: impl PgExecutor<'_>) -> Result<Vec<ApiToken>, StoreError> {
    let tokens = sqlx::query_as(
        r#"
        select id, author_id, name, role, created_at, last_used_at, revoked_at
        from api_tokens
        order by id
        "#,
    )
    .fetch_all(exec)
    .await?;
    Ok(tokens)
}

/// Whether the token of this id exists and is not revoked (long-lived connections ask again
/// and again, so a revocation reaches them).
pub async fn is_active(exec: impl PgExecutor<'_>, token_id: i64) -> Result<bool, StoreError> {
    let active = sqlx::query_scalar(
        "select exists (select 1 from api_tokens where id = $1 and revoked_at is null)",
    )
    .bind(token_id)
    .fetch_one(exec)
    .await?;
    Ok(active)
}
