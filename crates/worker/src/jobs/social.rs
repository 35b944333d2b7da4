//! Social-channel texts: for every enabled channel, a summary of each of the latest posts
//! and a digest of the current period, stored for GraphQL and published as
//! `/syndication/{channel}.json` and `.txt` (through the feed store, so they get the feeds'
//! conditional GET and in-memory serving).

use chrono::{DateTime, TimeDelta, Utc};
use gazette_store::channels::{self, Channel};
use gazette_store::feeds::{self, FeedPost};
use gazette_store::summaries::{self, NewDigest, NewSummary, PeriodFeedback, PeriodPost};
use gazette_store::{PgPool, SiteConfig, StoreError};
use gazette_syndication::social::{
    ChannelKind, DigestFeedback, DigestInput, DigestPost, Summary, SummaryInput, Template,
    render_digest, summarize,
};
use serde_json::json;

use crate::scheduler::WorkerConfig;

pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";
pub const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    pub summaries_changed: usize,
    /// Keys of the published documents written.
    pub changed: Vec<String>,
}

pub async fn regenerate(
    pool: &PgPool,
    config: &WorkerConfig,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let mut report = Report::default();
    // One transaction, one worker at a time: two workers' runs cannot interleave their
    // stores and removals, and a run that fails or dies leaves the texts as they were.
    let mut tx = pool.begin().await?;
    summaries::lock_regeneration(&mut tx).await?;
    summaries::remove_disabled(&mut *tx).await?;
    let posts = feeds::latest_posts(&mut *tx, None, i64::from(config.summary_posts)).await?;
    let post_ids: Vec<i64> = posts.iter().map(|post| post.id).collect();
    let (period_start, period_end) = period(now, config.digest_period);
    let period_posts =
        summaries::posts_published_between(&mut *tx, period_start, period_end).await?;
    let feedback = summaries::feedback_between(&mut *tx, period_start, period_end).await?;

    for channel in channels::enabled(&mut *tx).await? {
        let kind = ChannelKind::from_name(channel.kind.as_str());
        // Templates are checked when saved; an unreadable one falls back to the default.
        let template = channel
            .template
            .as_deref()
            .and_then(|source| Template::parse(source).ok());
        let mut written = Vec::new();
        for post in &posts {
            let summary = summarize(
                kind,
                template.as_ref(),
                &summary_input(&config.feeds.site, post),
            );
            let changed = summaries::store(
                &mut *tx,
                &NewSummary {
                    channel_id: channel.id,
                    post_id: post.id,
                    text: &summary.text,
                    length: count(summary.length),
                    char_limit: count(summary.limit),
                    truncated: summary.truncated,
                },
            )
            .await?;
            report.summaries_changed += usize::from(changed);
            written.push((post, summary));
        }
        summaries::remove_others(&mut *tx, channel.id, &post_ids).await?;

        let digest = render_digest(
            kind,
            &digest_input(
                &config.feeds.site,
                period_start,
                period_end,
                &period_posts,
                &feedback,
            ),
        );
        let details = json!({
            "posts": period_posts.iter().map(|post| post.id).collect::<Vec<_>>(),
            "feedback": feedback.iter().map(|item| [item.id, item.new_comments]).collect::<Vec<_>>(),
        })
        .to_string();
        summaries::store_digest(
            &mut *tx,
            &NewDigest {
                channel_id: channel.id,
                period_start,
                period_end,
                text: &digest.text,
                details: &details,
                length: count(digest.length),
                char_limit: count(digest.limit),
                truncated: digest.truncated,
            },
        )
        .await?;

        for (key, content_type, body) in documents(
            &config.feeds.site,
            &channel,
            &written,
            &digest,
            period_start,
            period_end,
        ) {
            feeds::lock(&mut tx, &key).await?;
            let changed =
                feeds::store_if_changed(&mut *tx, &key, content_type, &body, count(written.len()))
                    .await?;
            if changed {
                report.changed.push(key);
            }
        }
    }
    tx.commit().await?;
    Ok(report)
}

