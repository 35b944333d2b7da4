//! Gazette's data layer: everything that touches PostgreSQL.
//!
//! - [`Database`] opens the pool (on `DATABASE_URL`'s server or an [`EmbeddedPostgres`]
//!   cluster under the data directory) and runs the [`MIGRATOR`].
//! - One module per domain holds its SQL next to the types it returns.

mod arrays;
pub mod authors;
mod batches;
mod budget;
pub mod channels;
pub mod comments;
mod config;
mod database;
mod delivery_rows;
mod embedded;
mod error;
pub mod events;
pub mod export;
pub mod federation;
pub mod feeds;
pub mod imports;
pub mod keyset;
pub mod meta;
mod positional;
pub mod posts;
mod replicas;
pub mod sessions;
pub mod sitemap;
pub mod sources;
pub mod summaries;
pub mod synthetic;
pub mod tags;
pub mod tokens;
pub mod visibility;
mod warm;
pub mod webhooks;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use batches::FirstPostPage;
pub use budget::{BudgetExceeded, BudgetPool, LOADED_PER_BUILT, ReadBudget, TextBytes};
pub use config::{DatabaseConfig, SiteConfig};
pub use database::{Access, Database, MIGRATOR};
pub use embedded::{EmbeddedError, EmbeddedOptions, EmbeddedPostgres};
pub use error::{StoreError, display_chain, is_unavailable};
pub use replicas::{ReadReplicas, Reads, ReplicaPool};
pub use sqlx::pool::PoolConnection;
pub use sqlx::{Error as SqlxError, PgConnection, PgExecutor, PgPool, Postgres};

/// A transaction on the pool, as `PgPool::begin` gives it.
pub type PgTransaction = sqlx::Transaction<'static, sqlx::Postgres>;

/// A transaction on a connection the caller holds.
pub type Transaction<'c> = sqlx::Transaction<'c, sqlx::Postgres>;

/// Begins a transaction on a connection the caller holds (its temporary tables included).
pub async fn begin(conn: &mut PgConnection) -> Result<Transaction<'_>, StoreError> {
    Ok(sqlx::Connection::begin(conn).await?)
}
pub use visibility::Reader;
pub use warm::{HAND_ON_AT_MOST, WarmConnection, WarmConnections};

/// Whether `text` could be in a text column: PostgreSQL's text holds no NUL, and refuses
/// a parameter with one as an error. A look-up by such a key (a slug from a URL) finds
/// nothing, and says so without asking.
pub(crate) fn could_be_stored(text: &str) -> bool {
    !text.contains('\0')
}
