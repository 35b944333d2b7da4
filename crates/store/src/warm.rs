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
//!
//! When the pool is full, a read that finishes hands its clean connection straight to a
//! read waiting for one here (which waits at the pool too, whichever comes first), again
//! without the round trip. So that a statement queued at the pool (a resolver's, a
//! write's) is not passed over for ever, a connection is handed on at most
//! [`HAND_ON_AT_MOST`] times in a row, then goes back through the pool's queue.

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;

use crate::batches::{FirstPostPage, PostPageBatches};
use crate::budget::ReadBudget;
use crate::comments::Comment;
use crate::error::StoreError;
use crate::posts::{Post, PostKey};
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::{Notify, oneshot};

/// How long a connection is kept unused before the task gives it back (it looks every
/// `KEEP_FOR` while anything is kept, so nothing is kept for twice that).
const KEEP_FOR: Duration = Duration::from_millis(10);

/// How many times in a row a connection goes from one read to another waiting here,
/// before it goes back through the pool: a statement queued there waits for at most
/// this many reads more on each connection. A post page's read takes about a millisecond
/// under load, so that is a few milliseconds on the first of the pool's connections to
/// come back; eight instead cost q2r 3% more CPU per request in pings (docs/benchmarks.md).
pub const HAND_ON_AT_MOST: u8 = 32;

/// A connection taken from the keep, the pool or another read.
#[derive(Debug)]
pub struct WarmConnection {
    connection: PoolConnection<Postgres>,
    /// How many times it went from one read to another since it left the pool.
    handed_on: u8,
}

impl Deref for WarmConnection {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.connection
    }
}

impl DerefMut for WarmConnection {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.connection
    }
}

/// A pool and the clean connections kept beside it.
#[derive(Debug)]
pub struct WarmConnections {
    pool: PgPool,
    kept: Mutex<Vec<Kept>>,
    /// Reads waiting for a connection while the pool is full, first come first served.
    waiting: Mutex<VecDeque<oneshot::Sender<WarmConnection>>>,
    capacity: usize,
    /// Set when the database closes: closing waits for every connection to come back.
    closing: AtomicBool,
    /// Wakes the task that gives connections back: something was kept, or the keep is
    /// dropped.
    wake: Arc<Notify>,
    /// Post pages of requests arriving together, read in shared statements.
    post_pages: PostPageBatches,
}

#[derive(Debug)]
struct Kept {
    connection: WarmConnection,
    since: Instant,
}

impl WarmConnections {
    /// Keeps up to half of `pool`'s connections, with a task that gives them back (it
    /// sleeps while nothing is kept, and ends with the keep); runs at most
    /// `post_page_statements` statements of post pages of a shape at once (`0`: one per
    /// page, see [`WarmConnections::post_page`]).
    pub fn new(pool: PgPool, post_page_statements: usize) -> Arc<Self> {
        let capacity = (pool.options().get_max_connections() / 2) as usize;
        let warm = Arc::new(Self {
            pool,
            kept: Mutex::new(Vec::new()),
            waiting: Mutex::new(VecDeque::new()),
            capacity,
            closing: AtomicBool::new(false),
            wake: Arc::new(Notify::new()),
            post_pages: PostPageBatches::new(post_page_statements),
        });
        if capacity > 0 {
            tokio::spawn(give_back(Arc::downgrade(&warm), warm.wake.clone()));
        }
        warm
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// How many post page reads wait for the next shared statement of their shape.
    pub fn post_pages_waiting(&self) -> usize {
        self.post_pages.waiting()
    }

    /// Whether post pages are read in statements shared by the requests arriving
    /// together ([`WarmConnections::post_page`]).
    pub fn shares_post_pages(&self) -> bool {
        self.post_pages.at_once() > 0
    }

    /// The post `key` names and the first page of its thread, charged to `budget`: read
    /// in one statement with the pages of the same shape other requests wait for, on a
    /// connection of this pool (see `batches`). `None` when the reader does not see it.
    pub async fn post_page(
        &self,
        key: PostKey<'_>,
        page: FirstPostPage,
        budget: &ReadBudget,
    ) -> Result<Option<(Post, Vec<Comment>)>, StoreError> {
        self.post_pages.read(self, key, page, budget).await
    }

    /// The connection kept last, if it has not waited too long; else one from the pool,
    /// or, when the pool is full, from whichever comes first: the pool or a read that
    /// finishes.
    pub async fn take(&self) -> Result<WarmConnection, sqlx::Error> {
        let kept = self.kept.lock().ok().and_then(|mut kept| kept.pop());
        match kept {
            Some(kept) if kept.since.elapsed() <= KEEP_FOR => return Ok(kept.connection),
            // The newest kept is stale: so are the others, which the task gives back.
            stale => drop(stale),
        }
        if self.has_room() {
            return self.acquire().await;
        }
        let (handing, handed) = oneshot::channel();
        let in_line = self
            .waiting
            .lock()
            .map(|mut waiting| {
                // Reads the pool served first leave their places behind.
                waiting.retain(|waiter| !waiter.is_closed());
                waiting.push_back(handing);
            })
            // A poisoned lock's error holds its guard, which must not live across an await.
            .is_ok();
        if !in_line {
            return self.acquire().await;
        }
        tokio::select! {
            biased;
            Ok(connection) = handed => Ok(connection),
            // A connection handed on while this one came from the pool goes back to the
            // pool with the dropped receiver, pinged there.
            acquired = self.acquire() => acquired,
        }
    }

    async fn acquire(&self) -> Result<WarmConnection, sqlx::Error> {
        let connection = self.pool.acquire().await?;
        Ok(WarmConnection {
            connection,
            handed_on: 0,
        })
    }

    /// How many connections are kept now (idle, though the pool counts them as taken).
    pub fn kept(&self) -> usize {
        self.kept.lock().map_or(0, |kept| kept.len())
    }

    /// How many reads wait here for a connection.
    pub fn waiting(&self) -> usize {
        self.waiting.lock().map_or(0, |waiting| {
            waiting.iter().filter(|waiter| !waiter.is_closed()).count()
        })
    }

    /// Takes back a connection whose statements all ran to the end: it goes to the read
    /// that has waited longest here, else into the keep, else back to the pool.
    pub fn keep(&self, connection: WarmConnection) {
        let Some(connection) = self.hand_on(connection) else {
            return;
        };
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

    /// Gives `connection` to the read that has waited longest here; back if none is
    /// waiting or it was handed on [`HAND_ON_AT_MOST`] times already.
    fn hand_on(&self, mut connection: WarmConnection) -> Option<WarmConnection> {
        if connection.handed_on >= HAND_ON_AT_MOST || self.closing.load(Ordering::Acquire) {
            return Some(connection);
        }
        connection.handed_on += 1;
        let Ok(mut waiting) = self.waiting.lock() else {
            return Some(connection);
        };
        while let Some(waiter) = waiting.pop_front() {
            // A waiter the pool served first has dropped its end and refuses it.
            match waiter.send(connection) {
                Ok(()) => return None,
                Err(refused) => connection = refused,
            }
        }
        connection.handed_on -= 1;
        Some(connection)
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
