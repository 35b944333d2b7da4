//! Threaded comments over GraphQL: threading at depth, tombstones, ordering and pagination
//! of `thread`, moderation in all three modes, visibility, sanitisation, rate limits,
//! retries, closed comments, and edit tokens.

use gazette_store::tokens::Role;
use serde_json::{Value, json};

use crate::support::{COMMENT, TestApp, add_comment, error_code, json_answer, published_post};

/// Adds an anonymous comment that must succeed; returns the payload.
async fn comment(app: &TestApp, post: &str, parent: Option<&Value>, body: &str) -> Value {
    let mut input = json!({ "postId": post, "authorName": "Reader", "body": body });
    if let Some(parent) = parent {
        input["parentId"] = parent["comment"]["id"].clone();
    }
    let response = add_comment(app, None, input).await;
    assert!(
        response.get("errors").is_none(),
        "addComment failed: {response}"
    );
    response["data"]["addComment"].clone()
}

async fn thread(app: &TestApp, token: Option<&str>, post: &str, first: i32, after: Value) -> Value {
    let response = app
        .graphql_as(
            token,
            &format!(
                "query($id: ID!, $first: Int, $after: String) {{ node(id: $id) {{ ... on Post {{ commentCount thread(first: $first, after: $after) {{ totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {COMMENT} }} }} }} }} }} }}"
            ),
            json!({ "id": post, "first": first, "after": after }),
        )
        .await;
    assert!(response.get("errors").is_none(), "{response}");
    response["data"]["node"].clone()
}

fn bodies(thread: &Value) -> Vec<(i64, String)> {
    thread["thread"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| {
            let node = &edge["node"];
            let body = node["body"].as_str().unwrap_or("<deleted>").to_owned();
            (node["depth"].as_i64().expect("depth"), body)
        })
        .collect()
}

#[tokio::test]
async fn threads_come_depth_first_in_pages() {
    let app = TestApp::spawn_api_only_with(&["--comment-rate-limit", "0"]).await;
    let (_, post) = published_post(&app).await;
    let a = comment(&app, &post, None, "A").await;
    let a1 = comment(&app, &post, Some(&a), "A1").await;
    comment(&app, &post, Some(&a1), "A1a").await;
    let b = comment(&app, &post, None, "B").await;
    comment(&app, &post, Some(&a), "A2").await;
    comment(&app, &post, Some(&b), "B1").await;
    assert_eq!(a1["comment"]["depth"], 1);
    assert_eq!(a1["comment"]["parent"]["id"], a["comment"]["id"]);

    let whole = thread(&app, None, &post, 100, Value::Null).await;
    let expected: Vec<(i64, String)> = [
        (0, "A"),
        (1, "A1"),
        (2, "A1a"),
        (1, "A2"),
        (0, "B"),
        (1, "B1"),
    ]
    .iter()
    .map(|(depth, body)| (*depth, body.to_string()))
    .collect();
    assert_eq!(bodies(&whole), expected);
    assert_eq!(whole["commentCount"], 6);
    assert_eq!(whole["thread"]["totalCount"], 6);

    let mut paged = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = thread(&app, None, &post, 4, after).await;
        paged.extend(bodies(&page));
        if page["thread"]["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = page["thread"]["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(paged, expected);

    let lists = app
        .graphql(
            "query($id: ID!) { node(id: $id) { ... on Post {
                oldest: comments(first: 10) { totalCount nodes { body replyCount replies(first: 1) { totalCount pageInfo { hasNextPage } nodes { body } } } }
                newest: comments(first: 10, orderBy: NEWEST) { nodes { body } }
                last: comments(last: 1) { nodes { body } pageInfo { hasPreviousPage } }
            } } }",
            json!({ "id": post }),
        )
        .await;
    let node = &lists["data"]["node"];
    assert_eq!(node["oldest"]["totalCount"], 2);
    assert_eq!(node["oldest"]["nodes"][0]["body"], "A");
    assert_eq!(node["oldest"]["nodes"][0]["replyCount"], 2);
    assert_eq!(node["oldest"]["nodes"][0]["replies"]["totalCount"], 2);
    assert_eq!(
        node["oldest"]["nodes"][0]["replies"]["nodes"][0]["body"],
        "A1"
    );
    assert_eq!(
        node["oldest"]["nodes"][0]["replies"]["pageInfo"]["hasNextPage"],
        true
    );
    assert_eq!(node["newest"]["nodes"][0]["body"], "B");
    assert_eq!(node["last"]["nodes"][0]["body"], "B");
    assert_eq!(node["last"]["pageInfo"]["hasPreviousPage"], true);
    app.stop().await;
}

