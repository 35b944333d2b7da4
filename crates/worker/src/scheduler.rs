use std::sync::Arc;

use gazette_store::{PgPool, SiteConfig};
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::error::WorkerError;
use crate::jobs;

/// Settings of the worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Cron expression with seconds (tokio-cron-scheduler's format), in UTC.
    pub schedule: String,
    /// Posts in the site feed.
    pub feed_items: u32,
    pub site: SiteConfig,
}

impl WorkerConfig {
    pub const DEFAULT_SCHEDULE: &'static str = "0 */5 * * * *";
    pub const DEFAULT_FEED_ITEMS: u32 = 20;
}

/// Checks a cron expression without scheduling anything.
pub fn validate_schedule(schedule: &str) -> Result<(), WorkerError> {
    Job::new_async(schedule, |_, _| Box::pin(async {}))
        .map(drop)
        .map_err(|_| WorkerError::Schedule {
            schedule: schedule.to_owned(),
        })
}

/// The running worker.
pub struct Worker {
    scheduler: JobScheduler,
}

impl Worker {
    /// Runs every job once (so a fresh system has its feeds at once), then on the schedule.
    pub async fn start(pool: PgPool, config: WorkerConfig) -> Result<Self, WorkerError> {
        validate_schedule(&config.schedule)?;
        let config = Arc::new(config);
        if let Err(error) = jobs::run_all(&pool, &config).await {
            // The schedule retries; a database hiccup at start-up must not stop the worker.
            tracing::error!(error = %error, "the first run of the worker's jobs failed");
        }
        let scheduler = JobScheduler::new().await?;
        let schedule = config.schedule.clone();
        let config_schedule = schedule.clone();
        let job = Job::new_async(schedule.as_str(), move |_, _| {
            let pool = pool.clone();
            let config = config.clone();
            Box::pin(async move {
                if let Err(error) = jobs::run_all(&pool, &config).await {
                    tracing::error!(error = %error, "a scheduled run of the worker's jobs failed");
                }
            })
        })
        .map_err(|_| WorkerError::Schedule { schedule })?;
        scheduler.add(job).await?;
        scheduler.start().await?;
        tracing::info!(schedule = %config_schedule, "worker started");
        Ok(Self { scheduler })
    }

    /// Stops scheduling; a run in progress finishes its current statement and is dropped,
    /// which is safe because every feed is written in one statement.
    pub async fn shutdown(mut self) -> Result<(), WorkerError> {
        self.scheduler.shutdown().await?;
        tracing::info!("worker stopped");
        Ok(())
    }
}
