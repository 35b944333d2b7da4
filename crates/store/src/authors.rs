//! Authors: the people who write posts and hold tokens.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor};

use crate::error::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Author {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub email: Option<String>,
    pub url: Option<String>,
    pub bio: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Returns the author with this slug, creating them (named `name`) when there is none.
pub async fn find_or_create(
    conn: &mut PgConnection,
    slug: &str,
    name: &str,
) -> Result<Author, StoreError> {
    let author = sqlx::query_as(
        r#"
        with created as (
            insert into authors (slug, name) values ($1, $2)
            on conflict (slug) do nothing
            returning *
        )
        select * from created
        union all
        select * from authors where slug = $1
        limit 1
        "#,
    )
    .bind(slug)
    .bind(name)
    .fetch_one(conn)
    .await?;
    Ok(author)
}

pub async fn find_by_ids(
    exec: impl PgExecutor<'_>,
    ids: &[i64],
) -> Result<HashMap<i64, Author>, StoreError> {
    let authors: Vec<Author> = sqlx::query_as("select * from authors where id = any($1)")
        .bind(ids)
        .fetch_all(exec)
        .await?;
    Ok(authors
        .into_iter()
        .map(|author| (author.id, author))
        .collect())
}
