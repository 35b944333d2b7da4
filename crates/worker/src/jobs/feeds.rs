use gazette_store::feeds::{self, FeedPost};
use gazette_store::{PgPool, SiteConfig};
use gazette_syndication::{FeedChannel, FeedEntry, render_rss};

use crate::error::WorkerError;
use crate::scheduler::WorkerConfig;

pub const RSS_CONTENT_TYPE: &str = "application/rss+xml; charset=utf-8";
/// Minutes a reader may cache a feed (RSS `ttl`), matching the default schedule.
const FEED_TTL_MINUTES: u32 = 5;

#[derive(Debug, Default)]
pub struct Report {
    pub changed: bool,
    pub items: usize,
}

pub async fn regenerate(pool: &PgPool, config: &WorkerConfig) -> Result<Report, WorkerError> {
    let posts = feeds::latest_posts(pool, i64::from(config.feed_items)).await?;
    let xml = build_site_feed(&config.site, &posts);
    let item_count = i32::try_from(posts.len()).unwrap_or(i32::MAX);
    let changed =
        feeds::store_if_changed(pool, "feed.xml", RSS_CONTENT_TYPE, &xml, item_count).await?;
    Ok(Report {
        changed,
        items: posts.len(),
    })
}

fn build_site_feed(site: &SiteConfig, posts: &[FeedPost]) -> String {
    let channel = FeedChannel {
        title: site.title.clone(),
        link: site.url("/"),
        description: site.description.clone(),
        language: site.language.clone(),
        self_url: site.url("feed.xml"),
        ttl_minutes: FEED_TTL_MINUTES,
    };
    let entries: Vec<FeedEntry> = posts
        .iter()
        .map(|post| {
            let link = site.post_url(&post.slug);
            FeedEntry {
                title: post.title.clone(),
                guid: link.clone(),
                guid_is_permalink: true,
                comments_link: Some(format!("{link}#comments")),
                link,
                published_at: post.published_at,
                updated_at: post.updated_at,
                description: post.excerpt.clone(),
                content_html: post.body_html.clone(),
                categories: post.tags.clone(),
                author: post.author_name.clone(),
            }
        })
        .collect();
    render_rss(&channel, &entries)
}
