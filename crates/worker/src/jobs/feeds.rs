//! The feeds: which exist, and for each one load → build (pure) → store.
//!
//! Every feed is rebuilt in its own transaction holding that feed's advisory lock, so two
//! workers never build the same feed at once, and stored in one statement only when its
//! bytes changed: a worker killed mid-run leaves every feed as it was, or as new.

use std::collections::HashSet;

use gazette_store::feeds::{self, FeedComment, FeedPost, FeedSubject};
use gazette_store::{PgConnection, PgPool, SiteConfig, StoreError};
use gazette_syndication::{FeedChannel, FeedEntry, render_atom, render_rss, tag_uri};

use crate::scheduler::WorkerConfig;

pub const RSS_CONTENT_TYPE: &str = "application/rss+xml; charset=utf-8";
pub const ATOM_CONTENT_TYPE: &str = "application/atom+xml; charset=utf-8";
/// Minutes a reader may cache a feed (RSS `ttl`): the default schedule's period.
const FEED_TTL_MINUTES: u32 = 5;
/// Characters of a comment shown as an item's summary.
const COMMENT_SUMMARY_CHARS: usize = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Rss,
    Atom,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::Rss => RSS_CONTENT_TYPE,
            Format::Atom => ATOM_CONTENT_TYPE,
        }
    }

    fn render(self, channel: &FeedChannel, entries: &[FeedEntry]) -> String {
        match self {
            Format::Rss => render_rss(channel, entries),
            Format::Atom => render_atom(channel, entries),
        }
    }
}

/// One feed Gazette publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FeedSpec {
    /// The latest posts.
    Posts(Format),
    /// The latest comments on every post.
    Comments(Format),
    /// The latest posts with a tag.
    Tag { slug: String, name: String },
    /// The latest comments on one post.
    PostComments(FeedSubject),
}

impl FeedSpec {
    /// The feed's path under the public URL, which is also its key in storage.
    fn key(&self) -> String {
        match self {
            FeedSpec::Posts(Format::Rss) => "feed.xml".to_owned(),
            FeedSpec::Posts(Format::Atom) => "feed.atom".to_owned(),
            FeedSpec::Comments(Format::Rss) => "comments/feed.xml".to_owned(),
            FeedSpec::Comments(Format::Atom) => "comments/feed.atom".to_owned(),
            FeedSpec::Tag { slug, .. } => format!("tags/{slug}/feed.xml"),
            FeedSpec::PostComments(post) => format!("posts/{}/comments/feed.xml", post.slug),
        }
    }

    fn format(&self) -> Format {
        match self {
            FeedSpec::Posts(format) | FeedSpec::Comments(format) => *format,
            FeedSpec::Tag { .. } | FeedSpec::PostComments(_) => Format::Rss,
        }
    }
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    /// The keys of the feeds written (changed) or removed.
    pub changed: Vec<String>,
    pub feeds: usize,
    pub items: usize,
}

/// Which posts' comment feeds a run rebuilds.
#[derive(Debug, Clone)]
pub enum Scope {
    /// Every feed (the schedule).
    All,
    /// The site and tag feeds, and these posts' comment feeds (a change).
    Posts(HashSet<i64>),
}

pub async fn regenerate(
    pool: &PgPool,
    config: &WorkerConfig,
    scope: &Scope,
) -> Result<Report, StoreError> {
    let mut specs = vec![
        FeedSpec::Posts(Format::Rss),
        FeedSpec::Posts(Format::Atom),
        FeedSpec::Comments(Format::Rss),
        FeedSpec::Comments(Format::Atom),
    ];
    specs.extend(
        feeds::published_tags(pool)
            .await?
            .into_iter()
            .map(|tag| FeedSpec::Tag {
                slug: tag.slug,
                name: tag.name,
            }),
    );
    let post_ids: Option<Vec<i64>> = match scope {
        Scope::All => None,
        Scope::Posts(ids) => Some(ids.iter().copied().collect()),
    };
    specs.extend(
        feeds::published_posts(pool, post_ids.as_deref())
            .await?
            .into_iter()
            .map(FeedSpec::PostComments),
    );

    let mut report = Report::default();
    for spec in &specs {
        let key = spec.key();
        let mut tx = pool.begin().await?;
        feeds::lock(&mut tx, &key).await?;
        let (body, items) = build(&mut tx, config, spec).await?;
        let item_count = i32::try_from(items).unwrap_or(i32::MAX);
        let changed = feeds::store_if_changed(
            &mut *tx,
            &key,
            spec.format().content_type(),
            &body,
            item_count,
        )
        .await?;
        tx.commit().await?;
        report.feeds += 1;
        report.items += items;
        if changed {
            report.changed.push(key);
        }
    }
    report.changed.extend(feeds::remove_stale(pool).await?);
    Ok(report)
}

