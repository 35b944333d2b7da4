//! Compiled reads: a query the planner covers (`post`, `posts`, `tag`, `tags`, `author`,
//! `authors`, `node`, `nodes` and what hangs below them: authors, tags, counts, comments,
//! threads, replies, parents) is planned once per
//! document, its rows loaded with the store's own reads (one statement per field per
//! level, the visibility rule of `store::visibility`), and its answer written as JSON in
//! one pass — no future, no `Value` and no map per field, no second validation. Anything
//! else, and any request the plan would answer differently (an error of any kind, a
//! variable of the wrong type, an answer over its budget), runs on the resolvers, which
//! stay the reference: the differential test (tests/e2e/compiled.rs) requires both paths
//! to give the same answers.

mod json;
mod load;
mod plan;
mod write;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use async_graphql::Variables;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use gazette_store::{ReadBudget, Reader, SiteConfig, StoreError, WarmConnections};

use crate::graphql::errors::ApiError;
use crate::graphql::pricing::ParsedDocument;
pub use plan::{Plan, compile};

/// Why a plan did not answer: the resolvers answer instead (with the error, if any).
#[derive(Debug)]
pub struct Fallback;

impl From<StoreError> for Fallback {
    fn from(_: StoreError) -> Self {
        Self
    }
}

impl From<ApiError> for Fallback {
    fn from(_: ApiError) -> Self {
        Self
    }
}

/// Runs `plan` for a request: the response body, or [`Fallback`].
pub async fn run(
    plan: &Plan,
    variables: &Variables,
    warm: &WarmConnections,
    reader: Reader,
    budget: &ReadBudget,
    site: &SiteConfig,
) -> Result<Vec<u8>, Fallback> {
    let loads = load::Loads::new(plan, variables, warm, reader, budget)?;
    let loaded = loads.load().await;
    loads.release(loaded.is_ok()).await;
    loaded?;
    write::Writer::new(&loads, site, budget).answer()
}

/// The most documents whose plans (or the lack of one) are kept, and the most bytes of
/// their text: past either, the cache starts again empty. Documents are priced and
/// validated before they get here, so a flood of distinct ones costs a plan each, never
/// unbounded memory.
const MAX_DOCUMENTS: usize = 1_000;
const MAX_DOCUMENT_BYTES: usize = 4 * 1024 * 1024;
/// The most plan fields all kept plans hold (each a few hundred bytes).
const MAX_PLANNED_FIELDS: usize = 50_000;
/// Planned documents up to this long are also kept parsed, so their requests skip the
/// parse (a tenth of a small read's CPU); the parse is counted against
/// `MAX_DOCUMENT_BYTES` at this many bytes per node of its tree (a field with its name,
/// position and vectors takes about 200).
const MAX_PARSED_DOCUMENT_BYTES: usize = 2048;
const BYTES_PER_PARSED_NODE: usize = 256;

/// Plans by document text and operation name; `None` records that a document has none.
#[derive(Default)]
pub struct PlanCache {
    enabled: bool,
    plans: RwLock<Documents>,
}

/// A document's operations by name, each with its plan if it has one.
type Operations = Vec<(Option<String>, Option<Arc<Plan>>)>;

#[derive(Default)]
struct Documents {
    by_text: HashMap<String, Document>,
    bytes: usize,
    fields: usize,
}

#[derive(Default)]
struct Document {
    operations: Operations,
    /// Kept for a short document with a plan, with what it is counted as.
    parsed: Option<(ParsedDocument, usize)>,
}

impl Document {
    fn planned(&self) -> bool {
        self.operations.iter().any(|(_, plan)| plan.is_some())
    }

    /// What the document counts against `MAX_DOCUMENT_BYTES`.
    fn bytes(&self, text: &str) -> usize {
        text.len() + self.parsed.as_ref().map_or(0, |(_, bytes)| *bytes)
    }
}

/// What the cache knows of a document.
pub enum Known {
    /// Not seen yet (or compiled reads are off): run it on the resolvers.
    Unknown,
    NoPlan,
    Plan(Arc<Plan>),
}

