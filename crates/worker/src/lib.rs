//! Gazette's worker: regenerates the feeds on a cron schedule (tokio-cron-scheduler). Each
//! job loads from the store, builds with the pure functions of `gazette-syndication`, and
//! stores the result only when it changed.

mod error;
mod jobs;
mod scheduler;

pub use error::WorkerError;
pub use jobs::run_all;
pub use scheduler::{Worker, WorkerConfig, validate_schedule};
