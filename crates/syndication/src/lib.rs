//! Gazette's syndication formats as pure functions of their input: no database, no clock,
//! so the same posts always give the same bytes (and the worker can skip unchanged feeds).

mod atom_feed;
mod json_feed;
mod model;
mod rss_feed;
mod sitemap;
pub mod social;
mod xml;

pub use atom_feed::render_atom;
pub use json_feed::render_json_feed;
pub use model::{FeedChannel, FeedEntry, GENERATOR, tag_uri};
pub use rss_feed::render_rss;
pub use sitemap::{MAX_URLS_PER_FILE, SitemapLink, render_sitemap_index, render_urlset};
