//! What every resolver of one request (or one WebSocket connection) shares.

use std::sync::Arc;

use async_graphql::Context;
use gazette_store::PgPool;
use gazette_store::comments::Reader;

use super::auth::Viewer;
use super::errors::ApiError;
use super::loaders::Loaders;
use crate::state::ApiConfig;

pub struct RequestContext {
    pub pool: PgPool,
    pub config: Arc<ApiConfig>,
    pub viewer: Viewer,
    /// Where the request came from (rate limits); `None` when unknown.
    pub client_address: Option<String>,
    pub loaders: Arc<Loaders>,
}

impl RequestContext {
    pub fn new(
        pool: PgPool,
        config: Arc<ApiConfig>,
        viewer: Viewer,
        client_address: Option<String>,
    ) -> Self {
        let loaders = Arc::new(Loaders::new(&pool, viewer.comment_reader()));
        Self {
            pool,
            config,
            viewer,
            client_address,
            loaders,
        }
    }

    pub fn of<'a>(ctx: &Context<'a>) -> Result<&'a RequestContext, ApiError> {
        ctx.data::<RequestContext>()
            .map_err(|_| ApiError::Internal("the request context is missing".into()))
    }

    pub fn reader(&self) -> Reader {
        self.viewer.comment_reader()
    }
}
