//! The worker's jobs, each split into load → build (pure) → store: the feeds, then the
//! social-channel summaries and digests.

pub(crate) mod feeds;
pub(crate) mod social;

use std::time::Instant;

use gazette_metrics::{Job, RunOutcome};
use gazette_store::PgPool;

use crate::error::WorkerError;
use crate::scheduler::WorkerConfig;
use crate::websub::Pinger;

/// What one run of the jobs did.
#[derive(Debug)]
pub struct RunReport {
    pub feeds: feeds::Report,
    pub social: social::Report,
}

/// Runs every job once (`gazette worker --once`), publishing due scheduled posts first.
pub async fn run_all(pool: &PgPool, config: &WorkerConfig) -> Result<RunReport, WorkerError> {
    let published = gazette_store::posts::publish_due(pool).await?;
    if !published.is_empty() {
        tracing::info!(posts = ?published, "scheduled posts published");
    }
    run(pool, config, None).await
}

/// Runs the jobs: rebuilds the feeds the pending changes touch and the channel texts, logs
/// what changed, and announces changed feeds to the WebSub hub.
#[tracing::instrument(skip_all, err)]
pub(crate) async fn run(
    pool: &PgPool,
    config: &WorkerConfig,
    pinger: Option<&Pinger>,
) -> Result<RunReport, WorkerError> {
    let started = Instant::now();
    let metrics = gazette_metrics::metrics();
    // The two jobs are independent: a failure in one does not keep the other from running.
    let feeds = feeds::regenerate(pool, &config.feeds).await;
    let feeds_took = started.elapsed();
    let feeds_outcome = match &feeds {
        Ok(report) if report.failed == 0 => {
            if let Some(oldest) = report.oldest_change {
                let lag = (chrono::Utc::now() - oldest).to_std().unwrap_or_default();
                metrics.change_lag.observe(lag.as_secs_f64());
            }
            RunOutcome::Success
        }
        _ => RunOutcome::Failure,
    };
    metrics.worker_run(Job::Feeds, feeds_outcome, feeds_took);
    let social = social::regenerate(pool, config, chrono::Utc::now()).await;
    let social_outcome = match &social {
        Ok(_) => RunOutcome::Success,
        Err(_) => RunOutcome::Failure,
    };
    metrics.worker_run(Job::Social, social_outcome, started.elapsed() - feeds_took);
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match &feeds {
        Ok(report) => tracing::info!(
            full = report.full,
            changes = report.changes,
            feeds = report.feeds,
            failed = report.failed,
            items = report.items,
            changed = ?report.changed,
            elapsed_ms,
            "feeds regenerated"
        ),
        Err(error) => {
            tracing::error!(error = %gazette_store::display_chain(error), "the feeds could not be regenerated")
        }
    }
    match &social {
        Ok(report) if !report.looked => {}
        Ok(report) => {
            metrics.worker_texts_rendered(report.summaries_rendered, report.digests_rendered);
            tracing::info!(
                changes = report.changes,
                summaries_rendered = report.summaries_rendered,
                digests_rendered = report.digests_rendered,
                summaries_changed = report.summaries_changed,
                channel_documents_changed = ?report.changed,
                "channel texts regenerated"
            )
        }
        Err(error) => {
            tracing::error!(error = %gazette_store::display_chain(error), "the channel texts could not be regenerated")
        }
    }
    if let (Some(pinger), Ok(report)) = (pinger, &feeds) {
        let urls = report
            .changed
            .iter()
            .map(|key| config.feeds.site.url(key))
            .collect();
        pinger.announce(urls);
    }
    let (feeds, social) = (feeds?, social?);
    if feeds.failed > 0 {
        return Err(WorkerError::FeedsFailed {
            failed: feeds.failed,
        });
    }
    Ok(RunReport { feeds, social })
}
