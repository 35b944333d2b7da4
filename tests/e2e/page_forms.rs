//! The comment form under post pages and the moderation pages (docs/pages.md), over real
//! HTTP as a browser without JavaScript sends them: urlencoded forms, 303 redirects,
//! cookies. The Chromium run of the same pages is clients/tests/comment-form.test.mjs.

use std::time::Duration;

use gazette_store::tokens::Role;
use reqwest::{StatusCode, header};
use serde_json::json;

use crate::support::{TestApp, add_comment, published_post};

/// Forms may be sent one second after their page: the tests wait that long.
const MIN_FILL: [&str; 2] = ["--comment-form-min-fill", "1s"];
const FILL_TIME: Duration = Duration::from_millis(1100);

/// The form token in a page.
fn form_token(html: &str) -> String {
    let start = html
        .find("name=\"form_token\" value=\"")
        .map(|at| at + "name=\"form_token\" value=\"".len())
        .unwrap_or_else(|| panic!("no form token in {html}"));
    html[start..].split('"').next().expect("a token").to_owned()
}

async fn page(app: &TestApp, path: &str) -> String {
    let response = app.get(path).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.text().await.expect("page")
}

/// Sends the comment form of `slug` with `fields`.
async fn send_form(app: &TestApp, slug: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/posts/{slug}/comments")))
        .form(fields)
        .send()
        .await
        .expect("form sent")
}

/// Sends the comment form of `slug` with a token, a name and a text.
async fn send_comment(
    app: &TestApp,
    slug: &str,
    token: &str,
    name: &str,
    body: &str,
) -> reqwest::Response {
    send_form(
        app,
        slug,
        &[("form_token", token), ("name", name), ("body", body)],
    )
    .await
}

/// The path of a page's "Later comments" link (`rel="next"`), when it has one.
fn later_comments(app: &TestApp, html: &str) -> Option<String> {
    let next = html.find("rel=\"next\"")?;
    let href = html[..next]
        .rsplit("href=\"")
        .next()
        .and_then(|tail| tail.split('"').next())
        .expect("its address")
        .replace("&amp;", "&");
    Some(
        href.strip_prefix(&app.url(""))
            .expect("on this site")
            .to_owned(),
    )
}

fn location(response: &reqwest::Response) -> String {
    response.headers()[header::LOCATION]
        .to_str()
        .expect("location")
        .to_owned()
}

/// A form that must be refused: what it is, its fields, its extra headers, the status and
/// a sentence of the page that answers it.
type Refusal<'a> = (
    &'a str,
    Vec<(&'a str, &'a str)>,
    Vec<(&'a str, &'a str)>,
    StatusCode,
    &'a str,
);

async fn comment_rows(app: &TestApp) -> i64 {
    app.count("select count(*) from comments").await
}

