//! How deep HTML nests, counted on the raw text before anything parses it: an HTML parser
//! spends time on every open element for every element it opens, so 5,000 nested quotes
//! (60 KB) cost seconds. Imports, the API and the fediverse inbox refuse what nests deeper
//! than [`MAX_HTML_NESTING`].
//!
//! The count must never be lower than the depth an HTML5 parser reaches, whatever the
//! markup: a closing tag lowers it only when it closes the innermost element counted
//! (after the end tags HTML lets one leave out: `</li>`, `</p>`…), and a `/>` closes only
//! void elements. A parser ignores `</i>` with no `<i>` open and opens a `<div/>`; a
//! counter that took either at its word let 30,000 of them (180 KB) through to a
//! sanitiser that then ran for seconds. Comments, quoted attribute values and the text of
//! `<script>`, `<style>`, `<textarea>` and `<title>` hold no tags. Markup a parser would
//! repair (a `</b>` across a `<div>`) keeps the count high, which only a page of broken
//! markup ever reaches.

/// Deeper than any real post or comment (a table in a list in a quote is a dozen).
pub const MAX_HTML_NESTING: usize = 256;

/// Elements that never hold others.
const VOID: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr", "keygen", "frame", "basefont", "bgsound",
];

/// Elements whose end tag may be left out: a parser closes them before an end tag of an
/// element around them.
const IMPLIED_END: &[&str] = &[
    "dd", "dt", "li", "optgroup", "option", "p", "rb", "rp", "rt", "rtc",
];

/// Elements whose end tag closes the ones with implied end tags inside them (HTML's
/// "special" elements that hold flow content).
const BLOCKS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "center",
    "dd",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "header",
    "hgroup",
    "li",
    "listing",
    "main",
    "menu",
    "nav",
    "ol",
    "p",
    "pre",
    "search",
    "section",
    "summary",
    "ul",
];

/// Elements whose text is not markup, up to their own end tag.
const RAW_TEXT: &[&str] = &["script", "style", "textarea", "title", "xmp"];

/// Whether `html` opens more than `limit` elements inside one another.
pub fn html_nesting_exceeds(html: &str, limit: usize) -> bool {
    nesting_reaches(html, limit) > limit
}

/// The deepest nesting `html` reaches, counted until it passes `stop`.
fn nesting_reaches(html: &str, stop: usize) -> usize {
    let bytes = html.as_bytes();
    let mut open: Vec<String> = Vec::new();
    let mut deepest = 0;
    let mut index = 0;
    while let Some(offset) = bytes[index..].iter().position(|byte| *byte == b'<') {
        let start = index + offset + 1;
        index = start;
        match bytes.get(start) {
            Some(b'!') if bytes[start..].starts_with(b"!--") => {
                index = comment_end(bytes, start + 3)
            }
            // `<!DOCTYPE …>`, `<?…>`, and `</` not followed by a letter end at the first
            // `>`, quotes or not.
            Some(b'!' | b'?') => {
                index = find(bytes, start, b">").map_or(bytes.len(), |end| end + 1);
            }
            Some(b'/') if !bytes.get(start + 1).is_some_and(u8::is_ascii_alphabetic) => {
                index = find(bytes, start, b">").map_or(bytes.len(), |end| end + 1);
            }
            Some(b'/') => {
                let (name, end) = tag(html, start + 1);
                index = end;
                close(&mut open, &name);
            }
            Some(first) if first.is_ascii_alphabetic() => {
                let (name, end) = tag(html, start);
                index = end;
                if VOID.contains(&name.as_str()) {
                    continue;
                }
                open_implied(&mut open, &name);
                // In SVG and MathML a `<title>` or `<style>` holds markup.
                let foreign = open
                    .iter()
                    .any(|element| element == "svg" || element == "math");
                if RAW_TEXT.contains(&name.as_str()) && !foreign {
                    // Its text runs to its own end tag, which closes it.
                    let closing = format!("</{name}");
                    index = find_ignoring_case(bytes, index, closing.as_bytes())
                        .map_or(bytes.len(), |at| tag(html, at + 2).1);
                    deepest = deepest.max(open.len() + 1);
                } else {
                    open.push(name);
                    deepest = deepest.max(open.len());
                }
                if deepest > stop {
                    return deepest;
                }
            }
            _ => {}
        }
    }
    deepest
}

