//! The command line: every setting is a flag and an environment variable, with a default.
//! The README's configuration table lists exactly these (a test keeps them in step).

use std::net::SocketAddr;
use std::path::PathBuf;

use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::{Args, Parser, Subcommand, ValueEnum};
use gazette_api::{CommentPolicy, CorsOrigins, Limits, Moderation};
use gazette_domain::comment_form::FormRules;
use gazette_domain::feeds::FeedSettings;
use gazette_domain::webhooks::{EndpointRules, RetrySchedule};
use gazette_store::DatabaseConfig;
use gazette_store::synthetic::SyntheticSite;
use gazette_worker::WorkerConfig;

#[derive(Debug, Parser)]
#[command(
    name = "gazette",
    version,
    about = "Gazette: a GraphQL blog service with a syndication worker",
    long_about = "Gazette: a GraphQL blog service with a syndication worker.\n\n\
                  Without a command it runs `serve`: the API and the worker in one process, on \
                  an embedded PostgreSQL under the data directory unless DATABASE_URL is set."
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,

    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Settings that each parse but cannot work together, in a sentence; checked before
    /// anything is opened, bound or started.
    pub fn conflict(&self) -> Option<String> {
        let settings = &self.settings;
        if settings.comment_form_lifetime <= settings.comment_form_min_fill {
            return Some(format!(
                "--comment-form-lifetime ({:?}) must be longer than --comment-form-min-fill ({:?}): a form could never be sent",
                settings.comment_form_lifetime, settings.comment_form_min_fill
            ));
        }
        let runs_the_worker = matches!(
            self.command,
            None | Some(Command::Serve) | Some(Command::Worker { .. })
        );
        if runs_the_worker && settings.db_max_connections < WORKER_MIN_CONNECTIONS {
            return Some(format!(
                "--db-max-connections must be at least {WORKER_MIN_CONNECTIONS} where the worker runs (serve, worker): it holds one connection for the changes it claims while it rebuilds feeds on another"
            ));
        }
        None
    }
}

