//! Comments in the schema: the `Comment` type, the post's comment lists and thread, the
//! comment mutations and the `commentAdded` subscription.

use async_graphql::futures_util::{Stream, StreamExt, future};
use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject, Subscription};
use gazette_store::comments::CommentStatus as StoredStatus;

use super::context::RequestContext;
use super::errors::ApiError;
use super::ids::{GlobalId, NodeKind};
use super::loaders::LoadOne;
use super::objects::CommentNode;
use super::socket_session::subscription_slot;
use crate::events::EventHub;
use gazette_domain::commenting::{self, CommentInput};

#[derive(InputObject)]
pub struct AddCommentInput {
    pub post_id: ID,
    /// The comment this one replies to.
    pub parent_id: Option<ID>,
    /// 1 to 80 characters.
    pub author_name: String,
    /// Never shown.
    pub author_email: Option<String>,
    /// An http(s) address, shown with the name.
    pub author_url: Option<String>,
    /// Plain text or limited Markdown, 1 to 10,000 characters.
    pub body: String,
    /// Makes the mutation safe to retry: the same id on the same post within 24 hours
    /// returns the first comment instead of making another. Use a fresh random id (a UUID)
    /// per comment.
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct AddCommentPayload {
    pub comment: CommentNode,
    /// Lets the commenter edit or delete the comment for 15 minutes; keep it private.
    pub edit_token: Option<String>,
    /// The reply was deeper than allowed and was attached at the deepest level instead.
    pub depth_capped: bool,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct EditCommentInput {
    pub id: ID,
    /// The token `addComment` returned.
    pub edit_token: String,
    pub body: String,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct EditCommentPayload {
    pub comment: CommentNode,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct DeleteCommentInput {
    pub id: ID,
    /// The commenter's token from `addComment`; moderators send their API token instead.
    pub edit_token: Option<String>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct DeleteCommentPayload {
    pub deleted_comment_id: ID,
    /// The tombstone left in the thread (shown only while it has replies).
    pub comment: CommentNode,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct ModerateCommentInput {
    pub id: ID,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct ApproveCommentPayload {
    pub comment: CommentNode,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct MarkCommentSpamPayload {
    pub comment: CommentNode,
    pub client_mutation_id: Option<String>,
}

#[derive(Default)]
pub struct CommentMutation;

#[Object]
impl CommentMutation {
    /// Posts a comment or a reply; no token needed. Depending on moderation it is published
    /// at once or held (`status: PENDING`).
    async fn add_comment(
        &self,
        ctx: &Context<'_>,
        input: AddCommentInput,
    ) -> Result<Option<AddCommentPayload>> {
        let request = RequestContext::of(ctx)?;
        let post_id = GlobalId::decode(&input.post_id, NodeKind::Post, "postId")?;
        let parent_id = input
            .parent_id
            .as_deref()
            .map(|id| GlobalId::decode(id, NodeKind::Comment, "parentId"))
            .transpose()?;
        let added = commenting::add_comment(
            &request.pool,
            &request.config.commenting,
            &request.viewer,
            request.client.as_ref(),
            CommentInput {
                post_id,
                parent_id,
                author_name: input.author_name,
                author_email: input.author_email,
                author_url: input.author_url,
                body: input.body,
                client_mutation_id: input.client_mutation_id.clone(),
                federated: None,
            },
        )
        .await
        .map_err(ApiError::from)?;
        if !added.retried && added.comment.status == StoredStatus::Pending {
            gazette_metrics::metrics().comments_held.inc();
        }
        Ok(Some(AddCommentPayload {
            comment: CommentNode::from(added.comment),
            edit_token: added.edit_token,
            depth_capped: added.depth_capped,
            client_mutation_id: input.client_mutation_id,
        }))
    }

    /// Changes a comment's text, with its edit token, within 15 minutes of posting.
    async fn edit_comment(
        &self,
        ctx: &Context<'_>,
        input: EditCommentInput,
    ) -> Result<Option<EditCommentPayload>> {
        let request = RequestContext::of(ctx)?;
        let id = GlobalId::decode(&input.id, NodeKind::Comment, "id")?;
        let comment = commenting::edit_comment(
            &request.pool,
            &request.config.commenting,
            &request.viewer,
            id,
            &input.edit_token,
            &input.body,
        )
        .await
        .map_err(ApiError::from)?;
        Ok(Some(EditCommentPayload {
            comment: CommentNode::from(comment),
            client_mutation_id: input.client_mutation_id,
        }))
    }

    /// Deletes a comment: its commenter with the edit token (within 15 minutes), or a
    /// moderator (an admin, or the post's author).
    async fn delete_comment(
        &self,
        ctx: &Context<'_>,
        input: DeleteCommentInput,
    ) -> Result<Option<DeleteCommentPayload>> {
        let request = RequestContext::of(ctx)?;
        let id = GlobalId::decode(&input.id, NodeKind::Comment, "id")?;
        let comment = commenting::delete_comment(
            &request.pool,
            &request.config.commenting,
            &request.viewer,
            id,
            input.edit_token.as_deref(),
        )
        .await
        .map_err(ApiError::from)?;
        Ok(Some(DeleteCommentPayload {
            deleted_comment_id: input.id,
            comment: CommentNode::from(comment),
            client_mutation_id: input.client_mutation_id,
        }))
    }

    /// Publishes a held (or spam-marked) comment. For moderators.
    async fn approve_comment(
        &self,
        ctx: &Context<'_>,
        input: ModerateCommentInput,
    ) -> Result<Option<ApproveCommentPayload>> {
        let request = RequestContext::of(ctx)?;
        request.require_token()?;
        let id = GlobalId::decode(&input.id, NodeKind::Comment, "id")?;
        let comment =
            commenting::moderate(&request.pool, &request.viewer, id, StoredStatus::Published)
                .await
                .map_err(ApiError::from)?;
        Ok(Some(ApproveCommentPayload {
            comment: CommentNode::from(comment),
            client_mutation_id: input.client_mutation_id,
        }))
    }

    /// Hides a comment as spam. For moderators.
    async fn mark_comment_spam(
        &self,
        ctx: &Context<'_>,
        input: ModerateCommentInput,
    ) -> Result<Option<MarkCommentSpamPayload>> {
        let request = RequestContext::of(ctx)?;
        request.require_token()?;
        let id = GlobalId::decode(&input.id, NodeKind::Comment, "id")?;
        let comment = commenting::moderate(&request.pool, &request.viewer, id, StoredStatus::Spam)
            .await
            .map_err(ApiError::from)?;
        Ok(Some(MarkCommentSpamPayload {
            comment: CommentNode::from(comment),
            client_mutation_id: input.client_mutation_id,
        }))
    }
}

#[derive(Default)]
pub struct CommentSubscription;

#[Subscription]
impl CommentSubscription {
    /// Each comment published on the post from now on (posted, or approved) that the public
    /// may see, from any API process.
    async fn comment_added(
        &self,
        ctx: &Context<'_>,
        post_id: ID,
    ) -> Result<impl Stream<Item = CommentNode> + use<>> {
        let request = RequestContext::of(ctx)?;
        let post_id = GlobalId::decode(&post_id, NodeKind::Post, "postId")?;
        if request.loaders.posts.one(post_id).await?.is_none() {
            return Err(ApiError::not_found("There is no post with this id.").into());
        }
        let slot = subscription_slot(ctx)?;
        let comments = ctx.data::<EventHub>()?.published_comments();
        Ok(comments.filter_map(move |comment| {
            // The subscription holds its place on the socket until it ends.
            let _held = &slot;
            future::ready(
                (comment.post_id == post_id).then(|| CommentNode::from((*comment).clone())),
            )
        }))
    }
}
