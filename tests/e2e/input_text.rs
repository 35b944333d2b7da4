//! A NUL character (U+0000) in any text a client sends is refused with BAD_USER_INPUT
//! naming where it was — every text field of every mutation's arguments, read from the
//! schema itself, and text written in the document — instead of failing in PostgreSQL
//! with INTERNAL.

use serde_json::{Value, json};

use crate::support::{TestApp, error_code};

const INTROSPECTION: &str = r#"{
  __schema {
    mutationType { fields { name args { name type { ...Ref } } } }
    types { name kind inputFields { name type { ...Ref } } }
  }
}
fragment Ref on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }"#;

/// The named type under NON_NULL and LIST wrappers, and whether a list was on the way.
fn named(reference: &Value) -> (String, String, bool) {
    let mut current = reference;
    let mut list = false;
    while current["name"].is_null() {
        list |= current["kind"] == "LIST";
        current = &current["ofType"];
    }
    (
        current["kind"].as_str().unwrap_or_default().to_owned(),
        current["name"].as_str().unwrap_or_default().to_owned(),
        list,
    )
}

/// Every path to a String or ID inside a value of type `name`, as (value with a NUL there,
/// path as the error names it).
fn text_paths(
    schema: &Value,
    kind: &str,
    name: &str,
    list: bool,
    path: &str,
    depth: usize,
) -> Vec<(Value, String)> {
    let wrap = |value: Value, path: String| match list {
        true => (json!([value]), format!("{path}[0]")),
        false => (value, path),
    };
    match kind {
        "SCALAR" if name == "String" || name == "ID" => {
            let (value, path) = wrap(json!("a\u{0}b"), path.to_owned());
            vec![(value, path)]
        }
        "INPUT_OBJECT" if depth < 4 => {
            let types = schema["types"].as_array().expect("types");
            let input = types
                .iter()
                .find(|ty| ty["name"] == name)
                .expect("input type");
            let mut found = Vec::new();
            for field in input["inputFields"].as_array().expect("fields") {
                let (field_kind, field_type, field_list) = named(&field["type"]);
                let field_name = field["name"].as_str().expect("name");
                let prefix_path = match list {
                    true => format!("{path}[0]"),
                    false => path.to_owned(),
                };
                for (inner, inner_path) in text_paths(
                    schema,
                    &field_kind,
                    &field_type,
                    field_list,
                    &format!("{prefix_path}.{field_name}"),
                    depth + 1,
                ) {
                    let value = json!({ field_name: inner });
                    found.push(match list {
                        true => (json!([value]), inner_path),
                        false => (value, inner_path),
                    });
                }
            }
            found
        }
        _ => Vec::new(),
    }
}

fn graphql_type(reference: &Value) -> String {
    match reference["kind"].as_str() {
        Some("NON_NULL") => format!("{}!", graphql_type(&reference["ofType"])),
        Some("LIST") => format!("[{}]", graphql_type(&reference["ofType"])),
        _ => reference["name"].as_str().unwrap_or_default().to_owned(),
    }
}

#[tokio::test]
async fn nul_characters_are_refused_in_every_text_input() {
    let app = TestApp::spawn_api_only().await;
    let schema = app.graphql(INTROSPECTION, json!({})).await["data"]["__schema"].clone();
    let mutations = schema["mutationType"]["fields"]
        .as_array()
        .expect("mutations")
        .clone();
    let mut checked = 0;
    for mutation in &mutations {
        let name = mutation["name"].as_str().expect("name");
        for arg in mutation["args"].as_array().expect("args") {
            let arg_name = arg["name"].as_str().expect("arg");
            let (kind, type_name, list) = named(&arg["type"]);
            for (value, path) in
                text_paths(&schema, &kind, &type_name, list, &format!("${arg_name}"), 0)
            {
                let query = format!(
                    "mutation($v: {}) {{ {name}({arg_name}: $v) {{ __typename }} }}",
                    graphql_type(&arg["type"])
                );
                let response = app.graphql(&query, json!({ "v": value })).await;
                assert_eq!(
                    error_code(&response),
                    Some("BAD_USER_INPUT"),
                    "{name} {path}: {response}"
                );
                let named_path = path.replacen(&format!("${arg_name}"), "$v", 1);
                assert_eq!(
                    response["errors"][0]["extensions"]["field"], named_path,
                    "{name}: {response}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} text inputs found");

    // Written in the document rather than passed as a variable.
    let response = app
        .graphql(
            r#"mutation { addComment(input: {postId: "UG9zdDox", authorName: "A\u0000", body: "b"}) { comment { id } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(error_code(&response), Some("BAD_USER_INPUT"), "{response}");
    assert_eq!(
        response["errors"][0]["extensions"]["field"],
        "addComment.input.authorName"
    );
    // And in a query's argument.
    let response = app
        .graphql(r#"{ post(slug: "a\u0000") { id } }"#, json!({}))
        .await;
    assert_eq!(error_code(&response), Some("BAD_USER_INPUT"), "{response}");
    app.stop().await;
}