#[tokio::test]
async fn readers_comment_and_reply_with_the_form_under_the_post() {
    let app = TestApp::spawn_api_only_with(&MIN_FILL).await;
    published_post(&app).await;
    let slug = "open-for-comments";
    let first = app.get(&format!("/posts/{slug}")).await;
    let etag = first.headers()[header::ETAG].clone();
    let html = first.text().await.expect("page");
    assert!(html.contains("<h2 id=\"comment-form-title\">Leave a comment</h2>"));
    assert!(html.contains("<label for=\"comment-name\">Name</label>"));
    let token = form_token(&html);
    // The page keeps its validator while the form's token changes: a 304 stays a 304.
    let again = app
        .client
        .get(app.url(&format!("/posts/{slug}")))
        .header(header::IF_NONE_MATCH, etag)
        .send()
        .await
        .expect("revalidation");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    tokio::time::sleep(FILL_TIME).await;
    let fields = [
        ("form_token", token.as_str()),
        ("name", "Ann Reader"),
        ("email", "ann@example.org"),
        ("website", ""),
        ("body", "Thank you for writing this up."),
        ("homepage", ""),
    ];
    let sent = send_form(&app, slug, &fields).await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let id = id_of(&app, "Ann Reader").await;
    assert_eq!(
        location(&sent),
        app.url(&format!("/posts/{slug}#comment-{id}"))
    );
    // The same submission again (a double click, a resent POST): the same comment.
    let resent = send_form(&app, slug, &fields).await;
    assert_eq!(location(&resent), location(&sent));
    // The same text from the same form with other details is not taken for it.
    let mut changed = fields;
    changed[2] = ("email", "someone-else@example.org");
    let refused = send_form(&app, slug, &changed).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(
        refused
            .text()
            .await
            .expect("page")
            .contains("This form was already sent with this text.")
    );
    assert_eq!(comment_rows(&app).await, 1);
    let html = page(&app, &format!("/posts/{slug}")).await;
    assert!(html.contains("Thank you for writing this up."));
    assert!(!html.contains("ann@example.org"), "emails are never shown");
    assert!(html.contains(&format!("?reply={id}#comment-form")));

    // A reply: the link opens the same form for that comment.
    let reply_page = page(&app, &format!("/posts/{slug}?reply={id}")).await;
    assert!(reply_page.contains("Reply to Ann Reader</h2>"));
    assert!(reply_page.contains(&format!("name=\"parent\" value=\"{id}\"")));
    let token = form_token(&reply_page);
    tokio::time::sleep(FILL_TIME).await;
    let parent = id.to_string();
    let reply = send_form(
        &app,
        slug,
        &[
            ("form_token", &token),
            ("parent", &parent),
            ("name", "Bo"),
            ("body", "Agreed."),
        ],
    )
    .await;
    assert_eq!(reply.status(), StatusCode::SEE_OTHER);
    let reply_parent: Option<i64> =
        sqlx::query_scalar("select parent_id from comments where author_name = 'Bo'")
            .fetch_one(&app.pool)
            .await
            .expect("the reply");
    assert_eq!(reply_parent, Some(id));

    // Two links: held under the default moderation, and the reader is told so.
    let held = send_comment(
        &app,
        slug,
        &token,
        "Cy",
        "See https://a.example and https://b.example",
    )
    .await;
    assert_eq!(
        location(&held),
        app.url(&format!("/posts/{slug}?held=1#comment-held"))
    );
    assert_eq!(status_of(&app, id_of(&app, "Cy").await).await, "pending");
    let notice = page(&app, &format!("/posts/{slug}?held=1")).await;
    assert!(notice.contains("held for moderation"));
    assert!(!notice.contains("https://a.example"));
    app.stop().await;
}

/// Found by a probe: 520 comments of the longest kind made a 19 MB page, which every
/// reader, and every conditional GET or HEAD (the ETag is the page's hash), had the server
/// read and build: one client on 32 connections held 300 MB and slowed everyone. A page
/// now holds 1 MiB of comment HTML at most (PostgreSQL measures it before a text is
/// read), then goes on over "Later comments" pages, and a new comment lands on the page
/// that shows it.
#[tokio::test]
async fn a_thread_of_long_comments_pages_by_size() {
    let app = TestApp::spawn_api_only_with(&MIN_FILL).await;
    published_post(&app).await;
    let slug = "open-for-comments";
    // 40 comments of 40,000 bytes of HTML each: "Long 1" … "Long 40".
    sqlx::query(
        "insert into comments (post_id, author_name, body, body_html, created_at) \
         select p.id, 'Reader', 'Long ' || n, \
                rpad('<p>Long ' || n || '</p>', 40000, ' '), \
                now() - interval '1 day' + n * interval '1 second' \
         from posts p, generate_series(1, 40) n where p.slug = $1",
    )
    .bind(slug)
    .execute(&app.pool)
    .await
    .expect("comments");
    let shown = |html: &str| {
        (1..=40)
            .filter(|n| html.contains(&format!("<p>Long {n}</p>")))
            .collect::<Vec<_>>()
    };
    // A comment is shown while those before it on the page would print less than 1 MiB
    // (HTML, and six times the name twice: 40,072 bytes each): 1,041,872 before the
    // 27th, 1,081,944 before the 28th.
    let first = page(&app, &format!("/posts/{slug}")).await;
    assert_eq!(shown(&first), (1..=27).collect::<Vec<_>>());
    assert!(first.len() < 1_200_000, "{} bytes", first.len());
    let later_path = later_comments(&app, &first).expect("a link to later comments");
    let second = page(&app, &later_path).await;
    assert_eq!(shown(&second), (28..=40).collect::<Vec<_>>());
    assert!(!second.contains("rel=\"next\""));

    // A new comment at the end is not on the first page (the HTML before it fills it):
    // the form sends its writer to the page that opens with it.
    let token = form_token(&first);
    tokio::time::sleep(FILL_TIME).await;
    let sent = send_comment(&app, slug, &token, "Last Reader", "The last word.").await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let last = id_of(&app, "Last Reader").await;
    let landed = location(&sent);
    assert!(landed.contains("?after="), "{landed}");
    let landed_path = landed.strip_prefix(&app.url("")).expect("on this site");
    let landing = page(&app, landed_path.split('#').next().expect("path")).await;
    assert!(
        landing.contains(&format!("id=\"comment-{last}\"")),
        "the page {landed} shows it"
    );
    app.stop().await;
}

