//! How much text one answer may bring into memory, counted while it is read: a query
//! charges each row's text as the row arrives and stops at the first row past the budget,
//! instead of collecting every row a statement returns and looking at the size afterwards.
//! The API gives every GraphQL execution its own budget, under a process-wide pool (so
//! sixteen executions at once cannot each take their whole allowance) and under its
//! client's share of that pool (so one client cannot take all of it); the worker and the
//! pages read with [`ReadBudget::unlimited`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use futures_util::{Stream, TryStreamExt};

/// Why a charge was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BudgetExceeded {
    /// This answer needs more than its own limit.
    #[error("the answer needs more than {limit} bytes")]
    Answer { limit: usize },
    /// Answers being built at once hold the whole process-wide pool.
    #[error("answers being built hold {limit} bytes already")]
    Pool { limit: usize },
}

/// How many times an answer's limit its reads may load.
pub const LOADED_PER_BUILT: usize = 4;

/// Bytes shared by every budget of a process.
#[derive(Debug)]
pub struct BudgetPool {
    limit: usize,
    held: AtomicUsize,
}

impl BudgetPool {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Self {
            limit,
            held: AtomicUsize::new(0),
        })
    }

    /// Bytes held now by the budgets alive.
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// Bytes the pool may hold.
    pub fn limit(&self) -> usize {
        self.limit
    }

    fn take(&self, bytes: usize) -> Result<(), BudgetExceeded> {
        let before = self.held.fetch_add(bytes, Ordering::AcqRel);
        if before.saturating_add(bytes) > self.limit {
            self.held.fetch_sub(bytes, Ordering::AcqRel);
            return Err(BudgetExceeded::Pool { limit: self.limit });
        }
        Ok(())
    }

    fn give_back(&self, bytes: usize) {
        self.held.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// One answer's allowance: what its resolvers build (values) is counted against `limit`,
/// what its reads load (rows) against [`LOADED_PER_BUILT`] times as much, since rows carry
/// columns an answer may not show (a post's body when only its title is asked for). Both
/// count in the pool until the budget drops.
#[derive(Debug)]
pub struct ReadBudget {
    limit: usize,
    loaded: AtomicUsize,
    built: AtomicUsize,
    /// The first refused charge's reason: nothing more is read or built for this answer,
    /// and every later charge is refused for that reason (a full pool is not this
    /// answer's size, and must not be reported as it).
    refused: OnceLock<BudgetExceeded>,
    /// The process's pool, then the client's share of it.
    pools: Vec<Arc<BudgetPool>>,
}

impl ReadBudget {
    /// `limit` bytes built and four times as many loaded, drawn from every one of `pools`
    /// (the process's, a client's share).
    pub fn new(limit: usize, pools: Vec<Arc<BudgetPool>>) -> Self {
        Self {
            limit,
            loaded: AtomicUsize::new(0),
            built: AtomicUsize::new(0),
            refused: OnceLock::new(),
            pools,
        }
    }

    /// No limit: reads that are not answers to a client (the worker, the pages, which are
    /// bounded by their own page sizes).
    pub fn unlimited() -> Self {
        Self {
            limit: usize::MAX,
            loaded: AtomicUsize::new(0),
            built: AtomicUsize::new(0),
            refused: OnceLock::new(),
            pools: Vec::new(),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Whether a charge was refused: the answer will not be given.
    pub fn is_exceeded(&self) -> bool {
        self.refused.get().is_some()
    }

    /// Refuses at once when an earlier charge was refused (no more reads for this answer).
    pub fn check(&self) -> Result<(), BudgetExceeded> {
        match self.refused.get() {
            Some(refusal) => Err(*refusal),
            None => Ok(()),
        }
    }

    /// Counts `bytes` of rows read from the database.
    pub fn charge_loaded(&self, bytes: usize) -> Result<(), BudgetExceeded> {
        self.charge(
            &self.loaded,
            self.limit.saturating_mul(LOADED_PER_BUILT),
            bytes,
        )
    }

    /// Counts `bytes` of text an answer's resolvers put in the answer.
    pub fn charge_built(&self, bytes: usize) -> Result<(), BudgetExceeded> {
        self.charge(&self.built, self.limit, bytes)
    }

    fn charge(
        &self,
        counter: &AtomicUsize,
        limit: usize,
        bytes: usize,
    ) -> Result<(), BudgetExceeded> {
        self.check()?;
        let before = counter.fetch_add(bytes, Ordering::AcqRel);
        let refused = if before.saturating_add(bytes) > limit {
            Some(BudgetExceeded::Answer { limit: self.limit })
        } else {
            self.take_from_pools(bytes).err()
        };
        match refused {
            Some(refusal) => {
                // Not held in the pool: only what was taken is given back on drop.
                counter.fetch_sub(bytes, Ordering::AcqRel);
                // The first reason stays: resolvers running at once may each be refused.
                let _ = self.refused.set(refusal);
                Err(refusal)
            }
            None => Ok(()),
        }
    }

    /// Takes `bytes` from every pool, or from none.
    fn take_from_pools(&self, bytes: usize) -> Result<(), BudgetExceeded> {
        for (taken, pool) in self.pools.iter().enumerate() {
            if let Err(refusal) = pool.take(bytes) {
                for earlier in &self.pools[..taken] {
                    earlier.give_back(bytes);
                }
                return Err(refusal);
            }
        }
        Ok(())
    }

    /// Collects a statement's rows, charging each as it arrives; stops reading at the first
    /// row past the budget.
    pub(crate) async fn collect<T, S>(&self, rows: S) -> Result<Vec<T>, crate::StoreError>
    where
        T: TextBytes,
        S: Stream<Item = Result<T, sqlx::Error>>,
    {
        self.check()?;
        let mut rows = std::pin::pin!(rows);
        let mut collected = Vec::new();
        while let Some(row) = rows.try_next().await? {
            self.charge_loaded(row.text_bytes())?;
            collected.push(row);
        }
        Ok(collected)
    }
}

impl Drop for ReadBudget {
    fn drop(&mut self) {
        let held = *self.loaded.get_mut() + *self.built.get_mut();
        for pool in &self.pools {
            pool.give_back(held);
        }
    }
}

/// The text a row holds, as a read charges it.
pub trait TextBytes {
    fn text_bytes(&self) -> usize;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_stop_at_the_limit_and_the_pool_is_given_back() {
        let pool = BudgetPool::new(300);
        let budget = ReadBudget::new(60, vec![pool.clone()]);
        assert!(
            budget.charge_loaded(200).is_ok(),
            "rows may take four times the limit"
        );
        assert!(budget.charge_built(60).is_ok());
        assert_eq!(pool.held(), 260);
        let other = ReadBudget::new(60, vec![pool.clone()]);
        assert_eq!(
            other.charge_loaded(50),
            Err(BudgetExceeded::Pool { limit: 300 })
        );
        assert!(other.is_exceeded());
        // Later reads of that answer are refused for the same reason: the pool was full,
        // the answer itself was not too large.
        assert_eq!(other.check(), Err(BudgetExceeded::Pool { limit: 300 }));
        assert_eq!(
            other.charge_built(1),
            Err(BudgetExceeded::Pool { limit: 300 })
        );
        assert_eq!(
            budget.charge_built(1),
            Err(BudgetExceeded::Answer { limit: 60 })
        );
        assert!(budget.check().is_err(), "nothing more after a refusal");
        drop(budget);
        drop(other);
        assert_eq!(pool.held(), 0);
    }

    #[test]
    fn a_clients_share_bounds_it_within_the_pool() {
        let pool = BudgetPool::new(300);
        let (share, other_share) = (BudgetPool::new(150), BudgetPool::new(150));
        let first = ReadBudget::new(100, vec![pool.clone(), share.clone()]);
        assert!(first.charge_loaded(140).is_ok());
        let second = ReadBudget::new(100, vec![pool.clone(), share.clone()]);
        assert_eq!(
            second.charge_loaded(20),
            Err(BudgetExceeded::Pool { limit: 150 }),
            "the client's share is full"
        );
        assert_eq!(pool.held(), 140, "nothing of the refused charge is held");
        let another_client = ReadBudget::new(100, vec![pool.clone(), other_share.clone()]);
        assert!(another_client.charge_loaded(140).is_ok());
        drop((first, second, another_client));
        assert_eq!((pool.held(), share.held(), other_share.held()), (0, 0, 0));
    }
}
