//! What GraphQL over HTTP answers with: the media type the client accepts (negotiated
//! from `Accept`), the status codes the GraphQL-over-HTTP specification gives each outcome,
//! refusals and errors as GraphQL errors with a code, and an answer's JSON written under
//! the response size cap.

use std::collections::BTreeMap;
use std::time::Duration;

use async_graphql::ServerError;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::graphql::errors::refusal;
use crate::limits::Refusals;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

/// The response media type the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MediaType {
    GraphqlResponseJson,
    Json,
}

impl MediaType {
    pub(super) fn content_type(self) -> &'static str {
        match self {
            MediaType::GraphqlResponseJson => GRAPHQL_RESPONSE_JSON,
            MediaType::Json => JSON,
        }
    }
}

#[derive(Serialize)]
pub(super) struct ResponseBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[ServerError]>::is_empty")]
    pub errors: &'a [ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extensions: &'a BTreeMap<String, async_graphql::Value>,
}

pub(super) enum Capped {
    TooLarge,
    Failed(serde_json::Error),
}

/// JSON of `value`, unless it would exceed `cap` bytes (writing stops there).
pub(super) fn to_json_capped(value: &impl Serialize, cap: usize) -> Result<Vec<u8>, Capped> {
    struct CappedWriter {
        buffer: Vec<u8>,
        cap: usize,
        exceeded: bool,
    }
    impl std::io::Write for CappedWriter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if self.buffer.len() + bytes.len() > self.cap {
                self.exceeded = true;
                return Err(std::io::Error::other("response size cap"));
            }
            self.buffer.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut writer = CappedWriter {
        buffer: Vec::new(),
        cap,
        exceeded: false,
    };
    match serde_json::to_writer(&mut writer, value) {
        Ok(()) => Ok(writer.buffer),
        Err(_) if writer.exceeded => Err(Capped::TooLarge),
        Err(error) => Err(Capped::Failed(error)),
    }
}

/// An operation refused before it ran (a limit): `400` with `graphql-response+json`,
/// `200` with plain JSON, as for validation errors.
pub(super) fn refused(media: MediaType, error: &ServerError) -> Response {
    let status = match media {
        MediaType::GraphqlResponseJson => StatusCode::BAD_REQUEST,
        MediaType::Json => StatusCode::OK,
    };
    respond(media, status, json!({ "errors": [error] }))
}

/// Every execution slot stayed taken for the whole wait.
pub(super) fn busy(media: MediaType) -> Response {
    let mut response = respond(
        media,
        StatusCode::SERVICE_UNAVAILABLE,
        json!({ "errors": [{
            "message": "The server is busy: try again in a moment.",
            "extensions": { "code": "SERVER_BUSY" }
        }]}),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

pub(super) fn set_code_if_missing(error: &mut ServerError, code: &str) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
}

pub(super) fn method_not_allowed(media: MediaType) -> Response {
    let mut response = request_error(
        media,
        StatusCode::METHOD_NOT_ALLOWED,
        "Mutations and subscriptions cannot be sent with GET; use POST.",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

pub(super) fn not_acceptable() -> Response {
    respond(
        MediaType::Json,
        StatusCode::NOT_ACCEPTABLE,
        json!({ "errors": [{
            "message": "This endpoint answers with application/graphql-response+json or application/json; accept one of them.",
            "extensions": { "code": "NOT_ACCEPTABLE" }
        }]}),
    )
}

/// A request that could not be executed at all.
pub(super) fn request_error(media: MediaType, status: StatusCode, message: &str) -> Response {
    respond(
        media,
        status,
        json!({ "errors": [{ "message": message, "extensions": { "code": "BAD_REQUEST" } }] }),
    )
}

pub(super) fn respond(media: MediaType, status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, media.content_type())],
        body.to_string(),
    )
        .into_response()
}

pub(super) struct Unacceptable {
    /// The client would take HTML: a browser.
    pub browser: bool,
}

