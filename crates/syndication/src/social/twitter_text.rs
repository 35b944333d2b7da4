//! X's weighted length, computed as twitter-text 3.1 (`parseTweet`, configuration v3) does.
//!
//! A port, not an approximation: the URL pattern is assembled from the same pieces as
//! twitter-text's `extractUrl` (preceding character, optional scheme, domain ending in a
//! known TLD, port, path with balanced parentheses, query), the TLD lists and the emoji
//! pattern are generated from the npm packages (`clients/twitter-text-data.mjs`), and the
//! client test stage compares this count with the npm package's over a few thousand texts
//! (docs/clients.md). Consequences users notice: a URL whose host is an IP address or an
//! unknown TLD is not a link to X, so every character counts; a bare `example.org` is.
//!
//! The patterns run on the regex crate, whose engines never backtrack: the look-ahead after
//! a TLD is written without one (see [`EXTRACT_URL`]), and the emoji pattern's look-ahead
//! matters only in texts holding U+FE0E, the only ones the backtracking engine still sees.
//! URLs are searched word by word; a search reads at most to the end of its word, so the
//! time is linear in the text times its longest word (Gazette measures titles of at most
//! 200 characters and excerpts of at most 1,000; a 200 KB word of host names takes
//! seconds).

use std::collections::HashMap;
use std::sync::LazyLock;

use unicode_normalization::UnicodeNormalization;

/// `transformedURLLength`: every link counts as a t.co link.
const URL_WEIGHT: usize = 23;
/// `defaultWeight / scale`: an emoji, or a character outside the light ranges.
const HEAVY_WEIGHT: usize = 2;
/// `ranges` of weight 1 (scale 100): Latin and most alphabetic scripts, general punctuation.
const LIGHT_RANGES: [(u32, u32); 4] = [(0, 4351), (8192, 8205), (8208, 8223), (8242, 8247)];
/// twitter-text skips longer URLs, measured in UTF-16 units with the scheme and the
/// punycode form of the domain.
const MAX_URL_LENGTH: usize = 4096;
const MAX_TCO_SLUG_LENGTH: usize = 40;
const MAX_DOMAIN_LABEL_LENGTH: usize = 63;

/// The weighted length X gives `text`.
pub fn weighted_length(text: &str) -> usize {
    let text: String = text.nfc().collect();
    let links: HashMap<usize, usize> = extract_urls(&text).into_iter().collect();
    let emoji: HashMap<usize, usize> = emoji(&text).collect();
    let mut length = 0;
    let mut position = 0;
    while let Some(character) = text[position..].chars().next() {
        if let Some(&end) = links.get(&position) {
            length += URL_WEIGHT;
            position = end;
        } else if let Some(&end) = emoji.get(&position) {
            length += HEAVY_WEIGHT;
            position = end;
        } else {
            length += character_weight(character);
            position += character.len_utf8();
        }
    }
    length
}

/// Outside the Basic Multilingual Plane twitter-text weighs the low surrogate, which no
/// light range contains.
fn character_weight(character: char) -> usize {
    let code = u32::from(character);
    if LIGHT_RANGES
        .iter()
        .any(|(start, end)| (*start..=*end).contains(&code))
    {
        1
    } else {
        HEAVY_WEIGHT
    }
}

/// `extractUrlsWithIndices` with its defaults (URLs without a scheme too): byte ranges.
///
/// No URL contains a space (twitter-text's space class), so each word is searched on its
/// own, with the space before it (which the pattern may take as the URL's preceding
/// character: at the start of a word, `é` would be taken as one instead): a search never
/// reads past the end of its word.
fn extract_urls(text: &str) -> Vec<(usize, usize)> {
    let mut urls = Vec::new();
    for (start, word) in words(text) {
        urls.extend(
            extract_urls_in_word(word)
                .into_iter()
                .map(|(from, to)| (start + from, start + to)),
        );
    }
    urls
}

/// The maximal runs of `text` without twitter-text's spaces, each with the space before it
/// (if any), and their byte offsets.
fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut start = 0;
    text.split_inclusive(is_space).filter_map(move |piece| {
        // `piece` is a word and the space after it; the word is searched with the space
        // before it, the end of the previous piece.
        let piece_start = start;
        start += piece.len();
        let word_end = piece_start + piece.trim_end_matches(is_space).len();
        let before = text[..piece_start]
            .chars()
            .next_back()
            .map_or(0, char::len_utf8);
        (word_end > piece_start)
            .then(|| (piece_start - before, &text[piece_start - before..word_end]))
    })
}

