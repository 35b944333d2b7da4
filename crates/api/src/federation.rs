//! The fediverse's ways to find the blog (docs/federation.md): WebFinger, NodeInfo and
//! the actor document. Served only with `--federation`; the documents themselves are
//! `gazette_federation`'s.

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::SecondsFormat;
use gazette_federation::ArticlePost;
use gazette_store::posts::{self, Post, PostColumns, PostFilter};
use gazette_store::tags::Tag;
use gazette_store::{PgPool, ReadBudget, Reader, StoreError};
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
        .route("/ap/posts/{id}", get(article_by_id))
}

/// Whether a request asks for ActivityPub JSON (`application/activity+json`, or JSON-LD
/// with the ActivityStreams profile) rather than a page.
pub fn wants_activity(request: &HeaderMap) -> bool {
    request
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|accept| {
            accept.contains("application/activity+json") || accept.contains("application/ld+json")
        })
}

/// A published post as an `Article`, by its object id; a browser is sent to its page.
async fn article_by_id(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: HeaderMap,
) -> Response {
    if state.config.federation.is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Some(id) = id.parse::<i64>().ok().filter(|id| *id > 0) else {
        return not_found();
    };
    let found = state
        .read_page(|pool| async move {
            let post = posts::find_visible(
                &pool,
                &[id],
                Reader::PUBLIC,
                PostColumns::All,
                &ReadBudget::unlimited(),
            )
            .await?
            .remove(&id);
            with_tags(&pool, post).await
        })
        .await;
    match found {
        Ok(Some((post, _))) if !wants_activity(&request) => {
            see_other(&state.config.site.post_url(&post.slug))
        }
        Ok(found) => article_answer(&state, found),
        Err(error) => unavailable(&error),
    }
}

/// `/posts/{slug}` asked for as ActivityPub JSON: the post's `Article` (how Mastodon
/// looks up a pasted link).
pub async fn article_by_slug(state: &AppState, slug: &str) -> Response {
    let found = state
        .read_page(|pool| async move {
            let post = posts::find_visible_by_slug(
                &pool,
                slug,
                Reader::PUBLIC,
                PostColumns::All,
                &ReadBudget::unlimited(),
            )
            .await?;
            with_tags(&pool, post).await
        })
        .await;
    match found {
        Ok(found) => article_answer(state, found),
        Err(error) => unavailable(&error),
    }
}

/// The post (read as the public) with its tags.
async fn with_tags(
    pool: &PgPool,
    post: Option<Post>,
) -> Result<Option<(Post, Vec<Tag>)>, StoreError> {
    let Some(post) = post else {
        return Ok(None);
    };
    let tags = gazette_domain::policy::tags_of_read_posts(pool, &[post.id])
        .await?
        .remove(&post.id)
        .unwrap_or_default();
    Ok(Some((post, tags)))
}

fn article_answer(state: &AppState, found: Option<(Post, Vec<Tag>)>) -> Response {
    let (Some(site), Some((post, tags))) = (&state.config.federation, found) else {
        return not_found();
    };
    let article = site.article(&ArticlePost {
        id: post.id,
        slug: &post.slug,
        title: &post.title,
        excerpt: &post.excerpt,
        body_html: &post.body_html,
        published: post
            .published_at
            .unwrap_or(post.created_at)
            .to_rfc3339_opts(SecondsFormat::Secs, true),
        updated: post.updated_at.to_rfc3339_opts(SecondsFormat::Secs, true),
        tags: tags
            .iter()
            .map(|tag| (tag.name.as_str(), tag.slug.as_str()))
            .collect(),
    });
    let mut response = json(ACTIVITY_JSON, &article, false);
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "There is no published post here.\n").into_response()
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn unavailable(error: &StoreError) -> Response {
    tracing::warn!(error = %gazette_store::display_chain(error), "cannot read a post for federation");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        "This object is unavailable for a moment: try again shortly.\n",
    )
        .into_response()
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
        true => see_other(&state.config.site.url("posts")),
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