/// Loads what `spec` shows and renders it; returns the document and its item count.
async fn build(
    tx: &mut PgConnection,
    config: &WorkerConfig,
    spec: &FeedSpec,
) -> Result<(String, usize), StoreError> {
    let site = &config.site;
    let limit = i64::from(config.feed_items);
    let self_url = site.url(&spec.key());
    let channel = |title: String, link: String, description: String| FeedChannel {
        title,
        link,
        description,
        language: site.language.clone(),
        self_url: self_url.clone(),
        ttl_minutes: FEED_TTL_MINUTES,
        hub: config.websub_hub.clone(),
    };
    let (channel, entries) = match spec {
        FeedSpec::Posts(_) => {
            let posts = feeds::latest_posts(&mut *tx, None, limit).await?;
            let channel = channel(site.title.clone(), site.url("/"), site.description.clone());
            (channel, post_entries(site, &posts))
        }
        FeedSpec::Tag { slug, name } => {
            let posts = feeds::latest_posts(&mut *tx, Some(slug), limit).await?;
            let channel = channel(
                format!("{} · {name}", site.title),
                site.url(&format!("tags/{slug}")),
                format!("Posts tagged “{name}”"),
            );
            (channel, post_entries(site, &posts))
        }
        FeedSpec::Comments(_) => {
            let comments = feeds::latest_comments(&mut *tx, None, limit).await?;
            let channel = channel(
                format!("Comments on {}", site.title),
                site.url("/"),
                format!("The latest comments on {}", site.title),
            );
            (channel, comment_entries(site, &comments, true))
        }
        FeedSpec::PostComments(post) => {
            let comments = feeds::latest_comments(&mut *tx, Some(post.id), limit).await?;
            let channel = channel(
                format!("Comments on: {}", post.title),
                site.post_url(&post.slug),
                format!("Comments on “{}”", post.title),
            );
            (channel, comment_entries(site, &comments, false))
        }
    };
    let document = spec.format().render(&channel, &entries);
    Ok((document, entries.len()))
}

/// The host of the public URL: the authority of `tag:` ids.
fn authority(site: &SiteConfig) -> &str {
    let rest = site
        .public_url
        .split_once("://")
        .map_or(site.public_url.as_str(), |(_, rest)| rest);
    let host = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(bracketed),
        None => host.split(':').next().unwrap_or(host),
    }
}

fn post_entries(site: &SiteConfig, posts: &[FeedPost]) -> Vec<FeedEntry> {
    posts
        .iter()
        .map(|post| {
            let link = site.post_url(&post.slug);
            FeedEntry {
                title: post.title.clone(),
                guid: tag_uri(
                    authority(site),
                    post.created_at,
                    &format!("post-{}", post.id),
                ),
                guid_is_permalink: false,
                published_at: post.published_at,
                updated_at: post.updated_at,
                description: post.excerpt.clone(),
                content_html: gazette_content::absolute_links(&post.body_html, &link)
                    .unwrap_or_else(|| post.body_html.clone()),
                categories: post.tags.clone(),
                author: post.author_name.clone(),
                comments_link: Some(format!("{link}#comments")),
                comments_feed: Some(format!("{link}/comments/feed.xml")),
                comment_count: Some(post.comment_count),
                link,
            }
        })
        .collect()
}

fn comment_entries(site: &SiteConfig, comments: &[FeedComment], site_wide: bool) -> Vec<FeedEntry> {
    comments
        .iter()
        .map(|comment| {
            let post_url = site.post_url(&comment.post_slug);
            let title = match site_wide {
                true => format!(
                    "Comment on {} by {}",
                    comment.post_title, comment.author_name
                ),
                false => format!("By: {}", comment.author_name),
            };
            FeedEntry {
                title,
                link: format!("{post_url}#comment-{}", comment.id),
                guid: tag_uri(
                    authority(site),
                    comment.created_at,
                    &format!("comment-{}", comment.id),
                ),
                guid_is_permalink: false,
                published_at: comment.created_at,
                updated_at: comment.updated_at,
                description: gazette_content::excerpt(&comment.body, COMMENT_SUMMARY_CHARS),
                content_html: gazette_content::absolute_links(&comment.body_html, &post_url)
                    .unwrap_or_else(|| comment.body_html.clone()),
                categories: Vec::new(),
                author: comment.author_name.clone(),
                comments_link: None,
                comments_feed: None,
                comment_count: None,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(public_url: &str) -> SiteConfig {
        SiteConfig {
            public_url: public_url.to_owned(),
            title: "T".to_owned(),
            description: "D".to_owned(),
            language: "en".to_owned(),
        }
    }

    #[test]
    fn tag_ids_use_the_bare_host() {
        assert_eq!(
            authority(&site("https://blog.example.gov/base")),
            "blog.example.gov"
        );
        assert_eq!(authority(&site("http://127.0.0.1:8080")), "127.0.0.1");
        assert_eq!(authority(&site("http://[::1]:8080")), "::1");
    }

    #[test]
    fn feed_keys_are_their_paths() {
        let post = FeedSubject {
            id: 1,
            slug: "hello".to_owned(),
            title: "Hello".to_owned(),
        };
        assert_eq!(
            FeedSpec::PostComments(post).key(),
            "posts/hello/comments/feed.xml"
        );
        assert_eq!(FeedSpec::Comments(Format::Atom).key(), "comments/feed.atom");
        let tag = FeedSpec::Tag {
            slug: "rust".to_owned(),
            name: "Rust".to_owned(),
        };
        assert_eq!(tag.key(), "tags/rust/feed.xml");
    }
}
