//! DataLoaders for every field that reads related rows: one query per field per request
//! level, whatever the page size (no N+1).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use gazette_store::authors::{self, Author};
use gazette_store::tags::{self, Tag};
use gazette_store::{PgPool, StoreError, comments};

/// Authors by id.
pub struct AuthorLoader(pub PgPool);

impl Loader<i64> for AuthorLoader {
    type Value = Author;
    type Error = Arc<StoreError>;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Author>, Self::Error> {
        authors::find_by_ids(&self.0, ids).await.map_err(Arc::new)
    }
}

/// A post's tags, in the post's order, by post id.
pub struct PostTagsLoader(pub PgPool);

impl Loader<i64> for PostTagsLoader {
    type Value = Vec<Tag>;
    type Error = Arc<StoreError>;

    async fn load(&self, post_ids: &[i64]) -> Result<HashMap<i64, Vec<Tag>>, Self::Error> {
        tags::for_posts(&self.0, post_ids).await.map_err(Arc::new)
    }
}

/// Published comments per post id.
pub struct CommentCountLoader(pub PgPool);

impl Loader<i64> for CommentCountLoader {
    type Value = i64;
    type Error = Arc<StoreError>;

    async fn load(&self, post_ids: &[i64]) -> Result<HashMap<i64, i64>, Self::Error> {
        comments::published_counts(&self.0, post_ids)
            .await
            .map_err(Arc::new)
    }
}

/// The loaders of one request (or one WebSocket connection): their caches never outlive it,
/// so no request sees another's view of the data.
pub struct Loaders {
    pub authors: DataLoader<AuthorLoader>,
    pub post_tags: DataLoader<PostTagsLoader>,
    pub comment_counts: DataLoader<CommentCountLoader>,
}

impl Loaders {
    pub fn new(pool: &PgPool) -> Self {
        Self {
            authors: DataLoader::new(AuthorLoader(pool.clone()), tokio::spawn),
            post_tags: DataLoader::new(PostTagsLoader(pool.clone()), tokio::spawn),
            comment_counts: DataLoader::new(CommentCountLoader(pool.clone()), tokio::spawn),
        }
    }
}

/// A loader failure as the resolver reports it (logged, shown as INTERNAL).
pub fn loader_error(error: Arc<StoreError>) -> super::errors::ApiError {
    super::errors::ApiError::Internal(Box::new(ArcError(error)))
}

#[derive(Debug)]
struct ArcError(Arc<StoreError>);

impl std::fmt::Display for ArcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for ArcError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