#[tokio::test]
async fn deleted_comments_with_replies_stay_as_tombstones() {
    let app = TestApp::spawn().await;
    let (poster, post) = published_post(&app).await;
    let a = comment(&app, &post, None, "A").await;
    let a1 = comment(&app, &post, Some(&a), "A1").await;
    let lone = comment(&app, &post, None, "Lone").await;

    for target in [&a, &lone] {
        let deleted = app
            .graphql_as(
                Some(&poster),
                "mutation($id: ID!) { deleteComment(input: {id: $id}) { deletedCommentId comment { status body author { name } } } }",
                json!({ "id": target["comment"]["id"] }),
            )
            .await;
        assert_eq!(
            deleted["data"]["deleteComment"]["comment"]["status"], "DELETED",
            "{deleted}"
        );
        assert_eq!(
            deleted["data"]["deleteComment"]["comment"]["body"],
            Value::Null
        );
    }
    let view = thread(&app, None, &post, 10, Value::Null).await;
    let nodes = &view["thread"]["edges"];
    assert_eq!(
        bodies(&view),
        [(0, "<deleted>".to_owned()), (1, "A1".to_owned())]
    );
    assert_eq!(nodes[0]["node"]["status"], "DELETED");
    assert_eq!(nodes[0]["node"]["author"], Value::Null);
    assert_eq!(nodes[0]["node"]["bodyHtml"], Value::Null);
    assert_eq!(view["commentCount"], 1, "only published comments count");
    assert_eq!(a1["comment"]["depth"], 1);

    // Once its last reply goes, the tombstone goes too.
    app.graphql_as(
        Some(&poster),
        "mutation($id: ID!) { deleteComment(input: {id: $id}) { deletedCommentId } }",
        json!({ "id": a1["comment"]["id"] }),
    )
    .await;
    assert_eq!(
        bodies(&thread(&app, None, &post, 10, Value::Null).await),
        []
    );
    app.stop().await;
}

#[tokio::test]
async fn replies_beyond_the_depth_cap_attach_at_the_cap() {
    let app = TestApp::spawn_api_only_with(&["--comment-max-depth", "2"]).await;
    let (_, post) = published_post(&app).await;
    let a = comment(&app, &post, None, "depth 0").await;
    let b = comment(&app, &post, Some(&a), "depth 1").await;
    let c = comment(&app, &post, Some(&b), "depth 2").await;
    assert_eq!(c["depthCapped"], false);
    let d = comment(&app, &post, Some(&c), "too deep").await;
    assert_eq!(d["depthCapped"], true);
    assert_eq!(d["comment"]["depth"], 2);
    assert_eq!(d["comment"]["parent"]["id"], b["comment"]["id"]);
    app.stop().await;
}

