//! Text PostgreSQL cannot store: a NUL character (U+0000) in any string a client sends,
//! as a variable or written in the document, is refused with `BAD_USER_INPUT` naming
//! where it was, before anything runs. (PostgreSQL rejects `0x00` in `text`; letting it
//! through made every mutation, and some queries, fail with `INTERNAL`.)

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ServerError, ServerResult, Value as ConstValue, Variables};

use super::errors::refusal;

/// Refuses a variable holding a NUL anywhere inside it.
pub fn check_variables(variables: &Variables) -> ServerResult<()> {
    for (name, value) in variables.iter() {
        check_const(value, &mut format!("${name}"))?;
    }
    Ok(())
}

/// Refuses an argument written in the document with a NUL in a string.
pub fn check_document(document: &ExecutableDocument) -> ServerResult<()> {
    for (_, operation) in document.operations.iter() {
        check_selection(&operation.node.selection_set.node)?;
    }
    for fragment in document.fragments.values() {
        check_selection(&fragment.node.selection_set.node)?;
    }
    Ok(())
}

fn check_selection(selection_set: &SelectionSet) -> ServerResult<()> {
    for selection in &selection_set.items {
        match &selection.node {
            Selection::Field(field) => {
                for (name, value) in &field.node.arguments {
                    let mut path = format!("{}.{}", field.node.name.node, name.node);
                    // Variables are checked on their own; here they count as null.
                    let written = value
                        .node
                        .clone()
                        .into_const_with(|_| Ok::<_, std::convert::Infallible>(ConstValue::Null))
                        .unwrap_or(ConstValue::Null);
                    check_const(&written, &mut path)?;
                }
                check_selection(&field.node.selection_set.node)?;
            }
            Selection::InlineFragment(fragment) => {
                check_selection(&fragment.node.selection_set.node)?;
            }
            Selection::FragmentSpread(_) => {}
        }
    }
    Ok(())
}

fn check_const(value: &ConstValue, path: &mut String) -> ServerResult<()> {
    match value {
        ConstValue::String(text) if text.contains('\0') => Err(nul_error(path)),
        ConstValue::List(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(index, item)| check_const(item, &mut format!("{path}[{index}]"))),
        ConstValue::Object(fields) => fields
            .iter()
            .try_for_each(|(name, item)| check_const(item, &mut format!("{path}.{name}"))),
        _ => Ok(()),
    }
}

fn nul_error(path: &str) -> ServerError {
    refusal(
        "BAD_USER_INPUT",
        format!(
            "`{path}` contains a NUL character (U+0000), which no text field can hold: remove it."
        ),
        |extensions| extensions.set("field", path),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_are_found_wherever_they_hide() {
        let variables = Variables::from_json(serde_json::json!({
            "input": { "title": "fine", "tags": ["ok", "bad\u{0}"] }
        }));
        let error = check_variables(&variables).expect_err("a NUL in a list");
        assert!(
            error.message.contains("`$input.tags[1]`"),
            "{}",
            error.message
        );
        assert!(check_variables(&Variables::from_json(serde_json::json!({ "a": "b" }))).is_ok());

        let document = async_graphql::parser::parse_query(
            r#"mutation { addComment(input: {postId: "x", authorName: "a\u0000", body: "b"}) { __typename } }"#,
        )
        .expect("parses");
        let error = check_document(&document).expect_err("a NUL written in the document");
        assert!(
            error.message.contains("`addComment.input.authorName`"),
            "{}",
            error.message
        );
    }
}
