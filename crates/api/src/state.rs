use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use gazette_domain::commenting::Commenting;
use gazette_domain::federation::remote::Remote;
use gazette_store::{BudgetPool, PgPool, ReadBudget, Reads, ReplicaPool, SiteConfig, StoreError};
use tokio::sync::watch;

use crate::events::EventHub;
use crate::feed_cache::FeedCache;
use crate::graphql::compiled::PlanCache;
use crate::graphql::pricing::DocumentLimits;
use crate::graphql::response_cache::ResponseCache;
use crate::graphql::{Schemas, build_schemas};
use crate::limits::{AnswerShares, ExecutionSlots, Refusals, SocketRegistry};
use gazette_domain::ClientKey;

/// Whether queries run as compiled plans (see `graphql::compiled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CompiledReads {
    #[default]
    On,
    /// Every query on the resolvers.
    Off,
    /// Both, compared: a difference is answered as an error. For tests.
    Verify,
}

/// Settings of the HTTP API.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub listen: SocketAddr,
    pub site: SiteConfig,
    /// Items per feed and the WebSub hub: a post's comment feed is built here the first
    /// time someone asks for it, exactly as the worker would build it.
    pub feed_items: u32,
    pub websub_hub: Option<String>,
    /// How public comments are taken, and the key their edit tokens are made with.
    pub commenting: Commenting,
    /// How many proxies in front of Gazette append to `X-Forwarded-For` (0: trust none and
    /// use the peer address).
    pub trusted_proxy_hops: u32,
    /// How long a feed is served from memory before its hash is checked again.
    pub feed_recheck: Duration,
    /// The longest an anonymous query's response is served from memory (zero: never);
    /// any change empties the cache sooner.
    pub response_cache_ttl: Duration,
    /// Most bytes the response cache holds.
    pub response_cache_bytes: usize,
    /// Whether queries the planner covers are answered by their compiled plans.
    pub compiled_reads: CompiledReads,
    /// Which web origins browsers may call the API from.
    pub cors: CorsOrigins,
    /// What one request or connection may cost.
    pub limits: Limits,
    /// Serve `/metrics` on the API's own port too (`--metrics-listen api`).
    pub metrics_on_api: bool,
    /// How long a sign-in to the moderation pages lasts.
    pub moderation_session_lifetime: Duration,
    /// Which webhook endpoints admins may register.
    pub webhooks: gazette_domain::webhooks::EndpointRules,
    /// The blog actor, its key and federation's rules, when federation is on
    /// (`--federation`).
    pub federation: Option<gazette_domain::federation::Federation>,
    /// The client for other fediverse servers, with federation: one per process, so its
    /// limits (fetches at once, remembered failures) hold for every request.
    pub remote: Option<Remote>,
}

/// Origins allowed to call the API from a browser (CORS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CorsOrigins {
    Any,
    /// Exact origins, such as `https://www.example.gov`.
    List(Vec<String>),
    /// No CORS headers: same-origin use only (the default).
    None,
}

impl ApiConfig {
    pub const DEFAULT_FEED_RECHECK_SECONDS: u64 = 60;
    pub const DEFAULT_RESPONSE_CACHE_BYTES: usize = 16 * 1024 * 1024;
}

/// What one anonymous client may make the server do. Every limit has a setting; see the
/// README and docs/security.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Most a GraphQL operation may cost: each field 1, each list or connection its page
    /// size times what it selects; also the most selections a document may expand to
    /// through its fragments.
    pub max_complexity: usize,
    /// Most one subscription's selection may cost: it runs again for every event, for every
    /// subscriber.
    pub max_subscription_complexity: usize,
    /// Deepest a document may nest (fields, fragment spreads and inline fragments).
    pub max_depth: usize,
    /// Most lexical tokens in a query document.
    pub max_tokens: usize,
    /// Most directives (`@…`) in a query document.
    pub max_directives: usize,
    /// Most aliased fields in one operation.
    pub max_aliases: usize,
    /// Most fields at the root of one operation.
    pub max_root_fields: usize,
    /// Most bytes of a query document.
    pub max_query_bytes: usize,
    /// Most bytes of a serialised GraphQL response.
    pub max_response_bytes: usize,
    /// GraphQL operations executing at once in this process; more wait briefly, then are
    /// refused with `503`.
    pub max_concurrent: usize,
    /// How long an operation waits for a free slot before the `503`.
    pub queue_timeout: Duration,
    /// How long a DataLoader collects keys before it reads them in one statement: the keys
    /// of one level of an answer arrive within microseconds, unless the machine is so busy
    /// that the resolving thread is preempted for longer (then a level costs two reads).
    pub batch_delay: Duration,
    /// Most bytes of one WebSocket message from a client.
    pub ws_max_message_bytes: usize,
    /// A socket without a subscription (or a connection_init) for this long is closed.
    pub ws_idle_timeout: Duration,
    /// Open WebSockets per client (address, or IPv6 /64).
    pub ws_max_connections_per_client: usize,
    /// Open WebSockets in this process.
    pub ws_max_connections: usize,
    /// Subscriptions running at once on one WebSocket.
    pub ws_max_subscriptions: usize,
    /// Refused documents a client may send in a minute before its requests are slowed
    /// down (0: never).
    pub max_refusals_per_minute: u32,
    /// HTTP connections open at once in this process (upgraded WebSockets count under
    /// `ws_max_connections`).
    pub http_max_connections: usize,
    /// HTTP connections open at once from one address, when clients connect directly.
    pub http_max_connections_per_client: usize,
    /// How long a connection's writes may make no progress (its client reads nothing)
    /// before it is closed; under pressure (see `listener::Stalls`) much less.
    pub http_write_timeout: Duration,
}

