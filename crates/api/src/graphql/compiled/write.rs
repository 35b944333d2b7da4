//! Writing a plan's answer as JSON in one pass over the loaded rows: keys in the order
//! the query asked for them, values as the resolvers would give them, texts charged to
//! the answer's budget as the resolvers charge them.

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use gazette_domain::feeds::{Subject, main_feed};
use gazette_store::authors::Author;
use gazette_store::comments::{Comment, CommentStatus};
use gazette_store::posts::{Post, PostStatus};
use gazette_store::tags::Tag;
use gazette_store::{ReadBudget, SiteConfig};

use super::load::{Loads, NodeRow, Page, Slot};
use super::plan::{
    AuthorField, CommentAuthorField, CommentField, ConnectionField, EdgeField, PageInfoField,
    PostField, RootField, Selection, TagField,
};
use super::{Fallback, json};
use crate::graphql::ids::{GlobalId, NodeKind};

/// The most an answer's buffer is sized for ahead (a plan's answers vary with its
/// variables; one large answer should not make every later one reserve as much).
const MAX_PRESIZED_BYTES: usize = 1 << 20;

pub struct Writer<'a> {
    out: Vec<u8>,
    loads: &'a Loads<'a>,
    site: &'a SiteConfig,
    budget: &'a ReadBudget,
}

impl<'a> Writer<'a> {
    pub fn new(loads: &'a Loads<'a>, site: &'a SiteConfig, budget: &'a ReadBudget) -> Self {
        let expected = loads.plan.answer_bytes.load(Ordering::Relaxed);
        Self {
            out: Vec::with_capacity(expected.clamp(4096, MAX_PRESIZED_BYTES)),
            loads,
            site,
            budget,
        }
    }

    /// The whole response body: `{"data":{…}}`.
    pub fn answer(mut self) -> Result<Vec<u8>, Fallback> {
        self.out.extend_from_slice(b"{\"data\":{");
        for (index, field) in self.loads.plan.fields.iter().enumerate() {
            self.key(index, &field.key)?;
            match &field.kind {
                RootField::Typename => self.string("Query")?,
                RootField::Post { selection, .. } => match self.loads.slot(field.slot)? {
                    Slot::Post(Some(post)) => self.post(selection, post)?,
                    Slot::Post(None) => self.null(),
                    _ => return Err(Fallback),
                },
                RootField::Posts { selection, .. } => {
                    let Slot::PostPage(page) = self.loads.slot(field.slot)? else {
                        return Err(Fallback);
                    };
                    self.connection("PostConnection", selection, page, 0, Self::post)?;
                }
                RootField::Tag { selection, .. } => match self.loads.slot(field.slot)? {
                    Slot::Tag(Some(tag)) => self.tag(selection, tag)?,
                    Slot::Tag(None) => self.null(),
                    _ => return Err(Fallback),
                },
                RootField::Author { selection, .. } => match self.loads.slot(field.slot)? {
                    Slot::Author(Some(author)) => self.author(selection, author)?,
                    Slot::Author(None) => self.null(),
                    _ => return Err(Fallback),
                },
                RootField::Tags { selection, .. } => {
                    let Slot::TagPage(page) = self.loads.slot(field.slot)? else {
                        return Err(Fallback);
                    };
                    self.connection("TagConnection", selection, page, 0, Self::tag)?;
                }
                RootField::Authors { selection, .. } => {
                    let Slot::AuthorPage(page) = self.loads.slot(field.slot)? else {
                        return Err(Fallback);
                    };
                    self.connection("AuthorConnection", selection, page, 0, Self::author)?;
                }
                RootField::Node { selections, .. } => match self.loads.slot(field.slot)? {
                    Slot::Node(Some(NodeRow::Post(post))) => self.post(&selections.post, post)?,
                    Slot::Node(Some(NodeRow::Comment(comment))) => {
                        self.comment(&selections.comment, comment)?;
                    }
                    Slot::Node(Some(NodeRow::Tag(tag))) => self.tag(&selections.tag, tag)?,
                    Slot::Node(Some(NodeRow::Author(author))) => {
                        self.author(&selections.author, author)?;
                    }
                    Slot::Node(None) => self.null(),
                    _ => return Err(Fallback),
                },
                RootField::Nodes { selections, .. } => {
                    let Slot::Nodes(rows) = self.loads.slot(field.slot)? else {
                        return Err(Fallback);
                    };
                    self.out.push(b'[');
                    for (position, global) in rows.wanted.iter().enumerate() {
                        if position > 0 {
                            self.out.push(b',');
                        }
                        match global.kind {
                            NodeKind::Post => match rows.posts.get(&global.id) {
                                Some(post) => self.post(&selections.post, post)?,
                                None => self.null(),
                            },
                            NodeKind::Comment => match rows.comments.get(&global.id) {
                                Some(comment) => self.comment(&selections.comment, comment)?,
                                None => self.null(),
                            },
                            NodeKind::Tag => match rows.tags.get(&global.id) {
                                Some(tag) => self.tag(&selections.tag, tag)?,
                                None => self.null(),
                            },
                            NodeKind::Author => match rows.authors.get(&global.id) {
                                Some(author) => self.author(&selections.author, author)?,
                                None => self.null(),
                            },
                            NodeKind::Channel => return Err(Fallback),
                        }
                    }
                    self.out.push(b']');
                }
            }
        }
        self.out.extend_from_slice(b"}}");
        let length = self.out.len();
        self.loads
            .plan
            .answer_bytes
            .store(length, Ordering::Relaxed);
        Ok(self.out)
    }

