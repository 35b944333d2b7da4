//! A channel's digest: what happened since the previous one — the posts published and the
//! feedback they received, most discussed first — fitted to the channel.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::measure::measure;
use super::rules::{ChannelKind, Counting, rules};
use super::summary::Summary;

/// A post published in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestPost {
    pub title: String,
    pub link: String,
}

/// The comments a post received in the period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestFeedback {
    pub title: String,
    pub link: String,
    pub new_comments: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestInput {
    pub site: String,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    /// Newest first.
    pub posts: Vec<DigestPost>,
    /// In any order: the digest puts the most discussed first.
    pub feedback: Vec<DigestFeedback>,
}

/// The digest's text for a channel of `kind`: whole when it fits, else with the least
/// important lines replaced by "…and N more".
pub fn render_digest(kind: ChannelKind, input: &DigestInput) -> Summary {
    let mut digests = render_digests(&[kind], input);
    digests.pop().unwrap_or_else(|| Summary {
        text: String::new(),
        length: 0,
        limit: rules(kind).limit,
        truncated: false,
    })
}

/// The digest for each of `kinds`, in their order. The lines are written once and each is
/// measured once per way of counting (channels that count alike share the measurements);
/// fitting a digest to its limit then adds up measured lines, so the work grows with the
/// period's posts, not with their square.
pub fn render_digests(kinds: &[ChannelKind], input: &DigestInput) -> Vec<Summary> {
    render_digests_measured_by(kinds, input, &mut measure)
}

/// [`render_digests`] with the measuring function given (tests count its calls).
fn render_digests_measured_by(
    kinds: &[ChannelKind],
    input: &DigestInput,
    measure: &mut impl FnMut(Counting, &str) -> usize,
) -> Vec<Summary> {
    let lines = Lines::new(input);
    let mut measured: Vec<Measured> = Vec::new();
    kinds
        .iter()
        .map(|kind| {
            let rules = rules(*kind);
            let index = match measured
                .iter()
                .position(|lengths| lengths.counting == rules.counting)
            {
                Some(index) => index,
                None => {
                    measured.push(lines.measure(rules.counting, measure));
                    measured.len() - 1
                }
            };
            lines.fit(&mut measured[index], rules.limit, measure)
        })
        .collect()
}

/// A digest's lines. Lines never share a word, a URL or an emoji, and a line break counts
/// alike under every rule, so a text's length is the sum of its lines' lengths and of its
/// line breaks (the property tests check this against measuring the whole text). One
/// caveat makes the order of words matter: X's count takes the character before a URL as
/// its "preceding" character, so a line *starting* with, say, `Éditions.fr` counts `É` on
/// its own when measured alone but as part of the URL after a line break. Every line but
/// the first (the header, which starts the text either way) therefore starts with fixed
/// words followed by a space: "New posts", "Feedback", "• ", "…and".
struct Lines {
    /// The whole text of a period without posts or comments.
    quiet: Option<String>,
    header: String,
    /// "New posts (N):", when there are any.
    posts_heading: Option<String>,
    /// "• {title} {link}", newest first.
    posts: Vec<String>,
    /// "Feedback (N new comments):", when there is any.
    feedback_heading: Option<String>,
    /// "• {title}: N new comments {link}", most discussed first.
    feedback: Vec<String>,
}

/// Every line of a [`Lines`] measured under one counting rule.
struct Measured {
    counting: Counting,
    quiet: usize,
    header: usize,
    posts_heading: usize,
    feedback_heading: usize,
    line_break: usize,
    /// The lengths of the first post lines together, as far as measured.
    posts: RunningTotals,
    feedback: RunningTotals,
    /// "…and N more" by N, measured when first needed.
    more: HashMap<usize, usize>,
}

impl Lines {
    fn new(input: &DigestInput) -> Self {
        let period = format!(
            "{} to {}",
            input.period_start.format("%-d %B %Y %H:%M UTC"),
            input.period_end.format("%-d %B %Y %H:%M UTC")
        );
        if input.posts.is_empty() && input.feedback.is_empty() {
            return Self {
                quiet: Some(format!(
                    "{}: no new posts or comments from {period}.",
                    input.site
                )),
                header: String::new(),
                posts_heading: None,
                posts: Vec::new(),
                feedback_heading: None,
                feedback: Vec::new(),
            };
        }
        let mut feedback: Vec<&DigestFeedback> = input.feedback.iter().collect();
        feedback.sort_by(|a, b| {
            b.new_comments
                .cmp(&a.new_comments)
                .then_with(|| a.title.cmp(&b.title))
        });
        let total: i64 = feedback.iter().map(|item| item.new_comments).sum();
        Self {
            quiet: None,
            header: format!("{}, {period}", input.site),
            posts_heading: (!input.posts.is_empty())
                .then(|| format!("New posts ({}):", input.posts.len())),
            posts: input
                .posts
                .iter()
                .map(|post| format!("• {} {}", post.title, post.link))
                .collect(),
            feedback_heading: (!feedback.is_empty())
                .then(|| format!("Feedback ({total} new {}):", plural(total))),
            feedback: feedback
                .iter()
                .map(|item| {
                    format!(
                        "• {}: {} new {} {}",
                        item.title,
                        item.new_comments,
                        plural(item.new_comments),
                        item.link
                    )
                })
                .collect(),
        }
    }