/// Found by a second probe: the bound counted only comments' HTML, while a page also
/// prints each name twice and the link, escaped (an `&` is `&amp;`), and read each
/// Markdown source it never shows: 500 comments of tiny HTML, long names and links and
/// 40 KB sources made a 5.7 MB page that read 20 MB. What a page prints is counted now,
/// and the sources are not read.
#[tokio::test]
async fn long_names_and_links_count_toward_a_pages_bound() {
    let app = TestApp::spawn_api_only_with(&MIN_FILL).await;
    published_post(&app).await;
    let slug = "open-for-comments";
    sqlx::query(
        "insert into comments (post_id, author_name, author_url, body, body_html, created_at) \
         select p.id, repeat('&', 77) || n, 'https://a.example/?' || repeat('&', 2029), \
                repeat('😀', 9970), '<p>x' || n || '</p>', \
                now() - interval '1 day' + n * interval '1 second' \
         from posts p, generate_series(1, 300) n where p.slug = $1",
    )
    .bind(slug)
    .execute(&app.pool)
    .await
    .expect("comments");
    let ids: Vec<i64> = sqlx::query_scalar("select id from comments order by path")
        .fetch_all(&app.pool)
        .await
        .expect("ids");
    // Every page stays within its bound, and the pages together show each comment once.
    let mut path = format!("/posts/{slug}");
    let mut shown = Vec::new();
    let mut pages = 0;
    loop {
        let html = page(&app, &path).await;
        pages += 1;
        assert!(html.len() < 1_200_000, "{path}: {} bytes", html.len());
        shown.extend(
            ids.iter()
                .filter(|id| html.contains(&format!("id=\"comment-{id}\"")))
                .copied(),
        );
        let Some(later) = later_comments(&app, &html) else {
            break;
        };
        path = later;
        assert!(pages < 20, "too many pages");
    }
    assert!(pages > 1, "300 such comments are more than a page");
    assert_eq!(shown, ids);
    app.stop().await;
}

