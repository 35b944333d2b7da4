//! What a use case can refuse or fail with: a sentence for people and a stable code for
//! programs. The transports (GraphQL, HTML pages) present these; they add no rules.

use gazette_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// `field` names the input field at fault, as the client sent it.
    #[error("{message}")]
    BadUserInput { field: String, message: String },
    /// The post takes no comments (closed, or not published).
    #[error("{0}")]
    CommentsClosed(String),
    /// Too many comments from one client address; try again after `retry_after` seconds.
    #[error("Too many comments from your address: try again in {retry_after} seconds.")]
    RateLimited { retry_after: u64 },
    /// The database stopped a statement that ran past the statement timeout.
    #[error(
        "The request took too long in the database and was stopped: ask for less at once, or try again later."
    )]
    TimedOut,
    /// The database cannot be reached (restarting, down, or every connection busy).
    #[error(
        "The database is not answering (it may be restarting or overloaded): try again in a few seconds."
    )]
    Unavailable,
    /// The database's disk is full: nothing was written.
    #[error(
        "The server has run out of storage and could not save this: nothing was written. Try again later."
    )]
    StorageFull,
    /// The answer needs more text than one answer may hold.
    #[error(
        "The response would be larger than {limit} bytes: ask for fewer items, or fewer fields of large ones (such as `body`)."
    )]
    AnswerTooLarge { limit: usize },
    /// Answers being built at once hold all the memory the server gives them.
    #[error("The server is busy building other answers: try again in a moment.")]
    Busy,
    #[error("Internal error: the request could not be completed. It has been logged.")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl DomainError {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::BadUserInput {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        DomainError::NotFound(what.into())
    }

    /// A failure that is ours, not the caller's: logged with its cause, shown generically.
    /// A database that cannot be reached is not a fault of ours: it is `Unavailable`,
    /// whichever path the error took to get here.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let cause = cause.into();
        let unavailable = cause
            .downcast_ref::<StoreError>()
            .is_some_and(StoreError::is_unavailable)
            || cause
                .downcast_ref::<gazette_store::SqlxError>()
                .is_some_and(gazette_store::is_unavailable);
        match unavailable {
            true => DomainError::Unavailable,
            false => DomainError::Internal(cause),
        }
    }

    /// The `extensions.code` clients match on.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::Unauthenticated(_) => "UNAUTHENTICATED",
            DomainError::Forbidden(_) => "FORBIDDEN",
            DomainError::NotFound(_) => "NOT_FOUND",
            DomainError::BadUserInput { .. } => "BAD_USER_INPUT",
            DomainError::CommentsClosed(_) => "COMMENTS_CLOSED",
            DomainError::RateLimited { .. } => "RATE_LIMITED",
            DomainError::TimedOut => "TIMEOUT",
            DomainError::Unavailable => "DATABASE_UNAVAILABLE",
            DomainError::StorageFull => "STORAGE_FULL",
            DomainError::AnswerTooLarge { .. } => "RESPONSE_TOO_LARGE",
            DomainError::Busy => "SERVER_BUSY",
            DomainError::Internal(_) => "INTERNAL",
        }
    }
}

impl DomainError {
    /// What a store failure means to a caller, logged as it deserves, for the failures
    /// that have a meaning (a timeout, a full disk, the answer's budget, the database
    /// out of reach); `None` for the rest, which are internal. Shared by `From` and by
    /// callers holding a failure they cannot take (a DataLoader's batch shares one).
    pub fn known(error: &StoreError) -> Option<DomainError> {
        Some(match error {
            StoreError::StatementTimeout(cause) => {
                tracing::warn!(error = %cause, "a statement ran past the statement timeout");
                DomainError::TimedOut
            }
            StoreError::StorageFull(cause) => {
                tracing::error!(error = %cause, "the database's disk is full: writes fail until space is freed");
                DomainError::StorageFull
            }
            StoreError::Budget(gazette_store::BudgetExceeded::Answer { limit }) => {
                DomainError::AnswerTooLarge { limit: *limit }
            }
            StoreError::Budget(gazette_store::BudgetExceeded::Pool { .. }) => DomainError::Busy,
            error if error.is_unavailable() => {
                tracing::warn!(error = %gazette_store::display_chain(error), "the database is unavailable");
                DomainError::Unavailable
            }
            _ => return None,
        })
    }
}

impl From<StoreError> for DomainError {
    fn from(error: StoreError) -> Self {
        DomainError::known(&error).unwrap_or_else(|| DomainError::internal(error))
    }
}

/// Transactions are begun and committed by the use cases.
impl From<gazette_store::SqlxError> for DomainError {
    fn from(error: gazette_store::SqlxError) -> Self {
        StoreError::from(error).into()
    }
}

/// A resolver's charge against its answer's budget.
impl From<gazette_store::BudgetExceeded> for DomainError {
    fn from(error: gazette_store::BudgetExceeded) -> Self {
        StoreError::from(error).into()
    }
}
