//! Fans the database's change events out to this process's subscribers.

use std::time::Duration;

use async_graphql::futures_util::{Stream, stream};
use gazette_store::PgPool;
use gazette_store::events::{Event, EventListener};
use tokio::sync::broadcast;

/// Subscribers that fall this far behind skip events rather than hold everyone up.
const BACKLOG: usize = 1024;

#[derive(Clone)]
pub struct EventHub {
    sender: broadcast::Sender<Event>,
}

impl EventHub {
    /// Listens in the background for as long as the process runs, reconnecting after
    /// database outages.
    pub fn start(pool: PgPool) -> Self {
        let (sender, _) = broadcast::channel(BACKLOG);
        let hub = Self {
            sender: sender.clone(),
        };
        tokio::spawn(async move {
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
        });
        hub
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// The events from now on, as what `pick` makes of each (skipping those it turns into
    /// `None`): the body of a GraphQL subscription. A subscriber too slow to keep up skips
    /// what it missed.
    pub fn stream<T, F, Fut>(&self, pick: F) -> impl Stream<Item = T> + use<T, F, Fut>
    where
        F: FnMut(Event) -> Fut + Send + 'static,
        Fut: Future<Output = Option<T>> + Send,
        T: Send,
    {
        stream::unfold(
            (self.subscribe(), pick),
            |(mut events, mut pick)| async move {
                loop {
                    match events.recv().await {
                        Ok(event) => {
                            if let Some(item) = pick(event).await {
                                return Some((item, (events, pick)));
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                    }
                }
            },
        )
    }
}
