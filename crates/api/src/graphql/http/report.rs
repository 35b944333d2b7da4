//! What the metrics say of one operation: its name (only once the document was found
//! valid and ran), its type and the first error's code; and the refusals counted with
//! them.

use async_graphql::ServerError;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use axum::response::Response;

use super::request::Params;
use super::response::{MediaType, refused};
use crate::graphql::errors::code_of;

/// What the metrics say of one operation: its name (only once the document was found
/// valid and ran, and only as the document names it, so junk never takes one of the
/// bounded labels; `unvalidated` before that), its type, and the first error's code.
pub(super) struct Report {
    /// Whether the document passed every check and ran.
    pub checked: bool,
    /// Whether it was found valid (it may still have been refused after, over a budget).
    pub validated: bool,
    pub name: Option<String>,
    pub kind: &'static str,
    pub code: Option<String>,
}

impl Default for Report {
    fn default() -> Self {
        Self {
            checked: false,
            validated: false,
            name: None,
            kind: "unknown",
            code: None,
        }
    }
}

impl Report {
    /// `response` is sent as it is: its first error's code is the outcome.
    pub(super) fn refused(&mut self, code: &str, response: Response) -> Response {
        self.code = Some(code.to_owned());
        response
    }
}

/// A refusal before or instead of an answer, counted with its code.
pub(super) fn refuse(report: &mut Report, media: MediaType, error: &ServerError) -> Response {
    report.code = code_of(error).map(str::to_owned);
    refused(media, error)
}

pub(super) fn kind_label(kind: Option<OperationType>) -> &'static str {
    match kind {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "unknown",
    }
}

/// The name the document gives the operation that ran (none for an anonymous one).
pub(super) fn document_operation_name(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<String> {
    match &document.operations {
        DocumentOperations::Single(_) => None,
        DocumentOperations::Multiple(operations) => match operation_name {
            Some(name) => operations.contains_key(name).then(|| name.to_owned()),
            None => operations.keys().next().map(ToString::to_string),
        },
    }
}

/// The operation's name for the metrics: the request's `operationName`, else the name the
/// document starts with.
pub(super) fn operation_label(params: &Params) -> Option<&str> {
    params
        .operation_name
        .as_deref()
        .or_else(|| leading_operation_name(params.query.as_deref()?))
}

/// `Name` in a document that starts `query Name`, `mutation Name` or `subscription Name`
/// (what clients send); without parsing the document, which a cached answer skips.
fn leading_operation_name(document: &str) -> Option<&str> {
    let rest = document.trim_start();
    let rest = ["query", "mutation", "subscription"]
        .iter()
        .find_map(|keyword| rest.strip_prefix(keyword))?;
    let rest = rest.strip_prefix(|c: char| c.is_whitespace())?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    Some(&rest[..end]).filter(|name| !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_operations_from_the_document() {
        assert_eq!(
            leading_operation_name("query FrontPage { posts }"),
            Some("FrontPage")
        );
        assert_eq!(
            leading_operation_name("\n mutation Add($x: ID) { a }"),
            Some("Add")
        );
        assert_eq!(leading_operation_name("query($x: ID) { a }"), None);
        assert_eq!(leading_operation_name("{ a }"), None);
        assert_eq!(leading_operation_name("queryX { a }"), None);
    }
}
