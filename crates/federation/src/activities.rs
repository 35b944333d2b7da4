//! The activities the blog sends (Accept, Create, Update, Delete, Announce), its comments
//! as `Note`s, and what it reads from the activities it receives.

use serde_json::{Value, json};

use crate::{FederatedSite, PUBLIC, escape};

/// A comment written on the blog, as a `Note` answering the post or another comment.
#[derive(Debug, Clone)]
pub struct NoteComment<'a> {
    pub id: i64,
    pub post_slug: &'a str,
    pub author_name: &'a str,
    pub body_html: &'a str,
    /// RFC 3339.
    pub published: String,
    /// What it answers: the post's `Article` or a comment's object id.
    pub in_reply_to: String,
    /// Remote actors to notify besides the followers (the author of the comment answered).
    pub mentions: Vec<String>,
}

impl FederatedSite {
    fn followers(&self) -> String {
        format!("{}/followers", self.actor_id())
    }

    /// A comment's object id (comments written on the blog).
    pub fn comment_id(&self, comment_id: i64) -> String {
        format!("{}/ap/comments/{comment_id}", self.public_url)
    }

    /// `Accept` of the `Follow` `follow_id` that `follower` sent the blog. The follow is
    /// restated from its id, actor and object, which is what followers recognise it by,
    /// not echoed as received: a follow padded with anything would come back as large.
    pub fn accept(&self, follow_id: &str, follower: &str) -> Value {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}#accepts/{}", self.actor_id(), short_hash(follow_id)),
            "type": "Accept",
            "actor": self.actor_id(),
            "object": {
                "id": follow_id,
                "type": "Follow",
                "actor": follower,
                "object": self.actor_id(),
            }
        })
    }

    /// `Create` of an object (an `Article` or a `Note`), addressed as the object is.
    pub fn create(&self, object: Value) -> Value {
        self.wrap("Create", "create", object)
    }

    /// `Update` of an object; `version` makes each update's id distinct.
    pub fn update(&self, object: Value, version: &str) -> Value {
        let activity = format!("update-{}", short_hash(version));
        self.wrap("Update", &activity, object)
    }

    fn wrap(&self, kind: &str, activity: &str, object: Value) -> Value {
        let object_id = object.get("id").and_then(Value::as_str).unwrap_or_default();
        let mut activity = json!({
            "@context": object.get("@context").cloned()
                .unwrap_or_else(|| json!("https://www.w3.org/ns/activitystreams")),
            "id": format!("{object_id}#{activity}"),
            "type": kind,
            "actor": self.actor_id(),
            "published": object.get("updated").or_else(|| object.get("published")).cloned()
                .unwrap_or(Value::Null),
            "to": object.get("to").cloned().unwrap_or_else(|| json!([PUBLIC])),
            "cc": object.get("cc").cloned().unwrap_or_else(|| json!([self.followers()])),
            "object": object
        });
        if activity["published"].is_null()
            && let Some(map) = activity.as_object_mut()
        {
            map.remove("published");
        }
        if let Some(object) = activity["object"].as_object_mut() {
            object.remove("@context");
        }
        activity
    }

    /// `Delete` of one of the blog's objects: a `Tombstone` in its place.
    pub fn delete(&self, object_id: &str) -> Value {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{object_id}#delete"),
            "type": "Delete",
            "actor": self.actor_id(),
            "to": [PUBLIC],
            "cc": [self.followers()],
            "object": { "id": object_id, "type": "Tombstone" }
        })
    }

    /// `Announce` (a boost) of a reply from the fediverse that a moderator published: it
    /// reaches the blog's followers, and tells its author it is on the blog.
    pub fn announce(&self, object_id: &str, author: &str) -> Value {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}#announces/{}", self.actor_id(), short_hash(object_id)),
            "type": "Announce",
            "actor": self.actor_id(),
            "to": [PUBLIC],
            "cc": [self.followers(), author],
            "object": object_id
        })
    }

    /// A comment written on the blog as a `Note` by the blog actor, naming its writer.
    pub fn note(&self, comment: &NoteComment<'_>) -> Value {
        let mut cc = vec![self.followers()];
        cc.extend(comment.mentions.iter().cloned());
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": self.comment_id(comment.id),
            "type": "Note",
            "attributedTo": self.actor_id(),
            "inReplyTo": comment.in_reply_to,
            "content": format!(
                "<p><strong>{}</strong> commented:</p>{}",
                escape(comment.author_name),
                comment.body_html
            ),
            "url": format!("{}/posts/{}#comment-{}", self.public_url, comment.post_slug, comment.id),
            "published": comment.published,
            "to": [PUBLIC],
            "cc": cc,
            // Mastodon notifies the author answered only when the note mentions them.
            "tag": comment.mentions.iter()
                .map(|actor| json!({ "type": "Mention", "href": actor }))
                .collect::<Vec<_>>()
        })
    }
}

