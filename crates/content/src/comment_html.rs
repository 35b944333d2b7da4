//! Comments that arrive as HTML (imported from WordPress or Blogger) turned into the text a
//! commenter would have typed: the limited Markdown `render_comment_body` reads. So an
//! imported comment is stored and rendered exactly like one posted through the API, with
//! the comment allow-list and `rel="nofollow ugc"`, and its `body` holds no raw HTML.
//!
//! The HTML is first cleaned with the comment allow-list; what is left (paragraphs,
//! breaks, emphasis, code, quotes, lists, links) becomes its Markdown; everything else
//! keeps only its text. As WordPress shows a comment, a blank line in the text starts a
//! paragraph.

use crate::markdown::{COMMENT_SANITIZER, Unrenderable};
use crate::{MAX_HTML_NESTING, html_nesting_exceeds};

/// The Markdown text of a comment written as HTML (from an export, or a note from the
/// fediverse); refused when the HTML nests deeper than [`MAX_HTML_NESTING`], found before
/// the sanitiser runs (its time grows faster than the nesting).
pub fn comment_text_from_html(html: &str) -> Result<String, Unrenderable> {
    if html_nesting_exceeds(html, MAX_HTML_NESTING) {
        return Err(Unrenderable::TooDeep);
    }
    Ok(markdown_of(html))
}

/// [`comment_text_from_html`] of HTML known to nest within bounds.
fn markdown_of(html: &str) -> String {
    let clean = COMMENT_SANITIZER.clean(html).to_string();
    let mut writer = Writer::default();
    let mut rest = clean.as_str();
    while let Some(start) = rest.find('<') {
        writer.text(&rest[..start]);
        let end = tag_end(&rest[start..]).map_or(rest.len(), |end| start + end);
        writer.tag(&rest[start + 1..end.saturating_sub(1).max(start + 1)]);
        rest = &rest[end..];
    }
    writer.text(rest);
    writer.finish()
}

/// The offset just past the `>` that closes the tag at the start of `html`, quotes
/// respected (an attribute value may hold `>`).
fn tag_end(html: &str) -> Option<usize> {
    let mut quoted = false;
    for (index, character) in html.char_indices() {
        match character {
            '"' => quoted = !quoted,
            '>' if !quoted => return Some(index + 1),
            _ => {}
        }
    }
    None
}

#[derive(Default)]
struct Writer {
    out: String,
    /// `>` levels the current line starts with.
    quote_depth: usize,
    /// The open lists: `None` for bullets, `Some(n)` for the next number.
    lists: Vec<Option<u32>>,
    /// The targets of the open links.
    links: Vec<String>,
    in_pre: bool,
    in_code: bool,
    /// The text of the open `code` or `pre`, written with a fence longer than any run of
    /// backticks in it when it closes (so no content can end it early).
    code: String,
}

impl Writer {
    fn at_line_start(&self) -> bool {
        self.out.is_empty() || self.out.ends_with('\n')
    }

    fn newline(&mut self) {
        self.out.push('\n');
    }

    /// Ends the current block with a blank line (quote markers kept).
    fn block_break(&mut self) {
        let trimmed = self.out.trim_end_matches([' ', '\n', '>']).len();
        if trimmed == 0 {
            self.out.clear();
            return;
        }
        self.out.truncate(trimmed);
        self.out.push('\n');
        self.line_prefix();
        self.out.push('\n');
    }

    fn line_prefix(&mut self) {
        for _ in 0..self.quote_depth {
            self.out.push_str("> ");
        }
    }

    fn text(&mut self, escaped: &str) {
        let text = unescape(escaped);
        if self.in_pre || self.in_code {
            self.code.push_str(&text);
            return;
        }
        for (index, line) in text.split('\n').enumerate() {
            if index > 0 {
                self.newline();
            }
            // Leading white space would make an indented code block of an ordinary line.
            let line_start = self.at_line_start();
            let line = if line_start {
                self.line_prefix();
                line.trim_start()
            } else {
                line
            };
            escape_into(&mut self.out, line, line_start);
        }
    }

