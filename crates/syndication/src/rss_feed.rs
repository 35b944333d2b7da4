use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Guid, Item};

/// What a feed says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedChannel {
    pub title: String,
    /// The site's home page.
    pub link: String,
    pub description: String,
    /// BCP 47 language tag, e.g. `en`.
    pub language: String,
    /// The feed's own absolute URL (`atom:link rel="self"`).
    pub self_url: String,
    /// Minutes a reader may cache the feed.
    pub ttl_minutes: u32,
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
}

pub const GENERATOR: &str = concat!("Gazette ", env!("CARGO_PKG_VERSION"));

/// Renders an RSS 2.0 document. `lastBuildDate` is the newest item's update time (not the
/// clock), so unchanged posts give a byte-identical feed.
pub fn render_rss(channel: &FeedChannel, entries: &[FeedEntry]) -> String {
    let last_build = entries.iter().map(|entry| entry.updated_at).max();
    let mut rss = Channel {
        title: xml_safe(&channel.title),
        link: channel.link.clone(),
        description: xml_safe(&channel.description),
        language: Some(channel.language.clone()),
        generator: Some(GENERATOR.to_owned()),
        ttl: Some(channel.ttl_minutes.to_string()),
        last_build_date: last_build.map(|date| date.to_rfc2822()),
        items: entries.iter().map(item).collect(),
        ..Channel::default()
    };
    rss.set_atom_ext(AtomExtension {
        links: vec![Link {
            href: channel.self_url.clone(),
            rel: "self".to_owned(),
            mime_type: Some("application/rss+xml".to_owned()),
            ..Link::default()
        }],
    });
    rss.set_namespaces(BTreeMap::from([
        (
            "atom".to_owned(),
            rss::extension::atom::NAMESPACE.to_owned(),
        ),
        (
            "content".to_owned(),
            "http://purl.org/rss/1.0/modules/content/".to_owned(),
        ),
        (
            "dc".to_owned(),
            rss::extension::dublincore::NAMESPACE.to_owned(),
        ),
    ]));
    rss.to_string()
}

fn item(entry: &FeedEntry) -> Item {
    Item {
        title: Some(xml_safe(&entry.title)),
        link: Some(entry.link.clone()),
        description: Some(xml_safe(&entry.description)),
        content: Some(xml_safe(&entry.content_html)),
        guid: Some(Guid {
            value: entry.guid.clone(),
            permalink: entry.guid_is_permalink,
        }),
        pub_date: Some(entry.published_at.to_rfc2822()),
        categories: entry
            .categories
            .iter()
            .map(|name| Category {
                name: xml_safe(name),
                domain: None,
            })
            .collect(),
        comments: entry.comments_link.clone(),
        dublin_core_ext: Some(DublinCoreExtension {
            creators: vec![xml_safe(&entry.author)],
            ..DublinCoreExtension::default()
        }),
        ..Item::default()
    }
}

/// Drops the characters XML 1.0 forbids (most C0 controls, U+FFFE/U+FFFF), which would
/// make the whole feed unreadable; the XML writer escapes everything else.
fn xml_safe(text: &str) -> String {
    text.chars()
        .filter(|&c| matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn channel() -> FeedChannel {
        FeedChannel {
            title: "Gazette".to_owned(),
            link: "https://blog.example/".to_owned(),
            description: "Posts".to_owned(),
            language: "en".to_owned(),
            self_url: "https://blog.example/feed.xml".to_owned(),
            ttl_minutes: 5,
        }
    }

    fn entry(title: &str) -> FeedEntry {
        let date = Utc
            .with_ymd_and_hms(2013, 8, 22, 12, 0, 0)
            .single()
            .expect("valid date");
        FeedEntry {
            title: title.to_owned(),
            link: "https://blog.example/posts/a".to_owned(),
            guid: "https://blog.example/posts/a".to_owned(),
            guid_is_permalink: true,
            published_at: date,
            updated_at: date,
            description: "Summary".to_owned(),
            content_html: "<p>Body &amp; more</p>".to_owned(),
            categories: vec!["Government".to_owned()],
            author: "Author".to_owned(),
            comments_link: Some("https://blog.example/posts/a#comments".to_owned()),
        }
    }

    #[test]
    fn feed_parses_with_a_real_parser() {
        let xml = render_rss(&channel(), &[entry("Hello")]);
        let feed = feed_rs::parser::parse(xml.as_bytes()).expect("valid RSS");
        assert_eq!(feed.title.map(|t| t.content).as_deref(), Some("Gazette"));
        assert_eq!(feed.entries.len(), 1);
        let item = &feed.entries[0];
        assert_eq!(
            item.title.as_ref().map(|t| t.content.as_str()),
            Some("Hello")
        );
        assert_eq!(item.links[0].href, "https://blog.example/posts/a");
        assert_eq!(
            item.content.as_ref().and_then(|c| c.body.as_deref()),
            Some("<p>Body &amp; more</p>")
        );
        assert_eq!(item.categories[0].term, "Government");
        assert_eq!(
            item.published.map(|d| d.to_rfc3339()).as_deref(),
            Some("2013-08-22T12:00:00+00:00")
        );
        assert!(xml.contains(r#"<atom:link href="https://blog.example/feed.xml" rel="self" type="application/rss+xml"/>"#), "{xml}");
        assert!(xml.contains("<dc:creator>Author</dc:creator>"), "{xml}");
    }

    #[test]
    fn hostile_text_stays_inert_and_well_formed() {
        let xml = render_rss(
            &channel(),
            &[entry("<script>alert('x')</script> & \u{1b}\u{0}")],
        );
        let feed = feed_rs::parser::parse(xml.as_bytes()).expect("still valid XML");
        assert_eq!(
            feed.entries[0].title.as_ref().map(|t| t.content.as_str()),
            // The parser trims the trailing space; the control characters are gone.
            Some("<script>alert('x')</script> &")
        );
        assert!(!xml.contains("<script>"), "{xml}");
    }

    #[test]
    fn same_input_same_bytes() {
        assert_eq!(
            render_rss(&channel(), &[entry("A")]),
            render_rss(&channel(), &[entry("A")])
        );
    }
}