    fn measure(
        &self,
        counting: Counting,
        measure: &mut impl FnMut(Counting, &str) -> usize,
    ) -> Measured {
        let mut measure_optional =
            |line: &Option<String>| line.as_deref().map_or(0, |line| measure(counting, line));
        let quiet = measure_optional(&self.quiet);
        let posts_heading = measure_optional(&self.posts_heading);
        let feedback_heading = measure_optional(&self.feedback_heading);
        Measured {
            counting,
            quiet,
            header: if self.quiet.is_some() {
                0
            } else {
                measure(counting, &self.header)
            },
            posts_heading,
            feedback_heading,
            line_break: measure(counting, "\n"),
            posts: RunningTotals::default(),
            feedback: RunningTotals::default(),
            more: HashMap::new(),
        }
    }

    /// Drops lines, from the longer list first (feedback before posts when equal), until
    /// the text fits or nothing is left to drop.
    fn fit(
        &self,
        measured: &mut Measured,
        limit: usize,
        measure: &mut impl FnMut(Counting, &str) -> usize,
    ) -> Summary {
        if let Some(quiet) = &self.quiet {
            return Summary {
                text: quiet.clone(),
                length: measured.quiet,
                limit,
                truncated: false,
            };
        }
        let (all_posts, all_feedback) = (self.posts.len(), self.feedback.len());
        let (mut shown_posts, mut shown_feedback) = (all_posts, all_feedback);
        loop {
            let length = self.length(measured, limit, shown_posts, shown_feedback, measure);
            let nothing_left = shown_posts == 0 && shown_feedback == 0;
            if let Some(length) = length.filter(|length| *length <= limit || nothing_left) {
                return Summary {
                    text: self.text(shown_posts, shown_feedback),
                    length,
                    limit,
                    truncated: shown_posts < all_posts || shown_feedback < all_feedback,
                };
            }
            if shown_feedback >= shown_posts && shown_feedback > 0 {
                shown_feedback -= 1;
            } else {
                shown_posts -= 1;
            }
        }
    }

    /// The length of the text showing the first `shown_posts` and `shown_feedback` lines,
    /// or `None` when it is over `limit`: lines are measured only as far as a text under
    /// the limit can reach, so a 280-character digest of 1,000 posts measures a few lines.
    fn length(
        &self,
        measured: &mut Measured,
        limit: usize,
        shown_posts: usize,
        shown_feedback: usize,
        measure: &mut impl FnMut(Counting, &str) -> usize,
    ) -> Option<usize> {
        let counting = measured.counting;
        let mut length = measured.header;
        let mut lines = 1;
        for (heading, all, shown, totals) in [
            (
                measured.posts_heading,
                &self.posts,
                shown_posts,
                &mut measured.posts,
            ),
            (
                measured.feedback_heading,
                &self.feedback,
                shown_feedback,
                &mut measured.feedback,
            ),
        ] {
            if all.is_empty() {
                continue;
            }
            // A blank line (which measures nothing), the heading, the lines shown.
            length +=
                heading + totals.of_first(shown, all, limit, |line| measure(counting, line))?;
            lines += 2 + shown;
            if shown < all.len() {
                let hidden = all.len() - shown;
                length += *measured
                    .more
                    .entry(hidden)
                    .or_insert_with(|| measure(counting, &more(hidden)));
                lines += 1;
            }
        }
        Some(length + (lines - 1) * measured.line_break)
    }

    fn text(&self, shown_posts: usize, shown_feedback: usize) -> String {
        let mut text = self.header.clone();
        for (heading, all, shown) in [
            (&self.posts_heading, &self.posts, shown_posts),
            (&self.feedback_heading, &self.feedback, shown_feedback),
        ] {
            let Some(heading) = heading else {
                continue;
            };
            text.push_str("\n\n");
            text.push_str(heading);
            for line in &all[..shown] {
                text.push('\n');
                text.push_str(line);
            }
            if shown < all.len() {
                text.push('\n');
                text.push_str(&more(all.len() - shown));
            }
        }
        text
    }
}

