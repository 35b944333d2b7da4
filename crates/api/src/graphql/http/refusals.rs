//! Refusals a client earns: a request that cannot be read and a document over a limit or
//! invalid are counted against its address (see [`crate::limits::Refusals`]), apart when a
//! browser says another site sent it.

use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gazette_domain::ClientKey;

use super::response::{MediaType, request_error};
use crate::state::AppState;

/// A request that cannot be read, counted as a refusal of its client (unless the server
/// was too busy to read it).
pub(super) fn unreadable(
    state: &AppState,
    client: &ClientKey,
    headers: &HeaderMap,
    media: MediaType,
    status: StatusCode,
    message: &str,
) -> Response {
    if status.is_client_error() {
        count_refusal(state, client, headers);
    }
    request_error(media, status, message)
}

/// Counts a refusal against `client`.
pub(super) fn count_refusal(state: &AppState, client: &ClientKey, headers: &HeaderMap) {
    state.refusals.refused(&refusal_key(client, headers));
}

/// Whose refusals a request counts and pays for. When a browser says another site's page
/// sent it (`Sec-Fetch-Site: cross-site`), a key of its own: such a page must not get its
/// visitors' shared address penalised by making their browsers send junk, and a program
/// that writes the header itself (any can) is penalised under it all the same.
pub(super) fn refusal_key(client: &ClientKey, headers: &HeaderMap) -> ClientKey {
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    match cross_site {
        true => client.from_other_sites_page(),
        false => client.clone(),
    }
}

/// Whether an answer with this code refused the client's document (as opposed to failing
/// for a reason of the server's, or being refused for who the client is).
pub(super) fn is_refusal(code: &str) -> bool {
    matches!(
        code,
        "GRAPHQL_PARSE_FAILED"
            | "GRAPHQL_VALIDATION_FAILED"
            | "BAD_REQUEST"
            | "QUERY_TOO_COMPLEX"
            | "QUERY_TOO_DEEP"
            | "QUERY_TOO_LARGE"
            | "TOO_MANY_ALIASES"
            | "TOO_MANY_ROOT_FIELDS"
            | "TOO_MANY_TOKENS"
            | "TOO_MANY_DIRECTIVES"
            | "RESPONSE_TOO_LARGE"
    )
}
