//! Regenerates within seconds of a change: follows the database's change events, gathers
//! the posts they touch, and runs once things have been quiet for a moment.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use gazette_store::PgPool;
use gazette_store::events::{EventKind, EventListener};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::jobs::{self, Scope};
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
        loop {
            let mut posts = HashSet::new();
            let mut changed = false;
            let mut deadline: Option<Instant> = None;
            // Gather a burst of events.
            let failed = loop {
                let timeout = match deadline {
                    Some(limit) => (Instant::now() + QUIET).min(limit),
                    None => Instant::now() + Duration::from_secs(3600),
                };
                tokio::select! {
                    event = listener.next() => match event {
                        Ok(event) if event.kind != EventKind::FeedChanged => {
                            if let Some(post) = event.post_id {
                                posts.insert(post);
                            }
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
                let scope = Scope::Posts(posts);
                if let Err(error) = jobs::run(&pool, &config, &scope, pinger.as_ref()).await {
                    tracing::error!(error = %crate::error::chain(&error), "regenerating after a change failed");
                }
            }
            if failed {
                break;
            }
        }
    }
}
