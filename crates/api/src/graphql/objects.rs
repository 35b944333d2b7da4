//! The schema's content objects (`Post`, `Comment`, `Author`, `Tag`), their connections,
//! and how each of their fields resolves. They refer to one another (a post's author, an
//! author's posts, a comment's post, a post's comments), so they live in one module, below
//! the roots: `posts`, `comments`, `tags`, `authors` and `node` hold the queries,
//! mutations and subscriptions that return them, and nothing here imports those.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use gazette_domain::feeds::{Subject, main_feed};
use gazette_store::authors::Author;
use gazette_store::comments::{self, ChildPage, Columns, Comment, Parent};
use gazette_store::keyset::{Direction, Position, SortKey, Window};
use gazette_store::posts::{
    self, Post, PostColumns, PostFilter as StoreFilter, PostOrder as StoreOrder,
    PostOrderField as StoreField, PostOwner,
};
use gazette_store::tags::Tag;

use super::connection::{
    Edge, PageArgs, PageInfo, PageRequest, TotalCount, connection_types, load_page,
};
use super::context::RequestContext;
use super::errors::ApiError;
use super::ids::{GlobalId, NodeKind};
use super::loaders::{ChildPageKey, LoadOne, OwnerPageKey};

connection_types!(PostConnection, PostEdge, PostNode, "A page of posts.");

// The store's status as the schema shows it (the derive's conversions fail to compile if
// the two lists differ).
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(remote = "gazette_store::posts::PostStatus")]
pub enum PostStatus {
    Draft,
    /// Waiting to be published at its `publishedAt` (seen only by its author and admins).
    Scheduled,
    Published,
}

/// The cursor namespace of an ordering: cursors do not cross orderings.
pub(super) fn post_ordering(order: StoreOrder) -> &'static str {
    match (order.field, order.direction) {
        (StoreField::PublishedAt, Direction::Desc) => "posts:published:desc",
        (StoreField::PublishedAt, Direction::Asc) => "posts:published:asc",
        (StoreField::UpdatedAt, Direction::Desc) => "posts:updated:desc",
        (StoreField::UpdatedAt, Direction::Asc) => "posts:updated:asc",
        (StoreField::Title, Direction::Desc) => "posts:title:desc",
        (StoreField::Title, Direction::Asc) => "posts:title:asc",
    }
}

/// One page of the posts `filter` selects, as the viewer may see them.
pub async fn post_connection(
    ctx: &Context<'_>,
    args: PageArgs,
    filter: StoreFilter,
    order: StoreOrder,
) -> Result<PostConnection, ApiError> {
    let request = RequestContext::of(ctx)?;
    let ordering = post_ordering(order);
    let reader = request.reader();
    let pool = request.pool.clone();
    let page_filter = filter.clone();
    let answer = request.answer.clone();
    let (edges, page_info) = load_page(
        &args,
        ordering,
        |window| async move {
            posts::page(
                &pool,
                reader,
                &page_filter,
                order,
                &window,
                PostColumns::All,
                &answer,
            )
            .await
        },
        |post| post.position(order.field),
        PostNode,
    )
    .await?;
    let pool = request.pool.clone();
    Ok(PostConnection {
        edges,
        page_info,
        total_count: TotalCount::new(move || {
            let pool = pool.clone();
            let filter = filter.clone();
            async move { Ok(posts::count(&pool, reader, &filter).await?) }
        }),
    })
}