    fn tag(&mut self, tag: &str) {
        let (closing, tag) = match tag.strip_prefix('/') {
            Some(name) => (true, name),
            None => (false, tag),
        };
        let name = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match (name.as_str(), closing) {
            ("p", _) => self.block_break(),
            // A line break, as a commenter types one (the API's comments keep them so).
            ("br", false) => {
                self.newline();
                self.line_prefix();
            }
            ("em", _) => self.out.push('*'),
            ("strong", _) => self.out.push_str("**"),
            ("del", _) => self.out.push_str("~~"),
            ("code", false) if !self.in_pre => {
                self.in_code = true;
                self.code.clear();
            }
            ("code", true) if self.in_code => {
                self.in_code = false;
                // Inline code holds one line; a fence one backtick longer than any run
                // inside, padded with spaces.
                let code = std::mem::take(&mut self.code).replace('\n', " ");
                let fence = "`".repeat(longest_run(&code, '`') + 1);
                self.out.push_str(&format!("{fence} {code} {fence}"));
            }
            ("pre", false) => {
                self.block_break();
                self.in_pre = true;
                self.code.clear();
            }
            ("pre", true) if self.in_pre => {
                self.in_pre = false;
                let code = std::mem::take(&mut self.code);
                let fence = "`".repeat(longest_run(&code, '`').max(2) + 1);
                let prefix = "> ".repeat(self.quote_depth);
                self.out.push_str(&fence);
                self.newline();
                for line in code.trim_end_matches('\n').split('\n') {
                    self.out.push_str(&prefix);
                    self.out.push_str(line);
                    self.newline();
                }
                self.out.push_str(&prefix);
                self.out.push_str(&fence);
                self.block_break();
            }
            ("blockquote", false) => {
                self.block_break();
                self.quote_depth += 1;
                self.line_prefix();
            }
            ("blockquote", true) => {
                self.quote_depth = self.quote_depth.saturating_sub(1);
                self.block_break();
            }
            ("ul", false) => {
                self.block_break();
                self.lists.push(None);
            }
            ("ol", false) => {
                self.block_break();
                self.lists.push(Some(1));
            }
            ("ul" | "ol", true) => {
                self.lists.pop();
                self.block_break();
            }
            ("li", false) => {
                if !self.at_line_start() {
                    self.newline();
                }
                self.line_prefix();
                let indent = "  ".repeat(self.lists.len().saturating_sub(1));
                self.out.push_str(&indent);
                match self.lists.last_mut() {
                    Some(Some(number)) => {
                        self.out.push_str(&format!("{number}. "));
                        *number += 1;
                    }
                    _ => self.out.push_str("- "),
                }
            }
            ("a", false) => {
                let href = attribute(tag, "href").unwrap_or_default();
                // A link the sanitiser emptied (a `javascript:` one) is only its text.
                if !href.is_empty() {
                    self.out.push('[');
                }
                self.links.push(href);
            }
            ("a", true) => {
                let href = self.links.pop().unwrap_or_default();
                if href.is_empty() {
                    return;
                }
                self.out.push_str("](");
                // What would end the destination early is percent-encoded, as in a URL.
                for character in href.chars() {
                    match character {
                        ' ' => self.out.push_str("%20"),
                        '(' => self.out.push_str("%28"),
                        ')' => self.out.push_str("%29"),
                        '<' => self.out.push_str("%3C"),
                        '>' => self.out.push_str("%3E"),
                        other if other.is_whitespace() => {}
                        other => self.out.push(other),
                    }
                }
                self.out.push(')');
            }
            _ => {}
        }
    }

    fn finish(self) -> String {
        self.out.trim().to_owned()
    }
}

/// The longest run of `character` in `text`.
fn longest_run(text: &str, character: char) -> usize {
    let (mut longest, mut current) = (0, 0);
    for c in text.chars() {
        current = if c == character { current + 1 } else { 0 };
        longest = longest.max(current);
    }
    longest
}

/// An attribute's value in a tag the sanitiser wrote (`name="value"`, entities escaped).
fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let length = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + length]))
}