/// twitter-text's space class ([`SPACES`]).
fn is_space(character: char) -> bool {
    matches!(
        character,
        '\u{09}'..='\u{0D}'
            | '\u{20}'
            | '\u{85}'
            | '\u{A0}'
            | '\u{1680}'
            | '\u{180E}'
            | '\u{2000}'..='\u{200A}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202F}'
            | '\u{205F}'
            | '\u{3000}'
    )
}

fn extract_urls_in_word(text: &str) -> Vec<(usize, usize)> {
    if !text.contains('.') {
        return Vec::new();
    }
    let mut urls = Vec::new();
    let mut search_from = 0;
    while let Some(captures) = EXTRACT_URL.captures_at(text, search_from) {
        let Some(url) = UrlMatch::of(&captures) else {
            break;
        };
        // JavaScript's global search goes on where the URL ends (the character after it,
        // which the pattern here consumed in place of the look-ahead, may precede the next).
        search_from = url.end;
        let found = &text[url.start..url.end];
        let domain = &text[url.domain.0..url.domain.1];
        if !is_valid_url(found, url.scheme.unwrap_or("https://"), domain) {
            continue;
        }
        match url.scheme {
            None => {
                if url.before.ends_with(['-', '_', '.', '/']) {
                    continue;
                }
                let found_before = urls.len();
                urls.extend(
                    ascii_domains(domain)
                        .into_iter()
                        .map(|(start, end)| (url.domain.0 + start, url.domain.0 + end)),
                );
                // The path and query belong to the last ASCII domain found.
                if urls.len() > found_before
                    && url.has_path
                    && let Some(last) = urls.last_mut()
                {
                    last.1 = url.end;
                }
            }
            Some(_) => {
                let mut end = url.end;
                if let Some(tco) = TCO_URL.captures(found) {
                    if tco
                        .get(1)
                        .is_some_and(|slug| slug.as_str().len() > MAX_TCO_SLUG_LENGTH)
                    {
                        continue;
                    }
                    if let Some(whole) = tco.get(0) {
                        end = url.start + whole.end();
                    }
                }
                urls.push((url.start, end));
            }
        }
    }
    urls
}

/// One match of [`EXTRACT_URL`], as twitter-text's groups would give it.
struct UrlMatch<'t> {
    /// The character before the URL (empty at the start of the text).
    before: &'t str,
    scheme: Option<&'t str>,
    /// The URL's byte range: from the scheme or domain to the end of the port, path or
    /// query, without the character the pattern consumed after a listed TLD.
    start: usize,
    end: usize,
    domain: (usize, usize),
    has_path: bool,
}

impl<'t> UrlMatch<'t> {
    fn of(captures: &regex::Captures<'t>) -> Option<Self> {
        let before = captures.name("before")?;
        let scheme = captures.name("scheme");
        let tld = captures
            .name("listed_tld")
            .or_else(|| captures.name("punycode_tld"))?;
        let rest = captures
            .name("listed_rest")
            .or_else(|| captures.name("punycode_rest"));
        let end = rest.map_or(tld.end(), |rest| rest.end());
        let has_path = ["path_after_port", "path", "punycode_path"]
            .iter()
            .any(|name| captures.name(name).is_some());
        Some(Self {
            before: before.as_str(),
            scheme: scheme.map(|scheme| scheme.as_str()),
            start: before.end(),
            end,
            domain: (
                scheme.map_or(before.end(), |scheme| scheme.end()),
                tld.end(),
            ),
            has_path,
        })
    }
}

/// The `validAsciiDomain` matches in `domain`: byte ranges, in order.
fn ascii_domains(domain: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut search_from = 0;
    while let Some(captures) = ASCII_DOMAIN.captures_at(domain, search_from) {
        let (Some(whole), Some(tld)) = (
            captures.get(0),
            captures
                .name("listed_tld")
                .or_else(|| captures.name("punycode_tld")),
        ) else {
            break;
        };
        found.push((whole.start(), tld.end()));
        search_from = tld.end();
    }
    found
}

