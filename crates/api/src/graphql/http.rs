//! GraphQL over HTTP, per the GraphQL-over-HTTP specification: `POST /graphql` with a JSON
//! body, `GET /graphql?query=…` for queries only. Responses are
//! `application/graphql-response+json` when the client accepts it (with the spec's status
//! codes: 400 for requests that cannot execute), `application/json` otherwise (200 for
//! every well-formed request, as older clients expect).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use async_graphql::ServerError;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use axum::body::{Body, Bytes};

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};
use std::time::Instant;

use gazette_store::{PgPool, ReadBudget};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::context::RequestContext;
use super::errors::{code_of, has_code, refusal};
use super::introspection::asks_for_schema;
use super::limits::{CheckOnly, passed};
use super::pricing;
use super::response_cache::CacheKey;
use super::response_order;
use crate::auth::authenticate;
use crate::client::client_key;
use crate::limits::Refusals;
use crate::state::AppState;
use gazette_domain::ClientKey;
use std::time::Duration;

/// The largest request body: a 256 KiB post body, JSON-escaped, with room to spare.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json; charset=utf-8";
const JSON: &str = "application/json; charset=utf-8";

/// The response media type the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaType {
    GraphqlResponseJson,
    Json,
}

impl MediaType {
    fn content_type(self) -> &'static str {
        match self {
            MediaType::GraphqlResponseJson => GRAPHQL_RESPONSE_JSON,
            MediaType::Json => JSON,
        }
    }
}

/// A request's parameters, from the JSON body or the query string.
#[derive(Debug, Default)]
struct Params {
    query: Option<String>,
    variables: Option<Value>,
    operation_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BodyParams {
    query: Option<String>,
    variables: Option<Value>,
    operation_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryStringParams {
    query: Option<String>,
    /// JSON, encoded in the query string.
    variables: Option<String>,
    operation_name: Option<String>,
}

pub async fn get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let media = match negotiate(&headers) {
        Ok(media) => media,
        Err(Unacceptable { browser: true }) if uri.query().is_none() => {
            // Someone opened the endpoint in a browser: show them the playground.
            return Redirect::to("/graphiql").into_response();
        }
        Err(Unacceptable { .. }) => return not_acceptable(),
    };
    let client = client_key(&headers, peer, state.config.trusted_proxy_hops);
    if let Some(wait) = state.refusals.penalty(&client) {
        return penalised(media, wait).await;
    }
    let refuse = |message: &str| {
        unreadable(
            &state,
            &client,
            &headers,
            media,
            StatusCode::BAD_REQUEST,
            message,
        )
    };
    let params = match Query::<QueryStringParams>::try_from_uri(&uri) {
        Ok(Query(params)) => params,
        Err(rejection) => {
            return refuse(&format!("The query string cannot be read: {rejection}."));
        }
    };
    let max_values = state.config.limits.max_tokens;
    let values = params
        .variables
        .as_deref()
        .map_or(0, |variables| count_json_values(variables.as_bytes()));
    if values > max_values {
        return refuse(&format!(
            "`variables` holds {values} JSON values and the limit is {max_values}."
        ));
    }
    let variables = match params
        .variables
        .as_deref()
        .map(serde_json::from_str::<Value>)
    {
        None => None,
        Some(Ok(variables)) => Some(variables),
        Some(Err(error)) => {
            return refuse(&format!("`variables` is not valid JSON: {error}."));
        }
    };
    let params = Params {
        query: params.query,
        variables,
        operation_name: params.operation_name,
    };
    execute(&state, &headers, client, media, params, Method::GET).await
}

pub async fn post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let media = match negotiate(&headers) {
        Ok(media) => media,
        Err(Unacceptable { .. }) => return not_acceptable(),
    };
    // Before the body is read: a penalised client costs the server no more than this.
    let client = client_key(&headers, peer, state.config.trusted_proxy_hops);
    if let Some(wait) = state.refusals.penalty(&client) {
        return penalised(media, wait).await;
    }
    let refuse = |status: StatusCode, message: &str| {
        unreadable(&state, &client, &headers, media, status, message)
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase());
    if content_type.as_deref() != Some("application/json") {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Send the request as JSON with `Content-Type: application/json`.",
        );
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("The request body is larger than {MAX_BODY_BYTES} bytes: send less at once."),
        );
    };
    // Counted before they are parsed: JSON values are built into trees many times their
    // size (a list of a million zeros is 2 MB of text and hundreds of MB in memory).
    let values = count_json_values(&body);
    let max_values = state.config.limits.max_tokens;
    if values > max_values {
        return refuse(
            StatusCode::BAD_REQUEST,
            &format!(
                "The request holds {values} JSON values and the limit is {max_values}: variables are for arguments, not for data in bulk."
            ),
        );
    }
    if body.trim_ascii_start().starts_with(b"[") {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Batched requests are not supported: send one operation per request.",
        );
    }
    let params: BodyParams = match serde_json::from_slice(&body) {
        Ok(params) => params,
        Err(error) if error.is_data() => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("The body is not a GraphQL request: {error}."),
            );
        }
        Err(error) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                &format!("The body is not valid JSON: {error}."),
            );
        }
    };
    let params = Params {
        query: params.query,
        variables: params.variables,
        operation_name: params.operation_name,
    };
    execute(&state, &headers, client, media, params, Method::POST).await
}

