//! Scheduled publishing (issue 13): a post scheduled for a time is hidden from readers until
//! then, visible to its author and admins with that time, and published by the worker at
//! that time — exactly once with two workers, and after a restart when its time passed
//! while no worker ran — with everything a manual publish does.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use gazette_store::tokens::Role;
use serde_json::{Value, json};

use crate::support::{
    Socket, TestApp, command, connect, error_code, eventually, receive, subscribe,
    terminate_cleanly,
};

const SCHEDULE: &str = "mutation($input: SchedulePostInput!) { schedulePost(input: $input) { post { id status publishedAt } } }";
const UNSCHEDULE: &str = "mutation($input: PostIdInput!) { unschedulePost(input: $input) { post { id status publishedAt } } }";

fn in_seconds(seconds: i64) -> String {
    (Utc::now() + chrono::TimeDelta::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Schedules the post `id` for `at` with `token`; returns the whole response.
async fn schedule(app: &TestApp, token: Option<&str>, id: &str, at: &str) -> Value {
    app.graphql_as(
        token,
        SCHEDULE,
        json!({ "input": { "id": id, "publishAt": at } }),
    )
    .await
}

async fn draft(app: &TestApp, token: &str, title: &str) -> String {
    app.create_post(
        token,
        json!({ "title": title, "body": "Soon.", "tags": ["Later"] }),
    )
    .await["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn subscribe_to_publications(app: &TestApp) -> Socket {
    let mut socket = connect(app, "graphql-transport-ws").await;
    subscribe(
        &mut socket,
        "p",
        "subscription { postPublished { id title status } }",
    )
    .await;
    socket
}

/// When each `postPublished` event for `title` arrived, within `wait`.
async fn publications_of(
    socket: &mut Socket,
    title: &str,
    wait: Duration,
) -> Vec<chrono::DateTime<Utc>> {
    let deadline = Instant::now() + wait;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        let Some(message) = receive(socket, left).await else {
            break;
        };
        if message["payload"]["data"]["postPublished"]["title"] == title {
            assert_eq!(
                message["payload"]["data"]["postPublished"]["status"],
                "PUBLISHED"
            );
            seen.push(Utc::now());
        }
    }
    seen
}

async fn anonymous_sees(app: &TestApp, id: &str) -> bool {
    let answer = app
        .graphql(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    !answer["data"]["node"].is_null()
}

#[tokio::test]
async fn a_scheduled_post_is_hidden_then_published_on_time_with_everything() {
    let app = TestApp::spawn().await;
    let author = app.token("Planner", Role::Author).await;
    let other = app.token("Other", Role::Author).await;
    let id = draft(&app, &author, "Planned news").await;

    // Refusals, each naming its field.
    let past = schedule(&app, Some(&author), &id, &in_seconds(-60)).await;
    assert_eq!(error_code(&past), Some("BAD_USER_INPUT"), "{past}");
    assert_eq!(past["errors"][0]["extensions"]["field"], "publishAt");
    let not_theirs = schedule(&app, Some(&other), &id, &in_seconds(60)).await;
    assert!(
        matches!(error_code(&not_theirs), Some("FORBIDDEN" | "NOT_FOUND")),
        "{not_theirs}"
    );
    let anonymous = schedule(&app, None, &id, &in_seconds(60)).await;
    assert_eq!(
        error_code(&anonymous),
        Some("UNAUTHENTICATED"),
        "{anonymous}"
    );

    // Scheduled far ahead, then rescheduled, unscheduled, and scheduled for soon.
    let far = in_seconds(3600);
    let scheduled = schedule(&app, Some(&author), &id, &far).await;
    assert_eq!(
        scheduled["data"]["schedulePost"]["post"]["status"], "SCHEDULED",
        "{scheduled}"
    );
    let mine = app
        .graphql_as(
            Some(&author),
            "{ posts(filter: { status: SCHEDULED }) { edges { node { id publishedAt } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        mine["data"]["posts"]["edges"][0]["node"]["id"],
        id.as_str(),
        "{mine}"
    );
    assert!(
        !anonymous_sees(&app, &id).await,
        "readers do not see a scheduled post"
    );
    let listed = app
        .graphql(
            "{ posts(filter: { status: SCHEDULED }) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&listed), Some("UNAUTHENTICATED"), "{listed}");
    let unscheduled = app
        .graphql_as(Some(&author), UNSCHEDULE, json!({ "input": { "id": id } }))
        .await;
    assert_eq!(
        unscheduled["data"]["unschedulePost"]["post"]["status"], "DRAFT",
        "{unscheduled}"
    );

    let mut socket = subscribe_to_publications(&app).await;
    let due = Utc::now() + chrono::TimeDelta::seconds(3);
    let soon = due.to_rfc3339_opts(SecondsFormat::Millis, true);
    let rescheduled = schedule(&app, Some(&author), &id, &soon).await;
    assert_eq!(
        rescheduled["data"]["schedulePost"]["post"]["status"],
        "SCHEDULED"
    );
    assert!(!anonymous_sees(&app, &id).await);
    let feed = app.get("/feed.xml").await.text().await.unwrap_or_default();
    assert!(!feed.contains("Planned news"));

    // Published at its time, not at the next cron tick (every five minutes by default).
    let events = publications_of(&mut socket, "Planned news", Duration::from_secs(8)).await;
    assert_eq!(events.len(), 1, "postPublished fired once");
    let late = events[0] - due;
    assert!(
        late < chrono::TimeDelta::seconds(3),
        "published {late} after its time"
    );
    assert!(anonymous_sees(&app, &id).await);
    let published = app
        .graphql(
            "query($id: ID!) { node(id: $id) { ... on Post { status publishedAt } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(published["data"]["node"]["status"], "PUBLISHED");
    let at = chrono::DateTime::parse_from_rfc3339(
        published["data"]["node"]["publishedAt"]
            .as_str()
            .expect("a date"),
    )
    .expect("RFC 3339");
    assert_eq!(
        at.timestamp_millis(),
        due.timestamp_millis(),
        "dated its scheduled time"
    );
    let in_feeds = eventually(100, || async {
        let feed = app.get("/feed.xml").await.text().await.unwrap_or_default();
        let tag = app
            .get("/tags/later/feed.xml")
            .await
            .text()
            .await
            .unwrap_or_default();
        (feed.contains("Planned news") && tag.contains("Planned news")).then_some(())
    })
    .await;
    assert!(in_feeds.is_some(), "the feeds were rebuilt");
    app.stop().await;
}

#[tokio::test]
async fn scheduling_through_create_and_update_is_checked() {
    let app = TestApp::spawn_api_only().await;
    let author = app.token("Planner", Role::Author).await;
    let create = "mutation($input: CreatePostInput!) { createPost(input: $input) { post { id status publishedAt } } }";
    for (input, field) in [
        (
            json!({ "title": "No time", "status": "SCHEDULED" }),
            "publishedAt",
        ),
        (
            json!({ "title": "Past", "status": "SCHEDULED", "publishedAt": in_seconds(-10) }),
            "publishedAt",
        ),
        (
            json!({ "title": "Future", "status": "PUBLISHED", "publishedAt": in_seconds(3600) }),
            "publishedAt",
        ),
        (
            json!({ "title": "Dated draft", "publishedAt": in_seconds(-10) }),
            "publishedAt",
        ),
    ] {
        let refused = app
            .graphql_as(Some(&author), create, json!({ "input": input }))
            .await;
        assert_eq!(error_code(&refused), Some("BAD_USER_INPUT"), "{refused}");
        assert_eq!(refused["errors"][0]["extensions"]["field"], field);
    }
    let created = app
        .graphql_as(
            Some(&author),
            create,
            json!({ "input": { "title": "Created scheduled", "status": "SCHEDULED", "publishedAt": in_seconds(3600) } }),
        )
        .await;
    let post = &created["data"]["createPost"]["post"];
    assert_eq!(post["status"], "SCHEDULED", "{created}");
    let id = post["id"].as_str().expect("id").to_owned();
    let update = "mutation($input: UpdatePostInput!) { updatePost(input: $input) { post { status publishedAt } } }";
    let moved = app
        .graphql_as(
            Some(&author),
            update,
            json!({ "input": { "id": id, "publishedAt": in_seconds(7200) } }),
        )
        .await;
    assert_eq!(
        moved["data"]["updatePost"]["post"]["status"], "SCHEDULED",
        "{moved}"
    );
    let backwards = app
        .graphql_as(
            Some(&author),
            update,
            json!({ "input": { "id": id, "publishedAt": in_seconds(-5) } }),
        )
        .await;
    assert_eq!(
        error_code(&backwards),
        Some("BAD_USER_INPUT"),
        "{backwards}"
    );
    // Publishing a scheduled post now publishes it now, not at its future time.
    let now = app
        .graphql_as(
            Some(&author),
            "mutation($input: PublishPostInput!) { publishPost(input: $input) { post { status publishedAt } } }",
            json!({ "input": { "id": id } }),
        )
        .await;
    let post = &now["data"]["publishPost"]["post"];
    assert_eq!(post["status"], "PUBLISHED", "{now}");
    let at = chrono::DateTime::parse_from_rfc3339(post["publishedAt"].as_str().expect("date"))
        .expect("a date");
    assert!(at <= Utc::now() + chrono::TimeDelta::seconds(1), "{at}");
    app.stop().await;
}

/// Two workers: each scheduled post is published once. A post whose time passes while no
/// worker runs is published when one starts.
#[tokio::test]
async fn two_workers_publish_once_and_a_restart_catches_up() {
    let app = TestApp::spawn_api_only().await;
    let env = [("DATABASE_URL", app.database.url())];
    let author = app.token("Planner", Role::Author).await;
    let start_worker = || command(&["worker"], &env).spawn().expect("a worker");
    let mut workers = vec![start_worker(), start_worker()];
    let mut socket = subscribe_to_publications(&app).await;

    let id = draft(&app, &author, "Twice watched").await;
    let scheduled = schedule(&app, Some(&author), &id, &in_seconds(2)).await;
    assert_eq!(
        scheduled["data"]["schedulePost"]["post"]["status"], "SCHEDULED",
        "{scheduled}"
    );
    assert_eq!(
        publications_of(&mut socket, "Twice watched", Duration::from_secs(7))
            .await
            .len(),
        1,
        "published exactly once by two workers"
    );

    // Everything stops; the time passes; a worker starts again.
    let id = draft(&app, &author, "Due while down").await;
    schedule(&app, Some(&author), &id, &in_seconds(1)).await;
    for worker in &mut workers {
        terminate_cleanly(worker, Duration::from_secs(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !anonymous_sees(&app, &id).await,
        "no worker, no publication"
    );
    let mut again = start_worker();
    assert_eq!(
        publications_of(&mut socket, "Due while down", Duration::from_secs(6))
            .await
            .len(),
        1,
        "the restarted worker published the post it missed"
    );
    assert!(anonymous_sees(&app, &id).await);
    // …and everything a publish does follows: the restarted worker rebuilds the feeds.
    let in_feed = eventually(100, || async {
        let feed = app.get("/feed.xml").await.text().await.unwrap_or_default();
        feed.contains("Due while down").then_some(())
    })
    .await;
    assert!(
        in_feed.is_some(),
        "the feed carries the post published after the restart"
    );
    terminate_cleanly(&mut again, Duration::from_secs(20)).await;
    app.stop().await;
}