/// A reply the blog's writer sends to a post elsewhere, as a `Note` of the blog actor.
#[derive(Debug, Clone)]
pub struct SentReply<'a> {
    pub id: i64,
    pub author_name: &'a str,
    pub content_html: &'a str,
    pub in_reply_to: &'a str,
    /// The author of the post answered.
    pub to_actor: &'a str,
    /// RFC 3339.
    pub published: String,
}

impl FederatedSite {
    /// A reply's object id.
    pub fn sent_note_id(&self, id: i64) -> String {
        format!("{}/ap/notes/{id}", self.public_url)
    }

    /// `Follow` of another actor by the blog; `nonce` makes each follow's id new (a
    /// server takes an activity id once).
    pub fn follow(&self, actor: &str, nonce: &str) -> Value {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{}#follows/{}-{nonce}", self.actor_id(), short_hash(actor)),
            "type": "Follow",
            "actor": self.actor_id(),
            "object": actor
        })
    }

    /// `Undo` of an activity the blog sent.
    pub fn undo(&self, activity: Value) -> Value {
        let id = activity
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": format!("{id}/undo"),
            "type": "Undo",
            "actor": self.actor_id(),
            "object": activity
        })
    }

    /// A writer's reply to a post elsewhere, as a `Note` of the blog actor naming them.
    pub fn sent_note(&self, reply: &SentReply<'_>) -> Value {
        json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": self.sent_note_id(reply.id),
            "type": "Note",
            "attributedTo": self.actor_id(),
            "inReplyTo": reply.in_reply_to,
            "content": format!(
                "<p><strong>{}</strong> replied:</p>{}",
                escape(reply.author_name),
                reply.content_html
            ),
            "published": reply.published,
            "to": [PUBLIC],
            "cc": [self.followers(), reply.to_actor],
            "tag": [{ "type": "Mention", "href": reply.to_actor }]
        })
    }
}

/// A short, stable token for an id (activity ids must be unique and are URLs).
fn short_hash(text: &str) -> String {
    use rsa::sha2::{Digest as _, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    digest[..12]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// A reference that may be an id or an object with one: its id.
pub fn id_of(value: &Value) -> Option<&str> {
    match value {
        Value::String(id) => Some(id),
        Value::Object(object) => object.get("id").and_then(Value::as_str),
        _ => None,
    }
}

/// A received activity, as far as the blog acts on it.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    Follow {
        id: String,
        object: String,
    },
    /// `Undo` of the activity `object` (its id and type when embedded).
    Undo {
        object_id: String,
        object_type: Option<String>,
    },
    Create(RemoteNote),
    Update(RemoteNote),
    /// `Delete` of an object, or of the actor itself.
    Delete {
        object_id: String,
    },
    Like {
        id: String,
        object: String,
    },
    Announce {
        id: String,
        object: String,
    },
    /// The answer to a follow the blog sent: `object` is that follow's id.
    Accept {
        object: String,
    },
    Reject {
        object: String,
    },
    /// Anything else: received and ignored.
    Other(String),
}

/// A reply from the fediverse.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteNote {
    pub id: String,
    pub attributed_to: Option<String>,
    pub in_reply_to: Option<String>,
    pub content: String,
    /// The note's page (where its author's server shows it).
    pub url: Option<String>,
}

/// Why an activity cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActivityError {
    #[error("the activity has no {0}")]
    Missing(&'static str),
}

