//! Social-channel texts: for every enabled channel, a summary of each of the latest posts
//! and a digest of the current period, stored for GraphQL and published as
//! `/syndication/{channel}.json` and `.txt` (through the feed store, so they get the feeds'
//! conditional GET and in-memory serving).
//!
//! A run costs what changed. With no change recorded (migration 0013), the same settings
//! and the same digest period, it stops after a few statements. Otherwise every text's
//! input is hashed and compared with the hash of what the stored text was made of: only
//! texts whose input differs are rendered (all at once, off the async runtime).

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};
use gazette_domain::offload;
use gazette_store::channels::Channel;
use gazette_store::sources::{self, FeedPost, PeriodFeedback, PeriodPost};
use gazette_store::summaries::{self, NewDigest, NewSummary, StoredText};
use gazette_store::{PgPool, Reader, SiteConfig, StoreError, feeds, meta};

/// The texts are public: they are made of what anyone may see.
const PUBLIC: Reader = Reader::PUBLIC;
use gazette_syndication::social::{
    ChannelKind, DigestFeedback, DigestInput, DigestPost, Summary, SummaryInput, Template,
    render_digests, summarize,
};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::scheduler::WorkerConfig;

pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";
pub const TEXT_CONTENT_TYPE: &str = "text/plain; charset=utf-8";

/// The `gazette_meta` key holding the settings and digest period the texts were last
/// brought up to date with.
const BUILT_WITH: &str = "channel_texts_built_with";

/// Changed whenever the same input would render differently (the renderers changed), so
/// every stored text is rendered again once.
const TEXTS_VERSION: u32 = 2;

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Change rows handled.
    pub changes: i64,
    /// Whether the run looked at the texts at all (something changed, or the settings or
    /// the digest period did).
    pub looked: bool,
    pub summaries_rendered: usize,
    pub digests_rendered: usize,
    /// Summaries whose text changed.
    pub summaries_changed: usize,
    /// Keys of the published documents written.
    pub changed: Vec<String>,
}

