//! GraphQL over HTTP, per the GraphQL-over-HTTP specification: `POST /graphql` with a JSON
//! body, `GET /graphql?query=…` for queries only. Responses are
//! `application/graphql-response+json` when the client accepts it (with the spec's status
//! codes: 400 for requests that cannot execute), `application/json` otherwise (200 for
//! every well-formed request, as older clients expect).
//!
//! One job a module: [`request`] reads the request, [`execution`] runs it in phases,
//! [`response`] writes the answer, [`report`] is what the metrics say of it, and
//! [`refusals`] counts what a client is refused. This file is the two handlers and the
//! path between them: the penalty check, the response cache, and the metrics.

mod execution;
pub use execution::VERIFIED_HEADER;
mod refusals;
mod report;
mod request;
pub(crate) use self::request::MAX_BODY_BYTES;
mod response;

use std::net::SocketAddr;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use gazette_domain::ClientKey;

use self::execution::Operation;
use self::refusals::{count_refusal, is_refusal, refusal_key, unreadable};
use self::report::{Report, operation_label};
use self::request::{Params, Unreadable};
use self::response::{MediaType, Unacceptable, negotiate, not_acceptable, penalised};
use super::response_cache::CacheKey;
use crate::client::client_key;
use crate::state::AppState;

pub async fn get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    // Someone who opens the bare endpoint in a browser is shown the playground.
    let playground = uri.query().is_none();
    let (client, media) = match admit(&state, &headers, peer, playground).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let read = request::from_query_string(&uri, state.config.limits.max_tokens);
    run(&state, &headers, client, media, read, Method::GET).await
}

pub async fn post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // A POST comes from a client, not from someone opening the endpoint in a browser.
    let playground = false;
    // Before the body is read: a penalised client costs the server no more than this.
    let (client, media) = match admit(&state, &headers, peer, playground).await {
        Ok(admitted) => admitted,
        Err(refused) => return refused,
    };
    let budget = state.body_budget(&client);
    let read = request::from_body(&headers, body, budget, state.config.limits.max_tokens).await;
    run(&state, &headers, client, media, read, Method::POST).await
}

/// The client a request comes from and the media type it accepts; else the answer: 406
/// for a media type Gazette does not write (a browser sent to the playground when
/// `playground`), or, for a client penalised for its refusals, its answer after the
/// penalty's delay.
async fn admit(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    playground: bool,
) -> Result<(ClientKey, MediaType), Response> {
    let media = match negotiate(headers) {
        Ok(media) => media,
        Err(Unacceptable { browser: true }) if playground => {
            return Err(Redirect::to("/graphiql").into_response());
        }
        Err(Unacceptable { .. }) => return Err(not_acceptable()),
    };
    let client = client_key(headers, peer, state.config.trusted_proxy_hops);
    match state.refusals.penalty(&refusal_key(&client, headers)) {
        Some(wait) => Err(penalised(media, wait).await),
        None => Ok((client, media)),
    }
}

/// Executes a request that could be read; refuses one that could not.
async fn run(
    state: &AppState,
    headers: &HeaderMap,
    client: ClientKey,
    media: MediaType,
    read: Result<Params, Unreadable>,
    method: Method,
) -> Response {
    match read {
        Ok(params) => {
            counting_statements(execute(state, headers, client, media, params, method)).await
        }
        Err(Unreadable(status, message)) => {
            unreadable(state, &client, headers, media, status, &message)
        }
    }
}

/// The answer of `request`, its SQL statements counted for the metrics.
async fn counting_statements(request: impl Future<Output = Response>) -> Response {
    let (response, statements) = gazette_metrics::count_statements(request).await;
    gazette_metrics::metrics()
        .statements_per_request
        .with_label_values(&["graphql"])
        .observe(f64::from(statements));
    response
}

/// Runs one request that could be read.
async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    client: ClientKey,
    media: MediaType,
    params: Params,
    method: Method,
) -> Response {
    let started = Instant::now();
    // An anonymous query answered recently, with no change since, is answered again from
    // memory: no slot, no parsing, no database.
    let cache_key = (headers.get(header::AUTHORIZATION).is_none() && state.responses.enabled())
        .then(|| {
            CacheKey::new(
                params.query.as_deref()?,
                params.variables.as_ref(),
                params.operation_name.as_deref(),
            )
        })
        .flatten();
    let cached = cache_key.as_ref().and_then(|key| state.responses.get(key));
    if cache_key.is_some() {
        gazette_metrics::metrics()
            .response_cache
            .with_label_values(&[if cached.is_some() { "hit" } else { "miss" }])
            .inc();
    }
    if let Some(body) = cached {
        gazette_metrics::metrics().graphql_operation(
            operation_label(&params),
            "query",
            None,
            started.elapsed(),
        );
        let mut response = (
            StatusCode::OK,
            [(header::CONTENT_TYPE, media.content_type())],
            body,
        )
            .into_response();
        response
            .extensions_mut()
            .insert(crate::unsent::SharedAnswer);
        return response;
    }
    let mut report = Report::default();
    let operation = Operation {
        state,
        headers,
        client: &client,
        media,
        params,
        method,
        cache_key,
    };
    let response = execution::answer(operation, &mut report).await;
    if report.code.as_deref().is_some_and(is_refusal) {
        count_refusal(state, &client, headers);
    }
    // An operation that was not found valid is counted without the name it claims.
    let label = match report.checked {
        true => report.name.as_deref(),
        false => Some("unvalidated"),
    };
    gazette_metrics::metrics().graphql_operation(
        label,
        report.kind,
        report.code.as_deref(),
        started.elapsed(),
    );
    response
}
