//! What a Gazette process reports to Prometheus (`/metrics`, docs/operations.md): one
//! registry per process holding every family, filled where the events happen (the HTTP
//! layer, GraphQL, sockets, the feed cache, the worker) and, for what is a state rather than
//! an event (pool sizes, time since a job last succeeded), just before each scrape.
//!
//! Label values that come from clients (operation names, error codes) are admitted up to a
//! fixed number of distinct values, so no caller can grow the registry without bound.

mod bounded;
mod families;
mod process;
mod sql;

pub use bounded::BoundedLabels;
pub use families::{Job, Metrics, PoolStats, RunOutcome, metrics};
pub use sql::{SqlEvents, StatementCount, count_statements, spawn_counted, sql_events_filter};