/// The fewest connections the worker's feed runs work with.
pub const WORKER_MIN_CONNECTIONS: u32 = 2;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API and the worker in one process (the default).
    Serve,
    /// Run only the HTTP API.
    Api,
    /// Run only the syndication worker.
    Worker {
        /// Run every job once and exit (for cron-less deployments and scripts).
        #[arg(long)]
        once: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create, list and revoke API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Import a blog from a Blogger export (Atom) or a WordPress export (WXR), detected
    /// from the file; running it again adds only what is new (docs/import.md).
    Import {
        /// The export file.
        file: std::path::PathBuf,
        /// Report what would be imported, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Export the whole site (posts, tags, authors, threaded comments with their moderation
    /// state) as a WordPress export (WXR 1.2), which WordPress and `gazette import` read
    /// (docs/import.md).
    Export {
        /// Where to write it; standard output when not given.
        file: Option<std::path::PathBuf>,
    },
    /// Measure texts as a social channel counts them: one JSON string per line on stdin,
    /// its length per line on stdout (X's weighted length for `twitter`).
    Measure {
        /// The channel kind, as stored: twitter, mastodon, facebook, linkedin, …
        #[arg(long, default_value = "twitter")]
        channel: String,
    },
    /// Fill an empty database with the benchmark's synthetic site (docs/benchmarks.md).
    BenchData(BenchDataArgs),
}

/// The size of the synthetic site; the defaults are the benchmark's data set.
#[derive(Debug, Args)]
pub struct BenchDataArgs {
    /// Published posts, the big thread's included.
    #[arg(long, default_value_t = SyntheticSite::default().posts)]
    pub posts: u32,
    /// Comments on each ordinary post (half top-level, the rest replies).
    #[arg(long, default_value_t = SyntheticSite::default().comments_per_post)]
    pub comments_per_post: u32,
    /// Top-level comments of the big thread, each heading a chain of replies.
    #[arg(long, default_value_t = SyntheticSite::default().big_thread_chains)]
    pub big_thread_chains: u32,
    /// Levels of each chain of the big thread.
    #[arg(long, default_value_t = SyntheticSite::default().big_thread_depth)]
    pub big_thread_depth: u32,
    /// One post in this many is a draft, and every post's last reply is held, spam or
    /// deleted (0: nothing held back), so the visibility rules have rows to refuse.
    #[arg(long, default_value_t = SyntheticSite::default().hold_back_every)]
    pub hold_back_every: u32,
}

impl BenchDataArgs {
    pub fn site(&self) -> SyntheticSite {
        SyntheticSite {
            posts: self.posts,
            comments_per_post: self.comments_per_post,
            big_thread_chains: self.big_thread_chains,
            big_thread_depth: self.big_thread_depth,
            hold_back_every: self.hold_back_every,
            ..SyntheticSite::default()
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it (it is shown only this once).
    Create {
        /// The name of the person (author) the token belongs to; created when new.
        #[arg(long)]
        name: String,
        /// What the token may do.
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Revoke a token by its id (see `gazette token list`).
    Revoke {
        /// The token's id.
        id: i64,
    },
    /// List tokens (never their secrets).
    List,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Everything.
    Admin,
    /// Their own posts.
    Author,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModerationArg {
    /// Publish every comment at once.
    Open,
    /// Hold comments with two or more links.
    Links,
    /// Hold every comment from readers without a token.
    All,
}

/// Settings shared by every command.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// PostgreSQL URL; when unset, Gazette runs its own PostgreSQL under the data directory.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Read replicas of DATABASE_URL's server (streaming standbys), repeatable or comma-separated: queries, pages and feeds read from them while they answer [default: none].
    #[arg(
        long,
        env = "GAZETTE_DATABASE_READ_URL",
        global = true,
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub database_read_url: Vec<String>,

    /// Where Prometheus metrics (`/metrics`) are served: an address, `api` (on the API's own port) or `off` [default: 127.0.0.1:9464, skipped with a warning when taken].
    #[arg(long, env = "GAZETTE_METRICS_LISTEN", global = true, value_parser = parse_metrics_listen)]
    pub metrics_listen: Option<MetricsListen>,

    /// Directory for the embedded PostgreSQL cluster and the admin token.
    #[arg(long, env = "GAZETTE_DATA_DIR", global = true, default_value = DatabaseConfig::DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,

    /// Directory holding initdb, pg_ctl and postgres [default: searched on PATH, then /usr/lib/postgresql/<newest>/bin].
    #[arg(long, env = "GAZETTE_POSTGRES_BIN_DIR", global = true)]
    pub postgres_bin_dir: Option<PathBuf>,

    /// Most database connections each process opens.
    #[arg(long, env = "GAZETTE_DB_MAX_CONNECTIONS", global = true, default_value_t = DatabaseConfig::DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_max_connections: u32,

    /// Statements reading post pages of one shape that run at once on each database; a request arriving while they all run waits, and the next one reads its page with those of every request waiting then (`0`: each page its own statement).
    #[arg(long, env = "GAZETTE_DB_POST_PAGE_STATEMENTS", global = true, default_value_t = DatabaseConfig::DEFAULT_POST_PAGE_STATEMENTS, value_parser = clap::value_parser!(u64).range(0..=1000).map(usize_from))]
    pub db_post_page_statements: usize,

    /// Address and port the HTTP API listens on.
    #[arg(
        long,
        env = "GAZETTE_LISTEN",
        global = true,
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,

    /// Public base URL of the site, used in every absolute link (feeds, Post.url) [default: http://<listen address>].
    #[arg(long, env = "GAZETTE_PUBLIC_URL", global = true, value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// Site title, shown in feeds.
    #[arg(long, env = "GAZETTE_SITE_TITLE", global = true, default_value = gazette_store::SiteConfig::DEFAULT_TITLE)]
    pub site_title: String,

    /// Site description, shown in feeds.
    #[arg(long, env = "GAZETTE_SITE_DESCRIPTION", global = true, default_value = gazette_store::SiteConfig::DEFAULT_DESCRIPTION)]
    pub site_description: String,

    /// Language of the content (BCP 47 tag), shown in feeds.
    #[arg(long, env = "GAZETTE_SITE_LANGUAGE", global = true, default_value = gazette_store::SiteConfig::DEFAULT_LANGUAGE, value_parser = parse_language_tag)]
    pub site_language: String,

    /// When the worker regenerates feeds: a cron expression with seconds, in UTC.
    #[arg(long, env = "GAZETTE_SCHEDULE", global = true, default_value = WorkerConfig::DEFAULT_SCHEDULE, value_parser = parse_schedule)]
    pub schedule: String,

    /// A WebSub hub (e.g. https://pubsubhubbub.appspot.com/) that every feed links and that the worker tells when a feed changes.
    #[arg(long, env = "GAZETTE_WEBSUB_HUB", global = true, value_parser = parse_hub_url)]
    pub websub_hub: Option<String>,

    /// Web origins that browsers may call the API from: empty for none (same-origin only), a comma-separated list such as `https://www.example.gov,https://admin.example.gov`, or `*` for any.
    #[arg(long, env = "GAZETTE_CORS_ORIGINS", global = true, default_value = "", value_parser = parse_cors_origins)]
    pub cors_origins: CorsOrigins,

    /// Seconds a feed is served from memory before the API checks (by hash) that it is still current; the worker's announcements refresh it sooner.
    #[arg(long, env = "GAZETTE_FEED_RECHECK_SECONDS", global = true, default_value_t = gazette_api::ApiConfig::DEFAULT_FEED_RECHECK_SECONDS, value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub feed_recheck_seconds: u64,

    /// How many of the latest posts get a summary for each social channel.
    #[arg(long, env = "GAZETTE_SUMMARY_POSTS", global = true, default_value_t = WorkerConfig::DEFAULT_SUMMARY_POSTS, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub summary_posts: u32,

    /// How long each channel digest covers: hours (`12h`) or days (`1d`, `7d`).
    #[arg(long, env = "GAZETTE_DIGEST_PERIOD", global = true, default_value = "1d", value_parser = parse_period)]
    pub digest_period: chrono::TimeDelta,

    /// Number of items (posts or comments) in each feed.
    #[arg(long, env = "GAZETTE_FEED_ITEMS", global = true, default_value_t = FeedSettings::DEFAULT_FEED_ITEMS, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub feed_items: u32,

    /// Seed an empty database with the demo post on first start (true or false).
    #[arg(long, env = "GAZETTE_SEED", global = true, default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub seed: bool,

    /// Which comments from readers without a token wait for a moderator: none (open), those with two or more links (links), or all.
    #[arg(long, env = "GAZETTE_COMMENT_MODERATION", global = true, value_enum, default_value_t = ModerationArg::Links)]
    pub comment_moderation: ModerationArg,

    /// Comments one client address may post per minute without a token (0: no limit).
    #[arg(long, env = "GAZETTE_COMMENT_RATE_LIMIT", global = true, default_value_t = CommentPolicy::DEFAULT_RATE_LIMIT)]
    pub comment_rate_limit: u32,

    /// The deepest a reply may sit (top-level comments have depth 0); deeper replies attach at this depth.
    #[arg(long, env = "GAZETTE_COMMENT_MAX_DEPTH", global = true, default_value_t = CommentPolicy::DEFAULT_MAX_DEPTH, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub comment_max_depth: i32,

    /// How long the comment form under a post stays good after its page is made (e.g. `120m`, `2h`); a later comment is refused with its text kept.
    #[arg(long, env = "GAZETTE_COMMENT_FORM_LIFETIME", global = true, default_value = "2h", value_parser = parse_nonzero_duration)]
    pub comment_form_lifetime: Duration,

    /// How soon after its page the comment form may be sent (e.g. `3s`; `0` for no minimum): programs send at once, people read and type.
    #[arg(long, env = "GAZETTE_COMMENT_FORM_MIN_FILL", global = true, default_value = "3s", value_parser = parse_duration)]
    pub comment_form_min_fill: Duration,

    /// How long a sign-in to the moderation pages lasts (e.g. `12h`); revoking its API token ends it sooner.
    #[arg(long, env = "GAZETTE_MODERATION_SESSION_LIFETIME", global = true, default_value = "12h", value_parser = parse_nonzero_duration)]
    pub moderation_session_lifetime: Duration,

    /// Make the blog followable from the fediverse (ActivityPub): its actor, inbox and deliveries, replies as comments (true or false; see docs/federation.md).
    #[arg(long, env = "GAZETTE_FEDERATION", global = true, default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true")]
    pub federation: bool,

    /// The blog actor's user name: `blog` makes the handle @blog@<public host>.
    #[arg(long, env = "GAZETTE_FEDERATION_ACTOR", global = true, default_value = "blog", value_parser = parse_actor_name)]
    pub federation_actor: String,

    /// File holding the blog actor's RSA private key (created, mode 0600, when missing) [default: <data dir>/federation-key.pem].
    #[arg(long, env = "GAZETTE_FEDERATION_KEY_FILE", global = true)]
    pub federation_key_file: Option<PathBuf>,

    /// Let federation fetch from and deliver to loopback, private, link-local and reserved addresses, and plain http:// peers (for tests and closed networks) (true or false).
    #[arg(long, env = "GAZETTE_FEDERATION_ALLOW_PRIVATE", global = true, default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true")]
    pub federation_allow_private: bool,

    /// Follow requests wait for an admin's approval (`approveFederationFollower`) instead of being accepted at once (true or false).
    #[arg(long, env = "GAZETTE_FEDERATION_APPROVE_FOLLOWERS", global = true, default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true")]
    pub federation_approve_followers: bool,

    /// The public followers collection lists the followers' accounts, not only how many there are (true or false).
    #[arg(long, env = "GAZETTE_FEDERATION_LIST_FOLLOWERS", global = true, default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true")]
    pub federation_list_followers: bool,

    /// Let webhook endpoints be http:// addresses, not only https:// (true or false).
    #[arg(long, env = "GAZETTE_WEBHOOKS_ALLOW_HTTP", global = true, default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true")]
    pub webhooks_allow_http: bool,

    /// Let webhook endpoints resolve to loopback, private, link-local and reserved addresses (for tests and closed networks) (true or false).
    #[arg(long, env = "GAZETTE_WEBHOOKS_ALLOW_PRIVATE", global = true, default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true")]
    pub webhooks_allow_private: bool,

    /// When a failed webhook delivery is tried again: the delays between attempts, comma-separated (the first attempt is at once; after the last delay's attempt it is given up).
    #[arg(long, env = "GAZETTE_WEBHOOKS_RETRY_DELAYS", global = true, value_delimiter = ',', default_value = "5s,5m,30m,2h,5h,10h,14h,20h,24h", value_parser = parse_duration)]
    pub webhooks_retry_delays: Vec<Duration>,

    /// Take the client address from X-Forwarded-For (only behind a proxy that sets it) (true or false).
    #[arg(long, env = "GAZETTE_TRUST_FORWARDED_FOR", global = true, default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub trust_forwarded_for: bool,

    /// With --trust-forwarded-for: how many proxies in front of Gazette append to X-Forwarded-For (the client is that many entries from the end).
    #[arg(long, env = "GAZETTE_TRUSTED_PROXY_HOPS", global = true, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10))]
    pub trusted_proxy_hops: u32,

    /// File holding the secret key comment edit tokens are made with (created, mode 0600, when missing) [default: <data dir>/edit-token-key].
    #[arg(long, env = "GAZETTE_EDIT_TOKEN_KEY_FILE", global = true)]
    pub edit_token_key_file: Option<PathBuf>,

    /// Longest a database statement may run (e.g. `5s`, `500ms`; `0` for no limit); a request whose statement runs longer fails with TIMEOUT.
    #[arg(long, env = "GAZETTE_DB_STATEMENT_TIMEOUT", global = true, default_value = "5s", value_parser = parse_duration)]
    pub db_statement_timeout: Duration,

    /// Plan each prepared statement once per database connection (PostgreSQL's plan_cache_mode = force_generic_plan) rather than on every execution.
    #[arg(long, env = "GAZETTE_DB_GENERIC_PLANS", global = true, default_value_t = DatabaseConfig::DEFAULT_GENERIC_PLANS, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub db_generic_plans: bool,

    /// Most a GraphQL operation may cost: each field 1, each list or connection its page size times what it selects.
    #[arg(long, env = "GAZETTE_GRAPHQL_MAX_COMPLEXITY", global = true, default_value_t = Limits::default().max_complexity, value_parser = clap::value_parser!(u64).range(100..=10_000_000).map(usize_from))]
    pub graphql_max_complexity: usize,

    /// Most one GraphQL subscription's selection may cost (it runs again for every event and subscriber).
    #[arg(long, env = "GAZETTE_GRAPHQL_MAX_SUBSCRIPTION_COMPLEXITY", global = true, default_value_t = Limits::default().max_subscription_complexity, value_parser = clap::value_parser!(u64).range(10..=10_000_000).map(usize_from))]
    pub graphql_max_subscription_complexity: usize,

    /// Deepest a GraphQL document may nest (fields, fragment spreads and inline fragments each open a level).
    #[arg(long, env = "GAZETTE_GRAPHQL_MAX_DEPTH", global = true, default_value_t = Limits::default().max_depth, value_parser = clap::value_parser!(u64).range(5..=200).map(usize_from))]
    pub graphql_max_depth: usize,

    /// Most lexical tokens (names, values, punctuation) in one GraphQL document.
    #[arg(long, env = "GAZETTE_GRAPHQL_MAX_TOKENS", global = true, default_value_t = Limits::default().max_tokens, value_parser = clap::value_parser!(u64).range(100..=1_000_000).map(usize_from))]
    pub graphql_max_tokens: usize,

    /// Most directives (`@skip`, `@include`, …) in one GraphQL document.
    #[arg(long, env = "GAZETTE_GRAPHQL_MAX_DIRECTIVES", global = true, default_value_t = Limits::default().max_directives, value_parser = clap::value_parser!(u64).range(0..=10_000).map(usize_from))]
    pub graphql_max_directives: usize,

    /// Most aliased fields in one GraphQL document.
    #[arg(long, env = "GAZETTE_GRAPHQL_MAX_ALIASES", global = true, default_value_t = Limits::default().max_aliases, value_parser = clap::value_parser!(u64).range(0..=10_000).map(usize_from))]
    pub graphql_max_aliases: usize,

    /// Most root fields in one GraphQL operation.
    #[arg(long, env = "GAZETTE_GRAPHQL_MAX_ROOT_FIELDS", global = true, default_value_t = Limits::default().max_root_fields, value_parser = clap::value_parser!(u64).range(1..=10_000).map(usize_from))]
    pub graphql_max_root_fields: usize,

    /// Most bytes of a GraphQL query document.
    #[arg(long, env = "GAZETTE_GRAPHQL_MAX_QUERY_BYTES", global = true, default_value_t = Limits::default().max_query_bytes, value_parser = clap::value_parser!(u64).range(1024..=1_048_576).map(usize_from))]
    pub graphql_max_query_bytes: usize,

    /// Most bytes of a GraphQL response; a larger one is refused with RESPONSE_TOO_LARGE.
    #[arg(long, env = "GAZETTE_GRAPHQL_MAX_RESPONSE_BYTES", global = true, default_value_t = Limits::default().max_response_bytes, value_parser = clap::value_parser!(u64).range(65_536..=1_073_741_824).map(usize_from))]
    pub graphql_max_response_bytes: usize,

    /// GraphQL requests executing at once per process; more wait up to 2 seconds, then get 503 with Retry-After.
    #[arg(long, env = "GAZETTE_GRAPHQL_MAX_CONCURRENT", global = true, default_value_t = Limits::default().max_concurrent, value_parser = clap::value_parser!(u64).range(1..=10_000).map(usize_from))]
    pub graphql_max_concurrent: usize,

    /// How long a DataLoader collects the keys of one level of an answer before reading them in one statement.
    #[arg(long, env = "GAZETTE_GRAPHQL_BATCH_DELAY", global = true, default_value = "1ms", value_parser = parse_batch_delay)]
    pub graphql_batch_delay: Duration,

    /// Refused GraphQL documents (over a limit, invalid, unreadable) one client address may send in a minute; past it, its requests wait a second and get 429 until the minute is over (0: never).
    #[arg(long, env = "GAZETTE_GRAPHQL_MAX_REFUSALS_PER_MINUTE", global = true, default_value_t = Limits::default().max_refusals_per_minute, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    pub graphql_max_refusals_per_minute: u32,

    /// HTTP connections open at once per API process (a WebSocket, once open, counts under --ws-max-connections instead); more are closed as soon as they are accepted.
    #[arg(long, env = "GAZETTE_HTTP_MAX_CONNECTIONS", global = true, default_value_t = Limits::default().http_max_connections, value_parser = clap::value_parser!(u64).range(1..=1_000_000).map(usize_from))]
    pub http_max_connections: usize,

    /// HTTP connections open at once from one client address (an IPv6 /64); not applied with --trust-forwarded-for, where every connection comes from the proxy.
    #[arg(long, env = "GAZETTE_HTTP_MAX_CONNECTIONS_PER_CLIENT", global = true, default_value_t = Limits::default().http_max_connections_per_client, value_parser = clap::value_parser!(u64).range(1..=1_000_000).map(usize_from))]
    pub http_max_connections_per_client: usize,

    /// How long an HTTP connection's writes may make no progress (its client reads nothing) before it is closed, e.g. `60s`; 2 s while many connections stall or unread answers fill half their pool.
    #[arg(long, env = "GAZETTE_HTTP_WRITE_TIMEOUT", global = true, default_value = "60s", value_parser = parse_duration)]
    pub http_write_timeout: Duration,

    /// Most bytes of one WebSocket message from a client.
    #[arg(long, env = "GAZETTE_WS_MAX_MESSAGE_BYTES", global = true, default_value_t = Limits::default().ws_max_message_bytes, value_parser = clap::value_parser!(u64).range(1024..=16_777_216).map(usize_from))]
    pub ws_max_message_bytes: usize,

    /// The longest an anonymous query's response is served from memory, e.g. `5s` (`0`: no cache); any change to the content empties the cache sooner.
    #[arg(long, env = "GAZETTE_GRAPHQL_CACHE_TTL", global = true, default_value = "5s", value_parser = parse_duration)]
    pub graphql_cache_ttl: Duration,

    /// Whether queries over posts and their comments run as compiled plans: on, off (every query runs on the field resolvers), or verify (both run and must give the same bytes, for tests).
    #[arg(long, env = "GAZETTE_GRAPHQL_COMPILED_READS", global = true, value_enum, default_value_t = CompiledReadsArg::On)]
    pub graphql_compiled_reads: CompiledReadsArg,

    /// Most bytes the response cache holds (keys and answers); the least recently used answers go first.
    #[arg(long, env = "GAZETTE_GRAPHQL_CACHE_MAX_BYTES", global = true, default_value_t = gazette_api::ApiConfig::DEFAULT_RESPONSE_CACHE_BYTES, value_parser = clap::value_parser!(u64).range(0..=4_294_967_296).map(usize_from))]
    pub graphql_cache_max_bytes: usize,

    /// A WebSocket without a subscription (and without messages) for this long is closed, e.g. `60s`.
    #[arg(long, env = "GAZETTE_WS_IDLE_TIMEOUT", global = true, default_value = "60s", value_parser = parse_nonzero_duration)]
    pub ws_idle_timeout: Duration,

    /// Open WebSockets per client address (IPv6: per /64).
    #[arg(long, env = "GAZETTE_WS_MAX_CONNECTIONS_PER_CLIENT", global = true, default_value_t = Limits::default().ws_max_connections_per_client, value_parser = clap::value_parser!(u64).range(1..=10_000).map(usize_from))]
    pub ws_max_connections_per_client: usize,

    /// Open WebSockets per process.
    #[arg(long, env = "GAZETTE_WS_MAX_CONNECTIONS", global = true, default_value_t = Limits::default().ws_max_connections, value_parser = clap::value_parser!(u64).range(1..=1_000_000).map(usize_from))]
    pub ws_max_connections: usize,

    /// Subscriptions running at once on one WebSocket.
    #[arg(long, env = "GAZETTE_WS_MAX_SUBSCRIPTIONS", global = true, default_value_t = Limits::default().ws_max_subscriptions, value_parser = clap::value_parser!(u64).range(1..=10_000).map(usize_from))]
    pub ws_max_subscriptions: usize,

    /// Log filter (tracing's EnvFilter syntax), e.g. `info` or `gazette=debug,sqlx=warn`.
    #[arg(long, env = "GAZETTE_LOG", global = true, default_value = "info", value_parser = parse_log_filter)]
    pub log: String,

    /// How log lines are written: `text` for people, `json` (one object per line) for log shippers.
    #[arg(long, env = "GAZETTE_LOG_FORMAT", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsListen {
    /// On an address of its own, apart from the public API.
    Address(SocketAddr),
    /// On the API's port, beside everything else it serves.
    Api,
    Off,
}

impl MetricsListen {
    /// Loopback only: metrics say how busy the site is and how its database fares, which is
    /// nobody's business outside.
    pub const DEFAULT: SocketAddr =
        SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9464);
}

fn parse_metrics_listen(value: &str) -> Result<MetricsListen, String> {
    match value.trim() {
        "api" => Ok(MetricsListen::Api),
        "off" => Ok(MetricsListen::Off),
        address => address.parse().map(MetricsListen::Address).map_err(|_| {
            "expected an address and port (e.g. 127.0.0.1:9464), `api` or `off`".to_owned()
        }),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompiledReadsArg {
    /// Queries the planner covers are answered by their plans.
    On,
    /// Every query runs on the field resolvers.
    Off,
    /// Both run; an answer that differs is an error (COMPILED_MISMATCH). For tests: it
    /// doubles the work.
    Verify,
}

impl From<CompiledReadsArg> for gazette_api::CompiledReads {
    fn from(mode: CompiledReadsArg) -> Self {
        match mode {
            CompiledReadsArg::On => Self::On,
            CompiledReadsArg::Off => Self::Off,
            CompiledReadsArg::Verify => Self::Verify,
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines, coloured only on a terminal.
    Text,
    /// One JSON object per line.
    Json,
}

impl Settings {
    pub fn database(&self) -> DatabaseConfig {
        DatabaseConfig {
            url: self.database_url.clone().filter(|url| !url.is_empty()),
            read_urls: self
                .database_read_url
                .iter()
                .map(|url| url.trim().to_owned())
                .filter(|url| !url.is_empty())
                .collect(),
            data_dir: self.data_dir.clone(),
            postgres_bin_dir: self.postgres_bin_dir.clone(),
            max_connections: self.db_max_connections,
            statement_timeout: self.db_statement_timeout,
            generic_plans: self.db_generic_plans,
            post_page_statements: self.db_post_page_statements,
        }
    }

    /// The site as seen from outside; `bound` is the address actually listened on (the
    /// port may have been 0).
    pub fn site(&self, bound: SocketAddr) -> gazette_store::SiteConfig {
        let public_url = self.public_url.clone().unwrap_or_else(|| {
            let host = if bound.ip().is_unspecified() {
                "localhost".to_owned()
            } else {
                bound.ip().to_string()
            };
            let host = if bound.is_ipv6() && host != "localhost" {
                format!("[{host}]")
            } else {
                host
            };
            format!("http://{host}:{}", bound.port())
        });
        gazette_store::SiteConfig {
            public_url: public_url.trim_end_matches('/').to_owned(),
            title: self.site_title.clone(),
            description: self.site_description.clone(),
            language: self.site_language.clone(),
        }
    }

    pub fn comment_form(&self) -> FormRules {
        FormRules {
            lifetime: self.comment_form_lifetime,
            min_fill: self.comment_form_min_fill,
        }
    }

    pub fn comment_policy(&self) -> CommentPolicy {
        CommentPolicy {
            moderation: match self.comment_moderation {
                ModerationArg::Open => Moderation::Open,
                ModerationArg::Links => Moderation::Links,
                ModerationArg::All => Moderation::All,
            },
            rate_limit_per_minute: self.comment_rate_limit,
            max_depth: self.comment_max_depth,
        }
    }

    /// How many proxies' `X-Forwarded-For` entries to trust (0: none).
    pub fn trusted_proxy_hops(&self) -> u32 {
        if self.trust_forwarded_for {
            self.trusted_proxy_hops
        } else {
            0
        }
    }

    /// Where the edit-token key lives.
    pub fn edit_token_key_file(&self) -> PathBuf {
        self.edit_token_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("edit-token-key"))
    }

    pub fn federation_key_file(&self) -> PathBuf {
        self.federation_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("federation-key.pem"))
    }

    pub fn limits(&self) -> Limits {
        Limits {
            max_complexity: self.graphql_max_complexity,
            max_subscription_complexity: self.graphql_max_subscription_complexity,
            max_depth: self.graphql_max_depth,
            max_tokens: self.graphql_max_tokens,
            max_directives: self.graphql_max_directives,
            max_aliases: self.graphql_max_aliases,
            max_root_fields: self.graphql_max_root_fields,
            max_query_bytes: self.graphql_max_query_bytes,
            max_response_bytes: self.graphql_max_response_bytes,
            max_concurrent: self.graphql_max_concurrent,
            batch_delay: self.graphql_batch_delay,
            ws_max_message_bytes: self.ws_max_message_bytes,
            ws_idle_timeout: self.ws_idle_timeout,
            ws_max_connections_per_client: self.ws_max_connections_per_client,
            ws_max_connections: self.ws_max_connections,
            ws_max_subscriptions: self.ws_max_subscriptions,
            max_refusals_per_minute: self.graphql_max_refusals_per_minute,
            http_max_connections: self.http_max_connections,
            http_max_connections_per_client: self.http_max_connections_per_client,
            http_write_timeout: self.http_write_timeout,
            ..Limits::default()
        }
    }

    pub fn feeds(&self, site: gazette_store::SiteConfig) -> FeedSettings {
        FeedSettings {
            actor: self.federation.then(|| site.url("actor")),
            site,
            feed_items: self.feed_items,
            websub_hub: self.websub_hub.clone(),
        }
    }

    pub fn worker(&self, site: gazette_store::SiteConfig) -> WorkerConfig {
        WorkerConfig {
            schedule: self.schedule.clone(),
            feeds: self.feeds(site),
            summary_posts: self.summary_posts,
            digest_period: self.digest_period,
            before_render: gazette_worker::BeforeRender::default(),
            webhooks: gazette_worker::WebhookSettings {
                key: None,
                endpoints: self.webhook_endpoints(),
                retries: RetrySchedule(self.webhooks_retry_delays.clone()),
            },
            federation: None,
        }
    }

    /// The blog actor and federation's rules when `--federation` is on (its key read, or
    /// made on the first start).
    pub fn federation(
        &self,
        site: &gazette_store::SiteConfig,
    ) -> Result<Option<gazette_domain::federation::Federation>, gazette_federation::KeyError> {
        if !self.federation {
            return Ok(None);
        }
        Ok(Some(gazette_domain::federation::Federation {
            site: gazette_federation::FederatedSite {
                public_url: site.public_url.clone(),
                actor_name: self.federation_actor.clone(),
                title: site.title.clone(),
                description: site.description.clone(),
                key: gazette_federation::ActorKey::load_or_create(&self.federation_key_file())?,
            },
            allow_private: self.federation_allow_private,
            approve_followers: self.federation_approve_followers,
            list_followers: self.federation_list_followers,
        }))
    }

    /// Which webhook endpoints may be called.
    pub fn webhook_endpoints(&self) -> EndpointRules {
        EndpointRules {
            allow_http: self.webhooks_allow_http,
            allow_private: self.webhooks_allow_private,
        }
    }
}

fn parse_public_url(value: &str) -> Result<String, String> {
    if !gazette_content::is_http_url(value) {
        return Err(
            "the public URL must be an http:// or https:// address with a host, e.g. https://blog.example.org".to_owned(),
        );
    }
    if value.contains(['?', '#']) {
        return Err("the public URL must not have a query or fragment".to_owned());
    }
    Ok(value.trim_end_matches('/').to_owned())
}

fn parse_period(value: &str) -> Result<chrono::TimeDelta, String> {
    let invalid = || {
        format!("{value:?} is not a period: write hours such as 12h or days such as 1d (1h to 31d)")
    };
    let (number, unit) = value.trim().split_at(value.trim().len().saturating_sub(1));
    let number: i64 = number.parse().map_err(|_| invalid())?;
    let period = match unit {
        "h" => chrono::TimeDelta::hours(number),
        "d" => chrono::TimeDelta::days(number),
        _ => return Err(invalid()),
    };
    if period < chrono::TimeDelta::hours(1) || period > chrono::TimeDelta::days(31) {
        return Err(invalid());
    }
    Ok(period)
}

fn usize_from(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// A batch delay: at least a millisecond (a zero delay would read every key alone) and
/// at most a second (every level of every answer waits it).
fn parse_batch_delay(value: &str) -> Result<Duration, String> {
    let delay = parse_duration(value)?;
    match delay >= Duration::from_millis(1) && delay <= Duration::from_secs(1) {
        true => Ok(delay),
        false => Err("give a delay from 1ms to 1s".to_owned()),
    }
}

/// `500ms`, `5s`, `2m`, or `0` (none).
fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    let invalid = || {
        format!(
            "{value:?} is not a duration: write milliseconds (500ms), seconds (5s), minutes (2m) or hours (2h)"
        )
    };
    if value == "0" {
        return Ok(Duration::ZERO);
    }
    let (number, unit) = match value.strip_suffix("ms") {
        Some(number) => (number, 1),
        None => match value.strip_suffix('s') {
            Some(number) => (number, 1_000),
            None => match value.strip_suffix('h') {
                Some(number) => (number, 3_600_000),
                None => (value.strip_suffix('m').ok_or_else(invalid)?, 60_000),
            },
        },
    };
    let number: u64 = number.parse().map_err(|_| invalid())?;
    let millis = number
        .checked_mul(unit)
        .filter(|millis| *millis <= MAX_DURATION_MILLIS)
        .ok_or_else(|| format!("{value:?} is longer than 24h, the longest a duration may be"))?;
    Ok(Duration::from_millis(millis))
}

/// The longest duration a setting takes: a day.
const MAX_DURATION_MILLIS: u64 = 86_400_000;

/// A BCP 47 language tag's shape (`en`, `en-AU`, `zh-Hant-TW`): subtags of 1 to 8 letters
/// or digits joined by `-`, the first 2 to 8 letters. It is written into every feed and
/// page as it is given.
fn parse_language_tag(value: &str) -> Result<String, String> {
    let mut subtags = value.split('-');
    let first_is_language = subtags.next().is_some_and(|first| {
        (2..=8).contains(&first.len()) && first.bytes().all(|byte| byte.is_ascii_alphabetic())
    });
    let rest_are_subtags = subtags.all(|subtag| {
        (1..=8).contains(&subtag.len()) && subtag.bytes().all(|byte| byte.is_ascii_alphanumeric())
    });
    match first_is_language && rest_are_subtags {
        true => Ok(value.to_owned()),
        false => Err(format!(
            "{value:?} is not a language tag (BCP 47) such as en, en-AU or zh-Hant-TW"
        )),
    }
}

/// A filter tracing's `EnvFilter` can use; anything else would be ignored at start.
fn parse_log_filter(value: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::try_new(value)
        .map(|_| value.to_owned())
        .map_err(|error| {
            format!("{value:?} is not a log filter ({error}): write e.g. info or gazette=debug,sqlx=warn")
        })
}

/// A fediverse user name: lowercase letters, digits and `_`, 1 to 30 of them.
fn parse_actor_name(value: &str) -> Result<String, String> {
    let valid = (1..=30).contains(&value.len())
        && value
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_');
    match valid {
        true => Ok(value.to_owned()),
        false => Err("the actor name must be 1 to 30 lowercase letters, digits or _".to_owned()),
    }
}

fn parse_nonzero_duration(value: &str) -> Result<Duration, String> {
    match parse_duration(value)? {
        Duration::ZERO => Err(format!("{value:?} must be longer than zero")),
        duration => Ok(duration),
    }
}

fn parse_cors_origins(value: &str) -> Result<CorsOrigins, String> {
    match value.trim() {
        "" => Ok(CorsOrigins::None),
        "*" => Ok(CorsOrigins::Any),
        list => list
            .split(',')
            .map(|origin| {
                let origin = origin.trim().trim_end_matches('/');
                let path = origin.split_once("://").map_or("", |(_, rest)| rest);
                if gazette_content::is_http_url(origin) && !path.contains(['/', '?', '#']) {
                    Ok(origin.to_owned())
                } else {
                    Err(format!(
                        "{origin:?} is not an origin such as https://www.example.gov"
                    ))
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(CorsOrigins::List),
    }
}

fn parse_hub_url(value: &str) -> Result<String, String> {
    if gazette_content::is_http_url(value) {
        Ok(value.to_owned())
    } else {
        Err("the WebSub hub must be an http:// or https:// URL".to_owned())
    }
}

fn parse_schedule(value: &str) -> Result<String, String> {
    gazette_worker::validate_schedule(value)
        .map(|()| value.to_owned())
        .map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn public_urls_are_checked() {
        assert_eq!(
            parse_public_url("https://blog.example/"),
            Ok("https://blog.example".to_owned())
        );
        assert_eq!(
            parse_public_url("http://h:8080/base"),
            Ok("http://h:8080/base".to_owned())
        );
        assert!(parse_public_url("ftp://x").is_err());
        assert!(parse_public_url("https://").is_err());
        assert!(parse_public_url("https://x/?a=b").is_err());
    }

    #[test]
    fn cors_origins_are_any_a_list_or_none() {
        assert_eq!(parse_cors_origins("*"), Ok(CorsOrigins::Any));
        assert_eq!(parse_cors_origins(""), Ok(CorsOrigins::None));
        assert_eq!(
            parse_cors_origins("https://a.example, http://b.example:8080/"),
            Ok(CorsOrigins::List(vec![
                "https://a.example".to_owned(),
                "http://b.example:8080".to_owned()
            ]))
        );
        assert!(parse_cors_origins("https://a.example/path").is_err());
        assert!(parse_cors_origins("a.example").is_err());
    }

    #[test]
    fn durations_are_milliseconds_seconds_minutes_or_hours() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("12h"), Ok(Duration::from_secs(12 * 3600)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "s", "h", "5", "5d", "-1s", "1.5s", "9999999m", "25h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(parse_nonzero_duration("0").is_err());
        assert!(parse_nonzero_duration("0s").is_err());
    }

    /// Durations are written as text for clap; they must say what the libraries' own
    /// defaults say.
    #[test]
    fn command_line_defaults_are_the_libraries_defaults() {
        let cli = Cli::try_parse_from(["gazette"]).expect("defaults parse");
        assert_eq!(cli.settings.limits(), Limits::default());
        assert_eq!(
            cli.settings.database().statement_timeout,
            DatabaseConfig::DEFAULT_STATEMENT_TIMEOUT
        );
    }

    #[test]
    fn cross_origin_access_is_off_by_default() {
        let cli = Cli::try_parse_from(["gazette"]).expect("defaults parse");
        assert_eq!(cli.settings.cors_origins, CorsOrigins::None);
        assert_eq!(cli.settings.trusted_proxy_hops(), 0);
    }

    #[test]
    fn periods_are_hours_or_days() {
        assert_eq!(parse_period("12h"), Ok(chrono::TimeDelta::hours(12)));
        assert_eq!(parse_period("7d"), Ok(chrono::TimeDelta::days(7)));
        for bad in ["", "d", "0h", "32d", "1w", "-1d", "1.5d"] {
            assert!(parse_period(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn default_public_url_follows_the_bound_address() {
        let cli = Cli::try_parse_from(["gazette"]).expect("defaults parse");
        let bound: SocketAddr = "0.0.0.0:4000".parse().expect("address");
        assert_eq!(cli.settings.site(bound).public_url, "http://localhost:4000");
        let bound: SocketAddr = "[::1]:4000".parse().expect("address");
        assert_eq!(cli.settings.site(bound).public_url, "http://[::1]:4000");
    }

    /// Every flag and environment variable is documented in the README's configuration table.
    #[test]
    fn readme_documents_every_setting() {
        let readme = include_str!("../README.md");
        for arg in Cli::command().get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if ["help", "version"].contains(&long) {
                continue;
            }
            assert!(
                readme.contains(&format!("`--{long}`")),
                "README lacks --{long}"
            );
            let env = arg
                .get_env()
                .and_then(|env| env.to_str())
                .expect("every setting has an env var");
            assert!(readme.contains(&format!("`{env}`")), "README lacks {env}");
        }
    }
}