/// Found by reading the page code: a post's page showed its first 500 comments and no
/// more, and a reader answering past them was sent to a page without their comment. The
/// thread goes on over "Later comments" pages, replies keep the reader on their page,
/// and the form sends the reader to the page that shows the new comment.
#[tokio::test]
async fn a_long_thread_pages_and_a_reply_lands_on_the_page_that_shows_it() {
    let app = TestApp::spawn_api_only_with(&MIN_FILL).await;
    let (_, post_id) = published_post(&app).await;
    let slug = "open-for-comments";
    let post: i64 = sqlx::query_scalar("select id from posts where slug = $1")
        .bind(slug)
        .fetch_one(&app.pool)
        .await
        .expect("the post");
    assert!(!post_id.is_empty());
    // 520 comments in thread order: "Comment 1" … "Comment 520", one every second.
    sqlx::query(
        "insert into comments (post_id, author_name, body, body_html, created_at) \
         select $1, 'Reader', 'Comment ' || n, '<p>Comment ' || n || '</p>', \
         now() - interval '1 day' + n * interval '1 second' from generate_series(1, 520) n",
    )
    .bind(post)
    .execute(&app.pool)
    .await
    .expect("comments");
    let shown = |html: &str| {
        (1..=520)
            .filter(|n| html.contains(&format!("<p>Comment {n}</p>")))
            .collect::<Vec<_>>()
    };

    let first = page(&app, &format!("/posts/{slug}")).await;
    assert_eq!(shown(&first), (1..=500).collect::<Vec<_>>());
    assert!(!first.contains("First comments"));
    let later_path = later_comments(&app, &first).expect("a link to later comments");
    let second = page(&app, &later_path).await;
    assert_eq!(shown(&second), (501..=520).collect::<Vec<_>>());
    assert!(second.contains("First comments"));
    assert!(!second.contains("rel=\"next\""));

    // A reply from the second page: its link, the form and the redirect keep that page.
    let answered: i64 = sqlx::query_scalar("select id from comments where body = 'Comment 510'")
        .fetch_one(&app.pool)
        .await
        .expect("comment 510");
    let after = later_path
        .split("after=")
        .nth(1)
        .and_then(|tail| tail.split('#').next())
        .expect("the page's place")
        .to_owned();
    let reply_link = format!("?after={after}&amp;reply={answered}#comment-form");
    assert!(second.contains(&reply_link), "{reply_link}");
    let reply_page = page(
        &app,
        &format!("/posts/{slug}?after={after}&reply={answered}"),
    )
    .await;
    assert!(reply_page.contains("Reply to Reader</h2>"));
    assert!(reply_page.contains(&format!("name=\"after\" value=\"{after}\"")));
    let token = form_token(&reply_page);
    tokio::time::sleep(FILL_TIME).await;
    let parent = answered.to_string();
    let sent = send_form(
        &app,
        slug,
        &[
            ("form_token", token.as_str()),
            ("parent", &parent),
            ("after", &after),
            ("name", "Late Reader"),
            ("body", "Still reading."),
        ],
    )
    .await;
    assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    let reply = id_of(&app, "Late Reader").await;
    let landed = location(&sent);
    let landed_path = landed.strip_prefix(&app.url("")).expect("on this site");
    assert!(landed.ends_with(&format!("#comment-{reply}")), "{landed}");
    let landing = page(&app, landed_path.split('#').next().expect("path")).await;
    assert!(
        landing.contains(&format!("id=\"comment-{reply}\"")),
        "the page {landed} shows the reply"
    );

    // A refused form from that page comes back on that page.
    let refused = send_form(
        &app,
        slug,
        &[
            ("form_token", token.as_str()),
            ("parent", &parent),
            ("after", &after),
            ("name", ""),
            ("body", "No name."),
        ],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let again = refused.text().await.expect("page");
    assert!(again.contains("<p>Comment 515</p>") && !again.contains("<p>Comment 5</p>"));
    assert!(again.contains("Reply to Reader</h2>"));

    // A mangled place shows the thread from its start.
    let mangled = page(&app, &format!("/posts/{slug}?after=1.x.-3")).await;
    assert_eq!(shown(&mangled), (1..=500).collect::<Vec<_>>());
    app.stop().await;
}

#[tokio::test]
async fn refused_forms_come_back_with_the_text_kept_and_nothing_written() {
    let app = TestApp::spawn_api_only_with(&[
        "--comment-form-min-fill",
        "1s",
        "--comment-rate-limit",
        "2",
    ])
    .await;
    let (author, _) = published_post(&app).await;
    let slug = "open-for-comments";
    let other = app
        .create_post(
            &author,
            json!({ "title": "Another post", "status": "PUBLISHED" }),
        )
        .await;
    let token = form_token(&page(&app, &format!("/posts/{slug}")).await);
    let other_token = form_token(&page(&app, "/posts/another-post").await);

    // Too quick: a program sends at once; the reader gets the form back with a new token.
    let quick = send_comment(&app, slug, &token, "Ann", "My careful words").await;
    assert_eq!(quick.status(), StatusCode::BAD_REQUEST);
    let html = quick.text().await.expect("page");
    assert!(html.contains("too quickly"), "{html}");
    assert!(html.contains(">My careful words</textarea>"));
    assert_ne!(form_token(&html), token);
    tokio::time::sleep(FILL_TIME).await;

    let port = app.base_url.rsplit(':').next().unwrap_or_default();
    let rebound_host = format!("rebind.evil.example:{port}");
    let rebound_origin = format!("http://{rebound_host}");
    let refusals: [Refusal; 7] = [
        (
            "a name left out",
            vec![
                ("form_token", &token),
                ("name", " "),
                ("body", "Kept text one"),
            ],
            vec![],
            StatusCode::BAD_REQUEST,
            "id=\"comment-name-error\"",
        ),
        (
            "the honeypot filled",
            vec![
                ("form_token", &token),
                ("name", "Bot"),
                ("body", "Kept text two"),
                ("homepage", "http://spam.example"),
            ],
            vec![],
            StatusCode::BAD_REQUEST,
            "must stay empty",
        ),
        (
            "a token altered",
            vec![
                ("form_token", &token[..token.len() - 1]),
                ("name", "Ann"),
                ("body", "Kept text three"),
            ],
            vec![],
            StatusCode::FORBIDDEN,
            "does not belong to this post",
        ),
        (
            "another post's token",
            vec![
                ("form_token", &other_token),
                ("name", "Ann"),
                ("body", "Kept text four"),
            ],
            vec![],
            StatusCode::FORBIDDEN,
            "does not belong to this post",
        ),
        (
            "sent from another site",
            vec![("form_token", &token), ("name", "Ann"), ("body", "x")],
            vec![("origin", "https://attacker.example")],
            StatusCode::FORBIDDEN,
            "sent from another site",
        ),
        (
            "a cross-site fetch",
            vec![("form_token", &token), ("name", "Ann"), ("body", "x")],
            vec![("sec-fetch-site", "cross-site")],
            StatusCode::FORBIDDEN,
            "sent from another site",
        ),
        (
            // DNS rebinding: a page that pointed its own name at the server, so that its
            // Host and Origin agree (found by a probe).
            "a page whose name was pointed here",
            vec![("form_token", &token), ("name", "Ann"), ("body", "x")],
            vec![
                ("host", rebound_host.as_str()),
                ("origin", rebound_origin.as_str()),
                ("sec-fetch-site", "same-origin"),
            ],
            StatusCode::FORBIDDEN,
            "sent from another site",
        ),
    ];
    for (what, fields, headers, status, says) in refusals {
        let mut request = app
            .client
            .post(app.url(&format!("/posts/{slug}/comments")))
            .form(&fields);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = request.send().await.expect("sent");
        assert_eq!(response.status(), status, "{what}");
        let html = response.text().await.expect("page");
        assert!(html.contains(says), "{what}: {html}");
        if let Some((_, body)) = fields.iter().find(|(name, _)| *name == "body")
            && body.starts_with("Kept")
        {
            assert!(
                html.contains(&format!(">{body}</textarea>")),
                "{what} keeps the text"
            );
        }
    }
    assert_eq!(comment_rows(&app).await, 0);

    // The rate limit: the third comment in a minute waits, with its text kept.
    for body in ["one", "two"] {
        let sent = send_comment(&app, slug, &token, "Ann", body).await;
        assert_eq!(sent.status(), StatusCode::SEE_OTHER);
    }
    let limited = send_comment(&app, slug, &token, "Ann", "three").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key(header::RETRY_AFTER));
    assert!(
        limited
            .text()
            .await
            .expect("page")
            .contains(">three</textarea>")
    );

    // Closed comments: the page says so, and the form's POST is refused.
    let closed = app
        .graphql_as(
            Some(&author),
            "mutation($id: ID!) { updatePost(input: { id: $id, commentsOpen: false }) { post { commentsOpen } } }",
            json!({ "id": other["id"] }),
        )
        .await;
    assert_eq!(
        closed["data"]["updatePost"]["post"]["commentsOpen"], false,
        "{closed}"
    );
    let closed_page = page(&app, "/posts/another-post").await;
    assert!(closed_page.contains("Comments on this post are closed."));
    assert!(!closed_page.contains("name=\"form_token\""));
    let refused = send_comment(&app, "another-post", &other_token, "Ann", "late").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(comment_rows(&app).await, 2);
    app.stop().await;
}

