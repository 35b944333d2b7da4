use std::sync::LazyLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus::{
    Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::bounded::BoundedLabels;
use crate::process::ProcessFamilies;

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// A worker job, as the `worker_job` label names it (not `job`: Prometheus gives every
/// scraped series a `job` label of its own, and would rename ours).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Feeds,
    Social,
    PublishScheduled,
}

impl Job {
    pub const ALL: [Job; 3] = [Job::Feeds, Job::Social, Job::PublishScheduled];

    pub fn label(self) -> &'static str {
        match self {
            Job::Feeds => "feeds",
            Job::Social => "social",
            Job::PublishScheduled => "publish_scheduled",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutcome {
    Success,
    Failure,
}

/// A connection pool's state at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub size: u32,
    pub idle: usize,
    pub max: u32,
}

pub struct Metrics {
    registry: Registry,
    started: Instant,

    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    /// Bytes of large answers built and not yet taken by their connections.
    pub http_unsent_bytes: IntGauge,

    graphql_operations: IntCounterVec,
    pub graphql_duration: HistogramVec,
    /// GraphQL operations waiting for an execution slot (`--max-concurrent-operations`).
    pub graphql_waiting: IntGauge,
    /// Executions that passed every check and ran resolvers: one per HTTP operation, one
    /// per subscription event delivered to one subscriber.
    pub graphql_executions: IntCounterVec,
    pub graphql_compiled: IntCounterVec,
    operation_names: BoundedLabels,
    error_codes: BoundedLabels,

    pub websocket_connections: IntGauge,
    pub subscriptions: IntGauge,

    pool_connections: IntGaugeVec,
    pool_max: IntGaugeVec,
    pub pool_acquire: Histogram,
    /// Reads meant for a replica that the primary answered (no replica was healthy, or the
    /// one asked failed).
    pub replica_fallbacks: IntCounter,
    pub replicas_healthy: IntGauge,
    pub replicas_configured: IntGauge,
    pub statements_per_request: HistogramVec,
    /// Post pages each statement of a shared read (`--db-post-page-statements`) read.
    pub post_pages_per_statement: Histogram,
    /// Post page reads waiting in line for the next shared statement, all pools.
    pub post_pages_waiting: IntGauge,

    pub feed_cache: IntCounterVec,
    /// Anonymous queries the response cache was asked for, by result (hit or miss).
    pub response_cache: IntCounterVec,
    /// Bytes the GraphQL response cache holds (keys and answers).
    pub response_cache_bytes: IntGauge,

    worker_runs: IntCounterVec,
    worker_texts_rendered: IntCounterVec,
    worker_duration: HistogramVec,
    worker_last_success: GaugeVec,
    worker_since_success: GaugeVec,
    pub change_lag: Histogram,
    pub websub_pings: IntCounterVec,
    pub webhook_deliveries: IntCounterVec,
    pub webhook_delivery_seconds: HistogramVec,
    pub webhook_backlog: IntGauge,
    pub federation_deliveries: IntCounterVec,
    pub federation_delivery_seconds: HistogramVec,
    pub federation_inbox: IntCounterVec,
    pub federation_backlog: IntGauge,

    pub comments_held: IntCounter,
    pub comments_awaiting_moderation: IntGauge,
    pub ready: IntGauge,
    pub up_since: Gauge,
    process: ProcessFamilies,
}

/// Latencies of requests served mostly from memory, up to requests that wait on the database.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const RUN_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
const LAG_BUCKETS: &[f64] = &[
    0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0,
];
const ACQUIRE_BUCKETS: &[f64] = &[0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 3.0];
/// From a page read alone to the most one statement reads (32).
const PAGES_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0];
const STATEMENT_BUCKETS: &[f64] = &[
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0,
];

/// Registering a family can only fail on a name or label error, fixed in this file and
/// exercised by its tests: a failure is a programming error.
pub(crate) fn registered<C: prometheus::core::Collector + Clone + 'static>(
    registry: &Registry,
    made: prometheus::Result<C>,
) -> C {
    let collector = made.expect("a well-formed metric family");
    registry
        .register(Box::new(collector.clone()))
        .expect("each metric family registered once");
    collector
}

fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    registered(registry, IntCounterVec::new(Opts::new(name, help), labels))
}

fn histogram_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    buckets: &[f64],
    labels: &[&str],
) -> HistogramVec {
    registered(
        registry,
        HistogramVec::new(
            HistogramOpts::new(name, help).buckets(buckets.to_vec()),
            labels,
        ),
    )
}

fn histogram(registry: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    registered(
        registry,
        Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec())),
    )
}

fn int_gauge(registry: &Registry, name: &str, help: &str) -> IntGauge {
    registered(registry, IntGauge::new(name, help))
}

fn int_counter(registry: &Registry, name: &str, help: &str) -> IntCounter {
    registered(registry, IntCounter::new(name, help))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_code_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'
}

