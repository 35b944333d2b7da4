//! Puts an answer's keys in the order the query asked for them (the GraphQL spec's
//! "ordered as in the query"). async-graphql resolves an object's fields concurrently and
//! records each when it completes, so a field that waits on the database (an author
//! through a loader) could come after one asked for later.

use async_graphql::Name;
use async_graphql::Value;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
};

/// Reorders `data` (the answer to `operation_name` in `document`) in place.
pub fn reorder(document: &ExecutableDocument, operation_name: Option<&str>, data: &mut Value) {
    let Some(operation) = selected_operation(document, operation_name) else {
        return;
    };
    reorder_value(document, &[&operation.selection_set.node], data);
}

/// The operation a request runs: the document's only one, or the one named.
pub(super) fn selected_operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), _) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|operation| &operation.node)
        }
        _ => None,
    }
}

fn reorder_value(document: &ExecutableDocument, selections: &[&SelectionSet], value: &mut Value) {
    match value {
        Value::List(items) => {
            // Every element answers the same selections: gather them once.
            let fields = fields_of(document, selections);
            for item in items {
                reorder_object(document, &fields, item);
            }
        }
        Value::Object(_) => reorder_object(document, &fields_of(document, selections), value),
        _ => {}
    }
}

fn fields_of<'a>(
    document: &'a ExecutableDocument,
    selections: &[&'a SelectionSet],
) -> Vec<(Name, Vec<&'a SelectionSet>)> {
    let mut fields = Vec::new();
    for selection in selections {
        collect(document, selection, &mut fields, 0);
    }
    fields
}

fn reorder_object(
    document: &ExecutableDocument,
    fields: &[(Name, Vec<&SelectionSet>)],
    value: &mut Value,
) {
    let Value::Object(object) = value else {
        // A list of lists, or null.
        if let Value::List(items) = value {
            for item in items {
                reorder_object(document, fields, item);
            }
        }
        return;
    };
    let position = |key: &Name| fields.iter().position(|(wanted, _)| wanted == key);
    let in_order = object
        .keys()
        .map(position)
        .try_fold(0usize, |last, found| match found {
            Some(at) if at >= last => Some(at),
            _ => None,
        })
        .is_some();
    if !in_order {
        let mut ordered = async_graphql::indexmap::IndexMap::with_capacity(object.len());
        for (key, _) in fields {
            if let Some(child) = object.shift_remove(key) {
                ordered.insert(key.clone(), child);
            }
        }
        // Anything not found in the selections (never expected) keeps its place after.
        ordered.extend(std::mem::take(object));
        *object = ordered;
    }
    for (key, nested) in fields {
        if nested.iter().any(|set| !set.items.is_empty())
            && let Some(child) = object.get_mut(key)
        {
            reorder_value(document, nested, child);
        }
    }
}

/// The response keys of `selection_set` in query order (through fragments), each with the
/// selection sets that apply below it.
fn collect<'a>(
    document: &'a ExecutableDocument,
    selection_set: &'a SelectionSet,
    fields: &mut Vec<(Name, Vec<&'a SelectionSet>)>,
    depth: usize,
) {
    // Fragments cannot cycle in a valid document; the bound only guards the walk.
    if depth > 64 {
        return;
    }
    for selection in &selection_set.items {
        match &selection.node {
            Selection::Field(field) => {
                let key = field.node.response_key().node.clone();
                let nested = &field.node.selection_set.node;
                match fields.iter_mut().find(|(existing, _)| *existing == key) {
                    Some((_, sets)) => sets.push(nested),
                    None => fields.push((key, vec![nested])),
                }
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    collect(
                        document,
                        &fragment.node.selection_set.node,
                        fields,
                        depth + 1,
                    );
                }
            }
            Selection::InlineFragment(fragment) => {
                collect(
                    document,
                    &fragment.node.selection_set.node,
                    fields,
                    depth + 1,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_query_through_aliases_and_fragments() {
        let document = async_graphql::parser::parse_query(
            "query Q { post { b: title ...F author { name slug } } } fragment F on Post { a: slug }",
        )
        .expect("parses");
        let mut data = Value::from_json(serde_json::json!({
            "post": { "author": { "slug": "s", "name": "n" }, "a": "x", "b": "y" }
        }))
        .expect("value");
        reorder(&document, Some("Q"), &mut data);
        assert_eq!(
            serde_json::to_string(&data).expect("json"),
            r#"{"post":{"b":"y","a":"x","author":{"name":"n","slug":"s"}}}"#
        );
    }
}
