//! `/metrics` for Prometheus (the HTTP requests are counted by `edge.rs`). The families
//! are gazette-metrics'; what is a state rather than an event (pool sizes, readiness, the
//! moderation queue) is read here at each scrape.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gazette_metrics::{PoolStats, metrics};
use gazette_store::{Reads, WarmConnections, meta};
use tokio::net::TcpListener;

/// The text exposition format's content type.
const EXPOSITION: &str = "text/plain; version=0.0.4; charset=utf-8";
/// A scrape must answer even when the database does not.
const SAMPLE_TIMEOUT: Duration = Duration::from_secs(1);

/// What a scrape reads besides the counters.
#[derive(Debug, Clone)]
pub struct Scrape {
    pub reads: Reads,
    /// The moderation queue's size is the API's concern; a worker-only process leaves it out.
    pub moderation_queue: bool,
}

/// `GET /metrics`, for a router of any state.
pub fn routes<S>(scrape: Scrape) -> Router<S> {
    Router::new()
        .route("/metrics", get(render))
        .with_state(scrape)
}

/// Serves `/metrics` alone on `listener` (`--metrics-listen`) until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    scrape: Scrape,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // A scraper or two: few connections, with the same header timeout as the API's, and
    // a few per address so that one cannot hold them all.
    let limits = crate::listener::ConnectionLimits {
        total: 64,
        per_client: Some(4),
        write_timeout: std::time::Duration::from_secs(20),
        unsent: None,
    };
    crate::listener::serve(
        listener,
        routes::<()>(scrape),
        limits,
        shutdown,
        std::time::Duration::from_secs(1),
    )
    .await
}

async fn render(State(scrape): State<Scrape>) -> Response {
    let metrics = metrics();
    let primary = scrape.reads.primary();
    metrics.pool("primary", stats(scrape.reads.primary_warm()));
    // Replicas are summed: one series per replica URL would name servers in labels.
    let replicas = scrape.reads.replicas();
    metrics
        .replicas_configured
        .set(i64::try_from(replicas.len()).unwrap_or(i64::MAX));
    metrics
        .replicas_healthy
        .set(i64::try_from(replicas.answering()).unwrap_or(i64::MAX));
    if !replicas.is_empty() {
        let summed = replicas.pools().map(stats).fold(
            PoolStats {
                size: 0,
                idle: 0,
                max: 0,
            },
            |sum, pool| PoolStats {
                size: sum.size + pool.size,
                idle: sum.idle + pool.idle,
                max: sum.max + pool.max,
            },
        );
        metrics.pool("replica", summed);
    }
    let waiting = std::iter::once(&**scrape.reads.primary_warm())
        .chain(replicas.pools())
        .map(WarmConnections::post_pages_waiting)
        .sum::<usize>();
    metrics
        .post_pages_waiting
        .set(i64::try_from(waiting).unwrap_or(i64::MAX));
    let ready = tokio::time::timeout(SAMPLE_TIMEOUT, meta::ping(primary)).await;
    metrics.ready.set(i64::from(matches!(ready, Ok(Ok(())))));
    if scrape.moderation_queue {
        let queue = tokio::time::timeout(
            SAMPLE_TIMEOUT,
            gazette_domain::commenting::awaiting_moderation(primary),
        );
        if let Ok(Ok(count)) = queue.await {
            metrics.comments_awaiting_moderation.set(count);
        }
    }
    // Every process reads it: a worker-only process is where one looks for it first.
    let backlog = tokio::time::timeout(SAMPLE_TIMEOUT, gazette_store::webhooks::backlog(primary));
    if let Ok(Ok(count)) = backlog.await {
        metrics.webhook_backlog.set(count);
    }
    let backlog = tokio::time::timeout(SAMPLE_TIMEOUT, gazette_store::federation::backlog(primary));
    if let Ok(Ok(count)) = backlog.await {
        metrics.federation_backlog.set(count);
    }
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(EXPOSITION))],
        metrics.render(),
    )
        .into_response()
}

/// A connection kept for the next compiled read is idle too, though the pool counts it as
/// taken.
fn stats(warm: &WarmConnections) -> PoolStats {
    let pool = warm.pool();
    PoolStats {
        size: pool.size(),
        idle: pool.num_idle() + warm.kept(),
        max: pool.options().get_max_connections(),
    }
}
