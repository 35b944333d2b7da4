//! Regenerates within seconds of a change: follows the database's change events and runs
//! once things have been quiet for a moment. The events only say *when* to run; what to
//! rebuild comes from the changes the database recorded (`feed_changes`), so a missed
//! event delays a rebuild, never loses one.

use std::sync::Arc;
use std::time::Duration;

use gazette_store::PgPool;
use gazette_store::events::{EventKind, EventListener};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::jobs;
use crate::scheduler::WorkerConfig;
use crate::websub::Pinger;

/// A burst of edits becomes one run: wait until this long without events…
const QUIET: Duration = Duration::from_millis(300);
/// …but no longer than this after the first.
const MAX_DELAY: Duration = Duration::from_secs(2);

pub async fn follow(
    pool: PgPool,
    config: Arc<WorkerConfig>,
    pinger: Option<Pinger>,
    mut stop: watch::Receiver<bool>,
) {
    let mut reconnected = false;
    loop {
        let connected = tokio::select! {
            connected = EventListener::connect(&pool) => connected,
            _ = stop.wait_for(|stopped| *stopped) => return,
        };
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(error = %gazette_store::display_chain(&error), "cannot follow changes; retrying");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = stop.wait_for(|stopped| *stopped) => return,
                }
            }
        };
        // Changes made while the connection was lost are caught up at once (the first
        // connection follows the worker's start-up run, which caught up already).
        let mut changed = reconnected;
        reconnected = true;
        loop {
            let mut deadline: Option<Instant> = changed.then(Instant::now);
            // Gather a burst of events.
            let failed = loop {
                let timeout = match deadline {
                    Some(limit) => (Instant::now() + QUIET).min(limit),
                    None => Instant::now() + Duration::from_secs(3600),
                };
                tokio::select! {
                    event = listener.next() => match event {
                        Ok(event) if !matches!(event.kind, EventKind::FeedChanged | EventKind::SummariesChanged) => {
                            changed = true;
                            deadline.get_or_insert(Instant::now() + MAX_DELAY);
                        }
                        Ok(_) => {}
                        Err(error) => {
                            tracing::warn!(error = %gazette_store::display_chain(&error), "lost the change events; reconnecting");
                            break true;
                        }
                    },
                    () = tokio::time::sleep_until(timeout), if deadline.is_some() => break false,
                    _ = stop.wait_for(|stopped| *stopped) => return,
                }
            };
            if changed {
                if let Err(error) = jobs::run(&pool, &config, pinger.as_ref()).await {
                    tracing::error!(error = %crate::error::chain(&error), "regenerating after a change failed");
                }
                changed = false;
            }
            if failed {
                break;
            }
        }
    }
}
