//! What every resolver of one request (or one WebSocket connection) shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

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
    /// Set when a resolver read what the worker writes (feeds, channel texts): the answer
    /// then goes stale when the worker writes, not only when the content changes.
    generated_reads: Arc<AtomicBool>,
}

impl RequestContext {
    pub fn new(
        pool: PgPool,
        config: Arc<ApiConfig>,
        viewer: Viewer,
        client: Option<ClientKey>,
        answer: Arc<ReadBudget>,
    ) -> Self {
        let loaders = Arc::new(Loaders::new(
            &pool,
            viewer.reader(),
            answer.clone(),
            config.limits.batch_delay,
        ));
        Self {
            pool,
            config,
            viewer,
            client,
            loaders,
            answer,
            generated_reads: Arc::default(),
        }
    }

    /// Shares `flag` as this request's record of reading what the worker writes.
    pub fn recording_generated_reads(mut self, flag: Arc<AtomicBool>) -> Self {
        self.generated_reads = flag;
        self
    }

    /// Called by every resolver that reads feeds or channel texts (see the response cache).
    pub fn reads_generated_texts(&self) {
        self.generated_reads.store(true, Ordering::Relaxed);
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
