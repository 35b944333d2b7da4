//! Starting Gazette for a test and talking to it.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use gazette::{Cli, Services, Settings, run_services};
use gazette_store::testing::TestDatabase;
use gazette_store::tokens::{self, Role};
use gazette_store::{Access, Database, PgPool, authors};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Gazette (API and worker) running in-process on a fresh database.
pub struct TestApp {
    /// e.g. `http://127.0.0.1:41234`
    pub base_url: String,
    pub pool: PgPool,
    /// Kept alive for the test: a shared server's database is dropped with it.
    pub database: Arc<TestDatabase>,
    /// The server's data directory (its edit-token key lives there).
    pub data_dir: Arc<tempfile::TempDir>,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// Settings as the binary would parse them from these arguments.
pub fn settings(args: &[&str]) -> Settings {
    let mut argv = vec!["gazette"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv)
        .expect("valid test arguments")
        .settings
}

/// For tests that count SQL statements per request: loaders collect each level's keys for
/// 100 ms instead of 1 ms, so a level is read in one statement even when the machine is so
/// busy that the resolving thread is preempted mid-level (then 1 ms can split a level in
/// two reads; the answer is the same, the count is not). Compiled reads are on, not
/// verified: a document's first request runs on the resolvers, the next ones on its plan,
/// and each is counted alone.
pub const WHOLE_BATCHES: [&str; 4] = [
    "--graphql-batch-delay",
    "100ms",
    "--graphql-compiled-reads",
    "on",
];

impl TestApp {
    /// An empty (migrated) database.
    pub async fn spawn() -> Self {
        Self::spawn_with(false, true, &[]).await
    }

    /// A database holding what a first start creates: the admin token and the demo post.
    pub async fn spawn_seeded() -> Self {
        Self::spawn_with(true, true, &[]).await
    }

    /// Only the API, no worker: nothing but requests touches the database.
    pub async fn spawn_api_only() -> Self {
        Self::spawn_api_only_with(&[]).await
    }

    /// [`TestApp::spawn_api_only`] with extra command-line `args`.
    pub async fn spawn_api_only_with(args: &[&str]) -> Self {
        Self::spawn_with(false, false, args).await
    }

    /// Gazette with extra command-line `args` (e.g. `--comment-moderation all`).
    pub async fn spawn_with(seed: bool, worker: bool, args: &[&str]) -> Self {
        let database = Arc::new(TestDatabase::create().await);
        let data_dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let seed_dir = seed.then(|| data_dir.clone());
        Self::start(database, data_dir, worker, args, seed_dir).await
    }

    /// A second API process on this one's database and data directory (no worker, no
    /// seeding), as a load balancer's second backend would be.
    pub async fn another_instance(&self) -> Self {
        self.another_instance_with(&[]).await
    }

    /// [`TestApp::another_instance`] with extra command-line `args`.
    pub async fn another_instance_with(&self, args: &[&str]) -> Self {
        Self::start(
            self.database.clone(),
            self.data_dir.clone(),
            false,
            args,
            None,
        )
        .await
    }

    async fn start(
        database: Arc<TestDatabase>,
        data_dir: Arc<tempfile::TempDir>,
        worker: bool,
        args: &[&str],
        seed_into: Option<Arc<tempfile::TempDir>>,
    ) -> Self {
        let data_dir_arg = data_dir.path().display().to_string();
        let mut all_args = vec![
            "--database-url",
            database.url(),
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            &data_dir_arg,
        ];
        // Every query of the suite runs on both read paths, the compiled plans and the
        // resolvers, and a difference fails the request (the differential test of
        // compiled reads); a test that counts statements says which path it counts.
        if !args.contains(&"--graphql-compiled-reads") {
            all_args.extend_from_slice(&["--graphql-compiled-reads", "verify"]);
        }
        all_args.extend_from_slice(args);
        let settings = settings(&all_args);
        // The pool the binary would open, with the same settings (statement timeout…).
        let pool = Database::open(&settings.database(), Access::Shared)
            .await
            .expect("connect to the test database")
            .pool()
            .clone();
        if let Some(dir) = seed_into {
            gazette::seed::first_run(&pool, dir.path(), true)
                .await
                .expect("first run");
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let base_url = format!("http://{}", listener.local_addr().expect("bound address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let services = Services {
            api: Some(listener),
            worker,
            metrics: None,
        };
        let task_pool = pool.clone();
        let post_page_statements = settings.database().post_page_statements;
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = stopped.await;
            };
            run_services(
                gazette_store::Reads::primary_only(task_pool, post_page_statements),
                &settings,
                services,
                shutdown,
            )
            .await
        });
        Self {
            base_url,
            pool,
            database,
            data_dir,
            client: http_client(),
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("GET request")
    }