/// twemoji-parser's matches in `text`: byte ranges. The pattern's one look-ahead (no
/// U+FE0E, text presentation, after some characters) always holds in a text without
/// U+FE0E, where the fast engine answers alike; otherwise the backtracking one runs.
fn emoji(text: &str) -> Box<dyn Iterator<Item = (usize, usize)> + '_> {
    if text.contains('\u{FE0E}') {
        Box::new(
            EMOJI
                .find_iter(text)
                .map_while(Result::ok)
                .map(|found| (found.start(), found.end())),
        )
    } else {
        Box::new(
            EMOJI_WITHOUT_FE0E
                .find_iter(text)
                .map(|found| (found.start(), found.end())),
        )
    }
}

/// `isValidUrl`: the domain converts to ASCII and the URL is not too long. (twitter-text
/// measures with the domain as given: its `idna.toAscii` checks labels but returns them
/// unconverted.)
fn is_valid_url(url: &str, scheme: &str, domain: &str) -> bool {
    labels_convert_to_ascii(domain) && scheme.len() + url.encode_utf16().count() <= MAX_URL_LENGTH
}

/// twitter-text's `idna.toAscii` over punycode.js 1.4: every label's ASCII form is 1 to
/// 63 characters long.
fn labels_convert_to_ascii(domain: &str) -> bool {
    if domain.starts_with("xn--") && !ASCII_DOMAIN.is_match(domain) {
        return false;
    }
    domain.split('.').all(|label| {
        // punycode.js treats the ideographic and fullwidth full stops as dots too.
        let parts: Option<Vec<usize>> = label
            .split(['\u{3002}', '\u{FF0E}', '\u{FF61}'])
            .map(|part| {
                if part.chars().all(|c| matches!(c, '\x20'..='\x7E')) {
                    Some(part.len())
                } else {
                    idna::punycode::encode_str(part).map(|encoded| "xn--".len() + encoded.len())
                }
            })
            .collect();
        parts.is_some_and(|parts| {
            let ascii_length = parts.iter().sum::<usize>() + parts.len() - 1;
            (1..=MAX_DOMAIN_LABEL_LENGTH).contains(&ascii_length)
        })
    })
}

const SPACES: &str = r"\x09-\x0D\x20\x85\xA0\x{1680}\x{180E}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}";
const INVALID_CHARACTERS: &str = r"\x{FFFE}\x{FEFF}\x{FFFF}";
const DIRECTIONAL_MARKERS: &str =
    r"\x{202A}-\x{202E}\x{061C}\x{200E}\x{200F}\x{2066}\x{2067}\x{2068}\x{2069}";
const PUNCTUATION: &str = r"!'#%&()*+,\\\-./:;<=>?@\[\]\^_{|}~$";
/// twitter-text's classes as written; [`LATIN`] and [`CYRILLIC_LETTERS`] add what
/// JavaScript's `i` flag makes them match too (generated, see the data script).
const LATIN_ACCENTS: &str = r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\x{0100}-\x{024F}\x{0253}\x{0254}\x{0256}\x{0257}\x{0259}\x{025B}\x{0263}\x{0268}\x{026F}\x{0272}\x{0289}\x{028B}\x{02BB}\x{0300}-\x{036F}\x{1E00}-\x{1EFF}";
const CYRILLIC: &str = r"\x{0400}-\x{04FF}";
static LATIN: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{LATIN_ACCENTS}{}",
        include_str!("twitter_text/latin_case.txt").trim_end()
    )
});
static CYRILLIC_LETTERS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "{CYRILLIC}{}",
        include_str!("twitter_text/cyrillic_case.txt").trim_end()
    )
});
const QUERY_CHARACTERS: &str = r"[a-zA-Z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]";
const QUERY_ENDING: &str = r"[a-zA-Z0-9\-_&=#/]";
const PUNYCODE_TLD: &str = r"(?:[xX][nN]--[\-0-9a-zA-Z]+)";
const SCHEME: &str = r"[hH][tT][tT][pP][sS]?://";

/// The TLDs of `list` (one per line) as alternatives, in the list's order.
fn tld_alternatives(list: &str) -> String {
    let names: Vec<String> = list
        .lines()
        .filter(|line| !line.is_empty())
        .map(|name| name.chars().map(case_insensitive).collect())
        .collect();
    names.join("|")
}

