//! The feeds the worker generated, served with conditional GET.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::conditional::{self, Document};
use crate::state::AppState;

/// Readers poll; the worker refreshes feeds within seconds of a change.
const FEED_CACHE_CONTROL: &str = "public, max-age=60";

pub async fn site_feed(State(state): State<AppState>, headers: HeaderMap) -> Response {
    serve_feed(&state, "feed.xml", &headers).await
}

async fn serve_feed(state: &AppState, key: &str, headers: &HeaderMap) -> Response {
    match gazette_store::feeds::find(&state.pool, key).await {
        Ok(Some(feed)) => conditional::respond(
            &Document {
                body: feed.body,
                content_type: feed.content_type,
                content_hash: feed.content_hash,
                modified_at: feed.generated_at,
                cache_control: FEED_CACHE_CONTROL,
            },
            headers,
        ),
        Ok(None) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            "This feed has not been generated yet; the worker builds it within seconds of starting. Try again shortly.\n",
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, key, "could not load a feed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                "The feed is temporarily unavailable. Try again shortly.\n",
            )
                .into_response()
        }
    }
}
