//! The blog's inbox: a signed activity from the fediverse, verified and acted on. Follows
//! are accepted (or left for an admin), replies become comments through the same use case
//! as any anonymous comment, their edits and deletions follow them, likes and boosts are
//! counted.

use chrono::{DateTime, TimeDelta, Utc};
use gazette_federation::activities::{self, Incoming, RemoteNote};
use gazette_federation::signatures::{self, Request};
use gazette_store::federation::{self as store, RemoteActor};
use gazette_store::{PgPool, StoreError};
use serde_json::Value;

use super::remote::{FetchError, Found, Remote};
use super::{Federation, host_of, public_post, queue_to};
use crate::clients::ClientKey;
use crate::commenting::{self, CommentInput, Commenting, FederatedOrigin};
use crate::error::DomainError;
use crate::policy::Viewer;

/// A signature dated further back than this, or further ahead, is refused (a replay, or
/// a clock far off): Mastodon's own window.
const PAST: TimeDelta = TimeDelta::hours(12);
const FUTURE: TimeDelta = TimeDelta::hours(1);
/// A stored key that does not verify is fetched again only when older than this (a key
/// rotation), so a flood of bad signatures makes no flood of fetches.
const REFETCH_AFTER: TimeDelta = TimeDelta::minutes(1);
/// The one answer for a key that cannot be had, whatever fetching it met (gone, refused,
/// failed): telling them apart would let anyone probe what the server can reach.
const KEY_UNAVAILABLE: &str = "The signer's key could not be fetched from its actor.";
/// The longest id taken (the columns hold no more).
const MAX_ID_BYTES: usize = 2048;

/// A request to the inbox, as received.
#[derive(Debug, Clone)]
pub struct InboxRequest<'a> {
    pub method: &'a str,
    /// The path and query as the signer addressed them.
    pub target: &'a str,
    /// The full URL as the signer addressed it (RFC 9421's `@target-uri`).
    pub target_uri: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// Why an activity was not taken.
#[derive(Debug, thiserror::Error)]
pub enum InboxError {
    /// No signature, or one that does not verify: 401.
    #[error("{0}")]
    Unsigned(String),
    /// A blocked actor or instance: 403.
    #[error("This server does not take activities from you.")]
    Blocked,
    /// An edit or deletion of a reply by someone other than its author: 403.
    #[error("Only its author can change or delete this reply.")]
    NotYours,
    /// The activity cannot be read or acted on: 400.
    #[error("{0}")]
    Unreadable(String),
    /// Refused by the comment rules (closed, too long, rate-limited…).
    #[error(transparent)]
    Refused(DomainError),
    /// The database is not answering: 503, the sender retries.
    #[error("The inbox is unavailable for a moment: try again shortly.")]
    Unavailable,
}

impl From<StoreError> for InboxError {
    fn from(error: StoreError) -> Self {
        tracing::warn!(error = %gazette_store::display_chain(&error), "the inbox cannot reach the database");
        InboxError::Unavailable
    }
}

impl From<gazette_store::SqlxError> for InboxError {
    fn from(error: gazette_store::SqlxError) -> Self {
        StoreError::from(error).into()
    }
}

impl From<FetchError> for InboxError {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Store => InboxError::Unavailable,
            // What the fetch met is logged, not told: the answer would let anyone probe
            // what the server can reach.
            error => {
                tracing::info!(%error, "the inbox could not fetch a signer's key");
                InboxError::Unsigned(KEY_UNAVAILABLE.to_owned())
            }
        }
    }
}

/// What the inbox did with an activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    Followed {
        accepted: bool,
    },
    Unfollowed,
    Commented {
        comment_id: i64,
    },
    CommentChanged {
        comment_id: i64,
    },
    CommentDeleted {
        comment_id: i64,
    },
    ActorDeleted {
        comments: usize,
    },
    Reacted,
    Unreacted,
    /// A follow the blog sent was accepted (or rejected).
    FollowSettled {
        accepted: bool,
    },
    /// Read, and not for the blog (a reply to someone else, a type it does not act on).
    Ignored,
}

