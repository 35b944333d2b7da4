//! The feeds the worker generated, served from memory with conditional GET.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use axum::routing::{MethodRouter, get};
use gazette_domain::feeds::{FeedRoute, FeedSettings, Subject};

use crate::conditional;
use crate::state::AppState;

/// The handler of one row of the feed table ([`FEEDS`](gazette_domain::feeds::FEEDS)).
pub fn handler(route: &'static FeedRoute) -> MethodRouter<AppState> {
    match route.subject {
        Subject::Posts | Subject::Comments => get(
            move |State(state): State<AppState>, headers: HeaderMap| async move {
                serve_site_feed(&state, &route.key(""), &headers).await
            },
        ),
        Subject::Tag => get(
            move |State(state): State<AppState>, Path(slug): Path<String>, headers: HeaderMap| async move {
                tag_feed(&state, route, &slug, &headers).await
            },
        ),
        Subject::PostComments => get(
            move |State(state): State<AppState>, Path(slug): Path<String>, headers: HeaderMap| async move {
                post_comments_feed(&state, route, &slug, &headers).await
            },
        ),
    }
}

/// `/syndication/{slug}.json` and `.txt`: a channel's ready-to-post texts.
pub async fn channel_texts(
    State(state): State<AppState>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let slug = file
        .strip_suffix(".json")
        .or_else(|| file.strip_suffix(".txt"))
        .unwrap_or("");
    let missing = format!("There is no enabled channel “{slug}”; see Query.channels.\n");
    serve_named_feed(
        &state,
        slug,
        &format!("syndication/{file}"),
        missing,
        &headers,
    )
    .await
}

async fn tag_feed(
    state: &AppState,
    route: &FeedRoute,
    slug: &str,
    headers: &HeaderMap,
) -> Response {
    let missing = format!("There is no tag “{slug}” with published posts.\n");
    serve_named_feed(state, slug, &route.key(slug), missing, headers).await
}

async fn post_comments_feed(
    state: &AppState,
    route: &FeedRoute,
    slug: &str,
    headers: &HeaderMap,
) -> Response {
    let missing = format!("There is no published post “{slug}”.\n");
    let key = route.key(slug);
    if gazette_content::is_slug(slug, 200) {
        match state.feeds.get(&key).await {
            Ok(Some(feed)) => return conditional::respond(&feed, headers),
            // A failure is reported (and a last good copy served) by the look-up below.
            Err(_) => return serve_named_feed(state, slug, &key, missing, headers).await,
            Ok(None) => {}
        }
        // Built on the first request rather than for every post on every run; the worker
        // keeps it current from then on.
        let settings = FeedSettings {
            site: state.config.site.clone(),
            feed_items: state.config.feed_items,
            websub_hub: state.config.websub_hub.clone(),
            actor: state
                .config
                .federation
                .as_ref()
                .map(|federation| federation.site.actor_id()),
        };
        match gazette_domain::feeds::build_post_comments(&state.pool, &settings, slug).await {
            Ok(_) => state.feeds.stored(key.clone()),
            Err(error) => {
                tracing::error!(error = %gazette_store::display_chain(&error), key, "could not build a comment feed")
            }
        }
    }
    serve_named_feed(state, slug, &key, missing, headers).await
}

/// The site's own feeds always exist once the worker has run.
async fn serve_site_feed(state: &AppState, key: &str, headers: &HeaderMap) -> Response {
    let missing = || {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "5")],
            "This feed has not been generated yet; the worker builds it within seconds of starting. Try again shortly.\n",
        )
            .into_response()
    };
    serve(state, key, headers, missing).await
}

/// Feeds of a tag or a post: a 404 names what is missing.
async fn serve_named_feed(
    state: &AppState,
    slug: &str,
    key: &str,
    missing: String,
    headers: &HeaderMap,
) -> Response {
    let not_found = move || (StatusCode::NOT_FOUND, missing).into_response();
    if !gazette_content::is_slug(slug, 200) {
        return not_found();
    }
    serve(state, key, headers, not_found).await
}

async fn serve(
    state: &AppState,
    key: &str,
    headers: &HeaderMap,
    missing: impl FnOnce() -> Response,
) -> Response {
    match state.feeds.get(key).await {
        Ok(Some(feed)) => conditional::respond(&feed, headers),
        Ok(None) => missing(),
        Err(error) => {
            tracing::error!(error = %gazette_store::display_chain(&error), key, "could not load a feed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "5")],
                "The feed is temporarily unavailable. Try again shortly.\n",
            )
                .into_response()
        }
    }
}
