//! Public commenting: input checks, rendering, threading, moderation, rate limits, retries,
//! edit tokens. The GraphQL mutations are thin wrappers over these functions.

use chrono::{TimeDelta, Utc};
use gazette_store::comments::{self, Comment, CommentStatus, NewComment};
use gazette_store::posts::{self, Post, PostStatus};
use gazette_store::{PgConnection, PgExecutor, PgPool, ReadBudget, StoreError};

use crate::clients::ClientKey;
use crate::edit_tokens::EditTokenKey;
use crate::error::DomainError;
use crate::policy::Viewer;

pub const MAX_AUTHOR_NAME_CHARS: usize = 80;
pub const MAX_BODY_CHARS: usize = 10_000;
/// How long a commenter may edit or delete their comment with its edit token.
pub const EDIT_WINDOW: TimeDelta = TimeDelta::minutes(15);
/// As WordPress does: this many links hold an anonymous comment for moderation.
const LINKS_HELD: usize = 2;

/// How public comments are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommentPolicy {
    pub moderation: Moderation,
    /// Comments one client may post per minute without a token; 0: no limit.
    pub rate_limit_per_minute: u32,
    /// The deepest a reply may sit (top-level comments have depth 0).
    pub max_depth: i32,
}

impl CommentPolicy {
    pub const DEFAULT_RATE_LIMIT: u32 = 5;
    pub const DEFAULT_MAX_DEPTH: i32 = 32;
}

impl Default for CommentPolicy {
    fn default() -> Self {
        Self {
            moderation: Moderation::Links,
            rate_limit_per_minute: Self::DEFAULT_RATE_LIMIT,
            max_depth: Self::DEFAULT_MAX_DEPTH,
        }
    }
}

/// Which comments from readers without a token wait for a moderator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moderation {
    /// None: every comment is published at once.
    Open,
    /// Comments with two or more links (as WordPress does).
    Links,
    /// All of them.
    All,
}

/// What commenting needs besides the request: the rules and the edit-token key.
#[derive(Debug, Clone)]
pub struct Commenting {
    pub policy: CommentPolicy,
    /// The comment form on post pages: how long a form lasts, how soon it may be sent.
    pub form: crate::comment_form::FormRules,
    pub edit_tokens: EditTokenKey,
}

/// A comment as a reader sent it.
#[derive(Debug, Clone, Default)]
pub struct CommentInput {
    pub post_id: i64,
    pub parent_id: Option<i64>,
    pub author_name: String,
    pub author_email: Option<String>,
    pub author_url: Option<String>,
    pub body: String,
    pub client_mutation_id: Option<String>,
    /// A reply from the fediverse: the remote note it is, linked in the same transaction
    /// (so the outbox's fan-out never sees it as a comment written on the blog).
    pub federated: Option<FederatedOrigin>,
}

/// The remote note a comment is, and its author.
#[derive(Debug, Clone, Default)]
pub struct FederatedOrigin {
    pub object_id: String,
    pub actor_id: String,
    /// The actor's instance (its host without the port): the replies of all its actors
    /// share one rate limit, so one server cannot flood a thread by making accounts.
    pub instance: String,
}

/// What `addComment` made (or found, for a retry).
#[derive(Debug, Clone)]
pub struct AddedComment {
    pub comment: Comment,
    /// For the commenter's edits; absent when a retry does not look like the same commenter.
    pub edit_token: Option<String>,
    /// The reply was deeper than allowed and went under an ancestor instead.
    pub depth_capped: bool,
    /// A retry: the comment is the first attempt's, nothing new was written.
    pub retried: bool,
}