/// The signature's key and what it covers, read from the request.
enum SignatureHeader {
    Cavage(signatures::ParsedSignature),
    Message(signatures::MessageSignature),
}

impl SignatureHeader {
    fn key_id(&self) -> &str {
        match self {
            SignatureHeader::Cavage(signature) => &signature.key_id,
            SignatureHeader::Message(signature) => &signature.key_id,
        }
    }
}

/// Verifies and acts on one activity.
pub async fn receive(
    pool: &PgPool,
    federation: &Federation,
    remote: &Remote,
    commenting: &Commenting,
    request: &InboxRequest<'_>,
) -> Result<Received, InboxError> {
    let activity: Value = serde_json::from_slice(request.body)
        .map_err(|_| InboxError::Unreadable("The body is not a JSON activity.".to_owned()))?;
    // No text the blog keeps may hold one (PostgreSQL refuses it in text and jsonb).
    if holds_nul(&activity) {
        return Err(InboxError::Unreadable(
            "The activity holds a NUL character (\\u0000), which no text may hold.".to_owned(),
        ));
    }
    let signature = read_signature(request)?;
    let key_id = signature.key_id().to_owned();
    if key_id.len() > MAX_ID_BYTES {
        return Err(InboxError::Unsigned(format!(
            "The signature's keyId may have at most {MAX_ID_BYTES} bytes."
        )));
    }
    let key_host = host_of(&key_id)
        .ok_or_else(|| InboxError::Unsigned("The signature's keyId is not a URL.".to_owned()))?;
    // A blocked instance is refused before anything is fetched from it.
    if store::is_blocked(pool, "", &key_host).await? {
        return Err(InboxError::Blocked);
    }
    let incoming = activities::read(&activity)
        .map_err(|error| InboxError::Unreadable(format!("The activity is unreadable: {error}.")))?;
    let claimed_actor = activities::actor_of(&activity)
        .map_err(|error| InboxError::Unreadable(format!("The activity is unreadable: {error}.")))?
        .to_owned();

    let site = &federation.site;
    let found = match remote.actor_for_key(pool, &key_id, false).await {
        Ok(found) => found,
        // A deleted actor's key is gone with it: its Delete is believed when it verifies
        // with the key kept from before, and the object is gone too, as its server says
        // when asked again.
        Err(FetchError::Gone) => {
            let Some(kept) = store::actor_by_key(pool, &key_id).await? else {
                return Err(InboxError::Unsigned(KEY_UNAVAILABLE.to_owned()));
            };
            check_signature(site, &signature, request, &kept)?;
            return gone_actor(pool, remote, &incoming, &claimed_actor, &kept).await;
        }
        Err(error) => return Err(error.into()),
    };
    let found = match check_signature(site, &signature, request, found.actor()) {
        Ok(()) => found,
        Err(_) if found.actor().fetched_at < Utc::now() - REFETCH_AFTER => {
            let found = remote.actor_for_key(pool, &key_id, true).await?;
            check_signature(site, &signature, request, found.actor())?;
            found
        }
        Err(error) => return Err(error),
    };
    // Only an actor whose key just verified a signature is stored (or refreshed).
    let actor = match found {
        Found::Stored(actor) => actor,
        Found::Fetched(actor) => {
            store::save_actor(pool, &actor).await?;
            remote.vouched_for(&key_id);
            actor
        }
    };
    if actor.id != claimed_actor {
        return Err(InboxError::Unsigned(
            "The activity's actor is not the owner of the key that signed it.".to_owned(),
        ));
    }
    if store::is_blocked(pool, &actor.id, &actor.host).await? {
        return Err(InboxError::Blocked);
    }
    check_ids(federation, &actor, &activity, &incoming)?;
    // A signed request is good for 12 hours: the same activity sent again within them
    // (a retry, or a replay) is taken once.
    let receipt = activity
        .get("id")
        .and_then(Value::as_str)
        .map(|id| receipt_key(&actor.id, id));
    if let Some(receipt) = &receipt
        && !store::first_receipt(pool, receipt).await?
    {
        return Ok(Received::Ignored);
    }
    let acted = act(pool, federation, commenting, &actor, &activity, incoming).await;
    // Not taken (refused for now, the database away): a retry of it must be heard.
    if acted.is_err()
        && let Some(receipt) = &receipt
        && let Err(error) = store::forget_receipt(pool, receipt).await
    {
        tracing::warn!(error = %gazette_store::display_chain(&error), "cannot forget a refused activity's receipt");
    }
    acted
}