impl PlanCache {
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            plans: RwLock::default(),
        }
    }

    pub fn get(&self, query: &str, operation_name: Option<&str>) -> Known {
        if !self.enabled {
            return Known::Unknown;
        }
        let Ok(documents) = self.plans.read() else {
            return Known::Unknown;
        };
        let found = documents.by_text.get(query).and_then(|document| {
            document
                .operations
                .iter()
                .find(|(name, _)| name.as_deref() == operation_name)
        });
        match found {
            None => Known::Unknown,
            Some((_, None)) => Known::NoPlan,
            Some((_, Some(plan))) => Known::Plan(plan.clone()),
        }
    }

    /// A planned document's parse, when it is kept.
    pub fn parsed(&self, query: &str) -> Option<ParsedDocument> {
        if !self.enabled || query.len() > MAX_PARSED_DOCUMENT_BYTES {
            return None;
        }
        let documents = self.plans.read().ok()?;
        let (parsed, _) = documents.by_text.get(query)?.parsed.as_ref()?;
        Some(parsed.clone())
    }

    /// Plans a document the resolvers have just run (so it is valid), once.
    pub fn learn(
        &self,
        query: &str,
        operation_name: Option<&str>,
        document: &Arc<ExecutableDocument>,
    ) {
        if !self.enabled || !matches!(self.get(query, operation_name), Known::Unknown) {
            return;
        }
        let plan = compile(document, operation_name).map(Arc::new);
        let fields = plan.as_ref().map_or(0, |plan| plan.slots);
        let parsed = (plan.is_some() && query.len() <= MAX_PARSED_DOCUMENT_BYTES).then(|| {
            let parsed = ParsedDocument {
                document: document.clone(),
                constant_price: Arc::default(),
            };
            (parsed, parsed_nodes(document) * BYTES_PER_PARSED_NODE)
        });
        let bytes = query.len() + parsed.as_ref().map_or(0, |(_, bytes)| *bytes);
        let Ok(mut documents) = self.plans.write() else {
            return;
        };
        let full = |documents: &Documents| {
            documents.by_text.len() >= MAX_DOCUMENTS
                || documents.bytes + bytes > MAX_DOCUMENT_BYTES
                || documents.fields + fields > MAX_PLANNED_FIELDS
        };
        // Full: documents without a plan go first, so a flood of them (cheap to send)
        // does not evict the plans of the pages readers ask for; past that, all go.
        let mut dropped = Documents::default();
        if full(&documents) {
            documents.by_text.retain(|text, document| {
                let planned = document.planned();
                if !planned {
                    dropped.bytes += document.bytes(text);
                }
                planned
            });
            documents.bytes -= dropped.bytes;
            if full(&documents) {
                dropped = std::mem::take(&mut *documents);
            }
        }
        let known = documents.by_text.contains_key(query);
        let document = documents.by_text.entry(query.to_owned()).or_default();
        let before = if known { document.bytes(query) } else { 0 };
        // Another request may have learnt the operation since `get` above.
        let new = !document
            .operations
            .iter()
            .any(|(name, _)| name.as_deref() == operation_name);
        if new {
            document
                .operations
                .push((operation_name.map(str::to_owned), plan));
        }
        if document.parsed.is_none() {
            document.parsed = parsed;
        }
        let after = document.bytes(query);
        documents.bytes += after - before;
        if new {
            documents.fields += fields;
        }
        // What was evicted is freed after the lock is released.
        drop(documents);
        drop(dropped);
    }
}

/// How many nodes a parsed document's tree has: selections, arguments and directives, in
/// its operations and fragments (what its memory grows with: 2 KB of `id id id…` is 700
/// fields, merged into one field of one plan).
fn parsed_nodes(document: &ExecutableDocument) -> usize {
    /// An argument's value, each item of a list or an object counted (`nodes`' ids).
    fn value_nodes(value: &async_graphql_value::Value) -> usize {
        use async_graphql_value::Value;
        1 + match value {
            Value::List(items) => items.iter().map(value_nodes).sum(),
            Value::Object(fields) => fields.values().map(value_nodes).sum(),
            _ => 0,
        }
    }
    fn selections(set: &SelectionSet) -> usize {
        set.items
            .iter()
            .map(|item| {
                1 + match &item.node {
                    Selection::Field(field) => {
                        field
                            .node
                            .arguments
                            .iter()
                            .map(|(_, value)| value_nodes(&value.node))
                            .sum::<usize>()
                            + field.node.directives.len()
                            + selections(&field.node.selection_set.node)
                    }
                    Selection::FragmentSpread(spread) => spread.node.directives.len(),
                    Selection::InlineFragment(inline) => {
                        inline.node.directives.len() + selections(&inline.node.selection_set.node)
                    }
                }
            })
            .sum()
    }
    let operations: usize = document
        .operations
        .iter()
        .map(|(_, operation)| {
            1 + operation.node.variable_definitions.len()
                + operation.node.directives.len()
                + selections(&operation.node.selection_set.node)
        })
        .sum();
    let fragments: usize = document
        .fragments
        .values()
        .map(|fragment| {
            1 + fragment.node.directives.len() + selections(&fragment.node.selection_set.node)
        })
        .sum();
    operations + fragments
}