/// twitter-text's patterns carry JavaScript's `i` flag, which folds case within ASCII and
/// within the rest, never across: `ſ` is not `s` and `K` (Kelvin) is not `k` there, while
/// Rust's `(?i)` folds them together. So ASCII letters become explicit pairs and only
/// other letters use `(?i)`; the character classes spell out both cases.
fn case_insensitive(character: char) -> String {
    if character.is_ascii_alphabetic() {
        format!(
            "[{}{}]",
            character.to_ascii_lowercase(),
            character.to_ascii_uppercase()
        )
    } else if character.is_alphabetic() {
        format!("(?i:{character})")
    } else {
        regex::escape(&character.to_string())
    }
}

/// twitter-text's generic TLDs, then its country TLDs: in JavaScript each list is followed
/// by the look-ahead `(?=[^0-9a-zA-Z@+\-]|$)`, which [`AFTER_LISTED_TLD`] stands in for.
static LISTED_TLD: LazyLock<String> = LazyLock::new(|| {
    format!(
        "(?:{}|{})",
        tld_alternatives(include_str!("twitter_text/gtld.txt")),
        tld_alternatives(include_str!("twitter_text/cctld.txt"))
    )
});

/// What may follow a listed TLD, consumed rather than looked at.
const AFTER_LISTED_TLD: &str = r"[^0-9a-zA-Z@+\-]";

/// twitter-text's `extractUrl` for the regex crate, whose engines have no look-ahead and
/// take time linear in the text.
///
/// In JavaScript a listed TLD must be followed by a character outside `[0-9a-zA-Z@+-]`
/// or the end, checked by a look-ahead before the optional port, path and query. Every
/// one of those starts with such a character (`:`, `/`, `?`), so the check is the same as
/// asking, after a listed TLD, for a port, path or query, *or* one such character
/// (consumed, and not part of the URL), *or* the end — in that order, which is the order
/// the backtracking engine tries them. A punycode TLD takes no look-ahead. The groups:
/// `before` (the preceding character), `scheme`, then either `listed_tld` with
/// `listed_rest` (its port, path and query; `path_after_port` or `path` tell a path is
/// there) or `punycode_tld` with `punycode_rest` (`punycode_path`).
static EXTRACT_URL: LazyLock<regex::Regex> = LazyLock::new(|| {
    let preceding =
        format!(r"(?:[^A-Za-z0-9@＠$#＃{INVALID_CHARACTERS}]|[{DIRECTIONAL_MARKERS}]|^)");
    let domain_character =
        format!(r"[^{PUNCTUATION}{SPACES}{INVALID_CHARACTERS}{DIRECTIONAL_MARKERS}]");
    let subdomain =
        format!(r"(?:(?:{domain_character}(?:[_\-]|{domain_character})*)?{domain_character}\.)");
    let domain_name =
        format!(r"(?:(?:{domain_character}(?:\-|{domain_character})*)?{domain_character}\.)");
    let (latin, cyrillic) = (&*LATIN, &*CYRILLIC_LETTERS);
    let path_character = format!(r"[a-zA-Z{cyrillic}0-9!*';:=+,.$/%#\[\]\-\x{{2013}}_~@|&{latin}]");
    let balanced_parentheses = format!(
        r"\((?:{path_character}+|(?:{path_character}*\({path_character}+\){path_character}*))\)"
    );
    // Left without parentheses on purpose: twitter-text splices this alternation into the
    // path pattern as text, and the alternation then spans the path's group.
    let path_ending = format!(r"[+\-a-zA-Z{cyrillic}0-9=_#/{latin}]|(?:{balanced_parentheses})");
    let path_segment = format!(
        r"(?:(?:{path_character}*(?:{balanced_parentheses}{path_character}*)*{path_ending})|(?:@{path_character}+/))"
    );
    let path = format!("/{path_segment}*");
    let port = r":[0-9]+";
    let query = format!(r"\?{QUERY_CHARACTERS}*{QUERY_ENDING}");
    // `(port)? (path)? (query)?` without the empty case, in the engine's order of trying.
    let listed_rest = format!(
        "{port}(?P<path_after_port>{path})?(?:{query})?|(?P<path>{path})(?:{query})?|{query}"
    );
    let punycode_rest = format!("(?:{port})?(?P<punycode_path>{path})?(?:{query})?");
    let listed = &*LISTED_TLD;
    compile(&format!(
        "(?P<before>{preceding})(?P<scheme>{SCHEME})?{subdomain}*{domain_name}\
         (?:(?P<listed_tld>{listed})(?:(?P<listed_rest>{listed_rest})|{AFTER_LISTED_TLD}|$)\
         |(?P<punycode_tld>{PUNYCODE_TLD})(?P<punycode_rest>{punycode_rest}))"
    ))
});