impl Metrics {
    fn new() -> Self {
        let r = Registry::new();
        let up_since = registered(
            &r,
            Gauge::new(
                "gazette_process_start_time_seconds",
                "When this process started, in seconds since the Unix epoch.",
            ),
        );
        up_since.set(unix_seconds(SystemTime::now()));
        let metrics = Self {
            started: Instant::now(),
            http_requests: counter_vec(
                &r,
                "gazette_http_requests_total",
                "HTTP requests answered, by route pattern, method and status code.",
                &["route", "method", "status"],
            ),
            http_duration: histogram_vec(
                &r,
                "gazette_http_request_duration_seconds",
                "Time to answer an HTTP request (to the response head), by route pattern.",
                LATENCY_BUCKETS,
                &["route"],
            ),
            http_unsent_bytes: int_gauge(
                &r,
                "gazette_http_unsent_bytes",
                "What answers over 64 KiB built and not yet taken by their connections cost, in bytes (the answer, hyper's buffer, a compressor): clients slow to read, or not reading.",
            ),
            graphql_operations: counter_vec(
                &r,
                "gazette_graphql_operations_total",
                "GraphQL operations over HTTP, by operation name, type and outcome (success or the first error's code).",
                &["operation", "type", "outcome"],
            ),
            graphql_duration: histogram_vec(
                &r,
                "gazette_graphql_operation_duration_seconds",
                "Time to execute a GraphQL operation over HTTP, by type.",
                LATENCY_BUCKETS,
                &["type"],
            ),
            graphql_waiting: int_gauge(
                &r,
                "gazette_graphql_operations_waiting",
                "GraphQL operations waiting for an execution slot.",
            ),
            graphql_executions: counter_vec(
                &r,
                "gazette_graphql_executions_total",
                "GraphQL executions that passed every check and ran resolvers, by transport (http, or websocket: one per subscription event per subscriber).",
                &["transport"],
            ),
            graphql_compiled: counter_vec(
                &r,
                "gazette_graphql_compiled_total",
                "GraphQL queries with a compiled plan, by outcome: answered by the plan, or left to the resolvers (fallback: an error, a variable of the wrong type, an answer over its budget).",
                &["outcome"],
            ),
            operation_names: BoundedLabels::new(200, 64, "other", is_name_char),
            error_codes: BoundedLabels::new(50, 40, "OTHER_ERROR", is_code_char),
            websocket_connections: int_gauge(
                &r,
                "gazette_websocket_connections",
                "Open GraphQL WebSocket connections.",
            ),
            subscriptions: int_gauge(
                &r,
                "gazette_graphql_subscriptions",
                "GraphQL subscriptions running.",
            ),
            pool_connections: registered(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "gazette_db_pool_connections",
                        "Database connections open, by pool (primary or replica) and state (idle or in_use).",
                    ),
                    &["pool", "state"],
                ),
            ),
            pool_max: registered(
                &r,
                IntGaugeVec::new(
                    Opts::new(
                        "gazette_db_pool_max_connections",
                        "Most connections each pool may open (--database-max-connections).",
                    ),
                    &["pool"],
                ),
            ),
            pool_acquire: histogram(
                &r,
                "gazette_db_pool_acquire_seconds",
                "Time a statement waited for a pooled connection.",
                ACQUIRE_BUCKETS,
            ),
            replica_fallbacks: int_counter(
                &r,
                "gazette_db_replica_fallbacks_total",
                "Reads meant for a read replica that the primary answered instead.",
            ),
            replicas_healthy: int_gauge(
                &r,
                "gazette_db_replicas_healthy",
                "Read replicas answering now.",
            ),
            replicas_configured: int_gauge(
                &r,
                "gazette_db_replicas_configured",
                "Read replicas configured (--database-read-url).",
            ),
            statements_per_request: histogram_vec(
                &r,
                "gazette_db_statements_per_request",
                "SQL statements one request ran, by kind (graphql, page).",
                STATEMENT_BUCKETS,
                &["kind"],
            ),
            post_pages_per_statement: histogram(
                &r,
                "gazette_db_post_pages_per_statement",
                "Post pages each shared post page statement read, its own and those of the requests waiting in line (1: alone).",
                PAGES_BUCKETS,
            ),
            post_pages_waiting: int_gauge(
                &r,
                "gazette_db_post_pages_waiting",
                "Post page reads waiting in line for the next shared statement of their shape.",
            ),
            response_cache_bytes: int_gauge(
                &r,
                "gazette_graphql_cache_bytes",
                "Bytes the GraphQL response cache holds (keys and answers), at most --graphql-cache-max-bytes.",
            ),
            feed_cache: counter_vec(
                &r,
                "gazette_feed_cache_requests_total",
                "Feed and channel-text lookups, by result: hit (from memory) or miss (read from the database).",
                &["result"],
            ),
            response_cache: counter_vec(
                &r,
                "gazette_graphql_cache_requests_total",
                "Anonymous GraphQL requests looked up in the response cache, by result: hit (answered from memory) or miss (executed).",
                &["result"],
            ),
            worker_runs: counter_vec(
                &r,
                "gazette_worker_runs_total",
                "Worker job runs, by job and outcome.",
                &["worker_job", "outcome"],
            ),
            worker_texts_rendered: counter_vec(
                &r,
                "gazette_worker_texts_rendered_total",
                "Channel texts the worker rendered, by text (summary or digest): only those whose input changed.",
                &["text"],
            ),
            worker_duration: histogram_vec(
                &r,
                "gazette_worker_run_duration_seconds",
                "Time one worker job run took, by job.",
                RUN_BUCKETS,
                &["worker_job"],
            ),
            worker_last_success: registered(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "gazette_worker_last_success_timestamp_seconds",
                        "When each job last succeeded, in seconds since the Unix epoch (0: not yet).",
                    ),
                    &["worker_job"],
                ),
            ),
            worker_since_success: registered(
                &r,
                GaugeVec::new(
                    Opts::new(
                        "gazette_worker_seconds_since_last_success",
                        "Seconds since each job last succeeded in this process (since the process started, if never).",
                    ),
                    &["worker_job"],
                ),
            ),
            change_lag: histogram(
                &r,
                "gazette_feed_change_lag_seconds",
                "From a change's commit to the feeds showing it (the oldest change of each run that regenerated feeds).",
                LAG_BUCKETS,
            ),
            websub_pings: counter_vec(
                &r,
                "gazette_websub_pings_total",
                "Announcements to the WebSub hub, by outcome (sent, refused, unreachable, gave_up).",
                &["outcome"],
            ),
            webhook_deliveries: counter_vec(
                &r,
                "gazette_webhook_deliveries_total",
                "Webhook delivery attempts, by outcome: delivered (2xx), retrying (failed, tried again later), gave_up (failed, no attempts left), gone (410: the endpoint is disabled), refused (the address is not one webhooks may call).",
                &["outcome"],
            ),
            webhook_delivery_seconds: histogram_vec(
                &r,
                "gazette_webhook_delivery_seconds",
                "How long webhook delivery attempts took, from sending to the receiver's answer (or the 15 s timeout), by outcome.",
                LATENCY_BUCKETS,
                &["outcome"],
            ),
            webhook_backlog: int_gauge(
                &r,
                "gazette_webhook_backlog",
                "Webhook deliveries waiting to be made (due now or retrying later) to enabled endpoints, read when scraped.",
            ),
            federation_deliveries: counter_vec(
                &r,
                "gazette_federation_deliveries_total",
                "Deliveries of activities to fediverse inboxes, by outcome: delivered (2xx), retrying (failed, tried again later), gave_up (no attempts left, or 410), refused (the address is not one Gazette may call).",
                &["outcome"],
            ),
            federation_delivery_seconds: histogram_vec(
                &r,
                "gazette_federation_delivery_seconds",
                "How long deliveries to fediverse inboxes took, by outcome.",
                LATENCY_BUCKETS,
                &["outcome"],
            ),
            federation_backlog: int_gauge(
                &r,
                "gazette_federation_backlog",
                "Deliveries to fediverse inboxes waiting to be made (due now or retrying later), read when scraped.",
            ),
            federation_inbox: counter_vec(
                &r,
                "gazette_federation_inbox_total",
                "Activities received in the inbox, by outcome: accepted, ignored, unsigned (401), blocked (403), refused (400/403/413/429), unavailable (503).",
                &["outcome"],
            ),
            comments_held: int_counter(
                &r,
                "gazette_comments_held_total",
                "Public comments held for moderation since this process started.",
            ),
            comments_awaiting_moderation: int_gauge(
                &r,
                "gazette_comments_awaiting_moderation",
                "Comments held for moderation now (the moderation queue), site-wide.",
            ),
            ready: int_gauge(
                &r,
                "gazette_ready",
                "1 when the database answers (what /readyz says), else 0.",
            ),
            up_since,
            process: ProcessFamilies::new(&r),
            registry: r,
        };
        // Inbox outcomes exist from the start (the dashboard graphs them), at zero.
        for outcome in [
            "accepted",
            "ignored",
            "unsigned",
            "blocked",
            "refused",
            "unavailable",
        ] {
            metrics.federation_inbox.with_label_values(&[outcome]);
        }
        metrics
    }

    /// Counts one GraphQL operation; `outcome` is `None` for success, else an error code.
    pub fn graphql_operation(
        &self,
        name: Option<&str>,
        kind: &str,
        outcome: Option<&str>,
        elapsed: Duration,
    ) {
        let name = name.map_or("anonymous", |name| self.operation_names.admit(name));
        let outcome = outcome.map_or("success", |code| self.error_codes.admit(code));
        self.graphql_operations
            .with_label_values(&[name, kind, outcome])
            .inc();
        self.graphql_duration
            .with_label_values(&[kind])
            .observe(elapsed.as_secs_f64());
    }

    /// The worker's jobs start at zero runs, so their series exist (and alerts on them
    /// work) before the first run ends.
    pub fn worker_started(&self) {
        for job in Job::ALL {
            for outcome in ["success", "failure"] {
                self.worker_runs.with_label_values(&[job.label(), outcome]);
            }
            self.worker_last_success.with_label_values(&[job.label()]);
            self.worker_since_success.with_label_values(&[job.label()]);
        }
        for text in ["summary", "digest"] {
            self.worker_texts_rendered.with_label_values(&[text]);
        }
        for outcome in ["delivered", "retrying", "gave_up", "gone", "refused"] {
            self.webhook_deliveries.with_label_values(&[outcome]);
            self.webhook_delivery_seconds.with_label_values(&[outcome]);
        }
        for outcome in ["delivered", "retrying", "gave_up", "refused"] {
            self.federation_deliveries.with_label_values(&[outcome]);
            self.federation_delivery_seconds
                .with_label_values(&[outcome]);
        }
    }

    /// Channel texts a run rendered.
    pub fn worker_texts_rendered(&self, summaries: usize, digests: usize) {
        for (text, count) in [("summary", summaries), ("digest", digests)] {
            self.worker_texts_rendered
                .with_label_values(&[text])
                .inc_by(u64::try_from(count).unwrap_or(u64::MAX));
        }
    }

    pub fn worker_run(&self, job: Job, outcome: RunOutcome, elapsed: Duration) {
        let label = match outcome {
            RunOutcome::Success => "success",
            RunOutcome::Failure => "failure",
        };
        self.worker_runs
            .with_label_values(&[job.label(), label])
            .inc();
        self.worker_duration
            .with_label_values(&[job.label()])
            .observe(elapsed.as_secs_f64());
        if outcome == RunOutcome::Success {
            self.worker_last_success
                .with_label_values(&[job.label()])
                .set(unix_seconds(SystemTime::now()));
        }
    }

    pub fn pool(&self, pool: &str, stats: PoolStats) {
        let idle = i64::try_from(stats.idle).unwrap_or(i64::MAX);
        self.pool_connections
            .with_label_values(&[pool, "idle"])
            .set(idle);
        self.pool_connections
            .with_label_values(&[pool, "in_use"])
            .set((i64::from(stats.size) - idle).max(0));
        self.pool_max
            .with_label_values(&[pool])
            .set(i64::from(stats.max));
    }

    /// The text exposition format, with the time-derived gauges brought up to date.
    pub fn render(&self) -> String {
        self.process.sample();
        let now = unix_seconds(SystemTime::now());
        let since_start = self.started.elapsed().as_secs_f64();
        for job in Job::ALL {
            if let Ok(last) = self
                .worker_last_success
                .get_metric_with_label_values(&[job.label()])
            {
                let since = match last.get() {
                    never if never <= 0.0 => since_start,
                    at => (now - at).max(0.0),
                };
                self.worker_since_success
                    .with_label_values(&[job.label()])
                    .set(since);
            }
        }
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|error| format!("# the metrics could not be encoded: {error}\n"))
    }
}

