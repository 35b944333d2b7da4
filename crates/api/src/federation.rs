//! The blog on the fediverse (docs/federation.md): WebFinger, NodeInfo, the actor and
//! its collections, posts and comments as objects, and the inbox. Served only with
//! `--federation`; the documents are `gazette_federation`'s, what an activity does is
//! `gazette_domain::federation`'s.

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, DefaultBodyLimit, OriginalUri, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gazette_domain::federation::inbox::{self, InboxError, InboxRequest, Received};
use gazette_domain::federation::{self as use_cases, PostRef, fanout};
use gazette_store::federation as federation_store;
use gazette_store::keyset::{Position, SortKey, Window};
use gazette_store::posts::{self, Post, PostFilter, PostOrder, PostOrderField};
use gazette_store::{ReadBudget, Reader, StoreError};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::bodies::BodyRefused;
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
        .route("/actor/outbox", get(outbox))
        .route("/actor/followers", get(followers))
        .route("/ap/posts/{id}", get(article_by_id))
        .route("/ap/comments/{id}", get(note_by_id))
        .route("/ap/notes/{id}", get(sent_note_by_id))
        .route(
            "/actor/inbox",
            post(receive).layer(DefaultBodyLimit::disable()),
        )
        .route("/inbox", post(receive).layer(DefaultBodyLimit::disable()))
}

/// The most an activity may weigh: a long reply with its HTML and JSON-LD, many times
/// over.
const INBOX_BODY_LIMIT: usize = 256 * 1024;

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
    let Some(id) = id.parse::<i64>().ok().filter(|id| *id > 0) else {
        return not_found();
    };
    article_answer(&state, PostRef::Id(id), !wants_activity(&request)).await
}

/// `/posts/{slug}` asked for as ActivityPub JSON: the post's `Article` (how Mastodon
/// looks up a pasted link).
pub async fn article_by_slug(state: &AppState, slug: &str) -> Response {
    article_answer(state, PostRef::Slug(slug.to_owned()), false).await
}

/// The post's `Article`, or (for a browser) a redirect to its page.
async fn article_answer(state: &AppState, post: PostRef, to_page: bool) -> Response {
    let Some(federation) = &state.config.federation else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (site, post) = (&federation.site, &post);
    let found = state
        .read_page(|pool| async move {
            let Some(post) = use_cases::public_post(&pool, post).await? else {
                return Ok(None);
            };
            let article = use_cases::article(&pool, site, &post).await?;
            Ok(Some((post, article)))
        })
        .await;
    match found {
        Ok(Some((post, _))) if to_page => see_other(&state.config.site.post_url(&post.slug)),
        Ok(Some((_, article))) => activity(&article),
        Ok(None) => not_found(),
        Err(error) => unavailable(&error),
    }
}

/// A comment written on the blog, as its `Note`; a browser is sent to it on its post's page.
async fn note_by_id(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: HeaderMap,
) -> Response {
    let Some(federation) = &state.config.federation else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(id) = id.parse::<i64>().ok().filter(|id| *id > 0) else {
        return not_found();
    };
    let found = state
        .read_page(|pool| async move { fanout::note(&pool, federation, id).await })
        .await;
    match found {
        Ok(Some((note, _))) if !wants_activity(&request) => match note["url"].as_str() {
            Some(url) => see_other(url),
            None => not_found(),
        },
        Ok(Some((note, _))) => activity(&note),
        Ok(None) => not_found(),
        Err(error) => unavailable(&error),
    }
}

/// A reply a writer sent to a post elsewhere, as its `Note`.
async fn sent_note_by_id(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let Some(federation) = &state.config.federation else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(id) = id.parse::<i64>().ok().filter(|id| *id > 0) else {
        return not_found();
    };
    let found = state
        .read_page(|pool| async move { federation_store::note(&pool, id).await })
        .await;
    match found {
        // Withdrawn: gone, and a Tombstone says so.
        Ok(Some(note)) if note.deleted_at.is_some() => {
            let mut response = activity(&json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": federation.site.sent_note_id(note.id),
                "type": "Tombstone",
            }));
            *response.status_mut() = StatusCode::GONE;
            response
        }
        Ok(Some(note)) => activity(&gazette_domain::federation::outreach::sent_note(
            federation, &note,
        )),
        Ok(None) => not_found(),
        Err(error) => unavailable(&error),
    }
}

/// An ActivityPub document: one address answers a page or JSON, so caches keep them apart.
fn activity(document: &Value) -> Response {
    let mut response = json(ACTIVITY_JSON, document, false);
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    response
}

/// Posts in the outbox's pages.
const OUTBOX_PAGE: usize = 20;

#[derive(Debug, Default, Deserialize)]
pub struct OutboxQuery {
    page: Option<String>,
    before: Option<String>,
}

