use std::net::SocketAddr;
use std::sync::Arc;

use gazette_store::{PgPool, SiteConfig};
use tokio::sync::watch;

use crate::events::EventHub;
use crate::feed_cache::FeedCache;
use crate::graphql::{AppSchema, build_schema};

/// Settings of the HTTP API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    pub site: SiteConfig,
    pub comments: CommentPolicy,
    /// How long a feed is served from memory before its hash is checked again.
    pub feed_recheck: std::time::Duration,
    /// Which web origins browsers may call the API from.
    pub cors: CorsOrigins,
}

/// Origins allowed to call the API from a browser (CORS). Tokens travel in the
/// `Authorization` header, never in cookies, so allowing any origin exposes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    /// Exact origins, such as `https://www.example.gov`.
    List(Vec<String>),
    /// No CORS headers: same-origin use only.
    None,
}

impl ApiConfig {
    pub const DEFAULT_FEED_RECHECK_SECONDS: u64 = 60;
}

/// How public comments are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentPolicy {
    pub moderation: Moderation,
    /// Comments one client address may post per minute without a token; 0: no limit.
    pub rate_limit_per_minute: u32,
    /// The deepest a reply may sit (top-level comments have depth 0).
    pub max_depth: i32,
    /// Take the client address from `X-Forwarded-For` (behind a trusted proxy).
    pub trust_forwarded_for: bool,
}

impl CommentPolicy {
    pub const DEFAULT_RATE_LIMIT: u32 = 5;
    pub const DEFAULT_MAX_DEPTH: i32 = 32;
}

impl Default for CommentPolicy {
    fn default() -> Self {
        Self {
            moderation: Moderation::Links,
            rate_limit_per_minute: Self::DEFAULT_RATE_LIMIT,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            trust_forwarded_for: false,
        }
    }
}

/// Which comments from readers without a token wait for a moderator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderation {
    /// None: every comment is published at once.
    Open,
    /// Comments with two or more links (as WordPress does).
    Links,
    /// All of them.
    All,
}

/// What every handler and resolver shares: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub config: Arc<ApiConfig>,
    pub schema: AppSchema,
    pub events: EventHub,
    pub feeds: FeedCache,
    /// Becomes true when the server shuts down: long-lived WebSockets end then.
    pub shutting_down: watch::Receiver<bool>,
}

impl AppState {
    pub fn new(pool: PgPool, config: ApiConfig, shutting_down: watch::Receiver<bool>) -> Self {
        let events = EventHub::start(pool.clone());
        Self {
            schema: build_schema(events.clone()),
            feeds: FeedCache::new(pool.clone(), &events, config.feed_recheck),
            pool,
            config: Arc::new(config),
            events,
            shutting_down,
        }
    }
}
