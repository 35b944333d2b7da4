//! Gazette's syndication formats as pure functions of their input: no database, no clock,
//! so the same posts always give the same bytes (and the worker can skip unchanged feeds).

mod rss_feed;

pub use rss_feed::{FeedChannel, FeedEntry, render_rss};