    /// Opens an object with `{`; or writes `null` for one none of whose fields apply (all of
    /// them are in fragments on other types), as async-graphql answers one (the
    /// specification would write `{}`), so both paths answer alike. Whether it opened one.
    fn open_object<K>(&mut self, selection: &Selection<K>) -> bool {
        if selection.is_empty() {
            self.null();
            return false;
        }
        self.out.push(b'{');
        true
    }

    fn post(&mut self, selection: &Selection<PostField>, post: &Post) -> Result<(), Fallback> {
        if !self.open_object(selection) {
            return Ok(());
        }
        for (index, field) in selection.iter().enumerate() {
            self.key(index, &field.key)?;
            match &field.kind {
                PostField::Typename => self.string("Post")?,
                PostField::Id => self.id(NodeKind::Post, post.id)?,
                PostField::Slug => self.string(&post.slug)?,
                PostField::Title => self.string(&post.title)?,
                PostField::Body => self.charged(&post.body, field.occurrences)?,
                PostField::BodyHtml => self.charged(&post.body_html, field.occurrences)?,
                PostField::Excerpt => self.charged(&post.excerpt, field.occurrences)?,
                PostField::Status => self.raw(match post.status {
                    PostStatus::Draft => "\"DRAFT\"",
                    PostStatus::Scheduled => "\"SCHEDULED\"",
                    PostStatus::Published => "\"PUBLISHED\"",
                }),
                PostField::PublishedAt => match post.published_at {
                    Some(time) => self.time(time)?,
                    None => self.null(),
                },
                PostField::CreatedAt => self.time(post.created_at)?,
                PostField::UpdatedAt => self.time(post.updated_at)?,
                PostField::CommentsOpen => self.boolean(post.comments_open),
                PostField::Url => self.string(&self.site.post_url(&post.slug))?,
                PostField::CommentsFeedUrl => {
                    let path = main_feed(Subject::PostComments).key(&post.slug);
                    self.string(&self.site.url(&path))?;
                }
                PostField::CommentCount => {
                    let count = self.count(field.slot, post.id)?;
                    self.number(count);
                }
                PostField::Author(selection) => {
                    let Slot::Authors(authors) = self.loads.slot(field.slot)? else {
                        return Err(Fallback);
                    };
                    // The resolver's error (a post's author is missing) is left to it.
                    let author = authors.get(&post.author_id).ok_or(Fallback)?;
                    self.author(selection, author)?;
                }
                PostField::Tags(selection) => {
                    let Slot::Tags(tags) = self.loads.slot(field.slot)? else {
                        return Err(Fallback);
                    };
                    self.out.push(b'[');
                    for (position, tag) in tags.get(&post.id).into_iter().flatten().enumerate() {
                        if position > 0 {
                            self.out.push(b',');
                        }
                        self.tag(selection, tag)?;
                    }
                    self.out.push(b']');
                }
                PostField::Comments { selection, .. } | PostField::Thread { selection, .. } => {
                    self.child_connection(field.slot, post.id, selection)?;
                }
            }
        }
        self.out.push(b'}');
        Ok(())
    }

    fn author(
        &mut self,
        selection: &Selection<AuthorField>,
        author: &Author,
    ) -> Result<(), Fallback> {
        if !self.open_object(selection) {
            return Ok(());
        }
        for (index, field) in selection.iter().enumerate() {
            self.key(index, &field.key)?;
            match &field.kind {
                AuthorField::Typename => self.string("Author")?,
                AuthorField::Id => self.id(NodeKind::Author, author.id)?,
                AuthorField::Slug => self.string(&author.slug)?,
                AuthorField::Name => self.string(&author.name)?,
                AuthorField::Bio => self.string(&author.bio)?,
                AuthorField::Url => self.optional(author.url.as_deref())?,
            }
        }
        self.out.push(b'}');
        Ok(())
    }