#[tokio::test]
async fn moderation_holds_what_each_mode_says() {
    let two_links = "See http://one.example and http://two.example";
    for (mode, plain, linked) in [
        ("open", "PUBLISHED", "PUBLISHED"),
        ("links", "PUBLISHED", "PENDING"),
        ("all", "PENDING", "PENDING"),
    ] {
        let app = TestApp::spawn_api_only_with(&["--comment-moderation", mode]).await;
        let (poster, post) = published_post(&app).await;
        let status = |response: &Value| response["data"]["addComment"]["comment"]["status"].clone();
        let plain_response = add_comment(
            &app,
            None,
            json!({ "postId": post, "authorName": "A", "body": "Hello" }),
        )
        .await;
        assert_eq!(status(&plain_response), plain, "{mode}");
        let linked_response = add_comment(
            &app,
            None,
            json!({ "postId": post, "authorName": "A", "body": two_links }),
        )
        .await;
        assert_eq!(status(&linked_response), linked, "{mode}");
        let trusted = add_comment(
            &app,
            Some(&poster),
            json!({ "postId": post, "authorName": "Poster", "body": two_links }),
        )
        .await;
        assert_eq!(
            status(&trusted),
            "PUBLISHED",
            "token holders are not held ({mode})"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn held_comments_are_seen_by_moderators_only() {
    let app = TestApp::spawn().await;
    let (poster, post) = published_post(&app).await;
    let admin = app.token("Root", Role::Admin).await;
    let stranger = app.token("Stranger", Role::Author).await;
    comment(&app, &post, None, "visible").await;
    let held = add_comment(&app, None, json!({ "postId": post, "authorName": "Spammer", "body": "http://a.example http://b.example" })).await;
    let held_id = held["data"]["addComment"]["comment"]["id"].clone();
    assert_eq!(held["data"]["addComment"]["comment"]["status"], "PENDING");

    assert_eq!(
        thread(&app, None, &post, 10, Value::Null).await["thread"]["totalCount"],
        1
    );
    assert_eq!(
        thread(&app, Some(&stranger), &post, 10, Value::Null).await["thread"]["totalCount"],
        1
    );
    assert_eq!(
        thread(&app, Some(&poster), &post, 10, Value::Null).await["thread"]["totalCount"],
        2
    );
    assert_eq!(
        thread(&app, Some(&admin), &post, 10, Value::Null).await["thread"]["totalCount"],
        2
    );
    let hidden = app
        .graphql(&format!(r#"{{ node(id: {held_id}) {{ id }} }}"#), json!({}))
        .await;
    assert_eq!(hidden["data"]["node"], Value::Null);
    // Nobody replies to what they cannot see.
    let reply = add_comment(
        &app,
        None,
        json!({ "postId": post, "parentId": held_id, "authorName": "A", "body": "re" }),
    )
    .await;
    assert_eq!(error_code(&reply), Some("BAD_USER_INPUT"));

    let moderate = |mutation: &'static str, token: Option<String>| {
        let app = &app;
        let held_id = held_id.clone();
        async move {
            app.graphql_as(
                token.as_deref(),
                &format!("mutation($id: ID!) {{ {mutation}(input: {{id: $id}}) {{ comment {{ status }} }} }}"),
                json!({ "id": held_id }),
            )
            .await
        }
    };
    assert_eq!(
        error_code(&moderate("approveComment", None).await),
        Some("UNAUTHENTICATED")
    );
    assert_eq!(
        error_code(&moderate("approveComment", Some(stranger.clone())).await),
        Some("FORBIDDEN")
    );
    let approved = moderate("approveComment", Some(poster.clone())).await;
    assert_eq!(
        approved["data"]["approveComment"]["comment"]["status"],
        "PUBLISHED"
    );
    assert_eq!(
        thread(&app, None, &post, 10, Value::Null).await["commentCount"],
        2
    );
    let spam = moderate("markCommentSpam", Some(admin.clone())).await;
    assert_eq!(spam["data"]["markCommentSpam"]["comment"]["status"], "SPAM");
    assert_eq!(
        thread(&app, None, &post, 10, Value::Null).await["thread"]["totalCount"],
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn counts_leave_out_replies_hidden_under_held_comments() {
    let app = TestApp::spawn().await;
    let (poster, post) = published_post(&app).await;
    comment(&app, &post, None, "visible").await;
    let held = add_comment(&app, None, json!({ "postId": post, "authorName": "Linky", "body": "http://a.example http://b.example" })).await;
    let held_id = held["data"]["addComment"]["comment"]["id"].clone();
    // The post's author answers the held comment: published, but hidden with its parent.
    let reply = add_comment(
        &app,
        Some(&poster),
        json!({ "postId": post, "parentId": held_id, "authorName": "Poster", "body": "answer" }),
    )
    .await;
    assert_eq!(
        reply["data"]["addComment"]["comment"]["status"],
        "PUBLISHED"
    );

    let public = thread(&app, None, &post, 10, Value::Null).await;
    assert_eq!(public["commentCount"], 1, "{public}");
    assert_eq!(public["thread"]["totalCount"], 1);
    let counts = app
        .graphql(
            "query($id: ID!) { node(id: $id) { ... on Post { comments { totalCount nodes { replyCount } } } } }",
            json!({ "id": post }),
        )
        .await;
    assert_eq!(
        counts["data"]["node"]["comments"]["totalCount"], 1,
        "{counts}"
    );
    // The moderator sees the held comment and the reply under it.
    let moderated = thread(&app, Some(&poster), &post, 10, Value::Null).await;
    assert_eq!(moderated["thread"]["totalCount"], 3, "{moderated}");
    assert_eq!(moderated["commentCount"], 2, "published ones they see");
    app.stop().await;
}

#[tokio::test]
async fn retries_give_held_comments_back_only_to_their_commenter() {
    let app = TestApp::spawn_with(false, true, &["--trust-forwarded-for", "true"]).await;
    let (_, post) = published_post(&app).await;
    let query = format!(
        "mutation($input: AddCommentInput!) {{ addComment(input: $input) {{ editToken comment {{ {COMMENT} }} }} }}"
    );
    let send = async |from: &str, input: &Value| -> Value {
        let request = app.graphql_request(None, &query, json!({ "input": input }));
        json_answer(request.header("x-forwarded-for", from)).await
    };
    let held = json!({
        "postId": post, "authorName": "Linky", "authorEmail": "linky@example.org",
        "body": "http://a.example http://b.example", "clientMutationId": "held-1"
    });
    let first = send("198.51.100.7", &held).await;
    assert_eq!(first["data"]["addComment"]["comment"]["status"], "PENDING");
    let token = first["data"]["addComment"]["editToken"].clone();
    assert!(token.is_string());

    // The same commenter, retrying from the same address, gets it back with its token.
    let retry = send("198.51.100.7", &held).await;
    assert_eq!(
        retry["data"]["addComment"]["comment"]["id"],
        first["data"]["addComment"]["comment"]["id"]
    );
    assert_eq!(retry["data"]["addComment"]["editToken"], token);
    // Someone else with the same public details but another address gets neither the
    // held comment nor its token; neither does someone guessing the name and text but
    // not the (never shown) email.
    let elsewhere = send("203.0.113.50", &held).await;
    assert_eq!(
        error_code(&elsewhere),
        Some("BAD_USER_INPUT"),
        "{elsewhere}"
    );
    assert_eq!(
        elsewhere["errors"][0]["extensions"]["field"],
        "clientMutationId"
    );
    let mut guessed = held.clone();
    guessed["authorEmail"] = Value::Null;
    let guess = send("198.51.100.7", &guessed).await;
    assert_eq!(error_code(&guess), Some("BAD_USER_INPUT"), "{guess}");

    // A published comment is everyone's to see: a stranger's retry gets it, not its token.
    let open = json!({ "postId": post, "authorName": "Ann", "body": "hello", "clientMutationId": "open-1" });
    let published = send("198.51.100.8", &open).await;
    let stranger = send("203.0.113.51", &open).await;
    assert_eq!(
        stranger["data"]["addComment"]["comment"]["id"],
        published["data"]["addComment"]["comment"]["id"]
    );
    assert_eq!(stranger["data"]["addComment"]["editToken"], Value::Null);
    assert_eq!(
        app.count("select count(*) from comments").await,
        2,
        "retries wrote nothing"
    );
    // Another comment sent with a used id is refused rather than answered with the first
    // (its writer would take it as stored). Found by probing a running server.
    let mut other = open.clone();
    other["body"] = json!("something else entirely");
    let reused = send("203.0.113.51", &other).await;
    assert_eq!(error_code(&reused), Some("BAD_USER_INPUT"), "{reused}");
    assert_eq!(
        reused["errors"][0]["extensions"]["field"],
        "clientMutationId"
    );
    // An empty id is no id: two comments sent with "" are two comments.
    for body in ["first with an empty id", "second with an empty id"] {
        let input =
            json!({ "postId": post, "authorName": "Empty", "body": body, "clientMutationId": "" });
        let added = send("198.51.100.9", &input).await;
        assert_eq!(
            added["data"]["addComment"]["comment"]["body"], body,
            "{added}"
        );
    }
    assert_eq!(app.count("select count(*) from comments").await, 4);
    app.stop().await;
}

#[tokio::test]
async fn hostile_comments_come_out_inert() {
    let app = TestApp::spawn_api_only_with(&[
        "--comment-moderation",
        "open",
        "--comment-rate-limit",
        "0",
    ])
    .await;
    let (_, post) = published_post(&app).await;
    let payloads = [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)>",
        "<iframe src=\"javascript:alert(1)\"></iframe>",
        "[click](javascript:alert(1))",
        "<a href=\"javascript:alert(1)\">x</a>",
        "<p style=\"background:url(javascript:alert(1))\">styled</p>",
        "<body onload=alert(1)>",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        "\"><script>alert(1)</script>",
        "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">d</a>",
        "<object data=\"javascript:alert(1)\"></object>",
        "<form action=\"javascript:alert(1)\"><input type=submit></form>",
        "<details open ontoggle=alert(1)>",
        "<a href=\"https://ok.example\" onclick=\"alert(1)\">fine link</a>",
    ];
    let mut stored = 0;
    for payload in payloads {
        let answer = add_comment(
            &app,
            None,
            json!({ "postId": post, "authorName": "Reader", "body": payload }),
        )
        .await;
        if answer.get("errors").is_some() {
            // Nothing of it was left to show once made safe: refused, not stored empty.
            assert_eq!(
                error_code(&answer),
                Some("BAD_USER_INPUT"),
                "{payload:?}: {answer}"
            );
            assert_eq!(
                answer["errors"][0]["extensions"]["field"], "body",
                "{answer}"
            );
            continue;
        }
        stored += 1;
        let added = &answer["data"]["addComment"];
        let html = added["comment"]["bodyHtml"]
            .as_str()
            .expect("html")
            .to_lowercase();
        for forbidden in [
            "<script",
            "javascript:",
            "onerror",
            "onload",
            "onclick",
            "ontoggle",
            "<iframe",
            "<img",
            "<svg",
            "style=",
            "<object",
            "<form",
            "<input",
            "data:text",
        ] {
            assert!(
                !html.contains(forbidden),
                "{payload:?} left {forbidden:?} in {html}"
            );
        }
        assert_eq!(
            added["comment"]["body"],
            payload.trim(),
            "the source is kept as written"
        );
    }
    assert!(stored >= 5, "the payloads with text were stored: {stored}");
    // Refused rather than stored (found by probing a running server): what sanitises to
    // nothing, markup that renders to far more HTML than it has text, control characters,
    // and names that hide or turn around the byline.
    let add = async |name: &str, body: &str| -> Value {
        add_comment(
            &app,
            None,
            json!({ "postId": post, "authorName": name, "body": body }),
        )
        .await
    };
    for (name, body, field) in [
        ("Ann", "<img src=x onerror=alert(1)>", "body"),
        ("Ann", "<style>p { color: red }</style>", "body"),
        ("Ann", "![img](http://evil.example/x.png)", "body"),
        ("Ann", &format!("{} x", ">".repeat(9_990)), "body"),
        ("Ann", "ctrl \u{1}\u{1b} end", "body"),
        ("Bob\u{202e}", "a byline turned around", "authorName"),
        ("\u{200b}", "an invisible name", "authorName"),
        ("ctl\u{8}x", "a control character in a name", "authorName"),
    ] {
        let refused = add(name, body).await;
        assert_eq!(
            error_code(&refused),
            Some("BAD_USER_INPUT"),
            "{body:?}: {refused}"
        );
        assert_eq!(
            refused["errors"][0]["extensions"]["field"], field,
            "{refused}"
        );
    }
    let tabbed = add("Ann", "line one\n\tline two").await;
    assert!(tabbed.get("errors").is_none(), "{tabbed}");
    let link = comment(&app, &post, None, "<a href=\"https://ok.example\">ok</a>").await;
    let html = link["comment"]["bodyHtml"].as_str().expect("html");
    assert!(html.contains(r#"rel="nofollow ugc noopener""#), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn anonymous_comments_are_rate_limited_per_address() {
    let app = TestApp::spawn_api_only_with(&["--trust-forwarded-for", "true"]).await;
    let (poster, post) = published_post(&app).await;
    let send = async |address: &str, token: Option<&str>| -> Value {
        let request = app.graphql_request(
            token,
            "mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } } }",
            json!({ "input": { "postId": post, "authorName": "R", "body": "hi" } }),
        );
        json_answer(request.header("x-forwarded-for", address)).await
    };
    for n in 0..5 {
        let response = send("198.51.100.7", None).await;
        assert!(response.get("errors").is_none(), "comment {n}: {response}");
    }
    let limited = send("198.51.100.7", None).await;
    assert_eq!(error_code(&limited), Some("RATE_LIMITED"), "{limited}");
    let retry_after = limited["errors"][0]["extensions"]["retryAfter"]
        .as_i64()
        .expect("retryAfter");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    // The wait is in the `Retry-After` header too (found by probing a running server: only
    // the JSON said it).
    let again = app
        .graphql_request(
            None,
            "mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } } }",
            json!({ "input": { "postId": post, "authorName": "R", "body": "hi" } }),
        )
        .header("x-forwarded-for", "198.51.100.7")
        .send()
        .await
        .expect("an answer");
    let header: i64 = again
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .expect("a Retry-After header");
    assert!((1..=60).contains(&header), "{header}");
    assert!(
        send("198.51.100.8", None).await.get("errors").is_none(),
        "other addresses have their own allowance"
    );
    assert!(
        send("198.51.100.7", Some(&poster))
            .await
            .get("errors")
            .is_none(),
        "token holders are not limited"
    );
    assert_eq!(
        app.count("select count(*) from comments").await,
        7,
        "the refused comment was not stored"
    );
    app.stop().await;
}

#[tokio::test]
async fn retries_with_the_same_client_mutation_id_add_one_comment() {
    let app = TestApp::spawn().await;
    let (_, post) = published_post(&app).await;
    let input = json!({ "postId": post, "authorName": "Retry", "body": "Once only", "clientMutationId": "c0ffee-1" });
    let (first, second) = tokio::join!(
        add_comment(&app, None, input.clone()),
        add_comment(&app, None, input.clone())
    );
    let third = add_comment(&app, None, input.clone()).await;
    let first = &first["data"]["addComment"];
    for other in [&second["data"]["addComment"], &third["data"]["addComment"]] {
        assert_eq!(other["comment"]["id"], first["comment"]["id"]);
        assert_eq!(other["editToken"], first["editToken"]);
        assert_eq!(other["clientMutationId"], "c0ffee-1");
    }
    // Someone else sending another comment with the id gets neither the first comment
    // nor its edit token: the id is refused, so no one takes a lost comment for stored.
    let mut impostor = input.clone();
    impostor["authorName"] = json!("Impostor");
    let stolen = add_comment(&app, None, impostor).await;
    assert_eq!(error_code(&stolen), Some("BAD_USER_INPUT"), "{stolen}");
    assert_eq!(
        stolen["errors"][0]["extensions"]["field"],
        "clientMutationId"
    );
    assert!(stolen["data"]["addComment"].is_null(), "{stolen}");
    let mut fresh = input;
    fresh["clientMutationId"] = json!("c0ffee-2");
    let new = add_comment(&app, None, fresh).await;
    assert_ne!(
        new["data"]["addComment"]["comment"]["id"],
        first["comment"]["id"]
    );
    assert_eq!(app.count("select count(*) from comments").await, 2);
    app.stop().await;
}

#[tokio::test]
async fn closed_posts_refuse_comments() {
    let app = TestApp::spawn().await;
    let (poster, post) = published_post(&app).await;
    let closed = app
        .graphql_as(
            Some(&poster),
            "mutation($id: ID!) { updatePost(input: {id: $id, commentsOpen: false}) { post { commentsOpen } } }",
            json!({ "id": post }),
        )
        .await;
    assert_eq!(closed["data"]["updatePost"]["post"]["commentsOpen"], false);
    let refused = add_comment(
        &app,
        None,
        json!({ "postId": post, "authorName": "A", "body": "late" }),
    )
    .await;
    assert_eq!(error_code(&refused), Some("COMMENTS_CLOSED"), "{refused}");
    let draft = app.create_post(&poster, json!({ "title": "Draft" })).await;
    let on_draft = add_comment(
        &app,
        Some(&poster),
        json!({ "postId": draft["id"], "authorName": "A", "body": "early" }),
    )
    .await;
    assert_eq!(error_code(&on_draft), Some("COMMENTS_CLOSED"));
    app.stop().await;
}

#[tokio::test]
async fn commenters_edit_and_delete_with_their_token_for_fifteen_minutes() {
    let app = TestApp::spawn().await;
    let (_, post) = published_post(&app).await;
    let added = comment(&app, &post, None, "First take").await;
    let id = added["comment"]["id"].clone();
    let token = added["editToken"].as_str().expect("edit token").to_owned();

    let edit = |token: String, body: &'static str| {
        let app = &app;
        let id = id.clone();
        async move {
            app.graphql(
                "mutation($input: EditCommentInput!) { editComment(input: $input) { comment { body bodyHtml } } }",
                json!({ "input": { "id": id, "editToken": token, "body": body } }),
            )
            .await
        }
    };
    let edited = edit(token.clone(), "Second *take*").await;
    assert_eq!(
        edited["data"]["editComment"]["comment"]["bodyHtml"],
        "<p>Second <em>take</em></p>\n"
    );
    assert_eq!(
        error_code(&edit("0".repeat(64), "hijack").await),
        Some("FORBIDDEN")
    );

    sqlx::query("update comments set created_at = now() - interval '16 minutes'")
        .execute(&app.pool)
        .await
        .expect("age the comment");
    assert_eq!(
        error_code(&edit(token.clone(), "too late").await),
        Some("FORBIDDEN")
    );
    sqlx::query("update comments set created_at = now()")
        .execute(&app.pool)
        .await
        .expect("rejuvenate");

    let deleted = app
        .graphql(
            "mutation($id: ID!, $token: String) { deleteComment(input: {id: $id, editToken: $token}) { comment { status } } }",
            json!({ "id": id, "token": token }),
        )
        .await;
    assert_eq!(
        deleted["data"]["deleteComment"]["comment"]["status"],
        "DELETED"
    );
    let anonymous_delete = app
        .graphql(
            "mutation($id: ID!) { deleteComment(input: {id: $id}) { deletedCommentId } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(error_code(&anonymous_delete), Some("UNAUTHENTICATED"));
    app.stop().await;
}

#[tokio::test]
async fn edit_tokens_come_from_a_private_key_outside_the_database() {
    use std::os::unix::fs::PermissionsExt;

    let app = TestApp::spawn().await;
    let (_, post) = published_post(&app).await;
    let added = comment(&app, &post, None, "Typo here").await;
    let token = added["editToken"].as_str().expect("edit token").to_owned();
    let key_file = app.data_dir.path().join("edit-token-key");
    let mode = std::fs::metadata(&key_file)
        .expect("key file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Nothing in the database can make a token: a copy of it forges none.
    let secrets: i64 = sqlx::query_scalar(
        "select count(*) from gazette_meta where key like '%secret%' or key like '%key%'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(secrets, 0);
    // Another API process on the same data directory accepts the token.
    let other = app.another_instance().await;
    let edited = other
        .graphql(
            "mutation($id: ID!, $token: String!) { editComment(input: {id: $id, editToken: $token, body: \"Fixed\"}) { comment { body } } }",
            json!({ "id": added["comment"]["id"], "token": token }),
        )
        .await;
    assert_eq!(
        edited["data"]["editComment"]["comment"]["body"], "Fixed",
        "{edited}"
    );
    other.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn bad_comments_are_refused_with_the_field_named() {
    let app = TestApp::spawn().await;
    let (poster, post) = published_post(&app).await;
    let other = app
        .create_post(&poster, json!({ "title": "Other", "status": "PUBLISHED" }))
        .await;
    let elsewhere = comment(&app, other["id"].as_str().expect("id"), None, "elsewhere").await;
    let base = json!({ "postId": post, "authorName": "Reader", "body": "Hello" });
    let with = |key: &str, value: Value| {
        let mut input = base.clone();
        input[key] = value;
        input
    };
    for (input, field) in [
        (with("authorName", json!(" ")), "authorName"),
        (with("authorName", json!("n".repeat(81))), "authorName"),
        (with("body", json!("")), "body"),
        (with("body", json!("b".repeat(10_001))), "body"),
        (with("authorEmail", json!("not-an-email")), "authorEmail"),
        (with("authorUrl", json!("javascript:alert(1)")), "authorUrl"),
        (
            with("parentId", elsewhere["comment"]["id"].clone()),
            "parentId",
        ),
        (with("parentId", json!("UG9zdDox")), "parentId"),
        (with("postId", json!("garbage")), "postId"),
    ] {
        let response = add_comment(&app, None, input.clone()).await;
        assert_eq!(
            error_code(&response),
            Some("BAD_USER_INPUT"),
            "{input}: {response}"
        );
        assert_eq!(
            response["errors"][0]["extensions"]["field"], field,
            "{input}"
        );
    }
    let unknown = add_comment(&app, None, with("postId", json!("UG9zdDo5OTk5OTk="))).await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"));
    app.stop().await;
}
