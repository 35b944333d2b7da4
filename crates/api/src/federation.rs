//! The fediverse's ways to find the blog (docs/federation.md): WebFinger, NodeInfo and
//! the actor document. Served only with `--federation`; the documents themselves are
//! `gazette_federation`'s.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gazette_store::Reader;
use gazette_store::posts::{self, PostFilter};
use serde::Deserialize;
use serde_json::Value;

use crate::state::AppState;

const ACTIVITY_JSON: &str = "application/activity+json";
const JRD_JSON: &str = "application/jrd+json";
const NODEINFO_JSON: &str =
    "application/json; profile=\"http://nodeinfo.diaspora.software/ns/schema/2.1#\"";

/// The federation routes, when federation is on.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/webfinger", get(webfinger))
        .route("/.well-known/nodeinfo", get(nodeinfo_links))
        .route("/nodeinfo/2.1", get(nodeinfo))
        .route("/actor", get(actor))
}

#[derive(Debug, Default, Deserialize)]
pub struct WebfingerQuery {
    resource: Option<String>,
}

/// `?resource=acct:blog@host` (or the actor's URL): the actor's JRD, or 404.
async fn webfinger(
    State(state): State<AppState>,
    query: Result<Query<WebfingerQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(site) = &state.config.federation else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let resource = query.ok().and_then(|Query(query)| query.resource);
    let Some(resource) = resource.filter(|resource| !resource.trim().is_empty()) else {
        return (
            StatusCode::BAD_REQUEST,
            "Give the account to look up: ?resource=acct:name@host\n",
        )
            .into_response();
    };
    if !site.is_this_actor(resource.trim()) {
        return (
            StatusCode::NOT_FOUND,
            format!(
                "No account here is {resource}; this site's is {}.\n",
                site.handle()
            ),
        )
            .into_response();
    }
    json(JRD_JSON, &site.webfinger(), true)
}

async fn nodeinfo_links(State(state): State<AppState>) -> Response {
    match &state.config.federation {
        Some(site) => json("application/json", &site.nodeinfo_links(), true),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn nodeinfo(State(state): State<AppState>) -> Response {
    let Some(site) = &state.config.federation else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let published = state
        .read_page(|pool| async move {
            posts::count(&pool, Reader::PUBLIC, &PostFilter::published()).await
        })
        .await;
    match published {
        Ok(count) => json(NODEINFO_JSON, &site.nodeinfo(count), true),
        Err(error) => {
            tracing::warn!(error = %gazette_store::display_chain(&error), "cannot count posts for NodeInfo");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                "NodeInfo is unavailable for a moment: try again shortly.\n",
            )
                .into_response()
        }
    }
}

/// The actor document for ActivityPub clients; a browser is sent to the posts.
async fn actor(State(state): State<AppState>, request: HeaderMap) -> Response {
    let Some(site) = &state.config.federation else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let accept = request
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let wants_page = accept.contains("text/html")
        && !accept.contains("activity+json")
        && !accept.contains("ld+json");
    let mut response = match wants_page {
        true => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            if let Ok(location) = HeaderValue::from_str(&state.config.site.url("posts")) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        false => json(ACTIVITY_JSON, &site.actor(), false),
    };
    // One address, two answers: caches must keep them apart.
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// A JSON document of `media_type`; `open` ones may be read by any site's scripts (as
/// WebFinger and NodeInfo are meant to be).
fn json(media_type: &'static str, body: &Value, open: bool) -> Response {
    let mut response = (
        [
            (header::CONTENT_TYPE, media_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body.to_string(),
    )
        .into_response();
    if open {
        response.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
    }
    response
}
