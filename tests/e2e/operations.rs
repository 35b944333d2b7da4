//! Operations (issue 14): `/metrics` scraped from a real `gazette serve`, every family
//! present and moving when its event happens; the dashboard and alert rules under
//! `deploy/` name only families that exist.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{
    Scrape, Server, TestApp, connect_at, connect_to, free_address, gazette, hold_in_transaction,
    http_client, post_graphql, receive, subscribe_to_comments,
};
use gazette_store::testing::TestDatabase;

/// Scrapes until `check` holds (at most `within`), returning that scrape.
async fn scrape_until(url: &str, within: Duration, check: impl Fn(&Scrape) -> bool) -> Scrape {
    let started = Instant::now();
    loop {
        let scrape = Scrape::of(url).await;
        if check(&scrape) {
            return scrape;
        }
        assert!(
            started.elapsed() < within,
            "the metrics did not get there within {within:?}:\n{}",
            scrape.text
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every family the operations guide lists, as the text format declares it.
const FAMILIES: &[&str] = &[
    "gazette_http_requests_total",
    "gazette_http_request_duration_seconds",
    "gazette_graphql_operations_total",
    "gazette_graphql_operation_duration_seconds",
    "gazette_graphql_operations_waiting",
    "gazette_websocket_connections",
    "gazette_graphql_subscriptions",
    "gazette_db_pool_connections",
    "gazette_db_pool_max_connections",
    "gazette_db_pool_acquire_seconds",
    "gazette_db_statements_per_request",
    "gazette_db_post_pages_per_statement",
    "gazette_db_post_pages_waiting",
    "gazette_feed_cache_requests_total",
    "gazette_worker_runs_total",
    "gazette_worker_run_duration_seconds",
    "gazette_worker_texts_rendered_total",
    "gazette_worker_last_success_timestamp_seconds",
    "gazette_worker_seconds_since_last_success",
    "gazette_feed_change_lag_seconds",
    "gazette_websub_pings_total",
    "gazette_comments_held_total",
    "gazette_comments_awaiting_moderation",
    "gazette_ready",
    "gazette_db_replicas_healthy",
    "gazette_db_replicas_configured",
    "gazette_db_replica_fallbacks_total",
    "gazette_process_start_time_seconds",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
    "process_open_fds",
];

const POSTS: &str = "query FrontPage { posts(first: 3) { edges { node { title author { name } tags { name } } } } }";

#[tokio::test]
async fn metrics_are_scraped_and_each_family_moves_with_its_event() {
    let database = TestDatabase::create().await;
    let metrics_address = free_address();
    // A hub that is not there: each announcement counts as unreachable.
    let hub = format!("http://{}/", free_address());
    let mut server = Server::start(
        "serve",
        &[
            "--metrics-listen",
            &metrics_address,
            "--websub-hub",
            &hub,
            "--comment-moderation",
            "all",
            "--comment-rate-limit",
            "0",
            "--graphql-cache-ttl",
            "0",
            "--graphql-max-concurrent",
            "1",
        ],
        &[("DATABASE_URL", database.url())],
    )
    .await;
    let base = server.base.clone();
    let metrics_url = format!("http://{metrics_address}/metrics");
    server.until_ok("/feed.xml", Duration::from_secs(30)).await;

    let client = http_client();
    let status_of = |path: &str| {
        let request = client.get(server.url(path));
        async move { request.send().await.expect("GET").status() }
    };
    let graphql = |body: Value| {
        let (client, base) = (client.clone(), base.clone());
        async move { post_graphql(&client, &base, body).await.1 }
    };
    // Not on the public port unless asked (`--metrics-listen api`).
    assert_eq!(status_of("/metrics").await, StatusCode::NOT_FOUND);

    let before = scrape_until(&metrics_url, Duration::from_secs(30), |scrape| {
        scrape.sum(
            "gazette_worker_runs_total",
            &[("worker_job", "feeds"), ("outcome", "success")],
        ) >= 1.0
    })
    .await;
    assert_eq!(before.sum("gazette_ready", &[]), 1.0);
    assert!(before.sum("gazette_process_start_time_seconds", &[]) > 1.7e9);
    assert!(before.sum("process_resident_memory_bytes", &[]) > 1e6);
    assert!(before.sum("process_open_fds", &[]) >= 3.0);
    assert!(before.has(
        "gazette_db_pool_connections",
        &[("pool", "primary"), ("state", "idle")]
    ));
    assert_eq!(
        before.sum("gazette_db_pool_max_connections", &[("pool", "primary")]),
        10.0
    );
    assert!(
        before.sum(
            "gazette_worker_last_success_timestamp_seconds",
            &[("worker_job", "feeds")]
        ) > 1.7e9
    );
    assert!(before.has(
        "gazette_worker_seconds_since_last_success",
        &[("worker_job", "social")]
    ));

    // HTTP, feeds from memory (the first read may miss, the next hits), a page.
    for _ in 0..2 {
        assert_eq!(status_of("/feed.xml").await, StatusCode::OK);
    }
    assert_eq!(status_of("/no/such/page/here").await, StatusCode::NOT_FOUND);
    let front =
        graphql(json!({ "query": "{ posts(first: 1) { edges { node { id slug } } } }" })).await;
    let demo = &front["data"]["posts"]["edges"][0]["node"];
    let post = demo["id"].as_str().expect("the demo post").to_owned();
    let slug = demo["slug"].as_str().expect("its slug");
    assert_eq!(status_of(&format!("/posts/{slug}")).await, StatusCode::OK);
    assert_eq!(status_of("/posts").await, StatusCode::OK);
    // GraphQL: a named query, an invalid one, and a name no one may grow the registry with.
    let answer = graphql(json!({ "query": POSTS, "operationName": "FrontPage" })).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    graphql(json!({ "query": "query Broken { nope }" })).await;
    for index in 0..250 {
        graphql(json!({ "query": format!("query Spam{index} {{ __typename }}") })).await;
    }
    // A held comment (moderation `all`).
    let added = graphql(json!({
        "query": "mutation Comment($input: AddCommentInput!) { addComment(input: $input) { comment { id status } } }",
        "variables": { "input": { "postId": post, "authorName": "Reader", "body": "Counted while held." } },
        "operationName": "Comment",
    }))
    .await;
    assert_eq!(
        added["data"]["addComment"]["comment"]["status"], "PENDING",
        "{added}"
    );
    // A socket with a subscription.
    let mut socket = connect_at(&base, "graphql-transport-ws", json!({})).await;
    subscribe_to_comments(&mut socket, "1", &post, "id").await;

    let during = scrape_until(&metrics_url, Duration::from_secs(10), |scrape| {
        scrape.sum("gazette_graphql_subscriptions", &[]) == 1.0
    })
    .await;
    assert_eq!(during.sum("gazette_websocket_connections", &[]), 1.0);
    assert!(
        during.sum(
            "gazette_http_requests_total",
            &[("route", "/feed.xml"), ("method", "GET"), ("status", "200")]
        ) >= 2.0
    );
    assert!(
        during.sum(
            "gazette_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ) >= 1.0
    );
    assert!(during.grew_since(
        &before,
        "gazette_http_request_duration_seconds_count",
        &[("route", "/posts")]
    ));
    assert!(during.sum("gazette_feed_cache_requests_total", &[("result", "hit")]) >= 1.0);
    assert!(
        during.sum("gazette_feed_cache_requests_total", &[]) >= 2.0,
        "{}",
        during.text
    );
    assert_eq!(
        during.sum(
            "gazette_graphql_operations_total",
            &[
                ("operation", "FrontPage"),
                ("type", "query"),
                ("outcome", "success")
            ]
        ),
        1.0
    );
    assert_eq!(
        during.sum(
            "gazette_graphql_operations_total",
            &[
                // Not found valid: counted without the name it claims.
                ("operation", "unvalidated"),
                ("outcome", "GRAPHQL_VALIDATION_FAILED")
            ]
        ),
        1.0
    );
    // The registry holds at most 200 operation names (besides `anonymous`); the rest count
    // as `other`.
    let names: BTreeSet<&str> = during
        .samples
        .iter()
        .filter(|(name, _, _)| name == "gazette_graphql_operations_total")
        .flat_map(|(_, labels, _)| labels.iter())
        .filter(|(key, _)| key == "operation")
        .map(|(_, value)| value.as_str())
        .collect();
    assert!(names.len() <= 202, "{} operation names", names.len());
    assert!(
        during.sum(
            "gazette_graphql_operations_total",
            &[("operation", "other")]
        ) >= 50.0
    );
    assert!(
        during.sum(
            "gazette_graphql_operation_duration_seconds_count",
            &[("type", "mutation")]
        ) >= 1.0
    );
    // Statements per request: a GraphQL query reads, a page reads.
    assert!(during.grew_since(
        &before,
        "gazette_db_statements_per_request_sum",
        &[("kind", "graphql")]
    ));
    assert!(
        during.sum("gazette_db_statements_per_request_sum", &[("kind", "page")])
            >= during.sum(
                "gazette_db_statements_per_request_count",
                &[("kind", "page")]
            ),
        "each page ran at least one statement"
    );
    assert!(during.grew_since(&before, "gazette_db_pool_acquire_seconds_count", &[]));
    assert_eq!(during.sum("gazette_comments_held_total", &[]), 1.0);
    assert_eq!(during.sum("gazette_comments_awaiting_moderation", &[]), 1.0);

    // Approving the comment changes the post's feeds: the worker rebuilds them (a run, a
    // lag), and announces them to the hub (which is not there).
    let admin = std::fs::read_to_string(server.data.path().join("admin-token"))
        .expect("the admin token")
        .trim()
        .to_owned();
    let comment = added["data"]["addComment"]["comment"]["id"]
        .as_str()
        .expect("comment id")
        .to_owned();
    let approved: Value = client
        .post(format!("{base}/graphql"))
        .bearer_auth(&admin)
        .json(&json!({
            "query": "mutation($id: ID!) { approveComment(input: { id: $id }) { comment { status } } }",
            "variables": { "id": comment },
        }))
        .send()
        .await
        .expect("approve")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        approved["data"]["approveComment"]["comment"]["status"], "PUBLISHED",
        "{approved}"
    );
    let event = receive(&mut socket, Duration::from_secs(10)).await;
    assert!(event.is_some(), "the subscriber heard of the comment");
    let after = scrape_until(&metrics_url, Duration::from_secs(20), |scrape| {
        scrape.grew_since(&before, "gazette_feed_change_lag_seconds_count", &[])
            && scrape.sum("gazette_websub_pings_total", &[("outcome", "unreachable")]) >= 1.0
            && scrape.grew_since(
                &before,
                "gazette_worker_run_duration_seconds_count",
                &[("worker_job", "social")],
            )
    })
    .await;
    assert!(
        after.grew_since(&before, "process_cpu_seconds_total", &[]),
        "the process used CPU between the scrapes"
    );
    // Every family is there once its events have happened.
    for family in FAMILIES {
        assert!(
            after.families.contains(*family),
            "{family} is not declared:\n{}",
            after.text
        );
    }
    assert!(after.grew_since(
        &before,
        "gazette_worker_runs_total",
        &[("worker_job", "feeds"), ("outcome", "success")]
    ));
    assert!(after.grew_since(
        &before,
        "gazette_worker_run_duration_seconds_count",
        &[("worker_job", "social")]
    ));
    assert!(
        after.sum(
            "gazette_worker_seconds_since_last_success",
            &[("worker_job", "feeds")]
        ) < 60.0
    );
    assert_eq!(after.sum("gazette_comments_awaiting_moderation", &[]), 0.0);
    drop(socket);
    scrape_until(&metrics_url, Duration::from_secs(10), |scrape| {
        scrape.sum("gazette_websocket_connections", &[]) == 0.0
            && scrape.sum("gazette_graphql_subscriptions", &[]) == 0.0
    })
    .await;

    // Operations waiting for a slot (one slot here): hold the posts table, so one query
    // holds the slot while waiting for the lock, and the next waits for the slot.
    let mut holder = connect_to(&database).await;
    hold_in_transaction(&mut holder, "lock table posts in access exclusive mode").await;
    let blocked: Vec<_> = (0..2)
        .map(|_| {
            tokio::spawn(graphql(
                json!({ "query": "{ posts(first: 1) { totalCount } }" }),
            ))
        })
        .collect();
    scrape_until(&metrics_url, Duration::from_secs(5), |scrape| {
        scrape.sum("gazette_graphql_operations_waiting", &[]) >= 1.0
    })
    .await;
    sqlx::query("rollback")
        .execute(&mut holder)
        .await
        .expect("rollback");
    for query in blocked {
        query.await.expect("the blocked queries finish");
    }
    scrape_until(&metrics_url, Duration::from_secs(5), |scrape| {
        scrape.sum("gazette_graphql_operations_waiting", &[]) == 0.0
    })
    .await;

    // What an operator's Prometheus and Grafana are given names only what is scraped.
    let deployed = [
        "deploy/prometheus/alerts.yml",
        "deploy/grafana/gazette-dashboard.json",
    ];
    for file in deployed {
        let text = std::fs::read_to_string(file).unwrap_or_else(|error| panic!("{file}: {error}"));
        let named = metric_names(&text);
        assert!(!named.is_empty(), "{file} names no metric");
        for name in named {
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|suffix| name.strip_suffix(suffix))
                .filter(|family| after.families.contains(*family))
                .unwrap_or(&name);
            assert!(
                after.families.contains(family),
                "{file} uses {name}, which /metrics does not have"
            );
        }
    }
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string("deploy/grafana/gazette-dashboard.json").expect("dashboard"),
    )
    .expect("the dashboard is JSON");
    assert!(
        dashboard["panels"]
            .as_array()
            .is_some_and(|panels| panels.len() >= 6)
    );

    server.stop().await;
}

/// The `gazette_…` names in a file.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("gazette_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let preceded = rest[..at]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '/');
        if !preceded {
            names.insert(tail[..end].to_owned());
        }
        rest = &tail[end..];
    }
    names
}

