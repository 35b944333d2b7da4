//! Authors: the people who write posts and hold tokens.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgExecutor, QueryBuilder};

use crate::error::StoreError;
use crate::keyset::{Direction, Limit, Position, SortKey, Window, in_list_order, push_window};
use crate::visibility::Reader;

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
    // A concurrent creator's uncommitted row makes the insert wait, then do nothing, and
    // the select cannot see that row in this statement's snapshot: the next statement
    // (a new snapshot) finds it.
    for _ in 0..3 {
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
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(author) = author {
            return Ok(author);
        }
    }
    Err(StoreError::Constraint {
        constraint: "authors_slug_key".to_owned(),
    })
}

/// The authors of `ids` that `reader` may see (see [`crate::visibility`]).
pub async fn find_visible(
    exec: impl PgExecutor<'_>,
    ids: &[i64],
    reader: Reader,
) -> Result<HashMap<i64, Author>, StoreError> {
    let mut query = QueryBuilder::new("select a.* from authors a where a.id = any(");
    query.push_bind(ids.to_vec()).push(")");
    reader.push_author_visible(&mut query);
    let authors: Vec<Author> = query.build_query_as().fetch_all(exec).await?;
    Ok(authors
        .into_iter()
        .map(|author| (author.id, author))
        .collect())
}

/// Authors by id, whoever may see them: reached only through
/// `policy::authors_of_read_posts`, for the authors of posts already read as the reader.
pub async fn by_ids_unchecked(
    exec: impl PgExecutor<'_>,
    ids: &[i64],
) -> Result<HashMap<i64, Author>, StoreError> {
    let authors: Vec<Author> = sqlx::query_as("select a.* from authors a where a.id = any($1)")
        .bind(ids)
        .fetch_all(exec)
        .await?;
    Ok(authors
        .into_iter()
        .map(|author| (author.id, author))
        .collect())
}

/// The author with this slug, if `reader` may see them.
pub async fn find_visible_by_slug(
    exec: impl PgExecutor<'_>,
    slug: &str,
    reader: Reader,
) -> Result<Option<Author>, StoreError> {
    let mut query = QueryBuilder::new("select a.* from authors a where a.slug = ");
    query.push_bind(slug.to_owned());
    reader.push_author_visible(&mut query);
    let author = query.build_query_as().fetch_optional(exec).await?;
    Ok(author)
}

/// The authors `reader` may see (for the public: those with a published post), by name
/// (then id).
pub async fn page(
    exec: impl PgExecutor<'_>,
    reader: Reader,
    window: &Window,
) -> Result<Vec<Author>, StoreError> {
    let mut query = QueryBuilder::new("select a.* from authors a where true");
    reader.push_author_visible(&mut query);
    push_window(
        &mut query,
        "a.name",
        "a.id",
        Direction::Asc,
        window,
        Limit::Bound,
    );
    let authors = query.build_query_as().fetch_all(exec).await?;
    Ok(in_list_order(authors, window))
}

/// How many authors `reader` may see.
pub async fn count(exec: impl PgExecutor<'_>, reader: Reader) -> Result<i64, StoreError> {
    let mut query = QueryBuilder::new("select count(*) from authors a where true");
    reader.push_author_visible(&mut query);
    let count = query.build_query_scalar().fetch_one(exec).await?;
    Ok(count)
}

impl Author {
    /// This author's position in the author list (by name).
    pub fn position(&self) -> Position {
        Position {
            key: SortKey::Text(self.name.clone()),
            id: self.id,
        }
    }
}
