//! The `gazette` binary on its embedded PostgreSQL: first start, seeding once, a refused
//! second server, one-off commands next to a running server, clean shutdown, restart.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout};

use crate::support::{
    command, connect_embedded, connect_embedded_as_superuser, free_address, gazette, graphql_at,
    short_temp_dir,
};

/// `gazette serve` with its stdout kept: what it prints before it runs is under test.
struct RunningServer {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
    /// What it printed before it said it was running.
    banner: Vec<String>,
}

async fn start_serve(data_dir: &Path, listen: &str) -> RunningServer {
    let mut child = command(
        &[
            "serve",
            "--listen",
            listen,
            "--data-dir",
            data_dir.to_str().expect("utf-8"),
        ],
        &[],
    )
    .spawn()
    .expect("start gazette serve");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = Vec::new();
    let started = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            let running = line == "Gazette is running.";
            banner.push(line);
            if running {
                return true;
            }
        }
        false
    })
    .await;
    if started != Ok(true) {
        let output = child.wait_with_output().await.expect("collect output");
        panic!("gazette serve did not start: {banner:?} {output:?}");
    }
    // The rest of the banner: the three URLs.
    for _ in 0..3 {
        if let Ok(Some(line)) = lines.next_line().await {
            banner.push(line);
        }
    }
    RunningServer {
        child,
        lines,
        banner,
    }
}

impl RunningServer {
    /// SIGTERM, then waits for a clean exit.
    async fn terminate(mut self) {
        let pid = self.child.id().expect("still running").to_string();
        let killed = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("run kill");
        assert!(killed.success());
        // Drain stdout so the child never blocks on a full pipe.
        while let Ok(Some(_)) = self.lines.next_line().await {}
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .expect("gazette stops within a minute of SIGTERM")
            .expect("wait for gazette");
        assert!(
            status.success(),
            "gazette exits cleanly on SIGTERM: {status:?}"
        );
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).expect("file").permissions().mode() & 0o777
}

async fn count(connection: &mut PgConnection, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("select count(*) from {table}")))
        .fetch_one(connection)
        .await
        .expect("count")
}

