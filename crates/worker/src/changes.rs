//! Regenerates within seconds of a change: follows the database's change events and runs
//! once things have been quiet for a moment. The events only say *when* to run; what to
//! rebuild comes from the changes the database recorded (`feed_changes`), so a missed
//! event delays a rebuild, never loses one.

use std::time::Duration;

use gazette_store::events::{EventKind, EventListener};
use tokio::time::Instant;

use crate::scheduler::{Runner, stopped};

/// A burst of edits becomes one run: wait until this long without events…
const QUIET: Duration = Duration::from_millis(300);
/// …but no longer than this after the first.
const MAX_DELAY: Duration = Duration::from_secs(2);

/// Follows the change events until the worker stops. The first connection starts with a
/// run: the worker's catch-up on what changed while no worker ran.
pub(crate) async fn follow(runner: Runner) {
    let pool = runner.pool.clone();
    let mut stop = runner.stopping.clone();
    let mut reconnected = false;
    loop {
        let connected = tokio::select! {
            connected = EventListener::connect(&pool) => connected,
            () = stopped(&mut stop) => return,
        };
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(error = %gazette_store::display_chain(&error), "cannot follow changes; retrying");
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    () = stopped(&mut stop) => return,
                }
            }
        };
        // Changes made while the connection was lost are caught up at once; the first
        // connection catches up on everything since the last worker ran.
        let mut changed = true;
        let mut why = match reconnected {
            true => "catching up after the change events were lost",
            false => "the start-up run",
        };
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
                            if matches!(event.kind, EventKind::PostChanged | EventKind::Resync) {
                                runner.schedule_changed.notify_one();
                            }
                            runner.outbox_changed.notify_one();
                            runner.federation_changed.notify_one();
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
                    () = stopped(&mut stop) => return,
                }
            };
            if changed {
                runner.run(why).await;
                why = "regenerating after a change";
                changed = false;
            }
            if failed {
                break;
            }
        }
    }
}