/// The activity's actor (`actor`, an id or an object).
pub fn actor_of(activity: &Value) -> Result<&str, ActivityError> {
    activity
        .get("actor")
        .and_then(id_of)
        .ok_or(ActivityError::Missing("actor"))
}

/// Reads what the blog acts on from an activity.
pub fn read(activity: &Value) -> Result<Incoming, ActivityError> {
    let kind = activity
        .get("type")
        .and_then(Value::as_str)
        .ok_or(ActivityError::Missing("type"))?;
    let id = || {
        activity
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(ActivityError::Missing("id"))
    };
    let object = activity.get("object");
    let object_id = || {
        object
            .and_then(id_of)
            .map(str::to_owned)
            .ok_or(ActivityError::Missing("object"))
    };
    Ok(match kind {
        "Follow" => Incoming::Follow {
            id: id()?,
            object: object_id()?,
        },
        "Undo" => Incoming::Undo {
            object_id: object_id()?,
            object_type: object
                .and_then(|object| object.get("type"))
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        "Create" | "Update" => {
            let object = object.ok_or(ActivityError::Missing("object"))?;
            let note = match object.get("type").and_then(Value::as_str) {
                Some("Note" | "Article" | "Page") => RemoteNote {
                    id: object_id()?,
                    attributed_to: object
                        .get("attributedTo")
                        .and_then(|value| match value {
                            Value::Array(items) => items.first().and_then(id_of),
                            value => id_of(value),
                        })
                        .map(str::to_owned),
                    in_reply_to: object.get("inReplyTo").and_then(id_of).map(str::to_owned),
                    content: object
                        .get("content")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    url: object.get("url").and_then(|url| match url {
                        Value::Array(items) => items.first().and_then(link_href),
                        url => link_href(url),
                    }),
                },
                _ => return Ok(Incoming::Other(kind.to_owned())),
            };
            match kind {
                "Create" => Incoming::Create(note),
                _ => Incoming::Update(note),
            }
        }
        "Delete" => Incoming::Delete {
            object_id: object_id()?,
        },
        "Like" | "EmojiReact" => Incoming::Like {
            id: id()?,
            object: object_id()?,
        },
        "Announce" => Incoming::Announce {
            id: id()?,
            object: object_id()?,
        },
        "Accept" => Incoming::Accept {
            object: object_id()?,
        },
        "Reject" => Incoming::Reject {
            object: object_id()?,
        },
        other => Incoming::Other(other.to_owned()),
    })
}

/// A `url` value's address: a string, or a `Link`'s `href`.
fn link_href(url: &Value) -> Option<String> {
    match url {
        Value::String(url) => Some(url.clone()),
        Value::Object(link) => link.get("href").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mastodon_reply_is_read_as_a_note() {
        // The shape Mastodon 4 sends (trimmed from its documentation's example).
        let activity = json!({
            "@context": "https://www.w3.org/ns/activitystreams",
            "id": "https://mastodon.example/users/alice/statuses/1/activity",
            "type": "Create",
            "actor": "https://mastodon.example/users/alice",
            "object": {
                "id": "https://mastodon.example/users/alice/statuses/1",
                "type": "Note",
                "attributedTo": "https://mastodon.example/users/alice",
                "inReplyTo": "https://blog.example/ap/posts/1",
                "content": "<p>Thanks!</p>",
                "url": "https://mastodon.example/@alice/1"
            }
        });
        assert_eq!(
            actor_of(&activity),
            Ok("https://mastodon.example/users/alice")
        );
        let Ok(Incoming::Create(note)) = read(&activity) else {
            panic!("a Create");
        };
        assert_eq!(
            note.in_reply_to.as_deref(),
            Some("https://blog.example/ap/posts/1")
        );
        assert_eq!(
            note.url.as_deref(),
            Some("https://mastodon.example/@alice/1")
        );
        let undo = json!({"type": "Undo", "actor": "a", "object": {"id": "f", "type": "Follow"}});
        assert_eq!(
            read(&undo),
            Ok(Incoming::Undo {
                object_id: "f".into(),
                object_type: Some("Follow".into())
            })
        );
        assert_eq!(
            read(&json!({"type": "Like", "actor": "a"})),
            Err(ActivityError::Missing("id"))
        );
    }
}
