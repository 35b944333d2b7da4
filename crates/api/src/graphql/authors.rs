//! Authors in the schema, and the viewer.

use async_graphql::{Context, Enum, ID, Object, Result};
use gazette_store::authors::{self, Author};
use gazette_store::tokens::Role as StoreRole;

use super::connection::{PageArgs, connection_types, reader_page};
use super::context::RequestContext;
use super::errors::ApiError;
use super::ids::{Lookup, NodeKind};
use super::loaders::LoadOne;
use super::objects::AuthorNode;
use gazette_domain::Viewer;

connection_types!(
    AuthorConnection,
    AuthorEdge,
    AuthorNode,
    "A page of authors."
);

pub(crate) const AUTHOR_ORDERING: &str = "authors:name";

#[derive(Default)]
pub struct AuthorQuery;

#[Object]
impl AuthorQuery {
    /// An author by their global `id` or their `slug` (give one); null when there is none, or
    /// when they have published nothing the viewer may read.
    async fn author(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        slug: Option<String>,
    ) -> Result<Option<AuthorNode>> {
        let request = RequestContext::of(ctx)?;
        let author = Lookup::find(
            (id, slug, NodeKind::Author),
            async |id| request.loaders.authors.one(id).await,
            async |slug| {
                authors::find_visible_by_slug(&request.pool, &slug, request.reader()).await
            },
        )
        .await?;
        Ok(author.map(AuthorNode))
    }

    /// The authors you may see (for anyone: those who have published), by name.
    async fn authors(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<AuthorConnection> {
        let request = RequestContext::of(ctx)?;
        Ok(reader_page(
            &PageArgs::new(first, after, last, before),
            AUTHOR_ORDERING,
            (request.pool.clone(), request.reader()),
            async |pool, reader, window| authors::page(&pool, reader, &window).await,
            async |pool, reader| authors::count(&pool, reader).await,
            Author::position,
            AuthorNode,
        )
        .await?
        .into())
    }

    /// Who the request's token belongs to; null without a token.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Option<ViewerNode>> {
        let request = RequestContext::of(ctx)?;
        let Viewer::Token(owner) = request.viewer else {
            return Ok(None);
        };
        let author = request
            .loaders
            .authors
            .one_or(owner.author_id, || {
                ApiError::internal("a token's author is missing")
            })
            .await?;
        Ok(Some(ViewerNode {
            author: AuthorNode(author),
            role: owner.role.into(),
        }))
    }
}

/// What a token may do.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum Role {
    /// Everything.
    Admin,
    /// Write and manage their own posts.
    Author,
}

impl From<StoreRole> for Role {
    fn from(role: StoreRole) -> Self {
        match role {
            StoreRole::Admin => Role::Admin,
            StoreRole::Author => Role::Author,
        }
    }
}

/// The holder of the request's token.
pub struct ViewerNode {
    author: AuthorNode,
    role: Role,
}

#[Object(name = "Viewer")]
impl ViewerNode {
    async fn author(&self) -> &AuthorNode {
        &self.author
    }

    async fn role(&self) -> Role {
        self.role
    }
}
