//! Posts in the schema: the `Post` type, `post`/`posts`, the post mutations and the
//! `postPublished` subscription.

use async_graphql::futures_util::{Stream, StreamExt};
use async_graphql::{
    Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject, Subscription,
};
use chrono::{DateTime, Utc};
use gazette_store::comments::Parent;
use gazette_store::keyset::Direction;
use gazette_store::posts::{
    self, Post, PostFilter as StoreFilter, PostOrder as StoreOrder, PostOrderField as StoreField,
};

use super::authors::AuthorNode;
use super::comments::{CommentConnection, CommentOrder, child_connection, thread_connection};
use super::connection::{PageArgs, TotalCount, connection_types, load_page};
use super::context::RequestContext;
use super::errors::ApiError;
use super::ids::{GlobalId, Lookup, NodeKind};
use super::loaders::LoadOne;
use super::socket_session::subscription_slot;
use super::tags::TagNode;
use crate::events::EventHub;
use gazette_domain::feeds::{Subject, main_feed};
use gazette_domain::publishing::{self, PostEdit, PostInput};

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

/// Which posts to list. Every condition given must hold.
#[derive(InputObject, Default, Debug)]
pub struct PostFilter {
    /// Posts with the tag of this slug.
    pub tag: Option<String>,
    /// Posts by the author of this id.
    pub author: Option<ID>,
    /// Posts by the author of this slug.
    pub author_slug: Option<String>,
    /// `PUBLISHED` (the default) or `DRAFT`: drafts need a token; authors see their own,
    /// admins all.
    pub status: Option<PostStatus>,
    /// Published strictly after this instant.
    pub published_after: Option<DateTime<Utc>>,
    /// Published strictly before this instant.
    pub published_before: Option<DateTime<Utc>>,
    /// Full-text search over title and body: words, "quoted phrases", `-excluded`, `or`.
    pub search: Option<String>,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum PostOrderField {
    /// Publication date (creation date for drafts never published).
    PublishedAt,
    UpdatedAt,
    Title,
}

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum OrderDirection {
    Asc,
    Desc,
}

/// How to order posts; the default is newest published first.
#[derive(InputObject, Debug, Clone, Copy)]
pub struct PostOrder {
    pub field: PostOrderField,
    #[graphql(default_with = "OrderDirection::Desc")]
    pub direction: OrderDirection,
}

impl From<PostOrder> for StoreOrder {
    fn from(order: PostOrder) -> Self {
        StoreOrder {
            field: match order.field {
                PostOrderField::PublishedAt => StoreField::PublishedAt,
                PostOrderField::UpdatedAt => StoreField::UpdatedAt,
                PostOrderField::Title => StoreField::Title,
            },
            direction: match order.direction {
                OrderDirection::Asc => Direction::Asc,
                OrderDirection::Desc => Direction::Desc,
            },
        }
    }
}

/// The cursor namespace of an ordering: cursors do not cross orderings.
fn ordering_name(order: StoreOrder) -> &'static str {
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
    let ordering = ordering_name(order);
    let reader = request.reader();
    let pool = request.pool.clone();
    let page_filter = filter.clone();
    let answer = request.answer.clone();
    let (edges, page_info) =
        load_page(
            &args,
            ordering,
            |window| async move {
                posts::page(&pool, reader, &page_filter, order, &window, &answer).await
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

#[derive(Default)]
pub struct PostQuery;

#[Object]
impl PostQuery {
    /// A post by its global `id` or its `slug` (give one); null when there is none or the
    /// viewer may not see it (drafts).
    async fn post(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        slug: Option<String>,
    ) -> Result<Option<PostNode>> {
        let request = RequestContext::of(ctx)?;
        let post = match Lookup::new(id, slug, NodeKind::Post)? {
            Lookup::Id(id) => request.loaders.posts.one(id).await?,
            Lookup::Slug(slug) => {
                posts::find_visible_by_slug(&request.pool, &slug, request.reader(), &request.answer)
                    .await
                    .map_err(ApiError::from)?
            }
        };
        Ok(post.map(PostNode))
    }

    /// Posts, newest published first unless `orderBy` says otherwise.
    #[expect(
        clippy::too_many_arguments,
        reason = "each argument is a GraphQL argument of the field"
    )]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<PostFilter>,
        order_by: Option<PostOrder>,
    ) -> Result<PostConnection> {
        let request = RequestContext::of(ctx)?;
        let filter = store_filter(request, filter.unwrap_or_default()).await?;
        let order = order_by.map(StoreOrder::from).unwrap_or_default();
        Ok(post_connection(
            ctx,
            PageArgs::new(first, after, last, before),
            filter,
            order,
        )
        .await?)
    }
}

