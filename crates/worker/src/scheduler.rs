use std::sync::Arc;

use gazette_domain::feeds::FeedSettings;
use gazette_store::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::error::{WorkerError, chain};
use crate::jobs;
use crate::websub::Pinger;

/// Settings of the worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Cron expression with seconds (tokio-cron-scheduler's format), in UTC.
    pub schedule: String,
    /// What feeds are built with (the site, items per feed, the WebSub hub to link from
    /// every feed and to announce changed feeds to).
    pub feeds: FeedSettings,
    /// How many of the latest posts get a summary per channel.
    pub summary_posts: u32,
    /// How long a digest period is (periods are aligned on the Unix epoch).
    pub digest_period: chrono::TimeDelta,
}

impl WorkerConfig {
    pub const DEFAULT_SCHEDULE: &'static str = "0 */5 * * * *";
    pub const DEFAULT_SUMMARY_POSTS: u32 = 10;
}

/// Checks a cron expression without scheduling anything.
pub fn validate_schedule(schedule: &str) -> Result<(), WorkerError> {
    Job::new_async(schedule, |_, _| Box::pin(async {}))
        .map(drop)
        .map_err(|_| WorkerError::Schedule {
            schedule: schedule.to_owned(),
        })
}

/// The running worker: the schedule, and the change follower.
pub struct Worker {
    scheduler: JobScheduler,
    stop: watch::Sender<bool>,
    follower: JoinHandle<()>,
}

impl Worker {
    /// Runs every job once (so a fresh system has its feeds at once), then on the schedule
    /// and after changes.
    pub async fn start(pool: PgPool, config: WorkerConfig) -> Result<Self, WorkerError> {
        validate_schedule(&config.schedule)?;
        let pinger = config
            .feeds
            .websub_hub
            .clone()
            .map(Pinger::new)
            .transpose()?;
        let config = Arc::new(config);
        if let Err(error) = jobs::run(&pool, &config, pinger.as_ref()).await {
            // The schedule retries; a database hiccup at start-up must not stop the worker.
            tracing::error!(error = %chain(&error), "the first run of the worker's jobs failed");
        }
        let scheduler = JobScheduler::new().await?;
        let schedule = config.schedule.clone();
        let (job_pool, job_config, job_pinger) = (pool.clone(), config.clone(), pinger.clone());
        let job = Job::new_async(schedule.as_str(), move |_, _| {
            let pool = job_pool.clone();
            let config = job_config.clone();
            let pinger = job_pinger.clone();
            Box::pin(async move {
                if let Err(error) = jobs::run(&pool, &config, pinger.as_ref()).await {
                    tracing::error!(error = %chain(&error), "a scheduled run of the worker's jobs failed");
                }
            })
        })
        .map_err(|_| WorkerError::Schedule {
            schedule: schedule.clone(),
        })?;
        scheduler.add(job).await?;
        scheduler.start().await?;
        let (stop, stopped) = watch::channel(false);
        let follower = tokio::spawn(crate::changes::follow(pool, config, pinger, stopped));
        tracing::info!(%schedule, "worker started");
        Ok(Self {
            scheduler,
            stop,
            follower,
        })
    }

    /// Stops scheduling and following changes. A run in progress is dropped at its next
    /// await, which is safe: every feed is written in one statement of its own transaction.
    pub async fn shutdown(mut self) -> Result<(), WorkerError> {
        self.scheduler.shutdown().await?;
        let _ = self.stop.send(true);
        let _ = self.follower.await;
        tracing::info!("worker stopped");
        Ok(())
    }
}
