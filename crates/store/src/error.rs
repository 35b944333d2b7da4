use crate::embedded::EmbeddedError;

/// Everything the data layer can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),

    #[error("cannot connect to the database at {url}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },

    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// A named constraint a user can trip (duplicate slug, missing parent…).
    #[error("constraint {constraint} violated")]
    Constraint { constraint: String },

    /// Making a random secret failed.
    #[error("secret unavailable: {0}")]
    Secret(String),

    /// A statement ran past the statement timeout and PostgreSQL cancelled it.
    #[error("a database statement ran past the statement timeout")]
    StatementTimeout(#[source] sqlx::Error),

    /// The database's disk is full (SQLSTATE 53100): nothing was written.
    #[error("the database's disk is full")]
    StorageFull(#[source] sqlx::Error),

    /// No connection to the database: it is down or restarting, the connection broke, or
    /// every pooled connection stayed busy for the whole acquire timeout.
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),

    /// A read stopped because the answer it was for needs more than its budget.
    #[error(transparent)]
    Budget(#[from] crate::budget::BudgetExceeded),

    #[error("database error")]
    Sql(#[source] sqlx::Error),

    /// A post page read in one statement with other requests' came back without a row:
    /// that statement failed, or the request running it ended first.
    #[error("the statement reading this post page with others failed or was abandoned")]
    SharedReadFailed,
}

/// PostgreSQL's `disk_full`.
const DISK_FULL: &str = "53100";

/// PostgreSQL's `query_canceled`, which `statement_timeout` raises.
const QUERY_CANCELED: &str = "57014";

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        if let Some(constraint) = error
            .as_database_error()
            .and_then(|db| db.constraint())
            .map(str::to_owned)
        {
            return StoreError::Constraint { constraint };
        }
        let code = error.as_database_error().and_then(|db| db.code());
        if code.as_deref() == Some(QUERY_CANCELED) {
            return StoreError::StatementTimeout(error);
        }
        if code.as_deref() == Some(DISK_FULL) {
            return StoreError::StorageFull(error);
        }
        if is_unavailable(&error) {
            return StoreError::Unavailable(error);
        }
        StoreError::Sql(error)
    }
}

/// Whether `error` says the database cannot be reached, rather than that a statement failed:
/// connection failures (I/O, a closed or exhausted pool, a broken protocol) and
/// PostgreSQL's connection exceptions (class 08) and shutdowns (57P01–57P03). Also
/// `serialization_failure` (40001): Gazette runs no serializable transactions, so it comes
/// from a read replica cancelling a read that conflicts with what it replays — that server
/// cannot answer now, and the read is asked of the primary instead.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(database) => database.code().is_some_and(|code| {
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "40001")
        }),
        _ => false,
    }
}

impl StoreError {
    /// Whether the database could not be reached (worth retrying later).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
            || matches!(self, StoreError::Connect { source, .. } if is_unavailable(source))
    }

    /// Whether PostgreSQL ended the transaction to break a deadlock (40P01): nothing of it
    /// was written, and it may be tried again.
    pub fn is_deadlock(&self) -> bool {
        matches!(self, StoreError::Sql(error)
            if error.as_database_error().and_then(|db| db.code()).as_deref() == Some("40P01"))
    }

    /// The name of the violated constraint, when this error is one.
    pub fn constraint(&self) -> Option<&str> {
        match self {
            StoreError::Constraint { constraint } => Some(constraint),
            _ => None,
        }
    }
}

/// An error and its causes on one line (`outer: inner: innermost`), for logs.
pub fn display_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use crate::testing::TestDatabase;

    /// What PostgreSQL itself raises, by SQLSTATE, and whether it means "cannot answer now".
    #[tokio::test]
    async fn unavailable_is_decided_by_the_sqlstate() {
        let database = TestDatabase::create().await;
        let pool = database.pool().await;
        for (code, unavailable) in [
            ("57P01", true),
            ("40001", true),
            ("08006", true),
            ("23505", false),
            ("42P01", false),
        ] {
            let statement =
                format!("do $$ begin raise exception 'raised' using errcode = '{code}'; end $$");
            let error = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&pool)
                .await
                .expect_err("the statement raises");
            let error = super::StoreError::from(error);
            assert_eq!(error.is_unavailable(), unavailable, "{code}: {error:?}");
        }
    }
}
