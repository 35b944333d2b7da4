//! Sitemaps (<https://www.sitemaps.org/protocol.html>): a `urlset` of pages with when each
//! last changed, and the `sitemapindex` that lists several when one file would be too big.

use chrono::{DateTime, SecondsFormat, Utc};

use crate::xml::xml_safe;

/// Most URLs (or sitemaps) one file may list.
pub const MAX_URLS_PER_FILE: usize = 50_000;

const NAMESPACE: &str = "http://www.sitemaps.org/schemas/sitemap/0.9";

/// A page (or, in an index, a sitemap) and when it last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SitemapLink {
    /// Absolute URL.
    pub loc: String,
    pub lastmod: Option<DateTime<Utc>>,
}

/// A `urlset` of `links`.
pub fn render_urlset(links: &[SitemapLink]) -> String {
    render("urlset", "url", links)
}

/// A `sitemapindex` of the sitemaps at `links`.
pub fn render_sitemap_index(links: &[SitemapLink]) -> String {
    render("sitemapindex", "sitemap", links)
}

fn render(root: &str, element: &str, links: &[SitemapLink]) -> String {
    let mut xml =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{root} xmlns=\"{NAMESPACE}\">\n");
    for link in links {
        xml.push_str(&format!("<{element}><loc>{}</loc>", escape(&link.loc)));
        if let Some(at) = link.lastmod {
            xml.push_str(&format!(
                "<lastmod>{}</lastmod>",
                at.to_rfc3339_opts(SecondsFormat::Secs, true)
            ));
        }
        xml.push_str(&format!("</{element}>\n"));
    }
    xml.push_str(&format!("</{root}>\n"));
    xml
}

/// Sitemaps require entity-escaping of `&`, `'`, `"`, `>` and `<` in URLs.
fn escape(text: &str) -> String {
    xml_safe(text)
        .replace('&', "&amp;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
        .replace('>', "&gt;")
        .replace('<', "&lt;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn urls_are_escaped_and_dated() {
        let at = Utc
            .with_ymd_and_hms(2013, 8, 22, 9, 30, 0)
            .single()
            .expect("date");
        let xml = render_urlset(&[SitemapLink {
            loc: "https://blog.example/posts/a?b=1&c=2".to_owned(),
            lastmod: Some(at),
        }]);
        assert!(
            xml.contains("<loc>https://blog.example/posts/a?b=1&amp;c=2</loc>"),
            "{xml}"
        );
        assert!(
            xml.contains("<lastmod>2013-08-22T09:30:00Z</lastmod>"),
            "{xml}"
        );
        assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">"));
        let index = render_sitemap_index(&[SitemapLink {
            loc: "https://blog.example/sitemaps/posts-1.xml".to_owned(),
            lastmod: None,
        }]);
        assert!(
            index.contains(
                "<sitemap><loc>https://blog.example/sitemaps/posts-1.xml</loc></sitemap>"
            )
        );
    }
}
