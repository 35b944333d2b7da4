use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::config::{DatabaseConfig, Session, redact_url};
use crate::embedded::{APP_ROLE, EmbeddedOptions, EmbeddedPostgres, set_role_password};
use crate::error::StoreError;
use crate::replicas::{ReadReplicas, Reads};
use crate::warm::WarmConnections;

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

/// See `acquire_timeout` in [`Database::open`].
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// The connection pool, and the embedded cluster behind it when there is one.
#[derive(Debug)]
pub struct Database {
    pool: PgPool,
    /// Clean connections the primary's reads gave back (see [`WarmConnections`]).
    warm: Arc<WarmConnections>,
    /// `--database-read-url`'s servers (none when not given).
    replicas: ReadReplicas,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects to `DATABASE_URL`'s server, or starts (or attaches to) the embedded cluster.
    pub async fn open(config: &DatabaseConfig, access: Access) -> Result<Self, StoreError> {
        let replicas = ReadReplicas::connect(
            &config.read_urls,
            config.max_connections,
            config.session(),
            config.post_page_statements,
        )
        .await?;
        let pool_options = pool_options(config.max_connections)
            // How long a request waits for a connection before it is answered "database
            // unavailable" (503): a restart or a saturated pool shows quickly, not as a hang.
            .acquire_timeout(ACQUIRE_TIMEOUT);
        let (options, embedded, location) = match &config.url {
            Some(url) => {
                let location = redact_url(url);
                let options: PgConnectOptions =
                    url.parse().map_err(|source| StoreError::Connect {
                        url: location.clone(),
                        source,
                    })?;
                (options, None, location)
            }
            None => {
                let options = EmbeddedOptions {
                    data_dir: config.data_dir.clone(),
                    bin_dir: config.postgres_bin_dir.clone(),
                    durable: true,
                    statement_statistics: false,
                    pool_connections: config.max_connections,
                };
                let embedded = match access {
                    Access::Exclusive => EmbeddedPostgres::start(&options).await?,
                    Access::Shared => EmbeddedPostgres::start_or_attach(&options).await?,
                };
                let location = format!("the embedded server in {}", embedded.root().display());
                let admin = embedded.superuser_connect_options("postgres");
                prepare_app_database(&admin, embedded.app_password())
                    .await
                    .map_err(|source| StoreError::Connect {
                        url: location.clone(),
                        source,
                    })?;
                let options = embedded.connect_options(EMBEDDED_DATABASE);
                (options, Some(embedded), location)
            }
        };
        let pool = pool_options
            .connect_with(with_session(options, config.session()))
            .await
            .map_err(|source| StoreError::Connect {
                url: location,
                source,
            })?;
        Ok(Self {
            warm: WarmConnections::new(pool.clone(), config.post_page_statements),
            pool,
            replicas,
            embedded,
        })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Where reads that may lag the primary go: the replicas that answer, else the primary.
    pub fn reads(&self) -> Reads {
        Reads::new(self.warm.clone(), self.replicas.clone())
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
        // Closing waits for every connection to come back, kept ones too.
        self.warm.close();
        self.replicas.close().await;
        self.pool.close().await;
        if let Some(embedded) = self.embedded {
            embedded.stop().await?;
        }
        Ok(())
    }
}

/// A pooled connection idle for longer than this is pinged before it is handed out.
/// sqlx pings every connection it hands out by default, on top of the ping it makes when
/// one is given back: two extra round trips for each statement. Under load connections are
/// idle for microseconds and are not pinged again; one that sat out a database restart has
/// been idle for longer than this and is replaced. (A restart quicker than this fails one
/// statement on each connection that was idle through it, as it does those in use.)
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The settings every pool shares. Acquisitions are reported (at `trace`) so the metrics
/// can show how long statements wait for a connection.
pub(crate) fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_time_level(log::LevelFilter::Trace)
        .test_before_acquire(false)
        .before_acquire(|connection, metadata| {
            Box::pin(async move {
                if metadata.idle_for > PING_AFTER_IDLE {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
}

/// Every connection of the pool cancels statements that run longer than the session's
/// timeout, and with `generic_plans` plans each prepared statement once: PostgreSQL's
/// default re-plans statements whose parameters are arrays (`id = any($1)`, most of our
/// reads) on every execution, which cost more CPU than running them (docs/benchmarks.md).
pub(crate) fn with_session(options: PgConnectOptions, session: Session) -> PgConnectOptions {
    let mut settings = Vec::new();
    if !session.statement_timeout.is_zero() {
        let timeout = format!("{}ms", session.statement_timeout.as_millis());
        settings.push(("statement_timeout", timeout));
    }
    if session.generic_plans {
        settings.push(("plan_cache_mode", "force_generic_plan".to_owned()));
    }
    if settings.is_empty() {
        return options;
    }
    options.options(settings)
}

/// The application's role (login, password, nothing more) and its database, which it owns
/// with everything in it. A database made by an older gazette, owned by the superuser, is
/// handed over.
async fn prepare_app_database(admin: &PgConnectOptions, password: &str) -> Result<(), sqlx::Error> {
    let mut connection = PgConnection::connect_with(admin).await?;
    let role_exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_roles where rolname = $1)")
            .bind(APP_ROLE)
            .fetch_one(&mut connection)
            .await?;
    let created = match role_exists {
        true => Ok(()),
        false => set_role_password(&mut connection, APP_ROLE, password, "login").await,
    };
    match created {
        // Another gazette process created it between our check and now.
        Err(error) if !has_code(&error, "42710") => return Err(error),
        _ => {}
    }
    set_role_password(&mut connection, APP_ROLE, password, "").await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        r#"alter role "{APP_ROLE}" login nosuperuser nocreatedb nocreaterole noreplication nobypassrls"#
    )))
    .execute(&mut connection)
    .await?;

    let owner: Option<String> = sqlx::query_scalar(
        "select pg_get_userbyid(datdba)::text from pg_database where datname = $1",
    )
    .bind(EMBEDDED_DATABASE)
    .fetch_optional(&mut connection)
    .await?;
    match owner.as_deref() {
        None => {
            let created = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                r#"create database "{EMBEDDED_DATABASE}" owner "{APP_ROLE}""#
            )))
            .execute(&mut connection)
            .await;
            match created {
                Err(error) if !has_code(&error, "42P04") => return Err(error),
                _ => {}
            }
        }
        Some(APP_ROLE) => {}
        Some(_) => hand_over_database(admin, &mut connection).await?,
    }
    connection.close().await
}

