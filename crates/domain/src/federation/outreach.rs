//! The blog reaching out: following other actors (another Gazette blog, a Mastodon
//! account), and its writers replying to posts elsewhere — the reply goes to the post's
//! server, where it becomes a comment under the post (on another Gazette) or a reply in
//! the thread (on Mastodon).

use chrono::SecondsFormat;
use gazette_federation::activities::{SentReply, id_of};
use gazette_store::PgPool;
use gazette_store::federation::{self as store, Followed, RemoteActor, SentNote};
use serde_json::Value;

use super::remote::{FetchError, Remote};
use super::{Federation, host_of, queue_to, queue_to_inboxes};
use crate::commenting;
use crate::error::DomainError;
use crate::policy::Viewer;

/// What the blog's staff do towards the rest of the fediverse.
pub struct Outreach<'a> {
    pub pool: &'a PgPool,
    pub federation: &'a Federation,
    /// The comment rules: a writer's replies count against its rate limit.
    pub commenting: &'a crate::commenting::Commenting,
    pub remote: &'a Remote,
    pub viewer: &'a Viewer,
}

/// The longest id taken (the columns hold no more).
const MAX_ID_BYTES: usize = 2048;

/// A fetch that failed, as the caller is told: what it met is logged, not told (writers
/// are not to learn what the server can reach inside its network).
fn unreachable(field: &str, what: &str, error: &FetchError) -> DomainError {
    match error {
        FetchError::Store => DomainError::Unavailable,
        error => {
            tracing::info!(%error, field, "a follow or reply could not fetch what it names");
            DomainError::bad_input(
                field,
                format!(
                    "{what} could not be fetched from its server (it must be a public https address)."
                ),
            )
        }
    }
}

fn busy() -> DomainError {
    DomainError::bad_input(
        "federation",
        "Other follows or replies are being sent to the fediverse: try again in a few seconds.",
    )
}

