//! Each channel kind's rules, in one table: how long a text may be, how its length is
//! counted, how many hashtags it takes, and the default shape of a summary.

// The one list of kinds: the store reads and writes them by `ChannelKind::as_str`, and
// the API's schema shows this very enum (feature `graphql`), so no second list can drift.
// A plain comment, not a doc comment: the derive would make a doc comment the schema's
// description of `ChannelKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "graphql", derive(async_graphql::Enum))]
pub enum ChannelKind {
    Facebook,
    Twitter,
    Youtube,
    Flickr,
    Blog,
    Rss,
    Podcast,
    Mastodon,
    Linkedin,
    Other,
}

impl ChannelKind {
    /// The kind called `name` (`twitter`, `mastodon`, …, as stored); `Other` for names this
    /// version does not know.
    pub fn from_name(name: &str) -> Self {
        match name {
            "facebook" => ChannelKind::Facebook,
            "twitter" => ChannelKind::Twitter,
            "youtube" => ChannelKind::Youtube,
            "flickr" => ChannelKind::Flickr,
            "blog" => ChannelKind::Blog,
            "rss" => ChannelKind::Rss,
            "podcast" => ChannelKind::Podcast,
            "mastodon" => ChannelKind::Mastodon,
            "linkedin" => ChannelKind::Linkedin,
            _ => ChannelKind::Other,
        }
    }

    /// The stored name, e.g. `twitter`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Facebook => "facebook",
            ChannelKind::Twitter => "twitter",
            ChannelKind::Youtube => "youtube",
            ChannelKind::Flickr => "flickr",
            ChannelKind::Blog => "blog",
            ChannelKind::Rss => "rss",
            ChannelKind::Podcast => "podcast",
            ChannelKind::Mastodon => "mastodon",
            ChannelKind::Linkedin => "linkedin",
            ChannelKind::Other => "other",
        }
    }

    pub const ALL: [ChannelKind; 10] = [
        ChannelKind::Facebook,
        ChannelKind::Twitter,
        ChannelKind::Youtube,
        ChannelKind::Flickr,
        ChannelKind::Blog,
        ChannelKind::Rss,
        ChannelKind::Podcast,
        ChannelKind::Mastodon,
        ChannelKind::Linkedin,
        ChannelKind::Other,
    ];
}

/// A stored name (the database's check constraint keeps it to the known ones).
impl From<String> for ChannelKind {
    fn from(name: String) -> Self {
        ChannelKind::from_name(&name)
    }
}

/// How a channel counts a text's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Unicode characters (code points).
    Chars,
    /// Characters, but every URL counts as this many (Mastodon: 23).
    CharsUrlsAs(usize),
    /// Characters, links not counted: they are shown as a preview card (Facebook).
    CharsWithoutUrls,
    /// X/Twitter's weighted count (twitter-text configuration v3): most scripts 1, CJK and
    /// other wide scripts 2, an emoji 2, every URL 23, at most 280.
    TwitterWeighted,
}

/// One channel kind's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelRules {
    pub limit: usize,
    pub counting: Counting,
    /// Hashtags made from the post's tags, at most this many (0: none).
    pub max_hashtags: usize,
    /// The summary's shape when the channel has no template of its own.
    pub default_template: &'static str,
}

const STACKED: &str = "{title}\n\n{excerpt}\n\n{link}\n\n{hashtags}";

/// The table.
pub fn rules(kind: ChannelKind) -> ChannelRules {
    let (limit, counting, max_hashtags, default_template) = match kind {
        ChannelKind::Twitter => (
            280,
            Counting::TwitterWeighted,
            3,
            "{title}: {excerpt} {link} {hashtags}",
        ),
        ChannelKind::Mastodon => (500, Counting::CharsUrlsAs(23), 5, STACKED),
        ChannelKind::Linkedin => (3_000, Counting::Chars, 5, STACKED),
        // "A summary of up to ~500 characters plus the link": the link becomes a card.
        ChannelKind::Facebook => (
            500,
            Counting::CharsWithoutUrls,
            0,
            "{title}\n\n{excerpt}\n\n{link}",
        ),
        // YouTube shows at most 15 hashtags of a description.
        ChannelKind::Youtube => (
            5_000,
            Counting::Chars,
            15,
            "{title}\n\n{excerpt}\n\nRead the post: {link}\n\n{hashtags}",
        ),
        ChannelKind::Podcast => (5_000, Counting::Chars, 0, "{title}\n\n{excerpt}\n\n{link}"),
        ChannelKind::Flickr => (2_000, Counting::Chars, 10, STACKED),
        ChannelKind::Blog => (
            1_000,
            Counting::Chars,
            0,
            "{title}\n\n{excerpt}\n\nRead more: {link}",
        ),
        ChannelKind::Rss => (500, Counting::Chars, 0, "{title}\n{excerpt}\n{link}"),
        ChannelKind::Other => (500, Counting::Chars, 0, "{title}\n\n{excerpt}\n\n{link}"),
    };
    ChannelRules {
        limit,
        counting,
        max_hashtags,
        default_template,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the store writes (`as_str`) it reads back as the same kind, and every kind but
    /// `Other` has a name of its own (an unknown name would silently become `Other`).
    #[test]
    fn every_kind_survives_the_database() {
        for kind in ChannelKind::ALL {
            assert_eq!(ChannelKind::from(kind.as_str().to_owned()), kind);
        }
        let mut names: Vec<&str> = ChannelKind::ALL.iter().map(|kind| kind.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ChannelKind::ALL.len());
        assert_eq!(ChannelKind::from_name("myspace"), ChannelKind::Other);
    }
}
