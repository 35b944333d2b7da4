//! Federation in the schema, for admins (docs/federation.md): followers, blocks and
//! deliveries. The use cases are `gazette_domain::federation::admin`'s.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use gazette_domain::federation::admin::{BlockKind, FederationAdmin};
use gazette_domain::federation::outreach::Outreach;
use gazette_store::federation::{Block, Delivery, Followed, Follower, SentNote};

use super::context::RequestContext;
use super::errors::ApiError;

/// The most rows a federation list shows at once.
pub const MAX_ROWS: i64 = 100;
/// The most blocks `federationBlocks` shows (newest first).
pub const MAX_BLOCKS_SHOWN: u64 = 500;

/// The admin use cases, after the caller was found to be an admin, with federation on.
fn admin(request: &RequestContext) -> Result<FederationAdmin<'_>, ApiError> {
    request.viewer.require_admin("manage federation")?;
    let federation = request.config.federation.as_ref().ok_or_else(|| {
        ApiError::bad_input(
            "federation",
            "Federation is off on this site (start Gazette with --federation).",
        )
    })?;
    Ok(FederationAdmin {
        pool: &request.pool,
        federation,
        viewer: &request.viewer,
    })
}

/// Reaching out to other servers, with federation on: the admin's follows and the
/// writers' replies, through the process's one federation client.
fn outreach(request: &RequestContext) -> Result<Outreach<'_>, ApiError> {
    request.viewer.require_token()?;
    let (Some(federation), Some(remote)) = (&request.config.federation, &request.config.remote)
    else {
        return Err(ApiError::bad_input(
            "federation",
            "Federation is off on this site (start Gazette with --federation).",
        ));
    };
    Ok(Outreach {
        pool: &request.pool,
        federation,
        commenting: &request.config.commenting,
        remote,
        viewer: &request.viewer,
    })
}

fn rows(first: Option<i32>) -> Result<i64, ApiError> {
    let first = i64::from(first.unwrap_or(20));
    if !(0..=MAX_ROWS).contains(&first) {
        return Err(ApiError::bad_input(
            "first",
            format!("`first` must be between 0 and {MAX_ROWS}."),
        ));
    }
    Ok(first)
}

/// A fediverse account that follows the blog.
#[derive(SimpleObject)]
#[graphql(name = "FederationFollower")]
pub struct FollowerNode {
    /// The actor's id (its URL).
    actor: String,
    name: String,
    /// Its instance.
    host: String,
    /// `accepted`, or `pending` (waiting for `approveFederationFollower`).
    state: String,
    since: DateTime<Utc>,
}

impl From<Follower> for FollowerNode {
    fn from(follower: Follower) -> Self {
        Self {
            actor: follower.actor_id,
            name: follower.name,
            host: follower.host,
            state: follower.state,
            since: follower.created_at,
        }
    }
}

/// A blocked actor or instance.
#[derive(SimpleObject)]
#[graphql(name = "FederationBlock")]
pub struct BlockNode {
    /// `actor` or `instance`.
    kind: String,
    /// The actor's id, or the instance's host.
    value: String,
    since: DateTime<Utc>,
}

impl From<Block> for BlockNode {
    fn from(block: Block) -> Self {
        Self {
            kind: block.kind,
            value: block.value,
            since: block.created_at,
        }
    }
}

/// An activity sent (or being sent) to a remote inbox.
#[derive(SimpleObject)]
#[graphql(name = "FederationDelivery")]
pub struct DeliveryNode {
    inbox: String,
    /// `Create`, `Update`, `Delete`, `Accept`, `Announce`.
    activity_type: String,
    /// `pending`, `delivered` or `failed`.
    status: String,
    attempts: i32,
    last_response_code: Option<i32>,
    last_error: Option<String>,
}

