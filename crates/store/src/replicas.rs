//! Read replicas (`--database-read-url`): streaming standbys of the primary that answer
//! reads, so reading scales past one server. Writes, and every read that must see them
//! (a mutation's own answer, moderation, rate limits, idempotency, LISTEN/NOTIFY), stay on
//! the primary; [`Reads`] is for the rest.
//!
//! A replica is used while it answers: a watcher asks each one every second, and a read a
//! replica fails to answer (it went away between two checks) is asked again of the primary
//! and takes the replica out until the watcher sees it back. When none answers, the primary
//! answers everything.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgConnectOptions;

use crate::config::{Session, redact_url};
use crate::error::StoreError;
use crate::warm::WarmConnections;

/// How often the watcher asks each replica whether it answers.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// A replica slower than this to give a connection is treated as gone for this read (the
/// primary answers it); short, because the primary could have answered meanwhile.
const REPLICA_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(1);

/// The configured replicas and which of them answer now.
#[derive(Debug, Clone, Default)]
pub struct ReadReplicas(Arc<[Replica]>);

#[derive(Debug)]
struct Replica {
    pool: PgPool,
    warm: Arc<WarmConnections>,
    /// The URL without its password, for logs.
    name: String,
    answering: AtomicBool,
}

/// Where reads go: a replica that answers, else the primary.
#[derive(Debug, Clone)]
pub struct Reads {
    /// The primary's pool, with the connections kept for the reads that take one
    /// themselves.
    primary: Arc<WarmConnections>,
    replicas: ReadReplicas,
    next: Arc<AtomicUsize>,
}

impl ReadReplicas {
    /// Pools on each URL, connected lazily: a replica that is down at start is used once it
    /// answers. Malformed URLs are refused here.
    pub async fn connect(
        urls: &[String],
        max_connections: u32,
        session: Session,
        post_page_statements: usize,
    ) -> Result<Self, StoreError> {
        let mut replicas = Vec::with_capacity(urls.len());
        for url in urls {
            let name = redact_url(url);
            let options: PgConnectOptions = url.parse().map_err(|source| StoreError::Connect {
                url: name.clone(),
                source,
            })?;
            let options = crate::database::with_session(options, session);
            let pool = crate::database::pool_options(max_connections)
                .acquire_timeout(REPLICA_ACQUIRE_TIMEOUT)
                .connect_lazy_with(options);
            replicas.push(Replica {
                warm: WarmConnections::new(pool.clone(), post_page_statements),
                pool,
                name,
                answering: AtomicBool::new(false),
            });
        }
        let replicas = Self(replicas.into());
        replicas.check_all().await;
        Ok(replicas)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// How many replicas answer now.
    pub fn answering(&self) -> usize {
        self.0
            .iter()
            .filter(|replica| replica.answering.load(Ordering::Relaxed))
            .count()
    }

    /// Each replica's pool with its kept connections, for the metrics.
    pub fn pools(&self) -> impl Iterator<Item = &WarmConnections> {
        self.0.iter().map(|replica| &*replica.warm)
    }

    /// Closes every replica's pool, with the connections kept beside it.
    pub async fn close(&self) {
        for replica in self.0.iter() {
            replica.warm.close();
            replica.pool.close().await;
        }
    }

    /// Asks every replica, every second, until the process ends: a replica is used while it
    /// answers, and again once it is back.
    pub fn watch(&self) {
        if self.is_empty() {
            return;
        }
        let replicas = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(CHECK_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if replicas.0.iter().all(|replica| replica.pool.is_closed()) {
                    return;
                }
                replicas.check_all().await;
            }
        });
    }

    async fn check_all(&self) {
        let checks = self.0.iter().map(|replica| async move {
            let answered = tokio::time::timeout(CHECK_EVERY * 2, is_standby(&replica.pool)).await;
            let answering = match answered {
                Ok(Ok(true)) => true,
                Ok(Ok(false)) => {
                    // A promoted replica is a primary of its own: writes there would fork
                    // the data, and reads from it no longer follow ours.
                    tracing::warn!(replica = %replica.name, "the read replica is not in recovery (promoted?); not reading from it");
                    false
                }
                Ok(Err(_)) | Err(_) => false,
            };
            let was = replica.answering.swap(answering, Ordering::Relaxed);
            match (was, answering) {
                (false, true) => {
                    tracing::info!(replica = %replica.name, "reading from the replica")
                }
                (true, false) => {
                    tracing::warn!(replica = %replica.name, "the read replica does not answer; the primary takes its reads")
                }
                _ => {}
            }
        });
        // One after another: few replicas, each check bounded by its timeout.
        for check in checks {
            check.await;
        }
    }
}

async fn is_standby(pool: &PgPool) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select pg_is_in_recovery()")
        .fetch_one(pool)
        .await
}

impl Reads {
    pub fn new(primary: Arc<WarmConnections>, replicas: ReadReplicas) -> Self {
        Self {
            primary,
            replicas,
            next: Arc::default(),
        }
    }

    /// Reads on the primary only, `post_page_statements` as [`WarmConnections::new`] takes it.
    pub fn primary_only(primary: PgPool, post_page_statements: usize) -> Self {
        Self::new(
            WarmConnections::new(primary, post_page_statements),
            ReadReplicas::default(),
        )
    }

    pub fn primary(&self) -> &PgPool {
        self.primary.pool()
    }

    /// The primary's pool with its kept connections.
    pub fn primary_warm(&self) -> &Arc<WarmConnections> {
        &self.primary
    }

    pub fn replicas(&self) -> &ReadReplicas {
        &self.replicas
    }

    /// A replica that answers (in turn, when several do), if any.
    pub fn replica(&self) -> Option<ReplicaPool> {
        let replicas = &self.replicas.0;
        if replicas.is_empty() {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..replicas.len())
            .map(|offset| (start + offset) % replicas.len())
            .find(|&index| replicas[index].answering.load(Ordering::Relaxed))
            .map(|index| ReplicaPool {
                pool: replicas[index].pool.clone(),
                warm: replicas[index].warm.clone(),
                index,
            })
    }

    /// Takes `replica` out after it failed to answer a read; the watcher puts it back.
    pub fn failed(&self, replica: &ReplicaPool, reason: &str) {
        if let Some(failed) = self.replicas.0.get(replica.index)
            && failed.answering.swap(false, Ordering::Relaxed)
        {
            tracing::warn!(replica = %failed.name, reason, "a read replica failed to answer; the primary takes its reads");
        }
    }

    /// Runs `read` on a replica that answers, or on the primary when none does or the one
    /// asked fails to answer (then `fell_back` is called, for the metrics). A read whose own
    /// statement fails is not repeated.
    pub async fn run<T, Read>(
        &self,
        read: impl Fn(PgPool) -> Read,
        fell_back: impl Fn(),
    ) -> Result<T, StoreError>
    where
        Read: Future<Output = Result<T, StoreError>>,
    {
        if let Some(replica) = self.replica() {
            match read(replica.pool.clone()).await {
                Err(error) if error.is_unavailable() => {
                    self.failed(&replica, &crate::display_chain(&error));
                    fell_back();
                }
                done => return done,
            }
        } else if !self.replicas.is_empty() {
            fell_back();
        }
        read(self.primary.pool().clone()).await
    }
}

/// A replica chosen for one read.
#[derive(Debug, Clone)]
pub struct ReplicaPool {
    pub pool: PgPool,
    /// Its kept connections, for the reads that take one themselves.
    pub warm: Arc<WarmConnections>,
    index: usize,
}
