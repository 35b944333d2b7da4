//! The feeds Gazette publishes, and building one: load → render (pure, in
//! `gazette-syndication`) → store. The worker rebuilds the feeds a change touches; the API
//! builds a post's comment feed the first time someone asks for it.
//!
//! Every feed is rebuilt in its own transaction holding that feed's advisory lock, so two
//! processes never build the same feed at once, and stored in one statement only when its
//! bytes changed: a process killed mid-build leaves the feed as it was, or as new.

mod registry;

pub use registry::{FEEDS, FeedRoute, Subject, feed, feeds_of, main_feed};

use gazette_store::sources::{self, FeedComment, FeedPost, FeedSubject};
use gazette_store::{PgConnection, PgExecutor, PgPool, Reader, SiteConfig, StoreError, feeds};
use gazette_syndication::{
    FeedChannel, FeedEntry, render_atom, render_json_feed, render_rss, tag_uri,
};

/// Feeds are served to anyone, so they are built from what anyone may see.
const PUBLIC: Reader = Reader::PUBLIC;

/// What every feed is built with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSettings {
    pub site: SiteConfig,
    /// Items in each feed.
    pub feed_items: u32,
    /// A WebSub hub every feed links to.
    pub websub_hub: Option<String>,
    /// The blog's ActivityPub actor, which every feed links to when the blog federates.
    pub actor: Option<String>,
}

impl FeedSettings {
    pub const DEFAULT_FEED_ITEMS: u32 = 20;

    /// Everything a stored feed's bytes depend on besides the content: when it differs from
    /// what the stored feeds were built with, they are all rebuilt.
    pub fn fingerprint(&self) -> String {
        let site = &self.site;
        format!(
            // v2: JSON Feeds joined the set; a new version rebuilds every feed once.
            "v2|{}|{}|{}|{}|{}|{}|{}",
            site.public_url,
            site.title,
            site.description,
            site.language,
            self.feed_items,
            self.websub_hub.as_deref().unwrap_or(""),
            self.actor.as_deref().unwrap_or("")
        )
    }
}

pub const RSS_CONTENT_TYPE: &str = "application/rss+xml; charset=utf-8";
pub const ATOM_CONTENT_TYPE: &str = "application/atom+xml; charset=utf-8";
pub const JSON_FEED_CONTENT_TYPE: &str = "application/feed+json; charset=utf-8";
/// Minutes a reader may cache a feed (RSS `ttl`): the default schedule's period.
const FEED_TTL_MINUTES: u32 = 5;
/// Characters of a comment shown as an item's summary.
const COMMENT_SUMMARY_CHARS: usize = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Rss,
    Atom,
    /// JSON Feed 1.1.
    Json,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Rss => RSS_CONTENT_TYPE,
            Format::Atom => ATOM_CONTENT_TYPE,
            Format::Json => JSON_FEED_CONTENT_TYPE,
        }
    }

    /// The format's name for people.
    pub fn label(self) -> &'static str {
        match self {
            Format::Rss => "RSS",
            Format::Atom => "Atom",
            Format::Json => "JSON Feed",
        }
    }

    /// The media type without parameters, as `<link type>` takes it.
    pub fn media_type(self) -> &'static str {
        let content_type = self.content_type();
        content_type
            .split_once(';')
            .map_or(content_type, |(media_type, _)| media_type)
    }

    /// The format a stored feed's media type names (its parameters aside).
    pub fn of_media_type(media_type: &str) -> Option<Format> {
        let bare = media_type
            .split_once(';')
            .map_or(media_type, |(bare, _)| bare)
            .trim();
        [Format::Rss, Format::Atom, Format::Json]
            .into_iter()
            .find(|format| format.media_type().eq_ignore_ascii_case(bare))
    }

    fn render(self, channel: &FeedChannel, entries: &[FeedEntry]) -> String {
        match self {
            Format::Rss => render_rss(channel, entries),
            Format::Atom => render_atom(channel, entries),
            Format::Json => render_json_feed(channel, entries),
        }
    }
}

