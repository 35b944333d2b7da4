//! The GraphQL schema, split by domain; each domain contributes its part of the roots.

mod auth;
mod authors;
mod channels;
mod comments;
mod connection;
mod context;
pub mod errors;
mod feeds;
pub mod http;
mod ids;
mod loaders;
mod node;
mod posts;
mod tags;
pub mod ws;

use async_graphql::{MergedObject, MergedSubscription, Schema};

use crate::events::EventHub;

pub use auth::Viewer;
pub use context::RequestContext;
pub use ids::{GlobalId, NodeKind};

#[derive(MergedObject, Default)]
pub struct Query(
    node::NodeQuery,
    posts::PostQuery,
    tags::TagQuery,
    authors::AuthorQuery,
    feeds::FeedQuery,
    channels::ChannelQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    posts::PostMutation,
    comments::CommentMutation,
    channels::ChannelMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(comments::CommentSubscription, posts::PostSubscription);

pub type AppSchema = Schema<Query, Mutation, Subscription>;

/// Deep enough for GraphiQL's introspection query and real threads; shallow enough that a
/// hostile query cannot make the server walk forever.
const MAX_DEPTH: usize = 32;
const MAX_COMPLEXITY: usize = 5_000;

/// The schema, with the process's event hub for subscriptions; per-request data (the
/// viewer, the loaders) comes with each request.
pub fn build_schema(events: EventHub) -> AppSchema {
    schema_builder().data(events).finish()
}

fn schema_builder() -> async_graphql::SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
}

/// The schema in SDL, as `gazette schema` prints it and `schema.graphql` records it.
pub fn sdl() -> String {
    schema_builder().finish().sdl()
}

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