fn read_signature(request: &InboxRequest<'_>) -> Result<SignatureHeader, InboxError> {
    let header = |name: &str| {
        request
            .headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| *value)
    };
    let unsigned = |message: String| InboxError::Unsigned(message);
    if let (Some(input), Some(signature)) = (header("signature-input"), header("signature")) {
        return signatures::parse_message_signature(input, signature)
            .map(SignatureHeader::Message)
            .map_err(|error| unsigned(format!("The RFC 9421 signature is unreadable: {error}.")));
    }
    let cavage = header("signature").or_else(|| {
        header("authorization").filter(|value| value.trim_start().starts_with("Signature "))
    });
    match cavage {
        Some(signature) => signatures::parse(signature)
            .map(SignatureHeader::Cavage)
            .map_err(|error| unsigned(format!("The HTTP signature is unreadable: {error}."))),
        None => Err(unsigned(
            "Activities must be signed with HTTP Signatures (a Signature header).".to_owned(),
        )),
    }
}

/// Checks the signature against the actor's key, and that it covers the request's
/// target, a fresh date and the body's digest.
fn check_signature(
    site: &gazette_federation::FederatedSite,
    signature: &SignatureHeader,
    request: &InboxRequest<'_>,
    actor: &RemoteActor,
) -> Result<(), InboxError> {
    let unsigned = |message: String| InboxError::Unsigned(message);
    let key = signatures::public_key_from_pem(&actor.public_key_pem)
        .ok_or_else(|| unsigned("The signer's key is not an RSA key.".to_owned()))?;
    let signed = Request {
        method: request.method,
        target: request.target,
        headers: request.headers,
    };
    let now = Utc::now();
    let fresh = |time: DateTime<Utc>| time > now - PAST && time < now + FUTURE;
    let date = signed
        .header("date")
        .and_then(|date| DateTime::parse_from_rfc2822(&date.replace("GMT", "+0000")).ok())
        .map(|date| date.with_timezone(&Utc));
    let (digest_header, created) = match signature {
        SignatureHeader::Cavage(parsed) => {
            // Signed for this site: a request signed for another server (whose inbox has
            // the same path) is not good here.
            if !signed
                .header("host")
                .is_some_and(|host| host.eq_ignore_ascii_case(site.host()))
            {
                return Err(unsigned(
                    "The request was signed for another host.".to_owned(),
                ));
            }
            signatures::verify(&key, parsed, &signed, &["(request-target)", "host", "date"])
                .map_err(|error| {
                    unsigned(format!("The HTTP signature does not verify: {error}."))
                })?;
            if !parsed.headers.iter().any(|name| name == "digest") {
                return Err(unsigned(
                    "The HTTP signature must cover the body's Digest.".to_owned(),
                ));
            }
            ("digest", date)
        }
        SignatureHeader::Message(parsed) => {
            // The target must include this site's authority (checked against the public
            // URL): a path alone would be good on every server with the same inbox path.
            let covers_target = parsed.covers("@target-uri")
                || (parsed.covers("@authority")
                    && (parsed.covers("@path") || parsed.covers("@request-target")));
            if !parsed.covers("@method") || !covers_target || !parsed.covers("content-digest") {
                return Err(unsigned(
                    "The signature must cover @method, the target and content-digest.".to_owned(),
                ));
            }
            signatures::verify_message(&key, parsed, &signed, request.target_uri).map_err(
                |error| unsigned(format!("The RFC 9421 signature does not verify: {error}.")),
            )?;
            if parsed
                .expires
                .is_some_and(|expires| expires < now.timestamp())
            {
                return Err(unsigned("The signature has expired.".to_owned()));
            }
            // Fresh by its own `created`, or by a `Date` it covers: an uncovered Date can
            // be changed by anyone replaying it.
            let created = parsed
                .created
                .and_then(|created| DateTime::from_timestamp(created, 0))
                .or(date.filter(|_| parsed.covers("date")));
            ("content-digest", created)
        }
    };
    if !created.is_some_and(fresh) {
        return Err(unsigned(
            "The signature is not dated within the last 12 hours.".to_owned(),
        ));
    }
    let digest = signed
        .header(digest_header)
        .ok_or_else(|| unsigned(format!("The request has no {digest_header} header.")))?;
    if !signatures::digest_matches(&digest, request.body) {
        return Err(unsigned(
            "The body does not match its digest: it was altered.".to_owned(),
        ));
    }
    Ok(())
}

