//! The document budget: what one GraphQL document may make the server do, decided once,
//! right after parsing and before async-graphql validates or runs anything (its validation
//! and its recursion check expand every fragment spread again, so a 1 KB document of
//! doubling fragments must never reach them).
//!
//! Before parsing, one pass over the text counts its bytes, tokens, directives and bracket
//! nesting (the parser recurses once per bracket). After parsing:
//! - each fragment's shape (depth, and how many selections it expands to) is computed once,
//!   bottom-up and memoised, and fragment cycles are refused;
//! - the expanded size of the whole document (every operation and every fragment
//!   definition, since validation visits all of them) is bounded;
//! - the operation's cost: every field costs 1 (`__typename` and introspection fields
//!   too), every list or connection its number of items times what each item selects.
//!   Page sizes come from `first`/`last` (20 when not given, at most 100), bounded lists
//!   from [`items`]; introspection is priced exactly, by walking what the schema would
//!   answer (it depends only on the schema), so the playground's introspection query costs
//!   what it returns and nested `possibleTypes`/`interfaces` expansions cost what they
//!   would build.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType, Selection,
    SelectionSet,
};
use async_graphql::{ServerError, Value, Variables};

use super::errors::refusal;
use super::response_order::selected_operation;
use super::schema_model::{Kind, SchemaModel, TypeRef};

/// The largest page, and the page when none is asked for, as the cost counts them.
const MAX_PAGE_SIZE: u64 = super::connection::MAX_PAGE_SIZE as u64;
const DEFAULT_PAGE_SIZE: u64 = super::connection::DEFAULT_PAGE_SIZE as u64;

/// Documents up to this long are checked on the request's own thread; longer ones (whose
/// parsing takes a millisecond or more) on the blocking pool.
pub const INLINE_CHECK_BYTES: usize = 2048;

/// What bounds a document and its operation; see docs/security.md.
#[derive(Debug, Clone, Copy)]
pub struct DocumentLimits {
    pub max_bytes: usize,
    pub max_tokens: usize,
    pub max_directives: usize,
    /// Bracket nesting of the text.
    pub max_nesting: usize,
    pub max_depth: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    /// Most the operation may cost; also the most selections the document may expand to.
    pub max_cost: u64,
}

/// What the text of a document holds, counted before it is parsed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextCounts {
    pub tokens: usize,
    pub directives: usize,
    pub nesting: usize,
}

/// Refuses a document whose text is too large, has too many tokens or directives, or nests
/// brackets deeper than any document within the depth limit could; before it is parsed.
pub fn check_text(query: &str, limits: &DocumentLimits) -> Result<(), ServerError> {
    refuse_unless(
        query.len() <= limits.max_bytes,
        "QUERY_TOO_LARGE",
        limits.max_bytes,
        || {
            format!(
                "The query document has {} bytes and the limit is {}.",
                query.len(),
                limits.max_bytes
            )
        },
    )?;
    let counts = count_text(query);
    refuse_unless(
        counts.nesting <= limits.max_nesting,
        "QUERY_TOO_DEEP",
        limits.max_depth,
        || {
            format!(
                "The query document nests brackets more than {} levels deep; queries may nest {} levels.",
                limits.max_nesting, limits.max_depth
            )
        },
    )?;
    refuse_unless(
        counts.tokens <= limits.max_tokens,
        "TOO_MANY_TOKENS",
        limits.max_tokens,
        || {
            format!(
                "The query document has {} tokens and the limit is {}: send a smaller document.",
                counts.tokens, limits.max_tokens
            )
        },
    )?;
    refuse_unless(
        counts.directives <= limits.max_directives,
        "TOO_MANY_DIRECTIVES",
        limits.max_directives,
        || {
            format!(
                "The query document uses {} directives and the limit is {}.",
                counts.directives, limits.max_directives
            )
        },
    )
}

/// A refusal with `code` and the `limit` the client may go by, unless `within`.
fn refuse_unless(
    within: bool,
    code: &'static str,
    limit: usize,
    message: impl FnOnce() -> String,
) -> Result<(), ServerError> {
    if within {
        return Ok(());
    }
    Err(refusal(code, message(), |extensions| {
        extensions.set("limit", limit)
    }))
}

