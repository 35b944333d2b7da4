//! How deep HTML nests, counted on the raw text before anything parses it: an HTML parser
//! spends time on every open element for every element it opens, so 5,000 nested quotes
//! (60 KB) cost seconds. Imports refuse what nests deeper than [`MAX_HTML_NESTING`].

/// Deeper than any real post or comment (a table in a list in a quote is a dozen).
pub const MAX_HTML_NESTING: usize = 256;

/// Elements that never hold others.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
];

/// Whether `html` opens more than `limit` elements inside one another. Tags left open
/// (`<p>` without `</p>`) count as open, so the count errs high, never low.
pub fn html_nesting_exceeds(html: &str, limit: usize) -> bool {
    let bytes = html.as_bytes();
    let mut depth = 0usize;
    let mut index = 0;
    while let Some(offset) = bytes[index..].iter().position(|byte| *byte == b'<') {
        let start = index + offset + 1;
        index = start;
        match bytes.get(start) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(first) if first.is_ascii_alphabetic() => {
                let name_end = bytes[start..]
                    .iter()
                    .position(|byte| byte.is_ascii_whitespace() || matches!(byte, b'>' | b'/'))
                    .map_or(bytes.len(), |end| start + end);
                let name = html[start..name_end].to_ascii_lowercase();
                let tag_end = bytes[name_end..]
                    .iter()
                    .position(|byte| *byte == b'>')
                    .map_or(bytes.len(), |end| name_end + end);
                let self_closing = tag_end > 0 && bytes.get(tag_end - 1) == Some(&b'/');
                if !self_closing && !VOID.contains(&name.as_str()) {
                    depth += 1;
                    if depth > limit {
                        return true;
                    }
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::html_nesting_exceeds;

    #[test]
    fn counts_open_elements_not_void_or_closed_ones() {
        assert!(!html_nesting_exceeds(
            "<p>a<br>b<img src=x/></p><p>c</p>",
            1
        ));
        assert!(html_nesting_exceeds("<div><div>x</div></div>", 1));
        assert!(!html_nesting_exceeds("<div><div>x</div></div>", 2));
        let deep = "<blockquote>".repeat(5000);
        assert!(html_nesting_exceeds(&deep, 256));
        assert!(
            !html_nesting_exceeds("2 < 3, 4 <= 5", 0),
            "no tag, no depth"
        );
    }
}
