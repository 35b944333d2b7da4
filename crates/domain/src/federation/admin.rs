//! What admins do about the fediverse: block an actor or a whole instance (their follows
//! and, for an actor, its replies go; what they send is refused), remove or approve a
//! follower, and look at followers, blocks and deliveries.

use gazette_store::PgPool;
use gazette_store::federation::{self as store, Block, Delivery, Follower};

use super::{Federation, host_of, queue_to};
use crate::commenting;
use crate::error::DomainError;
use crate::policy::Viewer;

/// The admin use cases behind GraphQL's federation fields.
pub struct FederationAdmin<'a> {
    pub pool: &'a PgPool,
    pub federation: &'a Federation,
    pub viewer: &'a Viewer,
}

/// What a block names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// One actor, by its id (`https://mastodon.example/users/alice`).
    Actor,
    /// A whole instance, by its host (`mastodon.example`).
    Instance,
}

impl BlockKind {
    fn as_str(self) -> &'static str {
        match self {
            BlockKind::Actor => "actor",
            BlockKind::Instance => "instance",
        }
    }
}

impl FederationAdmin<'_> {
    fn admin(&self) -> Result<(), DomainError> {
        self.viewer.require_admin("manage federation").map(|_| ())
    }

    /// The value a block is stored under: an actor's id as given (a URL), an instance's
    /// host in lower case (a URL or `@user@host` handle names its host).
    fn block_value(kind: BlockKind, value: &str) -> Result<String, DomainError> {
        let value = value.trim();
        let bad = |message: &str| DomainError::bad_input("value", message);
        if value.is_empty() || value.len() > 2048 || value.contains(char::is_control) {
            return Err(bad(
                "Give an actor's URL or an instance's host (at most 2,048 bytes).",
            ));
        }
        match kind {
            // As the actor's id is stored: a parsed URL (its host in lower case).
            BlockKind::Actor => url::Url::parse(value)
                .ok()
                .filter(|url| url.host_str().is_some())
                .map(|url| url.to_string())
                .ok_or_else(|| bad("An actor is blocked by its URL (its id).")),
            BlockKind::Instance => {
                let host = if value.contains("://") {
                    host_of(value)
                } else {
                    let host = value.rsplit('@').next().unwrap_or(value);
                    host_of(&format!("https://{host}"))
                };
                host.map(|host| host.trim_end_matches('.').to_owned())
                    .filter(|host| !host.is_empty())
                    .ok_or_else(|| {
                        bad("An instance is blocked by its host, such as mastodon.example.")
                    })
            }
        }
    }

    /// Blocks an actor or an instance. A blocked actor's replies are deleted.
    pub async fn block(&self, kind: BlockKind, value: &str) -> Result<Block, DomainError> {
        self.admin()?;
        let value = Self::block_value(kind, value)?;
        let block = store::block(self.pool, kind.as_str(), &value).await?;
        if kind == BlockKind::Actor {
            for comment in store::comments_of_actor(self.pool, &value).await? {
                commenting::delete_federated_comment(self.pool, comment).await?;
            }
        }
        Ok(block)
    }

    /// Lifts a block; whether there was one.
    pub async fn unblock(&self, kind: BlockKind, value: &str) -> Result<bool, DomainError> {
        self.admin()?;
        let value = Self::block_value(kind, value)?;
        Ok(store::unblock(self.pool, kind.as_str(), &value).await?)
    }

    /// The newest `limit` blocks.
    pub async fn blocks(&self, limit: i64) -> Result<Vec<Block>, DomainError> {
        self.admin()?;
        Ok(store::blocks(self.pool, limit).await?)
    }

    /// Removes a follower (it gets no more posts); whether there was one.
    pub async fn remove_follower(&self, actor: &str) -> Result<bool, DomainError> {
        self.admin()?;
        Ok(store::remove_follower(self.pool, actor.trim()).await?)
    }

    /// Accepts a follow waiting for approval, and tells the follower.
    pub async fn approve_follower(&self, actor: &str) -> Result<bool, DomainError> {
        self.admin()?;
        let mut tx = self.pool.begin().await?;
        let Some(follower) = store::follower(&mut *tx, actor.trim()).await? else {
            return Ok(false);
        };
        if !store::accept_follower(&mut *tx, &follower.actor_id).await? {
            return Ok(false);
        }
        if let Some(remote) = store::actor(&mut *tx, &follower.actor_id).await? {
            let accept = self
                .federation
                .site
                .accept(&follower.follow_id, &follower.actor_id);
            queue_to(&mut tx, &remote, &accept).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Followers, newest first.
    pub async fn followers(&self, limit: i64, offset: i64) -> Result<Vec<Follower>, DomainError> {
        self.admin()?;
        Ok(store::followers(self.pool, limit, offset).await?)
    }

    pub async fn recent_deliveries(&self, limit: i64) -> Result<Vec<Delivery>, DomainError> {
        self.admin()?;
        Ok(store::recent_deliveries(self.pool, limit).await?)
    }
}
