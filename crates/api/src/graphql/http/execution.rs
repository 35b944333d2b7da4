//! Running one operation, in phases: admission (an execution slot, the token, a query and
//! variables), the document's budget (priced before async-graphql parses, validates or
//! runs anything), validation on the guarded schema, execution (a query on a replica, with
//! the primary as its fallback), and the answer (codes, the budget's verdict, the schema's
//! key order, the size cap, the response cache, the status).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::parser::types::{ExecutableDocument, OperationType};
use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gazette_domain::{ClientKey, Viewer};
use gazette_store::{PgPool, ReadBudget};
use serde_json::{Value, json};

use super::report::{Report, document_operation_name, kind_label, refuse};
use super::request::Params;
use super::response::{
    Capped, MediaType, ResponseBody, busy, method_not_allowed, request_error, respond,
    set_code_if_missing, to_json_capped, too_large,
};
use crate::auth::authenticate;
use crate::graphql::compiled::{self, Known};
use crate::graphql::context::RequestContext;
use crate::graphql::errors::{code_of, has_code, refusal};
use crate::graphql::introspection::asks_for_schema;
use crate::graphql::limits::{CheckOnly, passed};
use crate::graphql::pricing;
use crate::graphql::response_cache::{CacheKey, Generation};
use crate::graphql::response_order;
use crate::state::{AppState, CompiledReads};

/// One request on its way to an answer.
pub(super) struct Operation<'a> {
    pub state: &'a AppState,
    pub headers: &'a HeaderMap,
    pub client: &'a ClientKey,
    pub media: MediaType,
    pub params: Params,
    pub method: Method,
    /// Where the answer is kept when it may be (anonymous queries).
    pub cache_key: Option<CacheKey>,
}

/// What passed admission and the document's budget.
struct Checked {
    viewer: Viewer,
    query: String,
    operation_name: Option<String>,
    document: Arc<ExecutableDocument>,
    variables: async_graphql::Variables,
    kind: Option<OperationType>,
}

/// What execution produced: the response, the budget it was built within, and whether a
/// replica answered.
struct Executed {
    response: async_graphql::Response,
    answer: Arc<ReadBudget>,
    from_replica: bool,
    /// Whether a resolver read what the worker writes (see the response cache).
    generated_reads: bool,
}

/// The answer to `operation`, with what the metrics say of it in `report`.
pub(super) async fn answer(mut operation: Operation<'_>, report: &mut Report) -> Response {
    let state = operation.state;
    // Back-pressure: a burst waits briefly for a free slot, then is told to come back.
    let Some(_slot) = state
        .executions
        .acquire(state.config.limits.queue_timeout)
        .await
    else {
        return report.refused("SERVER_BUSY", busy(operation.media));
    };
    let checked = match check(&operation, report).await {
        Ok(checked) => checked,
        Err(response) => return response,
    };
    let generation = state.responses.generation();
    let planned = compiled(&operation, &checked).await;
    if let (Some(body), CompiledReads::Verify) = (&planned, state.config.compiled_reads) {
        let expected = body.bytes.clone();
        let executed = execute(&operation, &checked).await;
        // Two right answers differ when a change commits between the plan's read and the
        // resolvers' (another request's write; a replica replaying it, or failing and
        // sending one of them to the primary): the plan runs again after the resolvers,
        // and only an answer both of its runs differ from is a mismatch.
        let again = compiled(&operation, &checked)
            .await
            .map(|again| again.bytes);
        let answered = respond_with(operation, checked, executed, generation, report);
        return match (report.validated, report.checked) {
            (true, true) => verified(answered, &expected, again.as_ref()).await,
            // Refused after validation (over a budget): the plan should have been too.
            (true, false) => mismatch(&expected, b"(refused)"),
            (false, _) => answered,
        };
    }
    if let Some(body) = planned {
        report.checked = true;
        report.name = document_operation_name(&checked.document, checked.operation_name.as_deref());
        if let (Some(key), false) = (operation.cache_key.take(), body.from_replica) {
            state
                .responses
                .put(key, body.bytes.clone(), generation, false);
        }
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, operation.media.content_type())],
            body.bytes,
        )
            .into_response();
    }
    let executed = execute(&operation, &checked).await;
    respond_with(operation, checked, executed, generation, report)
}

