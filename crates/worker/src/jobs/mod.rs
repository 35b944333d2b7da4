//! The worker's jobs, each split into load → build (pure) → store.

mod feeds;

use std::time::Instant;

use gazette_store::PgPool;

use crate::error::WorkerError;
use crate::scheduler::WorkerConfig;

/// Runs every job once.
#[tracing::instrument(skip_all, err)]
pub async fn run_all(pool: &PgPool, config: &WorkerConfig) -> Result<(), WorkerError> {
    let started = Instant::now();
    let report = feeds::regenerate(pool, config).await?;
    tracing::info!(
        changed = report.changed,
        items = report.items,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "feeds regenerated"
    );
    Ok(())
}
