//! Read replicas and the multi-process topology (issue 14), on a real primary and a real
//! streaming replica made from it with `pg_basebackup -R`: reads go to the replica, writes
//! (and what a mutation answers) to the primary, a stopped replica costs no request an
//! error; then two `gazette api` behind Debian's nginx (with deploy/nginx/gazette.conf),
//! one worker, primary and replica, as docker-compose.yml's scaled profile runs them.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

use crate::support::{
    Scrape, Server, assert_each_rebuilt_once, command, connect_at, demo_post_id, feeds_rebuilt,
    free_address, free_port, gazette, glob_pg_ctl, http_client, log_lines, post_graphql, read_log,
    receive, short_temp_dir, spawn_logged, subscribe_to_comments, terminate_cleanly, until_ok,
};

/// A primary and its streaming replica, from the same PostgreSQL binaries, run as the
/// `postgres` user on loopback TCP; both stopped (and their files removed) when dropped.
pub struct ReplicatedCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub primary_port: u16,
    pub replica_port: u16,
}

impl ReplicatedCluster {
    pub async fn start() -> Self {
        let bin = PathBuf::from(glob_pg_ctl())
            .parent()
            .expect("the PostgreSQL bin directory")
            .to_owned();
        let dir = short_temp_dir("gz-replicas-");
        if nix::unistd::Uid::effective().is_root() {
            let postgres = nix::unistd::User::from_name("postgres")
                .expect("look up the postgres user")
                .expect("a postgres user (PostgreSQL refuses to run as root)");
            nix::unistd::chown(dir.path(), Some(postgres.uid), Some(postgres.gid))
                .expect("hand the directory to postgres");
        }
        let cluster = Self {
            primary_port: free_port(),
            replica_port: free_port(),
            bin,
            dir,
        };
        let primary = cluster.data("primary");
        cluster.run(
            "initdb",
            &[
                "-D",
                &primary,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-instructions",
            ],
        );
        // initdb's pg_hba.conf trusts local and loopback connections, replication included.
        cluster.append_settings(
            "primary",
            &format!(
                "port = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
                 fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
                 shared_preload_libraries = 'pg_stat_statements'\nmax_connections = 100\n\
                 wal_level = replica\nmax_wal_senders = 5\nhot_standby = on\n",
                cluster.primary_port,
                cluster.dir.path().display()
            ),
        );
        cluster.pg_ctl("primary", "start");
        let server = cluster.url_of(cluster.primary_port, "postgres");
        run_sql(&server, "create database gazette").await;
        run_sql(
            &cluster.primary_url(),
            "create extension pg_stat_statements",
        )
        .await;

        let replica = cluster.data("replica");
        let port = cluster.primary_port.to_string();
        cluster.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                &replica,
                "-R",
                "-X",
                "stream",
                // No waiting for a spread checkpoint on a test cluster.
                "--checkpoint=fast",
            ],
        );
        cluster.append_settings("replica", &format!("port = {}\n", cluster.replica_port));
        cluster.start_replica();
        let mut standby = PgConnection::connect(&cluster.replica_url())
            .await
            .expect("connect to the replica");
        let recovering: bool = sqlx::query_scalar("select pg_is_in_recovery()")
            .fetch_one(&mut standby)
            .await
            .expect("ask the replica");
        assert!(recovering, "the replica follows the primary");
        standby.close().await.expect("close");
        cluster
    }

    fn url_of(&self, port: u16, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/{database}")
    }

    pub fn primary_url(&self) -> String {
        self.url_of(self.primary_port, "gazette")
    }

    pub fn replica_url(&self) -> String {
        self.url_of(self.replica_port, "gazette")
    }

    fn data(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    pub fn stop_replica(&self) {
        self.pg_ctl("replica", "stop");
    }

    pub fn start_replica(&self) {
        self.pg_ctl("replica", "start");
    }

    fn pg_ctl(&self, name: &str, action: &str) {
        let data = self.data(name);
        let log = self.dir.path().join(format!("{name}.log"));
        let mut args = vec![action, "-D", &data, "-w", "-t", "60"];
        let log = log.display().to_string();
        match action {
            "start" => args.extend(["-l", &log]),
            _ => args.extend(["-m", "fast"]),
        }
        self.run("pg_ctl", &args);
    }

    fn append_settings(&self, name: &str, settings: &str) {
        let conf = Path::new(&self.data(name)).join("postgresql.conf");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&conf)
            .expect("postgresql.conf");
        file.write_all(settings.as_bytes()).expect("write settings");
    }

    /// Runs one of PostgreSQL's programs as the `postgres` user, failing the test if it fails.
    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut command = if nix::unistd::Uid::effective().is_root() {
            let mut command = std::process::Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            std::process::Command::new(&program)
        };
        let output = command
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|error| panic!("run {}: {error}", program.display()));
        assert!(
            output.status.success(),
            "{} {args:?}: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// Forgets the statement counts of the `gazette` database on `url`'s server.
    pub async fn reset_statements(url: &str) {
        run_sql(url, "select pg_stat_statements_reset()").await;
    }

    /// How many times statements whose text contains `fragment` ran in `gazette` on
    /// `url`'s server since the last reset.
    pub async fn calls(url: &str, fragment: &str) -> i64 {
        let mut connection = PgConnection::connect(url).await.expect("connect");
        let calls: i64 = sqlx::query_scalar(
            r#"
            select coalesce(sum(s.calls), 0)::bigint
            from pg_stat_statements s join pg_database d on d.oid = s.dbid
            where d.datname = 'gazette' and s.query ilike '%' || $1 || '%'
              and s.query not ilike '%pg_stat_statements%'
            "#,
        )
        .bind(fragment)
        .fetch_one(&mut connection)
        .await
        .expect("read pg_stat_statements");
        connection.close().await.expect("close");
        calls
    }
}