/// The entities the sanitiser's serialiser writes.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// Text as Markdown reads it literally: the punctuation that would make markup escaped,
/// and no more, so the stored text reads as typed (`Finally!`, `snake_case`).
fn escape_into(out: &mut String, text: &str, line_start: bool) {
    let characters: Vec<char> = text.chars().collect();
    for (index, &character) in characters.iter().enumerate() {
        let before = index.checked_sub(1).map(|at| characters[at]);
        let after = characters.get(index + 1).copied();
        let escape = match character {
            '\\' | '`' | '*' | '[' | ']' | '<' | '~' => true,
            // Inside a word, `_` is no emphasis.
            '_' => {
                !(before.is_some_and(char::is_alphanumeric)
                    && after.is_some_and(char::is_alphanumeric))
            }
            // A heading or a quote only at the start of a line.
            '#' | '>' => line_start && characters[..index].iter().all(|c| c.is_whitespace()),
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(character);
    }
}

#[cfg(test)]
mod tests {
    use super::{comment_text_from_html, markdown_of};
    use crate::render_comment_body;

    fn rendered(html: &str) -> String {
        render_comment_body(&markdown_of(html))
    }

    #[test]
    fn html_nested_too_deep_is_refused_before_sanitising() {
        // A fediverse note may hold 256 KiB: 60,000 unclosed `<b>` would keep the
        // sanitiser busy for minutes.
        let deep = "<b>".repeat(60_000);
        assert_eq!(
            comment_text_from_html(&deep),
            Err(crate::Unrenderable::TooDeep)
        );
        assert_eq!(
            comment_text_from_html("<p>Fine <em>text</em></p>").as_deref(),
            Ok("Fine *text*")
        );
    }

    #[test]
    fn paragraphs_come_from_blank_lines_as_wordpress_shows_them() {
        let text = markdown_of("Comment Depth 05\n\nAlso an author comment.");
        assert_eq!(text, "Comment Depth 05\n\nAlso an author comment.");
        assert_eq!(
            rendered("this is test comment\n\n\tFeeling testy?"),
            "<p>this is test comment</p>\n<p>Feeling testy?</p>\n"
        );
    }

    #[test]
    fn links_keep_their_target_and_get_the_comment_rel() {
        let html = rendered(
            "no <a href=\"https://gravatar.com/\" title=\"Gravatar\" rel=\"nofollow\">Gravatar</a> here",
        );
        assert_eq!(
            html,
            "<p>no <a href=\"https://gravatar.com/\" rel=\"nofollow ugc noopener\">Gravatar</a> here</p>\n"
        );
    }

    #[test]
    fn what_the_comment_allow_list_refuses_keeps_only_its_text() {
        let text = markdown_of(
            "<h1>Header one</h1><script>alert(1)</script><img src=\"https://t.example/p.gif\"><a href=\"javascript:alert(1)\">x</a>",
        );
        assert!(!text.contains('<'), "{text}");
        let html = render_comment_body(&text);
        for refused in ["<h1", "<script", "alert(1)", "<img", "javascript:"] {
            assert!(!html.contains(refused), "{refused} in {html}");
        }
        assert!(html.contains("Header one"), "{html}");
    }

    #[test]
    fn code_cannot_break_out_of_its_fence() {
        let html = rendered(
            "<pre>x\n```\n&lt;a href=\"https://evil.example/x\"&gt;hidden link&lt;/a&gt;\n```</pre><p>a <code>b ` c</code> d</p>",
        );
        assert!(!html.contains("<a "), "{html}");
        assert!(html.contains("&lt;a href"), "{html}");
        assert!(html.contains("<code>b ` c</code>"), "{html}");
        let emptied = rendered("<a href=\"javascript:alert(1)\">click</a>");
        assert_eq!(emptied, "<p>click</p>\n");
    }

    #[test]
    fn text_is_stored_as_typed() {
        assert_eq!(
            markdown_of("Finally! snake_case, 1 > 0 &amp; #1"),
            "Finally! snake_case, 1 > 0 & #1"
        );
        assert_eq!(markdown_of("# not a heading"), "\\# not a heading");
    }

    #[test]
    fn markup_in_text_stays_text() {
        let html = rendered("2 &lt; 3 and *not emphasis* &amp; [not a link](http://x.example)");
        assert_eq!(
            html,
            "<p>2 &lt; 3 and *not emphasis* &amp; [not a link](<a href=\"http://x.example\" rel=\"nofollow ugc noopener\">http://x.example</a>)</p>\n"
        );
    }

    #[test]
    fn quotes_lists_emphasis_and_code_survive() {
        let html = rendered(
            "<strong>Bold</strong> <em>it</em><blockquote>Stay hungry.</blockquote><ul><li>one</li><li>two</li></ul><pre>let x = 1;\nlet y = 2;</pre>",
        );
        assert!(html.contains("<strong>Bold</strong> <em>it</em>"), "{html}");
        assert!(
            html.contains("<blockquote>\n<p>Stay hungry.</p>\n</blockquote>"),
            "{html}"
        );
        assert!(html.contains("<li>one</li>\n<li>two</li>"), "{html}");
        assert!(
            html.contains("<pre><code>let x = 1;\nlet y = 2;\n</code></pre>"),
            "{html}"
        );
    }
}
