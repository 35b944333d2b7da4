//! Anonymous query responses, kept until the content changes: the front page asked a
//! thousand times a second is answered once and served from memory until a post, comment,
//! tag, author or channel text changes (WPGraphQL Smart Cache and Ghost's content cache
//! do the same). Only queries without a token, answered without errors, are kept; what a
//! token holder or a mutation gets is never cached.
//!
//! Freshness: every change event (LISTEN/NOTIFY, from any process) empties the cache, and
//! this process's own mutations empty it before they answer, so a writer reads its write.
//! A response computed while a change arrived is not kept (a generation counter). If the
//! event connection drops, the cache is emptied; `--graphql-cache-ttl` bounds how long any
//! entry lives regardless.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::sync::broadcast;

use crate::events::EventHub;

/// Entries kept at most, and the largest response kept.
const MAX_ENTRIES: usize = 1_000;
const MAX_RESPONSE_BYTES: usize = 512 * 1024;

/// What identifies a response: the operation as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub query: String,
    /// The variables as JSON text (as sent; another key order is another key).
    pub variables: String,
    pub operation_name: Option<String>,
}

#[derive(Clone)]
pub struct ResponseCache {
    inner: Arc<Inner>,
}

struct Inner {
    ttl: Duration,
    generation: AtomicU64,
    hasher: RandomState,
    entries: Mutex<HashMap<u64, Entry>>,
}

struct Entry {
    key: CacheKey,
    body: Bytes,
    stored_at: Instant,
}

/// The cache's state when an execution started: a response is kept only if no change
/// arrived since.
#[derive(Debug, Clone, Copy)]
pub struct Generation(u64);

impl ResponseCache {
    /// A cache emptied by every event `events` relays; `ttl` zero disables it.
    pub fn new(events: &EventHub, ttl: Duration) -> Self {
        let cache = Self {
            inner: Arc::new(Inner {
                ttl,
                generation: AtomicU64::new(0),
                hasher: RandomState::new(),
                entries: Mutex::default(),
            }),
        };
        if !ttl.is_zero() {
            let mut subscription = events.subscribe();
            let inner = Arc::downgrade(&cache.inner);
            tokio::spawn(async move {
                loop {
                    let received = subscription.recv().await;
                    let Some(inner) = inner.upgrade() else { return };
                    match received {
                        // Any change, or missed ones: nothing kept may be trusted.
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => inner.clear(),
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
        }
        cache
    }

    pub fn enabled(&self) -> bool {
        !self.inner.ttl.is_zero()
    }

    /// The response kept for `key`, if it is still fresh.
    pub fn get(&self, key: &CacheKey) -> Option<Bytes> {
        if !self.enabled() {
            return None;
        }
        let hash = self.hash(key);
        let entries = lock(&self.inner.entries);
        let entry = entries.get(&hash)?;
        (entry.key == *key && entry.stored_at.elapsed() < self.inner.ttl)
            .then(|| entry.body.clone())
    }

    /// Call before executing: what [`ResponseCache::put`] checks against.
    pub fn generation(&self) -> Generation {
        Generation(self.inner.generation.load(Ordering::Acquire))
    }

    /// Keeps `body` for `key` unless a change arrived since `seen`.
    pub fn put(&self, key: CacheKey, body: Bytes, seen: Generation) {
        if !self.enabled() || body.len() > MAX_RESPONSE_BYTES {
            return;
        }
        let hash = self.hash(&key);
        let mut entries = lock(&self.inner.entries);
        // Checked under the lock `clear` takes: a change cannot slip in between.
        if self.inner.generation.load(Ordering::Acquire) != seen.0 {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, entry| entry.stored_at.elapsed() < self.inner.ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(
            hash,
            Entry {
                key,
                body,
                stored_at: Instant::now(),
            },
        );
    }

    /// Forgets everything (a change happened).
    pub fn clear(&self) {
        self.inner.clear();
    }

    fn hash(&self, key: &CacheKey) -> u64 {
        self.inner.hasher.hash_one(key)
    }
}

impl Inner {
    fn clear(&self) {
        let mut entries = lock(&self.entries);
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

fn lock(entries: &Mutex<HashMap<u64, Entry>>) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
    entries.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(query: &str) -> CacheKey {
        CacheKey {
            query: query.to_owned(),
            variables: "{}".to_owned(),
            operation_name: None,
        }
    }

    fn cache(ttl: Duration) -> ResponseCache {
        ResponseCache {
            inner: Arc::new(Inner {
                ttl,
                generation: AtomicU64::new(0),
                hasher: RandomState::new(),
                entries: Mutex::default(),
            }),
        }
    }

    #[test]
    fn a_kept_response_is_served_until_a_change() {
        let cache = cache(Duration::from_secs(60));
        let seen = cache.generation();
        cache.put(key("{ a }"), Bytes::from_static(b"A"), seen);
        assert_eq!(cache.get(&key("{ a }")), Some(Bytes::from_static(b"A")));
        assert_eq!(cache.get(&key("{ b }")), None);
        cache.clear();
        assert_eq!(cache.get(&key("{ a }")), None);
    }

    #[test]
    fn a_response_computed_across_a_change_is_not_kept() {
        let cache = cache(Duration::from_secs(60));
        let seen = cache.generation();
        cache.clear();
        cache.put(key("{ a }"), Bytes::from_static(b"stale"), seen);
        assert_eq!(cache.get(&key("{ a }")), None);
    }

    #[test]
    fn entries_expire_and_zero_disables() {
        let cache = cache(Duration::from_millis(1));
        cache.put(key("{ a }"), Bytes::from_static(b"A"), cache.generation());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(cache.get(&key("{ a }")), None);

        let off = super::tests::cache(Duration::ZERO);
        off.put(key("{ a }"), Bytes::from_static(b"A"), off.generation());
        assert_eq!(off.get(&key("{ a }")), None);
    }
}
