use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use gazette_store::Reads;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::timeout::TimeoutLayer;

use crate::edge::EdgeLayer;
use crate::listener::ConnectionLimits;
use crate::state::{ApiConfig, AppState, CorsOrigins};
use crate::{
    federation, feeds, graphiql, graphql, health, metrics, old_links, pages, sitemap, unsent,
};

/// Every route Gazette serves.
pub fn router(state: AppState) -> Router {
    let cors = cors_layer(&state.config.cors);
    let scrape = state.config.metrics_on_api.then(|| metrics::Scrape {
        reads: state.reads.clone(),
        moderation_queue: true,
    });
    let routes = Router::new()
        .route("/", get(old_links::root))
        .route(
            "/graphql",
            get(graphql::http::get)
                .post(graphql::http::post)
                // The handler reads the body itself, after its checks, up to its own limit.
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/graphql/ws", get(graphql::ws::subscriptions))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/favicon.ico", get(pages::favicon))
        .route("/posts", get(pages::posts_page))
        .route("/posts/{slug}", get(pages::post_page))
        .route(
            "/posts/{slug}/comments",
            get(pages::comment_form_address).post(pages::submit_comment),
        )
        .route("/moderation", get(pages::moderation::queue))
        .route(
            "/moderation/sign-in",
            moderation_form(post(pages::moderation::sign_in)),
        )
        .route(
            "/moderation/sign-out",
            moderation_form(post(pages::moderation::sign_out)),
        )
        .route(
            "/moderation/comments/{id}",
            moderation_form(post(pages::moderation::act)),
        )
        .route("/tags/{slug}", get(pages::tag_page))
        .route("/{year}/{month}/{slug}", get(old_links::by_month))
        .route("/{year}/{month}/{slug}/", get(old_links::by_month))
        .route("/{year}/{month}/{day}/{slug}/", get(old_links::by_day))
        .merge(federation::routes())
        // Inside the compression: what is held is the answer as built.
        .route_layer(middleware::from_fn_with_state(state.clone(), unsent::hold))
        .merge(graphiql::routes())
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        // Feeds and channel texts are served from memory, gzipped ahead of time: no
        // per-request compression, and no timer for a response that never waits long.
        .merge(feed_routes())
        // Set before the edge layer, so these answers get their headers and metrics too.
        .fallback(pages::nowhere)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(EdgeLayer)
        .with_state(state);
    let routes = match scrape {
        Some(scrape) => routes
            .merge(metrics::routes(scrape))
            .method_not_allowed_fallback(method_not_allowed),
        None => routes,
    };
    match cors {
        Some(cors) => routes.layer(cors),
        None => routes,
    }
}

/// A moderation form's route: `GET` on its address leads to the queue (the form's body is
/// read within the forms' bounds, `pages::form`).
fn moderation_form(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.get(pages::moderation::to_queue)
}

fn feed_routes() -> Router<AppState> {
    gazette_domain::feeds::FEEDS
        .iter()
        .fold(Router::new(), |router, route| {
            router.route(&route.route(), feeds::handler(route))
        })
        .merge(graphiql::asset_routes())
        .route("/syndication/{file}", get(feeds::channel_texts))
        .route("/sitemap.xml", get(sitemap::sitemap_xml))
        .route("/sitemaps/{file}", get(sitemap::sitemap_part))
        .route("/robots.txt", get(sitemap::robots_txt))
}

/// A `405` that says so in a sentence (axum adds the `Allow` header with the methods the
/// address takes); axum's own is an empty body.
async fn method_not_allowed(method: Method) -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!(
            "This address does not take {method} requests; its Allow header lists those it takes.\n"
        ),
    )
        .into_response()
}

/// Browsers may call the API from the configured origins: queries, mutations and feeds,
/// with the `Authorization` header; the validators of feeds are readable.
fn cors_layer(origins: &CorsOrigins) -> Option<CorsLayer> {
    let allow_origin = match origins {
        CorsOrigins::None => return None,
        CorsOrigins::Any => AllowOrigin::any(),
        CorsOrigins::List(origins) => AllowOrigin::list(
            origins
                .iter()
                .filter_map(|origin| HeaderValue::from_str(origin).ok()),
        ),
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
            .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
            .expose_headers([header::ETAG, header::LAST_MODIFIED, header::RETRY_AFTER])
            .max_age(Duration::from_secs(3600)),
    )
}

/// Serves the API on `listener` until `shutdown` completes, then ends subscriptions and
/// finishes in-flight requests.
pub async fn serve(
    listener: TcpListener,
    reads: Reads,
    config: ApiConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (shutting_down, shutdown_seen) = watch::channel(false);
    let state = AppState::new(reads, config, shutdown_seen);
    let config = &state.config;
    let limits = ConnectionLimits {
        total: config.limits.http_max_connections,
        // Behind a trusted proxy every connection has the proxy's address.
        per_client: (config.trusted_proxy_hops == 0)
            .then_some(config.limits.http_max_connections_per_client),
        write_timeout: config.limits.http_write_timeout,
        unsent: Some((state.unsent.clone(), state.unsent_shares.clone())),
    };
    // After the signal, requests in flight get `SHUTDOWN_DRAIN` to finish (a statement is
    // stopped after 5 s anyway); WebSockets are closed with 1001 at once.
    let signalled = async move {
        shutdown.await;
        let _ = shutting_down.send(true);
    };
    crate::listener::serve(listener, router(state), limits, signalled, SHUTDOWN_DRAIN).await
}

/// How long a stopping API waits for requests in flight.
pub const SHUTDOWN_DRAIN: std::time::Duration = std::time::Duration::from_secs(10);