/// A `Delete` signed by a key that is gone: acted on when the deleted object is gone too.
async fn gone_actor(
    pool: &PgPool,
    remote: &Remote,
    incoming: &Incoming,
    claimed_actor: &str,
    kept: &RemoteActor,
) -> Result<Received, InboxError> {
    let Incoming::Delete { object_id } = incoming else {
        return Err(InboxError::Unsigned(
            "The signer's key is gone from its server.".to_owned(),
        ));
    };
    if kept.id != claimed_actor || host_of(object_id).as_deref() != Some(kept.host.as_str()) {
        return Err(InboxError::Unsigned(
            "The signer's key is gone from its server.".to_owned(),
        ));
    }
    match remote.fetch(object_id).await {
        Err(FetchError::Gone) => {}
        Err(FetchError::Store) => return Err(InboxError::Unavailable),
        _ => {
            return Err(InboxError::Unsigned(
                "The signer's key is gone, and the object it deletes is not.".to_owned(),
            ));
        }
    }
    if object_id == claimed_actor {
        return delete_actor(pool, claimed_actor).await;
    }
    delete_comment(pool, claimed_actor, object_id).await
}

async fn act(
    pool: &PgPool,
    federation: &Federation,
    commenting: &Commenting,
    actor: &RemoteActor,
    activity: &Value,
    incoming: Incoming,
) -> Result<Received, InboxError> {
    match incoming {
        Incoming::Follow { id, object } => {
            if object != federation.site.actor_id() {
                return Ok(Received::Ignored);
            }
            let accepted = !federation.approve_followers;
            let mut tx = pool.begin().await?;
            store::add_follower(&mut *tx, &actor.id, &id, accepted).await?;
            if accepted {
                queue_to(&mut tx, actor, &federation.site.accept(&id, &actor.id)).await?;
            }
            tx.commit().await?;
            Ok(Received::Followed { accepted })
        }
        Incoming::Undo { object_id, .. } => {
            // Only the follow this actor made of the blog is undone by naming it.
            let follower = store::follower(pool, &actor.id).await?;
            if follower.is_some_and(|follower| follower.follow_id == object_id) {
                store::remove_follower(pool, &actor.id).await?;
                return Ok(Received::Unfollowed);
            }
            match store::remove_reaction(pool, &object_id, &actor.id).await? {
                true => Ok(Received::Unreacted),
                false => Ok(Received::Ignored),
            }
        }
        Incoming::Create(note) => reply(pool, federation, commenting, actor, note).await,
        Incoming::Update(note) => {
            let Some(linked) = store::comment_by_object(pool, &note.id, Some(&actor.id)).await?
            else {
                return Ok(Received::Ignored);
            };
            if linked.actor_id != actor.id || note.attributed_to.as_deref() != Some(&actor.id) {
                return Err(InboxError::NotYours);
            }
            let body = comment_text(&note).await?;
            commenting::edit_federated_comment(pool, commenting, linked.comment_id, &body)
                .await
                .map_err(InboxError::Refused)?;
            Ok(Received::CommentChanged {
                comment_id: linked.comment_id,
            })
        }
        Incoming::Delete { object_id } if object_id == actor.id => {
            delete_actor(pool, &actor.id).await
        }
        Incoming::Delete { object_id } => delete_comment(pool, &actor.id, &object_id).await,
        Incoming::Like { id, object } | Incoming::Announce { id, object } => {
            let kind = match activity.get("type").and_then(Value::as_str) {
                Some("Announce") => "announce",
                _ => "like",
            };
            let Some(post_ref) = federation.post_of(&object) else {
                return Ok(Received::Ignored);
            };
            let Some(post) = public_post(pool, &post_ref).await? else {
                return Ok(Received::Ignored);
            };
            store::add_reaction(pool, &id, kind, post.id, &actor.id).await?;
            Ok(Received::Reacted)
        }
        Incoming::Accept { object } | Incoming::Reject { object } => {
            let accepted = matches!(activity.get("type").and_then(Value::as_str), Some("Accept"));
            match store::settle_following(pool, &actor.id, &object, accepted).await? {
                true => Ok(Received::FollowSettled { accepted }),
                false => Ok(Received::Ignored),
            }
        }
        Incoming::Other(_) => Ok(Received::Ignored),
    }
}

