//! Writing posts: input checks, rendering, slugs, permissions, and the transaction around
//! each change. The GraphQL mutations are thin wrappers over these functions.

use chrono::{DateTime, Datelike, TimeDelta, Utc};
use gazette_store::posts::{self, NewPost, Post, PostChanges, PostStatus};
use gazette_store::tags::{self, TagName};
use gazette_store::{PgPool, StoreError, authors, summaries};

use crate::error::DomainError;
use crate::policy::Viewer;

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_BODY_BYTES: usize = 256 * 1024;
pub const MAX_EXCERPT_CHARS: usize = 1000;
pub const MAX_SLUG_LEN: usize = 200;
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 100;
/// Generated excerpts: long enough for a feed reader's preview.
const EXCERPT_CHARS: usize = 300;
/// Clocks differ a little; "now" from a client may be slightly ahead of ours.
const CLOCK_SKEW: TimeDelta = TimeDelta::seconds(60);

/// A new post as the client sent it.
#[derive(Debug, Clone, Default)]
pub struct PostInput {
    pub title: String,
    pub body: String,
    pub excerpt: Option<String>,
    pub slug: Option<String>,
    pub tags: Vec<String>,
    pub comments_open: Option<bool>,
    /// Draft, published (at `published_at`, or now), or scheduled (for `published_at`).
    pub status: PostStatus,
    pub published_at: Option<DateTime<Utc>>,
    /// Admins may write on someone's behalf.
    pub author_id: Option<i64>,
}

/// Changes to a post; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct PostEdit {
    pub title: Option<String>,
    pub body: Option<String>,
    /// `Some(None)` returns the excerpt to following the body.
    pub excerpt: Option<Option<String>>,
    pub slug: Option<String>,
    pub tags: Option<Vec<String>>,
    pub comments_open: Option<bool>,
    pub published_at: Option<DateTime<Utc>>,
}