#[tokio::test]
async fn an_expired_form_is_refused_with_the_text_kept() {
    let app = TestApp::spawn_api_only_with(&[
        "--comment-form-lifetime",
        "2s",
        "--comment-form-min-fill",
        "0",
    ])
    .await;
    published_post(&app).await;
    let token = form_token(&page(&app, "/posts/open-for-comments").await);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let expired = send_comment(&app, "open-for-comments", &token, "Ann", "Written slowly").await;
    assert_eq!(expired.status(), StatusCode::FORBIDDEN);
    let html = expired.text().await.expect("page");
    assert!(html.contains("This form has expired"), "{html}");
    assert!(html.contains(">Written slowly</textarea>"));
    // The form that came back works.
    let again = send_form(
        &app,
        "open-for-comments",
        &[
            ("form_token", &form_token(&html)),
            ("name", "Ann"),
            ("body", "Written slowly"),
        ],
    )
    .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(comment_rows(&app).await, 1);
    app.stop().await;
}

#[tokio::test]
async fn no_form_input_gets_a_server_error() {
    let app = TestApp::spawn_api_only_with(&["--comment-form-min-fill", "0"]).await;
    published_post(&app).await;
    let token = form_token(&page(&app, "/posts/open-for-comments").await);
    let long = "x".repeat(200_000);
    let bodies: Vec<(&str, String)> = vec![
        ("application/x-www-form-urlencoded", String::new()),
        ("application/json", r#"{"name":"A","body":"b"}"#.to_owned()),
        ("text/plain", "name=A&body=b".to_owned()),
        (
            "application/x-www-form-urlencoded",
            "name=%ZZ&body=%".to_owned(),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("form_token={token}&name=A&name=B&body=b"),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("form_token={token}&name=A%00B&body=b"),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("form_token={token}&name=A&body=%00"),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("form_token={token}&name=A&body=b&parent=99999999999999999999"),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("form_token={token}&name=A&body=b&parent=-1"),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("form_token={token}&name={}&body=b", "n".repeat(5000)),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("form_token={token}&name=A&body={}", "b".repeat(20_000)),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("form_token={token}&name=A&body=b&website=javascript:alert(1)"),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("form_token={}&name=A&body=b", "f".repeat(10_000)),
        ),
        ("application/x-www-form-urlencoded", format!("body={long}")),
        (
            "application/x-www-form-urlencoded",
            format!("form_token={token}&name=A&body=b&email=a%00b@example.com"),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("form_token={token}&name=A&body=b&website=https://example.org/%00x"),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("form_token={token}&name=A&body=b&website=https://example.org/%1B[31m"),
        ),
    ];
    for (content_type, body) in bodies {
        let response = app
            .client
            .post(app.url("/posts/open-for-comments/comments"))
            .header(header::CONTENT_TYPE, content_type)
            .body(body.clone())
            .send()
            .await
            .expect("sent");
        let status = response.status();
        assert!(
            status.is_client_error(),
            "{content_type} {}: {status}",
            &body[..body.len().min(80)]
        );
    }
    assert_eq!(comment_rows(&app).await, 0);
    // Found by a probe: with a good token, a field that does not decode (a `%` without two
    // hex digits, bytes that are no UTF-8) was stored as sent or with U+FFFD in it.
    for mangled in [
        format!("form_token={token}&name=%ZZ&body=%"),
        format!("form_token={token}&name=%C3%28&body=hi"),
        format!("form_token={token}&name=A&body=caf%E9"),
    ] {
        let response = app
            .client
            .post(app.url("/posts/open-for-comments/comments"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(mangled.clone())
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{mangled}");
        let html = response.text().await.expect("page");
        assert!(
            html.contains("The form could not be read"),
            "{mangled}: {html}"
        );
    }
    assert_eq!(comment_rows(&app).await, 0);
    // Text cannot plant a form token in the page that comes back: escaping drops NULs.
    let planted = send_comment(
        &app,
        "open-for-comments",
        &token,
        "A",
        "slot \u{0}form-token\u{0} here",
    )
    .await;
    assert_eq!(planted.status(), StatusCode::BAD_REQUEST);
    let html = planted.text().await.expect("page");
    assert_eq!(
        html.matches(&form_token(&html)).count(),
        1,
        "one token, in its field"
    );
    // A slug no post can have, and a form's address typed into the address bar.
    assert_eq!(app.get("/posts/%00").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.get("/tags/%00").await.status(), StatusCode::NOT_FOUND);
    let typed = app.get("/posts/open-for-comments/comments").await;
    assert_eq!(typed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        location(&typed),
        app.url("/posts/open-for-comments#comment-form")
    );
    let typed = app.get("/moderation/sign-in").await;
    assert_eq!(location(&typed), app.url("/moderation"));
    for path in [
        "/posts/no-such-post/comments",
        "/posts/%00/comments",
        "/moderation/comments/abc",
        "/moderation/sign-in",
    ] {
        let response = app
            .client
            .post(app.url(path))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("token=%FF")
            .send()
            .await
            .expect("sent");
        assert!(
            response.status().is_client_error(),
            "{path}: {}",
            response.status()
        );
    }
    app.stop().await;
}

/// A signed-in moderator's browser: the session cookie and the page's form token.
struct Moderator {
    cookie: String,
}

impl Moderator {
    async fn sign_in(app: &TestApp, token: &str) -> (Self, reqwest::Response) {
        let response = app
            .client
            .post(app.url("/moderation/sign-in"))
            .form(&[("token", token)])
            .send()
            .await
            .expect("signed in");
        let cookie = response
            .headers()
            .get(header::SET_COOKIE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .unwrap_or_default()
            .to_owned();
        (Self { cookie }, response)
    }

    async fn queue(&self, app: &TestApp) -> reqwest::Response {
        app.client
            .get(app.url("/moderation"))
            .header(header::COOKIE, &self.cookie)
            .send()
            .await
            .expect("queue")
    }

    async fn act(
        &self,
        app: &TestApp,
        id: i64,
        action: &str,
        form_token: &str,
    ) -> reqwest::Response {
        app.client
            .post(app.url(&format!("/moderation/comments/{id}")))
            .header(header::COOKIE, &self.cookie)
            .form(&[("form_token", form_token), ("action", action)])
            .send()
            .await
            .expect("action")
    }
}

async fn held_comment(app: &TestApp, post_id: &str, name: &str) -> i64 {
    let added = add_comment(
        app,
        None,
        json!({ "postId": post_id, "authorName": name, "body": format!("Held words of {name}") }),
    )
    .await;
    assert_eq!(
        added["data"]["addComment"]["comment"]["status"], "PENDING",
        "{added}"
    );
    id_of(app, name).await
}

/// The id of the comment by `name`.
async fn id_of(app: &TestApp, name: &str) -> i64 {
    sqlx::query_scalar("select id from comments where author_name = $1")
        .bind(name)
        .fetch_one(&app.pool)
        .await
        .expect("a comment by that name")
}

async fn status_of(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("select status from comments where id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .expect("the comment")
}

#[tokio::test]
async fn moderators_sign_in_and_work_their_queue() {
    let app = TestApp::spawn_api_only_with(&["--comment-moderation", "all"]).await;
    let (author_token, own_post) = published_post(&app).await;
    let other_author = app.token("Other Author", Role::Author).await;
    let other_post = app
        .create_post(
            &other_author,
            json!({ "title": "Not yours", "status": "PUBLISHED" }),
        )
        .await;
    let own = held_comment(&app, &own_post, "Ann").await;
    let others = held_comment(&app, other_post["id"].as_str().expect("id"), "Bo").await;

    let signed_out = app.get("/moderation").await;
    assert_eq!(signed_out.status(), StatusCode::OK);
    assert!(
        signed_out
            .text()
            .await
            .expect("page")
            .contains("type=\"password\"")
    );
    let (_, refused) = Moderator::sign_in(&app, "gz_not-a-token").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(!refused.headers().contains_key(header::SET_COOKIE));

    let (author, signed_in) = Moderator::sign_in(&app, &author_token).await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = signed_in.headers()[header::SET_COOKIE]
        .to_str()
        .expect("cookie")
        .to_owned();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/moderation",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "an http site's cookie: {cookie}"
    );

    // An author's queue holds the comments on their own posts only.
    let queue = author.queue(&app).await;
    assert_eq!(queue.headers()[header::CACHE_CONTROL], "no-store");
    let html = queue.text().await.expect("queue");
    assert!(html.contains(&format!("id=\"held-{own}\"")));
    assert!(html.contains("Held words of Ann"));
    assert!(html.contains("from 127.0.0.1"));
    assert!(!html.contains("Held words of Bo"));
    assert!(html.contains("<strong>1</strong> held for moderation"));
    let author_form = form_token(&html);

    // Forms without the page's token, or from another site, change nothing.
    assert_eq!(
        author.act(&app, own, "approve", "").await.status(),
        StatusCode::FORBIDDEN
    );
    let cross_site = app
        .client
        .post(app.url(&format!("/moderation/comments/{own}")))
        .header(header::COOKIE, &author.cookie)
        .header(header::ORIGIN, "https://attacker.example")
        .form(&[("form_token", author_form.as_str()), ("action", "approve")])
        .send()
        .await
        .expect("sent");
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    // Another author's comment is not theirs to moderate.
    assert_eq!(
        author
            .act(&app, others, "approve", &author_form)
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.count("select count(*) from comments where status = 'pending'")
            .await,
        2
    );

    let approved = author.act(&app, own, "approve", &author_form).await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&approved), app.url("/moderation?done=approved"));
    assert!(
        page(&app, "/posts/open-for-comments")
            .await
            .contains("Held words of Ann")
    );

    // An admin sees every held comment; spam and delete work from the queue.
    let admin_token = app.token("Site Admin", Role::Admin).await;
    let (admin, _) = Moderator::sign_in(&app, &admin_token).await;
    let html = admin.queue(&app).await.text().await.expect("queue");
    assert!(html.contains("Held words of Bo"));
    let admin_form = form_token(&html);
    assert_ne!(admin_form, author_form, "form tokens belong to one session");
    assert_eq!(
        author.act(&app, others, "spam", &admin_form).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        admin.act(&app, others, "spam", &admin_form).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(status_of(&app, others).await, "spam");
    let html = admin.queue(&app).await.text().await.expect("queue");
    assert!(
        html.contains("<strong>0</strong> held for moderation · 1 marked as spam"),
        "{html}"
    );
    assert_eq!(
        admin
            .act(&app, others, "delete", &admin_form)
            .await
            .status(),
        StatusCode::SEE_OTHER
    );

    // Revoking the token ends its sessions.
    sqlx::query("update api_tokens set revoked_at = now() where name = 'Poster'")
        .execute(&app.pool)
        .await
        .expect("revoked");
    let html = author.queue(&app).await.text().await.expect("page");
    assert!(html.contains("type=\"password\""), "signed out: {html}");
    assert_eq!(
        author.act(&app, own, "spam", &author_form).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // Signing out ends the session.
    let out = app
        .client
        .post(app.url("/moderation/sign-out"))
        .header(header::COOKIE, &admin.cookie)
        .form(&[("form_token", admin_form.as_str())])
        .send()
        .await
        .expect("signed out");
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(
        admin
            .queue(&app)
            .await
            .text()
            .await
            .expect("page")
            .contains("type=\"password\"")
    );
    app.stop().await;
}

#[tokio::test]
async fn an_https_site_sets_a_secure_cookie_for_its_path() {
    let app = TestApp::spawn_api_only_with(&["--public-url", "https://blog.example/news"]).await;
    let token = app.token("Site Admin", Role::Admin).await;
    let (_, signed_in) = Moderator::sign_in(&app, &token).await;
    let cookie = signed_in.headers()[header::SET_COOKIE]
        .to_str()
        .expect("cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("Path=/news/moderation"), "{cookie}");
    assert_eq!(location(&signed_in), "https://blog.example/news/moderation");
    app.stop().await;
}
