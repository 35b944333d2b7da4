//! X's weighted length, computed as twitter-text 3.1 (`parseTweet`, configuration v3) does.
//!
//! A port, not an approximation: the URL pattern is assembled from the same pieces as
//! twitter-text's `extractUrl` (preceding character, optional scheme, domain ending in a
//! known TLD, port, path with balanced parentheses, query), the TLD lists and the emoji
//! pattern are generated from the npm packages (`clients/twitter-text-data.mjs`), and the
//! client test stage compares this count with the npm package's over a few thousand texts
//! (docs/clients.md). Consequences users notice: a URL whose host is an IP address or an
//! unknown TLD is not a link to X, so every character counts; a bare `example.org` is.

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
    let emoji: HashMap<usize, usize> = EMOJI
        .find_iter(&text)
        .map_while(Result::ok)
        .map(|found| (found.start(), found.end()))
        .collect();
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
fn extract_urls(text: &str) -> Vec<(usize, usize)> {
    if !text.contains('.') {
        return Vec::new();
    }
    let mut urls = Vec::new();
    // A pattern too costly to finish (the backtracking limit) ends the search; what was
    // found so far stands, and the rest counts character by character.
    for captures in EXTRACT_URL.captures_iter(text).map_while(Result::ok) {
        let (Some(before), Some(url), Some(domain)) =
            (captures.get(2), captures.get(3), captures.get(5))
        else {
            continue;
        };
        let scheme = captures.get(4).map(|scheme| scheme.as_str());
        let (start, mut end) = (url.start(), url.end());
        if !is_valid_url(url.as_str(), scheme.unwrap_or("https://"), domain.as_str()) {
            continue;
        }
        match scheme {
            None => {
                if before.as_str().ends_with(['-', '_', '.', '/']) {
                    continue;
                }
                let found_before = urls.len();
                urls.extend(
                    ASCII_DOMAIN
                        .find_iter(domain.as_str())
                        .map_while(Result::ok)
                        .map(|ascii| {
                            (domain.start() + ascii.start(), domain.start() + ascii.end())
                        }),
                );
                // The path and query belong to the last ASCII domain found.
                if urls.len() > found_before
                    && captures.get(7).is_some()
                    && let Some(last) = urls.last_mut()
                {
                    last.1 = end;
                }
            }
            Some(_) => {
                if let Ok(Some(tco)) = TCO_URL.captures(url.as_str()) {
                    if tco
                        .get(1)
                        .is_some_and(|slug| slug.as_str().len() > MAX_TCO_SLUG_LENGTH)
                    {
                        continue;
                    }
                    if let Some(whole) = tco.get(0) {
                        end = start + whole.end();
                    }
                }
                urls.push((start, end));
            }
        }
    }
    urls
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
    if domain.starts_with("xn--") && !ASCII_DOMAIN.is_match(domain).unwrap_or(false) {
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
const LATIN_ACCENTS: &str = r"\xC0-\xD6\xD8-\xF6\xF8-\xFF\x{0100}-\x{024F}\x{0253}\x{0254}\x{0256}\x{0257}\x{0259}\x{025B}\x{0263}\x{0268}\x{026F}\x{0272}\x{0289}\x{028B}\x{02BB}\x{0300}-\x{036F}\x{1E00}-\x{1EFF}";
const CYRILLIC: &str = r"\x{0400}-\x{04FF}";
const QUERY_CHARACTERS: &str = r"[a-zA-Z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]";
const QUERY_ENDING: &str = r"[a-zA-Z0-9\-_&=#/]";
const PUNYCODE_TLD: &str = r"(?:[xX][nN]--[\-0-9a-zA-Z]+)";
const SCHEME: &str = r"[hH][tT][tT][pP][sS]?://";

fn tld_alternatives(list: &str) -> String {
    let names: Vec<String> = list
        .lines()
        .filter(|line| !line.is_empty())
        .map(|name| name.chars().map(case_insensitive).collect())
        .collect();
    format!(r"(?:(?:{})(?=[^0-9a-zA-Z@+\-]|$))", names.join("|"))
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
        fancy_regex::escape(&character.to_string()).into_owned()
    }
}

static GENERIC_TLD: LazyLock<String> =
    LazyLock::new(|| tld_alternatives(include_str!("twitter_text/gtld.txt")));
static COUNTRY_TLD: LazyLock<String> =
    LazyLock::new(|| tld_alternatives(include_str!("twitter_text/cctld.txt")));

/// twitter-text's `extractUrl`, piece by piece (`$2` preceding character, `$3` URL, `$4`
/// scheme, `$5` domain, `$6` port, `$7` path, `$8` query).
static EXTRACT_URL: LazyLock<fancy_regex::Regex> = LazyLock::new(|| {
    let preceding =
        format!(r"(?:[^A-Za-z0-9@＠$#＃{INVALID_CHARACTERS}]|[{DIRECTIONAL_MARKERS}]|^)");
    let domain_character =
        format!(r"[^{PUNCTUATION}{SPACES}{INVALID_CHARACTERS}{DIRECTIONAL_MARKERS}]");
    let subdomain =
        format!(r"(?:(?:{domain_character}(?:[_\-]|{domain_character})*)?{domain_character}\.)");
    let domain_name =
        format!(r"(?:(?:{domain_character}(?:\-|{domain_character})*)?{domain_character}\.)");
    let domain = format!(
        r"(?:{subdomain}*{domain_name}(?:{}|{}|{PUNYCODE_TLD}))",
        *GENERIC_TLD, *COUNTRY_TLD
    );
    let path_character =
        format!(r"[a-zA-Z{CYRILLIC}0-9!*';:=+,.$/%#\[\]\-\x{{2013}}_~@|&{LATIN_ACCENTS}]");
    let balanced_parentheses = format!(
        r"\((?:{path_character}+|(?:{path_character}*\({path_character}+\){path_character}*))\)"
    );
    // Left without parentheses on purpose: twitter-text splices this alternation into the
    // path pattern as text, and the alternation then spans the path's group.
    let path_ending =
        format!(r"[+\-a-zA-Z{CYRILLIC}0-9=_#/{LATIN_ACCENTS}]|(?:{balanced_parentheses})");
    let path = format!(
        r"(?:(?:{path_character}*(?:{balanced_parentheses}{path_character}*)*{path_ending})|(?:@{path_character}+/))"
    );
    let pattern = format!(
        r"(({preceding})(({SCHEME})?({domain})(?::([0-9]+))?(/{path}*)?(\?{QUERY_CHARACTERS}*{QUERY_ENDING})?))"
    );
    compile(&pattern)
});

/// `validAsciiDomain`: the ASCII (and Latin-accented) domains inside a scheme-less match.
static ASCII_DOMAIN: LazyLock<fancy_regex::Regex> = LazyLock::new(|| {
    compile(&format!(
        r"(?:(?:[\-a-zA-Z0-9{LATIN_ACCENTS}]+)\.)+(?:{}|{}|{PUNYCODE_TLD})",
        *GENERIC_TLD, *COUNTRY_TLD
    ))
});

/// `validTcoUrl`: a t.co link ends after its slug and query.
static TCO_URL: LazyLock<fancy_regex::Regex> = LazyLock::new(|| {
    compile(&format!(
        r"^{SCHEME}[tT]\.[cC][oO]/([a-zA-Z0-9]+)(?:\?{QUERY_CHARACTERS}*{QUERY_ENDING})?"
    ))
});

/// twemoji-parser 11's pattern, which twitter-text counts as one emoji per match.
/// (It looks ahead for U+FE0E, text presentation, hence the backtracking engine.)
static EMOJI: LazyLock<fancy_regex::Regex> =
    LazyLock::new(|| compile(include_str!("twitter_text/twemoji.regex").trim_end()));

/// The patterns are constants of this module, checked by its tests; a failure is a bug
/// in this file, not a runtime condition.
fn compile(pattern: &str) -> fancy_regex::Regex {
    fancy_regex::Regex::new(pattern)
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
        ] {
            assert_eq!(weighted_length(text), expected, "{text:?}");
        }
    }

    #[test]
    fn long_hostile_words_end_in_time() {
        let word = format!("{}.", "a".repeat(20_000));
        assert_eq!(weighted_length(&word), 20_001);
    }
}
