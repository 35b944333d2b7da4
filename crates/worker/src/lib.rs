//! Gazette's worker: regenerates the feeds on a cron schedule (tokio-cron-scheduler) and
//! within seconds of a change (LISTEN/NOTIFY). Each job loads from the store, builds with
//! the pure functions of `gazette-syndication`, and stores the result only when it changed.
//! Changed feeds are announced to a WebSub hub when one is configured. Scheduled posts are
//! published when their time comes.

mod changes;
mod delivery_loop;
mod error;
mod federation;
mod in_flight;
mod jobs;
mod scheduled;
mod scheduler;
mod webhooks;
mod websub;

pub use error::WorkerError;
pub use jobs::feeds::Report as FeedsReport;
pub use jobs::social::Report as TextsReport;
pub use jobs::{RunReport, run_all};
pub use scheduler::{BeforeRender, SHUTDOWN_DRAIN, Worker, WorkerConfig, validate_schedule};
pub use webhooks::WebhookSettings;
