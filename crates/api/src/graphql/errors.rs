//! One error convention for every resolver: a sentence for people, and `extensions.code`
//! (with `field` for bad input) for programs. Internal failures are logged with their cause
//! chain and shown to clients only as a generic sentence: no SQL, no stack.

use async_graphql::ErrorExtensions;
use gazette_store::{StoreError, display_chain};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
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
    #[error("Internal error: the request could not be completed. It has been logged.")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::BadUserInput {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        ApiError::NotFound(what.into())
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::BadUserInput { .. } => "BAD_USER_INPUT",
            ApiError::CommentsClosed(_) => "COMMENTS_CLOSED",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::Internal(_) => "INTERNAL",
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::Internal(Box::new(error))
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(error: ApiError) -> Self {
        if let ApiError::Internal(source) = &error {
            tracing::error!(error = %display_chain(source.as_ref()), "internal error");
        }
        let code = error.code();
        let field = match &error {
            ApiError::BadUserInput { field, .. } => Some(field.clone()),
            _ => None,
        };
        let retry_after = match &error {
            ApiError::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        };
        async_graphql::Error::new(error.to_string()).extend_with(|_, extensions| {
            extensions.set("code", code);
            if let Some(field) = field {
                extensions.set("field", field);
            }
            if let Some(seconds) = retry_after {
                extensions.set("retryAfter", seconds);
            }
        })
    }
}
