//! Webhooks (docs/webhooks.md) against a real HTTP receiver on loopback: events from every
//! way of publishing, signed; retries, 410, refused addresses; two workers and a killed
//! one (separate `gazette worker` processes). The signatures are checked here with
//! Gazette's own code, and in the client stage with the reference implementation
//! (clients/webhooks_test.py, `standardwebhooks` from PyPI).

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use gazette_store::tokens::Role;
use serde_json::{Value, json};
use tokio::process::Child;

use crate::support::{TestApp, add_comment, command, error_code, eventually, gazette};

/// What the receiver got.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: i64,
    signature: String,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON payload")
    }

    fn event_type(&self) -> String {
        self.json()["type"].as_str().unwrap_or_default().to_owned()
    }
}

#[derive(Clone)]
struct ReceiverState {
    got: Arc<Mutex<Vec<Received>>>,
    /// Statuses to answer, in order; then 200.
    answers: Arc<Mutex<VecDeque<u16>>>,
    delay: Duration,
}

/// An HTTP server on loopback that records every POST it gets.
struct Receiver {
    url: String,
    state: ReceiverState,
}

impl Receiver {
    async fn start(answers: &[u16], delay: Duration) -> Self {
        let state = ReceiverState {
            got: Arc::default(),
            answers: Arc::new(Mutex::new(answers.iter().copied().collect())),
            delay,
        };
        let app = Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, state }
    }

    fn got(&self) -> Vec<Received> {
        self.state.got.lock().expect("lock").clone()
    }

    /// Waits (at most `seconds`) until `done` holds for what was received.
    async fn until(&self, seconds: u32, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        eventually(seconds * 10, || async {
            let got = self.got();
            done(&got).then_some(got)
        })
        .await
        .unwrap_or_else(|| panic!("the receiver got only {:#?}", self.got()))
    }
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    state.got.lock().expect("lock").push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp").parse().unwrap_or_default(),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let status = state
        .answers
        .lock()
        .expect("lock")
        .pop_front()
        .unwrap_or(200);
    tokio::time::sleep(state.delay).await;
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

const ALL_EVENTS: [&str; 8] = gazette_domain::webhooks::EVENT_TYPES;
const OPEN: [&str; 2] = ["--webhooks-allow-http", "--webhooks-allow-private"];

/// Registers `url` for `events`; returns its id and secret.
async fn create_webhook(
    app: &TestApp,
    admin: &str,
    url: &str,
    events: &[&str],
) -> (String, String) {
    let created = app
        .graphql_as(
            Some(admin),
            "mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { secret webhook { id url enabled } } }",
            json!({ "input": { "url": url, "events": events, "description": "tests" } }),
        )
        .await;
    let made = &created["data"]["createWebhook"];
    assert_eq!(made["webhook"]["enabled"], true, "{created}");
    (
        made["webhook"]["id"].as_str().expect("id").to_owned(),
        made["secret"].as_str().expect("secret").to_owned(),
    )
}

/// Whether `received` carries a valid signature by `secret` (one of the header's).
fn signed_by(received: &Received, secret: &str) -> bool {
    let key = STANDARD
        .decode(secret.trim_start_matches("whsec_"))
        .expect("base64 secret");
    let expected = gazette_domain::webhooks::signature(
        &key,
        &received.id,
        received.timestamp,
        received.body.as_bytes(),
    );
    received.signature.split(' ').any(|given| given == expected)
}

/// Every key in a JSON value, at any depth.
fn keys(value: &Value, into: &mut HashSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                into.insert(key.clone());
                keys(inner, into);
            }
        }
        Value::Array(items) => items.iter().for_each(|item| keys(item, into)),
        _ => {}
    }
}