fn count(value: usize) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// The digest period containing `now`: periods are aligned on the Unix epoch (so daily
/// ones run midnight to midnight UTC).
pub fn period(now: DateTime<Utc>, length: TimeDelta) -> (DateTime<Utc>, DateTime<Utc>) {
    let seconds = length.num_seconds().max(60);
    let start = now.timestamp().div_euclid(seconds) * seconds;
    let start = DateTime::from_timestamp(start, 0).unwrap_or(now);
    (start, start + TimeDelta::seconds(seconds))
}

/// A post as a summary sees it: plain text, without Markdown or HTML.
pub fn summary_input(site: &SiteConfig, post: &FeedPost) -> SummaryInput {
    SummaryInput {
        // Titles are plain text everywhere: verbatim (the summary only shortens them).
        title: post.title.clone(),
        excerpt: gazette_content::plain_text(&post.excerpt),
        link: site.post_url(&post.slug),
        tags: post.tags.clone(),
        author: post.author_name.clone(),
        date: post.published_at.date_naive(),
    }
}

fn digest_input(
    site: &SiteConfig,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
    posts: &[PeriodPost],
    feedback: &[PeriodFeedback],
) -> DigestInput {
    DigestInput {
        site: site.title.clone(),
        period_start,
        period_end,
        posts: posts
            .iter()
            .map(|post| DigestPost {
                title: post.title.clone(),
                link: site.post_url(&post.slug),
            })
            .collect(),
        feedback: feedback
            .iter()
            .map(|item| DigestFeedback {
                title: item.title.clone(),
                link: site.post_url(&item.slug),
                new_comments: item.new_comments,
            })
            .collect(),
    }
}

/// The channel's published documents: JSON for programs, plain text for copy and paste.
fn documents(
    site: &SiteConfig,
    channel: &Channel,
    written: &[(&FeedPost, Summary)],
    digest: &Summary,
    period_start: DateTime<Utc>,
    period_end: DateTime<Utc>,
) -> [(String, &'static str, String); 2] {
    let summary_json = |(post, summary): &(&FeedPost, Summary)| {
        json!({
            "post": { "slug": post.slug, "title": post.title, "url": site.post_url(&post.slug) },
            "text": summary.text,
            "length": summary.length,
            "limit": summary.limit,
            "truncated": summary.truncated,
        })
    };
    let document = json!({
        "channel": {
            "slug": channel.slug,
            "kind": channel.kind.as_str().to_uppercase(),
            "name": channel.name,
            "url": channel.url,
        },
        "summaries": written.iter().map(summary_json).collect::<Vec<_>>(),
        "digest": {
            "periodStart": period_start.to_rfc3339(),
            "periodEnd": period_end.to_rfc3339(),
            "text": digest.text,
            "length": digest.length,
            "limit": digest.limit,
            "truncated": digest.truncated,
        },
    });
    let mut text = format!("{} ({})\n", channel.name, channel.url);
    for (post, summary) in written {
        text.push_str(&format!(
            "\n--- {} ({} of {})\n{}\n",
            post.title, summary.length, summary.limit, summary.text
        ));
    }
    text.push_str(&format!("\n--- Digest\n{}\n", digest.text));
    let pretty = serde_json::to_string_pretty(&document).unwrap_or_else(|_| document.to_string());
    [
        (
            format!("syndication/{}.json", channel.slug),
            JSON_CONTENT_TYPE,
            pretty + "\n",
        ),
        (
            format!("syndication/{}.txt", channel.slug),
            TEXT_CONTENT_TYPE,
            text,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn daily_periods_run_midnight_to_midnight() {
        let now = Utc
            .with_ymd_and_hms(2026, 11, 25, 19, 30, 0)
            .single()
            .expect("date");
        let (start, end) = period(now, TimeDelta::days(1));
        assert_eq!(start.to_rfc3339(), "2026-11-25T00:00:00+00:00");
        assert_eq!(end.to_rfc3339(), "2026-11-26T00:00:00+00:00");
        let (start, _) = period(now, TimeDelta::hours(6));
        assert_eq!(start.to_rfc3339(), "2026-11-25T18:00:00+00:00");
    }
}
