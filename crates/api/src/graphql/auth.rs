//! Who is asking: anonymous readers, or the holder of an API token (an author or an admin).

use gazette_store::comments::{Comment, Reader};
use gazette_store::posts::{DraftScope, Post, PostStatus};
use gazette_store::tokens::{Role, TokenOwner};

use super::errors::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    Anonymous,
    Token(TokenOwner),
}

impl Viewer {
    /// The token's owner, or UNAUTHENTICATED.
    pub fn require_token(&self) -> Result<TokenOwner, ApiError> {
        match self {
            Viewer::Token(owner) => Ok(*owner),
            Viewer::Anonymous => Err(ApiError::Unauthenticated(
                "This needs an API token: send `Authorization: Bearer <token>`.".to_owned(),
            )),
        }
    }

    /// Who this viewer is when reading comments (moderators see held ones).
    pub fn comment_reader(&self) -> Reader {
        match self {
            Viewer::Token(owner) => Reader {
                admin: owner.role == Role::Admin,
                author_id: Some(owner.author_id),
            },
            Viewer::Anonymous => Reader::PUBLIC,
        }
    }

    /// Admins moderate every comment; authors those on their own posts.
    pub fn moderates(&self, comment: &Comment) -> bool {
        match self {
            Viewer::Token(owner) => {
                owner.role == Role::Admin || owner.author_id == comment.post_author_id
            }
            Viewer::Anonymous => false,
        }
    }

    /// The drafts this viewer may read: an admin all, an author their own, others none.
    pub fn drafts(&self) -> DraftScope {
        match self {
            Viewer::Token(owner) if owner.role == Role::Admin => DraftScope::All,
            Viewer::Token(owner) => DraftScope::OwnedBy(owner.author_id),
            Viewer::Anonymous => DraftScope::None,
        }
    }

    pub fn can_read(&self, post: &Post) -> bool {
        match (post.status, self.drafts()) {
            (PostStatus::Published, _) | (PostStatus::Draft, DraftScope::All) => true,
            (PostStatus::Draft, DraftScope::OwnedBy(author)) => post.author_id == author,
            (PostStatus::Draft, DraftScope::None) => false,
        }
    }

    /// Checks that this viewer may change `post`: UNAUTHENTICATED without a token,
    /// NOT_FOUND when they cannot even read it, FORBIDDEN when it is someone else's.
    pub fn require_editor_of(&self, post: &Post) -> Result<TokenOwner, ApiError> {
        let owner = self.require_token()?;
        if !self.can_read(post) {
            return Err(ApiError::not_found("There is no post with this id."));
        }
        if owner.role == Role::Admin || owner.author_id == post.author_id {
            Ok(owner)
        } else {
            Err(ApiError::Forbidden(
                "Authors may change only their own posts.".to_owned(),
            ))
        }
    }
}
