//! A validated query document turned into a plan: for each field below a root field the
//! planner covers, what it is (an enum per type, no names left to look up), its response
//! key, and its arguments (literals, or variables read at run time). Fragments are
//! inlined and fields asked for twice under one key are merged, as GraphQL's
//! `CollectFields` does. A document with anything else (directives, other root fields,
//! fields the planner does not know, list or input-object variables) gets no plan and
//! runs on the resolvers.

use std::sync::atomic::AtomicUsize;

use async_graphql::Name;
use async_graphql::Value as ConstValue;
use async_graphql::parser::types::{
    BaseType, ExecutableDocument, Field as QueryField, OperationType, Selection as Item,
    SelectionSet,
};
use async_graphql_value::Value;

use crate::graphql::response_order::selected_operation;

/// The deepest a plan follows fragments inside fragments (a valid document has no
/// cycles; this bounds the walk of any document).
const MAX_FRAGMENT_DEPTH: usize = 32;

/// The most fields one plan holds (fragments inlined): a larger document runs on the
/// resolvers, so a small document whose fragments expand to thousands of fields cannot
/// make the plan cache hold megabytes per entry.
pub const MAX_PLAN_FIELDS: usize = 1_000;

/// The most ids `nodes` takes (its resolver refuses more).
pub const MAX_NODES: usize = 100;

/// A query operation the planner covers.
#[derive(Debug)]
pub struct Plan {
    pub fields: Selection<RootField>,
    pub variables: Vec<VariableSpec>,
    /// How many fields the plan has: each has a slot for what it loads.
    pub slots: usize,
    /// The length of the plan's last answer: the next one's buffer starts this big, so
    /// it is not copied over as it grows.
    pub answer_bytes: AtomicUsize,
}

/// A declared variable: its values are checked against its type before a plan runs, so
/// a request the resolvers would refuse never gets an answer here.
#[derive(Debug)]
pub struct VariableSpec {
    pub name: Name,
    pub kind: ScalarKind,
    pub required: bool,
    pub default: Option<ConstValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    Int,
    String,
    Id,
    Boolean,
    CommentOrder,
    /// `[ID!]`, as `nodes` takes.
    IdList,
}

/// An argument as the document gives it.
#[derive(Debug, Clone)]
pub enum Arg {
    Absent,
    Literal(ConstValue),
    Variable(Name),
}

/// One field of a selection: its response key, its slot (where what it loads is kept),
/// and what it is.
#[derive(Debug)]
pub struct Field<K> {
    pub key: Name,
    pub slot: usize,
    /// How many times the document asks for it here, across the selections of every
    /// occurrence of its parent (fragments and repeated parents): the resolvers resolve,
    /// and charge, each one.
    pub occurrences: usize,
    pub kind: K,
}

pub type Selection<K> = Vec<Field<K>>;

#[derive(Debug)]
pub struct PageArgs {
    pub first: Arg,
    pub after: Arg,
    pub last: Arg,
    pub before: Arg,
}

#[derive(Debug)]
pub enum RootField {
    Typename,
    Post {
        id: Arg,
        slug: Arg,
        selection: Selection<PostField>,
    },
    Posts {
        page: PageArgs,
        selection: Selection<ConnectionField<PostField>>,
    },
    Tag {
        id: Arg,
        slug: Arg,
        selection: Selection<TagField>,
    },
    Tags {
        page: PageArgs,
        selection: Selection<ConnectionField<TagField>>,
    },
    Author {
        id: Arg,
        slug: Arg,
        selection: Selection<AuthorField>,
    },
    Authors {
        page: PageArgs,
        selection: Selection<ConnectionField<AuthorField>>,
    },
    /// `node(id:)`: the selection planned for each type the id may name (a channel's
    /// is left to the resolvers).
    Node {
        id: Arg,
        selections: NodeSelections,
    },
    /// `nodes(ids:)`, planned as `node` is.
    Nodes {
        ids: Arg,
        selections: NodeSelections,
    },
}

