//! Puts an answer's keys in the order the query asked for them (the GraphQL spec's
//! "ordered as in the query"). async-graphql resolves an object's fields concurrently and
//! records each when it completes, so a field that waits on the database (an author
//! through a loader) could come after one asked for later.

use async_graphql::Value;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{Name, Variables};
use async_graphql_value::Value as InputValue;

use super::ids::GlobalId;
use super::schema_model::{Kind, SchemaModel};

/// Reorders `data` (the answer to `operation_name` in `document` with `variables`) in
/// place. As the specification's CollectFields says, a fragment counts only on the objects
/// its type condition applies to (`... on Comment { status }` does not put `status` first
/// on a Post), and a selection `@skip` or `@include` leaves out takes no place.
pub fn reorder(
    model: &SchemaModel,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    data: &mut Value,
) {
    let Some(operation) = selected_operation(document, operation_name) else {
        return;
    };
    let root = match operation.ty {
        OperationType::Query => model.query,
        OperationType::Mutation => model.mutation,
        OperationType::Subscription => model.subscription,
    };
    let walk = Walk {
        model,
        document,
        operation,
        variables,
    };
    walk.value(root, &[&operation.selection_set.node], data);
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

/// One response key of an object: the field it answers and the selection sets below it.
struct Collected<'a> {
    key: Name,
    field: &'a Name,
    sets: Vec<&'a SelectionSet>,
}

struct Walk<'a> {
    model: &'a SchemaModel,
    document: &'a ExecutableDocument,
    operation: &'a OperationDefinition,
    variables: &'a Variables,
}