/// How many values (objects, arrays and their items) a JSON text holds, counted on its
/// bytes without parsing it: every `{`, `[` and `,` outside strings, plus one.
fn count_json_values(text: &[u8]) -> usize {
    let mut values = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text {
        match (in_string, byte) {
            (true, _) if escaped => escaped = false,
            (true, b'\\') => escaped = true,
            (true, b'"') => in_string = false,
            (true, _) => {}
            (false, b'"') => in_string = true,
            (false, b'{' | b'[' | b',') => values += 1,
            (false, _) => {}
        }
    }
    values
}

/// A request that cannot be read, counted as a refusal of its client.
fn unreadable(
    state: &AppState,
    client: &ClientKey,
    headers: &HeaderMap,
    media: MediaType,
    status: StatusCode,
    message: &str,
) -> Response {
    count_refusal(state, client, headers);
    request_error(media, status, message)
}

/// Counts a refusal against `client`, unless a browser says another site's page sent the
/// request (`Sec-Fetch-Site: cross-site`): a page must not be able to get its visitors'
/// shared address penalised by making their browsers send junk.
fn count_refusal(state: &AppState, client: &ClientKey, headers: &HeaderMap) {
    let cross_site = headers
        .get("sec-fetch-site")
        .is_some_and(|site| site.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    if !cross_site {
        state.refusals.refused(client);
    }
}

/// What a client past its refusals gets: an answer after a second, `429` with the time
/// until its minute is over (see [`crate::limits::Refusals`]).
async fn penalised(media: MediaType, wait: Duration) -> Response {
    tokio::time::sleep(Refusals::DELAY).await;
    let seconds = wait.as_secs().max(1);
    let mut response = respond(
        media,
        StatusCode::TOO_MANY_REQUESTS,
        json!({ "errors": [{
            "message": format!("Too many of your requests were refused in the last minute (over a limit, invalid or unreadable): try again in {seconds} seconds."),
            "extensions": { "code": "RATE_LIMITED", "retryAfter": seconds }
        }]}),
    );
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Whether an answer with this code refused the client's document (as opposed to failing
/// for a reason of the server's, or being refused for who the client is).
fn is_refusal(code: &str) -> bool {
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

async fn execute(
    state: &AppState,
    headers: &HeaderMap,
    client: ClientKey,
    media: MediaType,
    params: Params,
    method: Method,
) -> Response {
    let (response, statements) = gazette_metrics::count_statements(execute_counted(
        state, headers, client, media, params, method,
    ))
    .await;
    gazette_metrics::metrics()
        .statements_per_request
        .with_label_values(&["graphql"])
        .observe(f64::from(statements));
    response
}

async fn execute_counted(
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
    if let Some(body) = cache_key.as_ref().and_then(|key| state.responses.get(key)) {
        gazette_metrics::metrics().graphql_operation(
            operation_label(&params),
            "query",
            None,
            started.elapsed(),
        );
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, media.content_type())],
            body,
        )
            .into_response();
    }
    let mut report = Report::default();
    let response = answer(
        state,
        headers,
        &client,
        media,
        params,
        method,
        cache_key,
        &mut report,
    )
    .await;
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

/// What the metrics say of one operation: its name (only once the document was found
/// valid and ran, and only as the document names it, so junk never takes one of the
/// bounded labels; `unvalidated` before that), its type, and the first error's code.
struct Report {
    /// Whether the document passed every check and ran.
    checked: bool,
    name: Option<String>,
    kind: &'static str,
    code: Option<String>,
}

impl Default for Report {
    fn default() -> Self {
        Self {
            checked: false,
            name: None,
            kind: "unknown",
            code: None,
        }
    }
}

impl Report {
    /// `response` is sent as it is: its first error's code is the outcome.
    fn refused(&mut self, code: &str, response: Response) -> Response {
        self.code = Some(code.to_owned());
        response
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "the request's parts, handed down from the handlers"
)]
async fn answer(
    state: &AppState,
    headers: &HeaderMap,
    client: &ClientKey,
    media: MediaType,
    params: Params,
    method: Method,
    cache_key: Option<CacheKey>,
    report: &mut Report,
) -> Response {
    let limits = &state.config.limits;
    // Back-pressure: a burst waits briefly for a free slot, then is told to come back.
    let Some(_slot) = state.executions.acquire(limits.queue_timeout).await else {
        return report.refused("SERVER_BUSY", busy(media));
    };
    let viewer = match authenticate(&state.pool, headers.get(header::AUTHORIZATION)).await {
        Ok(viewer) => viewer,
        Err(response) => return report.refused("UNAUTHENTICATED", *response),
    };
    let Some(query) = params.query.filter(|query| !query.trim().is_empty()) else {
        return report.refused(
            "BAD_REQUEST",
            request_error(
                media,
                StatusCode::BAD_REQUEST,
                "The request has no `query`.",
            ),
        );
    };
    let sent_variables = match params.variables {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(variables)) => variables,
        Some(_) => {
            return report.refused(
                "BAD_REQUEST",
                request_error(
                    media,
                    StatusCode::BAD_REQUEST,
                    "`variables` must be a JSON object.",
                ),
            );
        }
    };

    // The document budget, before async-graphql parses, validates or runs anything. A long
    // document is parsed on the blocking pool, never on the threads that serve requests.
    let checked = match query.len() <= pricing::INLINE_CHECK_BYTES {
        true => pricing::check(
            &state.schemas.model,
            limits,
            &query,
            params.operation_name.as_deref(),
            sent_variables,
        ),
        false => {
            let (model, limits) = (state.schemas.model.clone(), limits.clone());
            let (text, operation_name) = (query.clone(), params.operation_name.clone());
            tokio::task::spawn_blocking(move || {
                pricing::check(
                    &model,
                    &limits,
                    &text,
                    operation_name.as_deref(),
                    sent_variables,
                )
            })
            .await
            .unwrap_or_else(|error| {
                tracing::error!(%error, "checking a document failed");
                Err(refusal(
                    "INTERNAL",
                    "Internal error: the document could not be checked. It has been logged."
                        .to_owned(),
                    |_| {},
                ))
            })
        }
    };
    let pricing::Checked {
        document,
        variables,
        kind,
    } = match checked {
        Ok(checked) => checked,
        Err(error) => return refuse(report, media, &error),
    };
    report.kind = kind_label(kind);
    if method == Method::GET && kind.is_some_and(|kind| kind != OperationType::Query) {
        return report.refused("METHOD_NOT_ALLOWED", method_not_allowed(media));
    }

    // The guarded schema validates the operation and stops; the schema without extensions
    // runs it. Parsed once, here, for both.
    let introspects = asks_for_schema(&document, params.operation_name.as_deref());
    let generated_reads = Arc::new(AtomicBool::new(false));
    let request = |pool: PgPool, answer: Arc<ReadBudget>| {
        let mut request = async_graphql::Request::new(query.clone()).variables(variables.clone());
        request.operation_name = params.operation_name.clone();
        request.set_parsed_query(document.clone());
        request.data(
            RequestContext::new(
                pool,
                state.config.clone(),
                viewer,
                Some(client.clone()),
                answer,
            )
            .recording_generated_reads(generated_reads.clone()),
        )
    };
    let generation = state.responses.generation();
    let rejected = match introspects {
        // Introspection of the schema runs where its description is answered, checks and
        // all, in one pass.
        true => None,
        false => {
            let mut check = async_graphql::Request::new(query.clone())
                .variables(variables.clone())
                .data(CheckOnly);
            check.operation_name = params.operation_name.clone();
            check.set_parsed_query(document.clone());
            Some(state.schemas.guarded.execute(check).await).filter(|checked| !passed(checked))
        }
    };
    let run = async |pool: PgPool| {
        let answer = Arc::new(state.answer_budget(client));
        gazette_metrics::metrics()
            .graphql_executions
            .with_label_values(&["http"])
            .inc();
        let response = match introspects {
            true => {
                state
                    .schemas
                    .guarded
                    .execute(request(pool, answer.clone()))
                    .await
            }
            false => {
                state
                    .schemas
                    .executor
                    .execute(request(pool, answer.clone()))
                    .await
            }
        };
        (response, answer)
    };
    let mut from_replica = false;
    let (mut response, answer) = match rejected {
        Some(rejected) => (rejected, Arc::new(ReadBudget::unlimited())),
        // A query may read from a replica (a mutation, and what it answers, never does);
        // one the replica failed to answer is run again on the primary: queries change
        // nothing, so running one twice is safe.
        None => match (kind == Some(OperationType::Query))
            .then(|| state.replica())
            .flatten()
        {
            Some(replica) => {
                let answered = run(replica.pool.clone()).await;
                match has_code(&answered.0, "DATABASE_UNAVAILABLE") {
                    true => {
                        state.replica_failed(&replica, "a query found it unavailable");
                        run(state.pool.clone()).await
                    }
                    false => {
                        from_replica = true;
                        answered
                    }
                }
            }
            None => run(state.pool.clone()).await,
        },
    };

    // Errors raised before execution (validation) come without data.
    let executed = !matches!(response.data, async_graphql::Value::Null)
        || response.errors.iter().any(|error| !error.path.is_empty());
    for error in &mut response.errors {
        let code = match executed {
            false => "GRAPHQL_VALIDATION_FAILED",
            // Our resolvers always name a code; what comes without one is async-graphql
            // refusing an argument value.
            true => "BAD_USER_INPUT",
        };
        set_code_if_missing(error, code);
    }
    report.code = response.errors.first().and_then(code_of).map(str::to_owned);
    // An answer that outgrew its budget is refused whole: what was built so far is not an
    // answer to the query.
    if answer.is_exceeded() {
        return match has_code(&response, "SERVER_BUSY")
            && !has_code(&response, "RESPONSE_TOO_LARGE")
        {
            true => report.refused("SERVER_BUSY", busy(media)),
            false => refuse(report, media, &too_large(limits.max_response_bytes)),
        };
    }
    if executed {
        report.checked = true;
        report.name = document_operation_name(&document, params.operation_name.as_deref());
    }
    if executed {
        response_order::reorder(
            &document,
            params.operation_name.as_deref(),
            &mut response.data,
        );
    }
    // Serialised straight from the executor's response, in the order the query asked for
    // its fields; the size cap bounds the buffer, not a copy of it.
    let body = ResponseBody {
        data: executed.then_some(&response.data),
        errors: &response.errors,
        extensions: &response.extensions,
    };
    let serialised = match to_json_capped(&body, limits.max_response_bytes) {
        Ok(bytes) => Bytes::from(bytes),
        Err(Capped::TooLarge) => {
            return refuse(report, media, &too_large(limits.max_response_bytes));
        }
        Err(Capped::Failed(error)) => {
            tracing::error!(%error, "cannot serialise a GraphQL response");
            return report.refused(
                "INTERNAL",
                respond(
                    media,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    json!({ "errors": [{
                        "message": "Internal error: the response could not be written. It has been logged.",
                        "extensions": { "code": "INTERNAL" }
                    }]}),
                ),
            );
        }
    };
    drop(answer);
    match kind {
        // This process's own write is visible to its next read at once; other processes
        // hear of it through the change event. A mutation that changed nothing (refused,
        // or every field failed) leaves the cache alone: emptying it would be free work
        // for anyone.
        Some(OperationType::Mutation) if changed_something(&response.data) => {
            state.responses.clear()
        }
        // A replica's answer may predate a change this process has already heard of: it
        // is never kept.
        Some(OperationType::Query) if executed && response.errors.is_empty() && !from_replica => {
            if let Some(key) = cache_key {
                let reads_generated = generated_reads.load(Ordering::Relaxed);
                state
                    .responses
                    .put(key, serialised.clone(), generation, reads_generated);
            }
        }
        _ => {}
    }
    // Without its database the server cannot answer: 503 and when to come back, so
    // clients and balancers retry instead of taking a partial answer for the truth.
    let unavailable =
        has_code(&response, "DATABASE_UNAVAILABLE") || has_code(&response, "STORAGE_FULL");
    let status = if unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else if executed || media == MediaType::Json {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let mut answer = (
        status,
        [(header::CONTENT_TYPE, media.content_type())],
        serialised,
    )
        .into_response();
    if unavailable {
        answer
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    }
    answer
}

/// Whether a mutation's answer has a field that did its work: a failed mutation field is
/// null (every mutation field here is nullable for that reason).
fn changed_something(data: &async_graphql::Value) -> bool {
    match data {
        async_graphql::Value::Object(fields) => fields
            .values()
            .any(|value| !matches!(value, async_graphql::Value::Null)),
        _ => false,
    }
}

/// A refusal before or instead of an answer, counted with its code.
fn refuse(report: &mut Report, media: MediaType, error: &ServerError) -> Response {
    report.code = code_of(error).map(str::to_owned);
    refused(media, error)
}

fn too_large(limit: usize) -> ServerError {
    refusal(
        "RESPONSE_TOO_LARGE",
        format!(
            "The response would be larger than {limit} bytes: ask for fewer items, or fewer fields of large ones (such as `body`)."
        ),
        |extensions| extensions.set("limit", limit),
    )
}

fn kind_label(kind: Option<OperationType>) -> &'static str {
    match kind {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "unknown",
    }
}

