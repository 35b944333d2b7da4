//! What the router's answers pass on their way out, in one layer: the security headers,
//! the HTTP metrics, and the request's log span with a line for a server error. (CORS
//! preflights, answered by the CORS layer outside it, and `/metrics`, merged after it,
//! do not pass it.) Its log lines have the target `gazette_api::edge`: a debug span
//! `request` (method, uri, version) and "finished processing request" at debug, and
//! "response failed" at error for a 5xx, with `status` and `latency`.
//!
//! It was three layers (`from_fn(metrics::track)`, tower-http's `TraceLayer` and
//! `map_response(security_headers)`), each with a future of its own around the next and
//! `from_fn`'s boxed; the trace layer also wrapped every body to watch its end. Merged,
//! q2r's server CPU per request went from 0.091 to 0.081 ms (docs/benchmarks.md).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method, header};
use axum::response::Response;
use tower_layer::Layer;
use tower_service::Service;
use tracing::Span;

use gazette_metrics::metrics;

/// The layer: see the module.
#[derive(Clone, Copy)]
pub struct EdgeLayer;

impl<S> Layer<S> for EdgeLayer {
    type Service = Edge<S>;

    fn layer(&self, inner: S) -> Edge<S> {
        Edge { inner }
    }
}

#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
}

// Infallible, as axum's routes are: an error would pass this layer without headers,
// metrics or a log line.
impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        // As tower-http's trace layer made it: events inside the request carry its method
        // and address when debug logging is on (a disabled span costs nothing more).
        let span = tracing::debug_span!(
            "request",
            method = %request.method(),
            uri = %request.uri(),
            version = ?request.version(),
        );
        // A shared string: cloning it costs no allocation.
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = method_label(request.method());
        let inner = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        EdgeFuture {
            inner,
            span,
            started,
            route,
            method,
        }
    }
}

pin_project_lite::pin_project! {
    pub struct EdgeFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        started: Instant,
        route: Option<MatchedPath>,
        method: &'static str,
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let mut response = ready!(this.inner.poll(cx))?;
        security_headers(&mut response);
        let route = this.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        let status = response.status();
        let latency = this.started.elapsed();
        // By route pattern, never the raw path (that is the client's to vary without
        // bound), method and status; timed to the response head.
        let metrics = metrics();
        metrics
            .http_requests
            .with_label_values(&[route, this.method, status.as_str()])
            .inc();
        metrics
            .http_duration
            .with_label_values(&[route])
            .observe(latency.as_secs_f64());
        if status.is_server_error() {
            tracing::error!(status = status.as_u16(), ?latency, "response failed");
        } else {
            tracing::debug!(
                status = status.as_u16(),
                ?latency,
                "finished processing request"
            );
        }
        Poll::Ready(Ok(response))
    }
}

/// The metrics' method label: the common methods (PUT and DELETE only ever get 405), and
/// "other" for the rest, so that a client inventing methods cannot grow the label set.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "other",
    }
}

/// On every answer of the router: browsers must not guess a type other than the one sent
/// (a feed or a `.txt` syndication document must never be run as a script or a page), and
/// no other site may frame Gazette's pages (clickjacking).
fn security_headers(response: &mut Response) {
    let headers = response.headers_mut();
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    headers
        .entry(header::X_FRAME_OPTIONS)
        .or_insert(HeaderValue::from_static("DENY"));
}
