//! Gazette's HTTP surface: GraphQL over HTTP (and, later, WebSocket), the GraphiQL
//! playground (served from our own copy of its assets), the generated feeds, and health.

mod client;
mod commenting;
mod conditional;
mod events;
mod feed_cache;
mod feeds;
mod graphiql;
pub mod graphql;
mod health;
mod html;
mod pages;
mod publishing;
mod router;
mod state;

pub use router::{router, serve};
pub use state::{ApiConfig, AppState, CommentPolicy, CorsOrigins, Moderation};
