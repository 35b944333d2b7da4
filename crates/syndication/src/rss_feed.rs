use std::collections::BTreeMap;

use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::{Extension, ExtensionMap};
use rss::{Category, Channel, Guid, Item};

use crate::model::{FeedChannel, FeedEntry, GENERATOR};
use crate::xml::xml_safe;

const CONTENT_NAMESPACE: &str = "http://purl.org/rss/1.0/modules/content/";
const WFW_NAMESPACE: &str = "http://wellformedweb.org/CommentAPI/";
const SLASH_NAMESPACE: &str = "http://purl.org/rss/1.0/modules/slash/";

/// Renders an RSS 2.0 document. `lastBuildDate` is the newest item's update time (not the
/// clock), so unchanged content gives a byte-identical feed.
pub fn render_rss(channel: &FeedChannel, entries: &[FeedEntry]) -> String {
    let last_build = entries.iter().map(|entry| entry.updated_at).max();
    let mut links = vec![Link {
        href: channel.self_url.clone(),
        rel: "self".to_owned(),
        mime_type: Some("application/rss+xml".to_owned()),
        ..Link::default()
    }];
    if let Some(hub) = &channel.hub {
        links.push(Link {
            href: hub.clone(),
            rel: "hub".to_owned(),
            ..Link::default()
        });
    }
    if let Some(actor) = &channel.actor {
        links.push(Link {
            href: actor.clone(),
            rel: "me".to_owned(),
            mime_type: Some("application/activity+json".to_owned()),
            ..Link::default()
        });
    }
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
    rss.set_atom_ext(AtomExtension { links });
    rss.set_namespaces(BTreeMap::from([
        (
            "atom".to_owned(),
            rss::extension::atom::NAMESPACE.to_owned(),
        ),
        ("content".to_owned(), CONTENT_NAMESPACE.to_owned()),
        (
            "dc".to_owned(),
            rss::extension::dublincore::NAMESPACE.to_owned(),
        ),
        ("slash".to_owned(), SLASH_NAMESPACE.to_owned()),
        ("wfw".to_owned(), WFW_NAMESPACE.to_owned()),
    ]));
    rss.to_string()
}

fn item(entry: &FeedEntry) -> Item {
    let mut extensions = ExtensionMap::default();
    if let Some(feed) = &entry.comments_feed {
        extensions.insert(
            "wfw".to_owned(),
            BTreeMap::from([(
                "commentRss".to_owned(),
                vec![text_extension("wfw:commentRss", feed)],
            )]),
        );
    }
    if let Some(count) = entry.comment_count {
        extensions.insert(
            "slash".to_owned(),
            BTreeMap::from([(
                "comments".to_owned(),
                vec![text_extension("slash:comments", &count.to_string())],
            )]),
        );
    }
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
        extensions,
        ..Item::default()
    }
}

fn text_extension(name: &str, value: &str) -> Extension {
    Extension {
        name: name.to_owned(),
        value: Some(xml_safe(value)),
        ..Extension::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests_support::{channel, entry};

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
        for expected in [
            r#"<atom:link href="https://blog.example/feed.xml" rel="self" type="application/rss+xml"/>"#,
            r#"<atom:link href="https://hub.example/" rel="hub"/>"#,
            "<dc:creator>Author</dc:creator>",
            "<wfw:commentRss>https://blog.example/posts/a/comments/feed.xml</wfw:commentRss>",
            "<slash:comments>2</slash:comments>",
            r#"<guid isPermaLink="false">tag:blog.example,2013-08-22:post-1</guid>"#,
            "<comments>https://blog.example/posts/a#comments</comments>",
        ] {
            assert!(xml.contains(expected), "{expected} missing from {xml}");
        }
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