/// The name the document gives the operation that ran (none for an anonymous one).
fn document_operation_name(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<String> {
    match &document.operations {
        DocumentOperations::Single(_) => None,
        DocumentOperations::Multiple(operations) => match operation_name {
            Some(name) => operations.contains_key(name).then(|| name.to_owned()),
            None => operations.keys().next().map(ToString::to_string),
        },
    }
}

/// The operation's name for the metrics: the request's `operationName`, else the name the
/// document starts with.
fn operation_label(params: &Params) -> Option<&str> {
    params
        .operation_name
        .as_deref()
        .or_else(|| leading_operation_name(params.query.as_deref()?))
}

/// `Name` in a document that starts `query Name`, `mutation Name` or `subscription Name`
/// (what clients send); without parsing the document, which a cached answer skips.
fn leading_operation_name(document: &str) -> Option<&str> {
    let rest = document.trim_start();
    let rest = ["query", "mutation", "subscription"]
        .iter()
        .find_map(|keyword| rest.strip_prefix(keyword))?;
    let rest = rest.strip_prefix(|c: char| c.is_whitespace())?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|name| !name.is_empty())
}

#[derive(Serialize)]
struct ResponseBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[ServerError]>::is_empty")]
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    extensions: &'a BTreeMap<String, async_graphql::Value>,
}

