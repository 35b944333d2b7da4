//! Tags in the schema.

use async_graphql::{Context, ID, Object, Result};
use gazette_store::tags::{self, Tag};

use super::connection::{PageArgs, connection_types, reader_page};
use super::context::RequestContext;
use super::ids::{Lookup, NodeKind};
use super::loaders::LoadOne;
use super::objects::TagNode;

connection_types!(TagConnection, TagEdge, TagNode, "A page of tags.");

pub(crate) const TAG_ORDERING: &str = "tags:name";

#[derive(Default)]
pub struct TagQuery;

#[Object]
impl TagQuery {
    /// A tag by its global `id` or its `slug` (give one); null when there is none, or when it
    /// labels no post the viewer may read.
    async fn tag(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        slug: Option<String>,
    ) -> Result<Option<TagNode>> {
        let request = RequestContext::of(ctx)?;
        let tag = Lookup::find(
            (id, slug, NodeKind::Tag),
            async |id| request.loaders.tags.one(id).await,
            async |slug| tags::find_visible_by_slug(&request.pool, &slug, request.reader()).await,
        )
        .await?;
        Ok(tag.map(TagNode))
    }

    /// The tags of the posts you may see (for anyone: published posts), by name.
    async fn tags(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<TagConnection> {
        let request = RequestContext::of(ctx)?;
        Ok(reader_page(
            &PageArgs::new(first, after, last, before),
            TAG_ORDERING,
            (request.pool.clone(), request.reader()),
            async |pool, reader, window| tags::page(&pool, reader, &window).await,
            async |pool, reader| tags::count(&pool, reader).await,
            Tag::position,
            TagNode,
        )
        .await?
        .into())
    }
}
