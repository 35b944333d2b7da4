//! The bookkeeping both delivery tables share: `webhook_deliveries` and
//! `federation_deliveries` have the same status, lease, attempt and last-answer columns,
//! so a delivery is handed back, delivered or failed by the same statements on either.

use sqlx::PgExecutor;

use crate::error::StoreError;

/// A table of deliveries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DeliveryTable {
    Webhooks,
    Federation,
}

impl DeliveryTable {
    fn name(self) -> &'static str {
        match self {
            Self::Webhooks => "webhook_deliveries",
            Self::Federation => "federation_deliveries",
        }
    }

    /// Marks delivery `$1` delivered with response code `$2`; `returning` is appended (so
    /// a caller can update what the delivery belongs to in the same statement). Only a
    /// pending delivery: one given up while its attempt was under way (its receiver
    /// blocked, its endpoint removed) stays given up.
    pub(crate) fn delivered(self, returning: &str) -> String {
        format!(
            "update {} set status = 'delivered', delivered_at = now(), leased_until = null, \
             last_response_code = $2, last_error = null \
             where id = $1 and status = 'pending' {returning}",
            self.name()
        )
    }

    /// Marks delivery `$1`'s attempt failed with response code `$2` and error `$3`: due
    /// again at `$4`, or given up when `$4` is null. Only a pending delivery, as above: a
    /// failed attempt must not bring a given-up delivery back to be tried again.
    pub(crate) fn failed(self, returning: &str) -> String {
        format!(
            "update {} set \
                 status = case when $4::timestamptz is null then 'failed' else 'pending' end, \
                 next_attempt_at = coalesce($4, next_attempt_at), leased_until = null, \
                 last_response_code = $2, last_error = $3 \
             where id = $1 and status = 'pending' {returning}",
            self.name()
        )
    }

    /// Gives claimed deliveries back untried: due again at once, the attempt not counted.
    pub(crate) async fn hand_back(
        self,
        exec: impl PgExecutor<'_>,
        ids: &[i64],
    ) -> Result<(), StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "update {} set leased_until = null, attempts = attempts - 1 \
             where id = any($1) and status = 'pending'",
            self.name()
        )))
        .bind(ids)
        .execute(exec)
        .await?;
        Ok(())
    }
}

/// What a failed attempt records: an error kept to its first 1,000 characters.
pub(crate) fn failure_text(error: &str) -> String {
    error.chars().take(1000).collect()
}
