//! What every resolver of one request shares.

use std::sync::Arc;

use async_graphql::Context;
use gazette_store::PgPool;

use super::auth::Viewer;
use super::errors::ApiError;
use super::loaders::Loaders;
use crate::state::ApiConfig;

pub struct RequestContext {
    pub pool: PgPool,
    pub config: Arc<ApiConfig>,
    pub viewer: Viewer,
    pub loaders: Loaders,
}

impl RequestContext {
    pub fn new(pool: PgPool, config: Arc<ApiConfig>, viewer: Viewer) -> Self {
        let loaders = Loaders::new(&pool);
        Self {
            pool,
            config,
            viewer,
            loaders,
        }
    }

    pub fn of<'a>(ctx: &Context<'a>) -> Result<&'a RequestContext, ApiError> {
        ctx.data::<RequestContext>()
            .map_err(|_| ApiError::Internal("the request context is missing".into()))
    }
}
