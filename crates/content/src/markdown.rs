use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, html};

use crate::{MAX_HTML_NESTING, html_nesting_exceeds};

/// Markdown extensions an editor expects (GitHub-style tables, strikethrough, task lists).
fn options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_SMART_PUNCTUATION
}

/// Post bodies come from authenticated authors: ammonia's default allow-list (no scripts,
/// styles, event handlers or `javascript:` URLs), links marked `noopener noreferrer`.
static POST_SANITIZER: LazyLock<ammonia::Builder<'static>> =
    LazyLock::new(ammonia::Builder::default);

/// The most HTML a post's body may render to: eight times the most Markdown an editor
/// may send (tables and links multiply it), far below what one `>` per byte makes.
pub const MAX_POST_HTML_BYTES: usize = 2 * 1024 * 1024;

/// Renders a post's Markdown to HTML that is safe to embed in pages and feeds; refused
/// when that HTML is larger than [`MAX_POST_HTML_BYTES`] or nests deeper than
/// [`MAX_HTML_NESTING`]. Both are measured before the sanitiser runs, whose time grows
/// faster than the nesting: 200,000 `>` (a 200 KB body) made 5.4 MB of nested quotes in
/// 40 ms, then kept the sanitiser busy for four minutes.
pub fn render_post_body(markdown: &str) -> Result<String, Unrenderable> {
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, Parser::new_ext(markdown, options()));
    sanitised(&unsafe_html, MAX_POST_HTML_BYTES, &POST_SANITIZER)
}

/// `unsafe_html` through `sanitizer`, once its size and nesting are known to be bounded.
fn sanitised(
    unsafe_html: &str,
    max_bytes: usize,
    sanitizer: &ammonia::Builder<'static>,
) -> Result<String, Unrenderable> {
    if unsafe_html.len() > max_bytes {
        return Err(Unrenderable::TooLarge(unsafe_html.len()));
    }
    if html_nesting_exceeds(unsafe_html, MAX_HTML_NESTING) {
        return Err(Unrenderable::TooDeep);
    }
    Ok(sanitizer.clean(unsafe_html).to_string())
}

/// Rewrites the relative links and image sources of sanitised post HTML against `base` (the
/// post's absolute URL), for places where the HTML leaves the site (feeds). `None` when
/// `base` is not an absolute URL, or when the HTML nests deeper than [`MAX_HTML_NESTING`]
/// (stored before that limit, it would hold up every feed run that shows it).
pub fn absolute_links(html: &str, base: &str) -> Option<String> {
    if html_nesting_exceeds(html, MAX_HTML_NESTING) {
        return None;
    }
    let base = ammonia::Url::parse(base).ok()?;
    let mut builder = ammonia::Builder::default();
    builder.url_relative(ammonia::UrlRelative::RewriteWithBase(base));
    Some(builder.clean(html).to_string())
}

/// Comments come from anyone: a small allow-list of inline and block tags, no images or
/// headings, and links marked `nofollow ugc noopener` (no search-engine credit for spam).
pub(crate) static COMMENT_SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::empty();
    builder
        .tags(HashSet::from([
            "a",
            "p",
            "br",
            "em",
            "strong",
            "del",
            "code",
            "pre",
            "blockquote",
            "ul",
            "ol",
            "li",
        ]))
        .tag_attributes(std::collections::HashMap::from([(
            "a",
            HashSet::from(["href"]),
        )]))
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(Some("nofollow ugc noopener"));
    builder
});

/// Renders a comment (plain text or limited Markdown; bare URLs become links) to safe HTML.
pub fn render_comment_body(text: &str) -> String {
    COMMENT_SANITIZER
        .clean(&unsanitised_comment_html(text))
        .to_string()
}

/// Why a new comment's body is not rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unrenderable {
    /// Its HTML would have at least this many bytes.
    TooLarge(usize),
    /// Its elements would nest deeper than [`MAX_HTML_NESTING`].
    TooDeep,
}

/// [`render_comment_body`] for a new comment, refused when the Markdown's HTML is larger
/// than `max_bytes` or nests deeper than [`MAX_HTML_NESTING`]: measured before the
/// sanitiser runs, which is where the time goes (10,000 `>` made 270 KB of nested quotes
/// that took it 275 ms, against 3 ms for the Markdown).
pub fn render_new_comment_body(text: &str, max_bytes: usize) -> Result<String, Unrenderable> {
    sanitised(
        &unsanitised_comment_html(text),
        max_bytes,
        &COMMENT_SANITIZER,
    )
}

fn unsanitised_comment_html(text: &str) -> String {
    let mut unsafe_html = String::with_capacity(text.len() * 3 / 2);
    let events = Parser::new_ext(text, Options::ENABLE_STRIKETHROUGH);
    html::push_html(&mut unsafe_html, linkify(events));
    unsafe_html
}

