//! Social channels in the schema: the channels themselves (admins manage them), the
//! summaries and digests the worker writes for them, and a preview for editors.

use std::collections::HashMap;

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use gazette_domain::channels::{self as domain_channels, ChannelEdit, ChannelRequest};
use gazette_store::StoreError;
use gazette_store::channels::{self, Channel};
use gazette_store::posts::Post;
use gazette_store::summaries::{self, StoredDigest, StoredSummary, WrittenText};
use gazette_syndication::social::{self, ChannelKind};

use super::connection::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, list_size};
use super::context::RequestContext;
use super::errors::ApiError;
use super::ids::{GlobalId, Lookup, NodeKind};
use super::loaders::LoadOne;
use super::objects::PostNode;

/// A place where the organisation announces its posts.
pub struct ChannelNode(pub Channel);

#[Object(name = "Channel")]
impl ChannelNode {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Channel, self.0.id).to_id()
    }

    /// The channel's name in URLs: `/syndication/{slug}.json`.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    async fn kind(&self) -> ChannelKind {
        self.0.kind
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The organisation's page on the channel.
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// Whether summaries are written for it (only admins see disabled channels).
    async fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// The summary template; null for the kind's default (and for viewers who are not
    /// admins: templates are settings).
    async fn template(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        let request = RequestContext::of(ctx)?;
        Ok(self
            .0
            .template
            .as_deref()
            .map(|template| request.charge(template))
            .transpose()?)
    }

    /// The most a text may measure on this channel.
    async fn limit(&self) -> usize {
        social::rules(self.0.kind).limit
    }

    /// The ready-to-post summaries, as JSON and as plain text.
    async fn syndication_urls(&self, ctx: &Context<'_>) -> Result<Vec<String>> {
        let request = RequestContext::of(ctx)?;
        let site = &request.config.site;
        Ok(vec![
            site.url(&format!("syndication/{}.json", self.0.slug)),
            site.url(&format!("syndication/{}.txt", self.0.slug)),
        ])
    }
}

/// A ready-to-post text for one channel and one post.
pub struct SocialSummary(StoredSummary);

#[Object]
impl SocialSummary {
    async fn channel(&self, ctx: &Context<'_>) -> Result<ChannelNode> {
        Ok(load_channel(ctx, self.0.channel_id).await?)
    }

    async fn post(&self, ctx: &Context<'_>) -> Result<PostNode> {
        Ok(load_post(ctx, self.0.post_id).await?)
    }

    #[graphql(flatten)]
    async fn written(&self) -> ChannelText<'_> {
        ChannelText(&self.0.written)
    }
}

/// What a summary and a digest both show of the text written for their channel.
struct ChannelText<'a>(&'a WrittenText);

#[Object]
impl ChannelText<'_> {
    /// The text for the channel.
    async fn text(&self, ctx: &Context<'_>) -> Result<&str> {
        Ok(RequestContext::of(ctx)?.charge(&self.0.text)?)
    }

    /// The text's length under the channel's own counting rule.
    async fn length(&self) -> i32 {
        self.0.length
    }

    async fn limit(&self) -> i32 {
        self.0.char_limit
    }

    /// Whether something was shortened or left out to fit.
    async fn truncated(&self) -> bool {
        self.0.truncated
    }

    async fn generated_at(&self) -> DateTime<Utc> {
        self.0.generated_at
    }
}

/// New comments a post received in a digest's period.
pub struct DigestFeedback {
    post: Post,
    new_comments: i64,
}

#[Object]
impl DigestFeedback {
    async fn post(&self) -> PostNode {
        PostNode(self.post.clone())
    }

    async fn new_comments(&self) -> i64 {
        self.new_comments
    }
}

/// What happened in a period, for a channel: posts published and the feedback received.
pub struct ChannelDigest(StoredDigest);

#[derive(serde::Deserialize)]
struct DigestDetails {
    posts: Vec<i64>,
    feedback: Vec<(i64, i64)>,
}