/// Counts the lexical tokens of a GraphQL document (names, numbers, strings and
/// punctuators; commas, white space and comments are not tokens), its directives (`@`) and
/// its deepest bracket nesting, in one pass.
pub fn count_text(query: &str) -> TextCounts {
    let mut counts = TextCounts::default();
    let mut depth = 0usize;
    let bytes = query.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => at += 1,
            b'#' => {
                while at < bytes.len() && bytes[at] != b'\n' && bytes[at] != b'\r' {
                    at += 1;
                }
            }
            b'"' => {
                counts.tokens += 1;
                at = if bytes[at..].starts_with(b"\"\"\"") {
                    skip_block_string(bytes, at + 3)
                } else {
                    skip_string(bytes, at + 1)
                };
            }
            b'{' | b'[' | b'(' => {
                counts.tokens += 1;
                depth += 1;
                counts.nesting = counts.nesting.max(depth);
                at += 1;
            }
            b'}' | b']' | b')' => {
                counts.tokens += 1;
                depth = depth.saturating_sub(1);
                at += 1;
            }
            b'@' => {
                counts.tokens += 1;
                counts.directives += 1;
                at += 1;
            }
            b'.' if bytes[at..].starts_with(b"...") => {
                counts.tokens += 1;
                at += 3;
            }
            _ if byte == b'_' || byte == b'-' || byte.is_ascii_alphanumeric() => {
                // A name or a number (with its sign, fraction and exponent): one token.
                counts.tokens += 1;
                at += 1;
                while at < bytes.len()
                    && (bytes[at] == b'_'
                        || bytes[at] == b'.' && !bytes[at..].starts_with(b"...")
                        || bytes[at].is_ascii_alphanumeric()
                        || (bytes[at] == b'+' || bytes[at] == b'-')
                            && matches!(bytes[at - 1], b'e' | b'E'))
                {
                    at += 1;
                }
            }
            _ => {
                // Any other punctuator (`!`, `$`, `:`, `=`, `|`, `&`) or stray character.
                counts.tokens += 1;
                at += 1;
            }
        }
    }
    counts
}

fn skip_string(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return at + 1,
            b'\n' | b'\r' => return at,
            _ => at += 1,
        }
    }
    at
}

fn skip_block_string(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() {
        if bytes[at..].starts_with(b"\\\"\"\"") {
            at += 4;
        } else if bytes[at..].starts_with(b"\"\"\"") {
            return at + 3;
        } else {
            at += 1;
        }
    }
    at
}

/// A document within its budget, with the variables its operation declares.
pub struct Checked {
    pub document: Arc<ExecutableDocument>,
    pub variables: Variables,
    pub kind: Option<OperationType>,
}

/// The whole document budget of an HTTP request: its text, its parse, then its price
/// (with the subscription limit for a subscription). Variables the operation does not
/// declare are dropped: GraphQL reads no others, and a request may carry megabytes of
/// them that nothing uses.
pub fn check(
    model: &SchemaModel,
    limits: &crate::state::Limits,
    query: &str,
    operation_name: Option<&str>,
    sent_variables: serde_json::Map<String, serde_json::Value>,
) -> Result<Checked, ServerError> {
    check_text(query, &limits.document(false))?;
    let parsed = ParsedDocument {
        document: Arc::new(parse(query)?),
        constant_price: Arc::default(),
    };
    check_parsed(model, limits, &parsed, operation_name, sent_variables)
}

/// [`check`] for a document parsed before (whose text passed [`check_text`]): its price
/// depends on the variables, so it is priced again, unless an earlier request found it
/// took none (`parsed.constant_price`).
pub fn check_parsed(
    model: &SchemaModel,
    limits: &crate::state::Limits,
    parsed: &ParsedDocument,
    operation_name: Option<&str>,
    mut sent_variables: serde_json::Map<String, serde_json::Value>,
) -> Result<Checked, ServerError> {
    let document = &parsed.document;
    if let Some(operation) = selected_operation(document, operation_name) {
        let declared: Vec<&str> = operation
            .variable_definitions
            .iter()
            .map(|definition| definition.node.name.node.as_str())
            .collect();
        sent_variables.retain(|name, _| declared.contains(&name.as_str()));
    }
    let variables = Variables::from_json(serde_json::Value::Object(sent_variables));
    let kind = operation_kind(document, operation_name);
    let limits = limits.document(kind == Some(OperationType::Subscription));
    // Kept only for a query, and used only for one: every limit is then the same as when
    // it was kept (a subscription's cost limit is lower, and the expanded selections are
    // checked against the cost limit too).
    let query = kind == Some(OperationType::Query);
    if !(query && parsed.constant_price.get().is_some()) {
        let priced = price(model, document, operation_name, &variables, &limits)?;
        // With one operation, the price is the same whichever name a request gives.
        if query && !priced.read_variables && document.operations.iter().count() == 1 {
            let _ = parsed.constant_price.set(priced.cost);
        }
    }
    Ok(Checked {
        document: document.clone(),
        variables,
        kind,
    })
}

/// A planned document kept parsed ([`crate::graphql::compiled::PlanCache::parsed`]), with
/// its price once a query request found it depends on no variable: pricing was about 3%
/// of a post page's server CPU (docs/benchmarks.md).
#[derive(Clone)]
pub struct ParsedDocument {
    pub document: Arc<ExecutableDocument>,
    pub constant_price: Arc<OnceLock<u64>>,
}

/// Parses a document whose text passed [`check_text`]; a syntax error is refused with
/// `GRAPHQL_PARSE_FAILED`, its position in `locations`.
pub fn parse(query: &str) -> Result<ExecutableDocument, ServerError> {
    async_graphql::parser::parse_query(query).map_err(|error| {
        let mut error = ServerError::from(error);
        error.message = plain_syntax_message(&error.message);
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", "GRAPHQL_PARSE_FAILED");
        error.extensions = Some(extensions);
        error
    })
}

