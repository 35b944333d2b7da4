//! Ready-to-post summaries that always fit their channel: shortened where needed, never
//! inside a word, a URL, a grapheme cluster or an entity (the text is plain), with an
//! ellipsis where something was cut.

use std::sync::LazyLock;

use chrono::NaiveDate;
use unicode_segmentation::UnicodeSegmentation;

use super::measure::{Piece, measure, pieces};
use super::rules::{ChannelKind, ChannelRules, rules};
use super::template::{Part, Placeholder, Template};

const ELLIPSIS: &str = "…";

/// What a summary is made of: plain text (the caller strips Markdown and HTML).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryInput {
    pub title: String,
    pub excerpt: String,
    /// The post's absolute URL.
    pub link: String,
    /// Tag names; hashtags are made from them.
    pub tags: Vec<String>,
    pub author: String,
    pub date: NaiveDate,
}

/// A summary, with its length under the channel's counting rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub text: String,
    pub length: usize,
    pub limit: usize,
    /// Something had to be shortened or left out to fit.
    pub truncated: bool,
}

/// The fields as finally used (for checking truncation in tests).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Used {
    pub title: String,
    pub excerpt: String,
    pub hashtags: Vec<String>,
}

/// The default template of every kind, parsed once.
static DEFAULTS: LazyLock<Vec<(ChannelKind, Template)>> = LazyLock::new(|| {
    ChannelKind::ALL
        .iter()
        .filter_map(|kind| {
            Template::parse(rules(*kind).default_template)
                .ok()
                .map(|template| (*kind, template))
        })
        .collect()
});

/// The summary of `input` for a channel of `kind`, shaped by `template` (or the kind's
/// default).
pub fn summarize(kind: ChannelKind, template: Option<&Template>, input: &SummaryInput) -> Summary {
    summarize_with_parts(kind, template, input).0
}

pub(crate) fn summarize_with_parts(
    kind: ChannelKind,
    template: Option<&Template>,
    input: &SummaryInput,
) -> (Summary, Used) {
    let rules = rules(kind);
    let template = template.or_else(|| {
        DEFAULTS
            .iter()
            .find(|(default_kind, _)| *default_kind == kind)
            .map(|(_, template)| template)
    });
    let Some(template) = template else {
        // Unreachable: every default parses (tested); fall back to the bare link.
        let text = input.link.clone();
        let length = measure(rules.counting, &text);
        return (fitted(text, length, &rules, true), Used::default());
    };
    let title = collapse_whitespace(&input.title);
    let excerpt = collapse_whitespace(&input.excerpt);
    let all_hashtags = hashtags(&input.tags, rules.max_hashtags);
    let date = input.date.format("%-d %B %Y").to_string();
    let mut used = Used {
        title: title.clone(),
        excerpt: excerpt.clone(),
        hashtags: all_hashtags.clone(),
    };
    let render = |used: &Used| {
        let text = render(template, used, &input.link, &input.author, &date);
        let length = measure(rules.counting, &text);
        (text, length)
    };

    let (text, length) = render(&used);
    if length <= rules.limit {
        return (fitted(text, length, &rules, false), used);
    }
    // Shorten in order: the excerpt, then the hashtags, then the title. The link stays.
    if let Some(found) = longest_fitting_prefix(
        &excerpt,
        |prefix| {
            render(&Used {
                excerpt: prefix.to_owned(),
                ..used.clone()
            })
        },
        rules.limit,
    ) {
        used.excerpt = found.0;
        return (fitted(found.1, found.2, &rules, true), used);
    }
    used.excerpt.clear();
    while !used.hashtags.is_empty() {
        used.hashtags.pop();
        let (text, length) = render(&used);
        if length <= rules.limit {
            return (fitted(text, length, &rules, true), used);
        }
    }
    if let Some(found) = longest_fitting_prefix(
        &title,
        |prefix| {
            render(&Used {
                title: prefix.to_owned(),
                ..used.clone()
            })
        },
        rules.limit,
    ) {
        used.title = found.0;
        return (fitted(found.1, found.2, &rules, true), used);
    }
    used.title.clear();
    let (text, length) = render(&used);
    if length <= rules.limit {
        return (fitted(text, length, &rules, true), used);
    }
    // Only a template whose own words exceed the limit gets here.
    let text = cut_to_fit(&text, &rules);
    let length = measure(rules.counting, &text);
    (fitted(text, length, &rules, true), used)
}

