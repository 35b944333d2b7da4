//! What many tests begin with, the way a client does it: a post to comment on, a comment.

use gazette_store::tokens::Role;
use serde_json::{Value, json};

use super::app::TestApp;

/// The fields of a comment the tests read back.
pub const COMMENT: &str =
    "id depth status body bodyHtml author { name url } replyCount parent { id }";

/// A published post by "Poster" (an author); returns the author's token and the post id.
pub async fn published_post(app: &TestApp) -> (String, String) {
    let token = app.token("Poster", Role::Author).await;
    let post = app
        .create_post(
            &token,
            json!({ "title": "Open for comments", "status": "PUBLISHED" }),
        )
        .await;
    (token, post["id"].as_str().expect("post id").to_owned())
}

/// Sends addComment; returns the whole response.
pub async fn add_comment(app: &TestApp, token: Option<&str>, input: Value) -> Value {
    app.graphql_as(
        token,
        &format!(
            "mutation($input: AddCommentInput!) {{ addComment(input: $input) {{ editToken depthCapped clientMutationId comment {{ {COMMENT} }} }} }}"
        ),
        json!({ "input": input }),
    )
    .await
}