/// The parser's message without its drawing of the source (`--> 1:11`, `|`, `^---`): one
/// sentence, the position being in `locations` already.
fn plain_syntax_message(message: &str) -> String {
    if !message.contains("-->") {
        return message.to_owned();
    }
    let detail = message
        .lines()
        .rev()
        .find_map(|line| line.trim().strip_prefix("= "))
        .unwrap_or("unexpected input");
    format!("Syntax error: {detail}.")
}

/// A document's cost, and whether it took any variable's value.
pub struct Price {
    pub cost: u64,
    read_variables: bool,
}

/// Prices `document` for the operation `operation_name` selects (all operations, when none
/// is selected yet), refusing it when any limit is passed. `max_cost` is the limit for
/// this kind of request (subscriptions have a lower one).
pub fn price(
    model: &SchemaModel,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
    limits: &DocumentLimits,
) -> Result<Price, ServerError> {
    check_aliases(document, limits)?;
    let mut pricer = Pricer {
        model,
        document,
        variables,
        defaults: HashMap::new(),
        limits,
        shapes: HashMap::new(),
        costs: HashMap::new(),
        meta_costs: HashMap::new(),
        read_variables: Cell::new(false),
    };
    let selected = selected_operation(document, operation_name);
    if let Some(operation) = selected {
        for definition in &operation.variable_definitions {
            if let Some(default) = &definition.node.default_value {
                pricer
                    .defaults
                    .insert(definition.node.name.node.as_str(), &default.node);
            }
        }
    }

    // Shape first: refuses cycles and excessive depth before anything recurses further.
    let mut expanded = 0u64;
    for (_, operation) in document.operations.iter() {
        let shape = pricer.shape(&operation.node.selection_set.node, 0)?;
        expanded = expanded.saturating_add(shape.expanded);
    }
    for name in document.fragments.keys() {
        let shape = pricer.fragment_shape(name.as_str(), 0)?;
        expanded = expanded.saturating_add(shape.expanded);
    }
    if expanded > limits.max_cost {
        return Err(too_complex(
            format!(
                "The document expands to {expanded} selections through its fragments and the limit is {}: spread fewer fragments, or each fewer times.",
                limits.max_cost
            ),
            expanded,
            limits.max_cost,
        ));
    }

    for (_, operation) in document.operations.iter() {
        check_root_fields(document, &operation.node.selection_set.node, limits)?;
    }
    let operations: Vec<&OperationDefinition> = match selected {
        Some(operation) => vec![operation],
        None => document
            .operations
            .iter()
            .map(|(_, operation)| &operation.node)
            .collect(),
    };
    let mut cost = 0u64;
    for operation in operations {
        let root = match operation.ty {
            OperationType::Query => model.query,
            OperationType::Mutation => model.mutation,
            OperationType::Subscription => model.subscription,
        };
        cost = cost.saturating_add(pricer.cost(&operation.selection_set.node, root));
    }
    if cost > limits.max_cost {
        return Err(too_complex(
            format!(
                "The query would cost {cost} and the limit is {}: each field costs 1 and each list or connection costs its page size (`first`/`last`, 20 when not given) times what it selects. Ask for fewer items or nest fewer lists.",
                limits.max_cost
            ),
            cost,
            limits.max_cost,
        ));
    }
    Ok(Price {
        cost,
        read_variables: pricer.read_variables.get(),
    })
}

fn too_complex(message: String, cost: u64, limit: u64) -> ServerError {
    refusal("QUERY_TOO_COMPLEX", message, |extensions| {
        extensions.set("cost", cost);
        extensions.set("limit", limit);
    })
}

fn too_deep(limits: &DocumentLimits) -> ServerError {
    refusal(
        "QUERY_TOO_DEEP",
        format!(
            "The query nests more than {} levels deep (fields, fragment spreads and inline fragments each open a level), and the limit is {}.",
            limits.max_depth, limits.max_depth
        ),
        |extensions| extensions.set("limit", limits.max_depth),
    )
}

/// A selection set's shape, independent of types: how deep it nests (each field, spread
/// and inline fragment is a level) and how many selections it expands to.
#[derive(Debug, Clone, Copy)]
struct Shape {
    depth: usize,
    expanded: u64,
}

enum Memo<T> {
    InProgress,
    Done(T),
}

/// What the introspection walk stands on: one object of the introspection answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Meta {
    Schema,
    Type(usize),
    Field(usize),
    InputValue(usize),
    EnumValue,
    Directive(usize),
}

impl Meta {
    fn type_name(self) -> &'static str {
        match self {
            Meta::Schema => "__Schema",
            Meta::Type(_) => "__Type",
            Meta::Field(_) => "__Field",
            Meta::InputValue(_) => "__InputValue",
            Meta::EnumValue => "__EnumValue",
            Meta::Directive(_) => "__Directive",
        }
    }
}