/// The text of a remote note as a comment's body (its HTML through the comment
/// allow-list, without control characters), cut to the longest comment; refused when the
/// HTML nests too deep to sanitise in bounded time. Sanitised off the async runtime, as
/// renders are: up to 256 KiB of anyone's HTML.
async fn comment_text(note: &RemoteNote) -> Result<String, InboxError> {
    let content = note.content.clone();
    crate::offload::render(move || text_of_note(&content)).await
}

fn text_of_note(content: &str) -> Result<String, InboxError> {
    let text: String = gazette_content::comment_text_from_html(content)
        .map_err(|_| {
            InboxError::Unreadable(format!(
                "The note's HTML nests more than {} elements deep.",
                gazette_content::MAX_HTML_NESTING
            ))
        })?
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect();
    let text = text.trim();
    Ok(match text.char_indices().nth(commenting::MAX_BODY_CHARS) {
        Some((end, _)) => text[..end].to_owned(),
        None => text.to_owned(),
    })
}

/// A reply to the blog's post or one of its comments becomes a comment.
async fn reply(
    pool: &PgPool,
    federation: &Federation,
    commenting: &Commenting,
    actor: &RemoteActor,
    note: RemoteNote,
) -> Result<Received, InboxError> {
    if note.attributed_to.as_deref() != Some(actor.id.as_str()) {
        return Err(InboxError::Unreadable(
            "The note is not attributed to the actor that sends it.".to_owned(),
        ));
    }
    let Some(in_reply_to) = note.in_reply_to.as_deref() else {
        return Ok(Received::Ignored);
    };
    // A note is one comment, wherever it says it answers: sent again (to another post,
    // or after the retry window) it is not written twice. Its author edits and deletes
    // the one comment it is.
    if let Some(linked) = store::comment_by_object(pool, &note.id, Some(&actor.id)).await? {
        return Ok(Received::Commented {
            comment_id: linked.comment_id,
        });
    }
    let (post_id, parent_id) = if let Some(post_ref) = federation.post_of(in_reply_to) {
        match public_post(pool, &post_ref).await? {
            Some(post) => (post.id, None),
            None => return Ok(Received::Ignored),
        }
    } else {
        let parent = match federation.comment_of(in_reply_to) {
            Some(id) => Some(id),
            None => store::comment_by_object(pool, in_reply_to, None)
                .await?
                .map(|linked| linked.comment_id),
        };
        let Some(parent) = parent else {
            return Ok(Received::Ignored);
        };
        match commenting::post_of_public_comment(pool, parent).await? {
            Some(post_id) => (post_id, Some(parent)),
            None => return Ok(Received::Ignored),
        }
    };
    let name = match actor.name.trim() {
        "" => actor
            .id
            .rsplit('/')
            .next()
            .unwrap_or("fediverse")
            .to_owned(),
        name => name.to_owned(),
    };
    let name: String = name
        .chars()
        .filter(|c| !c.is_control())
        .take(commenting::MAX_AUTHOR_NAME_CHARS)
        .collect();
    let added = commenting::add_comment(
        pool,
        commenting,
        &Viewer::Anonymous,
        Some(&ClientKey::remote_actor(&actor.id)),
        CommentInput {
            post_id,
            parent_id,
            author_name: name,
            author_email: None,
            author_url: actor.profile_url.clone().or_else(|| Some(actor.id.clone())),
            body: comment_text(&note).await?,
            // A retried delivery of the same note finds the first comment.
            client_mutation_id: Some(
                ClientKey::remote_actor(&format!("{}\n{}", actor.id, note.id))
                    .as_str()
                    .to_owned(),
            ),
            // Limited per instance as well as per actor.
            federated: Some(FederatedOrigin {
                object_id: note.id.clone(),
                actor_id: actor.id.clone(),
                instance: super::instance_of(&actor.host),
            }),
        },
    )
    .await
    .map_err(InboxError::Refused)?;
    Ok(Received::Commented {
        comment_id: added.comment.id,
    })
}

