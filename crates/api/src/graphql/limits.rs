//! What one GraphQL operation may cost, checked before anything runs: the document's size,
//! its aliases and root fields, its depth and its cost. Cost counts each field as 1 and
//! each list or connection as its page size times what it selects (the fields declare
//! this with `complexity`), so `comments(first: 60) { post { comments(first: 60) … } }`
//! is priced at what it would make the server build, and refused with
//! `QUERY_TOO_COMPLEX` without touching the database.
//!
//! The same extension applies the WebSocket rules: each operation on a socket re-checks the
//! connection's token, and only subscriptions run there.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
    NextValidation,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::{
    ErrorExtensionValues, Request, ServerError, ServerResult, ValidationResult, Variables,
};

use super::input_text;
use super::ws::SocketSession;
use crate::state::Limits;

/// Request data asking the guarded schema to stop once the operation has passed every
/// check (HTTP then runs it on the schema without extensions).
pub struct CheckOnly;

/// The one "error" a [`CheckOnly`] request ends with when the operation passed.
const PASSED: &str = "gazette: the operation passed its checks";

/// Whether the guarded schema's answer to a [`CheckOnly`] request says the operation passed.
pub fn passed(response: &async_graphql::Response) -> bool {
    matches!(response.errors.as_slice(), [only] if only.message == PASSED)
}

/// The extension, added once to the schema.
pub struct OperationLimits(pub Arc<Limits>);

impl ExtensionFactory for OperationLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationLimitsExtension(self.0.clone()))
    }
}

struct OperationLimitsExtension(Arc<Limits>);

#[async_trait::async_trait]
impl Extension for OperationLimitsExtension {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        check_size(&request.query, &self.0)?;
        input_text::check_variables(&request.variables)?;
        if let Some(socket) = ctx.data_opt::<SocketSession>() {
            socket.check_token().await?;
            check_subscription(&request)?;
        }
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        check_shape(&document, &self.0)?;
        input_text::check_document(&document)?;
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if result.complexity > self.0.max_complexity {
            return Err(vec![refusal(
                "QUERY_TOO_COMPLEX",
                format!(
                    "The query would cost {} and the limit is {}: each field costs 1 and each list or connection costs its page size (`first`/`last`, 20 when not given) times what it selects. Ask for fewer items or nest fewer lists.",
                    result.complexity, self.0.max_complexity
                ),
                |extensions| {
                    extensions.set("cost", result.complexity);
                    extensions.set("limit", self.0.max_complexity);
                },
            )]);
        }
        if result.depth > self.0.max_depth {
            return Err(vec![refusal(
                "QUERY_TOO_DEEP",
                format!(
                    "The query nests {} levels deep and the limit is {}.",
                    result.depth, self.0.max_depth
                ),
                |extensions| {
                    extensions.set("depth", result.depth);
                    extensions.set("limit", self.0.max_depth);
                },
            )]);
        }
        if ctx.data_opt::<CheckOnly>().is_some() {
            return Err(vec![ServerError::new(PASSED, None)]);
        }
        Ok(result)
    }
}

/// Refuses queries and mutations on a WebSocket: they belong on HTTP, with its limits. (A
/// document that does not parse goes on, to be reported with its position.)
fn check_subscription(request: &Request) -> ServerResult<()> {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return Ok(());
    };
    let kind = match (&document.operations, request.operation_name.as_deref()) {
        (DocumentOperations::Single(operation), _) => Some(operation.node.ty),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| operation.node.ty)
        }
        (DocumentOperations::Multiple(operations), None) => operations
            .values()
            .next()
            .map(|operation| operation.node.ty),
    };
    match kind {
        Some(OperationType::Query | OperationType::Mutation) => Err(refusal(
            "OPERATION_NOT_ALLOWED",
            "Only subscriptions run over WebSocket: send queries and mutations with POST /graphql."
                .to_owned(),
            |_| {},
        )),
        _ => Ok(()),
    }
}

/// Refuses a query document larger than the limit, or nested deeper than any query within
/// the depth limit could be, before it is parsed: the parser recurses once per level of
/// `{`, `[` and `(`, and must never be handed thousands of them.
pub fn check_size(query: &str, limits: &Limits) -> ServerResult<()> {
    if query.len() > limits.max_query_bytes {
        return Err(refusal(
            "QUERY_TOO_LARGE",
            format!(
                "The query document has {} bytes and the limit is {}.",
                query.len(),
                limits.max_query_bytes
            ),
            |extensions| extensions.set("limit", limits.max_query_bytes),
        ));
    }
    let max_nesting = limits.max_nesting();
    if nesting(query) > max_nesting {
        return Err(refusal(
            "QUERY_TOO_DEEP",
            format!(
                "The query document nests brackets more than {max_nesting} levels deep; queries may nest {} levels.",
                limits.max_depth
            ),
            |extensions| extensions.set("limit", limits.max_depth),
        ));
    }
    Ok(())
}

