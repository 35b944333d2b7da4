use std::sync::Arc;
use std::time::Duration;

use gazette_domain::feeds::FeedSettings;
use gazette_store::PgPool;
use tokio::sync::{Mutex, watch};
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
    /// Called where a run renders its channel texts, on the thread that renders them.
    pub before_render: BeforeRender,
    /// How webhooks are delivered (none without a key).
    pub webhooks: crate::webhooks::WebhookSettings,
    /// The blog actor and its key, when federation is on: its deliveries are made here.
    pub federation: Option<gazette_domain::federation::Federation>,
}

/// A hook called on the rendering thread just before a run renders its channel texts: the
/// tests hold a run there to show that the API answers meanwhile. Nothing in the binary
/// sets one.
#[derive(Clone, Default)]
pub struct BeforeRender(Option<Arc<dyn Fn() + Send + Sync>>);

impl BeforeRender {
    pub fn new(hook: impl Fn() + Send + Sync + 'static) -> Self {
        Self(Some(Arc::new(hook)))
    }

    pub(crate) fn call(&self) {
        if let Some(hook) = &self.0 {
            hook();
        }
    }
}

impl std::fmt::Debug for BeforeRender {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(if self.0.is_some() {
            "BeforeRender(set)"
        } else {
            "BeforeRender(none)"
        })
    }
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

/// How long shutdown waits for a run in progress before abandoning it. Abandoning is safe:
/// every feed and channel text is written in a transaction of its own, and the changes the
/// run claimed roll back to pending, so the next run (in any process) picks them up.
pub const SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);

/// The running worker: the schedule, and the change follower.
pub struct Worker {
    scheduler: JobScheduler,
    stop: watch::Sender<bool>,
    follower: JoinHandle<()>,
    publisher: JoinHandle<()>,
    deliverer: JoinHandle<()>,
    federator: JoinHandle<()>,
    runner: Runner,
}

impl Worker {
    /// Starts the schedule and the change follower and returns at once: the first run
    /// (which catches up on whatever changed while no worker ran, and on a large site with
    /// new settings may take a while) happens in the background, so the API beside it
    /// serves and a signal is heard meanwhile.
    pub async fn start(pool: PgPool, config: WorkerConfig) -> Result<Self, WorkerError> {
        validate_schedule(&config.schedule)?;
        gazette_metrics::metrics().worker_started();
        let pinger = config
            .feeds
            .websub_hub
            .clone()
            .map(Pinger::new)
            .transpose()?;
        let (stop, stopping) = watch::channel(false);
        let runner = Runner {
            pool: pool.clone(),
            config: Arc::new(config),
            pinger,
            turn: Arc::default(),
            stopping,
            schedule_changed: Arc::default(),
            outbox_changed: Arc::default(),
            federation_changed: Arc::default(),
        };
        let scheduler = JobScheduler::new().await?;
        let schedule = runner.config.schedule.clone();
        let job_runner = runner.clone();
        let job = Job::new_async(schedule.as_str(), move |_, _| {
            let runner = job_runner.clone();
            Box::pin(async move { runner.run("a scheduled run").await })
        })
        .map_err(|_| WorkerError::Schedule {
            schedule: schedule.clone(),
        })?;
        scheduler.add(job).await?;
        scheduler.start().await?;
        let follower = tokio::spawn(crate::changes::follow(runner.clone()));
        let publisher = tokio::spawn(crate::scheduled::publish_when_due(runner.clone()));
        let deliverer = tokio::spawn(crate::webhooks::deliver(runner.clone()));
        let federator = tokio::spawn(crate::federation::federate(runner.clone()));
        tracing::info!(%schedule, "worker started");
        Ok(Self {
            scheduler,
            stop,
            follower,
            publisher,
            deliverer,
            federator,
            runner,
        })
    }

    /// Stops scheduling and following changes, and lets a run in progress finish, for at
    /// most [`SHUTDOWN_DRAIN`]; then it is abandoned.
    pub async fn shutdown(mut self) -> Result<(), WorkerError> {
        let _ = self.stop.send(true);
        self.scheduler.shutdown().await?;
        let _ = self.follower.await;
        let _ = self.publisher.await;
        let _ = self.deliverer.await;
        let _ = self.federator.await;
        // A scheduled run holds the turn until it finished or gave up.
        let drained = tokio::time::timeout(
            SHUTDOWN_DRAIN + Duration::from_secs(1),
            self.runner.turn.lock(),
        )
        .await
        .is_ok();
        tracing::info!(drained, "worker stopped");
        Ok(())
    }
}

/// Runs the jobs for the schedule and the change follower: one run at a time in this
/// process (other processes coordinate through the database), none once stopping.
#[derive(Clone)]
pub(crate) struct Runner {
    pub(crate) pool: PgPool,
    pub(crate) config: Arc<WorkerConfig>,
    pinger: Option<Pinger>,
    turn: Arc<Mutex<()>>,
    pub(crate) stopping: watch::Receiver<bool>,
    /// Poked by the change follower when posts change: a post may have been scheduled.
    pub(crate) schedule_changed: Arc<tokio::sync::Notify>,
    /// Poked by the change follower on every change: an event may wait in the outbox.
    pub(crate) outbox_changed: Arc<tokio::sync::Notify>,
    /// The same, for federation's fan-out and deliveries.
    pub(crate) federation_changed: Arc<tokio::sync::Notify>,
}

impl Runner {
    /// One run of the jobs; failures are logged (the next run retries), and a stop that
    /// comes while running waits [`SHUTDOWN_DRAIN`] for the run, then abandons it.
    pub(crate) async fn run(&self, why: &'static str) {
        let mut stopping = self.stopping.clone();
        let _turn = tokio::select! {
            turn = self.turn.lock() => turn,
            () = stopped(&mut stopping) => return,
        };
        if *stopping.borrow() {
            return;
        }
        let run = jobs::run(&self.pool, &self.config, self.pinger.as_ref());
        tokio::pin!(run);
        let result = tokio::select! {
            result = &mut run => result,
            () = stopped(&mut stopping) => {
                match tokio::time::timeout(SHUTDOWN_DRAIN, &mut run).await {
                    Ok(result) => result,
                    Err(_) => {
                        tracing::warn!(why, "shutting down: abandoned the worker run in progress; what it claimed stays pending");
                        return;
                    }
                }
            }
        };
        if let Err(error) = result {
            tracing::error!(error = %chain(&error), why, "the worker's run failed; the next one retries");
        }
    }
}

/// Resolves once the worker is stopping (or its stop signal is gone).
pub(crate) async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stopped| *stopped).await;
}
