//! JSON Feed 1.1 (<https://www.jsonfeed.org/version/1.1/>): the same channel and entries as
//! the RSS and Atom feeds, for readers and programs that prefer JSON.

use serde_json::{Map, Value, json};

use crate::model::{FeedChannel, FeedEntry};

pub const VERSION: &str = "https://jsonfeed.org/version/1.1";

/// The feed as JSON Feed 1.1, pretty-printed (feeds are read by people too).
pub fn render_json_feed(channel: &FeedChannel, entries: &[FeedEntry]) -> String {
    let mut feed = Map::new();
    feed.insert("version".to_owned(), json!(VERSION));
    feed.insert("title".to_owned(), json!(channel.title));
    feed.insert("home_page_url".to_owned(), json!(channel.link));
    feed.insert("feed_url".to_owned(), json!(channel.self_url));
    feed.insert("description".to_owned(), json!(channel.description));
    feed.insert("language".to_owned(), json!(channel.language));
    if let Some(hub) = &channel.hub {
        feed.insert("hubs".to_owned(), json!([{ "type": "WebSub", "url": hub }]));
    }
    let items: Vec<Value> = entries.iter().map(item).collect();
    feed.insert("items".to_owned(), Value::Array(items));
    let mut text =
        serde_json::to_string_pretty(&Value::Object(feed)).unwrap_or_else(|_| String::from("{}"));
    text.push('\n');
    text
}

fn item(entry: &FeedEntry) -> Value {
    let mut item = Map::new();
    // The permanent tag: URI, as the other formats' guid and id.
    item.insert("id".to_owned(), json!(entry.guid));
    item.insert("url".to_owned(), json!(entry.link));
    item.insert("title".to_owned(), json!(entry.title));
    item.insert("content_html".to_owned(), json!(entry.content_html));
    if !entry.description.is_empty() {
        item.insert("summary".to_owned(), json!(entry.description));
    }
    item.insert(
        "date_published".to_owned(),
        json!(entry.published_at.to_rfc3339()),
    );
    item.insert(
        "date_modified".to_owned(),
        json!(entry.updated_at.to_rfc3339()),
    );
    if !entry.author.is_empty() {
        item.insert("authors".to_owned(), json!([{ "name": entry.author }]));
    }
    if !entry.categories.is_empty() {
        item.insert("tags".to_owned(), json!(entry.categories));
    }
    Value::Object(item)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests_support::{channel, entry};

    #[test]
    fn has_what_json_feed_1_1_requires() {
        let text = render_json_feed(&channel(), &[entry("A post")]);
        let feed: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(feed["version"], VERSION);
        assert!(feed["title"].is_string());
        let item = &feed["items"][0];
        assert!(item["id"].is_string());
        assert!(item["content_html"].is_string() || item["content_text"].is_string());
        assert!(
            item["url"]
                .as_str()
                .is_some_and(|url| url.starts_with("https://"))
        );
        assert!(
            chrono::DateTime::parse_from_rfc3339(item["date_published"].as_str().expect("date"))
                .is_ok()
        );
    }
}
