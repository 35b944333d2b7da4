//! A channel's digest: what happened since the previous one — the posts published and the
//! feedback they received, most discussed first — fitted to the channel.

use chrono::{DateTime, Utc};

use super::measure::measure;
use super::rules::{ChannelKind, rules};
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
    let rules = rules(kind);
    let mut feedback = input.feedback.clone();
    feedback.sort_by(|a, b| {
        b.new_comments
            .cmp(&a.new_comments)
            .then_with(|| a.title.cmp(&b.title))
    });
    let mut shown_posts = input.posts.len();
    let mut shown_feedback = feedback.len();
    loop {
        let text = digest_text(input, &feedback, shown_posts, shown_feedback);
        let length = measure(rules.counting, &text);
        let whole = shown_posts == input.posts.len() && shown_feedback == feedback.len();
        if length <= rules.limit || (shown_posts == 0 && shown_feedback == 0) {
            return Summary {
                text,
                length,
                limit: rules.limit,
                truncated: !whole,
            };
        }
        // Drop from the longer list first; feedback goes before posts when equal.
        if shown_feedback >= shown_posts && shown_feedback > 0 {
            shown_feedback -= 1;
        } else {
            shown_posts -= 1;
        }
    }
}

fn digest_text(
    input: &DigestInput,
    feedback: &[DigestFeedback],
    shown_posts: usize,
    shown_feedback: usize,
) -> String {
    let period = format!(
        "{} to {}",
        input.period_start.format("%-d %B %Y %H:%M UTC"),
        input.period_end.format("%-d %B %Y %H:%M UTC")
    );
    if input.posts.is_empty() && feedback.is_empty() {
        return format!("{}: no new posts or comments from {period}.", input.site);
    }
    let mut lines = vec![format!("{}, {period}", input.site)];
    if !input.posts.is_empty() {
        lines.push(String::new());
        lines.push(format!("New posts ({}):", input.posts.len()));
        for post in &input.posts[..shown_posts] {
            lines.push(format!("• {} {}", post.title, post.link));
        }
        more(&mut lines, input.posts.len() - shown_posts);
    }
    if !feedback.is_empty() {
        let total: i64 = feedback.iter().map(|item| item.new_comments).sum();
        lines.push(String::new());
        lines.push(format!("Feedback ({total} new {}):", plural(total)));
        for item in &feedback[..shown_feedback] {
            lines.push(format!(
                "• {}: {} new {} {}",
                item.title,
                item.new_comments,
                plural(item.new_comments),
                item.link
            ));
        }
        more(&mut lines, feedback.len() - shown_feedback);
    }
    lines.join("\n")
}

fn more(lines: &mut Vec<String>, hidden: usize) {
    if hidden > 0 {
        lines.push(format!("…and {hidden} more"));
    }
}

fn plural(count: i64) -> &'static str {
    if count == 1 { "comment" } else { "comments" }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

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
}