    fn tag(&mut self, selection: &Selection<TagField>, tag: &Tag) -> Result<(), Fallback> {
        if !self.open_object(selection) {
            return Ok(());
        }
        for (index, field) in selection.iter().enumerate() {
            self.key(index, &field.key)?;
            match &field.kind {
                TagField::Typename => self.string("Tag")?,
                TagField::Id => self.id(NodeKind::Tag, tag.id)?,
                TagField::Slug => self.string(&tag.slug)?,
                TagField::Name => self.string(&tag.name)?,
                TagField::FeedUrl => {
                    let path = main_feed(Subject::Tag).key(&tag.slug);
                    self.string(&self.site.url(&path))?;
                }
            }
        }
        self.out.push(b'}');
        Ok(())
    }

    fn comment(
        &mut self,
        selection: &Selection<CommentField>,
        comment: &Comment,
    ) -> Result<(), Fallback> {
        if !self.open_object(selection) {
            return Ok(());
        }
        let tombstone = gazette_domain::policy::shows_as_tombstone(comment);
        for (index, field) in selection.iter().enumerate() {
            self.key(index, &field.key)?;
            match &field.kind {
                CommentField::Typename => self.string("Comment")?,
                CommentField::Id => self.id(NodeKind::Comment, comment.id)?,
                CommentField::Body if tombstone => self.null(),
                CommentField::Body => self.charged(&comment.body, field.occurrences)?,
                CommentField::BodyHtml if tombstone => self.null(),
                CommentField::BodyHtml => self.charged(&comment.body_html, field.occurrences)?,
                CommentField::Status => self.raw(match comment.status {
                    CommentStatus::Published => "\"PUBLISHED\"",
                    CommentStatus::Pending => "\"PENDING\"",
                    CommentStatus::Spam => "\"SPAM\"",
                    CommentStatus::Deleted => "\"DELETED\"",
                }),
                CommentField::Depth => self.number(i64::from(comment.depth)),
                CommentField::CreatedAt => self.time(comment.created_at)?,
                CommentField::UpdatedAt => self.time(comment.updated_at)?,
                CommentField::ReplyCount => {
                    let count = self.count(field.slot, comment.id)?;
                    self.number(count);
                }
                CommentField::Author(_) if tombstone => self.null(),
                CommentField::Author(selection) => {
                    self.out.push(b'{');
                    for (index, field) in selection.iter().enumerate() {
                        self.key(index, &field.key)?;
                        match &field.kind {
                            CommentAuthorField::Typename => self.string("CommentAuthor")?,
                            CommentAuthorField::Name => self.string(&comment.author_name)?,
                            CommentAuthorField::Url => {
                                self.optional(comment.author_url.as_deref())?;
                            }
                        }
                    }
                    self.out.push(b'}');
                }
                CommentField::Parent(selection) => {
                    let parent = match comment.parent_id {
                        None => None,
                        Some(parent_id) => {
                            let Slot::Parents(parents) = self.loads.slot(field.slot)? else {
                                return Err(Fallback);
                            };
                            parents.get(self.loads, parent_id)?
                        }
                    };
                    match parent {
                        Some(parent) => self.comment(selection, parent)?,
                        None => self.null(),
                    }
                }
                CommentField::Post(selection) => {
                    let Slot::PostsById(posts) = self.loads.slot(field.slot)? else {
                        return Err(Fallback);
                    };
                    // The resolver's error (the post is not visible) is left to it.
                    let post = posts.get(&comment.post_id).ok_or(Fallback)?;
                    self.post(selection, post)?;
                }
                CommentField::Replies { selection, .. } => {
                    self.child_connection(field.slot, comment.id, selection)?;
                }
            }
        }
        self.out.push(b'}');
        Ok(())
    }

    fn child_connection(
        &mut self,
        slot: usize,
        parent: i64,
        selection: &Selection<ConnectionField<CommentField>>,
    ) -> Result<(), Fallback> {
        let Slot::CommentPages(pages) = self.loads.slot(slot)? else {
            return Err(Fallback);
        };
        let page = pages.get(&parent).ok_or(Fallback)?;
        self.connection("CommentConnection", selection, page, parent, Self::comment)
    }