struct Pricer<'a> {
    model: &'a SchemaModel,
    document: &'a ExecutableDocument,
    variables: &'a Variables,
    defaults: HashMap<&'a str, &'a Value>,
    limits: &'a DocumentLimits,
    shapes: HashMap<&'a str, Memo<Shape>>,
    costs: HashMap<&'a str, u64>,
    /// Keyed by the selection set's address (stable while the document lives).
    meta_costs: HashMap<(usize, Meta), u64>,
    /// Whether an argument priced so far took a variable's value.
    read_variables: Cell<bool>,
}

impl<'a> Pricer<'a> {
    fn shape(&mut self, set: &'a SelectionSet, level: usize) -> Result<Shape, ServerError> {
        if level > self.limits.max_depth {
            return Err(too_deep(self.limits));
        }
        let mut shape = Shape {
            depth: 0,
            expanded: 0,
        };
        for item in &set.items {
            let (depth, expanded) = match &item.node {
                Selection::Field(field) => {
                    let inner = &field.node.selection_set.node;
                    let below = match inner.items.is_empty() {
                        true => Shape {
                            depth: 0,
                            expanded: 0,
                        },
                        false => self.shape(inner, level + 1)?,
                    };
                    (below.depth + 1, below.expanded.saturating_add(1))
                }
                Selection::InlineFragment(fragment) => {
                    let below = self.shape(&fragment.node.selection_set.node, level + 1)?;
                    (below.depth + 1, below.expanded.saturating_add(1))
                }
                Selection::FragmentSpread(spread) => {
                    let below =
                        self.fragment_shape(spread.node.fragment_name.node.as_str(), level + 1)?;
                    (below.depth + 1, below.expanded.saturating_add(1))
                }
            };
            if level + depth > self.limits.max_depth {
                return Err(too_deep(self.limits));
            }
            shape.depth = shape.depth.max(depth);
            shape.expanded = shape.expanded.saturating_add(expanded);
        }
        Ok(shape)
    }

    /// The shape of a named fragment, computed once; `level` is where it is first met (a
    /// fragment too deep there is too deep everywhere it is spread at least that deep, and
    /// the refusal ends the whole pricing).
    fn fragment_shape(&mut self, name: &'a str, level: usize) -> Result<Shape, ServerError> {
        match self.shapes.get(name) {
            Some(Memo::Done(shape)) => return Ok(*shape),
            Some(Memo::InProgress) => {
                return Err(refusal(
                    "GRAPHQL_VALIDATION_FAILED",
                    format!("Cannot spread fragment \"{name}\" within itself."),
                    |_| {},
                ));
            }
            None => {}
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            // Validation reports the unknown fragment.
            return Ok(Shape {
                depth: 0,
                expanded: 0,
            });
        };
        self.shapes.insert(name, Memo::InProgress);
        let shape = self.shape(&fragment.node.selection_set.node, level)?;
        self.shapes.insert(name, Memo::Done(shape));
        Ok(shape)
    }

    /// The cost of `set` on an object of the named type `of_type` (`None`: a type the
    /// schema does not have, which validation will refuse; each field then costs 1).
    fn cost(&mut self, set: &'a SelectionSet, of_type: Option<usize>) -> u64 {
        let mut cost = 0u64;
        for item in &set.items {
            let item_cost = match &item.node {
                Selection::Field(field) => self.field_cost(&field.node, of_type),
                Selection::InlineFragment(fragment) => {
                    let on = match &fragment.node.type_condition {
                        Some(condition) => self.model.type_named(condition.node.on.node.as_str()),
                        None => of_type,
                    };
                    self.cost(&fragment.node.selection_set.node, on)
                }
                Selection::FragmentSpread(spread) => {
                    self.fragment_cost(spread.node.fragment_name.node.as_str())
                }
            };
            cost = cost.saturating_add(item_cost);
        }
        cost
    }

    fn fragment_cost(&mut self, name: &'a str) -> u64 {
        if let Some(&cost) = self.costs.get(name) {
            return cost;
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return 0;
        };
        let on = self
            .model
            .type_named(fragment.node.type_condition.node.on.node.as_str());
        let cost = self.cost(&fragment.node.selection_set.node, on);
        self.costs.insert(name, cost);
        cost
    }

    fn field_cost(&mut self, field: &'a Field, of_type: Option<usize>) -> u64 {
        let inner = &field.selection_set.node;
        match field.name.node.as_str() {
            "__typename" => return 1,
            "__schema" => return 1u64.saturating_add(self.meta_cost(inner, Meta::Schema)),
            "__type" => {
                let named = self
                    .string_argument(field, "name")
                    .and_then(|name| self.model.type_named(&name));
                return 1u64.saturating_add(named.map_or(0, |named| {
                    self.meta_cost(inner, Meta::Type(self.model.types[named].as_ref))
                }));
            }
            _ => {}
        }
        let model = self.model;
        let Some(definition) = of_type.and_then(|of_type| model.field(of_type, &field.name.node))
        else {
            // Not in the schema: validation refuses it; its selections still count.
            return 1u64.saturating_add(self.cost(inner, None));
        };
        let parent = of_type.map_or("", |of_type| model.types[of_type].name.as_str());
        let count = match items(model, parent, &definition.name, definition.base) {
            Items::One => 1,
            Items::Fixed(bound) => bound,
            Items::Page { default } => self.page_size(field, default),
            Items::Ids => self
                .list_argument_len(field, "ids")
                .unwrap_or(0)
                .min(MAX_PAGE_SIZE),
            Items::Unpriced => MAX_PAGE_SIZE,
        };
        let below = match inner.items.is_empty() {
            true => 0,
            false => self.cost(inner, Some(definition.base)),
        };
        1u64.saturating_add(count.saturating_mul(below))
    }