impl Limits {
    /// How deep brackets may nest in a document: selection sets, arguments and list or
    /// object values each open a level, so a query within the depth limit nests at most
    /// about twice as deep.
    pub fn max_nesting(&self) -> usize {
        self.max_depth * 2 + 16
    }

    /// The text all answers being built at once may hold: six times the response cap, so
    /// the sixteen execution slots cannot each build a whole answer at the same time.
    pub fn answer_pool_bytes(&self) -> usize {
        self.max_response_bytes.saturating_mul(6)
    }

    /// What one client's answers may hold of the pool at once: one whole answer (its rows
    /// and its text), which leaves the rest of the pool to everyone else.
    pub fn answer_share_bytes(&self) -> usize {
        self.max_response_bytes
            .saturating_mul(gazette_store::LOADED_PER_BUILT + 1)
    }

    /// What answers waiting for their clients to read them may hold in all: twelve clients'
    /// shares, so that a few clients that do not read cannot have every other client's
    /// large answers refused.
    pub fn unsent_pool_bytes(&self) -> usize {
        self.unsent_share_bytes().saturating_mul(12)
    }

    /// What one client's unread answers may hold: two whole answers.
    pub fn unsent_share_bytes(&self) -> usize {
        self.max_response_bytes.saturating_mul(2)
    }

    /// What bounds one document: `subscription` selects the lower cost limit.
    pub fn document(&self, subscription: bool) -> DocumentLimits {
        let max_cost = match subscription {
            true => self.max_subscription_complexity,
            false => self.max_complexity,
        };
        DocumentLimits {
            max_bytes: self.max_query_bytes,
            max_tokens: self.max_tokens,
            max_directives: self.max_directives,
            max_nesting: self.max_nesting(),
            max_depth: self.max_depth,
            max_aliases: self.max_aliases,
            max_root_fields: self.max_root_fields,
            max_cost: u64::try_from(max_cost).unwrap_or(u64::MAX),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_complexity: 20_000,
            max_subscription_complexity: 200,
            max_depth: 32,
            max_tokens: 2_000,
            max_directives: 50,
            max_aliases: 30,
            max_root_fields: 20,
            max_query_bytes: 32 * 1024,
            max_response_bytes: 10 * 1024 * 1024,
            max_concurrent: 16,
            queue_timeout: Duration::from_secs(2),
            batch_delay: Duration::from_millis(1),
            ws_max_message_bytes: 64 * 1024,
            ws_idle_timeout: Duration::from_secs(60),
            ws_max_connections_per_client: 20,
            ws_max_connections: 1_000,
            ws_max_subscriptions: 20,
            max_refusals_per_minute: 60,
            http_max_connections: 4_096,
            http_max_connections_per_client: 128,
            http_write_timeout: Duration::from_secs(60),
        }
    }
}