pub async fn create_post(
    pool: &PgPool,
    viewer: &Viewer,
    input: PostInput,
) -> Result<Post, DomainError> {
    let owner = viewer.require_token()?;
    let author_id = match input.author_id {
        Some(author) => {
            viewer.require_writer_as(author)?;
            let found = authors::find_visible(pool, &[author], viewer.reader()).await?;
            if found.is_empty() {
                return Err(DomainError::bad_input(
                    "authorId",
                    "There is no such author.",
                ));
            }
            author
        }
        None => owner.author_id,
    };
    let title = check_title(&input.title)?;
    check_body(&input.body)?;
    let excerpt = input.excerpt.as_deref().map(check_excerpt).transpose()?;
    let explicit_slug = input.slug.as_deref().map(check_slug).transpose()?;
    let tag_names = check_tags(&input.tags)?;
    let published_at = match input.status {
        PostStatus::Draft if input.published_at.is_some() => {
            return Err(DomainError::bad_input(
                "publishedAt",
                "`publishedAt` goes with `status: PUBLISHED` or `SCHEDULED` (or use publishPost or schedulePost).",
            ));
        }
        PostStatus::Draft => None,
        PostStatus::Published => {
            Some(check_published_at(input.published_at)?.unwrap_or_else(Utc::now))
        }
        PostStatus::Scheduled => Some(check_publish_at("publishedAt", input.published_at)?),
    };
    let (body_html, generated_excerpt) = render_body(input.body.clone()).await?;
    let base_slug = gazette_content::slugify(&title, MAX_SLUG_LEN, "post");

    // A generated slug can lose a race with a concurrent post: then pick the next one.
    for _ in 0..3 {
        let mut tx = pool.begin().await?;
        let slug = match &explicit_slug {
            Some(slug) => slug.clone(),
            None => posts::free_slug_unchecked(&mut tx, &base_slug, MAX_SLUG_LEN).await?,
        };
        let tags: Vec<TagName> = tag_names
            .iter()
            .map(|(slug, name)| TagName { slug, name })
            .collect();
        let inserted = insert_post(
            &mut tx,
            &NewPost {
                author_id,
                slug: &slug,
                title: &title,
                body: &input.body,
                body_html: &body_html,
                excerpt: excerpt.as_deref().unwrap_or(&generated_excerpt),
                custom_excerpt: excerpt.is_some(),
                status: input.status,
                comments_open: input.comments_open.unwrap_or(true),
                published_at,
            },
            &tags,
            PublishedBy::Writer,
        )
        .await;
        match inserted {
            Ok(post) => {
                tx.commit().await?;
                return Ok(post);
            }
            Err(error) if error.constraint() == Some("posts_slug_key") => {
                if explicit_slug.is_some() {
                    return Err(slug_taken());
                }
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(DomainError::internal(
        "could not find a free slug after three attempts",
    ))
}

pub async fn update_post(
    pool: &PgPool,
    viewer: &Viewer,
    id: i64,
    edit: PostEdit,
) -> Result<Post, DomainError> {
    viewer.require_token()?;
    let title = edit.title.as_deref().map(check_title).transpose()?;
    if let Some(body) = &edit.body {
        check_body(body)?;
    }
    let excerpt = match &edit.excerpt {
        Some(Some(excerpt)) => Some(Some(check_excerpt(excerpt)?)),
        Some(None) => Some(None),
        None => None,
    };
    let slug = edit.slug.as_deref().map(check_slug).transpose()?;
    let tag_names = edit.tags.as_deref().map(check_tags).transpose()?;
    // Rendered before the post's row is locked: comments on it wait for that lock.
    let (body_html, body_excerpt) = match &edit.body {
        Some(body) => {
            let (html, excerpt) = render_body(body.clone()).await?;
            (Some(html), Some(excerpt))
        }
        None => (None, None),
    };
    let mut tx = pool.begin().await?;
    let current = load_for_edit(&mut tx, viewer, id).await?;
    // A published post's date is in the past; a scheduled post's (a new time) in the future.
    let published_at = match (current.status, edit.published_at) {
        (_, None) => None,
        (PostStatus::Published, at) => check_published_at(at)?,
        (PostStatus::Scheduled, at) => Some(check_publish_at("publishedAt", at)?),
        (PostStatus::Draft, Some(_)) => {
            return Err(DomainError::bad_input(
                "publishedAt",
                "A draft has no publication date: use publishPost or schedulePost.",
            ));
        }
    };
    // An excerpt the author did not write follows the body.
    let new_excerpt = match excerpt {
        Some(Some(custom)) => Some((custom, true)),
        Some(None) => Some((
            match body_excerpt {
                Some(excerpt) => excerpt,
                None => render_excerpt(current.body.clone()).await,
            },
            false,
        )),
        None if !current.custom_excerpt => body_excerpt.map(|excerpt| (excerpt, false)),
        None => None,
    };
    let changes = PostChanges {
        slug: slug.as_deref(),
        title: title.as_deref(),
        body: edit.body.as_deref().zip(body_html.as_deref()),
        excerpt: new_excerpt
            .as_ref()
            .map(|(text, custom)| (text.as_str(), *custom)),
        comments_open: edit.comments_open,
        status: None,
        published_at,
    };
    let updated = match posts::update(&mut *tx, id, &changes).await {
        Ok(updated) => updated.ok_or_else(post_not_found)?,
        Err(error) if error.constraint() == Some("posts_slug_key") => return Err(slug_taken()),
        Err(error) => return Err(error.into()),
    };
    if let Some(tag_names) = &tag_names {
        set_tags(&mut tx, id, tag_names).await?;
    }
    tx.commit().await?;
    Ok(updated)
}

/// Publishes a post: at `published_at`, or when it was first published, or now. A
/// scheduled post is published now (its time has not come yet).
pub async fn publish_post(
    pool: &PgPool,
    viewer: &Viewer,
    id: i64,
    published_at: Option<DateTime<Utc>>,
) -> Result<Post, DomainError> {
    let published_at = check_published_at(published_at)?;
    change_status(pool, viewer, id, |current| {
        Ok(PostChanges {
            status: Some(PostStatus::Published),
            published_at: Some(
                published_at
                    .or(current.published_at.filter(|at| *at <= Utc::now()))
                    .unwrap_or_else(Utc::now),
            ),
            ..PostChanges::default()
        })
    })
    .await
}

/// Schedules a draft (or reschedules a scheduled post) for `publish_at`, when the worker
/// publishes it. Until then it is hidden from readers, as a draft is.
pub async fn schedule_post(
    pool: &PgPool,
    viewer: &Viewer,
    id: i64,
    publish_at: DateTime<Utc>,
) -> Result<Post, DomainError> {
    let publish_at = check_publish_at("publishAt", Some(publish_at))?;
    change_status(pool, viewer, id, |current| {
        if current.status == PostStatus::Published {
            return Err(DomainError::bad_input(
                "id",
                "The post is published already: unpublish it first to schedule it.",
            ));
        }
        Ok(PostChanges {
            status: Some(PostStatus::Scheduled),
            published_at: Some(publish_at),
            ..PostChanges::default()
        })
    })
    .await
}

/// Takes a scheduled post back to a draft; its planned time stays on it, shown to its
/// author, until it is scheduled or published again.
pub async fn unschedule_post(pool: &PgPool, viewer: &Viewer, id: i64) -> Result<Post, DomainError> {
    change_status(pool, viewer, id, |current| {
        if current.status != PostStatus::Scheduled {
            return Err(DomainError::bad_input("id", "The post is not scheduled."));
        }
        Ok(PostChanges {
            status: Some(PostStatus::Draft),
            ..PostChanges::default()
        })
    })
    .await
}

/// Makes a post a draft again; it keeps its publication date for a later republish. Its
/// ready-to-post summaries and its comments feed go at once, in the same transaction: they
/// are the public's, and the worker writes them again if the post comes back.
pub async fn unpublish_post(pool: &PgPool, viewer: &Viewer, id: i64) -> Result<Post, DomainError> {
    let mut tx = pool.begin().await?;
    load_for_edit(&mut tx, viewer, id).await?;
    let changes = PostChanges {
        status: Some(PostStatus::Draft),
        ..PostChanges::default()
    };
    let post = posts::update(&mut *tx, id, &changes)
        .await?
        .ok_or_else(post_not_found)?;
    summaries::remove_for_post(&mut *tx, id).await?;
    crate::feeds::remove_stale(&mut *tx).await?;
    tx.commit().await?;
    Ok(post)
}

/// How a post came to be published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishedBy {
    /// `createPost` or `publishPost`.
    Writer,
    /// The worker, when a scheduled post's time came.
    Schedule,
    /// `gazette import`.
    Import,
}

/// Every publication passes here, from every path (a writer, the schedule, an import), in
/// the transaction that makes it or, for the scheduler's single statement, right after
/// it: the one place for what follows a post going public. Today that is a log line per
/// post; an outbound event (a webhook, a fediverse delivery) belongs here, written with
/// the publication.
fn announce_published(ids: &[i64], by: PublishedBy) {
    if by == PublishedBy::Import {
        // An import publishes thousands: a line per batch, below the progress line.
        tracing::debug!(posts = ids.len(), first = ?ids.first(), last = ?ids.last(), "posts published by an import");
        return;
    }
    for id in ids {
        tracing::info!(post_id = id, by = ?by, "post published");
    }
}

/// Writes a new post with its tags: the one way a post is created, by a writer or by an
/// import. A post created published is announced as published.
pub(crate) async fn insert_post(
    tx: &mut gazette_store::PgConnection,
    post: &NewPost<'_>,
    tags: &[TagName<'_>],
    by: PublishedBy,
) -> Result<Post, StoreError> {
    let inserted = posts::insert(&mut *tx, post).await?;
    tags::set_post_tags(&mut *tx, inserted.id, tags).await?;
    announce_published_posts(std::slice::from_ref(&inserted), by);
    Ok(inserted)
}

/// Inserts new posts with their tags in a few statements (an import's batch), with the ids
/// given where there are (`None`: the next); returns them in the order given. What follows
/// a publication follows as for [`insert_post`].
/// `known_tags` and the tags returned are tag ids by lowercase name, as
/// [`tags::set_tags_of_new_posts`] keeps them between batches.
pub(crate) async fn insert_posts(
    tx: &mut gazette_store::PgConnection,
    new_posts: &[(NewPost<'_>, Vec<TagName<'_>>)],
    ids: &[Option<i64>],
    known_tags: &std::collections::HashMap<String, i64>,
    by: PublishedBy,
) -> Result<(Vec<Post>, std::collections::HashMap<String, i64>), StoreError> {
    let rows: Vec<NewPost<'_>> = new_posts.iter().map(|(post, _)| post.clone()).collect();
    let inserted = posts::insert_many(&mut *tx, &rows, ids).await?;
    let tagged: Vec<(i64, Vec<TagName<'_>>)> = inserted
        .iter()
        .zip(new_posts)
        .map(|(post, (_, tags))| (post.id, tags.clone()))
        .collect();
    let tags = tags::set_tags_of_new_posts(&mut *tx, &tagged, known_tags).await?;
    announce_published_posts(&inserted, by);
    Ok((inserted, tags))
}

fn announce_published_posts(inserted: &[Post], by: PublishedBy) {
    let published: Vec<i64> = inserted
        .iter()
        .filter(|post| post.status == PostStatus::Published)
        .map(|post| post.id)
        .collect();
    if !published.is_empty() {
        announce_published(&published, by);
    }
}

/// Publishes every scheduled post whose time has come (the database's clock decides);
/// returns their ids. The worker's scheduler calls this, never the store directly, so what
/// follows a publication is decided here for every way a post gets published.
pub async fn publish_due(pool: &PgPool) -> Result<Vec<i64>, StoreError> {
    let published = posts::publish_due(pool).await?;
    announce_published(&published, PublishedBy::Schedule);
    Ok(published)
}

/// When the next scheduled post is due, if any: a time, not a post, so nothing of a
/// scheduled post reaches a reader through it.
pub async fn next_scheduled(pool: &PgPool) -> Result<Option<DateTime<Utc>>, StoreError> {
    posts::next_scheduled_unchecked(pool).await
}

/// Applies the changes `decide` makes from the current post (or its refusal), in one
/// transaction.
async fn change_status(
    pool: &PgPool,
    viewer: &Viewer,
    id: i64,
    decide: impl FnOnce(&Post) -> Result<PostChanges<'static>, DomainError>,
) -> Result<Post, DomainError> {
    let mut tx = pool.begin().await?;
    let current = load_for_edit(&mut tx, viewer, id).await?;
    let post = posts::update(&mut *tx, id, &decide(&current)?)
        .await?
        .ok_or_else(post_not_found)?;
    if post.status == PostStatus::Published && current.status != PostStatus::Published {
        announce_published(&[post.id], PublishedBy::Writer);
    }
    tx.commit().await?;
    Ok(post)
}

/// Deletes a post with its comments; returns it as it was.
pub async fn delete_post(pool: &PgPool, viewer: &Viewer, id: i64) -> Result<Post, DomainError> {
    let mut tx = pool.begin().await?;
    let post = load_for_edit(&mut tx, viewer, id).await?;
    posts::delete(&mut *tx, id).await?;
    // Its comments feed (and tag feeds only it kept) go with it, not at the worker's next run.
    crate::feeds::remove_stale(&mut *tx).await?;
    tx.commit().await?;
    Ok(post)
}

/// The post, locked for the rest of the transaction, if this viewer may change it.
async fn load_for_edit(
    tx: &mut gazette_store::PgConnection,
    viewer: &Viewer,
    id: i64,
) -> Result<Post, DomainError> {
    viewer.require_token()?;
    let post = posts::find_for_update_unchecked(&mut *tx, id)
        .await?
        .ok_or_else(post_not_found)?;
    viewer.require_editor_of(&post)?;
    Ok(post)
}

async fn set_tags(
    tx: &mut gazette_store::PgConnection,
    post_id: i64,
    names: &[(String, String)],
) -> Result<(), DomainError> {
    let tags: Vec<TagName> = names
        .iter()
        .map(|(slug, name)| TagName { slug, name })
        .collect();
    tags::set_post_tags(tx, post_id, &tags).await?;
    Ok(())
}

fn post_not_found() -> DomainError {
    DomainError::not_found("There is no post with this id.")
}

fn slug_taken() -> DomainError {
    DomainError::bad_input("slug", "Another post already uses this slug.")
}

fn check_title(title: &str) -> Result<String, DomainError> {
    let title = title.trim();
    let chars = title.chars().count();
    if chars == 0 {
        return Err(DomainError::bad_input(
            "title",
            "The title must not be empty.",
        ));
    }
    if chars > MAX_TITLE_CHARS {
        return Err(DomainError::bad_input(
            "title",
            format!("The title may have at most {MAX_TITLE_CHARS} characters; it has {chars}."),
        ));
    }
    Ok(title.to_owned())
}

fn check_body(body: &str) -> Result<(), DomainError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(DomainError::bad_input(
            "body",
            format!(
                "The body may have at most 256 KiB ({MAX_BODY_BYTES} bytes of UTF-8); it has {}.",
                body.len()
            ),
        ));
    }
    Ok(())
}

fn check_excerpt(excerpt: &str) -> Result<String, DomainError> {
    let excerpt = excerpt.trim();
    if excerpt.chars().count() > MAX_EXCERPT_CHARS {
        return Err(DomainError::bad_input(
            "excerpt",
            format!("The excerpt may have at most {MAX_EXCERPT_CHARS} characters."),
        ));
    }
    Ok(excerpt.to_owned())
}

fn check_slug(slug: &str) -> Result<String, DomainError> {
    if gazette_content::is_slug(slug, MAX_SLUG_LEN) {
        Ok(slug.to_owned())
    } else {
        Err(DomainError::bad_input(
            "slug",
            format!(
                "A slug is 1 to {MAX_SLUG_LEN} lowercase letters and digits in words joined by single hyphens, such as `my-first-post`."
            ),
        ))
    }
}

/// Tag names, trimmed and deduplicated by name (without regard to case), as (slug, name)
/// pairs in the given order.
fn check_tags(names: &[String]) -> Result<Vec<(String, String)>, DomainError> {
    let mut tags: Vec<(String, String)> = Vec::new();
    for name in names {
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_TAG_CHARS {
            return Err(DomainError::bad_input(
                "tags",
                format!("Each tag has 1 to {MAX_TAG_CHARS} characters."),
            ));
        }
        // A tag is a label in pages, feeds and addresses, as a commenter's name is a
        // byline: the same characters are refused (feeds dropped them, pages showed them),
        // and one that shows nothing would be an empty link.
        if name
            .chars()
            .any(|c| c.is_control() || crate::commenting::is_direction_control(c))
        {
            return Err(DomainError::bad_input(
                "tags",
                "A tag may not hold control characters or text-direction overrides.",
            ));
        }
        if !name.chars().any(crate::commenting::is_visible) {
            return Err(DomainError::bad_input(
                "tags",
                "Each tag needs a visible character.",
            ));
        }
        if !tags
            .iter()
            .any(|(_, existing)| existing.to_lowercase() == name.to_lowercase())
        {
            tags.push((tag_slug(name), name.to_owned()));
        }
    }
    if tags.len() > MAX_TAGS {
        return Err(DomainError::bad_input(
            "tags",
            format!("A post may have at most {MAX_TAGS} tags."),
        ));
    }
    Ok(tags)
}

/// The slug a new tag asks for (the store adds `-2`, `-3`… when it is taken): names
/// without Latin letters or digits get one spelled from their bytes.
fn tag_slug(name: &str) -> String {
    let slug = gazette_content::slugify(name, MAX_TAG_CHARS, "");
    if !slug.is_empty() {
        return slug;
    }
    let spelled: String = name.bytes().map(|byte| format!("{byte:02x}")).collect();
    let mut slug = format!("tag-{spelled}");
    slug.truncate(MAX_TAG_CHARS);
    slug
}

/// Whether `at` can be written in every format Gazette writes dates in: RFC 3339 and RFC
/// 2822 (feeds, cursors, HTTP) have four-digit years, so years 1 to 9999.
pub fn writable_date(at: DateTime<Utc>) -> bool {
    (1..=9999).contains(&at.year())
}

/// The refusal of a date outside [`writable_date`]'s years (given or asked for).
pub fn unwritable_date(field: &str) -> DomainError {
    DomainError::bad_input(
        field,
        format!("`{field}` must be between the years 1 and 9999."),
    )
}

fn check_published_at(at: Option<DateTime<Utc>>) -> Result<Option<DateTime<Utc>>, DomainError> {
    match at {
        Some(at) if !writable_date(at) => Err(unwritable_date("publishedAt")),
        Some(at) if at > Utc::now() + CLOCK_SKEW => Err(DomainError::bad_input(
            "publishedAt",
            "A published post's `publishedAt` may not be in the future: schedule the post instead (schedulePost, or `status: SCHEDULED`).",
        )),
        other => Ok(other),
    }
}

/// A time to publish at: given, and in the future.
fn check_publish_at(field: &str, at: Option<DateTime<Utc>>) -> Result<DateTime<Utc>, DomainError> {
    match at {
        None => Err(DomainError::bad_input(
            field,
            format!("A scheduled post needs `{field}`: when to publish it."),
        )),
        Some(at) if at <= Utc::now() => Err(DomainError::bad_input(
            field,
            format!("`{field}` is not in the future: publish the post now with publishPost."),
        )),
        Some(at) if !writable_date(at) => Err(unwritable_date(field)),
        Some(at) => Ok(at),
    }
}

/// A post body's HTML and generated excerpt, made off the async runtime: a body can be
/// large, and Markdown and the sanitiser take time in proportion. Refused (before the
/// sanitiser) when its HTML would nest too deep or grow too large.
async fn render_body(body: String) -> Result<(String, String), DomainError> {
    crate::offload::render(move || {
        let html = gazette_content::render_post_body(&body).map_err(unrenderable_body)?;
        Ok((html, gazette_content::excerpt(&body, EXCERPT_CHARS)))
    })
    .await
}

/// Why a body's Markdown is not rendered, as the one who sent it reads it.
fn unrenderable_body(refusal: gazette_content::Unrenderable) -> DomainError {
    let message = match refusal {
        gazette_content::Unrenderable::TooLarge(bytes) => format!(
            "This body's formatting makes {bytes} bytes of HTML, and a post may make at most {}: use less nesting or fewer links.",
            gazette_content::MAX_POST_HTML_BYTES
        ),
        gazette_content::Unrenderable::TooDeep => format!(
            "This body nests more than {} quotes, lists or elements: use less nesting.",
            gazette_content::MAX_HTML_NESTING
        ),
    };
    DomainError::bad_input("body", message)
}

async fn render_excerpt(body: String) -> String {
    crate::offload::render(move || gazette_content::excerpt(&body, EXCERPT_CHARS)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_deduplicated_by_slug() {
        let tags = check_tags(&[" Rust ".to_owned(), "rust".to_owned(), "日本".to_owned()])
            .expect("valid tags");
        assert_eq!(
            tags,
            [
                ("rust".to_owned(), "Rust".to_owned()),
                ("tag-e697a5e69cac".to_owned(), "日本".to_owned())
            ]
        );
        assert!(check_tags(&[" ".to_owned()]).is_err());
        // Found by a probe: U+0001 reached the post's page and the tag's address.
        for garbled in [
            "x\u{1}",
            "left\u{202E}right",
            "nul\u{0}",
            "\u{200B}",
            "\u{3164}",
        ] {
            assert!(check_tags(&[garbled.to_owned()]).is_err(), "{garbled:?}");
        }
    }

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(check_title("  Hello  ").ok().as_deref(), Some("Hello"));
        assert!(check_title("   ").is_err());
        assert!(check_title(&"x".repeat(201)).is_err());
        assert!(check_title(&"é".repeat(200)).is_ok());
    }
}