impl From<Delivery> for DeliveryNode {
    fn from(delivery: Delivery) -> Self {
        Self {
            inbox: delivery.inbox,
            activity_type: delivery.activity_type,
            status: delivery.status,
            attempts: delivery.attempts,
            last_response_code: delivery.last_response_code,
            last_error: delivery.last_error,
        }
    }
}

/// An account the blog follows.
#[derive(SimpleObject)]
#[graphql(name = "FederationFollowing")]
pub struct FollowingNode {
    actor: String,
    name: String,
    /// `pending` until its server accepts, then `accepted`.
    state: String,
    since: DateTime<Utc>,
}

impl From<Followed> for FollowingNode {
    fn from(followed: Followed) -> Self {
        Self {
            actor: followed.actor_id,
            name: followed.name,
            state: followed.state,
            since: followed.created_at,
        }
    }
}

/// A reply the blog sent to a post elsewhere.
#[derive(SimpleObject)]
#[graphql(name = "FederationReply")]
pub struct ReplyNode {
    /// Its number, for `deleteFederatedReply`.
    database_id: i64,
    /// Its object id (a URL on this site).
    id: String,
    in_reply_to: String,
    author_name: String,
    created_at: DateTime<Utc>,
    /// When it was withdrawn (null while it stands).
    deleted_at: Option<DateTime<Utc>>,
}

#[derive(Default)]
pub struct FederationQuery;

