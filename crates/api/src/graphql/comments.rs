//! Comments in the schema: the `Comment` type, the post's comment lists and thread, the
//! comment mutations and the `commentAdded` subscription.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::futures_util::{Stream, StreamExt, future};
use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject, Subscription};
use chrono::{DateTime, Utc};
use gazette_store::comments::{self, ChildPage, Comment, CommentStatus as StoredStatus, Parent};
use gazette_store::keyset::{Position, SortKey};

use super::connection::{Edge, PageArgs, PageInfo, PageRequest, TotalCount, connection_types};
use super::context::RequestContext;
use super::errors::ApiError;
use super::ids::{GlobalId, NodeKind};
use super::loaders::{ChildPageKey, LoadOne};
use super::posts::PostNode;
use super::socket_session::subscription_slot;
use crate::events::EventHub;
use gazette_domain::commenting::{self, CommentInput};

connection_types!(
    CommentConnection,
    CommentEdge,
    CommentNode,
    "A page of comments."
);

// The store's status as the schema shows it (the derive's conversions fail to compile if
// the two lists differ).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "gazette_store::comments::CommentStatus")]
pub enum CommentStatus {
    Published,
    /// Held for a moderator.
    Pending,
    Spam,
    /// A tombstone: kept while it has replies, without its text or author.
    Deleted,
}

/// The order of a post's top-level comments.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug, Default)]
pub enum CommentOrder {
    #[default]
    Oldest,
    Newest,
}

/// Who wrote a comment, as they gave it.
#[derive(SimpleObject)]
pub struct CommentAuthor {
    pub name: String,
    /// Their website.
    pub url: Option<String>,
}

fn position(comment: &Comment) -> Position {
    Position {
        key: SortKey::Int(comment.id),
        id: comment.id,
    }
}

/// A page of a post's top-level comments or a comment's replies, loaded with every other
/// parent's at the same level of the request (one statement per level).
pub async fn child_connection(
    ctx: &Context<'_>,
    parent: Parent,
    key: i64,
    args: PageArgs,
    order: CommentOrder,
) -> Result<CommentConnection, ApiError> {
    let request = RequestContext::of(ctx)?;
    let newest_first = order == CommentOrder::Newest;
    let ordering = match (parent, newest_first) {
        (Parent::Post, false) => "comments:oldest",
        (Parent::Post, true) => "comments:newest",
        (Parent::Comment, false) => "replies:oldest",
        (Parent::Comment, true) => "replies:newest",
    };
    let page = PageRequest::new(&args, ordering)?;
    let window = &page.window;
    let child_page = ChildPage {
        after: window.after.as_ref().map(|position| position.id),
        before: window.before.as_ref().map(|position| position.id),
        limit: window.limit,
        from_end: window.from_end,
        newest_first,
    };
    let rows = request
        .loaders
        .child_pages
        .one(ChildPageKey {
            parent,
            key,
            page: child_page,
        })
        .await?
        .unwrap_or_default();
    let (edges, page_info) = page.finish(rows, ordering, position, CommentNode::from);
    let loaders = request.loaders.clone();
    Ok(CommentConnection {
        edges,
        page_info,
        total_count: TotalCount::new(move || {
            let loaders = loaders.clone();
            async move { Ok(loaders.child_counts.one((parent, key)).await?.unwrap_or(0)) }
        }),
    })
}

const THREAD_ORDERING: &str = "thread";

/// A page of a post's whole thread in display order: one statement per page.
pub async fn thread_connection(
    ctx: &Context<'_>,
    post_id: i64,
    first: Option<i32>,
    after: Option<String>,
) -> Result<CommentConnection, ApiError> {
    let request = RequestContext::of(ctx)?;
    let page = PageRequest::new(&PageArgs::new(first, after, None, None), THREAD_ORDERING)?;
    let after_path = match &page.window.after {
        Some(Position {
            key: SortKey::Text(path),
            ..
        }) => Some(parse_path(path)?),
        Some(_) => {
            return Err(ApiError::bad_input(
                "after",
                "`after` is not a thread cursor.",
            ));
        }
        None => None,
    };
    let reader = request.reader();
    let rows = comments::thread_page(
        &request.pool,
        post_id,
        reader,
        after_path.as_deref(),
        page.window.limit,
        &request.answer,
    )
    .await?;
    let thread_position = |comment: &Comment| Position {
        key: SortKey::Text(
            comment
                .path
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join("."),
        ),
        id: comment.id,
    };
    // When `parent` is asked for: the page's comments and the parents of those whose
    // parent is not in it (the first comment's ancestors), one statement whatever the page
    // size, where loading each `parent` split into several batches under load.
    let look_ahead = ctx.look_ahead();
    let wants_parents = look_ahead
        .field("edges")
        .field("node")
        .field("parent")
        .exists()
        || look_ahead.field("nodes").field("parent").exists();
    let known = match wants_parents {
        true => {
            let mut known: HashMap<i64, Comment> = rows
                .iter()
                .map(|comment| (comment.id, comment.clone()))
                .collect();
            let missing: Vec<i64> = rows
                .iter()
                .filter_map(|comment| comment.parent_id)
                .filter(|parent| !known.contains_key(parent))
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            if !missing.is_empty() {
                known.extend(
                    comments::find_visible(&request.pool, &missing, reader, &request.answer)
                        .await?,
                );
            }
            Some(Arc::new(known))
        }
        false => None,
    };
    let (edges, page_info): (Vec<Edge<CommentNode>>, PageInfo) =
        page.finish(rows, THREAD_ORDERING, thread_position, |comment| {
            CommentNode(comment, known.clone())
        });
    let pool = request.pool.clone();
    Ok(CommentConnection {
        edges,
        page_info,
        total_count: TotalCount::new(move || {
            let pool = pool.clone();
            async move { Ok(comments::thread_count(&pool, post_id, reader).await?) }
        }),
    })
}

