//! Who may see and do what: decided here, once, for every transport.
//!
//! A request's [`Viewer`] is anonymous or the holder of an API token (an author or an
//! admin); a commenter with an edit token is anonymous plus the token, checked by the
//! commenting use cases. Reads go through [`Viewer::reader`]: every store query that
//! returns posts, comments, tags or authors takes that reader (see
//! `gazette_store::visibility`), so a new read path cannot skip the rules. Writes go
//! through the `require_…` checks below, which the use cases call before they change
//! anything.

use std::collections::HashMap;

use gazette_store::authors::{self, Author};
use gazette_store::comments::{Comment, CommentStatus};
use gazette_store::posts::{Post, PostStatus};
use gazette_store::tags::{self, Tag};
use gazette_store::tokens::{Role, TokenOwner};
use gazette_store::{PgExecutor, Reader, StoreError};

use crate::error::DomainError;

/// The tags of posts the caller has read as its reader (loaded through
/// `posts::find_visible` or a page of them): a post's tags are as visible as the post, so
/// they are not checked again.
pub async fn tags_of_read_posts(
    exec: impl PgExecutor<'_>,
    post_ids: &[i64],
) -> Result<HashMap<i64, Vec<Tag>>, StoreError> {
    tags::for_posts_unchecked(exec, post_ids).await
}

/// The authors (by id) of posts the caller has read as its reader: an author with a post
/// the reader sees is an author the reader sees (`Reader::push_author_visible`), so the
/// check, an `exists` over their posts, is not made again.
pub async fn authors_of_read_posts(
    exec: impl PgExecutor<'_>,
    author_ids: &[i64],
) -> Result<HashMap<i64, Author>, StoreError> {
    authors::by_ids_unchecked(exec, author_ids).await
}

/// Whether `comment` shows only as a tombstone (no text, no author): deleted, and kept in
/// the thread because of replies the reader sees under it (the store's queries return it
/// only then). Every transport shows a comment through this.
pub fn shows_as_tombstone(comment: &Comment) -> bool {
    comment.status == CommentStatus::Deleted
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Anonymous,
    Token(TokenOwner),
}

impl Viewer {
    /// What this viewer reads: the public site, plus their own drafts (authors), plus
    /// everything (admins). Moderators also see held comments on the posts they moderate.
    pub fn reader(&self) -> Reader {
        match self {
            Viewer::Token(owner) if owner.role == Role::Admin => Reader::admin(owner.author_id),
            Viewer::Token(owner) => Reader::author(owner.author_id),
            Viewer::Anonymous => Reader::PUBLIC,
        }
    }

    /// The token's owner, or UNAUTHENTICATED.
    pub fn require_token(&self) -> Result<TokenOwner, DomainError> {
        match self {
            Viewer::Token(owner) => Ok(*owner),
            Viewer::Anonymous => Err(DomainError::Unauthenticated(
                "This needs an API token: send `Authorization: Bearer <token>`.".to_owned(),
            )),
        }
    }

    /// An admin's token, or UNAUTHENTICATED / FORBIDDEN naming what needs it.
    pub fn require_admin(&self, what: &str) -> Result<TokenOwner, DomainError> {
        let owner = self.require_token()?;
        if owner.role == Role::Admin {
            Ok(owner)
        } else {
            Err(DomainError::Forbidden(format!("Only admins {what}.")))
        }
    }

    /// Whether this viewer may list posts of `status`: published ones anyone may; drafts
    /// and scheduled posts need a token (and then the reader shows only the viewer's own,
    /// or all of them to admins).
    pub fn require_lister_of(&self, status: PostStatus) -> Result<(), DomainError> {
        if status != PostStatus::Published {
            self.require_token()?;
        }
        Ok(())
    }

    /// Admins moderate every comment; authors those on their own posts.
    pub fn moderates(&self, post_author_id: i64) -> bool {
        self.reader().moderates(post_author_id)
    }

    /// Whether this viewer may read `post` (the rule the store's queries apply).
    pub fn can_read(&self, post: &Post) -> bool {
        self.reader().sees_post(post.status, post.author_id)
    }

    /// Checks that this viewer may change `post`: UNAUTHENTICATED without a token,
    /// NOT_FOUND when they cannot even read it, FORBIDDEN when it is someone else's.
    pub fn require_editor_of(&self, post: &Post) -> Result<TokenOwner, DomainError> {
        let owner = self.require_token()?;
        if !self.can_read(post) {
            return Err(DomainError::not_found("There is no post with this id."));
        }
        if owner.role == Role::Admin || owner.author_id == post.author_id {
            Ok(owner)
        } else {
            Err(DomainError::Forbidden(
                "Authors may change only their own posts.".to_owned(),
            ))
        }
    }

    /// Checks that this viewer may moderate the comments of a post by `post_author_id`.
    pub fn require_moderator_of(&self, post_author_id: i64) -> Result<TokenOwner, DomainError> {
        let owner = self.require_token()?;
        if self.moderates(post_author_id) {
            Ok(owner)
        } else {
            Err(DomainError::Forbidden(
                "Only admins and the post's author moderate its comments.".to_owned(),
            ))
        }
    }

    /// Checks that this viewer may write as `author_id` (admins may for anyone).
    pub fn require_writer_as(&self, author_id: i64) -> Result<TokenOwner, DomainError> {
        let owner = self.require_token()?;
        if author_id == owner.author_id || owner.role == Role::Admin {
            Ok(owner)
        } else {
            Err(DomainError::Forbidden(
                "Only admins may write posts on someone else's behalf.".to_owned(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gazette_store::posts::PostStatus;

    fn token(author_id: i64, role: Role) -> Viewer {
        Viewer::Token(TokenOwner {
            token_id: 1,
            author_id,
            role,
        })
    }

    #[test]
    fn only_tokens_write_and_only_admins_administer() {
        assert!(Viewer::Anonymous.require_token().is_err());
        assert!(token(1, Role::Author).require_admin("do this").is_err());
        assert!(token(1, Role::Admin).require_admin("do this").is_ok());
        assert!(token(1, Role::Author).require_writer_as(2).is_err());
        assert!(token(1, Role::Admin).require_writer_as(2).is_ok());
    }

    #[test]
    fn moderators_are_admins_and_the_posts_author() {
        assert!(Viewer::Anonymous.require_moderator_of(1).is_err());
        assert!(token(1, Role::Author).require_moderator_of(1).is_ok());
        assert!(token(2, Role::Author).require_moderator_of(1).is_err());
        assert!(token(2, Role::Admin).require_moderator_of(1).is_ok());
    }

    #[test]
    fn drafts_are_read_by_their_author_and_admins() {
        let reader = |viewer: Viewer| viewer.reader();
        assert!(!reader(Viewer::Anonymous).sees_post(PostStatus::Draft, 1));
        assert!(reader(token(1, Role::Author)).sees_post(PostStatus::Draft, 1));
        assert!(!reader(token(2, Role::Author)).sees_post(PostStatus::Draft, 1));
        assert!(reader(token(2, Role::Admin)).sees_post(PostStatus::Draft, 1));
    }
}