fn fitted(text: String, length: usize, rules: &ChannelRules, truncated: bool) -> Summary {
    Summary {
        text,
        length,
        limit: rules.limit,
        truncated,
    }
}

/// The longest word-boundary prefix of `field` (with an ellipsis) for which `render` fits
/// `limit`: the field used, the text and its length. `None` when not even one word fits.
fn longest_fitting_prefix(
    field: &str,
    render: impl Fn(&str) -> (String, usize),
    limit: usize,
) -> Option<(String, String, usize)> {
    // Where Unicode lets a line break (UAX #14): after spaces, and between ideographs, so
    // text without spaces (Chinese, Japanese) is shortened too rather than dropped. Only
    // cuts between grapheme clusters count (a space can belong to one, after a prepended
    // mark such as U+06DD).
    // A URL or a domain is never cut: a platform would count and link what is left of it.
    let boundaries = grapheme_boundaries(field);
    let links: Vec<(usize, usize)> = pieces(field)
        .filter_map(|piece| match piece {
            Piece::Url(part) | Piece::Domain(part) => {
                let start = part.as_ptr() as usize - field.as_ptr() as usize;
                Some((start, start + part.len()))
            }
            Piece::Text(_) => None,
        })
        .collect();
    let cuts: Vec<usize> = unicode_linebreak::linebreaks(field)
        .map(|(index, _)| index)
        .filter(|index| *index < field.len() && boundaries.contains(index))
        .filter(|index| {
            !links
                .iter()
                .any(|(start, end)| start < index && index < end)
        })
        .collect();
    let candidate = |cut: usize| {
        let word_end = &field[..cut];
        let trimmed = word_end.trim_end_matches([',', ';', ':', '.', '-', '–', '—', ' ']);
        let kept = if boundaries.contains(&trimmed.len()) {
            trimmed
        } else {
            word_end
        };
        if kept.is_empty() {
            return None;
        }
        let shortened = format!("{kept}{ELLIPSIS}");
        let (text, length) = render(&shortened);
        Some((shortened, text, length))
    };
    // Longer prefixes never measure less: search for the last one that fits.
    let (mut low, mut high) = (0usize, cuts.len());
    let mut best = None;
    while low < high {
        let middle = (low + high) / 2;
        match candidate(cuts[middle]) {
            Some(found) if found.2 <= limit => {
                best = Some(found);
                low = middle + 1;
            }
            Some(_) => high = middle,
            // An empty prefix: try longer ones.
            None => low = middle + 1,
        }
    }
    best
}

/// Cuts a whole text after its last piece (word, URL) that fits with an ellipsis.
fn cut_to_fit(text: &str, rules: &ChannelRules) -> String {
    let boundaries = grapheme_boundaries(text);
    let mut kept = String::new();
    let mut candidate = String::new();
    for piece in pieces(text) {
        let part = match piece {
            Piece::Url(part) | Piece::Domain(part) | Piece::Text(part) => part,
        };
        candidate.push_str(part);
        if !boundaries.contains(&candidate.len()) {
            continue;
        }
        let shown = format!("{}{ELLIPSIS}", candidate.trim_end());
        if measure(rules.counting, &shown) > rules.limit {
            break;
        }
        kept.clone_from(&candidate);
    }
    let kept = kept.trim_end();
    if kept.is_empty() {
        String::new()
    } else {
        format!("{kept}{ELLIPSIS}")
    }
}

