use std::net::SocketAddr;
use std::sync::Arc;

use gazette_store::PgPool;
use gazette_store::SiteConfig;

use crate::graphql::{AppSchema, build_schema};

/// Settings of the HTTP API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    pub site: SiteConfig,
}

/// What every handler and resolver shares: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<ApiConfig>,
    pub schema: AppSchema,
}

impl AppState {
    pub fn new(pool: PgPool, config: ApiConfig) -> Self {
        Self {
            pool,
            config: Arc::new(config),
            schema: build_schema(),
        }
    }
}