/// The published posts under a tag or an author, newest first: one statement per level
/// of the answer for every tag (or author) asking for the same page, as comment lists are.
async fn owned_post_connection(
    ctx: &Context<'_>,
    owner: PostOwner,
    key: i64,
    args: PageArgs,
) -> Result<PostConnection, ApiError> {
    let request = RequestContext::of(ctx)?;
    let order = StoreOrder::default();
    let ordering = post_ordering(order);
    let page = PageRequest::new(&args, ordering)?;
    let rows = request
        .loaders
        .owner_pages
        .one(OwnerPageKey {
            owner,
            key,
            window: page.window.clone(),
        })
        .await?
        .unwrap_or_default();
    let (edges, page_info) =
        page.finish(rows, ordering, |post| post.position(order.field), PostNode);
    let loaders = request.loaders.clone();
    Ok(PostConnection {
        edges,
        page_info,
        total_count: TotalCount::new(move || {
            let loaders = loaders.clone();
            async move { Ok(loaders.owner_counts.one((owner, key)).await?.unwrap_or(0)) }
        }),
    })
}

/// A blog post.
pub struct PostNode(pub Post);

#[Object(name = "Post")]
impl PostNode {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Post, self.0.id).to_id()
    }

    /// The post's name in URLs; stable when the title changes.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The Markdown source.
    async fn body(&self, ctx: &Context<'_>) -> Result<&str> {
        Ok(RequestContext::of(ctx)?.charge(&self.0.body)?)
    }

    /// `body` rendered to sanitised HTML (when the post was written).
    async fn body_html(&self, ctx: &Context<'_>) -> Result<&str> {
        Ok(RequestContext::of(ctx)?.charge(&self.0.body_html)?)
    }

    /// A plain-text summary: the author's, or the start of the body.
    async fn excerpt(&self, ctx: &Context<'_>) -> Result<&str> {
        Ok(RequestContext::of(ctx)?.charge(&self.0.excerpt)?)
    }

    async fn status(&self) -> PostStatus {
        self.0.status.into()
    }

    /// When the post was (first) published; null for drafts never published.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.published_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// Whether readers may comment.
    async fn comments_open(&self) -> bool {
        self.0.comments_open
    }

    /// Where the post is read: an absolute URL.
    async fn url(&self, ctx: &Context<'_>) -> Result<String> {
        let request = RequestContext::of(ctx)?;
        Ok(request.config.site.post_url(&self.0.slug))
    }

    async fn author(&self, ctx: &Context<'_>) -> Result<AuthorNode> {
        let request = RequestContext::of(ctx)?;
        let author = request
            .loaders
            .authors
            .one_or(self.0.author_id, || {
                ApiError::internal("a post's author is missing")
            })
            .await?;
        Ok(AuthorNode(author))
    }

    /// The post's tags, in the order the author gave them.
    async fn tags(&self, ctx: &Context<'_>) -> Result<Vec<TagNode>> {
        let request = RequestContext::of(ctx)?;
        let tags = request
            .loaders
            .post_tags
            .one(self.0.id)
            .await?
            .unwrap_or_default();
        Ok(tags.into_iter().map(TagNode).collect())
    }

    /// The RSS feed of the post's comments.
    async fn comments_feed_url(&self, ctx: &Context<'_>) -> Result<String> {
        let request = RequestContext::of(ctx)?;
        Ok(request
            .config
            .site
            .url(&main_feed(Subject::PostComments).key(&self.0.slug)))
    }

    /// The top-level comments (replies hang under them), oldest first by default.
    async fn comments(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] order_by: CommentOrder,
    ) -> Result<CommentConnection> {
        let args = PageArgs::new(first, after, last, before);
        Ok(child_connection(ctx, Parent::Post, self.0.id, args, order_by).await?)
    }

    /// The whole discussion flattened in display order (depth-first, oldest first), each
    /// comment with its `depth`: one statement per page, however deep the thread.
    async fn thread(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<CommentConnection> {
        Ok(thread_connection(ctx, self.0.id, first, after).await?)
    }

    /// Published comments on the post.
    async fn comment_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let request = RequestContext::of(ctx)?;
        let count = request.loaders.comment_counts.one(self.0.id).await?;
        Ok(count.unwrap_or(0))
    }

    /// Likes of the post from the fediverse (with `--federation`).
    async fn fediverse_likes(&self, ctx: &Context<'_>) -> Result<i64> {
        let request = RequestContext::of(ctx)?;
        let counts = request.loaders.reactions.one(self.0.id).await?;
        Ok(counts.map_or(0, |(likes, _)| likes))
    }

    /// Boosts (`Announce`s) of the post from the fediverse (with `--federation`).
    async fn fediverse_boosts(&self, ctx: &Context<'_>) -> Result<i64> {
        let request = RequestContext::of(ctx)?;
        let counts = request.loaders.reactions.one(self.0.id).await?;
        Ok(counts.map_or(0, |(_, boosts)| boosts))
    }
}

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

