//! Every feed Gazette publishes, in one table: what it lists, its format (and so its media
//! type), and its path under the public URL, which is also its key in storage. The worker
//! builds from it, the API routes, links and lists from it, and the store's clean-up
//! matches stored keys against it; a new feed is a row here (and, for a new format, a
//! renderer in `gazette-syndication`).

use super::Format;

/// What a feed lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// The latest posts.
    Posts,
    /// The latest comments on every post.
    Comments,
    /// The latest posts with one tag.
    Tag,
    /// The latest comments on one post.
    PostComments,
}

impl Subject {
    /// Whether a feed of this subject exists once per tag or post (its path has `{slug}`).
    pub fn per_slug(self) -> bool {
        matches!(self, Subject::Tag | Subject::PostComments)
    }
}

/// One feed of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedRoute {
    pub subject: Subject,
    pub format: Format,
    /// Under the public URL; `{slug}` stands for the tag's or the post's slug.
    path: &'static str,
}

/// The feeds, in the order the worker builds them.
pub const FEEDS: [FeedRoute; 8] = [
    FeedRoute::new(Subject::Posts, Format::Rss, "feed.xml"),
    FeedRoute::new(Subject::Posts, Format::Atom, "feed.atom"),
    FeedRoute::new(Subject::Posts, Format::Json, "feed.json"),
    FeedRoute::new(Subject::Comments, Format::Rss, "comments/feed.xml"),
    FeedRoute::new(Subject::Comments, Format::Atom, "comments/feed.atom"),
    FeedRoute::new(Subject::Comments, Format::Json, "comments/feed.json"),
    FeedRoute::new(Subject::Tag, Format::Rss, "tags/{slug}/feed.xml"),
    FeedRoute::new(
        Subject::PostComments,
        Format::Rss,
        "posts/{slug}/comments/feed.xml",
    ),
];

const SLUG: &str = "{slug}";

impl FeedRoute {
    const fn new(subject: Subject, format: Format, path: &'static str) -> Self {
        Self {
            subject,
            format,
            path,
        }
    }

    /// The feed's key (and path under the public URL) for the tag or post `slug`; the
    /// site's feeds ignore it.
    pub fn key(&self, slug: &str) -> String {
        self.path.replace(SLUG, slug)
    }

    /// The path as the router takes it: `/feed.xml`, `/tags/{slug}/feed.xml`.
    pub fn route(&self) -> String {
        format!("/{}", self.path)
    }

    /// The key around the slug, `("tags/", "/feed.xml")`: how the store's clean-up finds
    /// the tag or post a stored key belongs to. `None` for the site's feeds.
    pub fn slug_parts(&self) -> Option<(&'static str, &'static str)> {
        self.path.split_once(SLUG)
    }
}

/// The feed of `subject` in `format`, if Gazette publishes one.
pub fn feed(subject: Subject, format: Format) -> Option<&'static FeedRoute> {
    FEEDS
        .iter()
        .find(|route| route.subject == subject && route.format == format)
}

/// The feeds of `subject`, in every format Gazette publishes it in.
pub fn feeds_of(subject: Subject) -> impl Iterator<Item = &'static FeedRoute> {
    FEEDS.iter().filter(move |route| route.subject == subject)
}

/// The main feed of `subject` (its first row: RSS), for links.
pub fn main_feed(subject: Subject) -> &'static FeedRoute {
    feeds_of(subject)
        .next()
        .expect("every subject has a feed in FEEDS")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subject_has_a_feed_and_paths_are_unique() {
        for subject in [
            Subject::Posts,
            Subject::Comments,
            Subject::Tag,
            Subject::PostComments,
        ] {
            assert!(feeds_of(subject).next().is_some(), "{subject:?}");
            for route in feeds_of(subject) {
                assert_eq!(
                    route.slug_parts().is_some(),
                    subject.per_slug(),
                    "{route:?}"
                );
            }
        }
        let mut paths: Vec<&str> = FEEDS.iter().map(|route| route.path).collect();
        paths.sort_unstable();
        paths.dedup();
        assert_eq!(paths.len(), FEEDS.len());
    }

    #[test]
    fn keys_put_the_slug_in_its_place() {
        let tag = main_feed(Subject::Tag);
        assert_eq!(tag.key("rust"), "tags/rust/feed.xml");
        assert_eq!(tag.slug_parts(), Some(("tags/", "/feed.xml")));
        assert_eq!(tag.route(), "/tags/{slug}/feed.xml");
        assert_eq!(
            feed(Subject::Comments, Format::Atom).map(|route| route.key("")),
            Some("comments/feed.atom".to_owned())
        );
    }
}