pub async fn regenerate(
    pool: &PgPool,
    config: &WorkerConfig,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let (period_start, period_end) = period(now, config.digest_period);
    let settings = settings_fingerprint(config);
    let built_with = format!("{settings}@{}", period_start.to_rfc3339());
    // One transaction, one worker at a time: two workers' runs cannot interleave their
    // stores and removals, and a run that fails or dies leaves the texts (and the changes
    // it claimed) as they were.
    let mut tx = pool.begin().await?;
    summaries::lock_regeneration(&mut tx).await?;
    let mut report = Report {
        changes: summaries::claim_changes(&mut tx).await?,
        ..Report::default()
    };
    let up_to_date = meta::get(&mut *tx, BUILT_WITH).await?.as_deref() == Some(&built_with);
    if report.changes == 0 && up_to_date {
        return Ok(report);
    }
    report.looked = true;

    summaries::remove_disabled(&mut *tx).await?;
    let channels = gazette_domain::channels::enabled_for_rendering(&mut *tx).await?;
    let posts =
        sources::latest_posts(&mut *tx, PUBLIC, None, i64::from(config.summary_posts)).await?;
    let period_posts =
        sources::posts_published_between(&mut *tx, PUBLIC, period_start, period_end).await?;
    let feedback = sources::feedback_between(&mut *tx, PUBLIC, period_start, period_end).await?;
    let stored = Stored::new(summaries::stored_texts(&mut *tx, period_start).await?);

    // Which texts must be rendered: those whose input is not what the stored text was
    // made of.
    let site = &config.feeds.site;
    let summary_inputs: Vec<SummaryInput> =
        posts.iter().map(|post| summary_input(site, post)).collect();
    let digest_input = digest_input(site, period_start, period_end, &period_posts, &feedback);
    let details = json!({
        "posts": period_posts.iter().map(|post| post.id).collect::<Vec<_>>(),
        "feedback": feedback.iter().map(|item| [item.id, item.new_comments]).collect::<Vec<_>>(),
    })
    .to_string();
    let digest_hash = digest_input_hash(&digest_input, &details);
    let mut plan = Plan::default();
    for channel in &channels {
        for (post, input) in posts.iter().zip(&summary_inputs) {
            let hash = summary_input_hash(channel, input);
            if stored
                .summary(channel.id, post.id)
                .and_then(|text| text.input_hash.as_deref())
                != Some(hash.as_str())
            {
                plan.summaries.push(SummaryJob {
                    channel_id: channel.id,
                    post_id: post.id,
                    kind: channel.kind,
                    template: channel.template.clone(),
                    input: input.clone(),
                    hash,
                });
            }
        }
        let hash = InputHash::new()
            .part(&digest_hash)
            .part(channel.kind.as_str())
            .finish();
        if stored
            .digest(channel.id)
            .and_then(|text| text.input_hash.as_deref())
            != Some(hash.as_str())
        {
            plan.digests.push((channel.id, channel.kind, hash));
        }
    }
    report.summaries_rendered = plan.summaries.len();
    report.digests_rendered = plan.digests.len();
    let rendered = if plan.is_empty() {
        Rendered::default()
    } else {
        let before_render = config.before_render.clone();
        offload::render(move || {
            before_render.call();
            plan.render(&digest_input)
        })
        .await
    };

    let mut fresh: HashMap<(i64, Option<i64>), Summary> = HashMap::new();
    for (job, summary) in rendered.summaries {
        let changed = summaries::store(
            &mut *tx,
            &NewSummary {
                channel_id: job.channel_id,
                post_id: job.post_id,
                text: &summary.text,
                length: count(summary.length),
                char_limit: count(summary.limit),
                truncated: summary.truncated,
                input_hash: &job.hash,
            },
        )
        .await?;
        report.summaries_changed += usize::from(changed);
        fresh.insert((job.channel_id, Some(job.post_id)), summary);
    }
    for ((channel_id, hash), digest) in rendered.digests {
        summaries::store_digest(
            &mut *tx,
            &NewDigest {
                channel_id,
                period_start,
                period_end,
                text: &digest.text,
                details: &details,
                length: count(digest.length),
                char_limit: count(digest.limit),
                truncated: digest.truncated,
                input_hash: &hash,
            },
        )
        .await?;
        fresh.insert((channel_id, None), digest);
    }

    // The published documents, from the texts as they now stand (written by the feed store
    // only when they changed).
    let post_ids: Vec<i64> = posts.iter().map(|post| post.id).collect();
    for channel in &channels {
        summaries::remove_others(&mut *tx, channel.id, &post_ids).await?;
        let text_of = |post_id: Option<i64>| {
            fresh.get(&(channel.id, post_id)).cloned().or_else(|| {
                let stored = match post_id {
                    Some(post_id) => stored.summary(channel.id, post_id),
                    None => stored.digest(channel.id),
                };
                stored.map(stored_summary)
            })
        };
        let written: Vec<(&FeedPost, Summary)> = posts
            .iter()
            .filter_map(|post| text_of(Some(post.id)).map(|summary| (post, summary)))
            .collect();
        let Some(digest) = text_of(None) else {
            continue;
        };
        for (key, content_type, body) in
            documents(site, channel, &written, &digest, period_start, period_end)
        {
            feeds::lock(&mut tx, &key).await?;
            let changed =
                feeds::store_if_changed(&mut *tx, &key, content_type, &body, count(written.len()))
                    .await?;
            if changed {
                report.changed.push(key);
            }
        }
    }
    report
        .changed
        .extend(feeds::remove_stale_channel_documents(&mut *tx).await?);
    if !up_to_date {
        meta::set(&mut *tx, BUILT_WITH, &built_with).await?;
    }
    tx.commit().await?;
    Ok(report)
}

/// The stored texts by channel and post (`None`: the digest).
struct Stored(HashMap<(i64, Option<i64>), StoredText>);

impl Stored {
    fn new(texts: Vec<StoredText>) -> Self {
        Self(
            texts
                .into_iter()
                .map(|text| ((text.channel_id, text.post_id), text))
                .collect(),
        )
    }

    fn summary(&self, channel_id: i64, post_id: i64) -> Option<&StoredText> {
        self.0.get(&(channel_id, Some(post_id)))
    }

    fn digest(&self, channel_id: i64) -> Option<&StoredText> {
        self.0.get(&(channel_id, None))
    }
}

