//! Fans the database's change events out to this process's subscribers.
//!
//! Live events carry what the public may see: a published post or comment is read once
//! per event, as an anonymous reader (the same visibility policy as every query), and the
//! result goes to every subscriber. However many subscribers there are, an event costs one
//! statement, and none when nobody listens.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::futures_util::{Stream, stream};
use gazette_store::comments::{self, Comment};
use gazette_store::events::{Event, EventKind, EventListener};
use gazette_store::posts::{self, Post, PostColumns};
use gazette_store::{PgPool, ReadBudget, Reader, StoreError};
use tokio::sync::broadcast;

/// Subscribers that fall this far behind skip events rather than hold everyone up.
const BACKLOG: usize = 1024;

#[derive(Clone)]
pub struct EventHub {
    raw: broadcast::Sender<Event>,
    published_posts: broadcast::Sender<Arc<Post>>,
    published_comments: broadcast::Sender<Arc<Comment>>,
}

impl EventHub {
    /// Listens in the background for as long as the process runs, reconnecting after
    /// database outages.
    pub fn start(pool: PgPool) -> Self {
        let hub = Self {
            raw: broadcast::channel(BACKLOG).0,
            published_posts: broadcast::channel(BACKLOG).0,
            published_comments: broadcast::channel(BACKLOG).0,
        };
        tokio::spawn(listen(pool.clone(), hub.raw.clone()));
        tokio::spawn(hub.clone().resolve(pool));
        hub
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.raw.subscribe()
    }

    /// Each post published from now on, as the public sees it.
    pub fn published_posts(&self) -> impl Stream<Item = Arc<Post>> + use<> {
        receiver_stream(self.published_posts.subscribe())
    }

    /// Each comment published from now on that the public sees (not one under a held
    /// comment).
    pub fn published_comments(&self) -> impl Stream<Item = Arc<Comment>> + use<> {
        receiver_stream(self.published_comments.subscribe())
    }

    /// Reads what each event is about, once, for every subscriber.
    async fn resolve(self, pool: PgPool) {
        let mut events = self.raw.subscribe();
        loop {
            let event = match events.recv().await {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            };
            if let Err(error) = self.publish(&pool, &event).await {
                tracing::warn!(error = %gazette_store::display_chain(&error), "cannot load an event's subject for subscribers");
            }
        }
    }

    async fn publish(&self, pool: &PgPool, event: &Event) -> Result<(), StoreError> {
        match (event.kind, event.post_id, event.comment_id) {
            (EventKind::PostPublished, Some(id), _)
                if self.published_posts.receiver_count() > 0 =>
            {
                // Read it now: it may have changed since the event was sent.
                if let Some(post) = posts::find_visible(
                    pool,
                    &[id],
                    Reader::PUBLIC,
                    PostColumns::All,
                    &ReadBudget::unlimited(),
                )
                .await?
                .remove(&id)
                {
                    // No subscriber is no error.
                    let _ = self.published_posts.send(Arc::new(post));
                }
            }
            (EventKind::CommentPublished, _, Some(id))
                if self.published_comments.receiver_count() > 0 =>
            {
                if let Some(comment) =
                    comments::find_visible(pool, &[id], Reader::PUBLIC, &ReadBudget::unlimited())
                        .await?
                        .remove(&id)
                {
                    let _ = self.published_comments.send(Arc::new(comment));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

async fn listen(pool: PgPool, sender: broadcast::Sender<Event>) {
    // Until the process shuts down (and closes the pool).
    while !pool.is_closed() {
        match EventListener::connect(&pool).await {
            Ok(mut listener) => loop {
                match listener.next().await {
                    // No subscriber is no error.
                    Ok(event) => drop(sender.send(event)),
                    Err(_) if pool.is_closed() => return,
                    Err(error) => {
                        tracing::warn!(error = %gazette_store::display_chain(&error), "event listener failed; reconnecting");
                        break;
                    }
                }
            },
            Err(_) if pool.is_closed() => return,
            Err(error) => {
                tracing::warn!(error = %gazette_store::display_chain(&error), "cannot listen for events; retrying");
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A receiver as a stream; a subscriber too slow to keep up skips what it missed.
fn receiver_stream<T: Clone + Send + 'static>(
    receiver: broadcast::Receiver<T>,
) -> impl Stream<Item = T> + use<T> {
    stream::unfold(receiver, |mut receiver| async move {
        loop {
            match receiver.recv().await {
                Ok(item) => return Some((item, receiver)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    })
}