async fn delete_comment(
    pool: &PgPool,
    actor_id: &str,
    object_id: &str,
) -> Result<Received, InboxError> {
    let Some(linked) = store::comment_by_object(pool, object_id, Some(actor_id)).await? else {
        return Ok(Received::Ignored);
    };
    if linked.actor_id != actor_id {
        return Err(InboxError::NotYours);
    }
    commenting::delete_federated_comment(pool, linked.comment_id)
        .await
        .map_err(InboxError::Refused)?;
    Ok(Received::CommentDeleted {
        comment_id: linked.comment_id,
    })
}

/// A deleted actor's comments go, and so does its follow.
async fn delete_actor(pool: &PgPool, actor_id: &str) -> Result<Received, InboxError> {
    let comments = store::comments_of_actor(pool, actor_id).await?;
    for comment in &comments {
        commenting::delete_federated_comment(pool, *comment)
            .await
            .map_err(InboxError::Refused)?;
    }
    store::forget_actor(pool, actor_id).await?;
    Ok(Received::ActorDeleted {
        comments: comments.len(),
    })
}

/// Ids an actor may use: its activities and objects are on its own host (so nobody takes
/// another server's ids first), and never the blog's.
fn check_ids(
    federation: &Federation,
    actor: &RemoteActor,
    activity: &Value,
    incoming: &Incoming,
) -> Result<(), InboxError> {
    let theirs = |id: &str| {
        host_of(id).as_deref() == Some(actor.host.as_str())
            && !id.starts_with(federation.site.public_url.as_str())
    };
    let object_id = match incoming {
        Incoming::Create(note) | Incoming::Update(note) => Some(note.id.as_str()),
        _ => None,
    };
    let activity_id = activity.get("id").and_then(Value::as_str);
    let too_long = [activity_id, object_id]
        .into_iter()
        .flatten()
        .any(|id| id.len() > MAX_ID_BYTES);
    if too_long {
        return Err(InboxError::Unreadable(format!(
            "An activity's id and its object's may have at most {MAX_ID_BYTES} bytes."
        )));
    }
    if activity_id.is_some_and(|id| !theirs(id)) || object_id.is_some_and(|id| !theirs(id)) {
        return Err(InboxError::Unreadable(
            "An activity's id and its object's must be on its actor's own server.".to_owned(),
        ));
    }
    Ok(())
}

/// Whether any text of `value`, a key or a string, holds U+0000.
fn holds_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(fields) => fields
            .iter()
            .any(|(key, value)| key.contains('\0') || holds_nul(value)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// What a receipt is remembered by: the actor and the id together (an account cannot
/// take another's ids first), digested to fit the column.
fn receipt_key(actor: &str, id: &str) -> String {
    use sha2::{Digest as _, Sha256};
    hex::encode(Sha256::digest(format!("{actor}\n{id}").as_bytes()))
}
