//! The extension of the guarded schema: it applies the document budget
//! ([`super::pricing`]) to what async-graphql parses itself (subscriptions over
//! WebSocket), refuses anything but subscriptions there, re-checks a socket's token for
//! each operation, gives every subscription event an execution slot and an answer budget
//! of its own, and stops a check-only run once validation has passed (HTTP then runs the
//! operation on the schema without extensions).

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextPrepareRequest,
    NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};

use gazette_store::ReadBudget;

use super::errors::refusal;
use super::input_text;
use super::pricing;
use super::schema_model::SchemaModel;
use super::socket_session::SocketSession;
use crate::state::Limits;

/// Request data asking the guarded schema to stop once the operation has passed every
/// check (HTTP then runs it on the schema without extensions).
pub struct CheckOnly;

/// The one "error" a [`CheckOnly`] request ends with when the operation passed.
const PASSED: &str = "gazette: the operation passed its checks";

/// Whether the guarded schema's answer to a [`CheckOnly`] request says the operation passed.
pub fn passed(response: &async_graphql::Response) -> bool {
    matches!(response.errors.as_slice(), [only] if only.message == PASSED)
}

/// The extension, added once to the schema.
pub struct OperationLimits {
    pub limits: Arc<Limits>,
    pub model: Arc<SchemaModel>,
}

impl ExtensionFactory for OperationLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationLimitsExtension {
            limits: self.limits.clone(),
            model: self.model.clone(),
        })
    }
}

struct OperationLimitsExtension {
    limits: Arc<Limits>,
    model: Arc<SchemaModel>,
}

#[async_trait::async_trait]
impl Extension for OperationLimitsExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        if let Some(socket) = ctx.data_opt::<SocketSession>() {
            socket.check_penalty()?;
            socket.admit_operation()?;
            socket.check_token().await?;
            // Priced here, before async-graphql parses and validates it (HTTP prices its
            // documents before they reach the schema).
            input_text::check_variables(&request.variables).inspect_err(|_| socket.refused())?;
            let document = match request.query.len() <= pricing::INLINE_CHECK_BYTES {
                true => check_subscription(
                    &self.model,
                    &self.limits,
                    &request.query,
                    request.operation_name.as_deref(),
                    &request.variables,
                ),
                // A long document is parsed on the blocking pool, as over HTTP.
                false => {
                    let (model, limits) = (self.model.clone(), self.limits.clone());
                    let query = request.query.clone();
                    let operation_name = request.operation_name.clone();
                    let variables = request.variables.clone();
                    tokio::task::spawn_blocking(move || {
                        check_subscription(
                            &model,
                            &limits,
                            &query,
                            operation_name.as_deref(),
                            &variables,
                        )
                    })
                    .await
                    .unwrap_or_else(|error| {
                        tracing::error!(%error, "checking a document failed");
                        Err(refusal(
                            "INTERNAL",
                            "Internal error: the document could not be checked.".to_owned(),
                            |_| {},
                        ))
                    })
                }
            }
            .inspect_err(|_| socket.refused())?;
            request.set_parsed_query(document);
            // The subscription's own resolver (run once, when it starts) reads as the
            // socket's viewer; each event it delivers gets a context of its own.
            request = request.data(socket.context(Arc::new(ReadBudget::unlimited())));
        } else {
            input_text::check_variables(&request.variables)?;
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        input_text::check_document(&document)?;
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await.map_err(|mut errors| {
            // Every refusal has a code, on a socket as over HTTP.
            for error in &mut errors {
                let extensions = error.extensions.get_or_insert_with(Default::default);
                if extensions.get("code").is_none() {
                    extensions.set("code", "GRAPHQL_VALIDATION_FAILED");
                }
            }
            if let Some(socket) = ctx.data_opt::<SocketSession>() {
                socket.refused();
            }
            errors
        })?;
        if ctx.data_opt::<CheckOnly>().is_some() {
            return Err(vec![ServerError::new(PASSED, None)]);
        }
        Ok(result)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        match ctx.data_opt::<SocketSession>() {
            // One subscription event for one subscriber.
            Some(socket) => socket.execute_event(ctx, operation_name, next).await,
            None => next.run(ctx, operation_name).await,
        }
    }
}

/// Checks a document sent over a WebSocket: the document budget (with the subscription
/// cost limit), and that it is a subscription (queries and mutations belong on HTTP, with
/// its limits).
fn check_subscription(
    model: &SchemaModel,
    limits: &Limits,
    query: &str,
    operation_name: Option<&str>,
    variables: &Variables,
) -> ServerResult<ExecutableDocument> {
    pricing::check_text(query, &limits.document(true))?;
    let document = pricing::parse(query)?;
    match pricing::operation_kind(&document, operation_name) {
        Some(OperationType::Query | OperationType::Mutation) => Err(refusal(
            "OPERATION_NOT_ALLOWED",
            "Only subscriptions run over WebSocket: send queries and mutations with POST /graphql."
                .to_owned(),
            |_| {},
        )),
        _ => {
            pricing::price(
                model,
                &document,
                operation_name,
                variables,
                &limits.document(true),
            )?;
            Ok(document)
        }
    }
}
