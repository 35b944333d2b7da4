//! The test's own hand on the database: connections of its own, locks held in them, rows
//! written straight to the store.

use gazette_store::authors;
use gazette_store::posts::{self, NewPost, PostStatus};
use gazette_store::testing::TestDatabase;
use sqlx::{Connection, PgConnection, PgPool};

/// A connection of the test's own to `database`, outside any server's pool.
pub async fn connect_to(database: &TestDatabase) -> PgConnection {
    PgConnection::connect_with(database.options())
        .await
        .expect("connect")
}

/// Begins a transaction on `connection` and runs `statement` in it, which takes the locks
/// a scenario holds until it rolls back or commits.
pub async fn hold_in_transaction(connection: &mut PgConnection, statement: &'static str) {
    sqlx::query("begin")
        .execute(&mut *connection)
        .await
        .expect("begin");
    sqlx::query(statement)
        .execute(&mut *connection)
        .await
        .unwrap_or_else(|error| panic!("{statement}: {error}"));
}

/// A connection that holds the build lock of the feed `key` until it is closed or dropped.
pub async fn hold_feed_lock(database: &TestDatabase, key: &str) -> PgConnection {
    let mut connection = connect_to(database).await;
    sqlx::query("select pg_advisory_lock(hashtextextended('feed:' || $1, 0))")
        .bind(key)
        .execute(&mut connection)
        .await
        .unwrap_or_else(|error| panic!("hold {key}: {error}"));
    connection
}

/// How many sessions of the pool's database wait on a lock at this moment.
pub async fn sessions_waiting_on_locks(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and datname = current_database()",
    )
    .fetch_one(pool)
    .await
    .expect("pg_stat_activity")
}

/// A published post with an empty body, written straight to the store by the author
/// `author_slug` (created when new); returns the post's database id.
pub async fn insert_published_post(
    pool: &PgPool,
    (author_slug, author_name): (&str, &str),
    (slug, title): (&str, &str),
) -> i64 {
    let author = authors::find_or_create(
        &mut pool.acquire().await.expect("conn"),
        author_slug,
        author_name,
    )
    .await
    .expect("author");
    posts::insert(
        pool,
        &NewPost {
            author_id: author.id,
            slug,
            title,
            body: "",
            body_html: "",
            excerpt: "",
            custom_excerpt: false,
            status: PostStatus::Published,
            comments_open: true,
            published_at: Some(chrono::Utc::now()),
        },
    )
    .await
    .expect("post")
    .id
}