    fn connection<N, T>(
        &mut self,
        type_name: &str,
        selection: &Selection<ConnectionField<N>>,
        page: &Page<T>,
        parent: i64,
        node: fn(&mut Self, &Selection<N>, &T) -> Result<(), Fallback>,
    ) -> Result<(), Fallback> {
        self.out.push(b'{');
        for (index, field) in selection.iter().enumerate() {
            self.key(index, &field.key)?;
            match &field.kind {
                ConnectionField::Typename => self.string(type_name)?,
                ConnectionField::TotalCount => {
                    let count = self.count(field.slot, parent)?;
                    self.number(count);
                }
                ConnectionField::Nodes(selection) => {
                    self.out.push(b'[');
                    for (position, row) in page.nodes.iter().enumerate() {
                        if position > 0 {
                            self.out.push(b',');
                        }
                        node(self, selection, row)?;
                    }
                    self.out.push(b']');
                }
                ConnectionField::Edges(selection) => {
                    // Made once, and only when a selection asks for it.
                    let mut edge_type = None;
                    self.out.push(b'[');
                    for (position, row) in page.nodes.iter().enumerate() {
                        if position > 0 {
                            self.out.push(b',');
                        }
                        self.out.push(b'{');
                        for (index, field) in selection.iter().enumerate() {
                            self.key(index, &field.key)?;
                            match &field.kind {
                                EdgeField::Typename => {
                                    let edge_type = edge_type.get_or_insert_with(|| {
                                        type_name.replace("Connection", "Edge")
                                    });
                                    self.string(edge_type)?
                                }
                                EdgeField::Cursor => self.string(&page.cursor(row))?,
                                EdgeField::Node(selection) => node(self, selection, row)?,
                            }
                        }
                        self.out.push(b'}');
                    }
                    self.out.push(b']');
                }
                ConnectionField::PageInfo(selection) => {
                    let sides = page.sides;
                    self.out.push(b'{');
                    for (index, field) in selection.iter().enumerate() {
                        self.key(index, &field.key)?;
                        match &field.kind {
                            PageInfoField::Typename => self.string("PageInfo")?,
                            PageInfoField::HasNextPage => self.boolean(sides.has_next_page),
                            PageInfoField::HasPreviousPage => {
                                self.boolean(sides.has_previous_page);
                            }
                            PageInfoField::StartCursor => {
                                let cursor = page.nodes.first().map(|node| page.cursor(node));
                                self.optional(cursor.as_deref())?;
                            }
                            PageInfoField::EndCursor => {
                                let cursor = page.nodes.last().map(|node| page.cursor(node));
                                self.optional(cursor.as_deref())?;
                            }
                        }
                    }
                    self.out.push(b'}');
                }
            }
        }
        self.out.push(b'}');
        Ok(())
    }

    fn count(&self, slot: usize, key: i64) -> Result<i64, Fallback> {
        match self.loads.slot(slot)? {
            Slot::Counts(counts) => Ok(counts.get(&key).copied().unwrap_or(0)),
            _ => Err(Fallback),
        }
    }

    fn key(&mut self, index: usize, key: &str) -> Result<(), Fallback> {
        if index > 0 {
            self.out.push(b',');
        }
        self.string(key)?;
        self.out.push(b':');
        Ok(())
    }

    fn string(&mut self, text: &str) -> Result<(), Fallback> {
        json::write_string(&mut self.out, text);
        Ok(())
    }

    /// A text the resolvers charge to the answer's budget, once per occurrence.
    fn charged(&mut self, text: &str, occurrences: usize) -> Result<(), Fallback> {
        self.budget
            .charge_built(text.len().saturating_mul(occurrences))
            .map_err(|_| Fallback)?;
        self.string(text)
    }

    fn optional(&mut self, text: Option<&str>) -> Result<(), Fallback> {
        match text {
            Some(text) => self.string(text),
            None => {
                self.null();
                Ok(())
            }
        }
    }

    fn id(&mut self, kind: NodeKind, id: i64) -> Result<(), Fallback> {
        GlobalId::new(kind, id).write_json(&mut self.out);
        Ok(())
    }

    /// As async-graphql writes a `DateTime`.
    fn time(&mut self, time: DateTime<Utc>) -> Result<(), Fallback> {
        json::write_time(&mut self.out, time);
        Ok(())
    }

    fn number(&mut self, number: i64) {
        self.raw(itoa::Buffer::new().format(number));
    }

    fn boolean(&mut self, value: bool) {
        self.raw(if value { "true" } else { "false" });
    }

    fn null(&mut self) {
        self.raw("null");
    }

    fn raw(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
    }
}
