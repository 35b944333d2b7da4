//! Gazette's syndication formats as pure functions of their input: no database, no clock,
//! so the same posts always give the same bytes (and the worker can skip unchanged feeds).

mod atom_feed;
mod model;
mod rss_feed;
pub mod social;
mod xml;

pub use atom_feed::render_atom;
pub use model::{FeedChannel, FeedEntry, GENERATOR, tag_uri};
pub use rss_feed::render_rss;