#[tokio::test]
async fn embedded_postgres_lifecycle() {
    let data = short_temp_dir("gz-e2e-");
    let data_dir = data.path();
    let listen = free_address();

    // First start: creates the cluster, seeds, prints the admin token once.
    let server = start_serve(data_dir, &listen).await;
    let token_line = server
        .banner
        .iter()
        .position(|line| line.starts_with("Admin token"))
        .expect("the admin token is announced");
    let token = server.banner[token_line + 1].trim().to_owned();
    assert!(token.starts_with("gz_"), "{:?}", server.banner);
    let token_file = data_dir.join("admin-token");
    assert_eq!(
        std::fs::read_to_string(&token_file)
            .expect("token file")
            .trim(),
        token
    );
    assert_eq!(mode(&token_file), 0o600);
    let base = format!("http://{listen}");
    for url in ["/graphiql", "/graphql", "/feed.xml"] {
        assert!(
            server
                .banner
                .iter()
                .any(|line| line.ends_with(&format!("{base}{url}"))),
            "the banner names {url}: {:?}",
            server.banner
        );
    }

    // The seeded post answers over GraphQL.
    let response = graphql_at(
        &base,
        serde_json::json!({
            "query": r#"{ post(slug: "the-implementation-of-enterprise-2-0-by-government-departments") { title } }"#
        }),
    )
    .await;
    assert_eq!(
        response["data"]["post"]["title"],
        "The implementation of Enterprise 2.0 by government departments"
    );

    // The cluster listens on a Unix socket only, and runs unprivileged.
    let mut connection = connect_embedded(data_dir).await;
    let listen_addresses: String = sqlx::query_scalar("select current_setting('listen_addresses')")
        .fetch_one(&mut connection)
        .await
        .expect("setting");
    assert_eq!(listen_addresses, "");
    let we_are_root = std::fs::metadata("/proc/self").expect("proc").uid() == 0;
    let cluster_owner = std::fs::metadata(data_dir.join("postgres/data"))
        .expect("cluster")
        .uid();
    if we_are_root {
        let postgres = nix::unistd::User::from_name("postgres")
            .expect("user lookup")
            .expect("the postgres user exists (gazette creates it when missing)");
        assert_eq!(
            cluster_owner,
            postgres.uid.as_raw(),
            "PostgreSQL runs as the postgres user, never root or nobody"
        );
    }

    // The application is no superuser: it owns its database and nothing more.
    let (superuser, create_db, create_role, owner): (bool, bool, bool, String) = sqlx::query_as(
        "select r.rolsuper, r.rolcreatedb, r.rolcreaterole, pg_get_userbyid(d.datdba)::text \
         from pg_roles r, pg_database d where r.rolname = current_user and d.datname = current_database()",
    )
    .fetch_one(&mut connection)
    .await
    .expect("role");
    assert!(!superuser && !create_db && !create_role);
    assert_eq!(owner, "gazette_app");
    let copy = sqlx::query("copy (select 1) to program 'true'")
        .execute(&mut connection)
        .await;
    assert!(copy.is_err(), "running programs needs a superuser");
    // Both passwords are private to whoever runs gazette, and nobody gets in without one.
    for file in ["postgres-password", "postgres-superuser-password"] {
        assert_eq!(mode(&data_dir.join(file)), 0o600, "{file}");
    }
    for user in ["gazette", "gazette_app", "postgres"] {
        let without_password = PgConnectOptions::new()
            .socket(data_dir.join("postgres"))
            .username(user)
            .database("gazette");
        assert!(
            PgConnection::connect_with(&without_password).await.is_err(),
            "{user} connected without a password"
        );
    }

    // A second server on the same data directory is refused, and the first is unharmed.
    let second = gazette(
        &[
            "serve",
            "--listen",
            &free_address(),
            "--data-dir",
            data_dir.to_str().expect("utf-8"),
        ],
        &[],
    )
    .await;
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(
        stderr.contains("already in use by another gazette process"),
        "{stderr}"
    );
    assert_eq!(count(&mut connection, "posts").await, 1);

    // One-off commands use the running server's cluster.
    let created = gazette(
        &[
            "token",
            "create",
            "--name",
            "Jane Doe",
            "--role",
            "author",
            "--data-dir",
            data_dir.to_str().expect("utf-8"),
        ],
        &[],
    )
    .await;
    assert!(created.status.success(), "{created:?}");
    assert!(
        String::from_utf8_lossy(&created.stdout)
            .trim()
            .starts_with("gz_")
    );
    assert_eq!(count(&mut connection, "api_tokens").await, 2);
    connection.close().await.expect("close");

    // SIGTERM stops the server and its cluster.
    server.terminate().await;
    assert!(
        !data_dir.join("postgres/data/postmaster.pid").exists(),
        "the embedded PostgreSQL is stopped with gazette"
    );

    // A restart seeds nothing and prints no new token.
    let restarted = start_serve(data_dir, &listen).await;
    assert!(
        !restarted
            .banner
            .iter()
            .any(|line| line.starts_with("Admin token")),
        "{:?}",
        restarted.banner
    );
    let mut connection = connect_embedded(data_dir).await;
    assert_eq!(count(&mut connection, "posts").await, 1);
    assert_eq!(count(&mut connection, "comments").await, 2);
    assert_eq!(count(&mut connection, "api_tokens").await, 2);
    connection.close().await.expect("close");

    // An older gazette's cluster: its database belongs to the superuser, and the superuser's
    // password file is gone. The next start gives the superuser a new password and hands
    // the database to the application's role.
    let mut superuser = connect_embedded_as_superuser(data_dir).await;
    sqlx::raw_sql("alter database gazette owner to gazette; alter table posts owner to gazette")
        .execute(&mut superuser)
        .await
        .expect("make it an old cluster");
    superuser.close().await.expect("close");
    restarted.terminate().await;
    std::fs::remove_file(data_dir.join("postgres-superuser-password")).expect("remove");

    let upgraded = start_serve(data_dir, &listen).await;
    assert_eq!(mode(&data_dir.join("postgres-superuser-password")), 0o600);
    let mut superuser = connect_embedded_as_superuser(data_dir).await;
    let owners: Vec<String> = sqlx::query_scalar(
        "select pg_get_userbyid(datdba)::text from pg_database where datname = 'gazette' \
         union all select tableowner::text from pg_tables where tablename = 'posts'",
    )
    .fetch_all(&mut superuser)
    .await
    .expect("owners");
    assert_eq!(owners, ["gazette_app", "gazette_app"]);
    superuser.close().await.expect("close");
    let mut connection = connect_embedded(data_dir).await;
    assert_eq!(count(&mut connection, "posts").await, 1);
    connection.close().await.expect("close");
    upgraded.terminate().await;
}

#[tokio::test]
async fn a_planted_link_is_never_followed() {
    let data = short_temp_dir("gz-link-");
    let victim = short_temp_dir("gz-victim-");
    let before = std::fs::metadata(victim.path()).expect("victim");
    std::os::unix::fs::symlink(victim.path(), data.path().join("postgres")).expect("link");
    let output = gazette(
        &[
            "migrate",
            "--data-dir",
            data.path().to_str().expect("utf-8"),
        ],
        &[],
    )
    .await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("is not a directory gazette made"),
        "{stderr}"
    );
    let after = std::fs::metadata(victim.path()).expect("victim");
    assert_eq!(
        (after.uid(), after.gid(), after.mode()),
        (before.uid(), before.gid(), before.mode())
    );
    assert_eq!(
        std::fs::read_dir(victim.path()).expect("list").count(),
        0,
        "nothing was written into the link's target"
    );
}

/// Found by probing the settings' edges: the embedded cluster allowed 200 connections
/// whatever `--db-max-connections` asked for (up to 1,000), so a larger pool met "too many
/// clients" under load. The cluster now has room for twice the pool asked for.
#[tokio::test]
async fn the_embedded_cluster_has_room_for_the_pool_asked_for() {
    let data = short_temp_dir("gz-e2e-");
    let mut options = gazette_store::EmbeddedOptions::new(data.path());
    assert_eq!(options.max_connections(), 200, "the default pool's");
    options.durable = false;
    options.pool_connections = 300;
    let cluster = gazette_store::EmbeddedPostgres::start(&options)
        .await
        .expect("start the embedded cluster");
    let mut connection = PgConnection::connect_with(&cluster.superuser_connect_options("postgres"))
        .await
        .expect("connect as its superuser");
    let max: String = sqlx::query_scalar("show max_connections")
        .fetch_one(&mut connection)
        .await
        .expect("show max_connections");
    assert_eq!(max, "620", "twice the pool of 300, and twenty");
    connection.close().await.expect("close");
    cluster.stop().await.expect("stop the cluster");
}
