#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(
        "invalid schedule {schedule:?}: expected a cron expression with seconds, such as \"0 */5 * * * *\" (every five minutes)"
    )]
    Schedule { schedule: String },

    #[error("the job scheduler failed")]
    Scheduler(#[from] tokio_cron_scheduler::JobSchedulerError),

    #[error("cannot set up the WebSub client: {0}")]
    Hub(String),

    #[error(transparent)]
    Store(#[from] gazette_store::StoreError),

    #[error("{failed} feed(s) could not be rebuilt (logged above); their changes stay pending")]
    FeedsFailed { failed: usize },
}

/// An error with its causes, for logs.
pub(crate) fn chain(error: &WorkerError) -> String {
    gazette_store::display_chain(error)
}
