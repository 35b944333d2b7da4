//! Property tests: for arbitrary Unicode titles, excerpts and tags, every summary of every
//! kind fits its limit under that kind's own counting rule, and never splits a grapheme
//! cluster or a URL.

use chrono::NaiveDate;
use proptest::prelude::*;
use unicode_segmentation::UnicodeSegmentation;

use super::measure::{Piece, pieces};
use super::summary::summarize_with_parts;
use super::{ChannelKind, SummaryInput, Template, measure, rules};

/// Text mixing scripts, emoji, combining marks, URLs, entities and odd spacing.
fn text() -> impl Strategy<Value = String> {
    let word = prop_oneof![
        "[a-zA-Z]{1,12}",
        "[а-яА-Я]{1,8}",
        "[\u{4e00}-\u{9fff}]{1,6}",
        "[\u{0600}-\u{06ff}]{1,6}",
        Just("👨‍👩‍👧‍👦".to_owned()),
        Just("🇦🇺".to_owned()),
        Just("e\u{301}".to_owned()),
        Just("&amp;".to_owned()),
        Just("https://example.org/a/long/path?q=1".to_owned()),
        Just("wp.me/p3jRFF-H".to_owned()),
        Just("(http://x.example),".to_owned()),
        "\\PC{1,10}",
    ];
    let separator = prop_oneof![Just(" "), Just("  "), Just("\n"), Just("\t"), Just(", ")];
    proptest::collection::vec((word, separator), 0..120).prop_map(|parts| {
        parts
            .into_iter()
            .map(|(word, separator)| format!("{word}{separator}"))
            .collect()
    })
}

fn kind() -> impl Strategy<Value = ChannelKind> {
    proptest::sample::select(ChannelKind::ALL.to_vec())
}

/// Offsets at which `text` may be cut without splitting a grapheme cluster.
fn boundaries(text: &str) -> Vec<usize> {
    let mut cuts: Vec<usize> = text
        .grapheme_indices(true)
        .map(|(index, _)| index)
        .collect();
    cuts.push(text.len());
    cuts
}

/// What remains of a field once the summary shortened it: a grapheme-boundary prefix.
fn kept_whole_graphemes(original: &str, used: &str) -> bool {
    let kept = used.strip_suffix('…').unwrap_or(used);
    original.starts_with(kept) && boundaries(original).contains(&kept.len())
}

fn urls(text: &str) -> Vec<String> {
    pieces(text)
        .filter_map(|piece| match piece {
            Piece::Url(url) | Piece::Domain(url) => Some(url.to_owned()),
            Piece::Text(_) => None,
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn summaries_fit_and_never_split_graphemes_or_urls(
        kind in kind(),
        title in text(),
        excerpt in text(),
        tags in proptest::collection::vec(text(), 0..6),
        custom in proptest::option::of(Just("{title} — {excerpt}\n{link} {hashtags} ({author}, {date})")),
    ) {
        let input = SummaryInput {
            title: title.clone(),
            excerpt: excerpt.clone(),
            link: "https://gazette.example/posts/some-post-slug".to_owned(),
            tags,
            author: "Ann".to_owned(),
            date: NaiveDate::from_ymd_opt(2026, 11, 25).expect("date"),
        };
        let template = custom.map(|source| Template::parse(source).expect("valid template"));
        let (summary, used) = summarize_with_parts(kind, template.as_ref(), &input);
        let counting = rules(kind).counting;
        prop_assert!(summary.length <= summary.limit, "{kind:?}: {} > {}", summary.length, summary.limit);
        prop_assert_eq!(summary.length, measure(counting, &summary.text));
        prop_assert_eq!(summary.limit, rules(kind).limit);

        let collapse = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ");
        prop_assert!(kept_whole_graphemes(&collapse(&title), &used.title), "title {:?} from {:?}", used.title, title);
        prop_assert!(kept_whole_graphemes(&collapse(&excerpt), &used.excerpt), "excerpt {:?} from {:?}", used.excerpt, excerpt);

        // Every URL in the summary is whole: the link, or one of the input's.
        let mut known = urls(&title);
        known.extend(urls(&excerpt));
        known.push(input.link.clone());
        for url in urls(&summary.text) {
            prop_assert!(known.contains(&url), "{url:?} is not a URL of the input");
        }
        prop_assert!(summary.text.contains(&input.link), "the link is always there");
    }
}