/// One feed to build: a row of [`FEEDS`] and, for a tag's or a post's feed, which one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSpec {
    /// The latest posts.
    Posts(&'static FeedRoute),
    /// The latest comments on every post.
    Comments(&'static FeedRoute),
    /// The latest posts with a tag.
    Tag {
        route: &'static FeedRoute,
        slug: String,
        name: String,
    },
    /// The latest comments on one post.
    PostComments {
        route: &'static FeedRoute,
        post: FeedSubject,
    },
}

impl FeedSpec {
    /// The site's feed of `route`; `None` when the route is a tag's or a post's.
    pub fn for_site(route: &'static FeedRoute) -> Option<Self> {
        match route.subject {
            Subject::Posts => Some(FeedSpec::Posts(route)),
            Subject::Comments => Some(FeedSpec::Comments(route)),
            Subject::Tag | Subject::PostComments => None,
        }
    }

    /// Every feed of the tag `slug`.
    pub fn for_tag(slug: &str, name: &str) -> impl Iterator<Item = Self> {
        let (slug, name) = (slug.to_owned(), name.to_owned());
        feeds_of(Subject::Tag).map(move |route| FeedSpec::Tag {
            route,
            slug: slug.clone(),
            name: name.clone(),
        })
    }

    /// Every comment feed of `post`.
    pub fn for_post(post: &FeedSubject) -> impl Iterator<Item = Self> {
        let post = post.clone();
        feeds_of(Subject::PostComments).map(move |route| FeedSpec::PostComments {
            route,
            post: post.clone(),
        })
    }

    fn route(&self) -> &'static FeedRoute {
        match self {
            FeedSpec::Posts(route) | FeedSpec::Comments(route) => route,
            FeedSpec::Tag { route, .. } | FeedSpec::PostComments { route, .. } => route,
        }
    }

    /// The feed's path under the public URL, which is also its key in storage.
    pub fn key(&self) -> String {
        let slug = match self {
            FeedSpec::Posts(_) | FeedSpec::Comments(_) => "",
            FeedSpec::Tag { slug, .. } => slug,
            FeedSpec::PostComments { post, .. } => &post.slug,
        };
        self.route().key(slug)
    }

    pub fn format(&self) -> Format {
        self.route().format
    }
}

/// Loads what `spec` shows and renders it; returns the document and its item count.
async fn build(
    tx: &mut PgConnection,
    settings: &FeedSettings,
    spec: &FeedSpec,
) -> Result<(String, usize), StoreError> {
    let site = &settings.site;
    let limit = i64::from(settings.feed_items);
    let self_url = site.url(&spec.key());
    let channel = |title: String, link: String, description: String| FeedChannel {
        title,
        link,
        description,
        language: site.language.clone(),
        self_url: self_url.clone(),
        ttl_minutes: FEED_TTL_MINUTES,
        hub: settings.websub_hub.clone(),
        actor: settings.actor.clone(),
    };
    // Loaded here; made into entries and written off the async runtime (bodies are parsed
    // to make their links absolute, and can be large).
    let (channel, loaded) = match spec {
        FeedSpec::Posts(_) => {
            let posts = sources::latest_posts(&mut *tx, PUBLIC, None, limit).await?;
            let channel = channel(site.title.clone(), site.url("/"), site.description.clone());
            (channel, Loaded::Posts(posts))
        }
        FeedSpec::Tag { slug, name, .. } => {
            let posts = sources::latest_posts(&mut *tx, PUBLIC, Some(slug), limit).await?;
            let channel = channel(
                format!("{} · {name}", site.title),
                site.url(&format!("tags/{slug}")),
                format!("Posts tagged “{name}”"),
            );
            (channel, Loaded::Posts(posts))
        }
        FeedSpec::Comments(_) => {
            let comments = sources::latest_comments(&mut *tx, PUBLIC, None, limit).await?;
            let channel = channel(
                format!("Comments on {}", site.title),
                site.url("/"),
                format!("The latest comments on {}", site.title),
            );
            (channel, Loaded::Comments(comments, true))
        }
        FeedSpec::PostComments { post, .. } => {
            let comments = sources::latest_comments(&mut *tx, PUBLIC, Some(post.id), limit).await?;
            let channel = channel(
                format!("Comments on: {}", post.title),
                site.post_url(&post.slug),
                format!("Comments on “{}”", post.title),
            );
            (channel, Loaded::Comments(comments, false))
        }
    };
    let (site, format) = (site.clone(), spec.format());
    let built = crate::offload::render(move || {
        let entries = match loaded {
            Loaded::Posts(posts) => post_entries(&site, &posts),
            Loaded::Comments(comments, site_wide) => comment_entries(&site, &comments, site_wide),
        };
        (format.render(&channel, &entries), entries.len())
    })
    .await;
    Ok(built)
}

