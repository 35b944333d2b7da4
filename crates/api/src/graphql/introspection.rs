//! What introspection says about the schema itself, where async-graphql's defaults are
//! wrong for clients: `__schema { description }` answers with the text of the `__Schema`
//! type, and the `DateTime` scalar describes its Rust implementation.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerResult, Value};

use super::response_order::selected_operation;

/// The schema's own description: in introspection and in the SDL (`schema.graphql`).
pub const SCHEMA_DESCRIPTION: &str = "Gazette: a blog's posts, tags, authors and threaded comments, with its feeds and social-channel texts. Reads are public; writing needs a token, except comments, which anyone may post and moderators approve.";

/// What the `DateTime` scalar is, for people reading the docs explorer.
pub const DATE_TIME_DESCRIPTION: &str = "A point in time as an RFC 3339 date-time string, such as `2013-08-22T09:30:00Z`. Inputs may carry any offset and are converted to UTC; answers are always in UTC (`+00:00`).";

/// Answers `__Schema.description` with [`SCHEMA_DESCRIPTION`].
pub struct SchemaDescription;

impl ExtensionFactory for SchemaDescription {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(SchemaDescription)
    }
}

#[async_trait::async_trait]
impl Extension for SchemaDescription {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.parent_type == "__Schema" && info.name == "description" {
            return Ok(Some(Value::String(SCHEMA_DESCRIPTION.to_owned())));
        }
        next.run(ctx, info).await
    }
}

/// Whether the operation asks for `__schema` at its root (directly or through fragments):
/// such operations run where [`SchemaDescription`] is installed.
pub fn asks_for_schema(document: &ExecutableDocument, operation_name: Option<&str>) -> bool {
    selected_operation(document, operation_name)
        .is_some_and(|operation| selects_schema(document, &operation.selection_set.node, 0))
}

fn selects_schema(document: &ExecutableDocument, selections: &SelectionSet, depth: usize) -> bool {
    // Fragment cycles are refused by validation; the bound only keeps this walk finite
    // before validation has run.
    if depth > 16 {
        return false;
    }
    selections
        .items
        .iter()
        .any(|selection| match &selection.node {
            Selection::Field(field) => field.node.name.node == "__schema",
            Selection::InlineFragment(fragment) => {
                selects_schema(document, &fragment.node.selection_set.node, depth + 1)
            }
            Selection::FragmentSpread(spread) => document
                .fragments
                .get(&spread.node.fragment_name.node)
                .is_some_and(|fragment| {
                    selects_schema(document, &fragment.node.selection_set.node, depth + 1)
                }),
        })
}
