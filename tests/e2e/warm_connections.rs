//! The connections the compiled read path keeps beside the pool (`store::warm`): the next
//! read takes the one kept last, none is kept when the pool could not hand out another
//! at once, and none outlives its idle limit or the pool's closing; a full pool's clean
//! connection goes straight to a waiting read, a bounded number of times in a row. On a
//! real PostgreSQL; which backend a connection is, is PostgreSQL's own `pg_backend_pid()`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gazette_store::testing::TestDatabase;
use gazette_store::{HAND_ON_AT_MOST, PgPool, WarmConnection, WarmConnections};
use sqlx::postgres::PgPoolOptions;

/// A pool that gives up on a connection after a second, as a replica's does.
async fn pool_of(database: &TestDatabase, max_connections: u32) -> PgPool {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(1))
        .connect_with(database.options().clone())
        .await
        .expect("connect to the test database")
}

/// A fresh database, a pool of `max_connections` on it, and the keep beside that pool.
async fn warm_pool(max_connections: u32) -> (TestDatabase, PgPool, Arc<WarmConnections>) {
    let database = TestDatabase::create().await;
    let pool = pool_of(&database, max_connections).await;
    let warm = WarmConnections::new(pool.clone(), 0);
    (database, pool, warm)
}

/// [`warm_pool`] with one connection taken and kept (the pool has room for it).
async fn one_kept(max_connections: u32) -> (TestDatabase, PgPool, Arc<WarmConnections>) {
    let (database, pool, warm) = warm_pool(max_connections).await;
    let connection = warm.take().await.expect("take");
    warm.keep(connection);
    assert_eq!(warm.kept(), 1);
    (database, pool, warm)
}

async fn backend(connection: &mut WarmConnection) -> i32 {
    sqlx::query_scalar("select pg_backend_pid()")
        .fetch_one(&mut **connection)
        .await
        .expect("pg_backend_pid")
}

/// Waits (at most ten seconds) until `done` holds.
async fn until(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within ten seconds");
}

#[tokio::test]
async fn the_connection_kept_last_is_the_next_one_taken() {
    let (_database, pool, warm) = warm_pool(4).await;
    let mut first = warm.take().await.expect("take");
    let first_backend = backend(&mut first).await;
    warm.keep(first);
    assert_eq!(warm.kept(), 1);
    let mut again = warm.take().await.expect("take again");
    assert_eq!(backend(&mut again).await, first_backend);
    assert_eq!(warm.kept(), 0);

    // At most half the pool is kept.
    let mut taken = Vec::new();
    for _ in 0..3 {
        taken.push(warm.take().await.expect("take"));
    }
    drop(again);
    until("the fourth connection is idle in the pool", || {
        pool.num_idle() == 1
    })
    .await;
    for connection in taken {
        warm.keep(connection);
    }
    assert_eq!(warm.kept(), 2, "half of a pool of 4");
}

#[tokio::test]
async fn none_is_kept_when_the_pool_could_not_hand_out_another() {
    let (_database, pool, warm) = warm_pool(2).await;
    let first = warm.take().await.expect("take");
    let second = warm.take().await.expect("take");
    assert_eq!(pool.size(), 2);
    assert_eq!(pool.num_idle(), 0);
    // The pool is full and nothing in it is idle: a statement asking now would wait, so
    // the connection goes back to the pool for it.
    warm.keep(first);
    assert_eq!(warm.kept(), 0);
    until("the connection is back in the pool", || {
        pool.num_idle() == 1
    })
    .await;
    drop(second);
}

#[tokio::test]
async fn a_statement_queued_at_a_pool_that_filled_up_gets_the_kept_connection() {
    // Both connections open first, one idle in the pool: filling the pool below then takes
    // no connect, which on a busy machine outlasted the keep's 10 ms.
    let (_database, pool, warm) = warm_pool(2).await;
    let first = warm.take().await.expect("take");
    drop(pool.acquire().await.expect("the pool opens its second"));
    until("the second is idle in the pool", || pool.num_idle() == 1).await;
    // Kept while the pool has an idle connection to hand out.
    warm.keep(first);
    assert_eq!(warm.kept(), 1);
    // Then the pool fills up: the kept connection is the only one a statement could have.
    let _second = pool
        .acquire()
        .await
        .expect("the pool hands out its idle one");
    assert_eq!(pool.size(), 2);
    // Still kept, or already given back if the machine stalled for the keep's 10 ms.
    assert_eq!(warm.kept() + pool.num_idle(), 1);
    let queued = pool
        .acquire()
        .await
        .expect("the kept connection goes back to the pool before the second's timeout");
    assert_eq!(warm.kept(), 0);
    drop(queued);
}

#[tokio::test]
async fn kept_connections_go_back_after_their_idle_limit_and_when_the_pool_closes() {
    let (database, pool, warm) = one_kept(4).await;
    // Unused for a moment, it is given back.
    until("the stale connection is given back", || warm.kept() == 0).await;
    until("and is idle in the pool", || pool.num_idle() == 1).await;

    let connection = warm.take().await.expect("take");
    warm.keep(connection);
    assert_eq!(warm.kept(), 1);
    // Closing a pool waits for every connection: the kept one must come back first.
    warm.close();
    assert_eq!(warm.kept(), 0);
    tokio::time::timeout(Duration::from_secs(10), pool.close())
        .await
        .expect("the pool closes with nothing kept");
    let after_close = pool_of(&database, 4).await;
    let warm = WarmConnections::new(after_close, 0);
    warm.close();
    let connection = warm.take().await.expect("take");
    warm.keep(connection);
    assert_eq!(warm.kept(), 0, "nothing is kept once closing began");
}

#[tokio::test]
async fn a_full_pool_hands_a_clean_connection_to_a_waiting_read_a_bounded_number_of_times() {
    let database = TestDatabase::create().await;
    // Every connection that goes back through the pool (and is pinged there) is counted.
    let returned = Arc::new(AtomicUsize::new(0));
    let counted = returned.clone();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .after_release(move |_, _| {
            counted.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Ok(true) })
        })
        .connect_with(database.options().clone())
        .await
        .expect("connect to the test database");
    let warm = WarmConnections::new(pool.clone(), 0);
    let mut holding = warm.take().await.expect("take the pool's one connection");
    let first_backend = backend(&mut holding).await;

    for handed in 1..=u32::from(HAND_ON_AT_MOST) + 1 {
        // The pool is full: the next read waits, at the pool and for a read to finish.
        let waiter = {
            let warm = warm.clone();
            tokio::spawn(async move { warm.take().await })
        };
        until("the read waits for a connection", || warm.waiting() == 1).await;
        warm.keep(holding);
        holding = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("the waiting read gets the connection")
            .expect("the read's task")
            .expect("a connection");
        assert_eq!(backend(&mut holding).await, first_backend);
        let through_the_pool = returned.load(Ordering::SeqCst);
        if handed <= u32::from(HAND_ON_AT_MOST) {
            assert_eq!(
                through_the_pool, 0,
                "hand-off {handed} went straight to the read"
            );
        } else {
            // Once handed on that many times it goes back through the pool's queue,
            // where a statement waiting there has its turn.
            assert_eq!(
                through_the_pool, 1,
                "hand-off {handed} went through the pool"
            );
        }
    }
    assert_eq!(warm.waiting(), 0);
    drop(holding);
    until("the connection is back in the pool", || {
        pool.num_idle() == 1
    })
    .await;
}