async fn store_filter(
    request: &RequestContext,
    filter: PostFilter,
) -> Result<StoreFilter, ApiError> {
    let status = filter.status.unwrap_or(PostStatus::Published);
    request.viewer.require_lister_of(status.into())?;
    let mut author_id = filter
        .author
        .as_deref()
        .map(|id| GlobalId::decode(id, NodeKind::Author, "filter.author"))
        .transpose()?;
    if let Some(slug) = &filter.author_slug {
        // An unknown author has no posts: match nothing rather than everything.
        let found =
            gazette_store::authors::find_visible_by_slug(&request.pool, slug, request.reader())
                .await?;
        let id = found.map_or(0, |author| author.id);
        if author_id.is_some_and(|given| given != id) {
            author_id = Some(0);
        } else {
            author_id = Some(id);
        }
    }
    if let (Some(after), Some(before)) = (filter.published_after, filter.published_before)
        && after >= before
    {
        return Err(ApiError::bad_input(
            "filter.publishedBefore",
            "`publishedBefore` must be later than `publishedAfter`.",
        ));
    }
    let search = filter
        .search
        .map(|search| search.trim().to_owned())
        .filter(|search| !search.is_empty());
    if search
        .as_ref()
        .is_some_and(|search| search.chars().count() > 500)
    {
        return Err(ApiError::bad_input(
            "filter.search",
            "Search for at most 500 characters.",
        ));
    }
    Ok(StoreFilter {
        status: status.into(),
        author_id,
        tag_slug: filter.tag,
        published_after: filter.published_after,
        published_before: filter.published_before,
        search,
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
            .one(self.0.author_id)
            .await?
            .ok_or_else(|| ApiError::internal("a post's author is missing"))?;
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
}

#[derive(InputObject)]
pub struct CreatePostInput {
    pub title: String,
    /// Markdown.
    #[graphql(default)]
    pub body: String,
    /// A summary; without one, the start of the body is used.
    pub excerpt: Option<String>,
    /// Without one, the slug is made from the title (and made unique).
    pub slug: Option<String>,
    /// Tag names; new tags are created.
    #[graphql(default)]
    pub tags: Vec<String>,
    #[graphql(default = true)]
    pub comments_open: bool,
    /// `DRAFT` (the default), `PUBLISHED`, or `SCHEDULED` (published by the worker at
    /// `publishedAt`).
    #[graphql(default_with = "PostStatus::Draft")]
    pub status: PostStatus,
    /// For `PUBLISHED`: the publication date (default now; not in the future). For
    /// `SCHEDULED`: when to publish (required, in the future).
    pub published_at: Option<DateTime<Utc>>,
    /// Admins only: write on this author's behalf.
    pub author_id: Option<ID>,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct UpdatePostInput {
    pub id: ID,
    pub title: Option<String>,
    pub body: Option<String>,
    /// A new summary; `null` returns to the start of the body.
    pub excerpt: MaybeUndefined<String>,
    /// A new slug (the slug does not follow title changes by itself).
    pub slug: Option<String>,
    /// The complete new list of tag names.
    pub tags: Option<Vec<String>>,
    pub comments_open: Option<bool>,
    /// A published post's publication date (not in the future), or a scheduled post's new
    /// time to publish (in the future).
    pub published_at: Option<DateTime<Utc>>,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct SchedulePostInput {
    pub id: ID,
    /// When the worker publishes the post (in the future).
    pub publish_at: DateTime<Utc>,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct SchedulePostPayload {
    pub post: PostNode,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct UnschedulePostPayload {
    pub post: PostNode,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct PublishPostInput {
    pub id: ID,
    /// Default: when the post was first published, or now.
    pub published_at: Option<DateTime<Utc>>,
    pub client_mutation_id: Option<String>,
}

#[derive(InputObject)]
pub struct PostIdInput {
    pub id: ID,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct CreatePostPayload {
    pub post: PostNode,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct UpdatePostPayload {
    pub post: PostNode,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct PublishPostPayload {
    pub post: PostNode,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct UnpublishPostPayload {
    pub post: PostNode,
    pub client_mutation_id: Option<String>,
}

#[derive(SimpleObject)]
pub struct DeletePostPayload {
    /// The id the post had.
    pub deleted_post_id: ID,
    /// The post as it was before deletion.
    pub post: PostNode,
    pub client_mutation_id: Option<String>,
}

#[derive(Default)]
pub struct PostMutation;

#[Object]
impl PostMutation {
    /// Writes a new post (a draft unless `status: PUBLISHED`). Needs a token.
    async fn create_post(
        &self,
        ctx: &Context<'_>,
        input: CreatePostInput,
    ) -> Result<Option<CreatePostPayload>> {
        let request = RequestContext::of(ctx)?;
        request.require_token()?;
        let author_id = input
            .author_id
            .as_deref()
            .map(|id| GlobalId::decode(id, NodeKind::Author, "authorId"))
            .transpose()?;
        let post = publishing::create_post(
            &request.pool,
            &request.viewer,
            PostInput {
                title: input.title,
                body: input.body,
                excerpt: input.excerpt,
                slug: input.slug,
                tags: input.tags,
                comments_open: Some(input.comments_open),
                status: input.status.into(),
                published_at: input.published_at,
                author_id,
            },
        )
        .await
        .map_err(ApiError::from)?;
        Ok(Some(CreatePostPayload {
            post: PostNode(post),
            client_mutation_id: input.client_mutation_id,
        }))
    }

    /// Changes a post; fields left out stay as they are. Authors change their own posts.
    async fn update_post(
        &self,
        ctx: &Context<'_>,
        input: UpdatePostInput,
    ) -> Result<Option<UpdatePostPayload>> {
        let request = RequestContext::of(ctx)?;
        request.require_token()?;
        let id = GlobalId::decode(&input.id, NodeKind::Post, "id")?;
        let excerpt = match input.excerpt {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(excerpt) => Some(Some(excerpt)),
        };
        let post = publishing::update_post(
            &request.pool,
            &request.viewer,
            id,
            PostEdit {
                title: input.title,
                body: input.body,
                excerpt,
                slug: input.slug,
                tags: input.tags,
                comments_open: input.comments_open,
                published_at: input.published_at,
            },
        )
        .await
        .map_err(ApiError::from)?;
        Ok(Some(UpdatePostPayload {
            post: PostNode(post),
            client_mutation_id: input.client_mutation_id,
        }))
    }

    /// Publishes a post.
    async fn publish_post(
        &self,
        ctx: &Context<'_>,
        input: PublishPostInput,
    ) -> Result<Option<PublishPostPayload>> {
        let request = RequestContext::of(ctx)?;
        request.require_token()?;
        let id = GlobalId::decode(&input.id, NodeKind::Post, "id")?;
        let post = publishing::publish_post(&request.pool, &request.viewer, id, input.published_at)
            .await
            .map_err(ApiError::from)?;
        Ok(Some(PublishPostPayload {
            post: PostNode(post),
            client_mutation_id: input.client_mutation_id,
        }))
    }

    /// Schedules a draft, or reschedules a scheduled post: the worker publishes it at
    /// `publishAt` (within seconds), with everything a manual publish does (feeds,
    /// channel texts, `postPublished`). Until then only its author and admins see it.
    /// Authors schedule their own posts.
    async fn schedule_post(
        &self,
        ctx: &Context<'_>,
        input: SchedulePostInput,
    ) -> Result<Option<SchedulePostPayload>> {
        let request = RequestContext::of(ctx)?;
        request.require_token()?;
        let id = GlobalId::decode(&input.id, NodeKind::Post, "id")?;
        let post = publishing::schedule_post(&request.pool, &request.viewer, id, input.publish_at)
            .await
            .map_err(ApiError::from)?;
        Ok(Some(SchedulePostPayload {
            post: PostNode(post),
            client_mutation_id: input.client_mutation_id,
        }))
    }

    /// Takes a scheduled post back to a draft (it keeps its planned time until it is
    /// scheduled or published again).
    async fn unschedule_post(
        &self,
        ctx: &Context<'_>,
        input: PostIdInput,
    ) -> Result<Option<UnschedulePostPayload>> {
        let request = RequestContext::of(ctx)?;
        request.require_token()?;
        let id = GlobalId::decode(&input.id, NodeKind::Post, "id")?;
        let post = publishing::unschedule_post(&request.pool, &request.viewer, id)
            .await
            .map_err(ApiError::from)?;
        Ok(Some(UnschedulePostPayload {
            post: PostNode(post),
            client_mutation_id: input.client_mutation_id,
        }))
    }

    /// Makes a published post a draft again.
    async fn unpublish_post(
        &self,
        ctx: &Context<'_>,
        input: PostIdInput,
    ) -> Result<Option<UnpublishPostPayload>> {
        let request = RequestContext::of(ctx)?;
        request.require_token()?;
        let id = GlobalId::decode(&input.id, NodeKind::Post, "id")?;
        let post = publishing::unpublish_post(&request.pool, &request.viewer, id)
            .await
            .map_err(ApiError::from)?;
        Ok(Some(UnpublishPostPayload {
            post: PostNode(post),
            client_mutation_id: input.client_mutation_id,
        }))
    }

    /// Deletes a post and its comments, for good.
    async fn delete_post(
        &self,
        ctx: &Context<'_>,
        input: PostIdInput,
    ) -> Result<Option<DeletePostPayload>> {
        let request = RequestContext::of(ctx)?;
        request.require_token()?;
        let id = GlobalId::decode(&input.id, NodeKind::Post, "id")?;
        let post = publishing::delete_post(&request.pool, &request.viewer, id)
            .await
            .map_err(ApiError::from)?;
        Ok(Some(DeletePostPayload {
            deleted_post_id: input.id,
            post: PostNode(post),
            client_mutation_id: input.client_mutation_id,
        }))
    }
}

#[derive(Default)]
pub struct PostSubscription;

#[Subscription]
impl PostSubscription {
    /// Each post published from now on, from any API process.
    async fn post_published(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = PostNode> + use<>> {
        let slot = subscription_slot(ctx)?;
        let posts = ctx.data::<EventHub>()?.published_posts();
        Ok(posts.map(move |post| {
            // The subscription holds its place on the socket until it ends.
            let _held = &slot;
            PostNode((*post).clone())
        }))
    }
}