impl Drop for ReplicatedCluster {
    fn drop(&mut self) {
        for name in ["replica", "primary"] {
            if Path::new(&self.data(name)).join("postmaster.pid").exists() {
                let data = self.data(name);
                let program = self.bin.join("pg_ctl");
                let mut command = std::process::Command::new("runuser");
                if nix::unistd::Uid::effective().is_root() {
                    command.args(["-u", "postgres", "--"]).arg(&program);
                } else {
                    command = std::process::Command::new(&program);
                }
                let _ = command
                    .args(["stop", "-D", &data, "-m", "immediate", "-w"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
    }
}

/// Runs `sql` on a connection of its own to `url`, failing the test if it fails.
async fn run_sql(url: &str, sql: &'static str) {
    let mut connection = PgConnection::connect(url)
        .await
        .unwrap_or_else(|error| panic!("connect to {url}: {error}"));
    sqlx::raw_sql(sql)
        .execute(&mut connection)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    connection.close().await.expect("close");
}

const READ: &str = "query Reading { posts(first: 5) { edges { node { title author { name } comments(first: 5) { totalCount } } } } }";

/// Waits until the replica has what the primary has (the demo post, here).
async fn until_replicated(cluster: &ReplicatedCluster, check: &str) {
    let started = Instant::now();
    loop {
        let mut replica = PgConnection::connect(&cluster.replica_url())
            .await
            .expect("connect to the replica");
        let found: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(check.to_owned()))
            .fetch_one(&mut replica)
            .await
            .unwrap_or(false);
        replica.close().await.expect("close");
        if found {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the replica did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn reads_go_to_the_replica_writes_to_the_primary_and_a_stopped_replica_costs_no_error() {
    let cluster = ReplicatedCluster::start().await;
    let metrics = free_address();
    let mut server = Server::start(
        "api",
        &[
            "--metrics-listen",
            &metrics,
            "--comment-moderation",
            "open",
            "--comment-rate-limit",
            "0",
        ],
        &[
            ("DATABASE_URL", &cluster.primary_url()),
            ("GAZETTE_DATABASE_READ_URL", &cluster.replica_url()),
        ],
    )
    .await;
    let base = server.base.clone();
    let metrics_url = format!("http://{metrics}/metrics");
    server.until_ok("/readyz", Duration::from_secs(30)).await;
    until_replicated(&cluster, "select exists (select 1 from comments)").await;
    let client = http_client();
    let scrape = Scrape::of(&metrics_url).await;
    assert_eq!(scrape.sum("gazette_db_replicas_configured", &[]), 1.0);
    assert_eq!(scrape.sum("gazette_db_replicas_healthy", &[]), 1.0);

    // Queries and pages read from the replica, and only there.
    let (primary, replica) = (cluster.primary_url(), cluster.replica_url());
    ReplicatedCluster::reset_statements(&primary).await;
    ReplicatedCluster::reset_statements(&replica).await;
    let mut post = None;
    for _ in 0..10 {
        let (status, answer) = post_graphql(&client, &base, json!({ "query": READ })).await;
        assert_eq!(status, StatusCode::OK);
        assert!(answer.get("errors").is_none(), "{answer}");
        post = answer["data"]["posts"]["edges"][0]["node"]["title"]
            .as_str()
            .map(str::to_owned);
    }
    assert!(post.is_some(), "the demo post is read");
    let page = client
        .get(format!("{base}/posts"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let on_replica = ReplicatedCluster::calls(&replica, "from posts").await;
    let on_primary = ReplicatedCluster::calls(&primary, "from posts").await;
    println!(
        "FIGURES replicas: reads of posts on the replica {on_replica}, on the primary {on_primary}"
    );
    // The response cache is on (its default), yet each of the ten identical queries was
    // read from the replica: an answer a replica gave is never kept (issue 20, item 9).
    assert!(
        on_replica >= 11,
        "the replica answered the reads: {on_replica}"
    );
    assert_eq!(on_primary, 0, "the primary answered no read");
    assert_eq!(
        Scrape::of(&metrics_url)
            .await
            .sum("gazette_graphql_cache_bytes", &[]),
        0.0,
        "answers read from a replica are not kept"
    );

    // A post's comment feed is built (on the primary) when first asked for, and served at
    // once: not looked for on a replica that may not have it yet.
    let demo: Value = post_graphql(
        &client,
        &base,
        json!({ "query": "{ posts(first: 1) { edges { node { id slug } } } }" }),
    )
    .await
    .1;
    let demo = &demo["data"]["posts"]["edges"][0]["node"];
    let slug = demo["slug"].as_str().expect("a slug");
    let post_id = demo["id"].as_str().expect("a post id").to_owned();
    let feed = client
        .get(format!("{base}/posts/{slug}/comments/feed.xml"))
        .send()
        .await
        .expect("comment feed");
    assert_eq!(
        feed.status(),
        StatusCode::OK,
        "the new comment feed is served"
    );

    // A mutation writes to the primary, and its own answer reads from there.
    ReplicatedCluster::reset_statements(&primary).await;
    ReplicatedCluster::reset_statements(&replica).await;
    let (status, added) = post_graphql(&client,
        &base,
        json!({
            "query": "mutation($input: AddCommentInput!) { addComment(input: $input) { comment { body post { title commentCount } } } }",
            "variables": { "input": { "postId": post_id, "authorName": "Reader", "body": "Read your writes." } },
        }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{added}");
    assert_eq!(
        added["data"]["addComment"]["comment"]["body"], "Read your writes.",
        "{added}"
    );
    assert!(ReplicatedCluster::calls(&primary, "insert into comments").await >= 1);
    assert!(
        ReplicatedCluster::calls(&primary, "from posts").await >= 1,
        "the answer's post was read from the primary"
    );
    assert_eq!(
        ReplicatedCluster::calls(&replica, "from posts").await,
        0,
        "nothing of the mutation read from the replica"
    );

    // The replica stops in the middle of a stream of reads: none fails.
    let stream = {
        let client = client.clone();
        let base = base.clone();
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(6);
            let mut answered = 0;
            let mut failures = Vec::new();
            while Instant::now() < deadline {
                let (status, answer) = post_graphql(&client, &base, json!({ "query": READ })).await;
                if status != StatusCode::OK || answer.get("errors").is_some() {
                    failures.push(format!("{status}: {answer}"));
                }
                let page = client
                    .get(format!("{base}/posts"))
                    .send()
                    .await
                    .expect("page");
                if page.status() != StatusCode::OK {
                    failures.push(format!("page {}", page.status()));
                }
                answered += 2;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (answered, failures)
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.stop_replica();
    let (answered, failures) = stream.await.expect("the reads");
    assert!(answered > 20, "{answered} reads");
    assert!(
        failures.is_empty(),
        "reads failed while the replica stopped: {failures:?}"
    );
    let scrape = Scrape::of(&metrics_url).await;
    assert_eq!(scrape.sum("gazette_db_replicas_healthy", &[]), 0.0);
    assert!(scrape.sum("gazette_db_replica_fallbacks_total", &[]) >= 1.0);
    assert_eq!(
        scrape.sum("gazette_ready", &[]),
        1.0,
        "the primary still answers"
    );

    // Back: the replica takes the reads again.
    cluster.start_replica();
    let started = Instant::now();
    while Scrape::of(&metrics_url)
        .await
        .sum("gazette_db_replicas_healthy", &[])
        < 1.0
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the replica was not used again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ReplicatedCluster::reset_statements(&replica).await;
    // Another document: the primary's answers of the last seconds may be in the cache.
    let again = format!("{READ} # once the replica is back");
    let (status, answer) = post_graphql(&client, &base, json!({ "query": again })).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(ReplicatedCluster::calls(&replica, "from posts").await >= 1);

    server.stop().await;
}

/// Waits until `url` serves a body containing `text`, at most `within`.
async fn until_served(client: &reqwest::Client, url: &str, text: &str, within: Duration) {
    let started = Instant::now();
    loop {
        let body = client
            .get(url)
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("text");
        if body.contains(text) {
            return;
        }
        assert!(
            started.elapsed() < within,
            "{url} did not serve {text:?} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Debian's nginx in front of two API processes, with deploy/nginx/gazette.conf (its
/// upstream addresses, port and log made local); stopped when dropped.
struct Balancer {
    child: std::process::Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Balancer {
    fn start(upstreams: [&str; 2]) -> Self {
        let dir = tempfile::tempdir().expect("nginx dir");
        let port = free_port();
        let root = dir.path().display().to_string();
        let site = std::fs::read_to_string("deploy/nginx/gazette.conf")
            .expect("deploy/nginx/gazette.conf")
            .replace("server api:8080", &format!("server {}", upstreams[0]))
            .replace("server api-2:8080", &format!("server {}", upstreams[1]))
            .replace("listen 8080;", &format!("listen 127.0.0.1:{port};"))
            .replace(
                "/var/log/nginx/gazette-access.log",
                &format!("{root}/access.log"),
            );
        assert!(site.contains(upstreams[0]) && site.contains(upstreams[1]));
        std::fs::write(dir.path().join("gazette.conf"), site).expect("site");
        let temp = dir.path().join("tmp");
        std::fs::create_dir(&temp).expect("temp dir");
        // nginx's workers (nobody, under a root master) write buffered bodies there.
        std::fs::set_permissions(&temp, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .expect("chmod");
        std::fs::write(
            dir.path().join("nginx.conf"),
            format!(
                "worker_processes 1;\npid {root}/nginx.pid;\nerror_log {root}/error.log;\n\
                 daemon off;\nevents {{ worker_connections 256; }}\n\
                 http {{\n  client_body_temp_path {root}/tmp/body;\n  proxy_temp_path {root}/tmp/proxy;\n\
                 fastcgi_temp_path {root}/tmp/fastcgi;\n  uwsgi_temp_path {root}/tmp/uwsgi;\n  scgi_temp_path {root}/tmp/scgi;\n\
                 include {root}/gazette.conf;\n}}\n"
            ),
        )
        .expect("nginx.conf");
        let nginx = ["/usr/sbin/nginx", "nginx"]
            .into_iter()
            .find(|candidate| {
                std::process::Command::new(candidate)
                    .arg("-v")
                    .stderr(Stdio::null())
                    .status()
                    .is_ok()
            })
            .expect("nginx (Debian's nginx-light; .ci/run installs it)");
        let child = std::process::Command::new(nginx)
            .args(["-c", &format!("{root}/nginx.conf"), "-p", &root])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        Self { child, dir, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The upstream that answered each logged request whose line contains `request`.
    fn upstreams_of(&self, request: &str) -> Vec<String> {
        read_log(&self.dir.path().join("access.log"))
            .lines()
            .filter(|line| line.contains(request))
            .filter_map(|line| line.rsplit_once("upstream=").map(|(_, up)| up.to_owned()))
            .collect()
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        // SIGTERM: the master stops its worker. SIGKILL would leave the worker running,
        // still listening, after every run of the suite.
        let terminated = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|status| status.success());
        if !terminated {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

// Needs nginx, which the README's prerequisites do not include: `.ci/run`'s topology stage
// installs it and runs the ignored tests (`cargo test --test e2e -- --ignored`).
#[tokio::test]
#[ignore = "needs nginx; run by .ci/run's topology stage: cargo test --test e2e -- --ignored"]
async fn two_apis_behind_nginx_one_worker_a_primary_and_a_replica() {
    let cluster = ReplicatedCluster::start().await;
    let logs = tempfile::tempdir().expect("logs");
    let shared = tempfile::tempdir().expect("shared key");
    let key_file = shared.path().join("edit-token-key").display().to_string();
    let env = [
        ("DATABASE_URL", cluster.primary_url()),
        ("GAZETTE_DATABASE_READ_URL", cluster.replica_url()),
        ("GAZETTE_EDIT_TOKEN_KEY_FILE", key_file),
        ("GAZETTE_COMMENT_MODERATION", "open".to_owned()),
        ("GAZETTE_COMMENT_RATE_LIMIT", "0".to_owned()),
        ("GAZETTE_TRUST_FORWARDED_FOR", "true".to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let migrated = gazette(&["migrate"], &env).await;
    assert!(migrated.status.success(), "{migrated:?}");

    let mut servers = Vec::new();
    for _ in 0..2 {
        servers.push(Server::start("api", &[], &env).await);
    }
    let apis = [servers[0].listen.clone(), servers[1].listen.clone()];
    let worker_log = logs.path().join("worker.log");
    let worker_data = tempfile::tempdir().expect("worker data");
    let worker_data_arg = worker_data.path().display().to_string();
    let mut worker_env = env.clone();
    worker_env.push(("GAZETTE_LOG_FORMAT", "json"));
    let mut worker = spawn_logged(
        command(&["worker", "--data-dir", &worker_data_arg], &worker_env),
        &worker_log,
    );
    let balancer = Balancer::start([apis[0].as_str(), apis[1].as_str()]);
    let front = balancer.url();
    until_ok(&format!("{front}/readyz"), Duration::from_secs(30)).await;
    until_ok(&format!("{front}/feed.xml"), Duration::from_secs(30)).await;
    // Reads come from the replica: wait for it to have the seeded post.
    until_replicated(&cluster, "select exists (select 1 from comments)").await;
    let client = http_client();

    // A subscriber on each API, and one through the balancer (a WebSocket upgraded by it).
    let post_id = demo_post_id(&front).await;
    let mut sockets = Vec::new();
    for base in [&servers[0].base, &servers[1].base, &front] {
        let mut socket = connect_at(base, "graphql-transport-ws", json!({})).await;
        subscribe_to_comments(&mut socket, "1", &post_id, "id body").await;
        sockets.push(socket);
    }
    // Let the subscriptions start before the first comment.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Comments posted through the balancer, until each API has taken at least one: each
    // reaches the subscribers of both APIs. (nginx rests an API for 10 s after a failed
    // request, which a loaded machine may cause: keep posting for a while.)
    let mut posted = BTreeSet::new();
    for attempt in 0..30 {
        let (status, added) = post_graphql(&client,
            &front,
            json!({
                "query": "mutation Post($input: AddCommentInput!) { addComment(input: $input) { comment { id } } }",
                "variables": { "input": { "postId": post_id, "authorName": "Balanced", "body": format!("Through the balancer {attempt}.") } },
                "operationName": "Post",
            }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{added}");
        posted.insert(
            added["data"]["addComment"]["comment"]["id"]
                .as_str()
                .expect("a comment")
                .to_owned(),
        );
        let used: BTreeSet<String> = balancer.upstreams_of("POST /graphql").into_iter().collect();
        if attempt >= 1 && used.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let used: BTreeSet<String> = balancer.upstreams_of("POST /graphql").into_iter().collect();
    assert_eq!(
        used,
        apis.iter().cloned().collect::<BTreeSet<_>>(),
        "both APIs took comments; nginx logged:\n{}\n{}",
        read_log(&balancer.dir.path().join("access.log")),
        read_log(&balancer.dir.path().join("error.log"))
    );
    for (index, socket) in sockets.iter_mut().enumerate() {
        let mut heard = BTreeSet::new();
        while heard.len() < posted.len() {
            let Some(event) = receive(socket, Duration::from_secs(10)).await else {
                break;
            };
            if let Some(id) = event["payload"]["data"]["commentAdded"]["id"].as_str() {
                heard.insert(id.to_owned());
            }
        }
        assert_eq!(heard, posted, "subscriber {index} heard every comment");
    }

    // One change: the worker rebuilds each feed it touches once, and both APIs serve it.
    let last = format!("Through the balancer {}", posted.len() - 1);
    until_served(
        &client,
        &format!("{front}/comments/feed.xml"),
        &last,
        Duration::from_secs(20),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = log_lines(&worker_log);
    let token = gazette(
        &["token", "create", "--name", "Operator", "--role", "admin"],
        &env,
    )
    .await;
    assert!(token.status.success(), "{token:?}");
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    let created: Value = client
        .post(format!("{front}/graphql"))
        .bearer_auth(&token)
        .json(&json!({
            "query": "mutation($input: CreatePostInput!) { createPost(input: $input) { post { id } } }",
            "variables": { "input": { "title": "Balanced news", "body": "Across the topology.", "status": "PUBLISHED", "tags": ["Topology"] } },
        }))
        .send()
        .await
        .expect("createPost")
        .json()
        .await
        .expect("JSON");
    assert!(created.get("errors").is_none(), "{created}");
    let changed = Instant::now();
    for api in &apis {
        let url = format!("http://{api}/feed.xml");
        until_served(&client, &url, "Balanced news", Duration::from_secs(15)).await;
    }
    let served_in = changed.elapsed();
    // Time for a second, late rebuild (there must be none).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let changed = ["feed.xml", "feed.atom", "tags/topology/feed.xml"];
    let rebuilt = feeds_rebuilt(&worker_log, before, &changed);
    println!(
        "FIGURES topology: rebuilt after one change {rebuilt:?}; both APIs served it within {served_in:?}"
    );
    assert_each_rebuilt_once(&rebuilt, &changed);

    drop(sockets);
    drop(balancer);
    terminate_cleanly(&mut worker, Duration::from_secs(20)).await;
    for mut server in servers {
        server.stop().await;
    }
}
