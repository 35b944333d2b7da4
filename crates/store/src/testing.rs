//! Test support: a fresh, migrated database per test, on a real PostgreSQL server.
//!
//! The server is `DATABASE_URL`'s when that is set, else a throw-away embedded cluster
//! started once per test process. Migrations run once, into a template database; each test
//! then gets `create database … template …`, which takes milliseconds.
//!
//! The embedded cluster outlives no test run: a small watchdog shell process stops it and
//! removes its directory as soon as the test process is gone, however it ended.

use std::path::Path;
use std::process::Stdio;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::database::MIGRATOR;
use crate::embedded::{EmbeddedOptions, EmbeddedPostgres};

/// A database of its own for one test.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    options: PgConnectOptions,
    url: String,
    /// Databases on a shared server are dropped after the test; an embedded cluster is
    /// thrown away whole.
    drop_on_exit: Option<PgConnectOptions>,
}

struct TestServer {
    admin: PgConnectOptions,
    template: String,
    /// The URL prefix a database name is appended to, for child processes.
    url_for: Box<dyn Fn(&str) -> String + Send + Sync>,
    shared: bool,
    /// Kept for the process lifetime; statics are never dropped, the watchdog stops it.
    _cluster: Option<EmbeddedPostgres>,
}

static SERVER: OnceLock<Result<TestServer, String>> = OnceLock::new();
static NEXT_DATABASE: AtomicU32 = AtomicU32::new(0);

impl TestDatabase {
    /// Creates a fresh database from the migrated template. Panics when no server can be had:
    /// a test without its database must fail loudly, never skip.
    pub async fn create() -> Self {
        Self::create_from(None).await
    }

    /// Creates an empty database (no migrations applied).
    pub async fn create_empty() -> Self {
        Self::create_from(Some("template0")).await
    }

