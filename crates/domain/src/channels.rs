//! Social channels: the use case behind the channel mutations (admins only, input checks,
//! the site's bound on channels), who sees what of them, and the summary preview an editor
//! asks for. The GraphQL resolvers are thin wrappers over these functions.

use gazette_store::channels::{self, Channel, ChannelChanges, ChannelKind, NewChannel};
use gazette_store::posts::Post;
use gazette_store::{PgExecutor, PgPool, StoreError};
use gazette_syndication::social::{self, Summary, SummaryInput, Template};

use crate::error::DomainError;
use crate::policy::Viewer;

/// The most channels a site may have: `channels` lists them all, so its size is bounded
/// (and priced) by this.
pub const MAX_CHANNELS: usize = 50;

/// A channel as an admin asks for it.
#[derive(Debug, Clone)]
pub struct ChannelRequest {
    pub name: String,
    pub kind: ChannelKind,
    /// The organisation's page on the channel (http or https).
    pub url: String,
    /// Made from the name when not given.
    pub slug: Option<String>,
    pub enabled: bool,
    pub template: Option<String>,
}

/// Changes an admin asks for; `None` leaves a field as it is, `template: Some(None)`
/// returns to the kind's default.
#[derive(Debug, Clone, Default)]
pub struct ChannelEdit {
    pub name: Option<String>,
    pub kind: Option<ChannelKind>,
    pub url: Option<String>,
    pub slug: Option<String>,
    pub enabled: Option<bool>,
    pub template: Option<Option<String>>,
}

/// Adds a channel, unless the site has [`MAX_CHANNELS`] already. Admins only.
pub async fn create_channel(
    pool: &PgPool,
    viewer: &Viewer,
    request: ChannelRequest,
) -> Result<Channel, DomainError> {
    require_admin(viewer)?;
    let name = check_name(&request.name)?;
    let url = check_url(&request.url)?;
    if let Some(template) = &request.template {
        parse_template(template)?;
    }
    let slug = match &request.slug {
        Some(slug) => check_slug(slug)?,
        None => gazette_content::slugify(&name, 100, "channel"),
    };
    let mut connection = pool.acquire().await.map_err(StoreError::from)?;
    channels::insert_within(
        &mut connection,
        &NewChannel {
            slug: &slug,
            kind: request.kind,
            name: &name,
            url: &url,
            position: None,
            enabled: request.enabled,
            template: request.template.as_deref(),
        },
        MAX_CHANNELS,
    )
    .await
    .map_err(slug_conflict)?
    .ok_or_else(|| {
        DomainError::bad_input(
            "name",
            format!("A site has at most {MAX_CHANNELS} channels: delete one first."),
        )
    })
}

/// Changes a channel; disabling one removes its summaries (the worker's next run). Admins
/// only.
pub async fn update_channel(
    pool: &PgPool,
    viewer: &Viewer,
    id: i64,
    edit: ChannelEdit,
) -> Result<Channel, DomainError> {
    require_admin(viewer)?;
    let name = edit.name.as_deref().map(check_name).transpose()?;
    let url = edit.url.as_deref().map(check_url).transpose()?;
    let slug = edit.slug.as_deref().map(check_slug).transpose()?;
    if let Some(Some(template)) = &edit.template {
        parse_template(template)?;
    }
    let changes = ChannelChanges {
        slug: slug.as_deref(),
        kind: edit.kind,
        name: name.as_deref(),
        url: url.as_deref(),
        enabled: edit.enabled,
        template: edit.template.as_ref().map(Option::as_deref),
    };
    channels::update(pool, id, &changes)
        .await
        .map_err(slug_conflict)?
        .ok_or_else(no_such_channel)
}

/// Removes a channel and everything written for it; returns it as it was. Admins only.
pub async fn delete_channel(
    pool: &PgPool,
    viewer: &Viewer,
    id: i64,
) -> Result<Channel, DomainError> {
    require_admin(viewer)?;
    channels::delete(pool, id)
        .await?
        .ok_or_else(no_such_channel)
}

/// The summary `channel_id` would get for `post` (already read as the viewer may), with
/// `template` if given, else the channel's own, else its kind's default. Needs a token:
/// rendering and measuring a text is work an editor asks for, and it runs off the request
/// threads.
pub async fn preview_summary(
    pool: &PgPool,
    viewer: &Viewer,
    channel_id: i64,
    template: Option<String>,
    input: SummaryInput,
) -> Result<Summary, DomainError> {
    viewer.require_token()?;
    let channel = channels::find_by_ids(pool, &[channel_id], viewer.reader())
        .await?
        .remove(&channel_id)
        .ok_or_else(no_such_channel)?;
    let source = template.or(channel.template);
    let template = source.as_deref().map(parse_template).transpose()?;
    let kind = channel.kind;
    Ok(crate::offload::render(move || social::summarize(kind, template.as_ref(), &input)).await)
}

/// What a summary of `post` is made of: its title verbatim (titles are plain text), its
/// excerpt as text, its link, tag names and author.
pub fn summary_input(post: &Post, link: String, tags: Vec<String>, author: String) -> SummaryInput {
    SummaryInput {
        title: post.title.clone(),
        excerpt: gazette_content::plain_text(&post.excerpt),
        link,
        tags,
        author,
        date: post.published_at.unwrap_or(post.created_at).date_naive(),
    }
}

/// The enabled channels with their templates, to render their texts. Templates are for
/// admins to read; the texts made with them are public, as are the channels they are for.
pub async fn enabled_for_rendering(exec: impl PgExecutor<'_>) -> Result<Vec<Channel>, StoreError> {
    channels::enabled_unchecked(exec).await
}

fn require_admin(viewer: &Viewer) -> Result<(), DomainError> {
    viewer.require_admin("manage channels")?;
    Ok(())
}

fn no_such_channel() -> DomainError {
    DomainError::not_found("There is no channel with this id.")
}

fn parse_template(source: &str) -> Result<Template, DomainError> {
    Template::parse(source).map_err(|error| DomainError::bad_input("template", error.to_string()))
}

fn slug_conflict(error: StoreError) -> DomainError {
    if error.constraint() == Some("social_channels_slug_key") {
        DomainError::bad_input("slug", "Another channel already uses this slug.")
    } else {
        error.into()
    }
}

fn check_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    match name.chars().count() {
        1..=100 => Ok(name.to_owned()),
        _ => Err(DomainError::bad_input(
            "name",
            "A channel's name has 1 to 100 characters.",
        )),
    }
}

fn check_url(url: &str) -> Result<String, DomainError> {
    let url = url.trim();
    if gazette_content::is_http_url(url) {
        Ok(url.to_owned())
    } else {
        Err(DomainError::bad_input(
            "url",
            "The channel's page must be an http:// or https:// address.",
        ))
    }
}

fn check_slug(slug: &str) -> Result<String, DomainError> {
    if gazette_content::is_slug(slug, 100) {
        Ok(slug.to_owned())
    } else {
        Err(DomainError::bad_input(
            "slug",
            "A slug is lowercase letters and digits in words joined by single hyphens, such as `twitter`.",
        ))
    }
}