    /// The cost of `set` on one introspection object, exactly: lists are walked.
    fn meta_cost(&mut self, set: &'a SelectionSet, on: Meta) -> u64 {
        let key = (std::ptr::from_ref(set) as usize, on);
        if let Some(&cost) = self.meta_costs.get(&key) {
            return cost;
        }
        let mut cost = 0u64;
        for item in &set.items {
            let item_cost = match &item.node {
                Selection::Field(field) => self.meta_field_cost(&field.node, on),
                Selection::InlineFragment(fragment) => {
                    let applies = fragment
                        .node
                        .type_condition
                        .as_ref()
                        .is_none_or(|condition| condition.node.on.node == on.type_name());
                    match applies {
                        true => self.meta_cost(&fragment.node.selection_set.node, on),
                        false => 0,
                    }
                }
                Selection::FragmentSpread(spread) => {
                    match self.document.fragments.get(&spread.node.fragment_name.node) {
                        Some(fragment)
                            if fragment.node.type_condition.node.on.node == on.type_name() =>
                        {
                            self.meta_cost(&fragment.node.selection_set.node, on)
                        }
                        _ => 0,
                    }
                }
            };
            cost = cost.saturating_add(item_cost);
        }
        self.meta_costs.insert(key, cost);
        cost
    }

    fn meta_field_cost(&mut self, field: &'a Field, on: Meta) -> u64 {
        let model = self.model;
        let inner = &field.selection_set.node;
        let named = |reference: usize| match model.refs[reference] {
            TypeRef::Named(named) => Some(&model.types[named]),
            _ => None,
        };
        let root = |named: Option<usize>| -> Vec<Meta> {
            named
                .map(|named| Meta::Type(model.types[named].as_ref))
                .into_iter()
                .collect()
        };
        let children: Vec<Meta> = match (on, field.name.node.as_str()) {
            (Meta::Schema, "types") => model
                .all_types()
                .map(|named| Meta::Type(model.types[named].as_ref))
                .collect(),
            (Meta::Schema, "queryType") => root(model.query),
            (Meta::Schema, "mutationType") => root(model.mutation),
            (Meta::Schema, "subscriptionType") => root(model.subscription),
            (Meta::Schema, "directives") => {
                (0..model.directives.len()).map(Meta::Directive).collect()
            }
            (Meta::Type(reference), "fields") => named(reference)
                .map(|named| {
                    named
                        .fields
                        .iter()
                        .map(|&field| Meta::Field(field))
                        .collect()
                })
                .unwrap_or_default(),
            (Meta::Type(reference), "interfaces") => named(reference)
                .map(|named| {
                    named
                        .interfaces
                        .iter()
                        .map(|&interface| Meta::Type(model.types[interface].as_ref))
                        .collect()
                })
                .unwrap_or_default(),
            (Meta::Type(reference), "possibleTypes") => named(reference)
                .map(|named| {
                    named
                        .possible_types
                        .iter()
                        .map(|&possible| Meta::Type(model.types[possible].as_ref))
                        .collect()
                })
                .unwrap_or_default(),
            (Meta::Type(reference), "enumValues") => named(reference)
                .filter(|named| named.kind == Kind::Enum)
                .map(|named| vec![Meta::EnumValue; named.enum_values])
                .unwrap_or_default(),
            (Meta::Type(reference), "inputFields") => named(reference)
                .map(|named| {
                    named
                        .input_fields
                        .iter()
                        .map(|&value| Meta::InputValue(value))
                        .collect()
                })
                .unwrap_or_default(),
            (Meta::Type(reference), "ofType") => match model.refs[reference] {
                TypeRef::List(inner) | TypeRef::NonNull(inner) => vec![Meta::Type(inner)],
                TypeRef::Named(_) => Vec::new(),
            },
            (Meta::Field(field), "args") => model.fields[field]
                .args
                .iter()
                .map(|&value| Meta::InputValue(value))
                .collect(),
            (Meta::Field(field), "type") => vec![Meta::Type(model.fields[field].ty)],
            (Meta::InputValue(value), "type") => vec![Meta::Type(model.input_values[value].ty)],
            (Meta::Directive(directive), "args") => model.directives[directive]
                .args
                .iter()
                .map(|&value| Meta::InputValue(value))
                .collect(),
            // Scalars, enums, lists of them, `__typename`, and fields introspection does
            // not have (validation refuses those).
            _ => Vec::new(),
        };
        let mut cost = 1u64;
        if !inner.items.is_empty() {
            for child in children {
                cost = cost.saturating_add(self.meta_cost(inner, child));
            }
        }
        cost
    }

