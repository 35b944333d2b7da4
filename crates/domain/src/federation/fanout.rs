//! Turns the event outbox into deliveries: a published post is a `Create` of its
//! `Article`, an edit an `Update`, unpublishing or deleting a `Delete`; a comment
//! published on the blog is a `Create` of a `Note` answering the post (or the comment it
//! answers), a reply from the fediverse that a moderator published is an `Announce`. Each
//! goes to every follower's (shared) inbox, and a reply also to the author it answers.

use gazette_federation::activities::NoteComment;
use gazette_store::comments::{self, Comment, CommentStatus};
use gazette_store::federation::{self as store, QueuedEvent};
use gazette_store::{PgPool, ReadBudget, Reader, StoreError};
use serde_json::Value;

use super::{Federation, PostRef, article, public_post, queue_to_inboxes};

/// Events fanned out per transaction.
const BATCH: i64 = 50;

/// Fans out up to one batch of queued events; how many there were.
pub async fn fan_out(pool: &PgPool, federation: &Federation) -> Result<usize, StoreError> {
    let mut tx = pool.begin().await?;
    let events = store::claim_queued(&mut *tx, BATCH).await?;
    if events.is_empty() {
        return Ok(0);
    }
    let inboxes = store::follower_inboxes(&mut *tx).await?;
    for event in &events {
        let Some((activity, extra)) = activity_for(pool, federation, event).await? else {
            continue;
        };
        let mut targets: Vec<String> = inboxes.clone();
        for inbox in extra {
            if !targets.contains(&inbox) {
                targets.push(inbox);
            }
        }
        queue_to_inboxes(&mut tx, &targets, &activity).await?;
    }
    tx.commit().await?;
    Ok(events.len())
}

/// The activity an event makes, and inboxes it goes to besides the followers'.
async fn activity_for(
    pool: &PgPool,
    federation: &Federation,
    event: &QueuedEvent,
) -> Result<Option<(Value, Vec<String>)>, StoreError> {
    let site = &federation.site;
    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    let post_id = data.pointer("/post/databaseId").and_then(Value::as_i64);
    let comment_id = data.pointer("/comment/databaseId").and_then(Value::as_i64);
    match (event.event_type.as_str(), post_id, comment_id) {
        ("post.published" | "post.updated", Some(post_id), _) => {
            // The post as it is now: an event for a post since unpublished is no news.
            let Some(post) = public_post(pool, &PostRef::Id(post_id)).await? else {
                return Ok(None);
            };
            let object = article(pool, site, &post).await?;
            let activity = match event.event_type.as_str() {
                "post.published" => site.create(object),
                _ => site.update(object, &format!("{}", event.event_id)),
            };
            Ok(Some((activity, Vec::new())))
        }
        ("post.unpublished" | "post.deleted", Some(post_id), _) => {
            Ok(Some((site.delete(&site.article_id(post_id)), Vec::new())))
        }
        ("comment.created" | "comment.approved", Some(_), Some(comment_id)) => {
            comment_activity(pool, federation, comment_id).await
        }
        ("comment.deleted" | "comment.unpublished", Some(_), Some(comment_id)) => {
            // The blog's own comment is its object, deleted; a reply from the fediverse
            // was boosted, and the boost is taken back (its author is told too).
            match store::comment_by_id(pool, comment_id).await? {
                Some(linked) => {
                    let (boost, inboxes) = boost_of(pool, federation, &linked).await?;
                    Ok(Some((site.undo(boost), inboxes)))
                }
                None => Ok(Some((
                    site.delete(&site.comment_id(comment_id)),
                    Vec::new(),
                ))),
            }
        }
        _ => Ok(None),
    }
}

/// A published comment as followers get it.
async fn comment_activity(
    pool: &PgPool,
    federation: &Federation,
    comment_id: i64,
) -> Result<Option<(Value, Vec<String>)>, StoreError> {
    let site = &federation.site;
    // A reply from the fediverse is its author's object: the blog boosts it.
    if let Some(linked) = store::comment_by_id(pool, comment_id).await? {
        if public_comment(pool, comment_id).await?.is_none() {
            return Ok(None);
        }
        return Ok(Some(boost_of(pool, federation, &linked).await?));
    }
    Ok(note(pool, federation, comment_id)
        .await?
        .map(|(note, inboxes)| (site.create(note), inboxes)))
}

/// The blog's `Announce` of a reply from the fediverse, and its author's inbox (which the
/// boost, and its `Undo`, reach besides the followers').
async fn boost_of(
    pool: &PgPool,
    federation: &Federation,
    linked: &store::FederatedComment,
) -> Result<(Value, Vec<String>), StoreError> {
    let inbox = store::actor(pool, &linked.actor_id)
        .await?
        .map(|actor| actor.shared_inbox.unwrap_or(actor.inbox));
    let boost = federation
        .site
        .announce(&linked.object_id, &linked.actor_id);
    Ok((boost, inbox.into_iter().collect()))
}

/// A published comment written on the blog as its `Note`, and the inboxes of the remote
/// author it answers; `None` for a reply from the fediverse (not the blog's object) or a
/// comment the public does not see.
pub async fn note(
    pool: &PgPool,
    federation: &Federation,
    comment_id: i64,
) -> Result<Option<(Value, Vec<String>)>, StoreError> {
    let site = &federation.site;
    let Some(comment) = public_comment(pool, comment_id).await? else {
        return Ok(None);
    };
    if store::comment_by_id(pool, comment_id).await?.is_some() {
        return Ok(None);
    }
    let Some(post) = public_post(pool, &PostRef::Id(comment.post_id)).await? else {
        return Ok(None);
    };
    // It answers the post, or the comment it replies to (the remote note, when that came
    // from the fediverse, whose author is told).
    let (in_reply_to, mentions, inboxes) = match comment.parent_id {
        None => (site.article_id(post.id), Vec::new(), Vec::new()),
        Some(parent) => match store::comment_by_id(pool, parent).await? {
            Some(linked) => {
                let inbox = store::actor(pool, &linked.actor_id)
                    .await?
                    .map(|actor| actor.shared_inbox.unwrap_or(actor.inbox));
                (
                    linked.object_id,
                    vec![linked.actor_id],
                    inbox.into_iter().collect(),
                )
            }
            None => (site.comment_id(parent), Vec::new(), Vec::new()),
        },
    };
    let note = site.note(&NoteComment {
        id: comment.id,
        post_slug: &post.slug,
        author_name: &comment.author_name,
        body_html: &comment.body_html,
        published: comment
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        in_reply_to,
        mentions,
    });
    Ok(Some((note, inboxes)))
}

/// A comment the public sees, published.
pub async fn public_comment(pool: &PgPool, id: i64) -> Result<Option<Comment>, StoreError> {
    Ok(
        comments::find_visible(pool, &[id], Reader::PUBLIC, &ReadBudget::unlimited())
            .await?
            .remove(&id)
            .filter(|comment| comment.status == CommentStatus::Published),
    )
}