/// Picks the response media type from `Accept`: the acceptable type with the highest
/// quality, `application/graphql-response+json` on a tie; `application/json` when the
/// header is absent or accepts anything.
pub(super) fn negotiate(headers: &HeaderMap) -> Result<MediaType, Unacceptable> {
    let Some(accept) = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
    else {
        return Ok(MediaType::Json);
    };
    let items: Vec<(String, f32)> = accept
        .split(',')
        .map(|item| {
            let mut parts = item.split(';');
            let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let quality = parts
                // Parameter names are case-insensitive (RFC 9110, 5.6.6).
                .filter_map(|part| {
                    let part = part.trim();
                    part.get(..2)
                        .filter(|name| name.eq_ignore_ascii_case("q="))
                        .map(|_| &part[2..])
                })
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (media, quality)
        })
        .collect();
    // A type named with q=0 is refused even where a wildcard would take it (RFC 9110,
    // 12.5.1: the most specific range decides).
    let refused = |name: &str| {
        items
            .iter()
            .any(|(media, quality)| media == name && *quality <= 0.0)
    };
    let mut best: Option<(f32, MediaType)> = None;
    let mut browser = false;
    for (media, quality) in &items {
        let quality = *quality;
        if quality <= 0.0 {
            continue;
        }
        let candidate = match media.as_str() {
            "application/graphql-response+json" => MediaType::GraphqlResponseJson,
            "application/json" => MediaType::Json,
            "application/*" | "*/*" if !refused("application/json") => MediaType::Json,
            "application/*" | "*/*" if !refused("application/graphql-response+json") => {
                MediaType::GraphqlResponseJson
            }
            "text/html" => {
                browser = true;
                continue;
            }
            _ => continue,
        };
        let better = match best {
            None => true,
            Some((best_quality, best_media)) => {
                quality > best_quality
                    || (quality == best_quality
                        && candidate == MediaType::GraphqlResponseJson
                        && best_media == MediaType::Json)
            }
        };
        if better {
            best = Some((quality, candidate));
        }
    }
    match best {
        Some((_, media)) => Ok(media),
        None if accept.trim().is_empty() => Ok(MediaType::Json),
        None => Err(Unacceptable { browser }),
    }
}

pub(super) fn too_large(limit: usize) -> ServerError {
    refusal(
        "RESPONSE_TOO_LARGE",
        format!(
            "The response would be larger than {limit} bytes: ask for fewer items, or fewer fields of large ones (such as `body`)."
        ),
        |extensions| extensions.set("limit", limit),
    )
}

/// What a client past its refusals gets: an answer after a second, `429` with the time
/// until its minute is over (see [`crate::limits::Refusals`]).
pub(super) async fn penalised(media: MediaType, wait: Duration) -> Response {
    tokio::time::sleep(Refusals::DELAY).await;
    let seconds = wait.as_secs().max(1);
    let mut response = respond(
        media,
        StatusCode::TOO_MANY_REQUESTS,
        json!({ "errors": [{
            "message": format!("Too many of your requests were refused in the last minute (over a limit, invalid or unreadable): try again in {seconds} seconds."),
            "extensions": { "code": "RATE_LIMITED", "retryAfter": seconds }
        }]}),
    );
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Result<MediaType, bool> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_str(value).expect("header"),
        );
        negotiate(&headers).map_err(|unacceptable| unacceptable.browser)
    }

    #[test]
    fn negotiates_media_types() {
        assert_eq!(negotiate(&HeaderMap::new()).ok(), Some(MediaType::Json));
        assert_eq!(
            accept("application/graphql-response+json").ok(),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(accept("application/json").ok(), Some(MediaType::Json));
        assert_eq!(accept("*/*").ok(), Some(MediaType::Json));
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9").ok(),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            accept("application/json, application/graphql-response+json").ok(),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            accept("application/graphql-response+json;q=0.5, application/json").ok(),
            Some(MediaType::Json)
        );
        assert_eq!(accept("text/html,application/xhtml+xml").err(), Some(true));
        assert_eq!(accept("image/png").err(), Some(false));
        // Found by probing a running server: a type refused with q=0 was served because a
        // wildcard allowed anything.
        assert_eq!(
            accept("application/json;q=0, */*;q=0.1").ok(),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            accept("application/json;q=0, application/graphql-response+json;q=0, */*").err(),
            Some(false)
        );
        assert_eq!(
            accept("application/json;Q=0, */*;q=0.1").ok(),
            Some(MediaType::GraphqlResponseJson)
        );
    }
}