impl ChannelDigest {
    fn details(&self) -> Result<DigestDetails, ApiError> {
        serde_json::from_str(&self.0.details).map_err(ApiError::internal)
    }
}

/// The posts of `ids` the viewer may read, in the order of `ids`.
async fn visible_posts(ctx: &Context<'_>, ids: &[i64]) -> Result<Vec<Post>, ApiError> {
    let request = RequestContext::of(ctx)?;
    let mut found = request
        .loaders
        .posts
        .load_many(ids.iter().copied())
        .await
        .map_err(super::loaders::loader_error)?;
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

#[Object]
impl ChannelDigest {
    async fn channel(&self, ctx: &Context<'_>) -> Result<ChannelNode> {
        Ok(load_channel(ctx, self.0.channel_id).await?)
    }

    async fn period_start(&self) -> DateTime<Utc> {
        self.0.period_start
    }

    async fn period_end(&self) -> DateTime<Utc> {
        self.0.period_end
    }

    /// Posts published in the period, newest first (those the viewer may still read): the
    /// `first` of them (20 when not given, at most 100).
    async fn published_posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> Result<Vec<PostNode>> {
        let size = list_size(first, DEFAULT_PAGE_SIZE)?;
        let mut ids = self.details()?.posts;
        ids.truncate(size);
        let posts = visible_posts(ctx, &ids).await?;
        Ok(posts.into_iter().map(PostNode).collect())
    }

    /// New published comments per post, most discussed first (on posts the viewer may
    /// still read): the `first` posts (20 when not given, at most 100).
    async fn feedback(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<DigestFeedback>> {
        let size = list_size(first, DEFAULT_PAGE_SIZE)?;
        let mut details = self.details()?;
        details.feedback.truncate(size);
        let ids: Vec<i64> = details
            .feedback
            .iter()
            .map(|(post_id, _)| *post_id)
            .collect();
        let mut posts: HashMap<i64, Post> = visible_posts(ctx, &ids)
            .await?
            .into_iter()
            .map(|post| (post.id, post))
            .collect();
        Ok(details
            .feedback
            .into_iter()
            .filter_map(|(post_id, new_comments)| {
                posts
                    .remove(&post_id)
                    .map(|post| DigestFeedback { post, new_comments })
            })
            .collect())
    }

    #[graphql(flatten)]
    async fn written(&self) -> ChannelText<'_> {
        ChannelText(&self.0.written)
    }
}

/// A summary as it would be written, not stored.
#[derive(SimpleObject)]
pub struct SummaryPreview {
    pub text: String,
    /// Under the channel's own counting rule.
    pub length: usize,
    pub limit: usize,
    pub truncated: bool,
}

/// A summary's or digest's channel (enabled, since the worker writes only for those).
async fn load_channel(ctx: &Context<'_>, id: i64) -> Result<ChannelNode, ApiError> {
    let request = RequestContext::of(ctx)?;
    request
        .loaders
        .channels
        .one(id)
        .await?
        .map(ChannelNode)
        .ok_or_else(|| ApiError::not_found("The channel is not visible to you."))
}

/// A summary's post, as the viewer may read it (summaries are listed only for those).
async fn load_post(ctx: &Context<'_>, id: i64) -> Result<PostNode, ApiError> {
    let request = RequestContext::of(ctx)?;
    request
        .loaders
        .posts
        .one(id)
        .await?
        .map(PostNode)
        .ok_or_else(|| ApiError::not_found("The summary's post is not visible to you."))
}

#[derive(Default)]
pub struct ChannelQuery;

#[Object]
impl ChannelQuery {
    /// The channels, in display order: the enabled ones (admins see disabled ones too). At
    /// most 50.
    async fn channels(&self, ctx: &Context<'_>) -> Result<Vec<ChannelNode>> {
        let request = RequestContext::of(ctx)?;
        let channels = channels::list(&request.pool, request.reader())
            .await
            .map_err(ApiError::from)?;
        Ok(channels.into_iter().map(ChannelNode).collect())
    }

    /// A channel by its global `id` or its `slug` (give one); null when there is none (or
    /// it is disabled and the viewer is not an admin).
    async fn channel(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        slug: Option<String>,
    ) -> Result<Option<ChannelNode>> {
        let request = RequestContext::of(ctx)?;
        let channel = Lookup::find(
            (id, slug, NodeKind::Channel),
            async |id| {
                let mut found =
                    channels::find_by_ids(&request.pool, &[id], request.reader()).await?;
                Ok::<_, StoreError>(found.remove(&id))
            },
            async |slug| channels::find_by_slug(&request.pool, &slug, request.reader()).await,
        )
        .await?;
        Ok(channel.map(ChannelNode))
    }

    /// The summaries of enabled channels for the latest published posts, of one channel
    /// and/or one post when given; newest posts first, the `first` of them (100 when not
    /// given, at most 100).
    async fn social_summaries(
        &self,
        ctx: &Context<'_>,
        channel: Option<ID>,
        post: Option<ID>,
        first: Option<i32>,
    ) -> Result<Vec<SocialSummary>> {
        let request = RequestContext::of(ctx)?;
        let limit = i64::try_from(list_size(first, MAX_PAGE_SIZE)?).unwrap_or(0);
        let channel = channel
            .as_deref()
            .map(|id| GlobalId::decode(id, NodeKind::Channel, "channel"))
            .transpose()?;
        let post = post
            .as_deref()
            .map(|id| GlobalId::decode(id, NodeKind::Post, "post"))
            .transpose()?;
        request.reads_generated_texts();
        let stored = summaries::list(&request.pool, channel, post, request.reader(), limit)
            .await
            .map_err(ApiError::from)?;
        Ok(stored.into_iter().map(SocialSummary).collect())
    }

    /// The channel's digest of the current period; null before the worker wrote one (or
    /// when the channel is disabled).
    async fn channel_digest(
        &self,
        ctx: &Context<'_>,
        channel: Option<ID>,
    ) -> Result<Option<ChannelDigest>> {
        let request = RequestContext::of(ctx)?;
        let Some(channel) = channel else {
            return Err(ApiError::bad_input(
                "channel",
                "Give the `channel` whose digest you want.",
            )
            .into());
        };
        let channel = GlobalId::decode(&channel, NodeKind::Channel, "channel")?;
        request.reads_generated_texts();
        let digest = summaries::latest_digest(&request.pool, channel)
            .await
            .map_err(ApiError::from)?;
        Ok(digest.map(ChannelDigest))
    }

    /// The summary a channel would get for a post, with `template` if given (or the
    /// channel's own, or its kind's default): for trying a template before saving it.
    /// Needs a token: rendering and measuring a text is work an editor asks for.
    async fn preview_social_summary(
        &self,
        ctx: &Context<'_>,
        post: ID,
        channel: ID,
        template: Option<String>,
    ) -> Result<SummaryPreview> {
        let request = RequestContext::of(ctx)?;
        request.require_token()?;
        let post_id = GlobalId::decode(&post, NodeKind::Post, "post")?;
        let channel_id = GlobalId::decode(&channel, NodeKind::Channel, "channel")?;
        let post = request
            .loaders
            .posts
            .one_or(post_id, || {
                ApiError::not_found("There is no post with this id.")
            })
            .await?;
        let tags = request
            .loaders
            .post_tags
            .one(post.id)
            .await?
            .unwrap_or_default();
        let author = request
            .loaders
            .authors
            .one(post.author_id)
            .await?
            .map(|author| author.name)
            .unwrap_or_default();
        let input = domain_channels::summary_input(
            &post,
            request.config.site.post_url(&post.slug),
            tags.into_iter().map(|tag| tag.name).collect(),
            author,
        );
        let summary = domain_channels::preview_summary(
            &request.pool,
            &request.viewer,
            channel_id,
            template,
            input,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(SummaryPreview {
            text: summary.text,
            length: summary.length,
            limit: summary.limit,
            truncated: summary.truncated,
        })
    }
}

#[derive(InputObject)]
pub struct CreateChannelInput {
    pub name: String,
    pub kind: ChannelKind,
    /// The organisation's page on the channel (http or https).
    pub url: String,
    /// Made from the name when not given.
    pub slug: Option<String>,
    #[graphql(default = true)]
    pub enabled: bool,
    /// With placeholders {title} {excerpt} {link} {hashtags} {author} {date}.
    pub template: Option<String>,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateChannelInput {
    pub id: ID,
    pub name: Option<String>,
    pub kind: Option<ChannelKind>,
    pub url: Option<String>,
    pub slug: Option<String>,
    pub enabled: Option<bool>,
    /// A new template; `null` returns to the kind's default.
    pub template: MaybeUndefined<String>,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct DeleteChannelInput {
    pub id: ID,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreateChannelPayload {
    pub channel: ChannelNode,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct UpdateChannelPayload {
    pub channel: ChannelNode,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct DeleteChannelPayload {
    pub deleted_channel_id: ID,
    pub client_mutation_id: Option<String>,
}

#[derive(Default)]
pub struct ChannelMutation;

#[Object]
impl ChannelMutation {
    /// Adds a channel. Admins only.
    async fn create_channel(
        &self,
        ctx: &Context<'_>,
        input: CreateChannelInput,
    ) -> Result<Option<CreateChannelPayload>> {
        let request = RequestContext::of(ctx)?;
        let channel_request = ChannelRequest {
            name: input.name,
            kind: input.kind,
            url: input.url,
            slug: input.slug,
            enabled: input.enabled,
            template: input.template,
        };
        let created =
            domain_channels::create_channel(&request.pool, &request.viewer, channel_request)
                .await
                .map_err(ApiError::from)?;
        Ok(Some(CreateChannelPayload {
            channel: ChannelNode(created),
            client_mutation_id: input.client_mutation_id,
        }))
    }

    /// Changes a channel; disabling one removes its summaries. Admins only.
    async fn update_channel(
        &self,
        ctx: &Context<'_>,
        input: UpdateChannelInput,
    ) -> Result<Option<UpdateChannelPayload>> {
        let request = RequestContext::of(ctx)?;
        let id = channel_to_manage(request, &input.id)?;
        let edit = ChannelEdit {
            name: input.name,
            kind: input.kind,
            url: input.url,
            slug: input.slug,
            enabled: input.enabled,
            template: match input.template {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(template) => Some(Some(template)),
            },
        };
        let updated = domain_channels::update_channel(&request.pool, &request.viewer, id, edit)
            .await
            .map_err(ApiError::from)?;
        Ok(Some(UpdateChannelPayload {
            channel: ChannelNode(updated),
            client_mutation_id: input.client_mutation_id,
        }))
    }

    /// Removes a channel and everything written for it. Admins only.
    async fn delete_channel(
        &self,
        ctx: &Context<'_>,
        input: DeleteChannelInput,
    ) -> Result<Option<DeleteChannelPayload>> {
        let request = RequestContext::of(ctx)?;
        let id = channel_to_manage(request, &input.id)?;
        domain_channels::delete_channel(&request.pool, &request.viewer, id)
            .await
            .map_err(ApiError::from)?;
        Ok(Some(DeleteChannelPayload {
            deleted_channel_id: input.id,
            client_mutation_id: input.client_mutation_id,
        }))
    }
}

/// The channel a mutation names, once the viewer is known to be an admin: anyone else is
/// refused as such, whatever the id (the domain checks the role again as it writes).
fn channel_to_manage(request: &RequestContext, id: &ID) -> Result<i64> {
    request
        .viewer
        .require_admin("manage channels")
        .map_err(ApiError::from)?;
    Ok(GlobalId::decode(id, NodeKind::Channel, "id")?)
}