    async fn create_from(template: Option<&str>) -> Self {
        let server = match SERVER.get_or_init(start_server) {
            Ok(server) => server,
            Err(error) => panic!("no PostgreSQL server for the tests: {error}"),
        };
        let name = format!(
            "gazette_test_{}_{}",
            std::process::id(),
            NEXT_DATABASE.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = PgConnection::connect_with(&server.admin)
            .await
            .expect("connect to the test server");
        let template = template.unwrap_or(&server.template);
        let statement = format!(r#"create database "{name}" template "{template}""#);
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        admin.close().await.expect("close the admin connection");
        Self {
            options: server.admin.clone().database(&name),
            url: (server.url_for)(&name),
            drop_on_exit: server.shared.then(|| server.admin.clone()),
            name,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn options(&self) -> &PgConnectOptions {
        &self.options
    }

    /// A `DATABASE_URL` for this database, for starting `gazette` as a child process.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many statements ran in this database since the last call (this query excluded):
    /// tests assert counts, never timings. Needs `pg_stat_statements`.
    pub async fn statements_since_last_count(&self) -> i64 {
        let mut connection = PgConnection::connect_with(&self.options)
            .await
            .expect("connect to the test database");
        let count: i64 = sqlx::query_scalar(
            r#"
            select coalesce(sum(calls), 0)::bigint
            from pg_stat_statements
            where dbid = (select oid from pg_database where datname = current_database())
              and query not like '%pg_stat_statements%'
            "#,
        )
        .fetch_one(&mut connection)
        .await
        .expect("read pg_stat_statements");
        sqlx::query(
            "select pg_stat_statements_reset(0, (select oid from pg_database where datname = current_database()), 0)",
        )
        .execute(&mut connection)
        .await
        .expect("reset pg_stat_statements");
        connection.close().await.expect("close");
        count
    }

    /// A small pool on this database.
    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(5)
            .connect_with(self.options.clone())
            .await
            .expect("connect to the test database")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(admin) = self.drop_on_exit.take() else {
            return;
        };
        let statement = format!(r#"drop database if exists "{}" with (force)"#, self.name);
        // Drop runs inside the test's runtime, which must not be blocked on: use a thread
        // with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime
                .block_on(async {
                    let mut connection = PgConnection::connect_with(&admin).await?;
                    sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                        .execute(&mut connection)
                        .await?;
                    connection.close().await
                })
                .map_err(|error| error.to_string())
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}

fn start_server() -> Result<TestServer, String> {
    // The first test to get here is inside its own runtime; set up on a separate thread
    // with a runtime that outlives no test.
    std::thread::spawn(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|error| error.to_string())?;
        runtime.block_on(async {
            match std::env::var("DATABASE_URL") {
                Ok(url) if !url.is_empty() => shared_server(url).await,
                _ => embedded_server().await,
            }
        })
    })
    .join()
    .map_err(|_| "the test server set-up panicked".to_owned())?
}

async fn shared_server(url: String) -> Result<TestServer, String> {
    let admin: PgConnectOptions = url.parse().map_err(|error| format!("{error}"))?;
    let template = format!("gazette_template_{}", std::process::id());
    create_template(&admin, &template).await?;
    let base = url.split('?').next().unwrap_or(&url).to_owned();
    let query = url.split_once('?').map(|(_, query)| format!("?{query}"));
    let prefix = base
        .rsplit_once('/')
        .map_or(base.clone(), |(prefix, _)| prefix.to_owned());
    Ok(TestServer {
        admin,
        template,
        url_for: Box::new(move |name| format!("{prefix}/{name}{}", query.as_deref().unwrap_or(""))),
        shared: true,
        _cluster: None,
    })
}

async fn embedded_server() -> Result<TestServer, String> {
    let dir = std::env::temp_dir().join(format!("gazette-test-{}", std::process::id()));
    let options = EmbeddedOptions {
        data_dir: dir.clone(),
        bin_dir: None,
        durable: false,
        statement_statistics: true,
        pool_connections: crate::DatabaseConfig::DEFAULT_MAX_CONNECTIONS,
    };
    let cluster = EmbeddedPostgres::start(&options)
        .await
        .map_err(|error| error.to_string())?;
    spawn_watchdog(&cluster.root().join("data"), &dir)?;
    // Tests own the whole throw-away cluster: they connect as its superuser.
    let admin = cluster.superuser_connect_options("postgres");
    let template = "gazette_template".to_owned();
    create_template(&admin, &template).await?;
    let socket = cluster.root().display().to_string();
    let password = cluster.superuser_password().to_owned();
    Ok(TestServer {
        admin,
        template,
        url_for: Box::new(move |name| {
            format!(
                "postgres://{}:{password}@localhost/{name}?host={socket}",
                crate::embedded::SUPERUSER
            )
        }),
        shared: false,
        _cluster: Some(cluster),
    })
}

async fn create_template(admin: &PgConnectOptions, template: &str) -> Result<(), String> {
    let fail = |error: sqlx::Error| format!("preparing the template database: {error}");
    let mut connection = PgConnection::connect_with(admin).await.map_err(fail)?;
    // Separate statements: DROP DATABASE refuses to run in the implicit transaction of a
    // multi-statement query.
    for statement in [
        format!(r#"drop database if exists "{template}" with (force)"#),
        format!(r#"create database "{template}""#),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut connection)
            .await
            .map_err(fail)?;
    }
    connection.close().await.map_err(fail)?;
    let mut template_connection = PgConnection::connect_with(&admin.clone().database(template))
        .await
        .map_err(fail)?;
    // Statement counts (tests assert how many statements a request runs) need it.
    sqlx::raw_sql("create extension if not exists pg_stat_statements")
        .execute(&mut template_connection)
        .await
        .map_err(|error| format!("the tests need the pg_stat_statements extension: {error}"))?;
    MIGRATOR
        .run(&mut template_connection)
        .await
        .map_err(|error| format!("migrating the template database: {error}"))?;
    template_connection.close().await.map_err(fail)
}

/// Stops the cluster (immediate shutdown: it is thrown away) and removes its directory once
/// this process is gone. A shell process, because it must outlive us; it ignores the
/// Ctrl-C that ends a test run so it can still clean up after it.
fn spawn_watchdog(pgdata: &Path, dir: &Path) -> Result<(), String> {
    const SCRIPT: &str = r#"
trap '' INT TERM HUP
while kill -0 "$1" 2>/dev/null; do sleep 1; done
pid=$(head -n 1 "$2/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ]; then
  kill -QUIT "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
fi
rm -rf "$3"
"#;
    std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("gazette-test-watchdog")
        .arg(std::process::id().to_string())
        .arg(pgdata)
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(drop)
        .map_err(|error| format!("cannot start the test cluster's watchdog: {error}"))
}
