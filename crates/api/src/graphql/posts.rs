//! Posts in the schema: the `Post` type, `post`/`posts`, the post mutations and the
//! `postPublished` subscription.

use async_graphql::futures_util::{Stream, StreamExt};
use async_graphql::{
    Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject, Subscription,
};
use chrono::{DateTime, Utc};
use gazette_store::keyset::Direction;
use gazette_store::posts::{
    self, Post, PostColumns, PostFilter as StoreFilter, PostOrder as StoreOrder,
    PostOrderField as StoreField,
};

use super::connection::PageArgs;
use super::context::RequestContext;
use super::errors::ApiError;
use super::ids::{GlobalId, Lookup, NodeKind};
use super::loaders::LoadOne;
use super::objects::{PostConnection, PostNode, PostStatus, post_connection};
use super::socket_session::subscription_slot;
use crate::events::EventHub;
use gazette_domain::publishing::{self, PostEdit, PostInput};
use gazette_domain::{DomainError, Viewer};
use gazette_store::PgPool;

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
        let post = Lookup::find(
            (id, slug, NodeKind::Post),
            async |id| request.loaders.posts.one(id).await,
            async |slug| {
                posts::find_visible_by_slug(
                    &request.pool,
                    &slug,
                    request.reader(),
                    PostColumns::All,
                    &request.answer,
                )
                .await
            },
        )
        .await?;
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
    // PostgreSQL's timestamps reach further than any date a post can have, but not as far
    // as chrono's: a bound no post can pass is refused, as a post's own date would be.
    for (field, bound) in [
        ("filter.publishedAfter", filter.published_after),
        ("filter.publishedBefore", filter.published_before),
    ] {
        if bound.is_some_and(|at| !publishing::writable_date(at)) {
            return Err(publishing::unwritable_date(field).into());
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
    // By the tag's id, which the list's statement is planned for; an unknown tag (or one
    // the reader cannot see) has no posts: match nothing rather than everything.
    let tag_id = match &filter.tag {
        Some(slug) => Some(
            gazette_store::tags::find_visible_by_slug(&request.pool, slug, request.reader())
                .await?
                .map_or(0, |tag| tag.id),
        ),
        None => None,
    };
    Ok(StoreFilter {
        status: status.into(),
        author_id,
        tag_id,
        published_after: filter.published_after,
        published_before: filter.published_before,
        search,
    })
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

/// The payloads of the mutations that return the post they wrote.
macro_rules! post_payloads {
    ($($name:ident),*) => {$(
        #[derive(SimpleObject)]
        pub struct $name {
            pub post: PostNode,
            pub client_mutation_id: Option<String>,
        }

        impl $name {
            fn of(post: Post, client_mutation_id: Option<String>) -> Option<Self> {
                Some(Self {
                    post: PostNode(post),
                    client_mutation_id,
                })
            }
        }
    )*};
}

post_payloads!(
    CreatePostPayload,
    UpdatePostPayload,
    PublishPostPayload,
    UnpublishPostPayload,
    SchedulePostPayload,
    UnschedulePostPayload
);

#[derive(SimpleObject)]
pub struct DeletePostPayload {
    /// The id the post had.
    pub deleted_post_id: ID,
    /// The post as it was before deletion.
    pub post: PostNode,
    pub client_mutation_id: Option<String>,
}

/// The post `id` names, changed by `change` as the request's viewer (who needs a token).
async fn change_post(
    ctx: &Context<'_>,
    id: &ID,
    change: impl AsyncFnOnce(&PgPool, &Viewer, i64) -> Result<Post, DomainError>,
) -> Result<Post, ApiError> {
    let request = RequestContext::of(ctx)?;
    request.require_token()?;
    let id = GlobalId::decode(id, NodeKind::Post, "id")?;
    Ok(change(&request.pool, &request.viewer, id).await?)
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
        Ok(CreatePostPayload::of(post, input.client_mutation_id))
    }

    /// Changes a post; fields left out stay as they are. Authors change their own posts.
    async fn update_post(
        &self,
        ctx: &Context<'_>,
        input: UpdatePostInput,
    ) -> Result<Option<UpdatePostPayload>> {
        let edit = PostEdit {
            title: input.title,
            body: input.body,
            excerpt: match input.excerpt {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(excerpt) => Some(Some(excerpt)),
            },
            slug: input.slug,
            tags: input.tags,
            comments_open: input.comments_open,
            published_at: input.published_at,
        };
        let post = change_post(ctx, &input.id, async |pool, viewer, id| {
            publishing::update_post(pool, viewer, id, edit).await
        })
        .await?;
        Ok(UpdatePostPayload::of(post, input.client_mutation_id))
    }

    /// Publishes a post.
    async fn publish_post(
        &self,
        ctx: &Context<'_>,
        input: PublishPostInput,
    ) -> Result<Option<PublishPostPayload>> {
        let post = change_post(ctx, &input.id, async |pool, viewer, id| {
            publishing::publish_post(pool, viewer, id, input.published_at).await
        })
        .await?;
        Ok(PublishPostPayload::of(post, input.client_mutation_id))
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
        let post = change_post(ctx, &input.id, async |pool, viewer, id| {
            publishing::schedule_post(pool, viewer, id, input.publish_at).await
        })
        .await?;
        Ok(SchedulePostPayload::of(post, input.client_mutation_id))
    }

    /// Takes a scheduled post back to a draft (it keeps its planned time until it is
    /// scheduled or published again).
    async fn unschedule_post(
        &self,
        ctx: &Context<'_>,
        input: PostIdInput,
    ) -> Result<Option<UnschedulePostPayload>> {
        let post = change_post(ctx, &input.id, async |pool, viewer, id| {
            publishing::unschedule_post(pool, viewer, id).await
        })
        .await?;
        Ok(UnschedulePostPayload::of(post, input.client_mutation_id))
    }

    /// Makes a published post a draft again.
    async fn unpublish_post(
        &self,
        ctx: &Context<'_>,
        input: PostIdInput,
    ) -> Result<Option<UnpublishPostPayload>> {
        let post = change_post(ctx, &input.id, async |pool, viewer, id| {
            publishing::unpublish_post(pool, viewer, id).await
        })
        .await?;
        Ok(UnpublishPostPayload::of(post, input.client_mutation_id))
    }

    /// Deletes a post and its comments, for good.
    async fn delete_post(
        &self,
        ctx: &Context<'_>,
        input: PostIdInput,
    ) -> Result<Option<DeletePostPayload>> {
        let post = change_post(ctx, &input.id, async |pool, viewer, id| {
            publishing::delete_post(pool, viewer, id).await
        })
        .await?;
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