    /// POSTs a GraphQL request and returns the whole JSON response.
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_as(None, query, variables).await
    }

    /// POSTs a GraphQL request with `token` (when given) as its bearer token.
    pub async fn graphql_as(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        json_answer(self.graphql_request(token, query, variables)).await
    }

    /// The request [`TestApp::graphql_as`] sends, for a test to add headers to (say, where
    /// it comes from) before [`json_answer`] sends it.
    pub fn graphql_request(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> reqwest::RequestBuilder {
        let request = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// The id of the post at `slug` (null when there is none).
    pub async fn post_id(&self, slug: &str) -> Value {
        self.graphql(
            "query($slug: String) { post(slug: $slug) { id } }",
            json!({ "slug": slug }),
        )
        .await["data"]["post"]["id"]
            .clone()
    }

    /// GETs `path` until it answers 200, at most `attempts` times (100 ms apart): what the
    /// worker writes appears within seconds of a start or a change.
    pub async fn get_when_ok(&self, path: &str, attempts: u32) -> Option<reqwest::Response> {
        eventually(attempts, || async {
            let response = self.get(path).await;
            (response.status() == StatusCode::OK).then_some(response)
        })
        .await
    }

    /// What `query`, a `select count(*) …`, counts in the app's database.
    pub async fn count(&self, query: &'static str) -> i64 {
        sqlx::query_scalar(query)
            .fetch_one(&self.pool)
            .await
            .unwrap_or_else(|error| panic!("{query}: {error}"))
    }

    /// A new API token for the author named `name` (created when new).
    pub async fn token(&self, name: &str, role: Role) -> String {
        let mut connection = self.pool.acquire().await.expect("connection");
        let slug = name.to_lowercase().replace(' ', "-");
        let author = authors::find_or_create(&mut connection, &slug, name)
            .await
            .expect("author");
        let (_, secret) = tokens::create(&mut *connection, author.id, name, role)
            .await
            .expect("token");
        secret
    }

    /// Creates a post through GraphQL and returns it (`id slug title status publishedAt`);
    /// fails the test on any error.
    pub async fn create_post(&self, token: &str, input: Value) -> Value {
        let response = self
            .graphql_as(
                Some(token),
                "mutation($input: CreatePostInput!) { createPost(input: $input) { post { id slug title status publishedAt } } }",
                json!({ "input": input }),
            )
            .await;
        assert!(
            response.get("errors").is_none(),
            "createPost failed: {response}"
        );
        response["data"]["createPost"]["post"].clone()
    }

    /// Stops the server and waits for it; fails the test if it ended with an error.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await
                .expect("the server task did not panic")
                .expect("the server stopped cleanly");
        }
    }
}

/// An HTTP client for tests: no redirects followed, bounded in time.
pub fn http_client() -> reqwest::Client {
    // reqwest leaves the TLS provider to the application, as Gazette's worker does.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

/// A response's status, media type and JSON body (null when it is not JSON).
pub async fn status_type_json(response: reqwest::Response) -> (StatusCode, String, Value) {
    let status = response.status();
    let media = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, media, body)
}

/// Sends `request` and returns its JSON answer; fails the test when there is none.
pub async fn json_answer(request: reqwest::RequestBuilder) -> Value {
    request
        .send()
        .await
        .expect("a request")
        .json()
        .await
        .expect("a JSON answer")
}

/// POSTs `body` (a GraphQL request: its query, variables…) to `{base}/graphql` with
/// `client`; returns the HTTP status and the JSON answer.
pub async fn post_graphql(
    client: &reqwest::Client,
    base: &str,
    body: Value,
) -> (StatusCode, Value) {
    let response = client
        .post(format!("{base}/graphql"))
        .json(&body)
        .send()
        .await
        .expect("a GraphQL request");
    let status = response.status();
    (status, response.json().await.expect("a JSON answer"))
}

/// [`post_graphql`] with a client of its own, for the answer alone.
pub async fn graphql_at(base: &str, body: Value) -> Value {
    post_graphql(&http_client(), base, body).await.1
}

/// The id of the newest post served at `base` (the demo post, on a seeded site).
pub async fn demo_post_id(base: &str) -> String {
    let answer = graphql_at(
        base,
        json!({ "query": "{ posts(first: 1) { edges { node { id } } } }" }),
    )
    .await;
    answer["data"]["posts"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a post: {answer}"))
        .to_owned()
}

/// The `extensions.code` of the first GraphQL error.
pub fn error_code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

/// Retries `probe` until it returns `Some`, at most `attempts` times, 100 ms apart.
pub async fn eventually<T, F, Fut>(attempts: u32, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..attempts {
        if let Some(found) = probe().await {
            return Some(found);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}
