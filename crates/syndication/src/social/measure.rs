//! Measuring a text the way a channel does.

use super::rules::Counting;

/// The length of `text` under `counting`.
pub fn measure(counting: Counting, text: &str) -> usize {
    match counting {
        Counting::Chars => text.chars().count(),
        Counting::CharsUrlsAs(url_length) => pieces(text)
            .map(|piece| match piece {
                Piece::Url(_) => url_length,
                Piece::Domain(domain) | Piece::Text(domain) => domain.chars().count(),
            })
            .sum(),
        Counting::CharsWithoutUrls => pieces(text)
            .map(|piece| match piece {
                Piece::Url(_) => 0,
                Piece::Domain(text) | Piece::Text(text) => text.chars().count(),
            })
            .sum(),
        Counting::TwitterWeighted => super::twitter_text::weighted_length(text),
    }
}

/// A text cut into URLs, bare domains and the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    Url(&'a str),
    Domain(&'a str),
    Text(&'a str),
}

/// Splits at whitespace; in each word, a URL (`http://`, `https://`) or a bare domain is
/// the word without the punctuation around it.
pub(crate) fn pieces(text: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let word_start = rest
            .find(|c: char| !c.is_whitespace())
            .unwrap_or(rest.len());
        if word_start > 0 {
            pieces.push(Piece::Text(&rest[..word_start]));
        }
        rest = &rest[word_start..];
        let word_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..word_end];
        rest = &rest[word_end..];
        if word.is_empty() {
            continue;
        }
        let core_start = word
            .find(|c: char| !matches!(c, '(' | '[' | '{' | '"' | '\'' | '<' | '«' | '“'))
            .unwrap_or(word.len());
        let core_end = word
            .rfind(|c: char| {
                !matches!(
                    c,
                    '.' | ','
                        | ';'
                        | ':'
                        | '!'
                        | '?'
                        | ')'
                        | ']'
                        | '}'
                        | '"'
                        | '\''
                        | '>'
                        | '»'
                        | '”'
                        | '…'
                )
            })
            .map_or(core_start, |index| {
                index + word[index..].chars().next().map_or(1, char::len_utf8)
            })
            .max(core_start);
        let core = &word[core_start..core_end];
        let kind = if is_url(core) {
            Some(Piece::Url(core))
        } else if is_domain(core) {
            Some(Piece::Domain(core))
        } else {
            None
        };
        match kind {
            Some(link) => {
                if core_start > 0 {
                    pieces.push(Piece::Text(&word[..core_start]));
                }
                pieces.push(link);
                if core_end < word.len() {
                    pieces.push(Piece::Text(&word[core_end..]));
                }
            }
            None => pieces.push(Piece::Text(word)),
        }
    }
    pieces.into_iter()
}

pub(crate) fn is_url(word: &str) -> bool {
    let bytes = word.as_bytes();
    let has_scheme = |scheme: &[u8]| {
        bytes.len() > scheme.len() && bytes[..scheme.len()].eq_ignore_ascii_case(scheme)
    };
    has_scheme(b"http://") || has_scheme(b"https://")
}

/// `example.org`, `wp.me/p3jRFF-H`: dotted names ending in letters, maybe with a path.
fn is_domain(word: &str) -> bool {
    let host = word.split(['/', '?', '#']).next().unwrap_or(word);
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_counts() {
        assert_eq!(measure(Counting::Chars, "héllo 日本"), 8);
        assert_eq!(
            measure(
                Counting::CharsUrlsAs(23),
                "a http://x.example/long/long/long"
            ),
            2 + 23
        );
        assert_eq!(
            measure(Counting::CharsUrlsAs(23), "a x.example"),
            11,
            "Mastodon links only URLs"
        );
        assert_eq!(
            measure(Counting::CharsWithoutUrls, "read https://x.example/post"),
            5
        );
    }

    #[test]
    fn pieces_keep_punctuation_outside_urls() {
        let found: Vec<Piece> = pieces("see (https://a.example/x), ok").collect();
        assert_eq!(
            found,
            [
                Piece::Text("see"),
                Piece::Text(" "),
                Piece::Text("("),
                Piece::Url("https://a.example/x"),
                Piece::Text("),"),
                Piece::Text(" "),
                Piece::Text("ok"),
            ]
        );
    }
}
