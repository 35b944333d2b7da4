//! Which feeds a run rebuilds: the ones the pending changes touch (migration 0006), or all
//! of them when the settings they are built with changed. A run with nothing changed costs
//! a few statements, however large the site; a post's comment feed is built when first
//! asked for (by the API) and kept current from then on. Building one feed is the domain's.

use gazette_domain::feeds::{self as domain_feeds, FEEDS, FeedSettings, FeedSpec, Subject};
use gazette_store::feeds;
use gazette_store::{PgPool, Reader, StoreError, meta, sources};

/// The `gazette_meta` key holding the settings the stored feeds were built with.
const BUILT_WITH: &str = "feeds_built_with";

/// What a run did.
#[derive(Debug, Default)]
pub struct Report {
    /// The keys of the feeds written (changed) or removed.
    pub changed: Vec<String>,
    pub feeds: usize,
    pub items: usize,
    /// Change rows handled.
    pub changes: i64,
    /// When the oldest of them was made (its transaction began): how far behind the feeds
    /// were.
    pub oldest_change: Option<chrono::DateTime<chrono::Utc>>,
    /// Whether every feed was rebuilt (new settings, or the first run).
    pub full: bool,
    /// Feeds that could not be rebuilt (each logged); their changes stay pending.
    pub failed: usize,
}

pub async fn regenerate(pool: &PgPool, settings: &FeedSettings) -> Result<Report, StoreError> {
    let mut claim = pool.begin().await?;
    let pending = feeds::claim_changes(&mut claim).await?;
    let fingerprint = settings.fingerprint();
    let full = meta::get(pool, BUILT_WITH).await?.as_deref() != Some(fingerprint.as_str());
    let mut report = Report {
        changes: pending.count,
        oldest_change: pending.oldest,
        full,
        ..Report::default()
    };
    if !full && pending.is_empty() {
        return Ok(report);
    }

    let mut specs: Vec<FeedSpec> = FEEDS.iter().filter_map(FeedSpec::for_site).collect();
    let only_tags = (!full).then_some((pending.tag_ids.as_slice(), pending.post_ids.as_slice()));
    for tag in sources::published_tags(pool, Reader::PUBLIC, only_tags).await? {
        specs.extend(FeedSpec::for_tag(&tag.slug, &tag.name));
    }
    let only_posts = (!full).then_some(pending.post_ids.as_slice());
    let comment_feeds = domain_feeds::slug_parts(Subject::PostComments);
    for post in
        sources::posts_with_comment_feeds(pool, Reader::PUBLIC, &comment_feeds, only_posts).await?
    {
        specs.extend(FeedSpec::for_post(&post));
    }
    // One feed failing (a statement timeout, a lock held too long) does not stop the others.
    for spec in &specs {
        match domain_feeds::rebuild(pool, settings, spec).await {
            Ok(rebuilt) => {
                report.feeds += 1;
                report.items += rebuilt.items;
                if rebuilt.changed {
                    report.changed.push(rebuilt.key);
                }
            }
            Err(error) => {
                report.failed += 1;
                tracing::error!(feed = %spec.key(), error = %gazette_store::display_chain(&error), "a feed could not be rebuilt; the others go on");
            }
        }
    }
    report
        .changed
        .extend(domain_feeds::remove_stale(pool).await?);
    if report.failed > 0 {
        // The claimed changes go back to pending, so the next run rebuilds what failed
        // (and, harmlessly, finds the others unchanged).
        claim.rollback().await?;
        return Ok(report);
    }
    if full {
        meta::set(&mut *claim, BUILT_WITH, &fingerprint).await?;
    }
    claim.commit().await?;
    Ok(report)
}
