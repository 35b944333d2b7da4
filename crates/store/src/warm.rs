//! Connections a read gave back clean, kept a moment for the next read.
//!
//! sqlx pings every connection that goes back to its pool, from a task it spawns: a round
//! trip to PostgreSQL and a wake-up on both sides, per request. On a post page that was a
//! tenth to a fifth of the request's CPU, server and PostgreSQL together
//! (docs/benchmarks.md). The compiled read path gives its connection here instead when
//! every statement on it ran to the end, so nothing of a statement can be left on it, and
//! the next read takes it without the round trip. A connection whose read failed or was
//! cancelled goes back to the pool as before, and is pinged there.
//!
//! Kept connections count as taken in the pool, and a statement queued at the pool cannot
//! see them, so few are kept and not for long: at most half the pool, only while the pool
//! could still hand out a connection at once (an idle one, or room to open one), and for
//! [`KEEP_FOR`] at most: a task gives back what waited longer, and everything as soon as
//! the pool is full with none idle. Under load a kept connection is taken again within a
//! millisecond; a quiet server keeps nothing. A statement queued at a pool that filled up
//! after a connection was kept waits [`KEEP_FOR`] more at worst (a replica's pool gives up
//! after a second).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};
use tokio::sync::Notify;

/// How long a connection is kept unused before the task gives it back (it looks every
/// `KEEP_FOR` while anything is kept, so nothing is kept for twice that).
const KEEP_FOR: Duration = Duration::from_millis(10);

/// A pool and the clean connections kept beside it.
#[derive(Debug)]
pub struct WarmConnections {
    pool: PgPool,
    kept: Mutex<Vec<Kept>>,
    capacity: usize,
    /// Set when the database closes: closing waits for every connection to come back.
    closing: AtomicBool,
    /// Wakes the task that gives connections back: something was kept, or the keep is
    /// dropped.
    wake: Arc<Notify>,
}

#[derive(Debug)]
struct Kept {
    connection: PoolConnection<Postgres>,
    since: Instant,
}

impl WarmConnections {
    /// Keeps up to half of `pool`'s connections, with a task that gives them back (it
    /// sleeps while nothing is kept, and ends with the keep).
    pub fn new(pool: PgPool) -> Arc<Self> {
        let capacity = (pool.options().get_max_connections() / 2) as usize;
        let warm = Arc::new(Self {
            pool,
            kept: Mutex::new(Vec::new()),
            capacity,
            closing: AtomicBool::new(false),
            wake: Arc::new(Notify::new()),
        });
        if capacity > 0 {
            tokio::spawn(give_back(Arc::downgrade(&warm), warm.wake.clone()));
        }
        warm
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The connection kept last, if it has not waited too long; else one from the pool.
    pub async fn take(&self) -> Result<PoolConnection<Postgres>, sqlx::Error> {
        let kept = self.kept.lock().ok().and_then(|mut kept| kept.pop());
        match kept {
            Some(kept) if kept.since.elapsed() <= KEEP_FOR => Ok(kept.connection),
            // The newest kept is stale: so are the others, which the task gives back.
            stale => {
                drop(stale);
                self.pool.acquire().await
            }
        }
    }

    /// How many connections are kept now (idle, though the pool counts them as taken).
    pub fn kept(&self) -> usize {
        self.kept.lock().map_or(0, |kept| kept.len())
    }

    /// Takes back a connection whose statements all ran to the end.
    pub fn keep(&self, connection: PoolConnection<Postgres>) {
        if !self.has_room() {
            return;
        }
        let Ok(mut kept) = self.kept.lock() else {
            return;
        };
        // Checked again under the lock: `close` empties the keep under it.
        if kept.len() >= self.capacity || self.closing.load(Ordering::Acquire) {
            return;
        }
        kept.push(Kept {
            connection,
            since: Instant::now(),
        });
        if kept.len() == 1 {
            self.wake.notify_one();
        }
    }

    /// Whether another caller could still have a connection from the pool at once.
    fn has_room(&self) -> bool {
        self.pool.num_idle() > 0 || self.pool.size() < self.pool.options().get_max_connections()
    }

    /// Gives every kept connection back to the pool and keeps none from now on.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Release);
        let kept = self.kept.lock().map(|mut kept| std::mem::take(&mut *kept));
        drop(kept);
    }

    /// Gives back what waited longer than [`KEEP_FOR`], or everything when the pool is
    /// full with none idle (a statement may be queued there). Whether anything is left.
    fn give_back_stale(&self) -> bool {
        let everything = !self.has_room();
        let (given_back, left): (Vec<Kept>, bool) = match self.kept.lock() {
            Ok(mut kept) => {
                let stale = if everything {
                    kept.len()
                } else {
                    kept.partition_point(|kept| kept.since.elapsed() > KEEP_FOR)
                };
                (kept.drain(..stale).collect(), !kept.is_empty())
            }
            Err(_) => (Vec::new(), false),
        };
        // Dropped outside the lock: each goes back to the pool through sqlx's own path.
        drop(given_back);
        left
    }
}

impl Drop for WarmConnections {
    fn drop(&mut self) {
        // Lets the task see the keep is gone and end.
        self.wake.notify_one();
    }
}

async fn give_back(warm: Weak<WarmConnections>, wake: Arc<Notify>) {
    loop {
        wake.notified().await;
        loop {
            tokio::time::sleep(KEEP_FOR).await;
            let Some(warm) = warm.upgrade() else { return };
            if !warm.give_back_stale() {
                break;
            }
        }
        if warm.strong_count() == 0 {
            return;
        }
    }
}
