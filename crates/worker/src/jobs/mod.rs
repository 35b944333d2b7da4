//! The worker's jobs, each split into load → build (pure) → store: the feeds, then the
//! social-channel summaries and digests.

pub(crate) mod feeds;
pub(crate) mod social;

use std::time::Instant;

use gazette_store::PgPool;

use crate::error::WorkerError;
use crate::scheduler::WorkerConfig;
use crate::websub::Pinger;

/// Runs every job once (`gazette worker --once`).
pub async fn run_all(pool: &PgPool, config: &WorkerConfig) -> Result<(), WorkerError> {
    run(pool, config, None).await
}

/// Runs the jobs: rebuilds the feeds the pending changes touch and the channel texts, logs
/// what changed, and announces changed feeds to the WebSub hub.
#[tracing::instrument(skip_all, err)]
pub(crate) async fn run(
    pool: &PgPool,
    config: &WorkerConfig,
    pinger: Option<&Pinger>,
) -> Result<(), WorkerError> {
    let started = Instant::now();
    let report = feeds::regenerate(pool, &config.feeds).await?;
    let social = social::regenerate(pool, config, chrono::Utc::now()).await?;
    tracing::info!(
        full = report.full,
        changes = report.changes,
        feeds = report.feeds,
        items = report.items,
        changed = ?report.changed,
        summaries_changed = social.summaries_changed,
        channel_documents_changed = ?social.changed,
        elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "feeds regenerated"
    );
    if let Some(pinger) = pinger {
        let urls = report
            .changed
            .iter()
            .map(|key| config.feeds.site.url(key))
            .collect();
        pinger.announce(urls);
    }
    Ok(())
}
