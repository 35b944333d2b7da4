//! What every resolver of one request (or one WebSocket connection) shares.

use std::sync::Arc;

use async_graphql::Context;
use gazette_domain::{ClientKey, Viewer};
use gazette_store::{PgPool, ReadBudget, Reader};

use super::errors::ApiError;
use super::loaders::Loaders;
use crate::state::ApiConfig;

pub struct RequestContext {
    pub pool: PgPool,
    pub config: Arc<ApiConfig>,
    pub viewer: Viewer,
    /// Who the request came from (rate limits); `None` when unknown.
    pub client: Option<ClientKey>,
    /// Batching loaders that read as this viewer: every related row a resolver returns
    /// comes through them, so the visibility policy is applied once, in the queries.
    pub loaders: Arc<Loaders>,
    /// What this answer may load and build; shared with the loaders.
    pub answer: Arc<ReadBudget>,
}

impl RequestContext {
    pub fn new(
        pool: PgPool,
        config: Arc<ApiConfig>,
        viewer: Viewer,
        client: Option<ClientKey>,
        answer: Arc<ReadBudget>,
    ) -> Self {
        let loaders = Arc::new(Loaders::new(&pool, viewer.reader(), answer.clone()));
        Self {
            pool,
            config,
            viewer,
            client,
            loaders,
            answer,
        }
    }

    pub fn of<'a>(ctx: &Context<'a>) -> Result<&'a RequestContext, ApiError> {
        ctx.data::<RequestContext>()
            .map_err(|_| ApiError::internal("the request context is missing"))
    }

    /// Counts `text` into the answer before a resolver returns it: the answer stops being
    /// built once it holds more than its budget.
    pub fn charge<'t>(&self, text: &'t str) -> Result<&'t str, ApiError> {
        self.answer
            .charge_built(text.len())
            .map_err(gazette_domain::DomainError::from)?;
        Ok(text)
    }

    /// Refuses an anonymous caller (UNAUTHENTICATED) before a mutation that needs a token
    /// looks at its input: the use case checks the rest of the policy.
    pub fn require_token(&self) -> Result<(), ApiError> {
        self.viewer.require_token()?;
        Ok(())
    }

    /// What this request's viewer reads (see the domain's policy).
    pub fn reader(&self) -> Reader {
        self.viewer.reader()
    }
}
