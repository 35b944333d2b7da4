//! The GraphQL schema, split by domain; each domain contributes its part of the roots.

mod auth;
mod authors;
mod connection;
mod context;
pub mod errors;
pub mod http;
mod ids;
mod loaders;
mod node;
mod posts;
mod tags;

use async_graphql::{EmptySubscription, MergedObject, Schema};

pub use auth::Viewer;
pub use context::RequestContext;
pub use ids::{GlobalId, NodeKind};

#[derive(MergedObject, Default)]
pub struct Query(
    node::NodeQuery,
    posts::PostQuery,
    tags::TagQuery,
    authors::AuthorQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(posts::PostMutation);

pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

/// Deep enough for GraphiQL's introspection query and real threads; shallow enough that a
/// hostile query cannot make the server walk forever.
const MAX_DEPTH: usize = 32;
const MAX_COMPLEXITY: usize = 5_000;

/// The schema; per-request data (the viewer, the loaders) comes with each request.
pub fn build_schema() -> AppSchema {
    Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// The schema in SDL, as `gazette schema` prints it and `schema.graphql` records it.
pub fn sdl() -> String {
    build_schema().sdl()
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
