//! DataLoaders for every field that reads related rows: one query per field per level of a
//! request, whatever the page size (no N+1).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dataloader::{DataLoader, Loader};
use gazette_store::authors::{self, Author};
use gazette_store::channels::{self, Channel};
use gazette_store::comments::{self, ChildPage, Columns, Comment, Parent};
use gazette_store::keyset::Window;
use gazette_store::posts::{self, Post, PostColumns, PostOwner};
use gazette_store::tags::{self, Tag};
use gazette_store::{PgPool, ReadBudget, Reader, StoreError};

use super::errors::ApiError;

type LoadResult<K, V> = Result<HashMap<K, V>, Arc<StoreError>>;

/// Authors by id, as the request's reader may see them.
pub struct AuthorLoader(PgPool, Reader);

impl Loader<i64> for AuthorLoader {
    type Value = Author;
    type Error = Arc<StoreError>;

    async fn load(&self, ids: &[i64]) -> LoadResult<i64, Author> {
        authors::find_visible(&self.0, ids, self.1)
            .await
            .map_err(Arc::new)
    }
}

/// Posts by id, as the request's reader may see them (drafts only for their author and
/// admins), within the answer's budget.
pub struct PostLoader(PgPool, Reader, Arc<ReadBudget>);

impl Loader<i64> for PostLoader {
    type Value = Post;
    type Error = Arc<StoreError>;

    async fn load(&self, ids: &[i64]) -> LoadResult<i64, Post> {
        posts::find_visible(&self.0, ids, self.1, PostColumns::All, &self.2)
            .await
            .map_err(Arc::new)
    }
}

/// Tags by id, as the request's reader may see them.
pub struct TagLoader(PgPool, Reader);

impl Loader<i64> for TagLoader {
    type Value = Tag;
    type Error = Arc<StoreError>;

    async fn load(&self, ids: &[i64]) -> LoadResult<i64, Tag> {
        tags::find_visible(&self.0, ids, self.1)
            .await
            .map_err(Arc::new)
    }
}

/// Social channels by id, as the request's reader may see them.
pub struct ChannelLoader(PgPool, Reader);

impl Loader<i64> for ChannelLoader {
    type Value = Channel;
    type Error = Arc<StoreError>;

    async fn load(&self, ids: &[i64]) -> LoadResult<i64, Channel> {
        channels::find_by_ids(&self.0, ids, self.1)
            .await
            .map_err(Arc::new)
    }
}

/// A post's tags, in the post's order, by post id (of posts already loaded as visible).
pub struct PostTagsLoader(PgPool);

impl Loader<i64> for PostTagsLoader {
    type Value = Vec<Tag>;
    type Error = Arc<StoreError>;

    async fn load(&self, post_ids: &[i64]) -> LoadResult<i64, Vec<Tag>> {
        gazette_domain::policy::tags_of_read_posts(&self.0, post_ids)
            .await
            .map_err(Arc::new)
    }
}

/// Published comments the reader sees, per post id.
pub struct CommentCountLoader(PgPool, Reader);

impl Loader<i64> for CommentCountLoader {
    type Value = i64;
    type Error = Arc<StoreError>;

    async fn load(&self, post_ids: &[i64]) -> LoadResult<i64, i64> {
        comments::published_counts(&self.0, post_ids, self.1)
            .await
            .map_err(Arc::new)
    }
}

/// Likes and boosts from the fediverse, per post id (of posts the reader sees already).
pub struct ReactionLoader(PgPool);

impl Loader<i64> for ReactionLoader {
    type Value = (i64, i64);
    type Error = Arc<StoreError>;

    async fn load(&self, post_ids: &[i64]) -> LoadResult<i64, (i64, i64)> {
        let counts = gazette_store::federation::reaction_counts(&self.0, post_ids)
            .await
            .map_err(Arc::new)?;
        Ok(counts
            .into_iter()
            .map(|(post, likes, boosts)| (post, (likes, boosts)))
            .collect())
    }
}

/// Published direct replies the reader sees, per comment id.
pub struct ReplyCountLoader(PgPool, Reader);

impl Loader<i64> for ReplyCountLoader {
    type Value = i64;
    type Error = Arc<StoreError>;

    async fn load(&self, comment_ids: &[i64]) -> LoadResult<i64, i64> {
        comments::published_reply_counts(&self.0, comment_ids, self.1)
            .await
            .map_err(Arc::new)
    }
}

/// Comments by id, as the request's reader may see them, within the answer's budget.
pub struct CommentLoader(PgPool, Reader, Arc<ReadBudget>);

