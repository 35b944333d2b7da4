//! Where a comment comes from, for its rate limit: the peer, or behind trusted proxies the
//! address they appended (the last `X-Forwarded-For` entries, whatever the client wrote
//! before them); IPv6 clients count per /64.

use serde_json::json;

use crate::support::{TestApp, error_code, json_answer, published_post};

/// An anonymous comment sent with these `X-Forwarded-For` lines; returns the error code.
async fn comment_from(app: &TestApp, post: &str, forwarded: &[&str]) -> Option<String> {
    let mut request = app.graphql_request(
        None,
        "mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } } }",
        json!({ "input": { "postId": post, "authorName": "Visitor", "body": "Hello" } }),
    );
    for line in forwarded {
        request = request.header("x-forwarded-for", *line);
    }
    error_code(&json_answer(request).await).map(str::to_owned)
}

#[tokio::test]
async fn the_proxy_appended_address_counts_and_ipv6_counts_per_64() {
    let app = TestApp::spawn_api_only_with(&[
        "--trust-forwarded-for",
        "true",
        "--comment-rate-limit",
        "2",
    ])
    .await;
    let (_, post) = published_post(&app).await;

    // A client varying a forged first line gets nowhere: the proxy's line is the one used.
    for forged in ["1.1.1.1", "2.2.2.2"] {
        assert_eq!(
            comment_from(&app, &post, &[forged, "198.51.100.1"]).await,
            None
        );
    }
    assert_eq!(
        comment_from(&app, &post, &["3.3.3.3", "198.51.100.1"])
            .await
            .as_deref(),
        Some("RATE_LIMITED")
    );
    // Several addresses of one IPv6 /64 are one client.
    for address in ["2001:db8:1:2::1", "2001:db8:1:2:aaaa::2"] {
        assert_eq!(comment_from(&app, &post, &[address]).await, None);
    }
    assert_eq!(
        comment_from(&app, &post, &["2001:db8:1:2:ffff:ffff:ffff:ffff"])
            .await
            .as_deref(),
        Some("RATE_LIMITED")
    );
    assert_eq!(
        comment_from(&app, &post, &["2001:db8:1:3::1"]).await,
        None,
        "another /64"
    );
    // Something that is not an address counts as the proxy itself (the peer).
    assert_eq!(comment_from(&app, &post, &["not-an-address"]).await, None);
    assert_eq!(comment_from(&app, &post, &["<script>"]).await, None);
    assert_eq!(
        comment_from(&app, &post, &["unknown"]).await.as_deref(),
        Some("RATE_LIMITED")
    );
    let keys: Vec<String> =
        sqlx::query_scalar("select distinct client_address from comments order by 1")
            .fetch_all(&app.pool)
            .await
            .expect("addresses");
    assert_eq!(
        keys,
        [
            "127.0.0.1",
            "198.51.100.1",
            "2001:db8:1:2::/64",
            "2001:db8:1:3::/64"
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn forwarded_addresses_are_ignored_unless_trusted() {
    let app = TestApp::spawn_api_only_with(&["--comment-rate-limit", "1"]).await;
    let (_, post) = published_post(&app).await;
    assert_eq!(comment_from(&app, &post, &["198.51.100.1"]).await, None);
    assert_eq!(
        comment_from(&app, &post, &["198.51.100.2"])
            .await
            .as_deref(),
        Some("RATE_LIMITED"),
        "a forged header does not make a new client"
    );
    app.stop().await;
}