/// `--metrics-listen api` serves the metrics beside the API; a worker cannot, and says so.
#[tokio::test]
async fn metrics_on_the_api_port_and_a_clear_refusal_without_one() {
    let database = TestDatabase::create().await;
    let mut server = Server::start(
        "api",
        &["--metrics-listen", "api"],
        &[("DATABASE_URL", database.url())],
    )
    .await;
    server.until_ok("/healthz", Duration::from_secs(10)).await;
    let scrape = Scrape::of(&server.url("/metrics")).await;
    assert!(scrape.families.contains("gazette_http_requests_total"));
    assert!(
        !scrape.has("gazette_worker_runs_total", &[]),
        "an API-only process runs no jobs"
    );
    server.stop().await;

    let refused = gazette(
        &["worker", "--metrics-listen", "api"],
        &[("DATABASE_URL", database.url())],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--metrics-listen api"), "{stderr}");

    let data_arg = server.data.path().join("embedded").display().to_string();
    // The default port taken (by this test, or by a Gazette left running on this machine):
    // a configuration error is found before anything is bound.
    let _default_port = std::net::TcpListener::bind("127.0.0.1:8080");
    let embedded = gazette(
        &[
            "api",
            "--data-dir",
            &data_arg,
            "--database-read-url",
            "postgres://reader@127.0.0.1:1/gazette",
        ],
        &[],
    )
    .await;
    assert_eq!(embedded.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&embedded.stderr);
    assert!(
        stderr.contains("--database-read-url needs DATABASE_URL"),
        "{stderr}"
    );

    let bad = gazette(&["--metrics-listen", "everywhere", "api"], &[]).await;
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("expected an address and port"), "{stderr}");
}