/// The lower-cased name of the tag whose name starts at `start`, and the offset just past
/// the tag's `>`, read as an HTML tokenizer reads attributes: a quote opens a value only
/// after an attribute's name and its `=` (so `<div =">` ends at its first `>`, the `="`
/// being a name), and a quoted value may hold `>`.
fn tag(html: &str, start: usize) -> (String, usize) {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        BeforeName,
        Name,
        AfterName,
        BeforeValue,
        Quoted(u8),
        AfterQuoted,
        Unquoted,
    }
    let bytes = html.as_bytes();
    let name_end = bytes[start..]
        .iter()
        .position(|byte| byte.is_ascii_whitespace() || matches!(byte, b'>' | b'/'))
        .map_or(bytes.len(), |end| start + end);
    let name = html
        .get(start..name_end)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let mut state = State::BeforeName;
    for (at, &byte) in bytes.iter().enumerate().skip(name_end) {
        let space = byte.is_ascii_whitespace();
        state = match (state, byte) {
            (State::Quoted(quote), byte) if byte == quote => State::AfterQuoted,
            (State::Quoted(quote), _) => State::Quoted(quote),
            (_, b'>') => return (name, at + 1),
            (State::BeforeName | State::AfterQuoted, _) if space || byte == b'/' => {
                State::BeforeName
            }
            // `=` where a name should start begins a name.
            (State::BeforeName | State::AfterQuoted, _) => State::Name,
            (State::Name, b'=') | (State::AfterName, b'=') => State::BeforeValue,
            (State::Name, b'/') | (State::AfterName, b'/') => State::BeforeName,
            (State::Name, _) if space => State::AfterName,
            (State::Name, _) => State::Name,
            (State::AfterName, _) if space => State::AfterName,
            (State::AfterName, _) => State::Name,
            (State::BeforeValue, _) if space => State::BeforeValue,
            (State::BeforeValue, b'"' | b'\'') => State::Quoted(byte),
            (State::BeforeValue, _) => State::Unquoted,
            (State::Unquoted, _) if space => State::BeforeName,
            (State::Unquoted, _) => State::Unquoted,
        };
    }
    (name, bytes.len())
}

/// Where a comment whose text starts at `from` ends: at `-->`, `--!>`, or at once for
/// `<!-->` and `<!--->`, as an HTML tokenizer ends it.
fn comment_end(bytes: &[u8], from: usize) -> usize {
    let text = &bytes[from.min(bytes.len())..];
    if text.starts_with(b">") {
        return from + 1;
    }
    if text.starts_with(b"->") {
        return from + 2;
    }
    // One pass for both ends: searching for each to the end of the text, for every
    // comment, would cost the length of the rest of the text per comment.
    let mut at = from;
    while let Some(offset) = bytes.get(at..).and_then(|rest| find(rest, 0, b"--")) {
        let dashes = at + offset;
        let after = &bytes[dashes + 2..];
        if after.starts_with(b">") {
            return dashes + 3;
        }
        if after.starts_with(b"!>") {
            return dashes + 4;
        }
        at = dashes + 1;
    }
    bytes.len()
}

/// A start tag of `name` closes what HTML lets it close without an end tag: a list item
/// the one before, a paragraph the paragraph it follows, a cell the cell before.
fn open_implied(open: &mut Vec<String>, name: &str) {
    // In SVG and MathML these are other elements, which nest.
    if open
        .iter()
        .any(|element| element == "svg" || element == "math")
    {
        return;
    }
    let closes: &[&str] = match name {
        "li" => &["li"],
        "dt" | "dd" => &["dt", "dd"],
        "p" => &["p"],
        "option" => &["option"],
        "td" | "th" => &["td", "th"],
        "tr" => &["td", "th", "tr"],
        _ => &[],
    };
    while open
        .last()
        .is_some_and(|top| closes.contains(&top.as_str()))
    {
        open.pop();
    }
}

/// An end tag closes the innermost element when that is what it names; the end tag of a
/// block (`</ul>`, `</div>`…) first closes the elements whose end tags may be left out
/// (`</li>`, `</p>`…). Otherwise the count stays where it is: a parser ignores `</span>`
/// over an open `<li>`, and keeps a `<li>` open across a `</b>`.
fn close(open: &mut Vec<String>, name: &str) {
    let implied = match BLOCKS.contains(&name) {
        true => open
            .iter()
            .rev()
            .take_while(|element| {
                element.as_str() != name && IMPLIED_END.contains(&element.as_str())
            })
            .count(),
        false => 0,
    };
    let target = open.len() - implied;
    if target > 0 && open[target - 1] == name {
        open.truncate(target - 1);
    }
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|at| from + at)
}

fn find_ignoring_case(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
        .map(|at| from + at)
}

