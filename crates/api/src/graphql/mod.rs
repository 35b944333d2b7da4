//! The GraphQL schema, split by domain; each domain contributes its part of the roots.

mod authors;
mod channels;
mod comments;
pub mod compiled;
mod connection;
mod context;
pub mod errors;
mod federation;
mod feeds;
pub mod http;
mod ids;
mod input_text;
mod introspection;
pub mod limits;
mod loaders;
mod node;
mod objects;
mod posts;
pub mod pricing;
pub mod response_cache;
mod response_order;
mod schema_model;
mod socket_session;
mod tags;
mod webhooks;
pub mod ws;

use async_graphql::{MergedObject, MergedSubscription, Schema};

use std::sync::Arc;

use crate::events::EventHub;
use crate::state::Limits;
use limits::OperationLimits;
pub use schema_model::SchemaModel;

pub use context::RequestContext;
pub use gazette_domain::Viewer;
pub use ids::{GlobalId, NodeKind};

#[derive(MergedObject, Default)]
pub struct Query(
    node::NodeQuery,
    posts::PostQuery,
    tags::TagQuery,
    authors::AuthorQuery,
    feeds::FeedQuery,
    channels::ChannelQuery,
    webhooks::WebhookQuery,
    federation::FederationQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    posts::PostMutation,
    comments::CommentMutation,
    channels::ChannelMutation,
    webhooks::WebhookMutation,
    federation::FederationMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(comments::CommentSubscription, posts::PostSubscription);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// The most tags a post has (the cost of `Post.tags`).
pub const MAX_POST_TAGS: usize = gazette_domain::publishing::MAX_TAGS;

/// The schema twice over, with the process's event hub for subscriptions; per-request data
/// (the viewer, the loaders) comes with each request.
#[derive(Clone)]
pub struct Schemas {
    /// With the limits extension: checks every operation, and runs subscriptions and
    /// operations that introspect `__schema` (whose description an extension answers).
    pub guarded: AppSchema,
    /// Without extensions: runs HTTP operations the guarded schema has checked. An
    /// extension, even one that only looks at the document, puts every field's resolution
    /// through its chain (a `ResolveInfo` and boxed futures per field): on a 1,000-object
    /// answer that cost more CPU than the resolvers themselves (docs/benchmarks.md).
    pub executor: AppSchema,
    /// What pricing a document needs to know of the schema.
    pub model: Arc<SchemaModel>,
}

pub fn build_schemas(events: EventHub, limits: &Limits) -> Schemas {
    // Our own SDL, read by the parser of the same library: a failure is a programming
    // error, and `schema_model`'s tests read it too.
    let model =
        Arc::new(SchemaModel::from_sdl(&types_sdl()).expect("the schema's own SDL is readable"));
    Schemas {
        guarded: schema_builder()
            // Documents are priced (depth included, with its own code and message) before
            // async-graphql sees them; its recursion check, at the same limit, is a backstop.
            .limit_recursive_depth(limits.max_depth)
            .extension(OperationLimits {
                limits: Arc::new(limits.clone()),
                model: model.clone(),
            })
            .extension(introspection::SchemaDescription)
            .data(events.clone())
            .finish(),
        model,
        executor: schema_builder()
            .limit_recursive_depth(limits.max_depth)
            // Already validated, strictly, by the guarded schema.
            .validation_mode(async_graphql::ValidationMode::Fast)
            .data(events)
            .finish(),
    }
}

pub(crate) fn schema_builder() -> async_graphql::SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .override_output_type_description::<chrono::DateTime<chrono::Utc>>(
        introspection::DATE_TIME_DESCRIPTION,
    )
}

/// The schema's types in SDL, as async-graphql prints them (without the schema's
/// description, which its own parser does not read).
pub(crate) fn types_sdl() -> String {
    schema_builder()
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

/// The schema in SDL, as `gazette schema` prints it and `schema.graphql` records it: the
/// same schema introspection describes, `@specifiedBy` and the schema's description
/// included (async-graphql prints neither by default).
pub fn sdl() -> String {
    let sdl = types_sdl();
    // The schema block comes last, at the start of a line.
    match sdl.rfind("\nschema {") {
        Some(block) => format!(
            "{}\n\"\"\"\n{}\n\"\"\"{}",
            &sdl[..block],
            introspection::SCHEMA_DESCRIPTION,
            &sdl[block..]
        ),
        None => sdl,
    }
}

#[cfg(test)]
mod module_graph;

#[cfg(test)]
mod tests {
    /// `schema.graphql` is the published contract: it must match the code.
    #[test]
    fn committed_schema_matches_the_code() {
        let committed = include_str!("../../../../schema.graphql");
        assert!(
            committed == super::sdl(),
            "schema.graphql is out of date: run `cargo run -- schema > schema.graphql` and review the diff"
        );
    }
}
