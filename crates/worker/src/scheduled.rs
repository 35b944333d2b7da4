//! Scheduled publishing: publishes each scheduled post when its time comes, within a
//! second or so, not at the next cron tick. Publishing is one `update` of the due posts,
//! so with several workers each post is published exactly once, and a post whose time
//! passed while no worker ran is published as soon as one starts. The database's triggers
//! do the rest, as for a manual publish: the change is recorded for the feeds, and
//! `post_published` is announced (the change follower rebuilds, APIs tell subscribers).

use std::time::Duration;

use chrono::Utc;
use gazette_domain::publishing;
use gazette_metrics::{Job, RunOutcome};

use crate::scheduler::{Runner, stopped};

/// The longest this waits without looking (a post scheduled by a process whose event
/// was lost is still published on time, give or take this).
const LONGEST_WAIT: Duration = Duration::from_secs(30);
/// After a failure (the database away), try again this soon.
const RETRY: Duration = Duration::from_secs(1);

/// Runs until the worker stops; the runner's `schedule_changed` wakes it when posts change.
pub(crate) async fn publish_when_due(runner: Runner) {
    let schedule_changed = runner.schedule_changed.clone();
    let mut stopping = runner.stopping.clone();
    loop {
        if *stopping.borrow() {
            return;
        }
        let wait = match publish_due(&runner).await {
            Ok(wait) => wait,
            Err(error) => {
                tracing::warn!(error = %gazette_store::display_chain(&error), "cannot publish scheduled posts; retrying");
                RETRY
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = schedule_changed.notified() => {}
            () = stopped(&mut stopping) => return,
        }
    }
}

/// Publishes what is due; returns how long to wait for the next.
async fn publish_due(runner: &Runner) -> Result<Duration, gazette_store::StoreError> {
    let started = std::time::Instant::now();
    let published = publishing::publish_due(&runner.pool).await;
    let outcome = match published {
        Ok(_) => RunOutcome::Success,
        Err(_) => RunOutcome::Failure,
    };
    gazette_metrics::metrics().worker_run(Job::PublishScheduled, outcome, started.elapsed());
    // Each publication is logged where every path publishes (domain::publishing).
    published?;
    let wait = match publishing::next_scheduled(&runner.pool).await? {
        // The database decides what is due (its clock); ours only says when to ask
        // again, at least a moment later so a clock ahead of the database's cannot spin.
        Some(at) => (at - Utc::now())
            .to_std()
            .unwrap_or_default()
            .max(Duration::from_millis(200)),
        None => LONGEST_WAIT,
    };
    Ok(wait.min(LONGEST_WAIT))
}