pub async fn add_comment(
    pool: &PgPool,
    commenting: &Commenting,
    viewer: &Viewer,
    client: Option<&ClientKey>,
    input: CommentInput,
) -> Result<AddedComment, DomainError> {
    let policy = &commenting.policy;
    let author_name = check_author_name(&input.author_name)?;
    let body = check_body(&input.body)?;
    let body_html = render_body(&body)?;
    let author_email = input
        .author_email
        .as_deref()
        .map(check_email)
        .transpose()?
        .flatten();
    let author_url = input
        .author_url
        .as_deref()
        .map(check_url)
        .transpose()?
        .flatten();
    // An empty id is no id (many clients send "" by default): it makes no retry of the
    // last comment that had it.
    let client_mutation_id = input
        .client_mutation_id
        .as_deref()
        .filter(|id| !id.trim().is_empty());
    if client_mutation_id.is_some_and(|id| id.chars().count() > 200) {
        return Err(DomainError::bad_input(
            "clientMutationId",
            "`clientMutationId` may have at most 200 characters.",
        ));
    }

    let mut tx = pool.begin().await?;
    // Share-locked: a concurrent unpublish or close waits for this comment, or wins first.
    let post = posts::find_for_share_unchecked(&mut tx, input.post_id)
        .await?
        .filter(|post| viewer.can_read(post))
        .ok_or_else(|| DomainError::not_found("There is no post with this id."))?;
    if post.status != PostStatus::Published {
        return Err(DomainError::CommentsClosed(
            "Comments open when the post is published.".to_owned(),
        ));
    }
    if !post.comments_open {
        return Err(DomainError::CommentsClosed(
            "Comments on this post are closed.".to_owned(),
        ));
    }

    // A retry of an earlier addComment returns what it made: nothing is written twice.
    if let Some(client_mutation_id) = client_mutation_id {
        comments::lock(
            &mut tx,
            &format!("comment-retry:{}:{client_mutation_id}", post.id),
        )
        .await?;
        if let Some(first) =
            comments::find_retry_unchecked(&mut tx, post.id, client_mutation_id).await?
        {
            let sent = Sent {
                author_name: &author_name,
                body: &body,
                author_email: author_email.as_deref(),
                author_url: author_url.as_deref(),
            };
            let retried = retried_comment(&mut tx, commenting, viewer, client, first, &sent).await;
            tx.commit().await?;
            return retried;
        }
    }

    if *viewer == Viewer::Anonymous {
        check_rate(&mut tx, policy, client).await?;
        // Counted in this transaction, so a reply refused below costs its instance nothing.
        if let Some(origin) = &input.federated {
            let instance = ClientKey::remote_instance(&origin.instance);
            check_rate(&mut tx, policy, Some(&instance)).await?;
        }
    }

    let (parent_id, depth_capped) = match input.parent_id {
        None => (None, false),
        Some(parent_id) => {
            let parent = comments::find_visible(
                &mut *tx,
                &[parent_id],
                viewer.reader(),
                &ReadBudget::unlimited(),
            )
            .await?
            .remove(&parent_id)
            .filter(|parent| parent.post_id == post.id)
            .ok_or_else(|| {
                DomainError::bad_input(
                    "parentId",
                    "There is no such comment on this post to reply to.",
                )
            })?;
            if parent.status == CommentStatus::Deleted {
                return Err(DomainError::bad_input(
                    "parentId",
                    "A deleted comment takes no replies.",
                ));
            }
            if parent.depth >= policy.max_depth {
                // Attach at the deepest allowed level, under the parent's ancestor there.
                let index = usize::try_from(policy.max_depth - 1).unwrap_or_default();
                (parent.path.get(index).copied(), true)
            } else {
                (Some(parent.id), false)
            }
        }
    };

    let owner = match viewer {
        Viewer::Token(owner) => Some(owner.author_id),
        Viewer::Anonymous => None,
    };
    let status = match (owner, policy.moderation) {
        (Some(_), _) | (None, Moderation::Open) => CommentStatus::Published,
        (None, Moderation::All) => CommentStatus::Pending,
        (None, Moderation::Links) if link_count(&body_html) >= LINKS_HELD => CommentStatus::Pending,
        (None, Moderation::Links) => CommentStatus::Published,
    };
    let comment = comments::insert(
        &mut *tx,
        &NewComment {
            post_id: post.id,
            parent_id,
            author_name: &author_name,
            author_email: author_email.as_deref(),
            author_url: author_url.as_deref(),
            author_id: owner,
            body: &body,
            body_html: &body_html,
            status,
            created_at: None,
            client_address: client.map(ClientKey::as_str),
            client_mutation_id,
        },
    )
    .await?;
    if let Some(origin) = &input.federated {
        gazette_store::federation::link_comment(
            &mut *tx,
            comment.id,
            &origin.object_id,
            &origin.actor_id,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(AddedComment {
        edit_token: Some(commenting.edit_tokens.token_for(comment.id)),
        comment,
        depth_capped,
        retried: false,
    })
}

/// What a retry sent, to compare with the comment the first attempt made.
struct Sent<'a> {
    author_name: &'a str,
    body: &'a str,
    author_email: Option<&'a str>,
    author_url: Option<&'a str>,
}

/// What a retried `addComment` gets back. The same commenter (the same token owner, or the
/// same client with the same name, text, email and website — the email and the address are
/// never shown, so they cannot be copied from the page) gets their comment, whatever its
/// status, and its edit token. Anyone else reusing the id gets the comment only if they may
/// see it anyway, and never the edit token.
async fn retried_comment(
    tx: &mut PgConnection,
    commenting: &Commenting,
    viewer: &Viewer,
    client: Option<&ClientKey>,
    first: Comment,
    sent: &Sent<'_>,
) -> Result<AddedComment, DomainError> {
    let same_writer = match viewer {
        Viewer::Token(owner) => first.author_id == Some(owner.author_id),
        Viewer::Anonymous => {
            first.author_id.is_none()
                && client
                    .is_some_and(|client| first.client_address.as_deref() == Some(client.as_str()))
        }
    };
    let same_comment = first.author_name == sent.author_name
        && first.body == sent.body
        && first.author_email.as_deref() == sent.author_email
        && first.author_url.as_deref() == sent.author_url;
    if same_writer && same_comment {
        return Ok(AddedComment {
            edit_token: Some(commenting.edit_tokens.token_for(first.id)),
            comment: first,
            depth_capped: false,
            retried: true,
        });
    }
    // Another comment sent with a used id is refused, not answered with the first one:
    // its writer would take it as stored. The same comment from another address (a
    // commenter whose network changed) gets the first one back if it is public.
    let visible = match same_comment {
        true => comments::find_visible(
            &mut *tx,
            &[first.id],
            viewer.reader(),
            &ReadBudget::unlimited(),
        )
        .await?
        .remove(&first.id),
        false => None,
    };
    match visible {
        Some(comment) => Ok(AddedComment {
            comment,
            edit_token: None,
            depth_capped: false,
            retried: true,
        }),
        None => Err(DomainError::bad_input(
            "clientMutationId",
            "This clientMutationId was already used on this post. If you sent this very comment before, it was received; for a new comment, send a fresh random id (a UUID).",
        )),
    }
}

/// Refuses the comment when this client posted its allowance in the last minute, else
/// counts it (in the caller's transaction: a comment that is not stored is not counted).
/// The window slides, and the count is the database's, so it holds across API processes.
async fn check_rate(
    tx: &mut PgConnection,
    policy: &CommentPolicy,
    client: Option<&ClientKey>,
) -> Result<(), DomainError> {
    let (Some(client), limit @ 1..) = (client, policy.rate_limit_per_minute) else {
        return Ok(());
    };
    comments::lock(tx, &format!("comment-rate:{client}")).await?;
    let window = TimeDelta::minutes(1);
    let now = Utc::now();
    let (count, oldest) =
        comments::recent_from_client_unchecked(tx, client.as_str(), now - window).await?;
    if count < i64::from(limit) {
        // Counted apart from the comment: deleting it does not give the place back.
        comments::record_rate_event(tx, client.as_str()).await?;
        return Ok(());
    }
    let frees_at = oldest.unwrap_or(now) + window;
    let seconds = (frees_at - now).num_milliseconds().max(0).div_euclid(1000) + 1;
    Err(DomainError::RateLimited {
        retry_after: u64::try_from(seconds).unwrap_or(1).max(1),
    })
}

/// Changes a comment's text with its edit token, within the edit window. Moderation looks
/// at the new text as it did at the old.
pub async fn edit_comment(
    pool: &PgPool,
    commenting: &Commenting,
    viewer: &Viewer,
    id: i64,
    edit_token: &str,
    body: &str,
) -> Result<Comment, DomainError> {
    let body = check_body(body)?;
    let body_html = render_body(&body)?;
    let mut tx = pool.begin().await?;
    let comment = load_editable(&mut tx, viewer, id).await?;
    check_edit_token(&commenting.edit_tokens, &comment, edit_token)?;
    let status = status_after_edit(commenting, viewer, &comment, &body_html);
    let updated = comments::update_body(&mut *tx, id, &body, &body_html, status).await?;
    tx.commit().await?;
    Ok(updated)
}

/// A comment's status once its text changes: moderation looks at the new text as it did
/// at the old, so a published comment edited into one that would be held is held.
fn status_after_edit(
    commenting: &Commenting,
    viewer: &Viewer,
    comment: &Comment,
    body_html: &str,
) -> CommentStatus {
    let held_now = comment.author_id.is_none()
        && match commenting.policy.moderation {
            Moderation::Open => false,
            Moderation::All => true,
            Moderation::Links => link_count(body_html) >= LINKS_HELD,
        };
    match comment.status {
        CommentStatus::Published if held_now && !viewer.moderates(comment.post_author_id) => {
            CommentStatus::Pending
        }
        status => status,
    }
}

/// Changes the text of a comment that came from the fediverse, when its author edits the
/// reply there (the federation use case has checked that the edit is its author's). The
/// text goes through the same checks and moderation as an edit with an edit token.
pub async fn edit_federated_comment(
    pool: &PgPool,
    commenting: &Commenting,
    id: i64,
    body: &str,
) -> Result<Comment, DomainError> {
    let body = check_body(body)?;
    let body_html = render_body(&body)?;
    let mut tx = pool.begin().await?;
    let comment = load_editable(&mut tx, &Viewer::Anonymous, id).await?;
    let status = status_after_edit(commenting, &Viewer::Anonymous, &comment, &body_html);
    let updated = comments::update_body(&mut *tx, id, &body, &body_html, status).await?;
    tx.commit().await?;
    Ok(updated)
}

/// Deletes a comment that came from the fediverse, when its author deletes the reply
/// there (or is deleted): as a moderator's deletion, a tombstone while it has replies.
pub async fn delete_federated_comment(pool: &PgPool, id: i64) -> Result<(), DomainError> {
    let mut tx = pool.begin().await?;
    let Some(comment) = comments::find_for_update_unchecked(&mut tx, id).await? else {
        return Ok(());
    };
    if comment.status != CommentStatus::Deleted {
        comments::tombstone(&mut *tx, id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The post of a comment the public sees (a reply from the fediverse may answer it).
pub async fn post_of_public_comment(pool: &PgPool, id: i64) -> Result<Option<i64>, StoreError> {
    let found = comments::find_visible(
        pool,
        &[id],
        gazette_store::Reader::PUBLIC,
        &ReadBudget::unlimited(),
    )
    .await?
    .remove(&id)
    .filter(|comment| comment.status == CommentStatus::Published);
    Ok(found.map(|comment| comment.post_id))
}

/// Counts one comment against `client`'s allowance (for a key besides the commenter's
/// own: a fediverse reply counts against its instance too), or refuses it.
pub async fn count_rate(
    pool: &PgPool,
    commenting: &Commenting,
    client: &ClientKey,
) -> Result<(), DomainError> {
    let mut tx = pool.begin().await?;
    check_rate(&mut tx, &commenting.policy, Some(client)).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes a comment: by its commenter (with the edit token, within the edit window) or by
/// a moderator (an admin, or the post's author). It stays as a tombstone while it has
/// replies, and disappears otherwise.
pub async fn delete_comment(
    pool: &PgPool,
    commenting: &Commenting,
    viewer: &Viewer,
    id: i64,
    edit_token: Option<&str>,
) -> Result<Comment, DomainError> {
    let mut tx = pool.begin().await?;
    let comment = load_for_change(&mut tx, viewer, id).await?;
    match edit_token {
        Some(token) => check_edit_token(&commenting.edit_tokens, &comment, token)?,
        None => {
            viewer.require_moderator_of(comment.post_author_id)?;
        }
    }
    if comment.status == CommentStatus::Deleted {
        return Ok(comment);
    }
    let deleted = comments::tombstone(&mut *tx, id).await?;
    tx.commit().await?;
    Ok(deleted)
}

/// Publishes a held comment, or marks one as spam: for moderators.
pub async fn moderate(
    pool: &PgPool,
    viewer: &Viewer,
    id: i64,
    status: CommentStatus,
) -> Result<Comment, DomainError> {
    viewer.require_token()?;
    let mut tx = pool.begin().await?;
    let comment = load_editable(&mut tx, viewer, id).await?;
    viewer.require_moderator_of(comment.post_author_id)?;
    let moderated = comments::set_status(&mut *tx, id, status).await?;
    tx.commit().await?;
    Ok(moderated)
}

/// A held comment as its moderator sees it in the queue: with its post, and the comment
/// it answers (when the moderator may see that one).
#[derive(Debug, Clone)]
pub struct HeldComment {
    pub comment: Comment,
    pub post: Post,
    pub parent: Option<Comment>,
}

/// One page of a moderator's queue.
#[derive(Debug, Clone)]
pub struct ModerationQueue {
    pub held: Vec<HeldComment>,
    /// All held comments this moderator moderates, and those marked as spam.
    pub held_count: i64,
    pub spam_count: i64,
    /// Where the next (older) page starts, when there is one.
    pub older_than: Option<i64>,
}

/// The held comments `viewer` moderates (every one for admins, those on their own posts
/// for authors), newest first, `limit` at a time, older than the comment `before`.
pub async fn moderation_queue(
    pool: &PgPool,
    viewer: &Viewer,
    before: Option<i64>,
    limit: i64,
) -> Result<ModerationQueue, DomainError> {
    viewer.require_token()?;
    let reader = viewer.reader();
    let mut held = comments::held(pool, reader, before, limit + 1).await?;
    let older_than = match held.len() > usize::try_from(limit).unwrap_or_default() {
        true => {
            held.truncate(usize::try_from(limit).unwrap_or_default());
            held.last().map(|comment| comment.id)
        }
        false => None,
    };
    let post_ids: Vec<i64> = held.iter().map(|comment| comment.post_id).collect();
    let parent_ids: Vec<i64> = held
        .iter()
        .filter_map(|comment| comment.parent_id)
        .collect();
    let budget = ReadBudget::unlimited();
    let posts =
        posts::find_visible(pool, &post_ids, reader, posts::PostColumns::All, &budget).await?;
    let parents = comments::find_visible(pool, &parent_ids, reader, &budget).await?;
    let (held_count, spam_count) = comments::moderation_counts(pool, reader).await?;
    let held = held
        .into_iter()
        .filter_map(|comment| {
            // The queue's rows and their posts were read with the same reader.
            let post = posts.get(&comment.post_id).cloned()?;
            let parent = comment
                .parent_id
                .and_then(|id| parents.get(&id))
                .filter(|parent| !crate::policy::shows_as_tombstone(parent))
                .cloned();
            Some(HeldComment {
                comment,
                post,
                parent,
            })
        })
        .collect();
    Ok(ModerationQueue {
        held,
        held_count,
        spam_count,
        older_than,
    })
}

/// The comment, locked, if it exists on a post this viewer may read (a comment on a draft
/// is as hidden as the draft).
async fn load_for_change(
    tx: &mut PgConnection,
    viewer: &Viewer,
    id: i64,
) -> Result<Comment, DomainError> {
    let comment = comments::find_for_update_unchecked(tx, id)
        .await?
        .ok_or_else(comment_not_found)?;
    let post = posts::find_for_share_unchecked(tx, comment.post_id).await?;
    if !post.is_some_and(|post| viewer.can_read(&post)) {
        return Err(comment_not_found());
    }
    Ok(comment)
}

/// Like [`load_for_change`], and refused when the comment is deleted.
async fn load_editable(
    tx: &mut PgConnection,
    viewer: &Viewer,
    id: i64,
) -> Result<Comment, DomainError> {
    let comment = load_for_change(tx, viewer, id).await?;
    if comment.status == CommentStatus::Deleted {
        return Err(DomainError::bad_input("id", "This comment was deleted."));
    }
    Ok(comment)
}

fn check_edit_token(key: &EditTokenKey, comment: &Comment, token: &str) -> Result<(), DomainError> {
    let in_time = Utc::now() - comment.created_at <= EDIT_WINDOW;
    if in_time && key.verify(comment.id, token) {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "The edit token is wrong or has expired: a comment can be changed for 15 minutes after it is posted.".to_owned(),
        ))
    }
}

fn comment_not_found() -> DomainError {
    DomainError::not_found("There is no comment with this id.")
}

/// Links in rendered HTML (bare URLs are links by then).
fn link_count(html: &str) -> usize {
    html.matches("<a ").count()
}

pub(crate) fn check_author_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_AUTHOR_NAME_CHARS {
        return Err(DomainError::bad_input(
            "authorName",
            format!("The name must have 1 to {MAX_AUTHOR_NAME_CHARS} characters."),
        ));
    }
    // A name is shown beside the comment and in feed titles: a control character, or one
    // that turns the direction of the text around it, would garble or spoof the byline.
    if name
        .chars()
        .any(|c| c.is_control() || is_direction_control(c))
    {
        return Err(DomainError::bad_input(
            "authorName",
            "The name may not hold control characters or text-direction overrides.",
        ));
    }
    if !name.chars().any(is_visible) {
        return Err(DomainError::bad_input(
            "authorName",
            "The name has no visible character.",
        ));
    }
    Ok(name.to_owned())
}

/// Unicode's explicit embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069).
pub(crate) fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Not white space, nor a character that shows nothing: zero-width and other format
/// characters, direction marks, fillers that render blank, variation selectors, tags.
pub(crate) fn is_visible(c: char) -> bool {
    !c.is_whitespace()
        && !is_direction_control(c)
        && !matches!(
            c,
            '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'
                | '\u{1160}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// `text` without control characters other than line breaks and tabs, and whether any
/// were there: for imports, which keep what old exports hold rather than refuse it.
pub(crate) fn without_control_characters(text: &str) -> (String, bool) {
    let kept: String = text
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .collect();
    let removed = kept.len() != text.len();
    (kept, removed)
}

/// `name` without control characters or text-direction overrides, and whether any were
/// there (for imports: see [`check_author_name`] for why they are refused).
pub(crate) fn printable_name(name: &str) -> (String, bool) {
    let kept: String = name
        .chars()
        .filter(|&c| !c.is_control() && !is_direction_control(c))
        .collect();
    let removed = kept.len() != name.len();
    (kept, removed)
}

pub(crate) fn check_body(body: &str) -> Result<String, DomainError> {
    let body = body.trim();
    let chars = body.chars().count();
    if chars == 0 || chars > MAX_BODY_CHARS {
        return Err(DomainError::bad_input(
            "body",
            format!("A comment must have 1 to {MAX_BODY_CHARS} characters; this one has {chars}."),
        ));
    }
    // Line breaks and tabs are text; other control characters are not valid in the XML
    // the comment also appears in (feeds), nor meaningful in a page.
    if body
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(DomainError::bad_input(
            "body",
            "A comment may not hold control characters other than line breaks and tabs.",
        ));
    }
    Ok(body.to_owned())
}

/// The most HTML one comment may render to. Markdown can multiply its source (each `>`
/// opens a quote): 10,000 characters of nested quotes made 270 KB, and forty such comments
/// would make a post's first thread page too large to answer.
pub const MAX_BODY_HTML_BYTES: usize = 64 * 1024;

/// `body` (checked by [`check_body`]) rendered to safe HTML; refused when its HTML would
/// be too large or too deep (found before the sanitiser runs), or when nothing visible is
/// left once unsafe HTML is taken out.
pub(crate) fn render_body(body: &str) -> Result<String, DomainError> {
    use gazette_content::Unrenderable;
    let html = gazette_content::render_new_comment_body(body, MAX_BODY_HTML_BYTES).map_err(
        |refusal| {
            let message = match refusal {
                Unrenderable::TooLarge(bytes) => format!(
                    "This comment's formatting makes {bytes} bytes of HTML, and a comment may make at most {MAX_BODY_HTML_BYTES}: use less nesting (quotes, lists) or fewer links."
                ),
                Unrenderable::TooDeep => format!(
                    "This comment nests more than {} quotes, lists or elements: use less nesting.",
                    gazette_content::MAX_HTML_NESTING
                ),
            };
            DomainError::bad_input("body", message)
        },
    )?;
    if !has_visible_text(&html) {
        return Err(DomainError::bad_input(
            "body",
            "Nothing of this comment is left to show once unsafe HTML is taken out: write it as text.",
        ));
    }
    Ok(html)
}

/// Whether `html` (as the sanitiser writes it: tags and entities, no comments or scripts)
/// shows any text. The sanitiser writes a no-break space as `&nbsp;`, which shows nothing;
/// every other entity it writes (`&amp;`, `&lt;`, `&gt;`, `&quot;`) is a visible character.
fn has_visible_text(html: &str) -> bool {
    let mut in_tag = false;
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            '&' if rest.starts_with("nbsp;") => rest = &rest["nbsp;".len()..],
            '&' => return true,
            c if is_visible(c) => return true,
            _ => {}
        }
    }
    false
}

/// An email address is optional; given, it must look like one.
pub(crate) fn check_email(email: &str) -> Result<Option<String>, DomainError> {
    let email = email.trim();
    if email.is_empty() {
        return Ok(None);
    }
    let plausible = email.len() <= 320
        && !email.contains(|c: char| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if plausible {
        Ok(Some(email.to_owned()))
    } else {
        Err(DomainError::bad_input(
            "authorEmail",
            "This is not an email address.",
        ))
    }
}

/// A website is optional; given, it must be an http(s) URL (no `javascript:` links).
pub(crate) fn check_url(url: &str) -> Result<Option<String>, DomainError> {
    let url = url.trim();
    if url.is_empty() {
        return Ok(None);
    }
    if url.len() > MAX_URL_BYTES {
        return Err(DomainError::bad_input(
            "authorUrl",
            format!("The website's address may have at most {MAX_URL_BYTES} bytes."),
        ));
    }
    // A NUL would not even be stored; other control characters would end up in a link.
    if url.contains(char::is_control) {
        return Err(DomainError::bad_input(
            "authorUrl",
            "The website's address may not contain control characters.",
        ));
    }
    // Schemes are case-insensitive (RFC 3986, 3.1): `HTTPS://` is written as `https://`.
    let url = match url.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            format!("{}://{rest}", scheme.to_ascii_lowercase())
        }
        _ => url.to_owned(),
    };
    if !gazette_content::is_http_url(&url) {
        return Err(DomainError::bad_input(
            "authorUrl",
            "The website must be an http:// or https:// address.",
        ));
    }
    // `https://bank.example@evil.example/` shows one site and links to another.
    let authority = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?', '#']).next())
        .unwrap_or_default();
    if authority.contains('@') {
        return Err(DomainError::bad_input(
            "authorUrl",
            "The website's address may not hold a user name or password.",
        ));
    }
    Ok(Some(url))
}