/// Turns bare `http(s)://` URLs in text (not in code or existing links) into links.
fn linkify<'a>(events: impl Iterator<Item = Event<'a>>) -> impl Iterator<Item = Event<'a>> {
    let mut link_depth = 0usize;
    let mut in_code_block = false;
    events.flat_map(move |event| {
        match &event {
            Event::Start(Tag::Link { .. }) => link_depth += 1,
            Event::End(TagEnd::Link) => link_depth = link_depth.saturating_sub(1),
            Event::Start(Tag::CodeBlock(_)) => in_code_block = true,
            Event::End(TagEnd::CodeBlock) => in_code_block = false,
            _ => {}
        }
        match event {
            Event::Text(text) if link_depth == 0 && !in_code_block && text.contains("://") => {
                split_urls(&text)
            }
            other => vec![other],
        }
    })
}

fn split_urls<'a>(text: &str) -> Vec<Event<'a>> {
    let mut events = Vec::new();
    let mut rest = text;
    while let Some(start) = ["https://", "http://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        let end = rest[start..]
            .find(char::is_whitespace)
            .map_or(rest.len(), |offset| start + offset);
        // Trailing punctuation ends a sentence, not the URL.
        let url = rest[start..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']);
        let end = start + url.len();
        if start > 0 {
            events.push(Event::Text(CowStr::from(rest[..start].to_owned())));
        }
        let url = CowStr::from(url.to_owned());
        events.push(Event::Start(Tag::Link {
            link_type: LinkType::Autolink,
            dest_url: url.clone(),
            title: CowStr::from(""),
            id: CowStr::from(""),
        }));
        events.push(Event::Text(url));
        events.push(Event::End(TagEnd::Link));
        rest = &rest[end..];
    }
    if !rest.is_empty() {
        events.push(Event::Text(CowStr::from(rest.to_owned())));
    }
    events
}

/// The text of a Markdown document without markup, blocks separated by blank lines.
pub fn plain_text(markdown: &str) -> String {
    let mut text = String::with_capacity(markdown.len());
    for event in Parser::new_ext(markdown, options()) {
        match event {
            Event::Text(part) | Event::Code(part) => text.push_str(&part),
            Event::SoftBreak | Event::HardBreak => text.push(' '),
            Event::End(
                TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item | TagEnd::BlockQuote(_),
            ) => text.push_str("\n\n"),
            _ => {}
        }
    }
    text.trim().to_owned()
}

/// A plain-text summary of at most `max_chars` characters, cut at a word boundary and
/// ending with an ellipsis when shortened; blank-line-separated blocks become one line.
pub fn excerpt(markdown: &str, max_chars: usize) -> String {
    let text = plain_text(markdown);
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max_chars {
        return flat;
    }
    let budget = max_chars.saturating_sub(1);
    // Cut where Unicode lets a line break (UAX #14): after spaces, but also between
    // ideographs, so Chinese or Japanese without spaces is cut at the budget too.
    let mut cut = 0;
    for (index, _) in unicode_linebreak::linebreaks(&flat) {
        if flat[..index].trim_end().chars().count() > budget {
            break;
        }
        cut = index;
    }
    if cut == 0 {
        // One enormous word: cut it at the character budget.
        cut = flat
            .char_indices()
            .nth(budget)
            .map_or(flat.len(), |(index, _)| index);
    }
    format!(
        "{}…",
        flat[..cut].trim_end_matches([' ', ',', ';', ':', '.'])
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_comments_too_large_or_deep_are_refused_before_sanitising() {
        // 10,000 `>` nest 10,000 quotes: the sanitiser took 275 ms over them.
        let quotes = format!("{} x", ">".repeat(9_990));
        assert!(matches!(
            render_new_comment_body(&quotes, 64 * 1024),
            Err(Unrenderable::TooLarge(bytes)) if bytes > 64 * 1024
        ));
        let deep = format!("{} x", ">".repeat(MAX_HTML_NESTING + 1));
        assert_eq!(
            render_new_comment_body(&deep, 64 * 1024),
            Err(Unrenderable::TooDeep)
        );
        assert_eq!(
            render_new_comment_body("> quoted *text*", 64 * 1024).as_deref(),
            Ok(render_comment_body("> quoted *text*").as_str())
        );
    }

    /// Issue 11, item 4: text without spaces is cut where Unicode allows a line break.
    #[test]
    fn excerpts_of_text_without_spaces_end_at_a_line_break_opportunity() {
        let text = "政府機関によるソーシャルメディアの活用。市民との対話を深めるための新しい方法を紹介します。".repeat(5);
        let cut = excerpt(&text, 40);
        assert!(cut.ends_with('…'), "{cut}");
        let kept = cut.trim_end_matches('…');
        assert!(
            kept.chars().count() <= 39 && kept.chars().count() > 30,
            "{cut}"
        );
        assert!(
            unicode_linebreak::linebreaks(&text).any(|(index, _)| text[..index].trim_end() == kept),
            "cut where no line may break: {cut}"
        );
        // Spaces still win where there are some.
        assert_eq!(excerpt("one two three four", 12), "one two…");
    }

    #[test]
    fn renders_markdown() {
        let html = render_post_body("# Title\n\nSome *text* and a [link](https://example.org).")
            .expect("renders");
        assert!(html.contains("<h1>Title</h1>"), "{html}");
        assert!(html.contains("<em>text</em>"), "{html}");
        assert!(
            html.contains(r#"<a href="https://example.org" rel="noopener noreferrer">link</a>"#),
            "{html}"
        );
    }

    #[test]
    fn strips_scripts_styles_and_handlers() {
        let html = render_post_body(
            "<script>alert(1)</script>\n\n<p style=\"color:red\" onclick=\"x()\">hi</p>\n\n[x](javascript:alert(1))",
        )
        .expect("renders");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("style="), "{html}");
        assert!(!html.contains("onclick"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("hi"), "{html}");
    }

    #[test]
    fn post_bodies_too_deep_or_too_large_are_refused_before_sanitising() {
        // 200,000 `>` (5.4 MB of HTML) kept the sanitiser busy for four minutes; 100,000
        // nested list items for three and a half.
        let quotes = format!("{} x", ">".repeat(200_000));
        assert!(matches!(
            render_post_body(&quotes),
            Err(Unrenderable::TooLarge(bytes)) if bytes > 5_000_000
        ));
        let lists = format!("{}x", "- ".repeat(20_000));
        assert_eq!(render_post_body(&lists), Err(Unrenderable::TooDeep));
        let deep = format!("{} x", ">".repeat(MAX_HTML_NESTING + 1));
        assert_eq!(render_post_body(&deep), Err(Unrenderable::TooDeep));
        let large = "[a](https://example.org/a) ".repeat(60_000);
        assert!(matches!(
            render_post_body(&large),
            Err(Unrenderable::TooLarge(bytes)) if bytes > MAX_POST_HTML_BYTES
        ));
        let fine = format!("{} x", ">".repeat(100));
        assert_eq!(
            render_post_body(&fine).map(|html| html.matches("<blockquote>").count()),
            Ok(100)
        );
    }

    #[test]
    fn excerpts_cut_at_word_boundaries() {
        let markdown = "Alpha beta gamma delta.\n\nSecond paragraph here.";
        assert_eq!(
            excerpt(markdown, 200),
            "Alpha beta gamma delta. Second paragraph here."
        );
        assert_eq!(excerpt(markdown, 17), "Alpha beta gamma…");
        assert!(excerpt(markdown, 17).chars().count() <= 17);
        assert_eq!(excerpt("Supercalifragilistic", 6), "Super…");
    }

    #[test]
    fn comments_link_bare_urls_without_search_credit() {
        let html = render_comment_body("Have a look at mine.\nhttp://wp.me/p3jRFF-H.");
        assert!(
            html.contains(r#"<a href="http://wp.me/p3jRFF-H" rel="nofollow ugc noopener">http://wp.me/p3jRFF-H</a>."#),
            "{html}"
        );
        let code = render_comment_body("`http://inside.code`");
        assert!(!code.contains("<a "), "{code}");
    }

    #[test]
    fn comments_allow_little_markup() {
        let html =
            render_comment_body("# Big\n\n![img](http://x/y.png) **bold** <b onclick=x>b</b>");
        assert!(!html.contains("<h1"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("onclick"), "{html}");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
    }

    #[test]
    fn relative_links_become_absolute() {
        let html = render_post_body(
            "[about](/about) [next](next-post) ![map](img/map.png) [out](https://x.example/) [top](#top)",
        )
        .expect("renders");
        let absolute =
            absolute_links(&html, "https://blog.example/posts/first").expect("base is absolute");
        for expected in [
            r#"href="https://blog.example/about""#,
            r#"href="https://blog.example/posts/next-post""#,
            r#"src="https://blog.example/posts/img/map.png""#,
            r#"href="https://x.example/""#,
            r#"href="https://blog.example/posts/first#top""#,
        ] {
            assert!(
                absolute.contains(expected),
                "{expected} missing from {absolute}"
            );
        }
        assert_eq!(absolute_links(&html, "not a url"), None);
    }

    #[test]
    fn plain_text_drops_markup() {
        assert_eq!(
            plain_text("**Bold** and `code`\n\n- item"),
            "Bold and code\n\nitem"
        );
    }
}
