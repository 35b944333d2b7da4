//! What every resolver of one request (or one WebSocket connection) shares.

use std::sync::Arc;

use async_graphql::Context;
use gazette_domain::{ClientKey, Viewer};
use gazette_store::{PgPool, Reader};

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
}

impl RequestContext {
    pub fn new(
        pool: PgPool,
        config: Arc<ApiConfig>,
        viewer: Viewer,
        client: Option<ClientKey>,
    ) -> Self {
        let loaders = Arc::new(Loaders::new(&pool, viewer.reader()));
        Self {
            pool,
            config,
            viewer,
            client,
            loaders,
        }
    }

    pub fn of<'a>(ctx: &Context<'a>) -> Result<&'a RequestContext, ApiError> {
        ctx.data::<RequestContext>()
            .map_err(|_| ApiError::internal("the request context is missing"))
    }

    /// What this request's viewer reads (see the domain's policy).
    pub fn reader(&self) -> Reader {
        self.viewer.reader()
    }
}