/// The outbox: an `OrderedCollection` of the published posts' `Create`s, newest first, in
/// pages of 20 (`?page=true`, then each page's `next`).
async fn outbox(
    State(state): State<AppState>,
    query: Result<Query<OutboxQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(federation) = state.config.federation.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let outbox_id = format!("{}/outbox", federation.site.actor_id());
    if query.page.is_none() && query.before.is_none() {
        let total = state
            .read_page(|pool| async move {
                posts::count(&pool, Reader::PUBLIC, &PostFilter::published()).await
            })
            .await;
        return match total {
            Ok(total) => activity(&json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": outbox_id,
                "type": "OrderedCollection",
                "totalItems": total,
                "first": format!("{outbox_id}?page=true"),
            })),
            Err(error) => unavailable(&error),
        };
    }
    // The cursor is the last post's position: its publication time (µs) and id.
    let after = match query.before.as_deref().map(read_cursor) {
        None => None,
        Some(Some(position)) => Some(position),
        Some(None) => {
            return (
                StatusCode::BAD_REQUEST,
                "`before` is not a page's cursor.\n",
            )
                .into_response();
        }
    };
    let this = match &query.before {
        Some(before) => format!("{outbox_id}?page=true&before={before}"),
        None => format!("{outbox_id}?page=true"),
    };
    let (site, after) = (&federation.site, &after);
    let page = state
        .read_page(|pool| async move {
            let filter = PostFilter::published();
            let window = Window {
                after: after.clone(),
                before: None,
                limit: i64::try_from(OUTBOX_PAGE).unwrap_or(20) + 1,
                from_end: false,
            };
            let mut found = posts::page(
                &pool,
                Reader::PUBLIC,
                &filter,
                PostOrder::default(),
                &window,
                posts::PostColumns::All,
                &ReadBudget::unlimited(),
            )
            .await?;
            let more = found.len() > OUTBOX_PAGE;
            found.truncate(OUTBOX_PAGE);
            // One statement for every post's tags, not one per post.
            let items: Vec<Value> = use_cases::articles(&pool, site, &found)
                .await?
                .into_iter()
                .map(|article| site.create(article))
                .collect();
            let next = found.last().filter(|_| more).map(|post: &Post| {
                let position = post.position(PostOrderField::PublishedAt);
                match position.key {
                    SortKey::Time(time) => format!("{}-{}", time.timestamp_micros(), position.id),
                    _ => String::new(),
                }
            });
            Ok((items, next))
        })
        .await;
    let (items, next) = match page {
        Ok(page) => page,
        Err(error) => return unavailable(&error),
    };
    let mut document = json!({
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": this,
        "type": "OrderedCollectionPage",
        "partOf": outbox_id,
        "orderedItems": items,
    });
    if let Some(next) = next {
        document["next"] = json!(format!("{outbox_id}?page=true&before={next}"));
    }
    activity(&document)
}

/// A page cursor: `<publication time in µs>-<post id>`.
fn read_cursor(cursor: &str) -> Option<Position> {
    let (micros, id) = cursor.split_once('-')?;
    let time = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    Some(Position {
        key: SortKey::Time(time),
        id: id.parse().ok()?,
    })
}

/// Followers listed per page of the followers collection.
const FOLLOWERS_PAGE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct FollowersQuery {
    page: Option<String>,
}

/// The followers collection: how many, and who only with `--federation-list-followers`
/// (a follower list tells who reads the blog, which is theirs to tell), in pages of 50
/// (`?page=1`, `?page=2`…).
async fn followers(
    State(state): State<AppState>,
    query: Result<Query<FollowersQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Some(federation) = &state.config.federation else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let id = format!("{}/followers", federation.site.actor_id());
    let page = query.ok().and_then(|Query(query)| query.page);
    if let Some(page) = page.filter(|_| federation.list_followers) {
        let Some(page) = page
            .parse::<i64>()
            .ok()
            .filter(|page| (1..=100_000).contains(page))
        else {
            return (StatusCode::BAD_REQUEST, "`page` is a page number from 1.\n").into_response();
        };
        let offset = (page - 1) * FOLLOWERS_PAGE;
        let ids = state
            .read_page(|pool| async move {
                federation_store::accepted_follower_ids(&pool, FOLLOWERS_PAGE + 1, offset).await
            })
            .await;
        let mut ids = match ids {
            Ok(ids) => ids,
            Err(error) => return unavailable(&error),
        };
        let more = ids.len() > FOLLOWERS_PAGE as usize;
        ids.truncate(FOLLOWERS_PAGE as usize);
        let mut document = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{id}?page={page}"),
            "type": "OrderedCollectionPage",
            "partOf": id,
            "orderedItems": ids,
        });
        if more {
            document["next"] = json!(format!("{id}?page={}", page + 1));
        }
        return activity(&document);
    }
    let count = state
        .read_page(|pool| async move { federation_store::follower_count(&pool).await })
        .await;
    match count {
        Ok(count) => {
            let mut document = json!({
                "@context": "https://www.w3.org/ns/activitystreams",
                "id": id,
                "type": "OrderedCollection",
                "totalItems": count,
            });
            if federation.list_followers {
                document["first"] = json!(format!("{id}?page=1"));
            }
            activity(&document)
        }
        Err(error) => unavailable(&error),
    }
}

