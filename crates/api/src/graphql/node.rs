//! The Relay `Node` interface: any object by its global id.

use async_graphql::{Context, ID, Interface, Object, Result};

use super::authors::AuthorNode;
use super::channels::ChannelNode;
use super::comments::CommentNode;
use super::context::RequestContext;
use super::errors::ApiError;
use super::ids::{GlobalId, NodeKind};
use super::loaders::LoadOne;
use super::posts::PostNode;
use super::tags::TagNode;

/// An object with a global id.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Globally unique; pass it to `node`."))]
pub enum Node {
    Post(PostNode),
    Author(AuthorNode),
    Tag(TagNode),
    Comment(CommentNode),
    Channel(ChannelNode),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// The object with this global id; null when there is none (or it is not visible).
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        Ok(load_node(ctx, &id).await?)
    }

    /// The objects with these global ids, in order; null for each one not found.
    #[graphql(complexity = "super::connection::list_cost(ids.len(), child_complexity)")]
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        if ids.len() > 100 {
            return Err(ApiError::bad_input("ids", "Ask for at most 100 nodes at once.").into());
        }
        let mut nodes = Vec::with_capacity(ids.len());
        for id in &ids {
            nodes.push(load_node(ctx, id).await?);
        }
        Ok(nodes)
    }
}

async fn load_node(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>, ApiError> {
    let request = RequestContext::of(ctx)?;
    let Some(global) = GlobalId::parse(id) else {
        return Err(ApiError::bad_input("id", "`id` is not a valid global id."));
    };
    let reader = request.reader();
    Ok(match global.kind {
        NodeKind::Post => request
            .loaders
            .posts
            .one(global.id)
            .await?
            .map(|post| Node::Post(PostNode(post))),
        NodeKind::Author => request
            .loaders
            .authors
            .one(global.id)
            .await?
            .map(|author| Node::Author(AuthorNode(author))),
        NodeKind::Tag => gazette_store::tags::find_visible(&request.pool, &[global.id], reader)
            .await?
            .remove(&global.id)
            .map(|tag| Node::Tag(TagNode(tag))),
        NodeKind::Channel => gazette_store::channels::find_by_ids(&request.pool, &[global.id])
            .await?
            .remove(&global.id)
            .map(|channel| Node::Channel(ChannelNode(channel))),
        NodeKind::Comment => request
            .loaders
            .comments
            .one(global.id)
            .await?
            .map(|comment| Node::Comment(CommentNode::from(comment))),
    })
}