/// Set in verify mode on an answer a plan gave and the resolvers matched.
pub const VERIFIED_HEADER: &str = "gazette-compiled-verified";

/// The resolvers' answer when one of the plan's is the same, byte for byte; else an
/// error that shows both (verify mode, which the end-to-end tests run in).
async fn verified(answered: Response, compiled: &Bytes, again: Option<&Bytes>) -> Response {
    let (parts, body) = answered.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return internal_error(MediaType::Json);
    };
    if bytes == compiled || again == Some(&bytes) {
        let mut response = Response::from_parts(parts, axum::body::Body::from(bytes));
        // Which requests a plan answered, per request: the differential test checks that
        // every covered query of its corpus was compared, not only that some were.
        response
            .headers_mut()
            .insert(VERIFIED_HEADER, header::HeaderValue::from_static("plan"));
        return response;
    }
    mismatch(compiled, &bytes)
}

fn mismatch(compiled: &[u8], resolved: &[u8]) -> Response {
    let resolvers = String::from_utf8_lossy(resolved);
    let plan = String::from_utf8_lossy(compiled);
    tracing::error!(%resolvers, %plan, "a compiled answer differs from the resolvers' answer");
    respond(
        MediaType::Json,
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({ "errors": [{
            "message": format!("The compiled answer differs from the resolvers' answer.\nresolvers: {resolvers}\nplan:      {plan}"),
            "extensions": { "code": "COMPILED_MISMATCH" }
        }]}),
    )
}

/// A compiled answer: its body, and whether a replica gave it.
struct Compiled {
    bytes: Bytes,
    from_replica: bool,
}

/// The answer of the document's plan (see [`compiled`](crate::graphql::compiled)), when it
/// has one and it answers; `None` leaves the request to the resolvers.
async fn compiled(operation: &Operation<'_>, checked: &Checked) -> Option<Compiled> {
    let state = operation.state;
    if checked.kind != Some(OperationType::Query) {
        return None;
    }
    let operation_name = checked.operation_name.as_deref();
    let plan = match state.plans.get(&checked.query, operation_name) {
        Known::Plan(plan) => plan,
        Known::NoPlan => return None,
        // Verifying compares every request, a document's first too (not yet validated:
        // the comparison is made only if the resolvers find it valid).
        Known::Unknown if state.config.compiled_reads == CompiledReads::Verify => {
            Arc::new(compiled::compile(&checked.document, operation_name)?)
        }
        Known::Unknown => return None,
    };
    let replica = state.replica();
    let warm = replica
        .as_ref()
        .map_or_else(|| state.reads.primary_warm(), |replica| &replica.warm);
    let budget = state.answer_budget(operation.client);
    let ran = compiled::run(
        &plan,
        &checked.variables,
        warm,
        checked.viewer.reader(),
        &budget,
        &state.config.site,
    )
    .await;
    let metrics = gazette_metrics::metrics();
    match ran {
        Ok(bytes) if bytes.len() <= state.config.limits.max_response_bytes => {
            metrics
                .graphql_executions
                .with_label_values(&["http"])
                .inc();
            metrics
                .graphql_compiled
                .with_label_values(&["answered"])
                .inc();
            Some(Compiled {
                bytes: Bytes::from(bytes),
                from_replica: replica.is_some(),
            })
        }
        _ => {
            metrics
                .graphql_compiled
                .with_label_values(&["fallback"])
                .inc();
            None
        }
    }
}

