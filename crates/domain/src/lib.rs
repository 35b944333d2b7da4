//! Gazette's domain, below every transport: who may see and do what ([`policy`]), the use
//! cases that write ([`publishing`], [`commenting`]), and the errors they report. Nothing
//! here knows about GraphQL or HTTP; the API and the worker call in.

pub mod channels;
pub mod clients;
pub mod comment_form;
pub mod commenting;
pub mod edit_tokens;
mod error;
pub mod export;
pub mod federation;
pub mod feeds;
pub mod import;
pub mod offload;
pub mod outbound;
pub mod policy;
pub mod publishing;
pub mod webhooks;

pub use clients::ClientKey;
pub use edit_tokens::{EditTokenKey, EditTokenKeyError};
pub use error::DomainError;
pub use policy::Viewer;

#[cfg(test)]
mod policy_guard;