    /// The value of an argument, with variables (or their defaults) substituted; `None`
    /// when a variable it uses has neither.
    fn argument(&self, field: &Field, name: &str) -> Option<Value> {
        field
            .get_argument(name)?
            .node
            .clone()
            .into_const_with(|variable| {
                self.read_variables.set(true);
                self.variables
                    .get(&variable)
                    .cloned()
                    .or_else(|| {
                        self.defaults
                            .get(variable.as_str())
                            .map(|value| (*value).clone())
                    })
                    .ok_or(())
            })
            .ok()
    }

    fn int_argument(&self, field: &Field, name: &str) -> Option<i64> {
        match self.argument(field, name)? {
            Value::Number(number) => number.as_i64(),
            _ => None,
        }
    }

    fn string_argument(&self, field: &Field, name: &str) -> Option<String> {
        match self.argument(field, name)? {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    fn list_argument_len(&self, field: &Field, name: &str) -> Option<u64> {
        match self.argument(field, name)? {
            Value::List(items) => u64::try_from(items.len()).ok(),
            // A single value where a list is expected is a list of one.
            Value::Null => Some(0),
            _ => Some(1),
        }
    }

    /// The page a connection or paged list field asks for: `last`, else `first`, else
    /// the field's default; never more than the largest page.
    fn page_size(&self, field: &Field, default: u64) -> u64 {
        let asked = self
            .int_argument(field, "last")
            .or_else(|| self.int_argument(field, "first"));
        match asked {
            Some(size) => u64::try_from(size).unwrap_or(0).min(MAX_PAGE_SIZE),
            None => default,
        }
    }
}

/// How many items a field can return, as the cost counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Items {
    /// Not a list.
    One,
    /// A list no longer than this, whatever the arguments.
    Fixed(u64),
    /// A page: `first`/`last`, `default` when neither is given, 100 at most (connections
    /// and paged lists).
    Page { default: u64 },
    /// As many as the `ids` argument holds (at most 100).
    Ids,
    /// A list this table does not know: priced as the largest page (a test fails for it).
    Unpriced,
}

/// The one table of list sizes: every list field of the schema is here, or is a
/// connection (priced by its page), or a connection's `edges`/`nodes` (the connection's
/// page already multiplies them).
pub fn items(model: &SchemaModel, parent: &str, field: &str, base: usize) -> Items {
    let returns = model.types[base].name.as_str();
    if returns.ends_with("Connection") {
        return Items::Page {
            default: DEFAULT_PAGE_SIZE,
        };
    }
    match (parent, field) {
        (connection, "edges" | "nodes") if connection.ends_with("Connection") => Items::One,
        ("Post", "tags") => Items::Fixed(super::MAX_POST_TAGS as u64),
        ("Channel", "syndicationUrls") => Items::Fixed(2),
        ("Query", "channels") => Items::Fixed(gazette_domain::channels::MAX_CHANNELS as u64),
        ("Query", "nodes") => Items::Ids,
        ("Query", "webhooks") => Items::Fixed(gazette_domain::webhooks::MAX_WEBHOOKS as u64),
        ("Webhook", "events") => Items::Fixed(gazette_domain::webhooks::EVENT_TYPES.len() as u64),
        ("Webhook", "deliveries") => Items::Page { default: 10 },
        (
            "Query",
            "federationFollowers"
            | "federationDeliveries"
            | "federationFollowing"
            | "federationReplies",
        ) => Items::Page { default: 20 },
        ("Query", "federationBlocks") => Items::Fixed(super::federation::MAX_BLOCKS_SHOWN),
        ("Query", "feeds" | "socialSummaries") => Items::Page {
            default: MAX_PAGE_SIZE,
        },
        ("ChannelDigest", "publishedPosts" | "feedback") => Items::Page {
            default: DEFAULT_PAGE_SIZE,
        },
        _ => {
            let is_list = model
                .type_named(parent)
                .and_then(|parent| model.field(parent, field))
                .is_some_and(|definition| definition.is_list);
            match is_list {
                true => Items::Unpriced,
                false => Items::One,
            }
        }
    }
}

fn check_aliases(
    document: &ExecutableDocument,
    limits: &DocumentLimits,
) -> Result<(), ServerError> {
    let aliases = document
        .operations
        .iter()
        .map(|(_, operation)| count_aliases(&operation.node.selection_set.node))
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

fn check_root_fields(
    document: &ExecutableDocument,
    selection_set: &SelectionSet,
    limits: &DocumentLimits,
) -> Result<(), ServerError> {
    let mut visited = Vec::new();
    let roots = count_root_fields(document, selection_set, &mut visited);
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
    Ok(())
}

/// Root fields, through fragments (each named fragment counted once per operation).
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

/// The kind of operation `operation_name` selects in `document`.
pub fn operation_kind(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<OperationType> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(operation.node.ty),
        _ => selected_operation(document, operation_name).map(|operation| operation.ty),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::LazyLock;

    static MODEL: LazyLock<SchemaModel> =
        LazyLock::new(|| SchemaModel::from_sdl(&crate::graphql::types_sdl()).expect("model"));

    fn limits() -> DocumentLimits {
        DocumentLimits {
            max_bytes: 32 * 1024,
            max_tokens: 2_000,
            max_directives: 50,
            max_nesting: 80,
            max_depth: 32,
            max_aliases: 30,
            max_root_fields: 20,
            max_cost: 20_000,
        }
    }

    fn priced(query: &str) -> Result<u64, String> {
        priced_with(query, serde_json::json!({}))
    }

    fn priced_with(query: &str, variables: serde_json::Value) -> Result<u64, String> {
        let document = async_graphql::parser::parse_query(query).map_err(|e| e.to_string())?;
        price(
            &MODEL,
            &document,
            None,
            &Variables::from_json(variables),
            &limits(),
        )
        .map(|price| price.cost)
        .map_err(|error| {
            format!(
                "{}: {}",
                error
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get("code"))
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                error.message
            )
        })
    }

    fn fragment_bomb(levels: usize) -> String {
        let mut query = String::from("query { ...F0 }");
        for level in 0..levels {
            query.push_str(&format!(
                " fragment F{level} on Query {{ ...F{next} ...F{next} }}",
                next = level + 1
            ));
        }
        query.push_str(&format!(" fragment F{levels} on Query {{ __typename }}"));
        query
    }

    #[test]
    fn fields_lists_and_connections_are_priced() {
        assert_eq!(priced("{ __typename }"), Ok(1));
        assert_eq!(priced("{ posts { totalCount } }"), Ok(21));
        assert_eq!(
            priced("{ posts(first: 5) { nodes { id tags { name } } } }"),
            Ok(1 + 5 * (1 + 1 + 1 + 20))
        );
        assert_eq!(
            priced_with(
                "query($n: Int) { posts(first: $n) { totalCount } }",
                serde_json::json!({ "n": 50 })
            ),
            Ok(51)
        );
        assert_eq!(
            priced("query($n: Int = 3) { posts(first: $n) { totalCount } }"),
            Ok(4)
        );
        assert_eq!(
            priced(r#"{ nodes(ids: ["a", "b", "c"]) { __typename } }"#),
            Ok(4)
        );
    }

    #[test]
    fn a_fragment_bomb_is_refused_without_being_expanded() {
        let error = priced(&fragment_bomb(22)).expect_err("refused");
        assert!(error.starts_with("\"QUERY_TOO_COMPLEX\""), "{error}");
        // 2^22 paths through 2 * 2^22 spreads, from the operation and from every fragment.
        let expanded: u64 = error
            .split("expands to ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|number| number.parse().ok())
            .expect("the expansion is named");
        assert!(expanded > 4 * 1024 * 1024, "{error}");
        // Thirty levels would be 2^30 selections: still priced at once (memoised).
        let error = priced(&fragment_bomb(30)).expect_err("refused");
        assert!(error.starts_with("\"QUERY_TOO_COMPLEX\""), "{error}");
        // Past the depth limit, the depth refuses it first.
        let error = priced(&fragment_bomb(60)).expect_err("refused");
        assert!(error.starts_with("\"QUERY_TOO_DEEP\""), "{error}");
    }

    #[test]
    fn fragment_cycles_and_depth_are_refused() {
        let error = priced("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }")
            .expect_err("a cycle");
        assert!(error.contains("within itself"), "{error}");
        let deep = format!(
            "{{ __schema {{ types {{ {}name{} }} }} }}",
            "ofType { ".repeat(32),
            " }".repeat(32)
        );
        assert!(
            priced(&deep)
                .expect_err("too deep")
                .contains("QUERY_TOO_DEEP")
        );
        let mut chain = String::from("{ ...F0 }");
        for level in 0..40 {
            chain.push_str(&format!(
                " fragment F{level} on Query {{ ...F{} }}",
                level + 1
            ));
        }
        chain.push_str(" fragment F40 on Query { __typename }");
        assert!(
            priced(&chain)
                .expect_err("too deep")
                .contains("QUERY_TOO_DEEP")
        );
    }

    #[test]
    fn introspection_is_priced_by_what_it_returns() {
        let full = include_str!("testdata/introspection.graphql");
        let cost = priced(full).expect("the full introspection query passes");
        assert!(cost > 3_000, "{cost}");
        // Nested possibleTypes/interfaces: each level multiplies what is built.
        let mut nested = String::from(r#"{ __type(name: "Node") { possibleTypes { ...L1 } } }"#);
        for level in 1..=8 {
            nested.push_str(&format!(
                " fragment L{level} on __Type {{ name interfaces {{ possibleTypes {{ ...L{} }} }} }}",
                level + 1
            ));
        }
        nested.push_str(" fragment L9 on __Type { name }");
        let refused = priced(&nested).expect_err("refused");
        assert!(refused.contains("would cost 3417967"), "{refused}");
        assert_eq!(
            priced(r#"{ __type(name: "Node") { possibleTypes { name } } }"#),
            Ok(1 + 1 + 5)
        );
        assert_eq!(
            priced(r#"{ __type(name: "Nope") { possibleTypes { name } } }"#),
            Ok(1)
        );
    }

    /// Every field of the answer counted once, as the cost counts them.
    fn fields_in(value: &serde_json::Value) -> u64 {
        match value {
            serde_json::Value::Object(object) => {
                object.values().map(|child| 1 + fields_in(child)).sum()
            }
            serde_json::Value::Array(items) => items.iter().map(fields_in).sum(),
            _ => 0,
        }
    }

    #[tokio::test]
    async fn the_introspection_price_is_what_the_schema_answers() {
        let schema = crate::graphql::schema_builder().finish();
        for query in [
            include_str!("testdata/introspection.graphql"),
            r#"{ __type(name: "Node") { possibleTypes { name interfaces { name possibleTypes { name } } } } }"#,
            r#"{ __type(name: "Post") { fields { name args { name type { kind ofType { name } } } } } }"#,
        ] {
            let response = schema.execute(query).await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            let answer = serde_json::to_value(&response.data).expect("json");
            let cost = priced(query).expect("priced");
            assert_eq!(cost, fields_in(&answer), "{query}");
        }
    }

    #[test]
    fn every_list_field_has_a_size() {
        for named in MODEL.all_types() {
            let parent = &MODEL.types[named];
            if parent.name.starts_with("__") {
                continue;
            }
            for &field in &parent.fields {
                let field = &MODEL.fields[field];
                assert_ne!(
                    items(&MODEL, &parent.name, &field.name, field.base),
                    Items::Unpriced,
                    "{}.{} is a list without a size in `items`",
                    parent.name,
                    field.name
                );
            }
        }
    }

    #[test]
    fn a_price_that_takes_no_variable_is_kept_and_compared_with_each_requests_limit() {
        let limits = crate::state::Limits::default();
        let parsed = |query: &str| ParsedDocument {
            document: Arc::new(parse(query).expect("parses")),
            constant_price: Arc::default(),
        };
        let check = |parsed: &ParsedDocument, name: Option<&str>, variables: serde_json::Value| {
            let variables = variables.as_object().cloned().unwrap_or_default();
            check_parsed(&MODEL, &limits, parsed, name, variables)
                .map(|_| ())
                .map_err(|error| error.message)
        };

        // A page size written in the document: priced once, the price kept.
        let written = "query Page($slug: String!) { post(slug: $slug) { thread(first: 100) { nodes { id } } } }";
        let page = parsed(written);
        assert_eq!(
            check(&page, None, serde_json::json!({ "slug": "a" })),
            Ok(())
        );
        assert_eq!(page.constant_price.get().copied(), priced(written).ok());
        assert_eq!(
            check(&page, Some("Page"), serde_json::json!({ "slug": "b" })),
            Ok(())
        );

        // A page size from a variable: priced again on every request.
        let asked = parsed("query Page($n: Int) { posts(first: $n) { nodes { id } } }");
        assert_eq!(check(&asked, None, serde_json::json!({ "n": 5 })), Ok(()));
        assert_eq!(asked.constant_price.get(), None);
        let deep = parsed(
            "query Page($n: Int) { posts(first: $n) { nodes { thread(first: 100) { nodes { id } } } } }",
        );
        assert_eq!(check(&deep, None, serde_json::json!({ "n": 1 })), Ok(()));
        let refused = check(&deep, None, serde_json::json!({ "n": 100 }));
        assert!(refused.is_err_and(|message| message.contains("would cost")));

        // A subscription costing more than its lower limit, priced first under the query
        // limit (an operation name it does not have), is not kept, and is refused under
        // its own.
        let subscription = parsed(
            "subscription Added { commentAdded(postId: \"UG9zdDox\") { post { thread(first: 100) { nodes { id } } } } }",
        );
        assert_eq!(
            check(&subscription, Some("Other"), serde_json::json!({})),
            Ok(())
        );
        assert_eq!(subscription.constant_price.get(), None);
        let refused = check(&subscription, Some("Added"), serde_json::json!({}));
        assert!(refused.is_err_and(|message| message.contains("would cost")));
    }

    #[test]
    fn tokens_directives_and_nesting_are_counted_before_parsing() {
        let counts = count_text(
            r#"query Q($a: Int = -1.5e+3) { a(x: [1, "s{"]) @skip(if: true) ...F } # { {"#,
        );
        assert_eq!(counts.directives, 1);
        assert_eq!(counts.nesting, 3);
        // query Q ( $ a : Int = -1.5e+3 ) { a ( x : [ 1 "s{" ] ) @ skip ( if : true ) ... F }
        assert_eq!(counts.tokens, 30);
        assert_eq!(count_text(r#"{ a(s: """ {{{ \""" """) }"#).nesting, 2);
        assert_eq!(count_text("{ a { b(x: [1, [2]]) } }").nesting, 5);
    }
}
