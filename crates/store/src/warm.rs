//! Connections a read gave back clean, kept a moment for the next read.
//!
//! sqlx pings every connection that goes back to its pool, from a task it spawns: a round
//! trip to PostgreSQL and a wake-up on both sides, per request. On a post page that was a
//! tenth of the request's CPU, server and PostgreSQL together (docs/benchmarks.md). The
//! compiled read path gives its connection here instead when every statement on it ran to
//! the end, so nothing of a statement can be left on it, and the next read takes it
//! without the round trip. A connection whose read failed or was cancelled goes back to
//! the pool as before, and is pinged there.
//!
//! Kept connections count as taken in the pool, so few are kept and not for long: at most
//! half the pool, only while the pool could still hand out a connection at once (an idle
//! one, or room to open one: a statement waiting for one is never held up by ours), and
//! for at most [`KEEP_FOR`], the idle time after which the pool pings a connection before
//! handing it out: one kept through a database restart is older than that and goes back
//! to the pool, which finds it broken.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{PgPool, Postgres};

/// How long a connection is kept unused: the pool's own idle limit before it pings.
const KEEP_FOR: Duration = crate::database::PING_AFTER_IDLE;

/// A pool and the clean connections kept beside it.
#[derive(Debug)]
pub struct WarmConnections {
    pool: PgPool,
    kept: Mutex<Vec<Kept>>,
    capacity: usize,
    /// Set when the database closes: closing waits for every connection to come back.
    closing: AtomicBool,
}

#[derive(Debug)]
struct Kept {
    connection: PoolConnection<Postgres>,
    since: Instant,
}

impl WarmConnections {
    /// Keeps up to half of `pool`'s connections; a task gives back what waits longer than
    /// [`KEEP_FOR`] (it ends with the last handle).
    pub fn new(pool: PgPool) -> Arc<Self> {
        let capacity = (pool.options().get_max_connections() / 2) as usize;
        let warm = Arc::new(Self {
            pool,
            kept: Mutex::new(Vec::new()),
            capacity,
            closing: AtomicBool::new(false),
        });
        if capacity > 0 {
            tokio::spawn(give_back_stale(Arc::downgrade(&warm)));
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
            // The newest kept is stale: so are the others, which the sweep gives back.
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
        // Kept only while another caller could still have a connection at once.
        let room = self.pool.num_idle() > 0
            || self.pool.size() < self.pool.options().get_max_connections();
        if self.closing.load(Ordering::Acquire) || !room {
            return;
        }
        if let Ok(mut kept) = self.kept.lock()
            && kept.len() < self.capacity
        {
            kept.push(Kept {
                connection,
                since: Instant::now(),
            });
        }
    }

    /// Gives every kept connection back to the pool and keeps none from now on.
    pub fn close(&self) {
        self.closing.store(true, Ordering::Release);
        let kept = self.kept.lock().map(|mut kept| std::mem::take(&mut *kept));
        drop(kept);
    }

    fn give_back_stale(&self) {
        let stale: Vec<Kept> = match self.kept.lock() {
            Ok(mut kept) => {
                let fresh = kept.partition_point(|kept| kept.since.elapsed() > KEEP_FOR);
                kept.drain(..fresh).collect()
            }
            Err(_) => Vec::new(),
        };
        // Dropped outside the lock: each goes back to the pool through sqlx's own path.
        drop(stale);
    }
}

async fn give_back_stale(warm: Weak<WarmConnections>) {
    let mut ticks = tokio::time::interval(KEEP_FOR);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(warm) = warm.upgrade() else { return };
        warm.give_back_stale();
    }
}