#[cfg(test)]
mod tests {
    use super::{html_nesting_exceeds, nesting_reaches};

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
        // End tags left out where HTML allows it.
        let list = format!("<ul>{}</ul>", "<li>item".repeat(1000));
        assert_eq!(nesting_reaches(&list, 256), 2);
        let table = format!("<table>{}</table>", "<tr><td>a<td>b".repeat(500));
        assert_eq!(nesting_reaches(&table, 256), 3);
        assert_eq!(nesting_reaches("<p>one<p>two<p>three", 256), 1);
        assert_eq!(nesting_reaches("<ul><li><p>a</ul><ul><li>b</ul>", 256), 3);
    }

    #[test]
    fn markup_a_parser_keeps_open_is_counted_open() {
        // Found by timing the sanitiser: each of these nests 30,000 deep in a parser.
        for pattern in [
            "<b></i>",
            "<div/>",
            "<blockquote></x>",
            "<div title=\"</div>\">",
        ] {
            assert!(
                html_nesting_exceeds(&pattern.repeat(30_000), 256),
                "{pattern}"
            );
        }
        // Found by a second probe: `=` where a name starts begins a name (the quote opens
        // no value); comments end at `<!-->`, `<!--->` and `--!>`; a parser ignores
        // `</span>` over an open `<li>` and keeps a `<li>` open across a `</b>`.
        let divs = "<div>".repeat(300);
        for wrapped in [
            format!("<div =\">{divs}\">"),
            format!("<p a==\">{divs}\">"),
            format!("<p a=\"x\"=\">{divs}\">"),
            format!("<!-->{divs}-->"),
            format!("<!--->{divs}-->"),
            format!("<!-- a --!>{divs}-->"),
            format!("</x =\">{divs}\">"),
            "<span><li></span><span><dd></span>".repeat(150),
            "<b><li></b><b><dd></b>".repeat(150),
            format!("<svg>{}", "<td>".repeat(300)),
        ] {
            assert!(html_nesting_exceeds(&wrapped, 256), "{}", &wrapped[..40]);
        }
        // Tags inside comments and raw text are text.
        assert_eq!(nesting_reaches("<div><!-- </div> --></div>", 9), 1);
        assert_eq!(nesting_reaches("<div><!-- </div> --!></div>", 9), 1);
        assert_eq!(
            nesting_reaches("<div><!-- a - b --- </div> ---></div>", 9),
            1
        );
        assert_eq!(nesting_reaches("<div><!-- never closed </div>", 9), 1);
        assert_eq!(
            nesting_reaches("<div><script>if (a<b) { x = '</div>'; }</script></div>", 9),
            2
        );
        assert!(html_nesting_exceeds(&"<div><!--</div>-->".repeat(300), 256));
        // An SVG title holds markup, not text.
        assert!(html_nesting_exceeds(
            &format!("<svg><title>{}", "<div>".repeat(300)),
            256
        ));
    }

    /// Random markup, well-formed or not, through the sanitiser's own HTML5 parser
    /// (ammonia's html5ever): the depth of what it builds, read from its well-formed
    /// output, never exceeds what the count said by more than the elements a parser
    /// inserts by itself (a table's `tbody` and `tr`).
    #[test]
    fn the_count_bounds_what_a_parser_builds() {
        const TAGS: &[&str] = &[
            "div",
            "p",
            "b",
            "i",
            "em",
            "strong",
            "blockquote",
            "ul",
            "ol",
            "li",
            "table",
            "tbody",
            "tr",
            "td",
            "th",
            "span",
            "a",
            "code",
            "pre",
            "dl",
            "dt",
            "dd",
            "h1",
            "sub",
            "sup",
            "small",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |below: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % below as u64) as usize
        };
        let mut sanitiser = ammonia::Builder::default();
        sanitiser.add_tags(TAGS);
        for case in 0..400 {
            let mut html = String::new();
            for _ in 0..300 {
                let tag = TAGS[next(TAGS.len())];
                // More end tags than start tags, most of them closing nothing open: a
                // count that believed them would fall while the parser's depth grows.
                let other = TAGS[next(TAGS.len())];
                let token = match next(13) {
                    0 | 1 => format!("<{tag}>"),
                    2..=4 => format!("</{tag}>"),
                    5 | 6 => format!("<{tag}/>"),
                    7 => format!("<{tag} title=\"</{other}>\">"),
                    8 => format!("<{tag} =\"><{other}>"),
                    9 => ["<!-->", "<!--->", "<!-- x --!>", "-->", "\">"][next(5)].to_owned(),
                    10 => format!("<{tag}><li></{other}>"),
                    11 => format!("</{tag} a=\">"),
                    _ => "x".to_owned(),
                };
                html.push_str(&token);
            }
            let counted = nesting_reaches(&html, usize::MAX);
            let built = sanitiser.clean(&html).to_string();
            let reached = nesting_reaches(&built, usize::MAX);
            assert!(
                reached <= counted * 3 + 2,
                "case {case}: counted {counted}, the parser built {reached}: {html}"
            );
        }
    }
}
