//! Reading request bodies that are buffered whole (GraphQL's JSON, fediverse activities)
//! within bounds: a size limit, a time limit, and pools that bound what all bodies being
//! read at once, and one client's, may hold. Small bodies are not charged to the pools:
//! large bodies trickled from a few addresses would otherwise fill them and have every
//! other client's few-hundred-byte query refused.

use std::time::Duration;

use async_graphql::futures_util::TryStreamExt;
use axum::body::Body;
use gazette_store::{BudgetExceeded, ReadBudget};

/// The part of each body that is never charged to the pools: what a query, a mutation
/// or an activity usually takes. Each connection may hold this much in any case, and
/// connections are capped per address (`crate::listener`).
pub const UNCHARGED_BYTES: usize = 64 * 1024;

/// How long a body may take to arrive: less than the request timeout (30 s), so that the
/// handler itself answers, and can count the refusal.
pub const READ_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyRefused {
    /// Longer than the limit.
    TooLarge,
    /// The pools are full: bodies of others (or of this client) are being read.
    Busy,
    /// Not whole within [`READ_TIMEOUT`].
    TimedOut,
    /// The connection broke or the framing was wrong.
    Broken,
}

/// The body's bytes, at most `limit` of them; what goes past [`UNCHARGED_BYTES`] is
/// charged to `pools` (a budget over the process's and the client's pools) as it arrives.
pub async fn read(body: Body, limit: usize, pools: &ReadBudget) -> Result<Vec<u8>, BodyRefused> {
    let reading = async {
        let mut chunks = std::pin::pin!(body.into_data_stream());
        let mut bytes = Vec::new();
        while let Some(chunk) = chunks.try_next().await.map_err(|_| BodyRefused::Broken)? {
            let total = bytes.len() + chunk.len();
            if total > limit {
                return Err(BodyRefused::TooLarge);
            }
            let charged = total.saturating_sub(UNCHARGED_BYTES.max(bytes.len()));
            match pools.charge_built(charged) {
                Ok(()) => bytes.extend_from_slice(&chunk),
                Err(BudgetExceeded::Answer { .. }) => return Err(BodyRefused::TooLarge),
                Err(BudgetExceeded::Pool { .. }) => return Err(BodyRefused::Busy),
            }
        }
        Ok(bytes)
    };
    tokio::time::timeout(READ_TIMEOUT, reading)
        .await
        .unwrap_or(Err(BodyRefused::TimedOut))
}