impl Loader<i64> for CommentLoader {
    type Value = Comment;
    type Error = Arc<StoreError>;

    async fn load(&self, ids: &[i64]) -> LoadResult<i64, Comment> {
        comments::find_visible(&self.0, ids, self.1, &self.2)
            .await
            .map_err(Arc::new)
    }
}

/// One page of a parent's children: a post's top-level comments or a comment's replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChildPageKey {
    pub parent: Parent,
    pub key: i64,
    pub page: ChildPage,
}

/// Pages of children, one statement for all parents that ask for the same page, within
/// the answer's budget.
pub struct ChildPageLoader(PgPool, Reader, Arc<ReadBudget>);

impl Loader<ChildPageKey> for ChildPageLoader {
    type Value = Vec<Comment>;
    type Error = Arc<StoreError>;

    async fn load(&self, keys: &[ChildPageKey]) -> LoadResult<ChildPageKey, Vec<Comment>> {
        let mut groups: HashMap<(Parent, ChildPage), Vec<i64>> = HashMap::new();
        for key in keys {
            groups
                .entry((key.parent, key.page))
                .or_default()
                .push(key.key);
        }
        let mut pages = HashMap::new();
        for ((parent, page), parent_keys) in groups {
            let found = comments::child_pages(
                &self.0,
                parent,
                &parent_keys,
                self.1,
                page,
                Columns::All,
                &self.2,
            )
            .await
            .map_err(Arc::new)?;
            for key in parent_keys {
                let comments = found.get(&key).cloned().unwrap_or_default();
                pages.insert(ChildPageKey { parent, key, page }, comments);
            }
        }
        Ok(pages)
    }
}

/// How many children (visible to the reader) each parent has.
pub struct ChildCountLoader(PgPool, Reader);

impl Loader<(Parent, i64)> for ChildCountLoader {
    type Value = i64;
    type Error = Arc<StoreError>;

    async fn load(&self, keys: &[(Parent, i64)]) -> LoadResult<(Parent, i64), i64> {
        let mut groups: HashMap<Parent, Vec<i64>> = HashMap::new();
        for (parent, key) in keys {
            groups.entry(*parent).or_default().push(*key);
        }
        let mut counts = HashMap::new();
        for (parent, parent_keys) in groups {
            let found = comments::child_counts(&self.0, parent, &parent_keys, self.1)
                .await
                .map_err(Arc::new)?;
            counts.extend(found.into_iter().map(|(key, count)| ((parent, key), count)));
        }
        Ok(counts)
    }
}

/// One page of the published posts under a tag or an author.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OwnerPageKey {
    pub owner: PostOwner,
    pub key: i64,
    pub window: Window,
}

/// Pages of posts, one statement for all tags (up to 100 a statement) or authors that
/// ask for the same page, within the answer's budget.
pub struct OwnerPageLoader(PgPool, Reader, Arc<ReadBudget>);

impl Loader<OwnerPageKey> for OwnerPageLoader {
    type Value = Vec<Post>;
    type Error = Arc<StoreError>;

    async fn load(&self, keys: &[OwnerPageKey]) -> LoadResult<OwnerPageKey, Vec<Post>> {
        let mut groups: HashMap<(PostOwner, &Window), Vec<i64>> = HashMap::new();
        for key in keys {
            groups
                .entry((key.owner, &key.window))
                .or_default()
                .push(key.key);
        }
        let mut pages = HashMap::new();
        for ((owner, window), owner_keys) in groups {
            for statement_keys in owner_keys.chunks(posts::OWNER_PAGES_PER_STATEMENT) {
                let mut found = posts::owner_pages(
                    &self.0,
                    self.1,
                    owner,
                    statement_keys,
                    window,
                    PostColumns::All,
                    &self.2,
                )
                .await
                .map_err(Arc::new)?;
                for &key in statement_keys {
                    let posts = found.remove(&key).unwrap_or_default();
                    let window = window.clone();
                    pages.insert(OwnerPageKey { owner, key, window }, posts);
                }
            }
        }
        Ok(pages)
    }
}

/// How many published posts (visible to the reader) each tag or author has.
pub struct OwnerCountLoader(PgPool, Reader);

impl Loader<(PostOwner, i64)> for OwnerCountLoader {
    type Value = i64;
    type Error = Arc<StoreError>;