/// Admission and the document's budget: the token, a query, variables as an object, the
/// price of the document, and `GET` for queries only.
async fn check(operation: &Operation<'_>, report: &mut Report) -> Result<Checked, Response> {
    let (state, media) = (operation.state, operation.media);
    let limits = &state.config.limits;
    let viewer = match authenticate(&state.pool, operation.headers.get(header::AUTHORIZATION)).await
    {
        Ok(viewer) => viewer,
        Err(response) => return Err(report.refused("UNAUTHENTICATED", *response)),
    };
    let params = &operation.params;
    let Some(query) = params
        .query
        .clone()
        .filter(|query| !query.trim().is_empty())
    else {
        return Err(report.refused(
            "BAD_REQUEST",
            request_error(
                media,
                StatusCode::BAD_REQUEST,
                "The request has no `query`.",
            ),
        ));
    };
    let sent_variables = match &params.variables {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(variables)) => variables.clone(),
        Some(_) => {
            return Err(report.refused(
                "BAD_REQUEST",
                request_error(
                    media,
                    StatusCode::BAD_REQUEST,
                    "`variables` must be a JSON object.",
                ),
            ));
        }
    };

    // The document budget, before async-graphql parses, validates or runs anything. A long
    // document is parsed on the blocking pool, never on the threads that serve requests.
    let operation_name = params.operation_name.clone();
    let parsed = state.plans.parsed(&query);
    let priced = match (parsed, query.len() <= pricing::INLINE_CHECK_BYTES) {
        // A planned document's text was checked and parsed before; only its price
        // depends on this request's variables.
        (Some(parsed), _) => pricing::check_parsed(
            &state.schemas.model,
            limits,
            &parsed,
            operation_name.as_deref(),
            sent_variables,
        ),
        (None, true) => pricing::check(
            &state.schemas.model,
            limits,
            &query,
            operation_name.as_deref(),
            sent_variables,
        ),
        (None, false) => {
            let (model, limits) = (state.schemas.model.clone(), limits.clone());
            let (text, name) = (query.clone(), operation_name.clone());
            tokio::task::spawn_blocking(move || {
                pricing::check(&model, &limits, &text, name.as_deref(), sent_variables)
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
    } = priced.map_err(|error| refuse(report, media, &error))?;
    report.kind = kind_label(kind);
    if operation.method == Method::GET && kind.is_some_and(|kind| kind != OperationType::Query) {
        return Err(report.refused("METHOD_NOT_ALLOWED", method_not_allowed(media)));
    }
    Ok(Checked {
        viewer,
        query,
        operation_name,
        document,
        variables,
        kind,
    })
}

/// Validation on the guarded schema, then execution on the schema without extensions (a
/// query on a replica when there is one, again on the primary if the replica failed).
async fn execute(operation: &Operation<'_>, checked: &Checked) -> Executed {
    let (state, client) = (operation.state, operation.client);
    // The guarded schema validates the operation and stops; the schema without extensions
    // runs it. Parsed once, before, for both.
    let introspects = asks_for_schema(&checked.document, checked.operation_name.as_deref());
    let generated_reads = Arc::new(AtomicBool::new(false));
    let request = |pool: PgPool, answer: Arc<ReadBudget>| {
        let mut request =
            async_graphql::Request::new(checked.query.clone()).variables(checked.variables.clone());
        request.operation_name = checked.operation_name.clone();
        request.set_parsed_query((*checked.document).clone());
        request.data(
            RequestContext::new(
                pool,
                state.config.clone(),
                checked.viewer,
                Some(client.clone()),
                answer,
            )
            .recording_generated_reads(generated_reads.clone()),
        )
    };
    let rejected = match introspects {
        // Introspection of the schema runs where its description is answered, checks and
        // all, in one pass.
        true => None,
        false => {
            let mut check = async_graphql::Request::new(checked.query.clone())
                .variables(checked.variables.clone())
                .data(CheckOnly);
            check.operation_name = checked.operation_name.clone();
            check.set_parsed_query((*checked.document).clone());
            Some(state.schemas.guarded.execute(check).await).filter(|checked| !passed(checked))
        }
    };
    let run = async |pool: PgPool| {
        let answer = Arc::new(state.answer_budget(client));
        gazette_metrics::metrics()
            .graphql_executions
            .with_label_values(&["http"])
            .inc();
        let schema = match introspects {
            true => &state.schemas.guarded,
            false => &state.schemas.executor,
        };
        let response = schema.execute(request(pool, answer.clone())).await;
        (response, answer)
    };
    let mut from_replica = false;
    let (response, answer) = match rejected {
        Some(rejected) => (rejected, Arc::new(ReadBudget::unlimited())),
        // A query may read from a replica (a mutation, and what it answers, never does);
        // one the replica failed to answer is run again on the primary: queries change
        // nothing, so running one twice is safe.
        None => match (checked.kind == Some(OperationType::Query))
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
    Executed {
        response,
        answer,
        from_replica,
        generated_reads: generated_reads.load(Ordering::Relaxed),
    }
}

/// The answer: codes on every error, the budget's verdict, the schema's key order, the
/// JSON under the size cap, the response cache, and the status.
fn respond_with(
    operation: Operation<'_>,
    checked: Checked,
    executed: Executed,
    generation: Generation,
    report: &mut Report,
) -> Response {
    let (state, media) = (operation.state, operation.media);
    let limits = &state.config.limits;
    let Executed {
        mut response,
        answer,
        from_replica,
        generated_reads,
    } = executed;
    // Errors raised before execution (validation) come without data.
    let ran = !matches!(response.data, async_graphql::Value::Null)
        || response.errors.iter().any(|error| !error.path.is_empty());
    report.validated = ran;
    for error in &mut response.errors {
        let code = match ran {
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
    if ran {
        if checked.kind == Some(OperationType::Query) {
            state.plans.learn(
                &checked.query,
                checked.operation_name.as_deref(),
                &checked.document,
            );
        }
        report.checked = true;
        report.name = document_operation_name(&checked.document, checked.operation_name.as_deref());
        response_order::reorder(
            &state.schemas.model,
            &checked.document,
            checked.operation_name.as_deref(),
            &checked.variables,
            &mut response.data,
        );
    }
    // Serialised straight from the executor's response, in the order the query asked for
    // its fields; the size cap bounds the buffer, not a copy of it.
    let body = ResponseBody {
        data: ran.then_some(&response.data),
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
            return report.refused("INTERNAL", internal_error(media));
        }
    };
    drop(answer);
    match checked.kind {
        // A mutation that changed nothing (refused, or every field failed) leaves the
        // cache alone: emptying it would be free work for anyone.
        Some(OperationType::Mutation) if changed_something(&response.data) => state.wrote_content(),
        // A replica's answer may predate a change this process has already heard of: it
        // is never kept.
        Some(OperationType::Query) if ran && response.errors.is_empty() && !from_replica => {
            if let Some(key) = operation.cache_key {
                state
                    .responses
                    .put(key, serialised.clone(), generation, generated_reads);
            }
        }
        _ => {}
    }
    with_status(&response, ran, media, serialised)
}

/// Without its database the server cannot answer: 503 and when to come back, so clients
/// and balancers retry instead of taking a partial answer for the truth. Otherwise 200, or
/// 400 for an operation that did not run when the client speaks
/// `application/graphql-response+json`.
fn with_status(
    response: &async_graphql::Response,
    ran: bool,
    media: MediaType,
    serialised: Bytes,
) -> Response {
    let unavailable =
        has_code(response, "DATABASE_UNAVAILABLE") || has_code(response, "STORAGE_FULL");
    let status = if unavailable {
        StatusCode::SERVICE_UNAVAILABLE
    } else if ran || media == MediaType::Json {
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
    } else if let Some(seconds) = rate_limited_for(response) {
        // A refused comment says when to come back in the header too, as every other
        // refusal that names a wait does.
        answer
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    answer
}

/// The longest `retryAfter` of the answer's `RATE_LIMITED` errors, if it has any.
fn rate_limited_for(response: &async_graphql::Response) -> Option<u64> {
    response
        .errors
        .iter()
        .filter_map(|error| error.extensions.as_ref())
        .filter(|extensions| {
            matches!(extensions.get("code"), Some(async_graphql::Value::String(code)) if code == "RATE_LIMITED")
        })
        .filter_map(|extensions| match extensions.get("retryAfter") {
            Some(async_graphql::Value::Number(seconds)) => seconds.as_u64(),
            _ => None,
        })
        .max()
}

fn internal_error(media: MediaType) -> Response {
    respond(
        media,
        StatusCode::INTERNAL_SERVER_ERROR,
        json!({ "errors": [{
            "message": "Internal error: the response could not be written. It has been logged.",
            "extensions": { "code": "INTERNAL" }
        }]}),
    )
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
