//! Gazette's HTTP surface: GraphQL over HTTP (and, later, WebSocket), the GraphiQL
//! playground (served from our own copy of its assets), the generated feeds, and health.

mod auth;
mod bodies;
mod client;
mod conditional;
mod edge;
mod events;
mod federation;
mod feed_cache;
mod feeds;
mod graphiql;
pub mod graphql;
mod health;
mod html;
mod limits;
mod listener;
pub mod metrics;
mod old_links;
mod own_origin;
mod pages;
mod router;
mod sitemap;
mod state;
mod unsent;

pub use gazette_domain::commenting::{CommentPolicy, Moderation};
pub use router::{router, serve};
pub use state::{ApiConfig, AppState, CompiledReads, CorsOrigins, Limits};