fn stored_summary(text: &StoredText) -> Summary {
    Summary {
        text: text.text.clone(),
        length: usize::try_from(text.length).unwrap_or_default(),
        limit: usize::try_from(text.char_limit).unwrap_or_default(),
        truncated: text.truncated,
    }
}

/// A summary to render.
struct SummaryJob {
    channel_id: i64,
    post_id: i64,
    kind: ChannelKind,
    template: Option<String>,
    input: SummaryInput,
    hash: String,
}

/// The texts a run renders.
#[derive(Default)]
struct Plan {
    summaries: Vec<SummaryJob>,
    /// Channel, its kind, and the digest's input hash.
    digests: Vec<(i64, ChannelKind, String)>,
}

#[derive(Default)]
struct Rendered {
    summaries: Vec<(SummaryJob, Summary)>,
    digests: Vec<((i64, String), Summary)>,
}

impl Plan {
    fn is_empty(&self) -> bool {
        self.summaries.is_empty() && self.digests.is_empty()
    }

    /// The CPU-heavy part of a run: measuring and fitting texts.
    fn render(self, digest_input: &DigestInput) -> Rendered {
        let summaries = self
            .summaries
            .into_iter()
            .map(|job| {
                // Templates are checked when saved; an unreadable one falls back to the
                // default.
                let template = job
                    .template
                    .as_deref()
                    .and_then(|source| Template::parse(source).ok());
                let summary = summarize(job.kind, template.as_ref(), &job.input);
                (job, summary)
            })
            .collect();
        let kinds: Vec<ChannelKind> = self.digests.iter().map(|(_, kind, _)| *kind).collect();
        let digests = self
            .digests
            .into_iter()
            .map(|(channel_id, _, hash)| (channel_id, hash))
            .zip(render_digests(&kinds, digest_input))
            .collect();
        Rendered { summaries, digests }
    }
}

/// A hash of the parts a text is made of. Each part goes in with its length, so no two
/// different lists of parts run together into the same bytes.
struct InputHash(Sha256);

impl InputHash {
    fn new() -> Self {
        Self(Sha256::new())
    }

    fn part(mut self, part: &str) -> Self {
        self.0
            .update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_le_bytes());
        self.0.update(part.as_bytes());
        self
    }

    fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// The settings the texts are made with: when they change, every text's input is checked
/// again (and the texts whose input they changed are rendered).
fn settings_fingerprint(config: &WorkerConfig) -> String {
    let site = &config.feeds.site;
    InputHash::new()
        .part(&TEXTS_VERSION.to_string())
        .part(&site.public_url)
        .part(&site.title)
        .part(&config.summary_posts.to_string())
        .part(&config.digest_period.num_seconds().to_string())
        .finish()
}

fn summary_input_hash(channel: &Channel, input: &SummaryInput) -> String {
    let mut hash = InputHash::new()
        .part(&TEXTS_VERSION.to_string())
        .part(channel.kind.as_str())
        // No template (the kind's default) is not an empty one (an empty text).
        .part(if channel.template.is_some() {
            "template"
        } else {
            "default"
        })
        .part(channel.template.as_deref().unwrap_or(""))
        .part(&input.title)
        .part(&input.excerpt)
        .part(&input.link)
        .part(&input.author)
        .part(&input.date.to_string())
        .part(&input.tags.len().to_string());
    for tag in &input.tags {
        hash = hash.part(tag);
    }
    hash.finish()
}

/// The part of a digest's input hash every channel shares (the kind is added per channel).
/// `details` (the ids of the period's posts and their new comments) is stored with the
/// digest, so it counts too.
fn digest_input_hash(input: &DigestInput, details: &str) -> String {
    let mut hash = InputHash::new()
        .part(&TEXTS_VERSION.to_string())
        .part(details)
        .part(&input.site)
        .part(&input.period_start.to_rfc3339())
        .part(&input.period_end.to_rfc3339())
        .part(&input.posts.len().to_string());
    for post in &input.posts {
        hash = hash.part(&post.title).part(&post.link);
    }
    for item in &input.feedback {
        hash = hash
            .part(&item.title)
            .part(&item.link)
            .part(&item.new_comments.to_string());
    }
    hash.finish()
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