#[tokio::test]
async fn every_way_of_publishing_reaches_a_webhook_signed_and_thin() {
    let app = TestApp::spawn_with(false, true, &OPEN).await;
    let receiver = Receiver::start(&[], Duration::ZERO).await;
    let admin = app.token("Site Admin", Role::Admin).await;
    let (webhook, secret) = create_webhook(&app, &admin, &receiver.url, &ALL_EVENTS).await;
    // The same mutation with the fields as arguments, as the issue writes it.
    let flat = app
        .graphql_as(
            Some(&admin),
            &format!(
                "mutation {{ createWebhook(url: \"{}\", events: [POST_DELETED]) {{ webhook {{ id events }} }} }}",
                receiver.url
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        flat["data"]["createWebhook"]["webhook"]["events"],
        json!(["post.deleted"]),
        "{flat}"
    );
    let flat_id = flat["data"]["createWebhook"]["webhook"]["id"].clone();
    // Both forms at once are refused, whichever fields are mixed (a probe found
    // updateWebhook silently dropped the arguments beside `input`).
    for mixed in [
        "mutation($id: ID!) { updateWebhook(input: { id: $id }, url: \"https://hooks.example/y\") { id } }",
        "mutation($id: ID!) { updateWebhook(input: { id: $id, description: \"a\" }, id: $id) { id } }",
    ] {
        let refused = app
            .graphql_as(Some(&admin), mixed, json!({ "id": flat_id }))
            .await;
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    }
    let deleted = app
        .graphql_as(
            Some(&admin),
            "mutation($id: ID!) { deleteWebhook(id: $id) { deletedWebhookId } }",
            json!({ "id": flat_id }),
        )
        .await;
    assert_eq!(
        deleted["data"]["deleteWebhook"]["deletedWebhookId"],
        flat_id
    );

    // publishPost's way, an edit, a comment held and approved.
    let author = app.token("Writer", Role::Author).await;
    let post = app
        .create_post(
            &author,
            json!({ "title": "Hooked", "body": "The secret body text.", "status": "PUBLISHED" }),
        )
        .await;
    let edited = app
        .graphql_as(
            Some(&author),
            "mutation($id: ID!) { updatePost(input: { id: $id, title: \"Hooked again\" }) { post { title } } }",
            json!({ "id": post["id"] }),
        )
        .await;
    assert!(edited.get("errors").is_none(), "{edited}");
    let held = add_comment(
        &app,
        None,
        json!({ "postId": post["id"], "authorName": "Linker", "authorEmail": "linker@example.org",
                "body": "Private words https://a.example https://b.example" }),
    )
    .await;
    let comment_id = held["data"]["addComment"]["comment"]["id"].clone();
    let approved = app
        .graphql_as(
            Some(&author),
            "mutation($id: ID!) { approveComment(input: { id: $id }) { comment { status } } }",
            json!({ "id": comment_id }),
        )
        .await;
    assert!(approved.get("errors").is_none(), "{approved}");
    // Taken down again by a moderator: receivers must not keep it as published.
    let spam = app
        .graphql_as(
            Some(&author),
            "mutation($id: ID!) { markCommentSpam(input: { id: $id }) { comment { status } } }",
            json!({ "id": comment_id }),
        )
        .await;
    assert!(spam.get("errors").is_none(), "{spam}");
    // The scheduler's way.
    let draft = app
        .create_post(&author, json!({ "title": "Scheduled one" }))
        .await;
    let at = (chrono::Utc::now() + chrono::TimeDelta::seconds(2)).to_rfc3339();
    let scheduled = app
        .graphql_as(
            Some(&author),
            "mutation($id: ID!, $at: DateTime!) { schedulePost(input: { id: $id, publishAt: $at }) { post { status } } }",
            json!({ "id": draft["id"], "at": at }),
        )
        .await;
    assert!(scheduled.get("errors").is_none(), "{scheduled}");
    // The importer's way.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import/blogger.xml");
    let imported = gazette(
        &["import", &fixture.display().to_string()],
        &[("DATABASE_URL", app.database.url())],
    )
    .await;
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    // Unpublished; and another one deleted while published.
    let doomed = app
        .create_post(
            &author,
            json!({ "title": "To delete", "status": "PUBLISHED" }),
        )
        .await;
    for (mutation, id) in [
        ("unpublishPost", &post["id"]),
        ("deletePost", &doomed["id"]),
    ] {
        let done = app
            .graphql_as(
                Some(&author),
                &format!(
                    "mutation($id: ID!) {{ {mutation}(input: {{ id: $id }}) {{ __typename }} }}"
                ),
                json!({ "id": id }),
            )
            .await;
        assert!(done.get("errors").is_none(), "{done}");
    }

    let got = receiver
        .until(30, |got| {
            let titles: Vec<String> = got
                .iter()
                .filter(|received| received.event_type() == "post.published")
                .map(|received| {
                    received.json()["data"]["post"]["title"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            titles.iter().any(|title| title == "Scheduled one")
                && titles.len() >= 3
                && ["post.deleted", "comment.unpublished"]
                    .iter()
                    .all(|wanted| got.iter().any(|received| received.event_type() == *wanted))
        })
        .await;
    let mut by_type: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for received in &got {
        assert!(
            signed_by(received, &secret),
            "a valid signature: {received:?}"
        );
        assert!(received.id.starts_with("msg_"));
        assert!((chrono::Utc::now().timestamp() - received.timestamp).abs() < 300);
        let payload = received.json();
        let mut found = HashSet::new();
        keys(&payload, &mut found);
        for private in [
            "body",
            "bodyHtml",
            "email",
            "authorEmail",
            "clientAddress",
            "authorName",
        ] {
            assert!(!found.contains(private), "{private} in {payload}");
        }
        assert!(
            !received.body.contains("secret body text") && !received.body.contains("Private words")
        );
        assert!(!received.body.contains("linker@example.org"));
        by_type
            .entry(received.event_type())
            .or_default()
            .push(payload);
    }
    let ids: HashSet<&str> = got.iter().map(|received| received.id.as_str()).collect();
    assert_eq!(
        ids.len(),
        got.len(),
        "each event once, each with its own id"
    );
    let published: Vec<&str> = by_type["post.published"]
        .iter()
        .filter_map(|payload| payload["data"]["post"]["title"].as_str())
        .collect();
    assert!(published.contains(&"Hooked"), "{published:?}");
    assert!(published.contains(&"Scheduled one"), "{published:?}");
    assert!(published.len() >= 3, "and the imported post: {published:?}");
    let first = &by_type["post.published"][0];
    assert_eq!(first["data"]["post"]["url"], app.url("/posts/hooked"));
    assert_eq!(first["data"]["post"]["id"], post["id"]);
    assert_eq!(
        by_type["post.updated"][0]["data"]["post"]["title"],
        "Hooked again"
    );
    let created = &by_type["comment.created"][0]["data"];
    assert_eq!(created["comment"]["status"], "PENDING");
    assert_eq!(created["comment"]["id"], comment_id);
    assert_eq!(
        by_type["comment.approved"][0]["data"]["comment"]["status"],
        "PUBLISHED"
    );
    assert!(by_type.contains_key("post.unpublished"));
    let taken_down = &by_type["comment.unpublished"][0]["data"]["comment"];
    assert_eq!(taken_down["id"], comment_id);
    assert_eq!(taken_down["status"], "SPAM");

    // The admin sees how it went.
    let listed = app
        .graphql_as(
            Some(&admin),
            "{ webhooks { id lastDelivery { status responseCode eventId } deliveries(first: 100) { status } } }",
            json!({}),
        )
        .await;
    let listed = &listed["data"]["webhooks"][0];
    assert_eq!(listed["id"], webhook.as_str());
    assert_eq!(listed["lastDelivery"]["status"], "delivered", "{listed}");
    assert_eq!(listed["lastDelivery"]["responseCode"], 200);
    // Nobody else sees endpoints.
    let refused = app
        .graphql_as(Some(&author), "{ webhooks { id } }", json!({}))
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    app.stop().await;
}

#[tokio::test]
async fn failures_are_retried_410_disables_and_rotation_signs_twice() {
    let app = TestApp::spawn_with(
        false,
        true,
        &[OPEN[0], OPEN[1], "--webhooks-retry-delays", "1s,1s,1s,1s"],
    )
    .await;
    let admin = app.token("Site Admin", Role::Admin).await;
    let flaky = Receiver::start(&[500, 500, 500], Duration::ZERO).await;
    let gone = Receiver::start(&[410], Duration::ZERO).await;
    let (flaky_id, old_secret) =
        create_webhook(&app, &admin, &flaky.url, &["post.published"]).await;
    let (gone_id, _) = create_webhook(&app, &admin, &gone.url, &["post.published"]).await;
    let author = app.token("Writer", Role::Author).await;
    app.create_post(&author, json!({ "title": "First", "status": "PUBLISHED" }))
        .await;

    // 500 three times, then 200: the fourth attempt delivers, with the same webhook-id.
    let got = flaky.until(20, |got| got.len() >= 4).await;
    assert_eq!(got.len(), 4);
    assert!(got.iter().all(|received| received.id == got[0].id));
    let webhooks = app
        .graphql_as(
            Some(&admin),
            "{ webhooks { id enabled disabledReason lastDelivery { status attempts responseCode } } }",
            json!({}),
        )
        .await;
    let listed = webhooks["data"]["webhooks"]
        .as_array()
        .expect("webhooks")
        .clone();
    let find = |id: &str| {
        listed
            .iter()
            .find(|webhook| webhook["id"] == id)
            .cloned()
            .expect("listed")
    };
    assert_eq!(
        find(&flaky_id)["lastDelivery"]["status"],
        "delivered",
        "{webhooks}"
    );
    assert_eq!(find(&flaky_id)["lastDelivery"]["attempts"], 4);
    // 410 Gone: one attempt, and the endpoint is disabled and shown as such.
    let gone_webhook = find(&gone_id);
    assert_eq!(gone_webhook["enabled"], false, "{webhooks}");
    assert_eq!(gone_webhook["disabledReason"], "gone");
    assert_eq!(gone.got().len(), 1);

    // A rotation: both secrets sign during the grace period.
    let rotated = app
        .graphql_as(
            Some(&admin),
            "mutation($id: ID!) { rotateWebhookSecret(input: { id: $id }) { secret } }",
            json!({ "id": flaky_id }),
        )
        .await;
    let new_secret = rotated["data"]["rotateWebhookSecret"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert_ne!(new_secret, old_secret);
    app.create_post(&author, json!({ "title": "Second", "status": "PUBLISHED" }))
        .await;
    let got = flaky.until(20, |got| got.len() >= 5).await;
    let last = &got[4];
    assert_eq!(last.signature.split(' ').count(), 2, "{}", last.signature);
    assert!(signed_by(last, &new_secret) && signed_by(last, &old_secret));
    assert_eq!(gone.got().len(), 1, "a disabled endpoint gets nothing");

    // A test event, and a redelivery with the event's own id.
    let sent = app
        .graphql_as(
            Some(&admin),
            "mutation($id: ID!) { sendTestWebhook(input: { id: $id }) { eventId type } }",
            json!({ "id": flaky_id }),
        )
        .await;
    assert_eq!(
        sent["data"]["sendTestWebhook"]["type"], "webhook.test",
        "{sent}"
    );
    let redelivered = app
        .graphql_as(
            Some(&admin),
            "mutation($id: ID!, $event: String!) { redeliverWebhookEvent(input: { webhookId: $id, eventId: $event }) { status } }",
            json!({ "id": flaky_id, "event": got[0].id }),
        )
        .await;
    assert_eq!(
        redelivered["data"]["redeliverWebhookEvent"]["status"], "pending",
        "{redelivered}"
    );
    let got = flaky.until(20, |got| got.len() >= 7).await;
    assert!(
        got[5..]
            .iter()
            .any(|received| received.event_type() == "webhook.test")
    );
    assert!(got[5..].iter().any(|received| received.id == got[0].id));

    // An endpoint failing for more than five days is disabled, and shown as such. A
    // delivery that succeeds clears `failing_since`: every delivery so far settles first,
    // or a late one (a busy machine) wipes the days set here.
    let flaky_webhook = flaky_id.parse::<i64>().expect("a number");
    eventually(200, || async {
        let pending: i64 = sqlx::query_scalar(
            "select count(*) from webhook_deliveries where webhook_id = $1 and status = 'pending'",
        )
        .bind(flaky_webhook)
        .fetch_one(&app.pool)
        .await
        .expect("pending deliveries");
        (pending == 0).then_some(())
    })
    .await
    .expect("the flaky endpoint's deliveries settle");
    sqlx::query("update webhooks set failing_since = now() - interval '6 days' where id = $1")
        .bind(flaky_webhook)
        .execute(&app.pool)
        .await
        .expect("failing for days");
    flaky.state.answers.lock().expect("lock").extend([503]);
    app.create_post(&author, json!({ "title": "Third", "status": "PUBLISHED" }))
        .await;
    flaky.until(20, |got| got.len() >= 8).await;
    let disabled = eventually(100, || async {
        let listed = app
            .graphql_as(
                Some(&admin),
                "{ webhooks { id enabled disabledReason } }",
                json!({}),
            )
            .await;
        listed["data"]["webhooks"]
            .as_array()
            .and_then(|webhooks| {
                webhooks
                    .iter()
                    .find(|webhook| webhook["id"] == flaky_id.as_str())
            })
            .filter(|webhook| webhook["enabled"] == false)
            .cloned()
    })
    .await
    .expect("disabled after five days of failures");
    assert_eq!(disabled["disabledReason"], "failing");
    app.stop().await;
}

#[tokio::test]
async fn private_and_plain_http_endpoints_are_refused() {
    let app = TestApp::spawn_with(false, true, &[]).await;
    let admin = app.token("Site Admin", Role::Admin).await;
    for (url, says) in [
        ("http://hooks.example/in", "https://"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://[::1]:8443/hook", "loopback"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://10.0.0.7/hook", "private"),
        ("https://localhost/hook", "loopback"),
        ("https://user:pw@hooks.example/", "user name"),
    ] {
        let refused = app
            .graphql_as(
                Some(&admin),
                "mutation($url: String!) { createWebhook(url: $url, events: [\"post.published\"]) { secret } }",
                json!({ "url": url }),
            )
            .await;
        assert_eq!(
            refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
            "{url}: {refused}"
        );
        assert!(
            refused["errors"][0]["message"]
                .as_str()
                .is_some_and(|message| message.contains(says)),
            "{url}: {refused}"
        );
    }
    let anonymous = app
        .graphql(
            "mutation { createWebhook(url: \"https://hooks.example/\", events: [POST_PUBLISHED]) { secret } }",
            json!({}),
        )
        .await;
    assert_eq!(
        anonymous["errors"][0]["extensions"]["code"],
        "UNAUTHENTICATED"
    );

    // An endpoint that was allowed once (or written around the API) is checked again at
    // delivery: a worker without --webhooks-allow-private does not call it.
    let receiver = Receiver::start(&[], Duration::ZERO).await;
    sqlx::query(
        "insert into webhooks (url, events, secret_sealed) values ($1, '{post.published}', '\\x00')",
    )
    .bind(&receiver.url)
    .execute(&app.pool)
    .await
    .expect("a webhook");
    let author = app.token("Writer", Role::Author).await;
    app.create_post(
        &author,
        json!({ "title": "Not for loopback", "status": "PUBLISHED" }),
    )
    .await;
    let refused = eventually(100, || async {
        sqlx::query_scalar::<_, Option<String>>(
            "select last_error from webhook_deliveries where last_error is not null",
        )
        .fetch_optional(&app.pool)
        .await
        .expect("read")
        .flatten()
    })
    .await
    .expect("the attempt is recorded");
    assert!(refused.contains("loopback"), "{refused}");
    assert!(receiver.got().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn a_slow_endpoint_holds_up_no_other_and_a_paused_one_catches_up() {
    let app = TestApp::spawn_with(false, true, &OPEN).await;
    let admin = app.token("Site Admin", Role::Admin).await;
    let slow = Receiver::start(&[], Duration::from_secs(4)).await;
    let quick = Receiver::start(&[], Duration::ZERO).await;
    let paused = Receiver::start(&[], Duration::ZERO).await;
    create_webhook(&app, &admin, &slow.url, &["post.published"]).await;
    create_webhook(&app, &admin, &quick.url, &["comment.created"]).await;
    let (paused_id, _) = create_webhook(&app, &admin, &paused.url, &["comment.created"]).await;
    let disabled = app
        .graphql_as(
            Some(&admin),
            "mutation($id: ID!) { disableWebhook(id: $id) { enabled disabledReason } }",
            json!({ "id": paused_id }),
        )
        .await;
    assert_eq!(
        disabled["data"]["disableWebhook"]["disabledReason"], "admin",
        "{disabled}"
    );
    let author = app.token("Writer", Role::Author).await;
    let mut post = Value::Null;
    for n in 0..24 {
        post = app
            .create_post(
                &author,
                json!({ "title": format!("Slow {n}"), "status": "PUBLISHED" }),
            )
            .await;
    }
    // More deliveries to the slow endpoint than a worker sends at once: it has two of
    // them under way, and the quick endpoint's comment goes out meanwhile.
    slow.until(10, |got| got.len() >= 2).await;
    add_comment(
        &app,
        None,
        json!({ "postId": post["id"], "authorName": "Q", "body": "quick" }),
    )
    .await;
    quick.until(3, |got| !got.is_empty()).await;
    assert!(
        slow.got().len() <= 4,
        "at most two at a time to the slow endpoint"
    );
    assert!(paused.got().is_empty(), "a paused endpoint waits");
    app.graphql_as(
        Some(&admin),
        "mutation($id: ID!) { enableWebhook(input: { id: $id }) { enabled } }",
        json!({ "id": paused_id }),
    )
    .await;
    let got = paused.until(10, |got| !got.is_empty()).await;
    assert_eq!(
        got[0].event_type(),
        "comment.created",
        "what happened meanwhile arrives"
    );
    app.stop().await;
}

/// A `gazette worker` process on `app`'s database and key, logging to `log` in its data
/// directory.
fn worker(app: &TestApp, log: &str) -> Child {
    let data_dir = app.data_dir.path().display().to_string();
    let log = std::fs::File::create(app.data_dir.path().join(log)).expect("log file");
    command(
        &["worker", "--data-dir", &data_dir, OPEN[0], OPEN[1]],
        &[("DATABASE_URL", app.database.url())],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::from(log))
    .spawn()
    .expect("start gazette worker")
}

#[tokio::test]
async fn two_workers_deliver_each_event_once_and_a_killed_one_loses_nothing() {
    let app = TestApp::spawn_api_only_with(&OPEN).await;
    let admin = app.token("Site Admin", Role::Admin).await;
    let receiver = Receiver::start(&[], Duration::from_millis(200)).await;
    create_webhook(&app, &admin, &receiver.url, &["post.published"]).await;
    let author = app.token("Writer", Role::Author).await;
    let mut first = worker(&app, "worker-1.log");
    let mut second = worker(&app, "worker-2.log");
    for n in 0..20 {
        app.create_post(
            &author,
            json!({ "title": format!("Post {n}"), "status": "PUBLISHED" }),
        )
        .await;
    }
    let got = receiver
        .until(60, |got| {
            got.iter()
                .map(|received| &received.id)
                .collect::<HashSet<_>>()
                .len()
                >= 20
        })
        .await;
    // A moment for any second delivery to show.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got_all = receiver.got();
    assert_eq!(
        got_all.len(),
        20,
        "each event once: {:?}",
        got_all.iter().map(|r| &r.id).collect::<Vec<_>>()
    );
    assert_eq!(got.len(), 20);
    second.start_kill().expect("stop the second worker");
    let _ = second.wait().await;

    // A slow receiver, a batch in flight, and the worker SIGKILLed in the middle of it.
    let slow = Receiver::start(&[], Duration::from_secs(3)).await;
    sqlx::query("update webhooks set url = $1")
        .bind(&slow.url)
        .execute(&app.pool)
        .await
        .expect("moved");
    for n in 0..6 {
        app.create_post(
            &author,
            json!({ "title": format!("Batch {n}"), "status": "PUBLISHED" }),
        )
        .await;
    }
    slow.until(30, |got| got.len() >= 2).await;
    first.start_kill().expect("kill -9");
    let _ = first.wait().await;
    let replacement = worker(&app, "worker-3.log");
    let got = slow
        .until(60, |got| {
            got.iter()
                .map(|received| &received.id)
                .collect::<HashSet<_>>()
                .len()
                >= 6
        })
        .await;
    let ids: HashSet<&String> = got.iter().map(|received| &received.id).collect();
    assert_eq!(ids.len(), 6, "every event arrives");
    // The deliveries the killed worker had under way are delivered again once their
    // leases run out (20 s): at least once, the duplicates with the same id.
    let settled = eventually(450, || async {
        let waiting: i64 = sqlx::query_scalar(
            "select count(*) from webhook_deliveries where status <> 'delivered'",
        )
        .fetch_one(&app.pool)
        .await
        .expect("count");
        (waiting == 0).then_some(())
    })
    .await;
    assert!(
        settled.is_some(),
        "every delivery is acknowledged in the end"
    );
    let got = slow.got();
    let ids: HashSet<&String> = got.iter().map(|received| &received.id).collect();
    assert_eq!(ids.len(), 6);
    assert!(
        got.len() > 6,
        "the interrupted ones came twice, with their ids: {got:#?}"
    );
    drop(replacement);
    app.stop().await;
}