/// The longest website address a comment may give (as `is_http_url` allows).
const MAX_URL_BYTES: usize = 2048;

/// How many comments wait for moderation, on every post: a count for the operators'
/// metrics, which shows no comment.
pub async fn awaiting_moderation(exec: impl PgExecutor<'_>) -> Result<i64, StoreError> {
    comments::awaiting_moderation_unchecked(exec).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn website_addresses_are_checked_as_urls() {
        assert_eq!(
            check_url("HTTPS://Example.COM/Me")
                .ok()
                .flatten()
                .as_deref(),
            Some("https://Example.COM/Me")
        );
        for bad in [
            "https://user:pass@example.com/",
            "https://bank.example@evil.example",
            "javascript:alert(1)",
            "HTTPS://",
            "https://example.org/\u{0}x",
            "https://example.org/\u{1b}[31m",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        for bad in [
            "a\u{0}b@example.com",
            "a@example.com\u{7f}",
            "a\u{1}@b.example",
        ] {
            assert!(check_email(bad).is_err(), "{bad:?}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2048));
        let Err(DomainError::BadUserInput { message, .. }) = check_url(&long) else {
            panic!("a long address is refused");
        };
        assert!(message.contains("2048"), "{message}");
    }

    #[test]
    fn bodies_that_show_nothing_are_refused() {
        for blank in [
            "<img src=x onerror=alert(1)>",
            "&nbsp;",
            "[&nbsp;](https://spam.example)",
            "\u{202E}",
            "\u{3164}\u{2800}",
        ] {
            assert!(render_body(blank).is_err(), "{blank:?}");
        }
        for shown in ["a", "&amp;", "1 < 2", "<b>x</b>", "\u{202E}x"] {
            assert!(render_body(shown).is_ok(), "{shown:?}");
        }
    }

    #[test]
    fn inputs_are_checked() {
        assert!(check_author_name(" Ann ").is_ok_and(|name| name == "Ann"));
        assert!(check_author_name("").is_err());
        assert!(check_author_name(&"n".repeat(81)).is_err());
        assert!(check_body(&"b".repeat(10_000)).is_ok());
        assert!(check_body(&"b".repeat(10_001)).is_err());
        assert!(check_body("  ").is_err());
        assert_eq!(check_email(" ").ok(), Some(None));
        assert!(check_email("a@b.org").is_ok_and(|email| email.is_some()));
        assert!(check_email("nope").is_err());
        assert!(check_url("javascript:alert(1)").is_err());
        assert!(check_url("https://").is_err());
        assert!(check_url("https://example.org/me").is_ok_and(|url| url.is_some()));
    }

    #[test]
    fn links_are_counted_after_rendering() {
        let html =
            gazette_content::render_comment_body("See http://a.example and [b](http://b.example).");
        assert_eq!(link_count(&html), 2);
        assert_eq!(link_count("<p>no links</p>"), 0);
    }
}