/// `validAsciiDomain`: the ASCII (and Latin-accented) domains inside a scheme-less match;
/// a listed TLD consumes the character after it, as in [`EXTRACT_URL`].
static ASCII_DOMAIN: LazyLock<regex::Regex> = LazyLock::new(|| {
    compile(&format!(
        r"(?:(?:[\-a-zA-Z0-9{}]+)\.)+(?:(?P<listed_tld>{})(?:{AFTER_LISTED_TLD}|$)|(?P<punycode_tld>{PUNYCODE_TLD}))",
        *LATIN, *LISTED_TLD
    ))
});

/// `validTcoUrl`: a t.co link ends after its slug and query.
static TCO_URL: LazyLock<regex::Regex> = LazyLock::new(|| {
    compile(&format!(
        r"^{SCHEME}[tT]\.[cC][oO]/([a-zA-Z0-9]+)(?:\?{QUERY_CHARACTERS}*{QUERY_ENDING})?"
    ))
});

const TWEMOJI: &str = include_str!("twitter_text/twemoji.regex");

/// twemoji-parser 11's pattern, which twitter-text counts as one emoji per match.
/// (It looks ahead for U+FE0E, text presentation, hence the backtracking engine.)
static EMOJI: LazyLock<fancy_regex::Regex> = LazyLock::new(|| {
    fancy_regex::Regex::new(TWEMOJI.trim_end())
        .unwrap_or_else(|error| panic!("the twemoji pattern compiles: {error}"))
});

/// The same pattern for texts without U+FE0E, where its look-ahead always holds.
static EMOJI_WITHOUT_FE0E: LazyLock<regex::Regex> =
    LazyLock::new(|| compile(&TWEMOJI.trim_end().replace(r"(?!\x{FE0E})", "")));

/// The patterns are constants of this module, checked by its tests; a failure is a bug
/// in this file, not a runtime condition.
fn compile(pattern: &str) -> regex::Regex {
    regex::RegexBuilder::new(pattern)
        // The TLD lists make large automata; the default limits are for untrusted patterns.
        .size_limit(256 << 20)
        .dfa_size_limit(64 << 20)
        .build()
        .unwrap_or_else(|error| panic!("twitter-text pattern compiles: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values are what npm twitter-text 3.1.0 answers (`parseTweet(text)
    /// .weightedLength`); the client stage checks thousands more.
    #[test]
    fn counts_as_twitter_text() {
        for (text, expected) in [
            ("hello", 5),
            ("日本語", 6),
            ("👍", 2),
            ("👨‍👩‍👧‍👦", 2),
            ("🇦🇺", 2),
            ("see https://example.org/a/very/long/path/indeed", 4 + 23),
            ("(https://example.org).", 1 + 23 + 2),
            ("wp.me/p3jRFF-H", 23),
            ("…", 2),
            ("“quoted”", 8),
            ("http://127.0.0.1:8080/posts/a-post", 34),
            ("go to example.com:8080/x now", 6 + 23 + 4),
            ("file.txt and notes.md", 8 + 5 + 23),
            ("https://t.co/abc123?x=1yz", 23),
            ("a.b@example.com", 15),
            ("https://例え.テスト/パス", 24),
            ("e\u{301}", 1),
            ("☺\u{FE0F}", 2),
            // JavaScript's `i` flag: ʀ's capital Ʀ is a Latin accent, ᲀ's capital В Cyrillic.
            ("https://example.com/ʀ", 23),
            ("ʀ.com", 23),
            ("https://example.org/ᲀ", 23),
        ] {
            assert_eq!(weighted_length(text), expected, "{text:?}");
        }
    }

    #[test]
    fn words_split_at_twitter_texts_spaces_exactly() {
        let class = compile(&format!("^[{SPACES}]$"));
        for character in (0..=0x3100).filter_map(char::from_u32) {
            assert_eq!(
                is_space(character),
                class.is_match(&character.to_string()),
                "{:04X}",
                u32::from(character)
            );
        }
    }

    #[test]
    fn long_hostile_words_end_in_time() {
        let word = format!("{}.", "a".repeat(20_000));
        assert_eq!(weighted_length(&word), 20_001);
    }
}