/// A `Node` field's selection, as it applies to each type.
#[derive(Debug)]
pub struct NodeSelections {
    pub post: Selection<PostField>,
    pub comment: Selection<CommentField>,
    pub tag: Selection<TagField>,
    pub author: Selection<AuthorField>,
}

#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per document, and read, never moved, per request"
)]
pub enum PostField {
    Typename,
    Id,
    Slug,
    Title,
    Body,
    BodyHtml,
    Excerpt,
    Status,
    PublishedAt,
    CreatedAt,
    UpdatedAt,
    CommentsOpen,
    Url,
    CommentsFeedUrl,
    CommentCount,
    Author(Selection<AuthorField>),
    Tags(Selection<TagField>),
    Comments {
        page: PageArgs,
        order: Arg,
        selection: Selection<ConnectionField<CommentField>>,
    },
    Thread {
        first: Arg,
        after: Arg,
        selection: Selection<ConnectionField<CommentField>>,
    },
}

#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "built once per document, and read, never moved, per request"
)]
pub enum CommentField {
    Typename,
    Id,
    Body,
    BodyHtml,
    Status,
    Depth,
    CreatedAt,
    UpdatedAt,
    ReplyCount,
    Author(Selection<CommentAuthorField>),
    Parent(Selection<CommentField>),
    Post(Selection<PostField>),
    Replies {
        page: PageArgs,
        selection: Selection<ConnectionField<CommentField>>,
    },
}

#[derive(Debug)]
pub enum CommentAuthorField {
    Typename,
    Name,
    Url,
}

#[derive(Debug)]
pub enum AuthorField {
    Typename,
    Id,
    Slug,
    Name,
    Bio,
    Url,
}

#[derive(Debug)]
pub enum TagField {
    Typename,
    Id,
    Slug,
    Name,
    FeedUrl,
}

#[derive(Debug)]
pub enum ConnectionField<N> {
    Typename,
    Edges(Selection<EdgeField<N>>),
    Nodes(Selection<N>),
    PageInfo(Selection<PageInfoField>),
    TotalCount,
}

#[derive(Debug)]
pub enum EdgeField<N> {
    Typename,
    Cursor,
    Node(Selection<N>),
}

#[derive(Debug)]
pub enum PageInfoField {
    Typename,
    HasNextPage,
    HasPreviousPage,
    StartCursor,
    EndCursor,
}

/// The plan of `operation_name` in `document` (already validated), or `None` when the
/// planner does not cover it.
pub fn compile(document: &ExecutableDocument, operation_name: Option<&str>) -> Option<Plan> {
    let operation = selected_operation(document, operation_name)?;
    if operation.ty != OperationType::Query || !operation.directives.is_empty() {
        return None;
    }
    let variables = operation
        .variable_definitions
        .iter()
        .map(|definition| {
            let definition = &definition.node;
            if !definition.directives.is_empty() {
                return None;
            }
            let kind = match &definition.var_type.node.base {
                BaseType::Named(type_name) => match type_name.as_str() {
                    "Int" => ScalarKind::Int,
                    "String" => ScalarKind::String,
                    "ID" => ScalarKind::Id,
                    "Boolean" => ScalarKind::Boolean,
                    "CommentOrder" => ScalarKind::CommentOrder,
                    _ => return None,
                },
                BaseType::List(item) => match &item.base {
                    BaseType::Named(type_name) if type_name == "ID" && !item.nullable => {
                        ScalarKind::IdList
                    }
                    _ => return None,
                },
            };
            Some(VariableSpec {
                name: definition.name.node.clone(),
                kind,
                required: !definition.var_type.node.nullable,
                default: definition
                    .default_value
                    .as_ref()
                    .map(|value| value.node.clone()),
            })
        })
        .collect::<Option<Vec<_>>>()?;
    let mut planner = Planner { document, slots: 0 };
    let fields = planner.selection(&[&operation.selection_set.node], "Query", Planner::root)?;
    Some(Plan {
        fields,
        variables,
        slots: planner.slots,
        answer_bytes: AtomicUsize::new(0),
    })
}

