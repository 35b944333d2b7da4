//! Who a request is: no `Authorization` header is an anonymous reader; `Bearer <token>`
//! is the token's owner; anything else is refused with 401 before any work. GraphQL over
//! HTTP and the WebSocket's upgrade and `connection_init` all authenticate here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gazette_domain::Viewer;
use gazette_store::{PgPool, tokens};
use serde_json::{Value, json};

/// No token: anonymous. A valid token: its owner. Anything else ends the request with 401.
pub async fn authenticate(
    pool: &PgPool,
    authorization: Option<&HeaderValue>,
) -> Result<Viewer, Box<Response>> {
    let Some(value) = authorization else {
        return Ok(Viewer::Anonymous);
    };
    let secret = value
        .to_str()
        .ok()
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, secret)| secret.trim())
        .filter(|secret| !secret.is_empty());
    let Some(secret) = secret else {
        return Err(Box::new(unauthenticated(
            "The Authorization header must be `Bearer <token>`.",
        )));
    };
    match tokens::authenticate(pool, secret).await {
        Ok(Some(owner)) => Ok(Viewer::Token(owner)),
        Ok(None) => Err(Box::new(unauthenticated(
            "The token is not valid: it is unknown or has been revoked.",
        ))),
        Err(error) => {
            let code = match error.is_unavailable() {
                true => "DATABASE_UNAVAILABLE",
                false => "INTERNAL",
            };
            tracing::error!(error = %gazette_store::display_chain(&error), "token check failed");
            let mut response = json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "errors": [{
                    "message": "The token cannot be checked right now; try again shortly.",
                    "extensions": { "code": code }
                }]}),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            Err(Box::new(response))
        }
    }
}

fn unauthenticated(message: &str) -> Response {
    let mut response = json_error(
        StatusCode::UNAUTHORIZED,
        json!({ "errors": [{ "message": message, "extensions": { "code": "UNAUTHENTICATED" } }] }),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer realm="gazette", error="invalid_token""#),
    );
    response
}

/// A GraphQL-shaped error answer (`application/json`: a client that sent a bad token may
/// not have negotiated anything yet).
fn json_error(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}