#[Object]
impl FederationQuery {
    /// Who follows the blog from the fediverse, newest first. Admins only.
    async fn federation_followers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        offset: Option<i32>,
    ) -> Result<Vec<FollowerNode>> {
        let request = RequestContext::of(ctx)?;
        let admin = admin(request)?;
        let offset = i64::from(offset.unwrap_or(0).max(0));
        let followers = admin
            .followers(rows(first)?, offset)
            .await
            .map_err(ApiError::from)?;
        Ok(followers.into_iter().map(FollowerNode::from).collect())
    }

    /// Blocked actors and instances. Admins only.
    async fn federation_blocks(&self, ctx: &Context<'_>) -> Result<Vec<BlockNode>> {
        let request = RequestContext::of(ctx)?;
        let blocks = admin(request)?
            .blocks(MAX_BLOCKS_SHOWN as i64)
            .await
            .map_err(ApiError::from)?;
        Ok(blocks.into_iter().map(BlockNode::from).collect())
    }

    /// Accounts the blog follows, newest first. Admins only.
    async fn federation_following(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> Result<Vec<FollowingNode>> {
        let request = RequestContext::of(ctx)?;
        request
            .viewer
            .require_admin("see whom the blog follows")
            .map_err(ApiError::from)?;
        let followed = outreach(request)?
            .following(rows(first)?)
            .await
            .map_err(ApiError::from)?;
        Ok(followed.into_iter().map(FollowingNode::from).collect())
    }

    /// Replies sent to posts elsewhere, newest first: a writer's own (admins: everyone's).
    async fn federation_replies(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> Result<Vec<ReplyNode>> {
        let request = RequestContext::of(ctx)?;
        let replies = outreach(request)?
            .replies(rows(first)?)
            .await
            .map_err(ApiError::from)?;
        Ok(replies
            .into_iter()
            .map(|note| reply_node(request, note))
            .collect())
    }

    /// The latest deliveries to remote inboxes, newest first. Admins only.
    async fn federation_deliveries(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
    ) -> Result<Vec<DeliveryNode>> {
        let request = RequestContext::of(ctx)?;
        let deliveries = admin(request)?
            .recent_deliveries(rows(first)?)
            .await
            .map_err(ApiError::from)?;
        Ok(deliveries.into_iter().map(DeliveryNode::from).collect())
    }
}

/// Names a fediverse actor by its id (its URL, as in `FederationFollower.actor`).
#[derive(InputObject)]
pub struct FederationActorInput {
    actor: String,
    client_mutation_id: Option<String>,
}

/// Names a fediverse instance by its host (`spam.example`; a URL or an `@user@host`
/// handle names its host).
#[derive(InputObject)]
pub struct FederationInstanceInput {
    host: String,
    client_mutation_id: Option<String>,
}

/// `replyToFederatedPost`'s input.
#[derive(InputObject)]
pub struct ReplyToFederatedPostInput {
    /// The post's ActivityPub id (or the address Mastodon shows for it).
    object_id: String,
    /// Markdown, as a comment's.
    body: String,
    client_mutation_id: Option<String>,
}

/// What `replyToFederatedPost` sent.
#[derive(SimpleObject)]
pub struct ReplyToFederatedPostPayload {
    reply: ReplyNode,
    client_mutation_id: Option<String>,
}

/// `deleteFederatedReply`'s input.
#[derive(InputObject)]
pub struct DeleteFederatedReplyInput {
    /// The reply's `databaseId`.
    id: ID,
    client_mutation_id: Option<String>,
}

/// What `followFederatedActor` made.
#[derive(SimpleObject)]
pub struct FollowFederatedActorPayload {
    following: FollowingNode,
    client_mutation_id: Option<String>,
}

fn reply_node(request: &RequestContext, note: SentNote) -> ReplyNode {
    let id = request
        .config
        .federation
        .as_ref()
        .map(|federation| federation.site.sent_note_id(note.id))
        .unwrap_or_default();
    ReplyNode {
        database_id: note.id,
        id,
        in_reply_to: note.in_reply_to,
        author_name: note.author_name,
        created_at: note.created_at,
        deleted_at: note.deleted_at,
    }
}

/// What a block mutation made.
#[derive(SimpleObject)]
pub struct FederationBlockPayload {
    block: BlockNode,
    client_mutation_id: Option<String>,
}

/// Whether a federation mutation changed anything (false: there was nothing to change).
#[derive(SimpleObject)]
pub struct FederationChangePayload {
    changed: bool,
    client_mutation_id: Option<String>,
}

fn changed(changed: bool, client_mutation_id: Option<String>) -> FederationChangePayload {
    FederationChangePayload {
        changed,
        client_mutation_id,
    }
}

#[derive(Default)]
pub struct FederationMutation;

#[Object]
impl FederationMutation {
    /// Blocks a fediverse actor (by its id, a URL): its follow ends, its replies are
    /// deleted, and what it sends is refused. Admins only.
    async fn block_federated_actor(
        &self,
        ctx: &Context<'_>,
        input: FederationActorInput,
    ) -> Result<FederationBlockPayload> {
        let request = RequestContext::of(ctx)?;
        let block = admin(request)?
            .block(BlockKind::Actor, &input.actor)
            .await
            .map_err(ApiError::from)?;
        Ok(FederationBlockPayload {
            block: block.into(),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Blocks a whole instance (by its host, e.g. `spam.example`): its followers are
    /// removed and what it sends is refused. Admins only.
    async fn block_federated_instance(
        &self,
        ctx: &Context<'_>,
        input: FederationInstanceInput,
    ) -> Result<FederationBlockPayload> {
        let request = RequestContext::of(ctx)?;
        let block = admin(request)?
            .block(BlockKind::Instance, &input.host)
            .await
            .map_err(ApiError::from)?;
        Ok(FederationBlockPayload {
            block: block.into(),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Follows an account elsewhere (another Gazette blog, a Mastodon account) by its
    /// ActivityPub id; `pending` until its server accepts. Admins only.
    async fn follow_federated_actor(
        &self,
        ctx: &Context<'_>,
        input: FederationActorInput,
    ) -> Result<FollowFederatedActorPayload> {
        let request = RequestContext::of(ctx)?;
        request
            .viewer
            .require_admin("follow accounts on the fediverse")
            .map_err(ApiError::from)?;
        let followed = outreach(request)?
            .follow(&input.actor)
            .await
            .map_err(ApiError::from)?;
        Ok(FollowFederatedActorPayload {
            following: followed.into(),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Stops following an account (its server is told). Admins only.
    async fn unfollow_federated_actor(
        &self,
        ctx: &Context<'_>,
        input: FederationActorInput,
    ) -> Result<FederationChangePayload> {
        let request = RequestContext::of(ctx)?;
        request
            .viewer
            .require_admin("follow accounts on the fediverse")
            .map_err(ApiError::from)?;
        let stopped = outreach(request)?
            .unfollow(&input.actor)
            .await
            .map_err(ApiError::from)?;
        Ok(changed(stopped, input.client_mutation_id))
    }

    /// Replies to a post elsewhere on the fediverse (on another Gazette blog it becomes a
    /// comment under the post): sent as the blog actor, headed by the writer's name.
    /// Authors and admins.
    async fn reply_to_federated_post(
        &self,
        ctx: &Context<'_>,
        input: ReplyToFederatedPostInput,
    ) -> Result<ReplyToFederatedPostPayload> {
        let request = RequestContext::of(ctx)?;
        let note = outreach(request)?
            .reply(&input.object_id, &input.body)
            .await
            .map_err(ApiError::from)?;
        Ok(ReplyToFederatedPostPayload {
            reply: reply_node(request, note),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Withdraws a reply sent to a post elsewhere: a `Delete` goes where it went. Its
    /// writer, or an admin.
    async fn delete_federated_reply(
        &self,
        ctx: &Context<'_>,
        input: DeleteFederatedReplyInput,
    ) -> Result<ReplyToFederatedPostPayload> {
        let request = RequestContext::of(ctx)?;
        let outreach = outreach(request)?;
        let id = input
            .id
            .parse::<i64>()
            .map_err(|_| ApiError::bad_input("id", "`id` is a reply's `databaseId`."))?;
        let note = outreach.delete_reply(id).await.map_err(ApiError::from)?;
        Ok(ReplyToFederatedPostPayload {
            reply: reply_node(request, note),
            client_mutation_id: input.client_mutation_id,
        })
    }

    /// Lifts an actor's block. Admins only.
    async fn unblock_federated_actor(
        &self,
        ctx: &Context<'_>,
        input: FederationActorInput,
    ) -> Result<FederationChangePayload> {
        let request = RequestContext::of(ctx)?;
        let lifted = admin(request)?
            .unblock(BlockKind::Actor, &input.actor)
            .await
            .map_err(ApiError::from)?;
        Ok(changed(lifted, input.client_mutation_id))
    }

    /// Lifts an instance's block. Admins only.
    async fn unblock_federated_instance(
        &self,
        ctx: &Context<'_>,
        input: FederationInstanceInput,
    ) -> Result<FederationChangePayload> {
        let request = RequestContext::of(ctx)?;
        let lifted = admin(request)?
            .unblock(BlockKind::Instance, &input.host)
            .await
            .map_err(ApiError::from)?;
        Ok(changed(lifted, input.client_mutation_id))
    }

    /// Removes a follower: it gets no more posts. Admins only.
    async fn remove_federation_follower(
        &self,
        ctx: &Context<'_>,
        input: FederationActorInput,
    ) -> Result<FederationChangePayload> {
        let request = RequestContext::of(ctx)?;
        let removed = admin(request)?
            .remove_follower(&input.actor)
            .await
            .map_err(ApiError::from)?;
        Ok(changed(removed, input.client_mutation_id))
    }

    /// Accepts a follow waiting for approval (`--federation-approve-followers`), and tells
    /// the follower. Admins only.
    async fn approve_federation_follower(
        &self,
        ctx: &Context<'_>,
        input: FederationActorInput,
    ) -> Result<FederationChangePayload> {
        let request = RequestContext::of(ctx)?;
        let approved = admin(request)?
            .approve_follower(&input.actor)
            .await
            .map_err(ApiError::from)?;
        Ok(changed(approved, input.client_mutation_id))
    }
}
