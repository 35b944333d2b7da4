//! The fault suite's load: a storm of clients commenting and reading, and what it saw.
//! Short in CI; the full sizes (200 clients for 30 s) with GAZETTE_FAULT_SOAK=1.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgConnection;

/// Clients and duration of a storm.
pub(super) fn storm_size() -> (usize, Duration) {
    match std::env::var("GAZETTE_FAULT_SOAK").as_deref() {
        Ok("1") => (200, Duration::from_secs(30)),
        // Small enough to share two cores with the rest of the suite.
        _ => (16, Duration::from_secs(4)),
    }
}

/// No answer within this long counts as a hang (status 0), which no scenario allows.
pub(super) const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// The arguments of the servers a storm runs against: every comment taken (no moderation
/// queue, no rate limit), and covered reads answered by their plans alone, as in
/// production. Verify mode (which the rest of the suite runs in) compares a plan's answer
/// with the resolvers', read a moment apart; a storm adds a comment to the thread it reads
/// every few milliseconds, so the two reads see different threads and the comparison could
/// not tell a wrong plan from a write in between.
pub(super) const STORM_SERVER: [&str; 6] = [
    "--comment-rate-limit",
    "0",
    "--comment-moderation",
    "open",
    "--graphql-compiled-reads",
    "on",
];

pub(super) const ADD_COMMENT: &str =
    "mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } } }";
const READ_THREAD: &str = "query($post: ID!) { node(id: $post) { ... on Post { thread(first: 50) { edges { node { id body } } } } } }";

/// What a storm saw: every answer by HTTP status and by error code, and the comments the
/// server acknowledged (by their unique bodies).
#[derive(Default)]
pub(super) struct StormReport {
    pub(super) requests: u64,
    pub(super) by_status: BTreeMap<u16, u64>,
    pub(super) by_code: BTreeMap<String, u64>,
    pub(super) acknowledged: Vec<String>,
    pub(super) retries: u64,
    pub(super) slowest: Duration,
}

impl std::fmt::Debug for StormReport {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "requests {}, statuses {:?}, codes {:?}, retries {}, acknowledged {}, slowest {:?}",
            self.requests,
            self.by_status,
            self.by_code,
            self.retries,
            self.acknowledged.len(),
            self.slowest
        )
    }
}

impl StormReport {
    fn merge(&mut self, other: StormReport) {
        self.requests += other.requests;
        for (status, count) in other.by_status {
            *self.by_status.entry(status).or_default() += count;
        }
        for (code, count) in other.by_code {
            *self.by_code.entry(code).or_default() += count;
        }
        self.acknowledged.extend(other.acknowledged);
        self.retries += other.retries;
        self.slowest = self.slowest.max(other.slowest);
    }

    /// Statuses outside 200 and documented back-pressure (503 with a code) are failures.
    pub(super) fn assert_only_documented_failures(&self) {
        assert_eq!(self.by_status.get(&0), None, "requests hung: {self:?}");
        for status in self.by_status.keys() {
            assert!(
                matches!(status, 200 | 503),
                "status {status} is neither an answer nor documented back-pressure: {self:?}"
            );
        }
        for code in self.by_code.keys() {
            assert!(
                matches!(
                    code.as_str(),
                    "SERVER_BUSY" | "DATABASE_UNAVAILABLE" | "TIMEOUT"
                ),
                "unexpected error code {code}: {self:?}"
            );
        }
    }
}

/// `clients` clients spread over `bases` until `duration` has passed: two in three post a
/// comment (every other one a reply to their previous comment) with a `clientMutationId`,
/// retrying a failed attempt up to twice with the same id; the others read the thread.
pub(super) async fn storm(
    bases: Vec<String>,
    post: String,
    clients: usize,
    duration: Duration,
) -> StormReport {
    let deadline = Instant::now() + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..clients {
        let base = bases[client % bases.len()].clone();
        let post = post.clone();
        tasks.spawn(storm_client(client, base, post, deadline));
    }
    let mut report = StormReport::default();
    while let Some(client) = tasks.join_next().await {
        report.merge(client.expect("a storm client"));
    }
    report
}

async fn storm_client(client: usize, base: String, post: String, deadline: Instant) -> StormReport {
    let http = reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .expect("client");
    let mut report = StormReport::default();
    let mut previous: Option<String> = None;
    let mut turn = 0_u64;
    while Instant::now() < deadline {
        turn += 1;
        if turn.is_multiple_of(3) {
            send(
                &http,
                &base,
                READ_THREAD,
                json!({ "post": post }),
                &mut report,
            )
            .await;
            continue;
        }
        let body = format!("storm {client}-{turn}");
        let parent = if turn.is_multiple_of(2) {
            previous.clone()
        } else {
            None
        };
        let input = json!({
            "postId": post, "authorName": format!("Client {client}"), "body": body,
            "clientMutationId": body, "parentId": parent,
        });
        for attempt in 0..3 {
            if attempt > 0 {
                report.retries += 1;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            let answer = send(
                &http,
                &base,
                ADD_COMMENT,
                json!({ "input": input }),
                &mut report,
            )
            .await;
            if let Some(id) = answer
                .as_ref()
                .and_then(|answer| answer["data"]["addComment"]["comment"]["id"].as_str())
            {
                report.acknowledged.push(body.clone());
                previous = Some(id.to_owned());
                break;
            }
        }
    }
    report
}

/// One GraphQL request, recorded; the answer when there was one.
async fn send(
    http: &reqwest::Client,
    base: &str,
    query: &str,
    variables: Value,
    report: &mut StormReport,
) -> Option<Value> {
    let started = Instant::now();
    report.requests += 1;
    let response = http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await;
    report.slowest = report.slowest.max(started.elapsed());
    let Ok(response) = response else {
        // No HTTP answer: refused while the server stops is not a hang, a timeout is.
        let status = match response {
            Err(error) if error.is_timeout() => 0,
            _ => 1,
        };
        *report.by_status.entry(status).or_default() += 1;
        return None;
    };
    *report
        .by_status
        .entry(response.status().as_u16())
        .or_default() += 1;
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        assert!(
            response
                .headers()
                .contains_key(reqwest::header::RETRY_AFTER),
            "503 comes with Retry-After"
        );
    }
    let answer: Value = response.json().await.ok()?;
    if let Some(errors) = answer["errors"].as_array() {
        for error in errors {
            let code = error["extensions"]["code"].as_str().unwrap_or("NONE");
            *report.by_code.entry(code.to_owned()).or_default() += 1;
        }
    }
    Some(answer)
}

/// Every acknowledged comment is stored exactly once, and nothing the storm sent is stored
/// twice. Returns how many storm comments are stored.
pub(super) async fn assert_stored_once(
    connection: &mut PgConnection,
    report: &StormReport,
) -> usize {
    let stored: Vec<(String, i64)> = sqlx::query_as(
        "select body, count(*) from comments where body like 'storm %' group by body",
    )
    .fetch_all(connection)
    .await
    .expect("stored comments");
    let stored: HashMap<String, i64> = stored.into_iter().collect();
    let twice: Vec<_> = stored.iter().filter(|(_, count)| **count > 1).collect();
    assert!(twice.is_empty(), "stored twice: {twice:?}");
    let lost: Vec<_> = report
        .acknowledged
        .iter()
        .filter(|body| !stored.contains_key(*body))
        .collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    stored.len()
}
