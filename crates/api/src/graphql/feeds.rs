//! The generated feeds, as the schema lists them.

use async_graphql::{Context, Enum, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use gazette_domain::feeds::Format;
use gazette_store::feeds;

use super::connection::{MAX_PAGE_SIZE, list_size};
use super::context::RequestContext;
use super::errors::ApiError;

// The domain's feed `Format` as the schema shows it (the derive's conversions fail to
// compile if the two lists differ).
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(remote = "gazette_domain::feeds::Format")]
pub enum FeedFormat {
    Rss,
    Atom,
    /// JSON Feed 1.1.
    #[graphql(name = "JSON_FEED")]
    Json,
}

/// A feed the worker generated and the API serves.
#[derive(SimpleObject)]
pub struct Feed {
    /// Where readers subscribe: an absolute URL.
    pub url: String,
    pub format: FeedFormat,
    /// What the feed is served as, e.g. `application/rss+xml; charset=utf-8`.
    pub media_type: String,
    /// Items (posts or comments) in the feed.
    pub item_count: i32,
    /// When its content last changed.
    pub generated_at: DateTime<Utc>,
}

#[derive(Default)]
pub struct FeedQuery;

#[Object]
impl FeedQuery {
    /// The feeds built so far: the site's posts and comments (RSS, Atom and JSON Feed), each
    /// tag's posts, and the comments of each post whose feed has been asked for; by URL,
    /// `first` of them (100 when not given, at most 100), after the feed whose URL is
    /// `after`. Only feeds: a channel's ready-to-post texts are `Channel.syndicationUrls`.
    async fn feeds(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Vec<Feed>> {
        let request = RequestContext::of(ctx)?;
        let limit = list_size(first, MAX_PAGE_SIZE)?;
        let site_root = request.config.site.url("");
        let after_key = match &after {
            None => None,
            Some(url) => Some(url.strip_prefix(&site_root).ok_or_else(|| {
                ApiError::bad_input(
                    "after",
                    "`after` is the `url` of a feed this list returned.",
                )
            })?),
        };
        request.reads_generated_texts();
        let stored = feeds::list(&request.pool, after_key, i64::try_from(limit).unwrap_or(0))
            .await
            .map_err(ApiError::from)?;
        Ok(stored
            .into_iter()
            .map(|feed| Feed {
                url: request.config.site.url(&feed.key),
                // Every stored feed was written with a format's media type.
                format: Format::of_media_type(&feed.content_type)
                    .unwrap_or(Format::Rss)
                    .into(),
                media_type: feed.content_type,
                item_count: feed.item_count,
                generated_at: feed.generated_at,
            })
            .collect())
    }
}
