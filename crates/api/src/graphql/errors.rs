//! One error convention for every resolver: a sentence for people, and `extensions.code`
//! (with `field` for bad input) for programs. The domain decides what is refused and why
//! ([`DomainError`]); this is only how GraphQL shows it. Internal failures are logged with
//! their cause chain and shown to clients only as a generic sentence: no SQL, no stack.

use async_graphql::{ErrorExtensionValues, ErrorExtensions, ServerError};
use gazette_domain::DomainError;
use gazette_store::{StoreError, display_chain};

/// A domain error on its way to a GraphQL client.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] DomainError);

impl ApiError {
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        DomainError::bad_input(field, message).into()
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        DomainError::not_found(what).into()
    }

    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        DomainError::internal(cause).into()
    }

    pub fn code(&self) -> &'static str {
        self.0.code()
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        DomainError::from(error).into()
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(ApiError(error): ApiError) -> Self {
        if let DomainError::Internal(source) = &error {
            tracing::error!(error = %display_chain(source.as_ref()), "internal error");
        }
        let code = error.code();
        let field = match &error {
            DomainError::BadUserInput { field, .. } => Some(field.clone()),
            _ => None,
        };
        let retry_after = match &error {
            DomainError::RateLimited { retry_after } => Some(*retry_after),
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

/// The error's `extensions.code`.
pub fn code_of(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code),
        _ => None,
    }
}

/// Whether any of `response`'s errors has `code`.
pub fn has_code(response: &async_graphql::Response, code: &str) -> bool {
    response
        .errors
        .iter()
        .any(|error| code_of(error) == Some(code))
}

/// An error that refuses the whole operation, with its code.
pub fn refusal(
    code: &str,
    message: String,
    more: impl FnOnce(&mut ErrorExtensionValues),
) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    more(&mut extensions);
    error.extensions = Some(extensions);
    error
}