fn parse_path(path: &str) -> Result<Vec<i64>, ApiError> {
    path.split('.')
        .map(|id| id.parse::<i64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ApiError::bad_input("after", "`after` is not a thread cursor."))
}

/// A reader's comment on a post, or a reply to another comment. A comment that came in a
/// page of a thread knows the page's other comments (and their parents), so `parent` needs
/// no further look-up: a visible comment's parent is always visible to the same reader.
pub struct CommentNode(pub Comment, Option<Arc<HashMap<i64, Comment>>>);

impl From<Comment> for CommentNode {
    fn from(comment: Comment) -> Self {
        Self(comment, None)
    }
}

impl CommentNode {
    fn is_tombstone(&self) -> bool {
        gazette_domain::policy::shows_as_tombstone(&self.0)
    }

    /// Some of the comment's text, charged to the answer; null for a tombstone.
    fn text<'t>(&self, ctx: &Context<'_>, text: &'t str) -> Result<Option<&'t str>> {
        if self.is_tombstone() {
            return Ok(None);
        }
        Ok(Some(RequestContext::of(ctx)?.charge(text)?))
    }
}

#[Object(name = "Comment")]
impl CommentNode {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Comment, self.0.id).to_id()
    }

    async fn post(&self, ctx: &Context<'_>) -> Result<PostNode> {
        let request = RequestContext::of(ctx)?;
        let post = request
            .loaders
            .posts
            .one(self.0.post_id)
            .await?
            .ok_or_else(|| ApiError::not_found("The comment's post is not visible to you."))?;
        Ok(PostNode(post))
    }

    /// The comment this one replies to; null for top-level comments (and for a parent the
    /// reader may not see).
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<CommentNode>> {
        let Some(parent_id) = self.0.parent_id else {
            return Ok(None);
        };
        if let Some(parent) = self.1.as_ref().and_then(|known| known.get(&parent_id)) {
            return Ok(Some(CommentNode(parent.clone(), self.1.clone())));
        }
        let request = RequestContext::of(ctx)?;
        let parent = request.loaders.comments.one(parent_id).await?;
        Ok(parent.map(CommentNode::from))
    }

    /// Null for deleted comments.
    async fn author(&self) -> Option<CommentAuthor> {
        (!self.is_tombstone()).then(|| CommentAuthor {
            name: self.0.author_name.clone(),
            url: self.0.author_url.clone(),
        })
    }

    /// The text as written (plain text or limited Markdown); null for deleted comments.
    async fn body(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        self.text(ctx, &self.0.body)
    }

    /// `body` as sanitised HTML; links carry `rel="nofollow ugc noopener"`. Null for
    /// deleted comments.
    async fn body_html(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        self.text(ctx, &self.0.body_html)
    }

    async fn status(&self) -> CommentStatus {
        self.0.status.into()
    }

    /// 0 for top-level comments, 1 for their replies, and so on.
    async fn depth(&self) -> i32 {
        self.0.depth
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Published direct replies.
    async fn reply_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let request = RequestContext::of(ctx)?;
        let count = request.loaders.reply_counts.one(self.0.id).await?;
        Ok(count.unwrap_or(0))
    }

    /// Direct replies, oldest first.
    async fn replies(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<CommentConnection> {
        let args = PageArgs::new(first, after, last, before);
        Ok(child_connection(ctx, Parent::Comment, self.0.id, args, CommentOrder::Oldest).await?)
    }
}

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
