//! Change events between processes: database triggers `pg_notify` on the `gazette_events`
//! channel when posts and comments change (delivered when the writing transaction commits),
//! and every API and worker process listens. A comment written through one API process so
//! reaches the subscribers of all of them.

use serde::Deserialize;
use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};

use crate::error::StoreError;

/// The channel the triggers of migration 0002 notify.
pub const CHANNEL: &str = "gazette_events";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A post became published (created published, or published later).
    PostPublished,
    /// Any other change to a post or its tags, including deletion.
    PostChanged,
    /// A comment became published (posted, or approved).
    CommentPublished,
    /// Any other change to a comment.
    CommentChanged,
    /// The worker stored a new version of a feed (or removed one).
    FeedChanged,
    /// A social channel was added, changed or removed.
    ChannelChanged,
    /// An author or a tag changed (migration 0007).
    ContentChanged,
    /// The worker stored new channel summaries or digests.
    SummariesChanged,
    /// Not sent by the database: the listener lost its connection, and events sent
    /// meanwhile are lost. Whoever keeps copies must drop them.
    #[serde(skip)]
    Resync,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Event {
    pub kind: EventKind,
    pub post_id: Option<i64>,
    pub comment_id: Option<i64>,
    /// The feed's key, for `FeedChanged`.
    pub key: Option<String>,
    /// For `FeedChanged`: the feed was removed, not replaced (no copy may be served).
    #[serde(default)]
    pub removed: bool,
}

/// A connection listening for events.
#[derive(Debug)]
pub struct EventListener(PgListener);

impl EventListener {
    /// Listens on a connection of its own, opened with `pool`'s options: a listener holds
    /// its connection for as long as it runs, and taken from `pool` it left one fewer for
    /// statements (with `--db-max-connections 2`, `serve`'s two listeners took both and
    /// every query waited until it gave up).
    pub async fn connect(pool: &PgPool) -> Result<Self, StoreError> {
        // As sqlx's own `PgListener::connect` does: a pool of one, only for reconnecting.
        let own = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_with((*pool.connect_options()).clone())
            .await?;
        let mut listener = PgListener::connect_with(&own).await?;
        listener.listen(CHANNEL).await?;
        Ok(Self(listener))
    }

    /// The next event. Reconnects by itself when the connection drops; events sent while
    /// it was down are lost, so a lost connection is reported as [`EventKind::Resync`].
    pub async fn next(&mut self) -> Result<Event, StoreError> {
        loop {
            let Some(notification) = self.0.try_recv().await? else {
                return Ok(Event {
                    kind: EventKind::Resync,
                    post_id: None,
                    comment_id: None,
                    key: None,
                    removed: false,
                });
            };
            match serde_json::from_str::<Event>(notification.payload()) {
                Ok(event) => return Ok(event),
                Err(error) => {
                    tracing::warn!(%error, payload = notification.payload(), "ignoring an unreadable event");
                }
            }
        }
    }
}
