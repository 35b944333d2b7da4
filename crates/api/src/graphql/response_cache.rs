//! Anonymous query responses, kept until the content changes: the front page asked a
//! thousand times a second is answered once and served from memory until a post, comment,
//! tag, author or channel text changes (WPGraphQL Smart Cache and Ghost's content cache
//! do the same). Only queries without a token, answered without errors from the primary,
//! are kept; what a token holder or a mutation gets is never cached.
//!
//! Freshness: every change event (LISTEN/NOTIFY, from any process) empties the cache, and
//! this process's own mutations empty it before they answer, so a writer reads its write.
//! A response computed while a change arrived is not kept (a generation counter). The
//! worker's own writes (a feed or a channel text stored) drop only the answers that read
//! feeds or channel texts: a busy worker, writing a few dozen documents a second, does not
//! keep the front page from being served from memory. If the
//! event connection drops, the cache is emptied; `--graphql-cache-ttl` bounds how long any
//! entry lives regardless, and expired entries are swept every TTL. Answers read from a
//! replica are not kept: the replica may not have replayed a change the primary already
//! announced.
//!
//! Memory: the cache holds at most `--graphql-cache-max-bytes` (keys and answers counted),
//! dropping the least recently used entries first; an answer over 512 KiB, or a request
//! whose variables are over 1 KiB, is never kept.

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde_json::Value;
use tokio::sync::broadcast;

use gazette_store::events::EventKind;

use crate::events::EventHub;

/// The largest answer kept, and the largest variables a kept request may have.
const MAX_RESPONSE_BYTES: usize = 512 * 1024;
const MAX_VARIABLES_BYTES: usize = 1024;
/// What an entry costs besides its key and answer (map slots, the order index).
const ENTRY_OVERHEAD: usize = 128;

/// What identifies a response: the operation as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    query: String,
    /// The variables as JSON text (as sent; another key order is another key).
    variables: String,
    operation_name: Option<String>,
}

impl CacheKey {
    /// The key of a request, or `None` when its variables are too large to be worth
    /// keeping (each distinct value would be an entry).
    pub fn new(
        query: &str,
        variables: Option<&Value>,
        operation_name: Option<&str>,
    ) -> Option<Self> {
        let variables = match variables {
            None => String::new(),
            Some(variables) => small_json(variables)?,
        };
        Some(Self {
            query: query.to_owned(),
            variables,
            operation_name: operation_name.map(str::to_owned),
        })
    }

    fn bytes(&self) -> usize {
        self.query.len()
            + self.variables.len()
            + self.operation_name.as_ref().map_or(0, String::len)
    }
}