enum Capped {
    TooLarge,
    Failed(serde_json::Error),
}

/// JSON of `value`, unless it would exceed `cap` bytes (writing stops there).
fn to_json_capped(value: &impl Serialize, cap: usize) -> Result<Vec<u8>, Capped> {
    struct CappedWriter {
        buffer: Vec<u8>,
        cap: usize,
        exceeded: bool,
    }
    impl std::io::Write for CappedWriter {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if self.buffer.len() + bytes.len() > self.cap {
                self.exceeded = true;
                return Err(std::io::Error::other("response size cap"));
            }
            self.buffer.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut writer = CappedWriter {
        buffer: Vec::new(),
        cap,
        exceeded: false,
    };
    match serde_json::to_writer(&mut writer, value) {
        Ok(()) => Ok(writer.buffer),
        Err(_) if writer.exceeded => Err(Capped::TooLarge),
        Err(error) => Err(Capped::Failed(error)),
    }
}

/// An operation refused before it ran (a limit): `400` with `graphql-response+json`,
/// `200` with plain JSON, as for validation errors.
fn refused(media: MediaType, error: &ServerError) -> Response {
    let status = match media {
        MediaType::GraphqlResponseJson => StatusCode::BAD_REQUEST,
        MediaType::Json => StatusCode::OK,
    };
    respond(media, status, json!({ "errors": [error] }))
}

/// Every execution slot stayed taken for the whole wait.
fn busy(media: MediaType) -> Response {
    let mut response = respond(
        media,
        StatusCode::SERVICE_UNAVAILABLE,
        json!({ "errors": [{
            "message": "The server is busy: try again in a moment.",
            "extensions": { "code": "SERVER_BUSY" }
        }]}),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

fn set_code_if_missing(error: &mut ServerError, code: &str) {
    let extensions = error.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code);
    }
}

fn method_not_allowed(media: MediaType) -> Response {
    let mut response = request_error(
        media,
        StatusCode::METHOD_NOT_ALLOWED,
        "Mutations and subscriptions cannot be sent with GET; use POST.",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

fn not_acceptable() -> Response {
    respond(
        MediaType::Json,
        StatusCode::NOT_ACCEPTABLE,
        json!({ "errors": [{
            "message": "This endpoint answers with application/graphql-response+json or application/json; accept one of them.",
            "extensions": { "code": "NOT_ACCEPTABLE" }
        }]}),
    )
}

/// A request that could not be executed at all.
fn request_error(media: MediaType, status: StatusCode, message: &str) -> Response {
    respond(
        media,
        status,
        json!({ "errors": [{ "message": message, "extensions": { "code": "BAD_REQUEST" } }] }),
    )
}

fn respond(media: MediaType, status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, media.content_type())],
        body.to_string(),
    )
        .into_response()
}