/// A field as collected: its response key, the first occurrence (name and arguments),
/// and the selection sets of every occurrence.
struct Collected<'a> {
    key: Name,
    field: &'a QueryField,
    sets: Vec<&'a SelectionSet>,
    occurrences: usize,
}

struct Planner<'a> {
    document: &'a ExecutableDocument,
    slots: usize,
}

impl<'a> Planner<'a> {
    /// Plans the fields of `sets` on the type `type_name`, each with `plan_field`.
    fn selection<K>(
        &mut self,
        sets: &[&'a SelectionSet],
        type_name: &str,
        plan_field: impl Fn(&mut Self, &Collected<'a>) -> Option<K>,
    ) -> Option<Selection<K>> {
        let mut collected = Vec::new();
        for set in sets {
            self.collect(set, type_name, &mut collected, 0)?;
        }
        collected
            .iter()
            .map(|field| {
                let slot = self.slots;
                self.slots += 1;
                if self.slots > MAX_PLAN_FIELDS {
                    return None;
                }
                Some(Field {
                    key: field.key.clone(),
                    slot,
                    occurrences: field.occurrences,
                    kind: plan_field(self, field)?,
                })
            })
            .collect()
    }

    fn collect(
        &self,
        set: &'a SelectionSet,
        type_name: &str,
        into: &mut Vec<Collected<'a>>,
        depth: usize,
    ) -> Option<()> {
        if depth > MAX_FRAGMENT_DEPTH {
            return None;
        }
        for selection in &set.items {
            match &selection.node {
                Item::Field(field) => {
                    let field = &field.node;
                    if !field.directives.is_empty() {
                        return None;
                    }
                    let key = field.response_key().node.clone();
                    let nested = &field.selection_set.node;
                    match into.iter_mut().find(|existing| existing.key == key) {
                        // The same field with the same arguments: the selections merge.
                        // async-graphql's validation does not compare every pair (not
                        // across fragments on other types, nor under other parents), and
                        // its executor resolves each occurrence; a plan covers only what
                        // merges to one answer.
                        Some(existing) => {
                            if existing.field.name.node != field.name.node
                                || !same_arguments(existing.field, field)
                            {
                                return None;
                            }
                            existing.sets.push(nested);
                            existing.occurrences += 1;
                        }
                        None => into.push(Collected {
                            key,
                            field,
                            sets: vec![nested],
                            occurrences: 1,
                        }),
                    }
                }
                Item::FragmentSpread(spread) => {
                    if !spread.node.directives.is_empty() {
                        return None;
                    }
                    let fragment = self
                        .document
                        .fragments
                        .get(&spread.node.fragment_name.node)?;
                    let fragment = &fragment.node;
                    if !fragment.directives.is_empty() {
                        return None;
                    }
                    if applies(&fragment.type_condition.node.on.node, type_name)? {
                        self.collect(&fragment.selection_set.node, type_name, into, depth + 1)?;
                    }
                }
                Item::InlineFragment(fragment) => {
                    let fragment = &fragment.node;
                    if !fragment.directives.is_empty() {
                        return None;
                    }
                    let applies = match &fragment.type_condition {
                        Some(condition) => applies(&condition.node.on.node, type_name)?,
                        None => true,
                    };
                    if applies {
                        self.collect(&fragment.selection_set.node, type_name, into, depth + 1)?;
                    }
                }
            }
        }
        Some(())
    }

    fn root(&mut self, field: &Collected<'a>) -> Option<RootField> {
        let arguments = Arguments::of(field.field)?;
        Some(match field.field.name.node.as_str() {
            "__typename" => RootField::Typename,
            "post" => {
                let [id, slug] = arguments.take(["id", "slug"])?;
                RootField::Post {
                    id,
                    slug,
                    selection: self.selection(&field.sets, "Post", Self::post)?,
                }
            }
            "posts" => {
                let [first, after, last, before] =
                    arguments.take(["first", "after", "last", "before"])?;
                RootField::Posts {
                    page: PageArgs {
                        first,
                        after,
                        last,
                        before,
                    },
                    selection: self.connection(&field.sets, "Post", Self::post)?,
                }
            }
            "tag" => {
                let [id, slug] = arguments.take(["id", "slug"])?;
                RootField::Tag {
                    id,
                    slug,
                    selection: self.selection(&field.sets, "Tag", Self::tag)?,
                }
            }
            "author" => {
                let [id, slug] = arguments.take(["id", "slug"])?;
                RootField::Author {
                    id,
                    slug,
                    selection: self.selection(&field.sets, "Author", Self::author)?,
                }
            }
            "tags" | "authors" => {
                let [first, after, last, before] =
                    arguments.take(["first", "after", "last", "before"])?;
                let page = PageArgs {
                    first,
                    after,
                    last,
                    before,
                };
                match field.field.name.node.as_str() {
                    "tags" => RootField::Tags {
                        page,
                        selection: self.connection(&field.sets, "Tag", Self::tag)?,
                    },
                    _ => RootField::Authors {
                        page,
                        selection: self.connection(&field.sets, "Author", Self::author)?,
                    },
                }
            }
            "node" => {
                let [id] = arguments.take(["id"])?;
                RootField::Node {
                    id,
                    selections: self.node(&field.sets)?,
                }
            }
            "nodes" => {
                let [ids] = arguments.take(["ids"])?;
                RootField::Nodes {
                    ids,
                    selections: self.node(&field.sets)?,
                }
            }
            _ => return None,
        })
    }

    /// A `Node` selection, planned for each type it may turn out to be.
    fn node(&mut self, sets: &[&'a SelectionSet]) -> Option<NodeSelections> {
        Some(NodeSelections {
            post: self.selection(sets, "Post", Self::post)?,
            comment: self.selection(sets, "Comment", Self::comment)?,
            tag: self.selection(sets, "Tag", Self::tag)?,
            author: self.selection(sets, "Author", Self::author)?,
        })
    }

    fn connection<N>(
        &mut self,
        sets: &[&'a SelectionSet],
        node_type: &'static str,
        node: fn(&mut Self, &Collected<'a>) -> Option<N>,
    ) -> Option<Selection<ConnectionField<N>>> {
        let connection_type = format!("{node_type}Connection");
        let edge_type = format!("{node_type}Edge");
        self.selection(sets, &connection_type, |planner, field| {
            Arguments::of(field.field)?.take([])?;
            Some(match field.field.name.node.as_str() {
                "__typename" => ConnectionField::Typename,
                "totalCount" => ConnectionField::TotalCount,
                "nodes" => {
                    ConnectionField::Nodes(planner.selection(&field.sets, node_type, node)?)
                }
                "pageInfo" => ConnectionField::PageInfo(planner.selection(
                    &field.sets,
                    "PageInfo",
                    |_, field| {
                        Arguments::of(field.field)?.take([])?;
                        Some(match field.field.name.node.as_str() {
                            "__typename" => PageInfoField::Typename,
                            "hasNextPage" => PageInfoField::HasNextPage,
                            "hasPreviousPage" => PageInfoField::HasPreviousPage,
                            "startCursor" => PageInfoField::StartCursor,
                            "endCursor" => PageInfoField::EndCursor,
                            _ => return None,
                        })
                    },
                )?),
                "edges" => ConnectionField::Edges(planner.selection(
                    &field.sets,
                    &edge_type,
                    |planner, field| {
                        Arguments::of(field.field)?.take([])?;
                        Some(match field.field.name.node.as_str() {
                            "__typename" => EdgeField::Typename,
                            "cursor" => EdgeField::Cursor,
                            "node" => {
                                EdgeField::Node(planner.selection(&field.sets, node_type, node)?)
                            }
                            _ => return None,
                        })
                    },
                )?),
                _ => return None,
            })
        })
    }

    fn post(&mut self, field: &Collected<'a>) -> Option<PostField> {
        let arguments = Arguments::of(field.field)?;
        let name = field.field.name.node.as_str();
        if !matches!(name, "comments" | "thread") {
            arguments.clone().take([])?;
        }
        Some(match name {
            "__typename" => PostField::Typename,
            "id" => PostField::Id,
            "slug" => PostField::Slug,
            "title" => PostField::Title,
            "body" => PostField::Body,
            "bodyHtml" => PostField::BodyHtml,
            "excerpt" => PostField::Excerpt,
            "status" => PostField::Status,
            "publishedAt" => PostField::PublishedAt,
            "createdAt" => PostField::CreatedAt,
            "updatedAt" => PostField::UpdatedAt,
            "commentsOpen" => PostField::CommentsOpen,
            "url" => PostField::Url,
            "commentsFeedUrl" => PostField::CommentsFeedUrl,
            "commentCount" => PostField::CommentCount,
            "author" => PostField::Author(self.selection(&field.sets, "Author", Self::author)?),
            "tags" => PostField::Tags(self.selection(&field.sets, "Tag", Self::tag)?),
            "comments" => {
                let [first, after, last, before, order] =
                    arguments.take(["first", "after", "last", "before", "orderBy"])?;
                PostField::Comments {
                    page: PageArgs {
                        first,
                        after,
                        last,
                        before,
                    },
                    order,
                    selection: self.connection(&field.sets, "Comment", Self::comment)?,
                }
            }
            "thread" => {
                let [first, after] = arguments.take(["first", "after"])?;
                PostField::Thread {
                    first,
                    after,
                    selection: self.connection(&field.sets, "Comment", Self::comment)?,
                }
            }
            _ => return None,
        })
    }

    fn comment(&mut self, field: &Collected<'a>) -> Option<CommentField> {
        let arguments = Arguments::of(field.field)?;
        let name = field.field.name.node.as_str();
        if name != "replies" {
            arguments.clone().take([])?;
        }
        Some(match name {
            "__typename" => CommentField::Typename,
            "id" => CommentField::Id,
            "body" => CommentField::Body,
            "bodyHtml" => CommentField::BodyHtml,
            "status" => CommentField::Status,
            "depth" => CommentField::Depth,
            "createdAt" => CommentField::CreatedAt,
            "updatedAt" => CommentField::UpdatedAt,
            "replyCount" => CommentField::ReplyCount,
            "author" => {
                CommentField::Author(self.selection(&field.sets, "CommentAuthor", |_, field| {
                    Arguments::of(field.field)?.take([])?;
                    Some(match field.field.name.node.as_str() {
                        "__typename" => CommentAuthorField::Typename,
                        "name" => CommentAuthorField::Name,
                        "url" => CommentAuthorField::Url,
                        _ => return None,
                    })
                })?)
            }
            "parent" => {
                CommentField::Parent(self.selection(&field.sets, "Comment", Self::comment)?)
            }
            "post" => CommentField::Post(self.selection(&field.sets, "Post", Self::post)?),
            "replies" => {
                let [first, after, last, before] =
                    arguments.take(["first", "after", "last", "before"])?;
                CommentField::Replies {
                    page: PageArgs {
                        first,
                        after,
                        last,
                        before,
                    },
                    selection: self.connection(&field.sets, "Comment", Self::comment)?,
                }
            }
            _ => return None,
        })
    }

    fn author(&mut self, field: &Collected<'a>) -> Option<AuthorField> {
        Arguments::of(field.field)?.take([])?;
        Some(match field.field.name.node.as_str() {
            "__typename" => AuthorField::Typename,
            "id" => AuthorField::Id,
            "slug" => AuthorField::Slug,
            "name" => AuthorField::Name,
            "bio" => AuthorField::Bio,
            "url" => AuthorField::Url,
            _ => return None,
        })
    }

    fn tag(&mut self, field: &Collected<'a>) -> Option<TagField> {
        Arguments::of(field.field)?.take([])?;
        Some(match field.field.name.node.as_str() {
            "__typename" => TagField::Typename,
            "id" => TagField::Id,
            "slug" => TagField::Slug,
            "name" => TagField::Name,
            "feedUrl" => TagField::FeedUrl,
            _ => return None,
        })
    }
}

/// Whether two occurrences of a field give it the same arguments (in any order).
fn same_arguments(one: &QueryField, other: &QueryField) -> bool {
    one.arguments.len() == other.arguments.len()
        && one.arguments.iter().all(|(name, value)| {
            other.arguments.iter().any(|(other_name, other_value)| {
                other_name.node == name.node && other_value.node == value.node
            })
        })
}

/// The object types that implement `Node`.
const NODE_TYPES: [&str; 5] = ["Post", "Comment", "Author", "Tag", "Channel"];

/// Whether a fragment on `condition` applies to an object of `type_name`, as GraphQL's
/// `DoesFragmentTypeApply` answers: a fragment on another of the `Node` types is
/// skipped (under `node`, or `... on Node { ... on Tag { … } }`). `None` for a
/// condition the planner does not know, which leaves the document to the resolvers.
fn applies(condition: &str, type_name: &str) -> Option<bool> {
    if condition == type_name || (condition == "Node" && NODE_TYPES.contains(&type_name)) {
        Some(true)
    } else if NODE_TYPES.contains(&condition) && NODE_TYPES.contains(&type_name) {
        Some(false)
    } else {
        None
    }
}

/// A field's arguments, taken by name: an argument the planner does not expect means
/// there is no plan.
#[derive(Clone)]
struct Arguments(Vec<(Name, Arg)>);

impl Arguments {
    fn of(field: &QueryField) -> Option<Self> {
        field
            .arguments
            .iter()
            .map(|(name, value)| {
                let arg = match &value.node {
                    Value::Null => Arg::Absent,
                    Value::Variable(variable) => Arg::Variable(variable.clone()),
                    // Objects may hold variables, and no covered argument takes one. A
                    // list (`nodes`' ids) is planned when it holds none, and no more
                    // items than `nodes` answers (a plan of a longer one could only
                    // fall back, and would hold every item).
                    Value::Object(_) => return None,
                    Value::List(items) if items.len() > MAX_NODES => return None,
                    literal => Arg::Literal(literal.clone().into_const()?),
                };
                Some((name.node.clone(), arg))
            })
            .collect::<Option<Vec<_>>>()
            .map(Self)
    }

    /// The arguments named, in that order (absent ones as [`Arg::Absent`]); `None` when
    /// the field has any other.
    fn take<const N: usize>(self, names: [&str; N]) -> Option<[Arg; N]> {
        if self
            .0
            .iter()
            .any(|(name, _)| !names.contains(&name.as_str()))
        {
            return None;
        }
        Some(names.map(|wanted| {
            self.0
                .iter()
                .find(|(name, _)| name.as_str() == wanted)
                .map_or(Arg::Absent, |(_, arg)| arg.clone())
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(query: &str) -> Option<Plan> {
        let document = async_graphql::parser::parse_query(query).expect("parses");
        compile(&document, None)
    }

    #[test]
    fn the_benchmark_queries_have_plans() {
        for query in [
            include_str!("../../../../../bench/queries/q1.gazette.graphql"),
            include_str!("../../../../../bench/queries/q2.gazette.graphql"),
            include_str!("../../../../../bench/queries/q2r.gazette.graphql"),
            include_str!("../../../../../bench/queries/q3.gazette.graphql"),
        ] {
            assert!(plan(query).is_some(), "{query}");
        }
    }

    #[test]
    fn fragments_and_repeated_keys_merge_in_query_order() {
        let plan = plan(
            "query { post(slug: \"a\") { b: title ...F author { name } } } \
             fragment F on Post { a: slug author { slug } ... on Node { b: title } }",
        )
        .expect("a plan");
        let RootField::Post { selection, .. } = &plan.fields[0].kind else {
            panic!("a post");
        };
        let keys: Vec<&str> = selection.iter().map(|field| field.key.as_str()).collect();
        assert_eq!(keys, ["b", "a", "author"]);
        let PostField::Author(author) = &selection[2].kind else {
            panic!("the author");
        };
        let keys: Vec<&str> = author.iter().map(|field| field.key.as_str()).collect();
        assert_eq!(keys, ["slug", "name"]);
        // Every field has a slot of its own.
        assert_eq!(plan.slots, 6);
    }

    #[test]
    fn each_occurrence_is_counted_and_large_plans_are_refused() {
        let plan = plan(
            "query { p: post(slug: \"a\") { body ... on Post { body } } \
             ... on Query { p: post(slug: \"a\") { body } } }",
        )
        .expect("a plan");
        let RootField::Post { selection, .. } = &plan.fields[0].kind else {
            panic!("a post");
        };
        assert_eq!(plan.fields[0].occurrences, 2);
        assert_eq!(
            selection[0].occurrences, 3,
            "body, as the resolvers charge it"
        );

        let wide = format!(
            "query {{ posts {{ nodes {{ {} }} }} }}",
            (0..MAX_PLAN_FIELDS)
                .map(|n| format!("t{n}: title"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert!(
            super::compile(
                &async_graphql::parser::parse_query(&wide).expect("parses"),
                None
            )
            .is_none()
        );
    }

    #[test]
    fn a_node_is_planned_for_each_type_with_the_fragments_that_apply() {
        let plan = plan(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Post { title } \
             ... on Node { ... on Tag { name } } ... on Channel { kind } } }",
        )
        .expect("a plan");
        let RootField::Nodes { selections, .. } = &plan.fields[0].kind else {
            panic!("nodes");
        };
        fn keys<K>(selection: &Selection<K>) -> Vec<&str> {
            selection.iter().map(|field| field.key.as_str()).collect()
        }
        assert_eq!(keys(&selections.post), ["id", "title"]);
        assert_eq!(keys(&selections.tag), ["id", "name"]);
        assert_eq!(keys(&selections.comment), ["id"]);
        assert_eq!(keys(&selections.author), ["id"]);
        assert_eq!(plan.variables[0].kind, ScalarKind::IdList);

        // A list literal longer than `nodes` answers gets no plan (it would hold every item).
        let ids = |count: usize| vec!["\"x\""; count].join(", ");
        assert!(self::plan(&format!("{{ nodes(ids: [{}]) {{ id }} }}", ids(MAX_NODES))).is_some());
        assert!(
            self::plan(&format!(
                "{{ nodes(ids: [{}]) {{ id }} }}",
                ids(MAX_NODES + 1)
            ))
            .is_none()
        );
    }

    #[test]
    fn what_the_planner_does_not_cover_has_no_plan() {
        for query in [
            "mutation { deletePost(id: \"x\") { deletedId } }",
            "query { __schema { queryType { name } } }",
            "query { posts { nodes { title @skip(if: true) } } }",
            "query { posts(filter: { tag: \"x\" }) { nodes { id } } }",
            "query { tags { nodes { posts { nodes { id } } } } }",
            "query($id: ID!) { nodes(ids: [$id]) { id } }",
            "query($ids: [ID]) { nodes(ids: $ids) { id } }",
            "query { post(slug: \"a\") { author { posts { nodes { id } } } } }",
            "query($slugs: [String!]) { posts { nodes { id } } }",
            "query { post(slug: \"a\") { ... on Viewer { role } } }",
            "query { p: post(slug: \"a\") { id } ... on Query { p: post(slug: \"b\") { id } } }",
            "query { p: post(slug: \"a\") { c: comments(first: 1) { totalCount } } \
             p: post(slug: \"a\") { c: comments(first: 2) { totalCount } } }",
        ] {
            assert!(plan(query).is_none(), "{query}");
        }
    }
}