/// Running totals of a list of lines' lengths, measured on demand.
#[derive(Default)]
struct RunningTotals(Vec<usize>);

impl RunningTotals {
    /// The length of the first `count` of `lines` together, measuring as needed; `None`
    /// once the lines measured so far are already over `limit` (no text showing `count`
    /// lines can fit then).
    fn of_first(
        &mut self,
        count: usize,
        lines: &[String],
        limit: usize,
        mut measure: impl FnMut(&str) -> usize,
    ) -> Option<usize> {
        if self.0.is_empty() {
            self.0.push(0);
        }
        while self.0.len() <= count {
            let total = self.0[self.0.len() - 1];
            if total > limit {
                return None;
            }
            let line = &lines[self.0.len() - 1];
            self.0.push(total + measure(line));
        }
        Some(self.0[count])
    }
}

/// The line standing for `hidden` lines left out.
fn more(hidden: usize) -> String {
    format!("…and {hidden} more")
}

fn plural(count: i64) -> &'static str {
    if count == 1 { "comment" } else { "comments" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, hour, 0, 0)
            .single()
            .expect("date")
    }

    fn digest(feedback: Vec<(&str, i64)>, posts: usize) -> DigestInput {
        DigestInput {
            site: "Gazette".to_owned(),
            period_start: at(0),
            period_end: at(12),
            posts: (0..posts)
                .map(|n| DigestPost {
                    title: format!("Post {n}"),
                    link: format!("https://blog.example/posts/post-{n}"),
                })
                .collect(),
            feedback: feedback
                .into_iter()
                .map(|(title, new_comments)| DigestFeedback {
                    title: title.to_owned(),
                    link: format!("https://blog.example/posts/{}", title.to_lowercase()),
                    new_comments,
                })
                .collect(),
        }
    }

    #[test]
    fn the_most_discussed_come_first() {
        let summary = render_digest(
            ChannelKind::Linkedin,
            &digest(vec![("Quiet", 1), ("Busy", 3)], 1),
        );
        assert_eq!(
            summary.text,
            "Gazette, 25 November 2026 00:00 UTC to 25 November 2026 12:00 UTC\n\n\
             New posts (1):\n• Post 0 https://blog.example/posts/post-0\n\n\
             Feedback (4 new comments):\n\
             • Busy: 3 new comments https://blog.example/posts/busy\n\
             • Quiet: 1 new comment https://blog.example/posts/quiet"
        );
        assert!(!summary.truncated);
    }

    #[test]
    fn long_digests_fit_their_channel() {
        let input = digest((0..40).map(|_| ("Topic", 2)).collect(), 40);
        let summary = render_digest(ChannelKind::Twitter, &input);
        assert!(summary.length <= 280, "{}", summary.length);
        assert!(summary.truncated);
        assert!(summary.text.contains("…and"), "{}", summary.text);
    }

    #[test]
    fn a_quiet_period_says_so() {
        let summary = render_digest(ChannelKind::Twitter, &digest(vec![], 0));
        assert!(
            summary.text.contains("no new posts or comments"),
            "{}",
            summary.text
        );
    }

    fn busy_day(posts: usize) -> DigestInput {
        let mut input = digest(vec![], 0);
        input.posts = (0..posts)
            .map(|n| DigestPost {
                title: format!("A short update on the service number {n}, see https://example.gov.au/news for details."),
                link: format!("https://blog.example/posts/update-{n}"),
            })
            .collect();
        input.feedback = (0..posts / 2)
            .map(|n| DigestFeedback {
                title: format!("Update {n}"),
                link: format!("https://blog.example/posts/update-{n}"),
                new_comments: i64::try_from(n % 7 + 1).unwrap_or(1),
            })
            .collect();
        input
    }

    /// Characters measured and measuring calls, per counting rule, for a digest of every kind.
    fn measuring(input: &DigestInput) -> (usize, usize, HashMap<(String, String), usize>) {
        let (mut characters, mut calls) = (0, 0);
        let mut repeats = HashMap::new();
        let mut counting_measure = |counting: Counting, text: &str| {
            characters += text.chars().count();
            calls += 1;
            *repeats
                .entry((format!("{counting:?}"), text.to_owned()))
                .or_insert(0) += 1;
            measure(counting, text)
        };
        let digests = render_digests_measured_by(&ChannelKind::ALL, input, &mut counting_measure);
        assert_eq!(digests.len(), ChannelKind::ALL.len());
        (characters, calls, repeats)
    }

    #[test]
    fn measuring_grows_with_the_posts_not_their_square() {
        let input = busy_day(100);
        let (characters_100, calls_100, repeats) = measuring(&input);
        // Every line at most once per counting rule: nothing is measured twice.
        let twice: Vec<_> = repeats.iter().filter(|(_, count)| **count > 1).collect();
        assert!(twice.is_empty(), "{twice:?}");
        let (characters_1000, calls_1000, _) = measuring(&busy_day(1_000));
        // Ten times the posts: at most ten times the work. In fact lines are measured only
        // as far as a text under the largest limit (5,000) reaches, so 1,000 posts cost
        // what 100 do, give or take the "…and N more" lines.
        assert!(
            calls_1000 <= 11 * calls_100,
            "{calls_100} then {calls_1000} calls"
        );
        assert!(
            calls_1000 <= calls_100 + 10,
            "{calls_100} then {calls_1000} calls"
        );
        assert!(
            characters_1000 <= characters_100 + 1_000,
            "{characters_100} then {characters_1000} characters"
        );
        // Ten channels, four counting rules, limits of at most 5,000 characters: the
        // lines measured add up to a few times the largest limit per rule.
        assert!(characters_1000 <= 4 * 2 * 5_000, "{characters_1000}");
    }

    /// The digest as first written: measure the whole text after every dropped line.
    fn reference(kind: ChannelKind, input: &DigestInput) -> Summary {
        let rules = rules(kind);
        let lines = Lines::new(input);
        let (mut shown_posts, mut shown_feedback) = (lines.posts.len(), lines.feedback.len());
        loop {
            let text = match &lines.quiet {
                Some(quiet) => quiet.clone(),
                None => lines.text(shown_posts, shown_feedback),
            };
            let length = measure(rules.counting, &text);
            let whole = shown_posts == lines.posts.len() && shown_feedback == lines.feedback.len();
            if length <= rules.limit || (shown_posts == 0 && shown_feedback == 0) {
                return Summary {
                    text,
                    length,
                    limit: rules.limit,
                    truncated: !whole,
                };
            }
            if shown_feedback >= shown_posts && shown_feedback > 0 {
                shown_feedback -= 1;
            } else {
                shown_posts -= 1;
            }
        }
    }

    fn title() -> impl Strategy<Value = String> {
        let word = prop_oneof![
            "[a-zA-Z]{1,12}",
            "[\u{4e00}-\u{9fff}]{1,6}",
            Just("👨‍👩‍👧‍👦".to_owned()),
            Just("e\u{301}".to_owned()),
            Just("\u{301}".to_owned()),
            Just("https://example.org/a/long/path?q=1".to_owned()),
            Just("example.com".to_owned()),
            Just("wp.me/p3jRFF-H".to_owned()),
            Just("http://127.0.0.1:8080/x".to_owned()),
            Just("☺\u{FE0E}".to_owned()),
            "\\PC{1,10}",
        ];
        let separator = prop_oneof![Just(""), Just(" "), Just("\n"), Just(", "), Just(".")];
        proptest::collection::vec((word, separator), 0..8).prop_map(|parts| {
            parts
                .into_iter()
                .map(|(word, separator)| format!("{word}{separator}"))
                .collect()
        })
    }

    fn input() -> impl Strategy<Value = DigestInput> {
        let posts = proptest::collection::vec(title(), 0..40);
        let feedback = proptest::collection::vec((title(), 1i64..30), 0..40);
        (title(), posts, feedback).prop_map(|(site, posts, feedback)| {
            let mut input = digest(vec![], 0);
            input.site = site;
            input.posts = posts
                .into_iter()
                .enumerate()
                .map(|(n, title)| DigestPost {
                    title,
                    link: format!("https://blog.example/posts/{n}"),
                })
                .collect();
            input.feedback = feedback
                .into_iter()
                .enumerate()
                .map(|(n, (title, new_comments))| DigestFeedback {
                    title,
                    link: format!("http://127.0.0.1:8080/posts/{n}"),
                    new_comments,
                })
                .collect();
            input
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Adding up measured lines gives what measuring the whole text gives, so the
        /// digest is the one the first, quadratic version chose.
        #[test]
        fn adding_up_lines_measures_the_whole_text(input in input()) {
            let digests = render_digests(&ChannelKind::ALL, &input);
            for (kind, digest) in ChannelKind::ALL.iter().zip(digests) {
                prop_assert_eq!(digest.length, measure(rules(*kind).counting, &digest.text));
                prop_assert_eq!(&digest, &reference(*kind, &input));
            }
        }
    }
}
