//! What a reader may see, as SQL: the read side of Gazette's one visibility policy.
//!
//! The domain's policy decides *who* a request's reader is ([`Reader::PUBLIC`], an author,
//! an admin); every query in this crate that returns posts, comments, tags or authors takes
//! that reader and appends the predicates below, so no read path can forget them. The few
//! reads that must see everything (locking a row before an edit the policy then checks)
//! are named `…_unchecked` and called only from the domain's use cases.
//!
//! The rules:
//! - a post: published, or any post for admins, or the reader's own drafts;
//! - a comment: its post is visible, and it is published and not under a pending or spam
//!   comment; moderators of the post (admins, the post's author) also see pending, spam
//!   and published-under-held ones; a deleted comment shows (as a tombstone) only while it
//!   has a descendant the reader sees;
//! - a tag: it labels a post the reader sees;
//! - an author: they wrote a post the reader sees, or they are the reader;
//! - a social channel: enabled, or any for admins; its template only for admins.

use sqlx::{Postgres, QueryBuilder};

use crate::posts::PostStatus;

/// Who reads. Built by the domain's policy from the request's token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reader {
    admin: bool,
    author_id: Option<i64>,
}

impl Reader {
    /// Anyone without a token: feeds, pages, syndication documents and anonymous requests.
    pub const PUBLIC: Reader = Reader {
        admin: false,
        author_id: None,
    };

    /// An admin, who sees and moderates everything.
    pub const fn admin(author_id: i64) -> Self {
        Self {
            admin: true,
            author_id: Some(author_id),
        }
    }

    /// An author: their own drafts, and the comments on their own posts to moderate.
    pub const fn author(author_id: i64) -> Self {
        Self {
            admin: false,
            author_id: Some(author_id),
        }
    }

    /// Whether this reader sees a post of `status` by `author_id` (the same rule as
    /// [`Reader::push_post_visible`], for rows already in memory).
    pub fn sees_post(&self, status: PostStatus, author_id: i64) -> bool {
        status == PostStatus::Published || self.admin || self.author_id == Some(author_id)
    }

    /// Whether this reader sees every social channel (disabled ones too) and their
    /// templates: admins, who manage them. Everyone else sees enabled channels without
    /// templates.
    pub fn sees_channel_settings(&self) -> bool {
        self.admin
    }

    /// Whether this reader moderates the comments of a post by `post_author_id`.
    pub fn moderates(&self, post_author_id: i64) -> bool {
        self.admin || self.author_id == Some(post_author_id)
    }

    /// Appends ` and <post {alias} is visible>`.
    pub(crate) fn push_post_visible(&self, query: &mut QueryBuilder<Postgres>, alias: &str) {
        if self.admin {
            return;
        }
        query.push(format!(" and ({alias}.status = 'published'"));
        if let Some(author) = self.author_id {
            query
                .push(format!(" or {alias}.author_id = "))
                .push_bind(author);
        }
        query.push(")");
    }

    /// Appends ` and <comment c (joined to its post p) is visible>`. Whether a comment
    /// shows to the public and to its moderators is stored with it (migration 0005 keeps
    /// it right on every write), so this is two column tests, not a walk of the thread.
    pub(crate) fn push_comment_visible(&self, query: &mut QueryBuilder<Postgres>) {
        self.push_post_visible(query, "p");
        match (self.admin, self.author_id) {
            (true, _) => {
                query.push(" and c.visible_to_moderators");
            }
            (false, Some(author)) => {
                query
                    .push(
                        " and (c.visible_to_public or (c.visible_to_moderators and p.author_id = ",
                    )
                    .push_bind(author)
                    .push("))");
            }
            (false, None) => {
                query.push(" and c.visible_to_public");
            }
        }
    }

    /// Appends ` and <tag t labels a post the reader sees>`.
    pub(crate) fn push_tag_visible(&self, query: &mut QueryBuilder<Postgres>) {
        query.push(
            " and exists (select 1 from post_tags pt join posts p on p.id = pt.post_id \
             where pt.tag_id = t.id",
        );
        self.push_post_visible(query, "p");
        query.push(")");
    }

    /// Appends ` and <author a wrote a post the reader sees, or is the reader>`.
    pub(crate) fn push_author_visible(&self, query: &mut QueryBuilder<Postgres>) {
        if self.admin {
            return;
        }
        query.push(" and (exists (select 1 from posts p where p.author_id = a.id");
        self.push_post_visible(query, "p");
        query.push(")");
        if let Some(author) = self.author_id {
            query.push(" or a.id = ").push_bind(author);
        }
        query.push(")");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_are_seen_by_their_author_and_admins_only() {
        let draft = PostStatus::Draft;
        assert!(!Reader::PUBLIC.sees_post(draft, 1));
        assert!(Reader::author(1).sees_post(draft, 1));
        assert!(!Reader::author(2).sees_post(draft, 1));
        assert!(Reader::admin(2).sees_post(draft, 1));
        assert!(Reader::PUBLIC.sees_post(PostStatus::Published, 1));
    }

    #[test]
    fn moderators_are_admins_and_the_posts_author() {
        assert!(!Reader::PUBLIC.moderates(1));
        assert!(Reader::author(1).moderates(1));
        assert!(!Reader::author(2).moderates(1));
        assert!(Reader::admin(2).moderates(1));
    }
}