impl<'a> Walk<'a> {
    /// Reorders `value`, the answer to `selections` at a place of type `static_type`
    /// (`None` where the model does not know it: then every fragment counts).
    fn value(
        &self,
        static_type: Option<usize>,
        selections: &[&'a SelectionSet],
        value: &mut Value,
    ) {
        match value {
            Value::List(items) if !self.is_abstract(static_type) => {
                // Every element answers the same selections on the same type: once.
                let fields = self.fields_of(static_type, selections);
                for item in items {
                    self.object(static_type, &fields, item);
                }
            }
            Value::List(items) => {
                for item in items {
                    self.value(static_type, selections, item);
                }
            }
            Value::Object(_) => {
                let concrete = self.concrete(static_type, selections, value);
                let fields = self.fields_of(concrete, selections);
                self.object(concrete, &fields, value);
            }
            _ => {}
        }
    }

    fn is_abstract(&self, of_type: Option<usize>) -> bool {
        of_type
            .and_then(|index| self.model.types.get(index))
            .is_some_and(|named| matches!(named.kind, Kind::Interface | Kind::Union))
    }

    /// The object type of `object`, answered at a place of type `static_type`: that type
    /// itself, or for an interface (`node`, `nodes`), what the object says of itself (its
    /// `__typename`, or its global `id`), else the one possible type whose fields give
    /// its keys.
    fn concrete(
        &self,
        static_type: Option<usize>,
        selections: &[&'a SelectionSet],
        object: &Value,
    ) -> Option<usize> {
        if !self.is_abstract(static_type) {
            return static_type;
        }
        let Value::Object(object) = object else {
            return static_type;
        };
        let every = self.fields_of(None, selections);
        let said = every.iter().find_map(|field| {
            let Some(Value::String(value)) = object.get(&field.key) else {
                return None;
            };
            match field.field.as_str() {
                "__typename" => self.model.type_named(value),
                "id" => GlobalId::parse(value)
                    .and_then(|global| self.model.type_named(global.kind.type_name())),
                _ => None,
            }
        });
        if said.is_some() {
            return said;
        }
        let possible = &self.model.types.get(static_type?)?.possible_types;
        let covering: Vec<(usize, usize)> = possible
            .iter()
            .filter_map(|&candidate| {
                let fields = self.fields_of(Some(candidate), selections);
                let covers = object
                    .keys()
                    .all(|key| fields.iter().any(|field| field.key == *key));
                covers.then(|| (fields.len() - object.len(), candidate))
            })
            .collect();
        // The type whose fields give its keys with the fewest left over; when two tie,
        // the keys do not tell, and every fragment counts (the object keeps that order).
        let fewest = covering.iter().map(|(extra, _)| *extra).min();
        let mut best = covering.iter().filter(|(extra, _)| Some(*extra) == fewest);
        match (best.next(), best.next()) {
            (Some((_, candidate)), None) => Some(*candidate),
            _ => static_type,
        }
    }

    fn fields_of(
        &self,
        of_type: Option<usize>,
        selections: &[&'a SelectionSet],
    ) -> Vec<Collected<'a>> {
        let mut fields = Vec::new();
        for selection in selections {
            self.collect(of_type, selection, &mut fields, 0);
        }
        fields
    }

    fn object(&self, of_type: Option<usize>, fields: &[Collected<'a>], value: &mut Value) {
        let Value::Object(object) = value else {
            // A list of lists, or null.
            if let Value::List(items) = value {
                for item in items {
                    self.object(of_type, fields, item);
                }
            }
            return;
        };
        let position = |key: &Name| fields.iter().position(|field| field.key == *key);
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
            for field in fields {
                if let Some(child) = object.shift_remove(&field.key) {
                    ordered.insert(field.key.clone(), child);
                }
            }
            // Anything not found in the selections (never expected) keeps its place after.
            ordered.extend(std::mem::take(object));
            *object = ordered;
        }
        for field in fields {
            if field.sets.iter().any(|set| !set.items.is_empty())
                && let Some(child) = object.get_mut(&field.key)
            {
                let below = of_type
                    .and_then(|of_type| self.model.field(of_type, field.field))
                    .map(|model| model.base);
                self.value(below, &field.sets, child);
            }
        }
    }

    /// The response keys of `selection_set` on an object of type `of_type`, in query
    /// order, through the fragments that apply to it.
    fn collect(
        &self,
        of_type: Option<usize>,
        selection_set: &'a SelectionSet,
        fields: &mut Vec<Collected<'a>>,
        depth: usize,
    ) {
        // Fragments cannot cycle in a valid document; the bound only guards the walk.
        if depth > 64 {
            return;
        }
        for selection in &selection_set.items {
            if self.skipped(&selection.node) {
                continue;
            }
            match &selection.node {
                Selection::Field(field) => {
                    let key = field.node.response_key().node.clone();
                    let nested = &field.node.selection_set.node;
                    match fields.iter_mut().find(|existing| existing.key == key) {
                        Some(existing) => existing.sets.push(nested),
                        None => fields.push(Collected {
                            key,
                            field: &field.node.name.node,
                            sets: vec![nested],
                        }),
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let Some(fragment) =
                        self.document.fragments.get(&spread.node.fragment_name.node)
                    else {
                        continue;
                    };
                    let condition = &fragment.node.type_condition.node.on.node;
                    if self.applies(condition, of_type) {
                        self.collect(
                            of_type,
                            &fragment.node.selection_set.node,
                            fields,
                            depth + 1,
                        );
                    }
                }
                Selection::InlineFragment(fragment) => {
                    let applies = fragment
                        .node
                        .type_condition
                        .as_ref()
                        .is_none_or(|condition| self.applies(&condition.node.on.node, of_type));
                    if applies {
                        self.collect(
                            of_type,
                            &fragment.node.selection_set.node,
                            fields,
                            depth + 1,
                        );
                    }
                }
            }
        }
    }

    /// Whether `@skip` or `@include` leaves `selection` out (a condition it cannot read
    /// leaves it in: execution has refused such a document already).
    fn skipped(&self, selection: &Selection) -> bool {
        selection.directives().iter().any(|directive| {
            let leave_out_when = match directive.node.name.node.as_str() {
                "skip" => true,
                "include" => false,
                _ => return false,
            };
            let condition = directive
                .node
                .arguments
                .iter()
                .find(|(name, _)| name.node == "if")
                .and_then(|(_, value)| match &value.node {
                    InputValue::Boolean(condition) => Some(*condition),
                    InputValue::Variable(name) => match self.variable(name)? {
                        Value::Boolean(condition) => Some(condition),
                        _ => None,
                    },
                    _ => None,
                });
            condition == Some(leave_out_when)
        })
    }

    /// The value of the variable `name`: sent, or its definition's default.
    fn variable(&self, name: &Name) -> Option<Value> {
        self.variables.get(name).cloned().or_else(|| {
            self.operation
                .variable_definitions
                .iter()
                .find(|definition| definition.node.name.node == *name)
                .and_then(|definition| definition.node.default_value())
                .cloned()
        })
    }

    /// Whether a fragment on `condition` applies to an object of type `of_type` (always,
    /// where either is unknown to the model).
    fn applies(&self, condition: &Name, of_type: Option<usize>) -> bool {
        let (Some(of_type), Some(condition)) = (of_type, self.model.type_named(condition)) else {
            return true;
        };
        if of_type == condition {
            return true;
        }
        let (Some(object), Some(named)) = (
            self.model.types.get(of_type),
            self.model.types.get(condition),
        ) else {
            return true;
        };
        match object.kind {
            Kind::Object => {
                object.interfaces.contains(&condition) || named.possible_types.contains(&of_type)
            }
            // An interface whose object type is not known: every fragment may apply.
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use super::*;

    static MODEL: LazyLock<SchemaModel> = LazyLock::new(|| {
        SchemaModel::from_sdl(&crate::graphql::types_sdl()).expect("the schema's model")
    });

    fn reordered(query: &str, data: serde_json::Value) -> String {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        let mut data = Value::from_json(data).expect("value");
        reorder(&MODEL, &document, None, &Variables::default(), &mut data);
        serde_json::to_string(&data).expect("json")
    }

    #[test]
    fn keys_follow_the_query_through_aliases_and_fragments() {
        assert_eq!(
            reordered(
                "query Q { post { b: title ...F author { name slug } } } fragment F on Post { a: slug }",
                serde_json::json!({
                    "post": { "author": { "slug": "s", "name": "n" }, "a": "x", "b": "y" }
                }),
            ),
            r#"{"post":{"b":"y","a":"x","author":{"name":"n","slug":"s"}}}"#
        );
    }

    /// Found by probing a running server: a fragment on another type put its keys first,
    /// so the resolvers' answer and the compiled plan's differed in key order.
    #[test]
    fn fragments_on_other_types_do_not_order_the_keys() {
        // A post under `node`: known by the keys only a Post's fields give.
        assert_eq!(
            reordered(
                "{ node(id: \"x\") { ... on Comment { status } ... on Post { title status } } }",
                serde_json::json!({ "node": { "status": "PUBLISHED", "title": "T" } }),
            ),
            r#"{"node":{"title":"T","status":"PUBLISHED"}}"#
        );
        // Known by its global id (base64 of `Post:1`), in a list of several kinds.
        assert_eq!(
            reordered(
                "{ nodes(ids: []) { id ... on Comment { status body } ... on Post { title status } } }",
                serde_json::json!({ "nodes": [
                    { "status": "PUBLISHED", "id": "UG9zdDox", "title": "T" },
                    { "body": "b", "id": "Q29tbWVudDox", "status": "PUBLISHED" },
                    null,
                ] }),
            ),
            r#"{"nodes":[{"id":"UG9zdDox","title":"T","status":"PUBLISHED"},{"id":"Q29tbWVudDox","status":"PUBLISHED","body":"b"},null]}"#
        );
        // Under a field of a known type, through a fragment on an interface.
        assert_eq!(
            reordered(
                "{ post(slug: \"s\") { ... on Node { ... on Comment { status } } title status } }",
                serde_json::json!({ "post": { "status": "PUBLISHED", "title": "T" } }),
            ),
            r#"{"post":{"title":"T","status":"PUBLISHED"}}"#
        );
    }

    /// Found by probing a running server: a selection a directive leaves out kept its key's
    /// place, ahead of where the key is really asked for.
    #[test]
    fn selections_left_out_by_directives_take_no_place() {
        let answer = serde_json::json!({ "post": { "slug": "s", "title": "T" } });
        for query in [
            "{ post(slug: \"s\") { slug @skip(if: true) title slug } }",
            "{ post(slug: \"s\") { ...F @include(if: false) title ...F } } fragment F on Post { slug }",
            "query($s: Boolean = true) { post(slug: \"s\") { ... on Post @skip(if: $s) { slug } title slug } }",
        ] {
            assert_eq!(
                reordered(query, answer.clone()),
                r#"{"post":{"title":"T","slug":"s"}}"#,
                "{query}"
            );
        }
        // A variable's value decides, as sent.
        let document = async_graphql::parser::parse_query(
            "query($s: Boolean!) { post(slug: \"s\") { ...F @include(if: $s) title ...F } } \
             fragment F on Post { slug }",
        )
        .expect("parses");
        let mut data = Value::from_json(answer).expect("value");
        let variables = Variables::from_json(serde_json::json!({ "s": false }));
        reorder(&MODEL, &document, None, &variables, &mut data);
        assert_eq!(
            serde_json::to_string(&data).expect("json"),
            r#"{"post":{"title":"T","slug":"s"}}"#
        );
    }
}
