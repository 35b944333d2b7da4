use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Text,
};
use chrono::{DateTime, Utc};

use crate::model::{FeedChannel, FeedEntry, GENERATOR};
use crate::xml::xml_safe;

/// Renders an Atom 1.0 document (RFC 4287). `updated` is the newest entry's update time, so
/// unchanged content gives a byte-identical feed; an empty feed carries the Unix epoch.
pub fn render_atom(channel: &FeedChannel, entries: &[FeedEntry]) -> String {
    let updated = entries
        .iter()
        .map(|entry| entry.updated_at)
        .max()
        .unwrap_or(DateTime::UNIX_EPOCH);
    let mut links = vec![
        link(&channel.self_url, "self", Some("application/atom+xml")),
        link(&channel.link, "alternate", Some("text/html")),
    ];
    if let Some(hub) = &channel.hub {
        links.push(link(hub, "hub", None));
    }
    if let Some(actor) = &channel.actor {
        links.push(link(actor, "me", Some("application/activity+json")));
    }
    let feed = Feed {
        id: channel.self_url.clone(),
        title: Text::plain(xml_safe(&channel.title)),
        subtitle: Some(Text::plain(xml_safe(&channel.description))),
        updated: fixed(updated),
        links,
        generator: Some(Generator {
            value: GENERATOR.to_owned(),
            uri: None,
            version: None,
        }),
        lang: Some(channel.language.clone()),
        entries: entries.iter().map(entry).collect(),
        ..Feed::default()
    };
    feed.to_string()
}

fn entry(item: &FeedEntry) -> Entry {
    let mut links = vec![link(&item.link, "alternate", Some("text/html"))];
    if let Some(feed) = &item.comments_feed {
        links.push(link(feed, "replies", Some("application/rss+xml")));
    }
    Entry {
        id: item.guid.clone(),
        title: Text::plain(xml_safe(&item.title)),
        updated: fixed(item.updated_at),
        published: Some(fixed(item.published_at)),
        authors: vec![Person {
            name: xml_safe(&item.author),
            ..Person::default()
        }],
        links,
        categories: item
            .categories
            .iter()
            .map(|name| Category {
                term: xml_safe(name),
                ..Category::default()
            })
            .collect(),
        summary: Some(Text::plain(xml_safe(&item.description))),
        content: Some(Content {
            value: Some(xml_safe(&item.content_html)),
            content_type: Some("html".to_owned()),
            ..Content::default()
        }),
        ..Entry::default()
    }
}

fn link(href: &str, rel: &str, mime_type: Option<&str>) -> Link {
    Link {
        href: href.to_owned(),
        rel: rel.to_owned(),
        mime_type: mime_type.map(str::to_owned),
        ..Link::default()
    }
}

fn fixed(time: DateTime<Utc>) -> FixedDateTime {
    time.fixed_offset()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests_support::{channel, entry};

    #[test]
    fn atom_parses_with_a_real_parser() {
        let xml = render_atom(&channel(), &[entry("Hello & <b>goodbye</b>")]);
        let feed = feed_rs::parser::parse(xml.as_bytes()).expect("valid Atom");
        assert_eq!(feed.feed_type, feed_rs::model::FeedType::Atom);
        assert_eq!(feed.id, "https://blog.example/feed.xml");
        let item = &feed.entries[0];
        assert_eq!(item.id, "tag:blog.example,2013-08-22:post-1");
        assert_eq!(
            item.title.as_ref().map(|t| t.content.as_str()),
            Some("Hello & <b>goodbye</b>")
        );
        assert_eq!(item.authors[0].name.as_deref(), Some("Author"));
        assert_eq!(item.links[0].href, "https://blog.example/posts/a");
        assert!(xml.contains(r#"rel="hub""#), "{xml}");
    }

    #[test]
    fn an_empty_atom_feed_is_still_valid() {
        let xml = render_atom(&channel(), &[]);
        let feed = feed_rs::parser::parse(xml.as_bytes()).expect("valid Atom");
        assert!(feed.entries.is_empty());
    }
}
