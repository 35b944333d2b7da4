//! The feeds in memory: serving one must not cost a database round trip per request. Each
//! API process keeps the feeds it has served, reads a feed again as soon as the worker
//! announces a new version (`feed_changed` through LISTEN/NOTIFY), and re-checks any copy
//! older than `--feed-recheck-seconds` (a cheap hash comparison) in case an announcement
//! was missed. When the database is down, the last good copy is still served, even one a
//! newer version has superseded.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use gazette_store::events::EventKind;
use gazette_store::feeds;
use gazette_store::{PgPool, Reads, StoreError};
use tokio::sync::broadcast;

use crate::conditional::Document;
use crate::events::EventHub;

/// Feeds kept at most; beyond, the least recently checked go.
const CAPACITY: usize = 10_000;

/// Readers poll; the worker refreshes feeds within seconds of a change.
const FEED_CACHE_CONTROL: &str = "public, max-age=60";

#[derive(Clone)]
pub struct FeedCache {
    /// Feeds are read where reads go (a replica when there is one), except a version the
    /// worker has just announced: a replica may not have it yet, and the copy read would be
    /// kept for `fresh_for`, so that one read goes to the primary.
    reads: Reads,
    announced: Arc<Mutex<HashSet<String>>>,
    /// How long a copy is served without asking the database whether it is still current.
    fresh_for: Duration,
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

struct Entry {
    feed: Arc<Document>,
    checked_at: Instant,
    /// A newer version was announced: read it at the next request, and serve this one only
    /// if the database cannot be read.
    superseded: bool,
}

impl FeedCache {
    pub fn new(reads: Reads, events: &EventHub, fresh_for: Duration) -> Self {
        let cache = Self {
            reads,
            announced: Arc::default(),
            fresh_for,
            entries: Arc::default(),
        };
        let mut subscription = events.subscribe();
        let listener = cache.clone();
        let (entries, announced) = (cache.entries.clone(), cache.announced.clone());
        tokio::spawn(async move {
            loop {
                match subscription.recv().await {
                    Ok(event) if event.kind == EventKind::FeedChanged => {
                        match (event.key, event.removed) {
                            (Some(key), false) => listener.stored(key),
                            // A removed feed (an unpublished post's, a disabled channel's) is
                            // never served again, not even while the database is down.
                            (Some(key), true) => {
                                lock(&listener.entries).remove(&key);
                            }
                            (None, _) => {}
                        }
                    }
                    // A lost event connection (the database may be down) keeps the copies:
                    // the periodic hash re-check catches what was missed, and the last good
                    // copy is served meanwhile.
                    Ok(_) => {}
                    // Missed announcements: forget everything rather than serve stale feeds.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Which versions were announced is lost with them: read the next
                        // copies from the primary.
                        // (Removals among them too: no copy is kept.)
                        let mut entries = lock(&entries);
                        let mut announced = lock(&announced);
                        let room = CAPACITY.saturating_sub(announced.len());
                        announced.extend(entries.drain().map(|(key, _)| key).take(room));
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        cache
    }

    /// A new version of `key` is stored (the worker announced it, or this process built
    /// it): the next request reads it from the primary, which has it for sure; the copy is
    /// kept for when the database cannot be read.
    pub fn stored(&self, key: String) {
        if let Some(entry) = lock(&self.entries).get_mut(&key) {
            entry.superseded = true;
        }
        let mut announced = lock(&self.announced);
        // Bounded like the copies; past it, a replica's lag (usually milliseconds) is what
        // a reader may see.
        if announced.len() < CAPACITY {
            announced.insert(key);
        }
    }

    /// The current feed stored under `key`, if there is one.
    pub async fn get(&self, key: &str) -> Result<Option<Arc<Document>>, StoreError> {
        let cached = lock(&self.entries).get(key).map(|entry| {
            let fresh = !entry.superseded && entry.checked_at.elapsed() < self.fresh_for;
            (entry.feed.clone(), fresh, entry.superseded)
        });
        let result = if cached.as_ref().is_some_and(|(_, fresh, _)| *fresh) {
            "hit"
        } else {
            "miss"
        };
        gazette_metrics::metrics()
            .feed_cache
            .with_label_values(&[result])
            .inc();
        match cached {
            Some((feed, true, _)) => Ok(Some(feed)),
            Some((feed, false, superseded)) => {
                let current = match superseded {
                    true => self.load(key).await,
                    false => self.revalidate(key, &feed).await,
                };
                match current {
                    Ok(current) => Ok(current),
                    Err(error) => {
                        tracing::warn!(error = %gazette_store::display_chain(&error), key, "serving the last good copy of a feed");
                        Ok(Some(feed))
                    }
                }
            }
            None => self.load(key).await,
        }
    }

    async fn revalidate(
        &self,
        key: &str,
        feed: &Arc<Document>,
    ) -> Result<Option<Arc<Document>>, StoreError> {
        let keys = [key.to_owned()];
        let hashes = self
            .reads
            .run(
                |pool: PgPool| {
                    let keys = &keys;
                    async move { feeds::hashes(&pool, keys).await }
                },
                fell_back,
            )
            .await?;
        if hashes.get(key).map(String::as_str) == Some(feed.content_hash()) {
            if let Some(entry) = lock(&self.entries).get_mut(key) {
                entry.checked_at = Instant::now();
            }
            return Ok(Some(feed.clone()));
        }
        self.load(key).await
    }

    async fn load(&self, key: &str) -> Result<Option<Arc<Document>>, StoreError> {
        let announced = lock(&self.announced).contains(key);
        let found = match announced {
            true => feeds::find(self.reads.primary(), key).await?,
            false => {
                self.reads
                    .run(
                        |pool: PgPool| async move { feeds::find(&pool, key).await },
                        fell_back,
                    )
                    .await?
            }
        };
        if announced {
            lock(&self.announced).remove(key);
        }
        let Some(feed) = found else {
            lock(&self.entries).remove(key);
            return Ok(None);
        };
        // Prepared once per version (shared body, gzip variant, header values), then served
        // from memory until the worker announces a new one.
        let feed = Arc::new(Document::new(
            feed.body,
            &feed.content_type,
            &feed.content_hash,
            feed.generated_at,
            FEED_CACHE_CONTROL,
        ));
        let mut entries = lock(&self.entries);
        if entries.len() >= CAPACITY {
            let oldest = entries
                .iter()
                .min_by_key(|(_, entry)| entry.checked_at)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            key.to_owned(),
            Entry {
                feed: feed.clone(),
                checked_at: Instant::now(),
                superseded: false,
            },
        );
        Ok(Some(feed))
    }
}

fn fell_back() {
    gazette_metrics::metrics().replica_fallbacks.inc();
}

/// The maps stay consistent even if a holder panicked: every change is one call.
fn lock<T>(guarded: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    guarded.lock().unwrap_or_else(PoisonError::into_inner)
}
