//! Posts in the schema.

use std::sync::Arc;

use async_graphql::{Context, Enum, ErrorExtensions, ID, Object, Result};
use chrono::{DateTime, Utc};
use gazette_store::PgPool;
use gazette_store::posts::{self, Post, PostStatus as StoredStatus};

use super::ids::{GlobalId, NodeKind};
use crate::state::ApiConfig;

#[derive(Default)]
pub struct PostQuery;

#[Object]
impl PostQuery {
    /// A published post by its global `id` or its `slug`; null when there is none.
    async fn post(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        slug: Option<String>,
    ) -> Result<Option<PostNode>> {
        let pool = ctx.data::<PgPool>()?;
        let post = match (id, slug) {
            (Some(id), None) => match GlobalId::parse(&id) {
                Some(GlobalId {
                    kind: NodeKind::Post,
                    id,
                }) => posts::find_by_id(pool, id).await?,
                _ => return Err(bad_input("id", "is not a post id")),
            },
            (None, Some(slug)) => posts::find_by_slug(pool, &slug).await?,
            _ => return Err(bad_input("id", "give exactly one of `id` and `slug`")),
        };
        Ok(post
            .filter(|post| post.status == StoredStatus::Published)
            .map(PostNode))
    }
}

fn bad_input(field: &str, problem: &str) -> async_graphql::Error {
    async_graphql::Error::new(format!("`{field}` {problem}.")).extend_with(|_, extensions| {
        extensions.set("code", "BAD_USER_INPUT");
        extensions.set("field", field);
    })
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum PostStatus {
    Draft,
    Published,
}

impl From<StoredStatus> for PostStatus {
    fn from(status: StoredStatus) -> Self {
        match status {
            StoredStatus::Draft => PostStatus::Draft,
            StoredStatus::Published => PostStatus::Published,
        }
    }
}

pub struct PostNode(pub Post);

#[Object(name = "Post")]
impl PostNode {
    async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Post, self.0.id).to_id()
    }

    async fn slug(&self) -> &str {
        &self.0.slug
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The Markdown source.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// `body` rendered to sanitised HTML.
    async fn body_html(&self) -> &str {
        &self.0.body_html
    }

    /// A plain-text summary.
    async fn excerpt(&self) -> &str {
        &self.0.excerpt
    }

    async fn status(&self) -> PostStatus {
        self.0.status.into()
    }

    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Whether readers may comment.
    async fn comments_open(&self) -> bool {
        self.0.comments_open
    }

    /// Where the post is read, absolute.
    async fn url(&self, ctx: &Context<'_>) -> Result<String> {
        let config = ctx.data::<Arc<ApiConfig>>()?;
        Ok(config.site.post_url(&self.0.slug))
    }
}
