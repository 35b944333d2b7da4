use chrono::{DateTime, Utc};

pub const GENERATOR: &str = concat!("Gazette ", env!("CARGO_PKG_VERSION"));

/// What a feed says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedChannel {
    pub title: String,
    /// The page the feed is about (the site, a tag, a post).
    pub link: String,
    pub description: String,
    /// BCP 47 language tag, e.g. `en`.
    pub language: String,
    /// The feed's own absolute URL (`atom:link rel="self"`, and the Atom feed's id).
    pub self_url: String,
    /// Minutes a reader may cache the feed (RSS `ttl`).
    pub ttl_minutes: u32,
    /// A WebSub hub that pushes this feed's updates to subscribers.
    pub hub: Option<String>,
    /// The blog's ActivityPub actor, when it federates: linked as `rel="me"`.
    pub actor: Option<String>,
}

/// One item; every URL absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    pub title: String,
    pub link: String,
    /// Permanent and unique; `guid_is_permalink` says whether it is also the item's URL.
    pub guid: String,
    pub guid_is_permalink: bool,
    pub published_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Plain-text summary.
    pub description: String,
    /// Full sanitised HTML (`content:encoded`).
    pub content_html: String,
    pub categories: Vec<String>,
    pub author: String,
    /// Where the item's comments are read.
    pub comments_link: Option<String>,
    /// The item's own comments feed (`wfw:commentRss`).
    pub comments_feed: Option<String>,
    /// How many comments the item has (`slash:comments`).
    pub comment_count: Option<i64>,
}

/// A `tag:` URI (RFC 4151): a permanent id that survives changes of slug or title, for
/// guids and Atom ids. `authority` is the site's host, `date` the day the thing was made.
pub fn tag_uri(authority: &str, date: DateTime<Utc>, specific: &str) -> String {
    format!("tag:{authority},{}:{specific}", date.format("%Y-%m-%d"))
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use chrono::TimeZone;

    pub fn channel() -> FeedChannel {
        FeedChannel {
            title: "Gazette".to_owned(),
            link: "https://blog.example/".to_owned(),
            description: "Posts".to_owned(),
            language: "en".to_owned(),
            self_url: "https://blog.example/feed.xml".to_owned(),
            ttl_minutes: 5,
            hub: Some("https://hub.example/".to_owned()),
            actor: Some("https://blog.example/actor".to_owned()),
        }
    }

    pub fn entry(title: &str) -> FeedEntry {
        let date = Utc
            .with_ymd_and_hms(2013, 8, 22, 12, 0, 0)
            .single()
            .expect("valid date");
        FeedEntry {
            title: title.to_owned(),
            link: "https://blog.example/posts/a".to_owned(),
            guid: tag_uri("blog.example", date, "post-1"),
            guid_is_permalink: false,
            published_at: date,
            updated_at: date,
            description: "Summary".to_owned(),
            content_html: "<p>Body &amp; more</p>".to_owned(),
            categories: vec!["Government".to_owned()],
            author: "Author".to_owned(),
            comments_link: Some("https://blog.example/posts/a#comments".to_owned()),
            comments_feed: Some("https://blog.example/posts/a/comments/feed.xml".to_owned()),
            comment_count: Some(2),
        }
    }
}