/// What a feed is made of, as read from the database.
enum Loaded {
    Posts(Vec<FeedPost>),
    /// And whether the feed is the site's (entries name their post).
    Comments(Vec<FeedComment>, bool),
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
                comments_feed: Some(site.url(&main_feed(Subject::PostComments).key(&post.slug))),
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

/// Rebuilds the feed `spec` describes; true when its stored bytes changed.
pub async fn rebuild(
    pool: &PgPool,
    settings: &FeedSettings,
    spec: &FeedSpec,
) -> Result<Rebuilt, StoreError> {
    let key = spec.key();
    let mut tx = pool.begin().await?;
    feeds::lock(&mut tx, &key).await?;
    let (body, items) = build(&mut tx, settings, spec).await?;
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
    Ok(Rebuilt {
        key,
        items,
        changed,
    })
}

/// What [`rebuild`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    pub key: String,
    pub items: usize,
    pub changed: bool,
}

/// Removes the stored feeds no row of [`FEEDS`] names for a tag or post the public sees;
/// returns their keys.
pub async fn remove_stale(exec: impl PgExecutor<'_>) -> Result<Vec<String>, StoreError> {
    let (tags, posts) = (slug_parts(Subject::Tag), slug_parts(Subject::PostComments));
    feeds::remove_stale(
        exec,
        feeds::SlugKeys {
            tags: &tags,
            posts: &posts,
        },
    )
    .await
}

/// The parts around the slug of every feed of `subject`.
pub fn slug_parts(subject: Subject) -> Vec<(&'static str, &'static str)> {
    feeds_of(subject)
        .filter_map(FeedRoute::slug_parts)
        .collect()
}

/// Builds the comment feed of the published post `slug` if it is not stored yet (the first
/// request for it); false when there is no such post.
pub async fn build_post_comments(
    pool: &PgPool,
    settings: &FeedSettings,
    slug: &str,
) -> Result<bool, StoreError> {
    let Some(post) = sources::published_post(pool, PUBLIC, slug).await? else {
        return Ok(false);
    };
    for spec in FeedSpec::for_post(&post) {
        rebuild(pool, settings, &spec).await?;
    }
    Ok(true)
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
        let keys: Vec<String> = FeedSpec::for_post(&post).map(|spec| spec.key()).collect();
        assert_eq!(keys, ["posts/hello/comments/feed.xml"]);
        let comments_atom = feed(Subject::Comments, Format::Atom)
            .and_then(FeedSpec::for_site)
            .map(|spec| spec.key());
        assert_eq!(comments_atom.as_deref(), Some("comments/feed.atom"));
        let keys: Vec<String> = FeedSpec::for_tag("rust", "Rust")
            .map(|spec| spec.key())
            .collect();
        assert_eq!(keys, ["tags/rust/feed.xml"]);
    }
}