/// What every handler and resolver shares: one pointer to clone (axum clones the state for
/// every request; cloning a dozen `Arc`s each time was a tenth of a feed request's CPU).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    /// The primary: writes, and the reads that must see them.
    pub pool: PgPool,
    /// Reads that may lag the primary a little (queries, pages, feeds): replicas when
    /// configured and answering.
    pub reads: Reads,
    pub config: Arc<ApiConfig>,
    pub schemas: Schemas,
    pub events: EventHub,
    pub feeds: FeedCache,
    /// Anonymous query responses, until the content changes.
    pub responses: ResponseCache,
    /// Compiled plans of the query documents seen.
    pub plans: PlanCache,
    /// GraphQL operations executing now (the concurrency cap).
    pub executions: ExecutionSlots,
    /// The text all answers being built at once may hold (see [`Shared::answer_budget`]),
    /// and each client's share of it.
    pub answers: Arc<BudgetPool>,
    pub answer_shares: AnswerShares,
    /// Answers built and not yet taken by their connections (see [`crate::unsent`]), in all
    /// and per client.
    pub unsent: Arc<BudgetPool>,
    pub unsent_shares: AnswerShares,
    /// The bytes of GraphQL request bodies being read, in all and per client.
    pub bodies: Arc<BudgetPool>,
    pub body_shares: AnswerShares,
    /// Open WebSockets, per client and in all.
    pub sockets: SocketRegistry,
    /// Clients that keep sending refused documents.
    pub refusals: Refusals,
    /// The client for other fediverse servers (keys of signed activities), with federation.
    pub remote: Option<Remote>,
    /// Becomes true when the server shuts down: long-lived WebSockets end then.
    pub shutting_down: watch::Receiver<bool>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(reads: Reads, config: ApiConfig, shutting_down: watch::Receiver<bool>) -> Self {
        let pool = reads.primary().clone();
        let events = EventHub::start(pool.clone());
        Self(Arc::new(Shared {
            schemas: build_schemas(events.clone(), &config.limits),
            feeds: FeedCache::new(reads.clone(), &events, config.feed_recheck),
            reads,
            responses: ResponseCache::new(
                &events,
                config.response_cache_ttl,
                config.response_cache_bytes,
            ),
            plans: PlanCache::new(config.compiled_reads != CompiledReads::Off),
            executions: ExecutionSlots::new(config.limits.max_concurrent),
            answers: BudgetPool::new(config.limits.answer_pool_bytes()),
            answer_shares: AnswerShares::new(config.limits.answer_share_bytes()),
            unsent: BudgetPool::new(config.limits.unsent_pool_bytes()),
            unsent_shares: AnswerShares::new(config.limits.unsent_share_bytes()),
            bodies: BudgetPool::new(
                crate::graphql::http::MAX_BODY_BYTES.saturating_mul(config.limits.max_concurrent),
            ),
            body_shares: AnswerShares::new(crate::graphql::http::MAX_BODY_BYTES.saturating_mul(2)),
            refusals: Refusals::new(config.limits.max_refusals_per_minute),
            sockets: SocketRegistry::new(
                config.limits.ws_max_connections,
                config.limits.ws_max_connections_per_client,
            ),
            remote: config.remote.clone(),
            pool,
            config: Arc::new(config),
            events,
            shutting_down,
        }))
    }
}

impl Shared {
    /// This process has just changed content (a mutation, a comment form, a moderation
    /// action, an inbox activity): its next read must see the change, not an answer the
    /// response cache kept from before it. Other processes drop theirs when the change
    /// event reaches them (LISTEN/NOTIFY), a moment later.
    pub fn wrote_content(&self) {
        self.responses.clear();
    }

    /// What a GraphQL request's body may hold while it is read: its own limit, drawn from
    /// what all bodies being read at once may hold (as many as the execution slots) and
    /// from the client's share (two bodies), so slow bodies on many connections cannot
    /// fill the memory (a probe held 1.3 GB with 400 of them).
    pub fn body_budget(&self, client: &ClientKey) -> ReadBudget {
        ReadBudget::new(
            crate::graphql::http::MAX_BODY_BYTES,
            vec![self.bodies.clone(), self.body_shares.of(client)],
        )
    }

    /// The pools an answer waiting for `client` to read it is held in: the process's and the
    /// client's share.
    pub fn unsent_pools(&self, client: &ClientKey) -> Vec<Arc<BudgetPool>> {
        vec![self.unsent.clone(), self.unsent_shares.of(client)]
    }

    /// The budget of one GraphQL answer for `client`: `--graphql-max-response-bytes` of
    /// text built (and four times as much of rows loaded), drawn from the process's pool
    /// and from the client's share of it.
    pub fn answer_budget(&self, client: &ClientKey) -> ReadBudget {
        ReadBudget::new(
            self.config.limits.max_response_bytes,
            vec![self.answers.clone(), self.answer_shares.of(client)],
        )
    }

    /// Runs `read` where reads go (see [`Reads::run`]), counting a fall-back to the primary.
    pub async fn read<T, Read>(&self, read: impl Fn(PgPool) -> Read) -> Result<T, StoreError>
    where
        Read: Future<Output = Result<T, StoreError>>,
    {
        self.reads
            .run(read, || gazette_metrics::metrics().replica_fallbacks.inc())
            .await
    }

    /// A replica for a read that may lag the primary, if one answers.
    pub fn replica(&self) -> Option<ReplicaPool> {
        let replica = self.reads.replica();
        if replica.is_none() && !self.reads.replicas().is_empty() {
            gazette_metrics::metrics().replica_fallbacks.inc();
        }
        replica
    }

    /// `replica` failed to answer a read, which the primary answers instead.
    pub fn replica_failed(&self, replica: &ReplicaPool, reason: &str) {
        self.reads.failed(replica, reason);
        gazette_metrics::metrics().replica_fallbacks.inc();
    }

    /// [`Shared::read`] for a page (HTML, sitemap), counting the statements it runs.
    pub async fn read_page<T, Read>(&self, read: impl Fn(PgPool) -> Read) -> Result<T, StoreError>
    where
        Read: Future<Output = Result<T, StoreError>>,
    {
        let (result, statements) = gazette_metrics::count_statements(self.read(read)).await;
        gazette_metrics::metrics()
            .statements_per_request
            .with_label_values(&["page"])
            .observe(f64::from(statements));
        result
    }
}