struct Unacceptable {
    /// The client would take HTML: a browser.
    browser: bool,
}

/// Picks the response media type from `Accept`: the acceptable type with the highest
/// quality, `application/graphql-response+json` on a tie; `application/json` when the
/// header is absent or accepts anything.
fn negotiate(headers: &HeaderMap) -> Result<MediaType, Unacceptable> {
    let Some(accept) = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
    else {
        return Ok(MediaType::Json);
    };
    let mut best: Option<(f32, MediaType)> = None;
    let mut browser = false;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|part| part.trim().strip_prefix("q="))
            .find_map(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        if quality <= 0.0 {
            continue;
        }
        let candidate = match media.as_str() {
            "application/graphql-response+json" => MediaType::GraphqlResponseJson,
            "application/json" | "application/*" | "*/*" => MediaType::Json,
            "text/html" => {
                browser = true;
                continue;
            }
            _ => continue,
        };
        let better = match best {
            None => true,
            Some((best_quality, best_media)) => {
                quality > best_quality
                    || (quality == best_quality
                        && candidate == MediaType::GraphqlResponseJson
                        && best_media == MediaType::Json)
            }
        };
        if better {
            best = Some((quality, candidate));
        }
    }
    match best {
        Some((_, media)) => Ok(media),
        None if accept.trim().is_empty() => Ok(MediaType::Json),
        None => Err(Unacceptable { browser }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Result<MediaType, bool> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_str(value).expect("header"),
        );
        negotiate(&headers).map_err(|unacceptable| unacceptable.browser)
    }

    #[test]
    fn names_operations_from_the_document() {
        assert_eq!(
            leading_operation_name("query FrontPage { posts }"),
            Some("FrontPage")
        );
        assert_eq!(
            leading_operation_name("\n mutation Add($x: ID) { a }"),
            Some("Add")
        );
        assert_eq!(leading_operation_name("query($x: ID) { a }"), None);
        assert_eq!(leading_operation_name("{ a }"), None);
        assert_eq!(leading_operation_name("queryX { a }"), None);
    }

    #[test]
    fn negotiates_media_types() {
        assert_eq!(negotiate(&HeaderMap::new()).ok(), Some(MediaType::Json));
        assert_eq!(
            accept("application/graphql-response+json").ok(),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(accept("application/json").ok(), Some(MediaType::Json));
        assert_eq!(accept("*/*").ok(), Some(MediaType::Json));
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9").ok(),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            accept("application/json, application/graphql-response+json").ok(),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            accept("application/graphql-response+json;q=0.5, application/json").ok(),
            Some(MediaType::Json)
        );
        assert_eq!(accept("text/html,application/xhtml+xml").err(), Some(true));
        assert_eq!(accept("image/png").err(), Some(false));
    }
}
