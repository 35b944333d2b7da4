//! Deliveries under way per receiver (a webhook endpoint, a fediverse instance): a slow
//! receiver holds a few of the worker's slots, never all of them.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};

pub(crate) struct PerReceiver<K> {
    counts: Mutex<HashMap<K, usize>>,
    limit: usize,
}

impl<K: Clone + Eq + Hash> PerReceiver<K> {
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            counts: Mutex::default(),
            limit,
        }
    }

    /// The receivers that have their limit under way.
    pub(crate) fn busy(&self) -> Vec<K> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, count)| **count >= self.limit)
            .map(|(receiver, _)| receiver.clone())
            .collect()
    }

    /// Counts one more delivery to `receiver` in, if it has room.
    pub(crate) fn take(&self, receiver: &K) -> bool {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(receiver.clone()).or_default();
        let room = *count < self.limit;
        if room {
            *count += 1;
        }
        room
    }

    /// A delivery to `receiver` is over.
    pub(crate) fn release(&self, receiver: &K) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(receiver) {
            *count = count.saturating_sub(1);
        }
        counts.retain(|_, count| *count > 0);
    }
}