/// `value` as JSON text if it is at most [`MAX_VARIABLES_BYTES`]: writing stops there, so
/// a request with megabytes of variables costs no copy of them.
fn small_json(value: &Value) -> Option<String> {
    struct Bounded(Vec<u8>);
    impl std::io::Write for Bounded {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            if self.0.len() + bytes.len() > MAX_VARIABLES_BYTES {
                return Err(std::io::Error::other("too large to keep"));
            }
            self.0.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut written = Bounded(Vec::new());
    serde_json::to_writer(&mut written, value).ok()?;
    String::from_utf8(written.0).ok()
}

#[derive(Clone)]
pub struct ResponseCache {
    inner: Arc<Inner>,
}

struct Inner {
    ttl: Duration,
    max_bytes: usize,
    /// Counts every change.
    generation: AtomicU64,
    /// Counts the worker's writes (feeds, channel texts).
    generated_generation: AtomicU64,
    hasher: RandomState,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_hash: HashMap<u64, Entry>,
    /// Hashes by when they were last used: the first is the least recently used.
    by_use: BTreeMap<u64, u64>,
    /// Keys and answers held, with each entry's overhead.
    bytes: usize,
    /// Ticks ordering uses.
    clock: u64,
}

struct Entry {
    key: CacheKey,
    body: Bytes,
    stored_at: Instant,
    used: u64,
    /// The answer read feeds or channel texts.
    reads_generated: bool,
}

impl Entry {
    fn bytes(&self) -> usize {
        self.key.bytes() + self.body.len() + ENTRY_OVERHEAD
    }
}

impl Entries {
    fn remove(&mut self, hash: u64) {
        if let Some(entry) = self.by_hash.remove(&hash) {
            self.by_use.remove(&entry.used);
            self.bytes -= entry.bytes();
        }
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn clear(&mut self) {
        self.by_hash.clear();
        self.by_use.clear();
        self.bytes = 0;
    }
}

/// The cache's state when an execution started: a response is kept only if no change
/// arrived since (and, for one that read feeds or channel texts, no worker write).
#[derive(Debug, Clone, Copy)]
pub struct Generation {
    every_change: u64,
    generated: u64,
}

impl ResponseCache {
    /// A cache emptied by every event `events` relays; `ttl` zero disables it.
    pub fn new(events: &EventHub, ttl: Duration, max_bytes: usize) -> Self {
        let cache = Self::unconnected(ttl, max_bytes);
        if cache.enabled() {
            let mut subscription = events.subscribe();
            let inner = Arc::downgrade(&cache.inner);
            tokio::spawn(async move {
                loop {
                    let received = subscription.recv().await;
                    let Some(inner) = inner.upgrade() else { return };
                    match received {
                        Ok(event)
                            if matches!(
                                event.kind,
                                EventKind::FeedChanged | EventKind::SummariesChanged
                            ) =>
                        {
                            inner.clear_generated()
                        }
                        // Any other change, or missed ones: nothing kept may be trusted.
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => inner.clear(),
                        Err(broadcast::error::RecvError::Closed) => return,
                    }
                }
            });
            let inner = Arc::downgrade(&cache.inner);
            tokio::spawn(async move {
                let mut sweeps = tokio::time::interval(ttl.max(Duration::from_millis(100)));
                loop {
                    sweeps.tick().await;
                    let Some(inner) = inner.upgrade() else { return };
                    inner.sweep();
                }
            });
        }
        cache
    }

    fn unconnected(ttl: Duration, max_bytes: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                ttl,
                max_bytes,
                generation: AtomicU64::new(0),
                generated_generation: AtomicU64::new(0),
                hasher: RandomState::new(),
                entries: Mutex::default(),
            }),
        }
    }

    pub fn enabled(&self) -> bool {
        !self.inner.ttl.is_zero() && self.inner.max_bytes > 0
    }

    /// The response kept for `key`, if it is still fresh.
    pub fn get(&self, key: &CacheKey) -> Option<Bytes> {
        if !self.enabled() {
            return None;
        }
        let hash = self.hash(key);
        let mut entries = self.inner.lock();
        let entry = entries.by_hash.get(&hash)?;
        if entry.key != *key {
            return None;
        }
        if entry.stored_at.elapsed() >= self.inner.ttl {
            entries.remove(hash);
            report(&entries);
            return None;
        }
        let (body, last_used) = (entry.body.clone(), entry.used);
        let used = entries.tick();
        entries.by_use.remove(&last_used);
        entries.by_use.insert(used, hash);
        if let Some(entry) = entries.by_hash.get_mut(&hash) {
            entry.used = used;
        }
        Some(body)
    }

    /// Call before executing: what [`ResponseCache::put`] checks against.
    pub fn generation(&self) -> Generation {
        Generation {
            every_change: self.inner.generation.load(Ordering::Acquire),
            generated: self.inner.generated_generation.load(Ordering::Acquire),
        }
    }

    /// Keeps `body` for `key` unless a change arrived since `seen` (or, when the answer
    /// `reads_generated` feeds or channel texts, the worker wrote one), dropping the least
    /// recently used entries to make room.
    pub fn put(&self, key: CacheKey, body: Bytes, seen: Generation, reads_generated: bool) {
        if !self.enabled() || body.len() > MAX_RESPONSE_BYTES {
            return;
        }
        let hash = self.hash(&key);
        let mut entries = self.inner.lock();
        // Checked under the lock `clear` takes: a change cannot slip in between.
        if self.generation().every_change != seen.every_change
            || (reads_generated && self.generation().generated != seen.generated)
        {
            return;
        }
        entries.remove(hash);
        let used = entries.tick();
        let entry = Entry {
            key,
            body,
            stored_at: Instant::now(),
            used,
            reads_generated,
        };
        let size = entry.bytes();
        if size > self.inner.max_bytes {
            return;
        }
        while entries.bytes + size > self.inner.max_bytes {
            let Some((_, oldest)) = entries.by_use.pop_first() else {
                break;
            };
            entries.remove(oldest);
        }
        entries.bytes += size;
        entries.by_use.insert(used, hash);
        entries.by_hash.insert(hash, entry);
        report(&entries);
    }

    /// Forgets everything (a change happened).
    pub fn clear(&self) {
        self.inner.clear();
    }

    /// Bytes held now (keys, answers and per-entry overhead); the metrics show the same.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.inner.lock().bytes
    }

    fn hash(&self, key: &CacheKey) -> u64 {
        self.inner.hasher.hash_one(key)
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn clear(&self) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        report(&entries);
    }

    /// Drops the answers that read feeds or channel texts (the worker wrote one).
    fn clear_generated(&self) {
        let mut entries = self.lock();
        self.generated_generation.fetch_add(1, Ordering::AcqRel);
        let stale: Vec<u64> = entries
            .by_hash
            .iter()
            .filter(|(_, entry)| entry.reads_generated)
            .map(|(hash, _)| *hash)
            .collect();
        for hash in stale {
            entries.remove(hash);
        }
        report(&entries);
    }

    /// Drops every expired entry.
    fn sweep(&self) {
        let mut entries = self.lock();
        let expired: Vec<u64> = entries
            .by_hash
            .iter()
            .filter(|(_, entry)| entry.stored_at.elapsed() >= self.ttl)
            .map(|(hash, _)| *hash)
            .collect();
        for hash in expired {
            entries.remove(hash);
        }
        report(&entries);
    }
}