/// The inbox (the actor's and the shared one): a signed activity, verified and acted on.
async fn receive(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    OriginalUri(uri): OriginalUri,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (Some(federation), Some(remote)) = (&state.config.federation, &state.remote) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let metrics = gazette_metrics::metrics();
    let count = |outcome: &str| metrics.federation_inbox.with_label_values(&[outcome]).inc();
    let too_large = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok())
        .is_some_and(|length| length > INBOX_BODY_LIMIT);
    let client = crate::client::client_key(&headers, peer, state.config.trusted_proxy_hops);
    let read = match too_large {
        true => Err(BodyRefused::TooLarge),
        false => crate::bodies::read(body, INBOX_BODY_LIMIT, &state.body_budget(&client)).await,
    };
    let body = match read {
        Ok(body) => body,
        Err(refused) => {
            count("refused");
            let (status, sentence) = match refused {
                BodyRefused::TooLarge => (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("An activity may have at most {INBOX_BODY_LIMIT} bytes."),
                ),
                BodyRefused::Busy => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Too many large requests are being read: try again in a few seconds."
                        .to_owned(),
                ),
                BodyRefused::TimedOut => (
                    StatusCode::REQUEST_TIMEOUT,
                    "The activity did not arrive in time.".to_owned(),
                ),
                BodyRefused::Broken => (
                    StatusCode::BAD_REQUEST,
                    "The activity could not be read to its end.".to_owned(),
                ),
            };
            return (status, format!("{sentence}\n")).into_response();
        }
    };
    // Signatures name the inbox as the sender addressed it: under the public URL.
    let prefix = url::Url::parse(&federation.site.public_url)
        .map(|url| url.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let path_query = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let target = format!("{prefix}{path_query}");
    let origin = federation
        .site
        .public_url
        .strip_suffix(&prefix)
        .unwrap_or(&federation.site.public_url);
    let target_uri = format!("{origin}{target}");
    let header_pairs: Vec<(&str, &str)> = headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let request = InboxRequest {
        method: method.as_str(),
        target: &target,
        target_uri: &target_uri,
        headers: &header_pairs,
        body: &body,
    };
    let received = inbox::receive(
        &state.pool,
        federation,
        remote,
        &state.config.commenting,
        &request,
    )
    .await;
    match received {
        Ok(received) => {
            count(match received {
                Received::Ignored => "ignored",
                _ => "accepted",
            });
            tracing::debug!(?received, "inbox activity");
            // Follows and reactions leave the cache to the change event: a peer's stream of
            // likes does not empty it.
            if matches!(
                received,
                Received::Commented { .. }
                    | Received::CommentChanged { .. }
                    | Received::CommentDeleted { .. }
                    | Received::ActorDeleted { comments: 1.. }
            ) {
                state.wrote_content();
            }
            StatusCode::ACCEPTED.into_response()
        }
        Err(error) => {
            let (status, outcome) = match &error {
                InboxError::Unsigned(_) => (StatusCode::UNAUTHORIZED, "unsigned"),
                InboxError::Blocked => (StatusCode::FORBIDDEN, "blocked"),
                InboxError::NotYours => (StatusCode::FORBIDDEN, "refused"),
                InboxError::Unreadable(_) => (StatusCode::BAD_REQUEST, "refused"),
                InboxError::Refused(refused) => (refused_status(refused), "refused"),
                InboxError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            };
            count(outcome);
            tracing::info!(%error, status = status.as_u16(), "inbox refused an activity");
            let mut response = (status, format!("{error}\n")).into_response();
            let retry_after = match &error {
                InboxError::Refused(gazette_domain::DomainError::RateLimited { retry_after }) => {
                    Some(retry_after.to_string())
                }
                InboxError::Unavailable => Some("5".to_owned()),
                _ => None,
            };
            if let Some(value) = retry_after.and_then(|value| HeaderValue::from_str(&value).ok()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
    }
}

/// The status for a reply the comment rules refused.
fn refused_status(error: &gazette_domain::DomainError) -> StatusCode {
    use gazette_domain::DomainError;
    match error {
        DomainError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        DomainError::CommentsClosed(_) | DomainError::Forbidden(_) => StatusCode::FORBIDDEN,
        DomainError::NotFound(_) => StatusCode::NOT_FOUND,
        DomainError::Unavailable | DomainError::TimedOut => StatusCode::SERVICE_UNAVAILABLE,
        DomainError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
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
    let Some(site) = state
        .config
        .federation
        .as_ref()
        .map(|federation| &federation.site)
    else {
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
        Some(federation) => json("application/json", &federation.site.nodeinfo_links(), true),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn nodeinfo(State(state): State<AppState>) -> Response {
    let Some(site) = state
        .config
        .federation
        .as_ref()
        .map(|federation| &federation.site)
    else {
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
    let Some(site) = state
        .config
        .federation
        .as_ref()
        .map(|federation| &federation.site)
    else {
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