/// Makes the application's role the owner of its database and of everything in its schema.
async fn hand_over_database(
    admin: &PgConnectOptions,
    connection: &mut PgConnection,
) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        r#"alter database "{EMBEDDED_DATABASE}" owner to "{APP_ROLE}""#
    )))
    .execute(&mut *connection)
    .await?;
    let mut inside = PgConnection::connect_with(&admin.clone().database(EMBEDDED_DATABASE)).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        r#"
        do $$
        declare
            item record;
        begin
            execute 'alter schema public owner to "{APP_ROLE}"';
            for item in
                select c.oid::regclass as name from pg_class c
                join pg_namespace n on n.oid = c.relnamespace
                where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
                  and not exists (select 1 from pg_depend d
                                  where d.objid = c.oid and d.deptype in ('a', 'i'))
            loop
                execute format('alter table %s owner to "{APP_ROLE}"', item.name);
            end loop;
            for item in
                select p.oid::regprocedure as name from pg_proc p
                join pg_namespace n on n.oid = p.pronamespace
                where n.nspname = 'public'
            loop
                execute format('alter function %s owner to "{APP_ROLE}"', item.name);
            end loop;
        end
        $$
        "#
    )))
    .execute(&mut inside)
    .await?;
    tracing::warn!(
        "the embedded database now belongs to the application's own role, not the superuser"
    );
    inside.close().await
}

fn has_code(error: &sqlx::Error, code: &str) -> bool {
    error
        .as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|found| found == code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(statement_timeout: Duration, generic_plans: bool) -> Session {
        Session {
            statement_timeout,
            generic_plans,
        }
    }

    #[test]
    fn each_connection_starts_with_the_session_settings() {
        let options = || PgConnectOptions::new().host("localhost");
        let both = with_session(options(), session(Duration::from_secs(5), true));
        let started = both.get_options().unwrap_or_default();
        assert!(started.contains("statement_timeout=5000ms"), "{started}");
        assert!(
            started.contains("plan_cache_mode=force_generic_plan"),
            "{started}"
        );
        let neither = with_session(options(), session(Duration::ZERO, false));
        assert_eq!(neither.get_options(), None);
    }
}
