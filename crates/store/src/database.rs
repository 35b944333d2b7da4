use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::config::{DatabaseConfig, redact_url};
use crate::embedded::{EmbeddedOptions, EmbeddedPostgres};
use crate::error::StoreError;

/// The schema migrations under `migrations/`, embedded at compile time. Each runs in its own
/// transaction, so a failing migration leaves the database as it was.
pub static MIGRATOR: Migrator = sqlx::migrate!("../../migrations");

/// The database the embedded cluster holds Gazette's data in.
const EMBEDDED_DATABASE: &str = "gazette";

/// How a process uses the embedded cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Long-running servers: own the cluster, refuse when another process does.
    Exclusive,
    /// One-off commands: use the cluster of a running server if there is one.
    Shared,
}

/// The connection pool, and the embedded cluster behind it when there is one.
#[derive(Debug)]
pub struct Database {
    pool: PgPool,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects to `DATABASE_URL`'s server, or starts (or attaches to) the embedded cluster.
    pub async fn open(config: &DatabaseConfig, access: Access) -> Result<Self, StoreError> {
        let pool_options = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(Duration::from_secs(10));
        match &config.url {
            Some(url) => {
                let connect_error = |source| StoreError::Connect {
                    url: redact_url(url),
                    source,
                };
                let options: PgConnectOptions = url.parse().map_err(connect_error)?;
                let options = with_statement_timeout(options, config.statement_timeout);
                let pool = pool_options
                    .connect_with(options)
                    .await
                    .map_err(connect_error)?;
                Ok(Self {
                    pool,
                    embedded: None,
                })
            }
            None => {
                let options = EmbeddedOptions {
                    data_dir: config.data_dir.clone(),
                    bin_dir: config.postgres_bin_dir.clone(),
                    durable: true,
                    statement_statistics: false,
                };
                let embedded = match access {
                    Access::Exclusive => EmbeddedPostgres::start(&options).await?,
                    Access::Shared => EmbeddedPostgres::start_or_attach(&options).await?,
                };
                let connect_error = |source| StoreError::Connect {
                    url: format!("the embedded server in {}", embedded.root().display()),
                    source,
                };
                let admin = embedded.connect_options("postgres");
                create_database_if_missing(&admin, EMBEDDED_DATABASE)
                    .await
                    .map_err(connect_error)?;
                let options = with_statement_timeout(
                    embedded.connect_options(EMBEDDED_DATABASE),
                    config.statement_timeout,
                );
                let pool = pool_options
                    .connect_with(options)
                    .await
                    .map_err(connect_error)?;
                Ok(Self {
                    pool,
                    embedded: Some(embedded),
                })
            }
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Applies the pending migrations. Concurrent callers are serialised by an advisory lock.
    /// They run on a connection of their own without the statement timeout (building an
    /// index on a large table takes what it takes), which is closed afterwards.
    #[tracing::instrument(skip_all, err)]
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let mut connection = self.pool.acquire().await?;
        sqlx::query("set statement_timeout = 0")
            .execute(&mut *connection)
            .await?;
        let migrated = MIGRATOR.run(&mut *connection).await;
        // Never hand a connection without the timeout back to the pool.
        let _ = connection.detach().close().await;
        migrated?;
        Ok(())
    }

    /// Closes the pool, then stops the embedded cluster if this process owns it.
    pub async fn close(self) -> Result<(), StoreError> {
        self.pool.close().await;
        if let Some(embedded) = self.embedded {
            embedded.stop().await?;
        }
        Ok(())
    }
}

/// Every connection of the pool cancels statements that run longer than `timeout`.
fn with_statement_timeout(options: PgConnectOptions, timeout: Duration) -> PgConnectOptions {
    if timeout.is_zero() {
        return options;
    }
    options.options([("statement_timeout", format!("{}ms", timeout.as_millis()))])
}

async fn create_database_if_missing(
    admin: &PgConnectOptions,
    name: &'static str,
) -> Result<(), sqlx::Error> {
    let mut connection = PgConnection::connect_with(admin).await?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(name)
            .fetch_one(&mut connection)
            .await?;
    if !exists {
        let statement = format!(r#"create database "{name}""#);
        let created = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut connection)
            .await;
        // Another gazette process may have created it between our check and now.
        let duplicate_database = |error: &sqlx::Error| {
            error
                .as_database_error()
                .and_then(|db| db.code())
                .is_some_and(|code| code == "42P04")
        };
        match created {
            Err(error) if !duplicate_database(&error) => return Err(error),
            _ => {}
        }
    }
    connection.close().await
}