pub(super) fn comment_position(comment: &Comment) -> Position {
    Position {
        key: SortKey::Int(comment.id),
        id: comment.id,
    }
}

/// A keyset window over children (ordered by id) as the store reads it.
pub(super) fn child_page(window: &Window, newest_first: bool) -> ChildPage {
    ChildPage {
        after: window.after.as_ref().map(|position| position.id),
        before: window.before.as_ref().map(|position| position.id),
        limit: window.limit,
        from_end: window.from_end,
        newest_first,
    }
}

/// The cursor namespace of a list of children.
pub(super) fn comment_ordering(parent: Parent, newest_first: bool) -> &'static str {
    match (parent, newest_first) {
        (Parent::Post, false) => "comments:oldest",
        (Parent::Post, true) => "comments:newest",
        (Parent::Comment, false) => "replies:oldest",
        (Parent::Comment, true) => "replies:newest",
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
    let ordering = comment_ordering(parent, newest_first);
    let page = PageRequest::new(&args, ordering)?;
    let child_page = child_page(&page.window, newest_first);
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
    let (edges, page_info) = page.finish(rows, ordering, comment_position, CommentNode::from);
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

pub(super) const THREAD_ORDERING: &str = "thread";

/// A comment's place in its thread: the path of ids from the top.
pub(super) fn thread_position(comment: &Comment) -> Position {
    Position {
        key: SortKey::Text(
            comment
                .path
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join("."),
        ),
        id: comment.id,
    }
}

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
        Columns::All,
        &request.answer,
    )
    .await?;
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

pub(super) fn parse_path(path: &str) -> Result<Vec<i64>, ApiError> {
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
            .one_or(self.0.post_id, || {
                ApiError::not_found("The comment's post is not visible to you.")
            })
            .await?;
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

/// A label on posts.
pub struct TagNode(pub Tag);

#[Object(name = "Tag")]
impl TagNode {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Tag, self.0.id).to_id()
    }

    async fn slug(&self) -> &str {
        &self.0.slug
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The RSS feed of the tag's posts.
    async fn feed_url(&self, ctx: &Context<'_>) -> Result<String> {
        let request = RequestContext::of(ctx)?;
        Ok(request
            .config
            .site
            .url(&main_feed(Subject::Tag).key(&self.0.slug)))
    }

    /// The published posts with this tag, newest first.
    async fn posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<PostConnection> {
        let args = PageArgs::new(first, after, last, before);
        Ok(owned_post_connection(ctx, PostOwner::Tag, self.0.id, args).await?)
    }
}

/// A person who writes posts.
pub struct AuthorNode(pub Author);

#[Object(name = "Author")]
impl AuthorNode {
    pub async fn id(&self) -> ID {
        GlobalId::new(NodeKind::Author, self.0.id).to_id()
    }

    async fn slug(&self) -> &str {
        &self.0.slug
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn bio(&self) -> &str {
        &self.0.bio
    }

    /// The author's own website.
    async fn url(&self) -> Option<&str> {
        self.0.url.as_deref()
    }

    /// The author's published posts, newest first.
    async fn posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<PostConnection> {
        let args = PageArgs::new(first, after, last, before);
        Ok(owned_post_connection(ctx, PostOwner::Author, self.0.id, args).await?)
    }
}