/// Renders the template: a placeholder left empty takes away the punctuation and spacing
/// that introduce it, so no dangling separators remain; spacing is then tidied.
fn render(template: &Template, used: &Used, link: &str, author: &str, date: &str) -> String {
    let value = |placeholder: Placeholder| -> String {
        match placeholder {
            Placeholder::Title => used.title.clone(),
            Placeholder::Excerpt => used.excerpt.clone(),
            Placeholder::Link => link.to_owned(),
            Placeholder::Hashtags => used.hashtags.join(" "),
            Placeholder::Author => author.to_owned(),
            Placeholder::Date => date.to_owned(),
        }
    };
    let mut pieces: Vec<(String, bool)> = template
        .parts
        .iter()
        .map(|part| match part {
            Part::Literal(text) => (text.clone(), true),
            Part::Field(placeholder) => (value(*placeholder), false),
        })
        .collect();
    let separator = |text: &str| !text.chars().any(char::is_alphanumeric);
    for index in 0..pieces.len() {
        let (text, literal) = &pieces[index];
        if *literal || !text.is_empty() {
            continue;
        }
        if index > 0 && pieces[index - 1].1 && separator(&pieces[index - 1].0) {
            pieces[index - 1].0.clear();
        } else if index + 1 < pieces.len() && pieces[index + 1].1 && separator(&pieces[index + 1].0)
        {
            pieces[index + 1].0.clear();
        }
    }
    let joined: String = pieces.into_iter().map(|(text, _)| text).collect();
    tidy(&joined)
}

/// Single spaces within lines, no trailing spaces, at most one blank line in a row.
fn tidy(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in text.split('\n') {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if line.is_empty() && lines.last().is_some_and(String::is_empty) {
            continue;
        }
        lines.push(line);
    }
    lines.join("\n").trim().to_owned()
}