impl Outreach<'_> {
    /// The actor at `id`, fetched (and stored: it was fetched from its own address), if
    /// it is not blocked.
    async fn actor(&self, field: &str, id: &str) -> Result<RemoteActor, DomainError> {
        let id = id.trim();
        self.check_address(field, id, "the account's ActivityPub id")
            .await?;
        let actor = self
            .remote
            .fetch_actor(id)
            .await
            .map_err(|error| unreachable(field, "The account", &error))?;
        if store::is_blocked(self.pool, &actor.id, &actor.host).await? {
            return Err(DomainError::Forbidden(
                "This account or its server is blocked.".to_owned(),
            ));
        }
        store::save_actor(self.pool, &actor).await?;
        Ok(actor)
    }

    /// A URL of another server (not this site's), of a host that is not blocked: checked
    /// before anything is fetched.
    async fn check_address(&self, field: &str, url: &str, what: &str) -> Result<(), DomainError> {
        let Some(host) = host_of(url).filter(|_| url.len() <= MAX_ID_BYTES) else {
            return Err(DomainError::bad_input(
                field,
                format!("Give {what} (a URL)."),
            ));
        };
        if url.starts_with(self.federation.site.public_url.as_str())
            || host_of(&self.federation.site.public_url).as_deref() == Some(host.as_str())
        {
            return Err(DomainError::bad_input(
                field,
                "This is this site's own address: comment on the post here instead.",
            ));
        }
        if store::is_blocked(self.pool, url, &host).await? {
            return Err(DomainError::Forbidden(
                "This account or its server is blocked.".to_owned(),
            ));
        }
        Ok(())
    }

    /// Follows another actor: a `Follow` is sent, and the follow is `pending` until its
    /// server accepts. Admins only.
    pub async fn follow(&self, actor: &str) -> Result<Followed, DomainError> {
        self.viewer
            .require_admin("follow accounts on the fediverse")?;
        let _permit = self.remote.outreach_permit().ok_or_else(busy)?;
        let actor = self.actor("actor", actor).await?;
        let site = &self.federation.site;
        let nonce = chrono::Utc::now().timestamp_millis().to_string();
        let mut tx = self.pool.begin().await?;
        // A follow already pending keeps its id, so its Accept is recognised.
        let proposed = site.follow(&actor.id, &nonce);
        let proposed_id = proposed["id"].as_str().unwrap_or_default().to_owned();
        let followed = store::add_following(&mut *tx, &actor.id, &proposed_id).await?;
        let mut follow = proposed;
        follow["id"] = Value::String(followed.follow_id.clone());
        queue_to(&mut tx, &actor, &follow).await?;
        tx.commit().await?;
        Ok(followed)
    }

    /// Stops following an actor (an `Undo` of the follow is sent); whether the blog
    /// followed it. Admins only.
    pub async fn unfollow(&self, actor: &str) -> Result<bool, DomainError> {
        self.viewer
            .require_admin("follow accounts on the fediverse")?;
        let mut tx = self.pool.begin().await?;
        let Some(follow_id) = store::remove_following(&mut *tx, actor.trim()).await? else {
            return Ok(false);
        };
        if let Some(remote) = store::actor(&mut *tx, actor.trim()).await? {
            let site = &self.federation.site;
            let mut follow = site.follow(&remote.id, "");
            follow["id"] = Value::String(follow_id);
            queue_to(&mut tx, &remote, &site.undo(follow)).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Whom the blog follows, newest first. Admins only.
    pub async fn following(&self, limit: i64) -> Result<Vec<Followed>, DomainError> {
        self.viewer.require_admin("see whom the blog follows")?;
        Ok(store::following(self.pool, limit).await?)
    }

    /// A writer's reply to a post elsewhere (by its object id or the URL Mastodon shows):
    /// sent as a `Note` of the blog actor, headed by the writer's name, to the post's
    /// author and the blog's followers. Authors and admins.
    pub async fn reply(&self, object: &str, body: &str) -> Result<SentNote, DomainError> {
        let owner = self.viewer.require_token()?;
        let body = commenting::check_body(body)?;
        let html = commenting::render_body(&body)?;
        let object = object.trim();
        self.check_address("objectId", object, "the post's ActivityPub id or address")
            .await?;
        // Each writer's replies count against the comment rate limit, as theirs.
        commenting::count_rate(
            self.pool,
            self.commenting,
            &crate::clients::ClientKey::writer(owner.author_id),
        )
        .await?;
        let _permit = self.remote.outreach_permit().ok_or_else(busy)?;
        let fetch = |url: String| async move {
            self.remote
                .fetch(&url)
                .await
                .map_err(|error| unreachable("objectId", "The post", &error))
        };
        let mut document = fetch(object.to_owned()).await?;
        // A page's address (Mastodon's `/@user/1`) names the post by another id: the post
        // is what that id answers, which must say it is itself.
        let first_id = document
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if first_id != object
            && host_of(&first_id) == host_of(object)
            && first_id.len() <= MAX_ID_BYTES
        {
            document = fetch(first_id.clone()).await?;
        }
        let object_id = document
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let is_post = matches!(
            document.get("type").and_then(Value::as_str),
            Some("Note" | "Article" | "Page" | "Question")
        );
        if object_id != first_id || !is_post {
            return Err(DomainError::bad_input(
                "objectId",
                "This address does not hold a post (a Note, Article or Page) of its own server.",
            ));
        }
        let author = document
            .get("attributedTo")
            .and_then(|value| match value {
                Value::Array(items) => items.first().and_then(id_of),
                value => id_of(value),
            })
            .unwrap_or_default();
        // The document speaks for its own server only.
        if host_of(object_id) != host_of(object) || host_of(author) != host_of(object_id) {
            return Err(DomainError::bad_input(
                "objectId",
                "This address does not hold a post of its own server.",
            ));
        }
        let (object_id, author) = (object_id.to_owned(), author.to_owned());
        let actor = self.actor("objectId", &author).await?;
        let writer = gazette_store::authors::by_ids_unchecked(self.pool, &[owner.author_id])
            .await?
            .remove(&owner.author_id)
            .map(|author| author.name)
            .unwrap_or_else(|| self.federation.site.title.clone());
        let site = &self.federation.site;
        let mut tx = self.pool.begin().await?;
        let note = store::insert_note(
            &mut *tx,
            &object_id,
            &actor.id,
            (owner.author_id, &writer),
            &html,
        )
        .await?;
        let activity = site.create(sent_note(self.federation, &note));
        let mut inboxes = store::follower_inboxes(&mut *tx).await?;
        let theirs = actor.shared_inbox.clone().unwrap_or(actor.inbox.clone());
        if !inboxes.contains(&theirs) {
            inboxes.push(theirs);
        }
        queue_to_inboxes(&mut tx, &inboxes, &activity).await?;
        tx.commit().await?;
        Ok(note)
    }
}

impl Outreach<'_> {
    /// Sent replies, newest first: a writer's own, or (admins) everyone's.
    pub async fn replies(&self, limit: i64) -> Result<Vec<SentNote>, DomainError> {
        let owner = self.viewer.require_token()?;
        let only = match owner.role {
            gazette_store::tokens::Role::Admin => None,
            _ => Some(owner.author_id),
        };
        Ok(store::notes(self.pool, only, limit).await?)
    }

    /// Withdraws a sent reply: a `Delete` goes where the reply went, and its id answers
    /// with a `Tombstone`. Its writer, or an admin.
    pub async fn delete_reply(&self, id: i64) -> Result<SentNote, DomainError> {
        let owner = self.viewer.require_token()?;
        let mut tx = self.pool.begin().await?;
        let found = store::note(&mut *tx, id)
            .await?
            .filter(|note| {
                owner.role == gazette_store::tokens::Role::Admin
                    || note.author_id == Some(owner.author_id)
            })
            .filter(|note| note.deleted_at.is_none())
            .ok_or_else(|| DomainError::not_found("There is no reply of yours with this id."))?;
        let Some(deleted) = store::delete_note(&mut *tx, found.id).await? else {
            return Err(DomainError::not_found(
                "There is no reply of yours with this id.",
            ));
        };
        let site = &self.federation.site;
        let mut inboxes = store::follower_inboxes(&mut *tx).await?;
        if let Some(actor) = store::actor(&mut *tx, &deleted.to_actor).await? {
            let theirs = actor.shared_inbox.unwrap_or(actor.inbox);
            if !inboxes.contains(&theirs) {
                inboxes.push(theirs);
            }
        }
        queue_to_inboxes(
            &mut tx,
            &inboxes,
            &site.delete(&site.sent_note_id(deleted.id)),
        )
        .await?;
        tx.commit().await?;
        Ok(deleted)
    }
}

/// A sent reply as its `Note` (served at its id).
pub fn sent_note(federation: &Federation, note: &SentNote) -> Value {
    federation.site.sent_note(&SentReply {
        id: note.id,
        author_name: &note.author_name,
        content_html: &note.content_html,
        in_reply_to: &note.in_reply_to,
        to_actor: &note.to_actor,
        published: note.created_at.to_rfc3339_opts(SecondsFormat::Secs, true),
    })
}