/// Shows what the cache holds in the metrics.
fn report(entries: &Entries) {
    gazette_metrics::metrics()
        .response_cache_bytes
        .set(i64::try_from(entries.bytes).unwrap_or(i64::MAX));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(query: &str) -> CacheKey {
        CacheKey::new(query, None, None).expect("a small key")
    }

    #[test]
    fn a_kept_response_is_served_until_a_change() {
        let cache = ResponseCache::unconnected(Duration::from_secs(60), 1 << 20);
        let seen = cache.generation();
        cache.put(key("{ a }"), Bytes::from_static(b"A"), seen, false);
        assert_eq!(cache.get(&key("{ a }")), Some(Bytes::from_static(b"A")));
        assert_eq!(cache.get(&key("{ b }")), None);
        cache.clear();
        assert_eq!(cache.get(&key("{ a }")), None);
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn a_response_computed_across_a_change_is_not_kept() {
        let cache = ResponseCache::unconnected(Duration::from_secs(60), 1 << 20);
        let seen = cache.generation();
        cache.clear();
        cache.put(key("{ a }"), Bytes::from_static(b"stale"), seen, false);
        assert_eq!(cache.get(&key("{ a }")), None);
    }

    #[test]
    fn the_workers_writes_drop_only_answers_that_read_them() {
        let cache = ResponseCache::unconnected(Duration::from_secs(60), 1 << 20);
        let seen = cache.generation();
        cache.put(key("{ posts }"), Bytes::from_static(b"P"), seen, false);
        cache.put(key("{ feeds }"), Bytes::from_static(b"F"), seen, true);
        let during = cache.generation();
        cache.inner.clear_generated();
        assert!(cache.get(&key("{ posts }")).is_some());
        assert!(cache.get(&key("{ feeds }")).is_none());
        // An answer that read a feed while the worker wrote one is not kept; one that did
        // not is.
        cache.put(key("{ feeds }"), Bytes::from_static(b"old"), during, true);
        cache.put(key("{ tags }"), Bytes::from_static(b"T"), during, false);
        assert!(cache.get(&key("{ feeds }")).is_none());
        assert!(cache.get(&key("{ tags }")).is_some());
        // Any other change drops everything.
        cache.clear();
        assert!(cache.get(&key("{ posts }")).is_none());
        assert!(cache.get(&key("{ tags }")).is_none());
    }

    #[test]
    fn entries_expire_are_swept_and_zero_disables() {
        let cache = ResponseCache::unconnected(Duration::from_millis(1), 1 << 20);
        cache.put(
            key("{ a }"),
            Bytes::from_static(b"A"),
            cache.generation(),
            false,
        );
        std::thread::sleep(Duration::from_millis(5));
        assert!(cache.bytes() > 0);
        cache.inner.sweep();
        assert_eq!(cache.bytes(), 0, "the sweep drops expired entries");
        assert_eq!(cache.get(&key("{ a }")), None);

        let off = ResponseCache::unconnected(Duration::ZERO, 1 << 20);
        off.put(
            key("{ a }"),
            Bytes::from_static(b"A"),
            off.generation(),
            false,
        );
        assert_eq!(off.get(&key("{ a }")), None);
    }

    #[test]
    fn bytes_are_bounded_least_recently_used_first() {
        let body = Bytes::from(vec![b'x'; 1000]);
        let entry_size = key("{ a0 }").bytes() + 1000 + ENTRY_OVERHEAD;
        let cache = ResponseCache::unconnected(Duration::from_secs(60), 3 * entry_size);
        for n in 0..3 {
            cache.put(
                key(&format!("{{ a{n} }}")),
                body.clone(),
                cache.generation(),
                false,
            );
        }
        // a0 is used again, so a1 is the least recently used when a3 comes.
        assert!(cache.get(&key("{ a0 }")).is_some());
        cache.put(key("{ a3 }"), body.clone(), cache.generation(), false);
        assert!(cache.bytes() <= 3 * entry_size);
        assert!(
            cache.get(&key("{ a1 }")).is_none(),
            "the least recently used went"
        );
        for kept in ["{ a0 }", "{ a2 }", "{ a3 }"] {
            assert!(cache.get(&key(kept)).is_some(), "{kept}");
        }
    }

    #[test]
    fn large_variables_and_answers_are_not_kept() {
        let large = serde_json::json!({ "x": "y".repeat(2000) });
        assert!(CacheKey::new("{ a }", Some(&large), None).is_none());
        let cache = ResponseCache::unconnected(Duration::from_secs(60), 16 << 20);
        let big = Bytes::from(vec![b'x'; MAX_RESPONSE_BYTES + 1]);
        cache.put(key("{ a }"), big, cache.generation(), false);
        assert_eq!(cache.bytes(), 0);
    }
}
