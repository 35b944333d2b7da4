//! The Relay `Node` interface: any object by its global id.

use async_graphql::{Context, ID, Interface, Object, Result};

use super::channels::ChannelNode;
use super::context::RequestContext;
use super::errors::ApiError;
use super::ids::{GlobalId, NodeKind};
use super::loaders::LoadOne;
use super::objects::{AuthorNode, CommentNode, PostNode, TagNode};

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

    /// The objects with these global ids (at most 100), in order; null for each one not
    /// found. Each kind is read in one statement, however many ids.
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        if ids.len() > 100 {
            return Err(ApiError::bad_input("ids", "Ask for at most 100 nodes at once.").into());
        }
        let wanted = ids
            .iter()
            .map(|id| {
                GlobalId::parse(id).ok_or_else(|| {
                    ApiError::bad_input(
                        "ids",
                        format!("`{}` is not a valid global id.", id.as_str()),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let of_kind = |kind: NodeKind| -> Vec<i64> {
            wanted
                .iter()
                .filter(|global| global.kind == kind)
                .map(|global| global.id)
                .collect()
        };
        let request = RequestContext::of(ctx)?;
        let load = |error| super::loaders::loader_error(error);
        let loaders = &request.loaders;
        let posts = loaders
            .posts
            .load_many(of_kind(NodeKind::Post))
            .await
            .map_err(load)?;
        let authors = loaders
            .authors
            .load_many(of_kind(NodeKind::Author))
            .await
            .map_err(load)?;
        let comments = loaders
            .comments
            .load_many(of_kind(NodeKind::Comment))
            .await
            .map_err(load)?;
        let tags = loaders
            .tags
            .load_many(of_kind(NodeKind::Tag))
            .await
            .map_err(load)?;
        let channels = loaders
            .channels
            .load_many(of_kind(NodeKind::Channel))
            .await
            .map_err(load)?;
        // An id asked for twice is answered twice: clone rather than take.
        Ok(wanted
            .iter()
            .map(|global| match global.kind {
                NodeKind::Post => posts
                    .get(&global.id)
                    .cloned()
                    .map(|post| Node::Post(PostNode(post))),
                NodeKind::Author => authors
                    .get(&global.id)
                    .cloned()
                    .map(|author| Node::Author(AuthorNode(author))),
                NodeKind::Comment => comments
                    .get(&global.id)
                    .cloned()
                    .map(|comment| Node::Comment(CommentNode::from(comment))),
                NodeKind::Tag => tags
                    .get(&global.id)
                    .cloned()
                    .map(|tag| Node::Tag(TagNode(tag))),
                NodeKind::Channel => channels
                    .get(&global.id)
                    .cloned()
                    .map(|channel| Node::Channel(ChannelNode(channel))),
            })
            .collect())
    }
}

async fn load_node(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>, ApiError> {
    let request = RequestContext::of(ctx)?;
    let Some(global) = GlobalId::parse(id) else {
        return Err(ApiError::bad_input("id", "`id` is not a valid global id."));
    };
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
        NodeKind::Tag => request
            .loaders
            .tags
            .one(global.id)
            .await?
            .map(|tag| Node::Tag(TagNode(tag))),
        NodeKind::Channel => request
            .loaders
            .channels
            .one(global.id)
            .await?
            .map(|channel| Node::Channel(ChannelNode(channel))),
        NodeKind::Comment => request
            .loaders
            .comments
            .one(global.id)
            .await?
            .map(|comment| Node::Comment(CommentNode::from(comment))),
    })
}
