//! The GraphQL schema, split by domain; each domain contributes its part of the roots.

pub mod http;
mod ids;
mod posts;

use std::sync::Arc;

use async_graphql::{EmptyMutation, EmptySubscription, MergedObject, Schema};
use gazette_store::PgPool;

use crate::state::ApiConfig;

pub use ids::{GlobalId, NodeKind};

#[derive(MergedObject, Default)]
pub struct Query(posts::PostQuery);

pub type AppSchema = Schema<Query, EmptyMutation, EmptySubscription>;

pub fn build_schema(pool: PgPool, config: Arc<ApiConfig>) -> AppSchema {
    Schema::build(Query::default(), EmptyMutation, EmptySubscription)
        .data(pool)
        .data(config)
        .finish()
}

/// The schema in SDL, as `gazette schema` prints it and `schema.graphql` records it.
pub fn sdl() -> String {
    Schema::build(Query::default(), EmptyMutation, EmptySubscription)
        .finish()
        .sdl()
}