/// The default metrics address taken (another gazette on this machine) is a warning and
/// the process runs on; an address the operator chose that is taken stops it.
#[tokio::test]
async fn a_taken_metrics_address_warns_by_default_and_fails_when_chosen() {
    let database = TestDatabase::create().await;
    // Held by this test, or by something else already: taken either way.
    let _held = std::net::TcpListener::bind("127.0.0.1:9464");
    let mut default_address = Server::command("api", &[], &[("DATABASE_URL", database.url())]);
    default_address.command.env_remove("GAZETTE_METRICS_LISTEN");
    // Running at all is the first half: it did not stop for want of its metrics.
    let mut server = default_address.start().await;
    server.until_ok("/healthz", Duration::from_secs(10)).await;
    server.stop().await;
    let log = std::fs::read_to_string(&server.process.log).expect("the log");
    assert!(
        log.contains("not serving /metrics: its default address is taken"),
        "{log}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let chosen = taken.local_addr().expect("address").to_string();
    let data_arg = server.data.path().display().to_string();
    let refused = gazette(
        &[
            "api",
            "--listen",
            &server.listen,
            "--metrics-listen",
            &chosen,
            "--data-dir",
            &data_arg,
        ],
        &[("DATABASE_URL", database.url())],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("cannot serve metrics on"), "{stderr}");
}

/// Found by a probe: with `--db-max-connections 2`, `serve` answered every query
/// `DATABASE_UNAVAILABLE` after the pool's wait, because the API's and the worker's event
/// listeners each held one of the pool's two connections for as long as they ran. The
/// listeners now open connections of their own.
#[tokio::test]
async fn the_event_listeners_do_not_take_the_pools_connections() {
    let app = TestApp::spawn_with(true, true, &["--db-max-connections", "2"]).await;
    let mut watching = connect_to(&app.database).await;
    // Both listeners (the API's and the worker's) are connected and listening.
    let mut listening = 0;
    for _ in 0..100 {
        listening = sqlx::query_scalar::<_, i64>(
            "select count(*) from pg_stat_activity
             where datname = current_database() and query like 'LISTEN%'",
        )
        .fetch_one(&mut watching)
        .await
        .expect("count the listening sessions");
        if listening >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listening, 2, "the API's and the worker's listeners");
    let answer = app
        .graphql(
            "{ posts(first: 5) { edges { node { title } } } }",
            json!({}),
        )
        .await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(
        answer["data"]["posts"]["edges"].as_array().map(Vec::len),
        Some(1),
        "the demo post: {answer}"
    );
}