    async fn load(&self, keys: &[(PostOwner, i64)]) -> LoadResult<(PostOwner, i64), i64> {
        let mut groups: HashMap<PostOwner, Vec<i64>> = HashMap::new();
        for (owner, key) in keys {
            groups.entry(*owner).or_default().push(*key);
        }
        let mut counts = HashMap::new();
        for (owner, owner_keys) in groups {
            let found = posts::owner_counts(&self.0, self.1, owner, &owner_keys)
                .await
                .map_err(Arc::new)?;
            counts.extend(found.into_iter().map(|(key, count)| ((owner, key), count)));
        }
        Ok(counts)
    }
}

/// The loaders of one request (or one WebSocket connection). They batch but do not cache,
/// so a long-lived subscription never serves stale rows.
pub struct Loaders {
    pub authors: DataLoader<AuthorLoader>,
    pub posts: DataLoader<PostLoader>,
    pub tags: DataLoader<TagLoader>,
    pub channels: DataLoader<ChannelLoader>,
    pub post_tags: DataLoader<PostTagsLoader>,
    pub comment_counts: DataLoader<CommentCountLoader>,
    pub reactions: DataLoader<ReactionLoader>,
    pub reply_counts: DataLoader<ReplyCountLoader>,
    pub comments: DataLoader<CommentLoader>,
    pub child_pages: DataLoader<ChildPageLoader>,
    pub child_counts: DataLoader<ChildCountLoader>,
    pub owner_pages: DataLoader<OwnerPageLoader>,
    pub owner_counts: DataLoader<OwnerCountLoader>,
}

impl Loaders {
    pub fn new(pool: &PgPool, reader: Reader, answer: Arc<ReadBudget>, delay: Duration) -> Self {
        let pool = pool.clone();
        Self {
            authors: batched(AuthorLoader(pool.clone(), reader), delay),
            posts: batched(PostLoader(pool.clone(), reader, answer.clone()), delay),
            tags: batched(TagLoader(pool.clone(), reader), delay),
            channels: batched(ChannelLoader(pool.clone(), reader), delay),
            post_tags: batched(PostTagsLoader(pool.clone()), delay),
            comment_counts: batched(CommentCountLoader(pool.clone(), reader), delay),
            reactions: batched(ReactionLoader(pool.clone()), delay),
            reply_counts: batched(ReplyCountLoader(pool.clone(), reader), delay),
            comments: batched(CommentLoader(pool.clone(), reader, answer.clone()), delay),
            child_pages: batched(ChildPageLoader(pool.clone(), reader, answer.clone()), delay),
            child_counts: batched(ChildCountLoader(pool.clone(), reader), delay),
            owner_pages: batched(OwnerPageLoader(pool.clone(), reader, answer), delay),
            owner_counts: batched(OwnerCountLoader(pool, reader), delay),
        }
    }
}

/// A loader whose batches run as counted tasks (statements are counted per request) after
/// collecting keys for `delay`.
fn batched<T: Send + Sync + 'static>(loader: T, delay: Duration) -> DataLoader<T> {
    DataLoader::new(loader, gazette_metrics::spawn_counted).delay(delay)
}

/// Loading one key in a resolver, failures reported the resolver's way.
pub trait LoadOne<K, V> {
    fn one(&self, key: K) -> impl Future<Output = Result<Option<V>, ApiError>> + Send;

    /// The row of `key`, or the error `missing` makes when there is none (or the reader
    /// may not see it).
    fn one_or(
        &self,
        key: K,
        missing: impl FnOnce() -> ApiError + Send,
    ) -> impl Future<Output = Result<V, ApiError>> + Send
    where
        Self: Sync,
        K: Send,
    {
        async move { self.one(key).await?.ok_or_else(missing) }
    }
}

impl<K, T> LoadOne<K, T::Value> for DataLoader<T>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    T: Loader<K, Error = Arc<StoreError>>,
{
    async fn one(&self, key: K) -> Result<Option<T::Value>, ApiError> {
        self.load_one(key).await.map_err(loader_error)
    }
}

/// A loader failure as the resolver reports it: as the domain reports the same store
/// failure (`TIMEOUT`, `DATABASE_UNAVAILABLE`, the budget's refusal…), else logged and
/// shown as `INTERNAL`.
pub(super) fn loader_error(error: Arc<StoreError>) -> ApiError {
    match gazette_domain::DomainError::known(&error) {
        Some(known) => known.into(),
        None => ApiError::internal(SharedError(error)),
    }
}

/// A store error shared by every key of a failed batch.
#[derive(Debug)]
struct SharedError(Arc<StoreError>);

impl std::fmt::Display for SharedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for SharedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