/// The deepest nesting of `{`, `[` and `(` outside strings and comments.
fn nesting(query: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut chars = query.chars();
    while let Some(c) = chars.next() {
        match c {
            '{' | '[' | '(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            '}' | ']' | ')' => depth = depth.saturating_sub(1),
            '#' => {
                for skipped in chars.by_ref() {
                    if skipped == '\n' || skipped == '\r' {
                        break;
                    }
                }
            }
            '"' => {
                // Plain and block strings alike: skip to the closing quote, past escapes.
                while let Some(inner) = chars.next() {
                    match inner {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    deepest
}

/// Refuses documents with too many aliases, or an operation with too many root fields.
fn check_shape(document: &ExecutableDocument, limits: &Limits) -> ServerResult<()> {
    let operations: Vec<&SelectionSet> = match &document.operations {
        DocumentOperations::Single(operation) => vec![&operation.node.selection_set.node],
        DocumentOperations::Multiple(operations) => operations
            .values()
            .map(|operation| &operation.node.selection_set.node)
            .collect(),
    };
    let aliases = operations
        .iter()
        .map(|selection| count_aliases(selection))
        .chain(
            document
                .fragments
                .values()
                .map(|fragment| count_aliases(&fragment.node.selection_set.node)),
        )
        .sum::<usize>();
    if aliases > limits.max_aliases {
        return Err(refusal(
            "TOO_MANY_ALIASES",
            format!(
                "The query uses {aliases} aliases and the limit is {}.",
                limits.max_aliases
            ),
            |extensions| extensions.set("limit", limits.max_aliases),
        ));
    }
    for selection in operations {
        let mut visited = Vec::new();
        let roots = count_root_fields(document, selection, &mut visited);
        if roots > limits.max_root_fields {
            return Err(refusal(
                "TOO_MANY_ROOT_FIELDS",
                format!(
                    "An operation asks for {roots} root fields and the limit is {}: split it into several requests.",
                    limits.max_root_fields
                ),
                |extensions| extensions.set("limit", limits.max_root_fields),
            ));
        }
    }
    Ok(())
}

fn count_aliases(selection_set: &SelectionSet) -> usize {
    selection_set
        .items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some())
                    + count_aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => count_aliases(&fragment.node.selection_set.node),
            // Counted once, with the fragment's definition.
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Root fields, through fragments (each named fragment expanded once per operation, so a
/// cycle cannot loop; validation reports cycles).
fn count_root_fields<'a>(
    document: &'a ExecutableDocument,
    selection_set: &'a SelectionSet,
    visited: &mut Vec<&'a str>,
) -> usize {
    selection_set
        .items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(fragment) => {
                count_root_fields(document, &fragment.node.selection_set.node, visited)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                if visited.contains(&name) {
                    return 0;
                }
                visited.push(name);
                document
                    .fragments
                    .get(&spread.node.fragment_name.node)
                    .map_or(0, |fragment| {
                        count_root_fields(document, &fragment.node.selection_set.node, visited)
                    })
            }
        })
        .sum()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(query: &str) -> Result<(), String> {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        let limits = Limits {
            max_aliases: 2,
            max_root_fields: 2,
            ..Limits::default()
        };
        check_shape(&document, &limits).map_err(|error| error.message)
    }

    #[test]
    fn aliases_and_root_fields_are_counted_through_fragments() {
        assert!(shape("{ a: posts { totalCount } b: tags { totalCount } }").is_ok());
        assert!(shape("{ a: posts { x: totalCount } b: tags { totalCount } }").is_err());
        assert!(shape("{ posts { totalCount } tags { totalCount } }").is_ok());
        assert!(shape("{ posts { totalCount } ...F } fragment F on Query { tags { totalCount } channels { id } }").is_err());
        assert!(
            shape("{ ...F ...F } fragment F on Query { a: posts { totalCount } }").is_ok(),
            "a fragment's aliases count once"
        );
    }

    #[test]
    fn nesting_is_counted_outside_strings_and_comments() {
        assert_eq!(nesting("{ a { b(x: [1, [2]]) } }"), 5);
        assert_eq!(nesting(r#"{ a(s: "{{{{[[[(") } # {{{{{{"#), 2);
        assert_eq!(nesting(r#"{ a(s: "\"{{{") }"#), 2);
        let limits = Limits::default();
        assert!(check_size(&format!("{}{}", "{a".repeat(200), "}".repeat(200)), &limits).is_err());
    }

    #[test]
    fn large_documents_are_refused_before_parsing() {
        let limits = Limits {
            max_query_bytes: 10,
            ..Limits::default()
        };
        assert!(check_size("{ posts }", &limits).is_ok());
        let error = check_size("{ posts { totalCount } }", &limits).expect_err("too large");
        assert!(error.message.contains("limit is 10"), "{}", error.message);
    }
}