/// The offsets between grapheme clusters, both ends included.
fn grapheme_boundaries(text: &str) -> std::collections::HashSet<usize> {
    text.grapheme_indices(true)
        .map(|(index, _)| index)
        .chain(std::iter::once(text.len()))
        .collect()
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `#CamelCase` hashtags from tag names, at most `max`, without repeats. A tag without
/// letters or digits, or with digits only, gives none (channels would not link it).
pub fn hashtags(tags: &[String], max: usize) -> Vec<String> {
    let mut hashtags: Vec<String> = Vec::new();
    for tag in tags {
        if hashtags.len() >= max {
            break;
        }
        let mut hashtag = String::from("#");
        let mut word_start = true;
        for grapheme in tag.graphemes(true) {
            let starts_alphanumeric = grapheme.chars().next().is_some_and(char::is_alphanumeric);
            if !starts_alphanumeric {
                word_start = true;
                continue;
            }
            if word_start {
                let mut chars = grapheme.chars();
                if let Some(first) = chars.next() {
                    hashtag.extend(first.to_uppercase());
                    hashtag.push_str(chars.as_str());
                }
            } else {
                hashtag.push_str(grapheme);
            }
            word_start = false;
        }
        let body = &hashtag[1..];
        if body.is_empty() || body.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if !hashtags
            .iter()
            .any(|existing| existing.to_lowercase() == hashtag.to_lowercase())
        {
            hashtags.push(hashtag);
        }
    }
    hashtags
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(title: &str, excerpt: &str) -> SummaryInput {
        SummaryInput {
            title: title.to_owned(),
            excerpt: excerpt.to_owned(),
            link: "https://blog.example/posts/a-post".to_owned(),
            tags: vec!["Enterprise 2.0".to_owned(), "social media".to_owned()],
            author: "Ann".to_owned(),
            date: NaiveDate::from_ymd_opt(2013, 8, 22).expect("date"),
        }
    }

    /// Issue 11, item 4: an excerpt without spaces (Japanese) is shortened where Unicode
    /// allows a line break, not dropped whole.
    #[test]
    fn text_without_spaces_is_shortened_not_dropped() {
        let excerpt = "政府機関によるエンタープライズ2.0の導入について、ソーシャルメディアを活用した市民との対話の方法を詳しく説明します。".repeat(4);
        let summary = summarize(
            ChannelKind::Twitter,
            None,
            &input("行政とソーシャルメディア", &excerpt),
        );
        assert!(summary.length <= 280, "{summary:?}");
        assert!(summary.truncated);
        assert!(
            summary.text.contains("政府機関によるエンタープライズ"),
            "the excerpt was dropped: {summary:?}"
        );
        assert!(
            summary.length > 200,
            "most of the room is used: {summary:?}"
        );
        let start = summary.text.find("政府機関").expect("the excerpt");
        let end = summary.text.find(ELLIPSIS).expect("an ellipsis");
        let kept = &summary.text[start..end];
        let shortened = &summary.text;
        assert!(excerpt.starts_with(kept), "{shortened}");
        assert!(
            unicode_linebreak::linebreaks(&excerpt).any(|(index, _)| {
                let before = &excerpt[..index];
                before == kept
                    || before.trim_end_matches([',', ';', ':', '.', '-', '–', '—', ' ']) == kept
            }),
            "cut where no line may break: {shortened}"
        );
    }

    #[test]
    fn every_default_template_parses() {
        for kind in ChannelKind::ALL {
            assert!(
                Template::parse(rules(kind).default_template).is_ok(),
                "{kind:?}"
            );
        }
        assert_eq!(DEFAULTS.len(), ChannelKind::ALL.len());
    }

    #[test]
    fn short_posts_fit_whole() {
        let summary = summarize(ChannelKind::Twitter, None, &input("Hello", "A short post."));
        assert_eq!(
            summary.text,
            "Hello: A short post. https://blog.example/posts/a-post #Enterprise20 #SocialMedia"
        );
        assert!(!summary.truncated);
        // `.example` is no TLD X knows, so X does not shorten the link: it counts in full.
        assert_eq!(summary.length, 21 + 33 + 1 + 26);
        assert_eq!(summary.limit, 280);
    }

    #[test]
    fn long_excerpts_are_cut_at_a_word_with_an_ellipsis() {
        let excerpt = "word ".repeat(100);
        let summary = summarize(ChannelKind::Twitter, None, &input("Title", &excerpt));
        assert!(summary.truncated);
        assert!(summary.length <= 280);
        assert!(summary.text.contains("word word…"), "{}", summary.text);
        assert!(summary.text.contains("https://blog.example/posts/a-post"));
        assert!(
            summary.text.ends_with("#Enterprise20 #SocialMedia"),
            "{}",
            summary.text
        );
    }

    #[test]
    fn an_empty_placeholder_takes_its_separator_along() {
        let template = Template::parse("{title}: {excerpt} — {link}").expect("valid");
        let summary = summarize(ChannelKind::Other, Some(&template), &input("Hello", ""));
        assert_eq!(summary.text, "Hello — https://blog.example/posts/a-post");
        let stacked = summarize(ChannelKind::Mastodon, None, &input("Hello", ""));
        assert_eq!(
            stacked.text,
            "Hello\n\nhttps://blog.example/posts/a-post\n\n#Enterprise20 #SocialMedia"
        );
    }

    #[test]
    fn hashtags_are_camel_case_without_repeats() {
        let tags: Vec<String> = [
            "Enterprise 2.0",
            "enterprise-2.0",
            "日本 語",
            "2024",
            "!!!",
            "Café",
        ]
        .iter()
        .map(|tag| (*tag).to_owned())
        .collect();
        assert_eq!(hashtags(&tags, 10), ["#Enterprise20", "#日本語", "#Café"]);
        assert_eq!(hashtags(&tags, 1), ["#Enterprise20"]);
    }

    #[test]
    fn the_date_and_author_are_available() {
        let template = Template::parse("{author}, {date}: {link}").expect("valid");
        let summary = summarize(ChannelKind::Blog, Some(&template), &input("T", "E"));
        assert_eq!(
            summary.text,
            "Ann, 22 August 2013: https://blog.example/posts/a-post"
        );
    }
}