fn unix_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Job, RunOutcome, metrics};

    #[test]
    fn every_family_renders_with_its_help() {
        let metrics = metrics();
        metrics.worker_started();
        metrics.graphql_operation(Some("Posts"), "query", None, Duration::from_millis(3));
        metrics.worker_run(Job::Feeds, RunOutcome::Success, Duration::from_millis(20));
        let text = metrics.render();
        for family in [
            "gazette_graphql_operations_total{operation=\"Posts\",outcome=\"success\",type=\"query\"} 1",
            "gazette_worker_runs_total{outcome=\"success\",worker_job=\"feeds\"} 1",
            "gazette_worker_runs_total{outcome=\"failure\",worker_job=\"social\"} 0",
            "# HELP gazette_worker_seconds_since_last_success",
            "# TYPE gazette_graphql_operation_duration_seconds histogram",
            "# TYPE process_cpu_seconds_total counter",
            "# TYPE process_resident_memory_bytes gauge",
        ] {
            assert!(text.contains(family), "{family} missing from:\n{text}");
        }
        let resident = text
            .lines()
            .find_map(|line| line.strip_prefix("process_resident_memory_bytes "))
            .and_then(|value| value.parse::<f64>().ok())
            .expect("the resident memory sample");
        assert!(resident > 1_000_000.0, "{resident} bytes resident");
    }
}
