//! Loading what a plan needs, level by level: one statement per field per level, the same
//! statements the resolvers' loaders batch into (so the visibility rule is the store's,
//! and the statement counts match), run back to back without a batching delay. What each
//! field loads is kept in its slot, for the writer.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use async_graphql::Value as ConstValue;
use async_graphql::Variables;
use foldhash::{HashMapExt, HashSetExt};
use gazette_store::authors::{self, Author};
use gazette_store::comments::{self, ChildPage, Columns, Comment, Parent, ThreadPage};
use gazette_store::keyset::Position;
use gazette_store::posts::{self, Post, PostColumns, PostFilter, PostKey, PostOrder};
use gazette_store::tags::{self, Tag};
use gazette_store::{FirstPostPage, ReadBudget, Reader, WarmConnection, WarmConnections};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use super::Fallback;
use super::plan::{
    Arg, CommentAuthorField, CommentField, ConnectionField, EdgeField, MAX_NODES, PageArgs,
    PageInfoField, Plan, PostField, RootField, ScalarKind, Selection,
};
use crate::graphql::authors::AUTHOR_ORDERING;
use crate::graphql::connection::{self, PageRequest, Sides};
use crate::graphql::ids::{GlobalId, NodeKind};
use crate::graphql::objects::{
    THREAD_ORDERING, child_page, comment_ordering, comment_position, parse_path, post_ordering,
    thread_position,
};
use crate::graphql::tags::TAG_ORDERING;

/// A page of a connection, as the resolvers build it; its cursors are made only when the
/// query asks for them.
pub struct Page<T> {
    pub nodes: Vec<T>,
    pub sides: Sides,
    ordering: &'static str,
    position: fn(&T) -> Position,
}

impl<T> Page<T> {
    fn new(
        request: &PageRequest,
        rows: Vec<T>,
        ordering: &'static str,
        position: fn(&T) -> Position,
    ) -> Self {
        let (nodes, sides) = request.trim(rows);
        Self {
            nodes,
            sides,
            ordering,
            position,
        }
    }

    pub fn cursor(&self, node: &T) -> String {
        connection::encode_cursor(self.ordering, &(self.position)(node))
    }
}

/// What one field loaded.
pub enum Slot {
    Post(Option<Post>),
    PostPage(Page<Post>),
    /// Per parent key: counts, and a connection's `totalCount` (a root list's under 0).
    Counts(HashMap<i64, i64>),
    Authors(HashMap<i64, Author>),
    Tags(HashMap<i64, Vec<Tag>>),
    /// Per parent key (a post, or a comment).
    CommentPages(HashMap<i64, Page<Comment>>),
    Parents(Parents),
    PostsById(HashMap<i64, Post>),
    Tag(Option<Tag>),
    TagPage(Page<Tag>),
    Author(Option<Author>),
    AuthorPage(Page<Author>),
    Node(Option<NodeRow>),
    Nodes(NodeRows),
}

/// What `nodes(ids:)` found: the ids as asked (in order, repeats kept), and the objects
/// of each kind the reader sees.
pub struct NodeRows {
    pub wanted: Vec<GlobalId>,
    pub posts: HashMap<i64, Post>,
    pub comments: HashMap<i64, Comment>,
    pub tags: HashMap<i64, Tag>,
    pub authors: HashMap<i64, Author>,
}

/// What `node(id:)` found.
pub enum NodeRow {
    Post(Post),
    Comment(Comment),
    Tag(Tag),
    Author(Author),
}

/// What a connection's `totalCount` counts. Root connections keep their one count under
/// key 0, nested ones under each parent's id.
enum Count<'k> {
    /// The posts the filter lets through.
    Posts(&'k PostFilter),
    Tags,
    Authors,
    /// The comments under each parent: `known` as they are, the others counted.
    Children {
        parent: Parent,
        known: &'k HashMap<i64, i64>,
        others: &'k [i64],
    },
    /// Each post's whole thread: `known` as they are, the others counted.
    Threads {
        known: &'k HashMap<i64, i64>,
        others: &'k [i64],
    },
}

/// A root field's `id` or `slug`, checked.
enum Key {
    Id(i64),
    Slug(String),
}

/// The request a plan runs for, and what it has loaded so far.
pub struct Loads<'a> {
    pub plan: &'a Plan,
    variables: &'a Variables,
    /// Where the connection comes from and goes back to.
    warm: &'a WarmConnections,
    /// The request's one connection, taken at its first statement: sqlx pings a
    /// connection each time it goes back to the pool, so taking one per statement cost a
    /// round trip more per statement.
    connection: Mutex<Option<WarmConnection>>,
    reader: Reader,
    budget: &'a ReadBudget,
    slots: Vec<OnceLock<Slot>>,
}

type Loading<'f> = Pin<Box<dyn Future<Output = Result<(), Fallback>> + Send + 'f>>;

/// The request's own maps and sets of row ids, looked up once or more per row: foldhash
/// (seeded per process) rather than SipHash, which was a twentieth of a thread page's
/// server time. Their size is bounded by the rows the budget lets a request read.
type IdMap<V> = foldhash::HashMap<i64, V>;
type IdSet = foldhash::HashSet<i64>;

/// The comments of a field's thread pages, by id: a comment's parent is looked up here
/// first, and found without a statement or a copy.
struct Known<'c> {
    /// The thread field's slot.
    slot: usize,
    /// Each comment, with its page's key and its place in the page.
    comments: IdMap<(&'c Comment, i64, usize)>,
}

/// A post's thread page, read with the post.
struct ThreadRows {
    /// The thread field's slot.
    slot: usize,
    rows: Vec<Comment>,
}

/// The parents a `parent` field needs: read for it, or in a thread page.
pub struct Parents {
    loaded: HashMap<i64, Comment>,
    /// The thread field's slot, and where each parent is there.
    in_thread: Option<(usize, Places)>,
}

/// Where comments are in a thread field's pages, by id: the page's key, the place in it.
type Places = IdMap<(i64, usize)>;

impl Parents {
    /// The parent with `id`, if the reader sees it.
    pub fn get<'l>(
        &'l self,
        loads: &'l Loads<'_>,
        id: i64,
    ) -> Result<Option<&'l Comment>, Fallback> {
        if let Some(parent) = self.loaded.get(&id) {
            return Ok(Some(parent));
        }
        let Some((slot, places)) = &self.in_thread else {
            return Ok(None);
        };
        let Some((key, index)) = places.get(&id) else {
            return Ok(None);
        };
        let Slot::CommentPages(pages) = loads.slot(*slot)? else {
            return Err(Fallback);
        };
        Ok(pages.get(key).and_then(|page| page.nodes.get(*index)))
    }
}

impl<'a> Loads<'a> {
    /// Checks the request's variables against the plan's declarations: a request the
    /// resolvers would refuse is left to them.
    pub fn new(
        plan: &'a Plan,
        variables: &'a Variables,
        warm: &'a WarmConnections,
        reader: Reader,
        budget: &'a ReadBudget,
    ) -> Result<Self, Fallback> {
        for declared in &plan.variables {
            let value = variables.get(&declared.name).or(declared.default.as_ref());
            let fits = match value {
                None | Some(ConstValue::Null) => !declared.required,
                Some(value) => fits(declared.kind, value),
            };
            if !fits {
                return Err(Fallback);
            }
        }
        let loads = Self {
            plan,
            variables,
            warm,
            connection: Mutex::new(None),
            reader,
            budget,
            slots: (0..plan.slots).map(|_| OnceLock::new()).collect(),
        };
        loads.check_arguments()?;
        Ok(loads)
    }

    /// Every argument checked before the first statement: a request the resolvers would
    /// answer with an error (a bad cursor deep in the query) costs the plan nothing.
    fn check_arguments(&self) -> Result<(), Fallback> {
        for field in &self.plan.fields {
            match &field.kind {
                RootField::Typename => {}
                RootField::Post {
                    id,
                    slug,
                    selection,
                } => {
                    self.key(id, slug, NodeKind::Post)?;
                    self.check_post(selection)?;
                }
                RootField::Posts { page, selection } => {
                    PageRequest::new(&self.page_args(page)?, post_ordering(PostOrder::default()))?;
                    for nodes in node_selections(selection) {
                        self.check_post(nodes)?;
                    }
                }
                RootField::Tag { id, slug, .. } => {
                    self.key(id, slug, NodeKind::Tag)?;
                }
                RootField::Author { id, slug, .. } => {
                    self.key(id, slug, NodeKind::Author)?;
                }
                RootField::Tags { page, .. } => {
                    PageRequest::new(&self.page_args(page)?, TAG_ORDERING)?;
                }
                RootField::Authors { page, .. } => {
                    PageRequest::new(&self.page_args(page)?, AUTHOR_ORDERING)?;
                }
                RootField::Node { id, selections } => match self.node_id(id)?.kind {
                    NodeKind::Post => self.check_post(&selections.post)?,
                    NodeKind::Comment => self.check_comments_of(&selections.comment)?,
                    _ => {}
                },
                RootField::Nodes { ids, selections } => {
                    let wanted = self.node_ids(ids)?;
                    if wanted.iter().any(|global| global.kind == NodeKind::Post) {
                        self.check_post(&selections.post)?;
                    }
                    if wanted.iter().any(|global| global.kind == NodeKind::Comment) {
                        self.check_comments_of(&selections.comment)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// A root field's `id` (of `kind`) or `slug`: exactly one, else the resolvers' error.
    fn key(&self, id: &'a Arg, slug: &'a Arg, kind: NodeKind) -> Result<Key, Fallback> {
        match (self.string(id)?, self.string(slug)?) {
            (Some(id), None) => Ok(Key::Id(GlobalId::decode(&id, kind, "id")?)),
            (None, Some(slug)) => Ok(Key::Slug(slug)),
            _ => Err(Fallback),
        }
    }

    /// `node`'s id, of a type a plan covers.
    fn node_id(&self, id: &'a Arg) -> Result<GlobalId, Fallback> {
        let id = self.string(id)?.ok_or(Fallback)?;
        let global = GlobalId::parse(&id).ok_or(Fallback)?;
        match global.kind {
            NodeKind::Post | NodeKind::Comment | NodeKind::Tag | NodeKind::Author => Ok(global),
            NodeKind::Channel => Err(Fallback),
        }
    }

    /// `nodes`' ids: at most 100, each of a type a plan covers (else the resolvers'
    /// answer or error).
    fn node_ids(&self, ids: &'a Arg) -> Result<Vec<GlobalId>, Fallback> {
        let Some(ConstValue::List(ids)) = self.value(ids)? else {
            return Err(Fallback);
        };
        if ids.len() > MAX_NODES {
            return Err(Fallback);
        }
        ids.iter()
            .map(|id| match id {
                ConstValue::String(id) => match GlobalId::parse(id) {
                    Some(global) if global.kind != NodeKind::Channel => Ok(global),
                    _ => Err(Fallback),
                },
                _ => Err(Fallback),
            })
            .collect()
    }

    fn check_post(&self, selection: &Selection<PostField>) -> Result<(), Fallback> {
        for field in selection {
            match &field.kind {
                PostField::Comments {
                    page,
                    order,
                    selection,
                } => {
                    let newest_first = self.newest_first(order)?;
                    PageRequest::new(
                        &self.page_args(page)?,
                        comment_ordering(Parent::Post, newest_first),
                    )?;
                    self.check_comments(selection)?;
                }
                PostField::Thread {
                    first,
                    after,
                    selection,
                } => {
                    self.thread_request(first, after)?;
                    self.check_comments(selection)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn check_comments(
        &self,
        connection: &Selection<ConnectionField<CommentField>>,
    ) -> Result<(), Fallback> {
        node_selections(connection)
            .into_iter()
            .try_for_each(|selection| self.check_comments_of(selection))
    }

    /// [`Loads::check_comments`] for one comment's selection (a `parent`).
    fn check_comments_of(&self, selection: &Selection<CommentField>) -> Result<(), Fallback> {
        for field in selection {
            match &field.kind {
                CommentField::Parent(selection) => self.check_comments_of(selection)?,
                CommentField::Post(selection) => self.check_post(selection)?,
                CommentField::Replies { page, selection } => {
                    PageRequest::new(
                        &self.page_args(page)?,
                        comment_ordering(Parent::Comment, false),
                    )?;
                    self.check_comments(selection)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// A thread page's request and the path its `after` cursor points at.
    fn thread_request(
        &self,
        first: &Arg,
        after: &Arg,
    ) -> Result<(PageRequest, Option<Vec<i64>>), Fallback> {
        let args = connection::PageArgs::new(self.int(first)?, self.string(after)?, None, None);
        let request = PageRequest::new(&args, THREAD_ORDERING)?;
        let after_path = match &request.window.after {
            Some(Position {
                key: gazette_store::keyset::SortKey::Text(path),
                ..
            }) => Some(parse_path(path)?),
            Some(_) => return Err(Fallback),
            None => None,
        };
        Ok((request, after_path))
    }

    /// Whether `orderBy` asks for the newest comments first.
    fn newest_first(&self, order: &'a Arg) -> Result<bool, Fallback> {
        match self.value(order)? {
            None if matches!(order, Arg::Absent) => Ok(false),
            // `orderBy` is non-null (with a default): a variable without a value is the
            // resolvers' error to give.
            None => Err(Fallback),
            Some(ConstValue::Enum(name)) => order_is_newest(name.as_str()),
            Some(ConstValue::String(name)) => order_is_newest(name),
            Some(_) => Err(Fallback),
        }
    }

    async fn connection(&self) -> Result<MappedMutexGuard<'_, WarmConnection>, Fallback> {
        let mut held = self.connection.lock().await;
        if held.is_none() {
            *held = Some(self.warm.take().await.map_err(|_| Fallback)?);
        }
        MutexGuard::try_map(held, Option::as_mut).map_err(|_| Fallback)
    }

    /// Gives the connection back once everything is loaded, before the answer is written:
    /// kept for the next request when every statement `loaded` (none can have left rows
    /// on it), else to the pool, which checks it.
    pub async fn release(&self, loaded: bool) {
        let connection = self.connection.lock().await.take();
        if let Some(connection) = connection
            && loaded
        {
            self.warm.keep(connection);
        }
    }

    pub fn slot(&self, slot: usize) -> Result<&Slot, Fallback> {
        self.slots.get(slot).and_then(OnceLock::get).ok_or(Fallback)
    }

    fn keep(&self, slot: usize, value: Slot) -> Result<&Slot, Fallback> {
        let cell = self.slots.get(slot).ok_or(Fallback)?;
        cell.set(value).map_err(|_| Fallback)?;
        cell.get().ok_or(Fallback)
    }

    /// Loads everything the plan's root fields need.
    pub async fn load(&self) -> Result<(), Fallback> {
        for field in &self.plan.fields {
            match &field.kind {
                RootField::Typename => {}
                RootField::Post {
                    id,
                    slug,
                    selection,
                } => {
                    let key = self.key(id, slug, NodeKind::Post)?;
                    let key = match &key {
                        Key::Id(id) => PostKey::Id(*id),
                        Key::Slug(slug) => PostKey::Slug(slug),
                    };
                    let (post, thread) = self.post_and_thread(key, selection).await?;
                    if let Slot::Post(Some(post)) = self.keep(field.slot, Slot::Post(post))? {
                        self.posts(selection, vec![post], thread).await?;
                    }
                }
                RootField::Posts { page, selection } => {
                    let order = PostOrder::default();
                    let ordering = post_ordering(order);
                    let request = PageRequest::new(&self.page_args(page)?, ordering)?;
                    let filter = PostFilter::published();
                    let rows = posts::page(
                        &mut **self.connection().await?,
                        self.reader,
                        &filter,
                        order,
                        &request.window,
                        post_columns(node_selections(selection)),
                        self.budget,
                    )
                    .await?;
                    let page = Page::new(&request, rows, ordering, |post: &Post| {
                        post.position(PostOrder::default().field)
                    });
                    let Slot::PostPage(page) = self.keep(field.slot, Slot::PostPage(page))? else {
                        return Err(Fallback);
                    };
                    self.keep_total_counts(selection, Count::Posts(&filter))
                        .await?;
                    let rows: Vec<&Post> = page.nodes.iter().collect();
                    for nodes in node_selections(selection) {
                        self.posts(nodes, rows.clone(), None).await?;
                    }
                }
                RootField::Tag { id, slug, .. } => {
                    let tag = self.tag(self.key(id, slug, NodeKind::Tag)?).await?;
                    self.keep(field.slot, Slot::Tag(tag))?;
                }
                RootField::Author { id, slug, .. } => {
                    let author = self.author(self.key(id, slug, NodeKind::Author)?).await?;
                    self.keep(field.slot, Slot::Author(author))?;
                }
                RootField::Tags { page, selection } => {
                    let request = PageRequest::new(&self.page_args(page)?, TAG_ORDERING)?;
                    let rows = tags::page(
                        &mut **self.connection().await?,
                        self.reader,
                        &request.window,
                    )
                    .await?;
                    let page = Page::new(&request, rows, TAG_ORDERING, Tag::position);
                    self.keep(field.slot, Slot::TagPage(page))?;
                    self.keep_total_counts(selection, Count::Tags).await?;
                }
                RootField::Authors { page, selection } => {
                    let request = PageRequest::new(&self.page_args(page)?, AUTHOR_ORDERING)?;
                    let rows = authors::page(
                        &mut **self.connection().await?,
                        self.reader,
                        &request.window,
                    )
                    .await?;
                    let page = Page::new(&request, rows, AUTHOR_ORDERING, Author::position);
                    self.keep(field.slot, Slot::AuthorPage(page))?;
                    self.keep_total_counts(selection, Count::Authors).await?;
                }
                RootField::Node { id, selections } => {
                    let global = self.node_id(id)?;
                    let found = match global.kind {
                        NodeKind::Post => {
                            let (post, thread) = self
                                .post_and_thread(PostKey::Id(global.id), &selections.post)
                                .await?;
                            let slot =
                                self.keep(field.slot, Slot::Node(post.map(NodeRow::Post)))?;
                            if let Slot::Node(Some(NodeRow::Post(post))) = slot {
                                self.posts(&selections.post, vec![post], thread).await?;
                            }
                            continue;
                        }
                        NodeKind::Comment => comments::find_visible(
                            &mut **self.connection().await?,
                            &[global.id],
                            self.reader,
                            self.budget,
                        )
                        .await?
                        .remove(&global.id)
                        .map(NodeRow::Comment),
                        NodeKind::Tag => self.tag(Key::Id(global.id)).await?.map(NodeRow::Tag),
                        NodeKind::Author => {
                            self.author(Key::Id(global.id)).await?.map(NodeRow::Author)
                        }
                        NodeKind::Channel => return Err(Fallback),
                    };
                    if let Slot::Node(Some(NodeRow::Comment(comment))) =
                        self.keep(field.slot, Slot::Node(found))?
                    {
                        self.comments(&selections.comment, vec![comment], None)
                            .await?;
                    }
                }
                RootField::Nodes { ids, selections } => {
                    let rows = self.nodes(self.node_ids(ids)?, &selections.post).await?;
                    let Slot::Nodes(rows) = self.keep(field.slot, Slot::Nodes(rows))? else {
                        return Err(Fallback);
                    };
                    self.posts(&selections.post, rows.posts.values().collect(), None)
                        .await?;
                    self.comments(&selections.comment, rows.comments.values().collect(), None)
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// `nodes`: each kind's ids in one statement, as the resolvers' loaders read them.
    async fn nodes(
        &self,
        wanted: Vec<GlobalId>,
        post_selection: &Selection<PostField>,
    ) -> Result<NodeRows, Fallback> {
        let of_kind = |kind: NodeKind| -> Vec<i64> {
            distinct(
                wanted
                    .iter()
                    .filter(|global| global.kind == kind)
                    .map(|global| global.id),
            )
        };
        let (post_ids, comment_ids) = (of_kind(NodeKind::Post), of_kind(NodeKind::Comment));
        let (tag_ids, author_ids) = (of_kind(NodeKind::Tag), of_kind(NodeKind::Author));
        let mut rows = NodeRows {
            wanted,
            posts: HashMap::new(),
            comments: HashMap::new(),
            tags: HashMap::new(),
            authors: HashMap::new(),
        };
        if !post_ids.is_empty() {
            rows.posts = posts::find_visible(
                &mut **self.connection().await?,
                &post_ids,
                self.reader,
                post_columns([post_selection]),
                self.budget,
            )
            .await?;
        }
        if !author_ids.is_empty() {
            rows.authors =
                authors::find_visible(&mut **self.connection().await?, &author_ids, self.reader)
                    .await?;
        }
        if !comment_ids.is_empty() {
            rows.comments = comments::find_visible(
                &mut **self.connection().await?,
                &comment_ids,
                self.reader,
                self.budget,
            )
            .await?;
        }
        if !tag_ids.is_empty() {
            rows.tags =
                tags::find_visible(&mut **self.connection().await?, &tag_ids, self.reader).await?;
        }
        Ok(rows)
    }

    /// A tag by id (as the resolvers' loader reads it) or by slug.
    async fn tag(&self, key: Key) -> Result<Option<Tag>, Fallback> {
        let mut held = self.connection().await?;
        let (connection, reader) = (&mut **held, self.reader);
        Ok(match key {
            Key::Id(id) => tags::find_visible(connection, &[id], reader)
                .await?
                .remove(&id),
            Key::Slug(slug) => tags::find_visible_by_slug(connection, &slug, reader).await?,
        })
    }

    /// An author by id (as the resolvers' loader reads them) or by slug.
    async fn author(&self, key: Key) -> Result<Option<Author>, Fallback> {
        let mut held = self.connection().await?;
        let (connection, reader) = (&mut **held, self.reader);
        Ok(match key {
            Key::Id(id) => authors::find_visible(connection, &[id], reader)
                .await?
                .remove(&id),
            Key::Slug(slug) => authors::find_visible_by_slug(connection, &slug, reader).await?,
        })
    }

    /// Keeps `what`'s counts for each `totalCount` the connection's `selection` asks for
    /// (nothing is counted when it asks for none).
    async fn keep_total_counts<Node>(
        &self,
        selection: &Selection<ConnectionField<Node>>,
        what: Count<'_>,
    ) -> Result<(), Fallback> {
        for counted in selection {
            if let ConnectionField::TotalCount = counted.kind {
                let counts = self.count(&what).await?;
                self.keep(counted.slot, Slot::Counts(counts))?;
            }
        }
        Ok(())
    }

    /// The counts behind a connection's `totalCount`, by the key its pages are kept under.
    async fn count(&self, what: &Count<'_>) -> Result<HashMap<i64, i64>, Fallback> {
        let mut held = self.connection().await?;
        let (connection, reader) = (&mut **held, self.reader);
        Ok(match *what {
            Count::Posts(filter) => {
                HashMap::from([(0, posts::count(connection, reader, filter).await?)])
            }
            Count::Tags => HashMap::from([(0, tags::count(connection, reader).await?)]),
            Count::Authors => HashMap::from([(0, authors::count(connection, reader).await?)]),
            Count::Children {
                parent,
                known,
                others,
            } => {
                let mut counts = known.clone();
                if !others.is_empty() {
                    counts
                        .extend(comments::child_counts(connection, parent, others, reader).await?);
                }
                counts
            }
            Count::Threads { known, others } => {
                let mut counts = known.clone();
                for post_id in others {
                    let count = comments::thread_count(&mut *connection, *post_id, reader).await?;
                    counts.insert(*post_id, count);
                }
                counts
            }
        })
    }

    /// One post, and the first page of its first `thread` field if it selects one: one
    /// statement for both (`comments::post_pages`).
    async fn post_and_thread(
        &self,
        key: PostKey<'_>,
        selection: &'a Selection<PostField>,
    ) -> Result<(Option<Post>, Option<ThreadRows>), Fallback> {
        let thread = selection.iter().find_map(|field| match &field.kind {
            PostField::Thread {
                first,
                after,
                selection,
            } => Some((field.slot, first, after, selection)),
            _ => None,
        });
        let columns = post_columns([selection]);
        let Some((slot, first, after, thread_selection)) = thread else {
            let post = match key {
                PostKey::Id(id) => posts::find_visible(
                    &mut **self.connection().await?,
                    &[id],
                    self.reader,
                    columns,
                    self.budget,
                )
                .await?
                .remove(&id),
                PostKey::Slug(slug) => {
                    posts::find_visible_by_slug(
                        &mut **self.connection().await?,
                        slug,
                        self.reader,
                        columns,
                        self.budget,
                    )
                    .await?
                }
            };
            return Ok((post, None));
        };
        let (request, after_path) = self.thread_request(first, after)?;
        let page = ThreadPage {
            after_path: after_path.as_deref(),
            limit: request.window.limit,
            columns: page_columns(thread_selection, true),
        };
        // A first page is read with those of the requests of its shape arriving together,
        // in one statement (`WarmConnections::post_page`), on a connection of its own: so
        // only while the request holds none, or one request could hold two, and requests
        // each holding one could wait for each other's second until the pool gives up.
        let shared = page.after_path.is_none()
            && self.warm.shares_post_pages()
            && self.connection.lock().await.is_none();
        let found = match shared {
            true => {
                let first_page = FirstPostPage {
                    reader: self.reader,
                    post_columns: columns,
                    comment_columns: page.columns,
                    limit: page.limit,
                };
                self.warm.post_page(key, first_page, self.budget).await?
            }
            false => {
                let connection = &mut **self.connection().await?;
                comments::post_page(connection, key, columns, self.reader, page, self.budget)
                    .await?
            }
        };
        Ok(match found {
            Some((post, rows)) => (Some(post), Some(ThreadRows { slot, rows })),
            None => (None, None),
        })
    }

    /// Loads what `selection` needs of `rows`; `thread` is a thread page already read
    /// with the (one) post.
    fn posts<'f>(
        &'f self,
        selection: &'f Selection<PostField>,
        rows: Vec<&'f Post>,
        mut thread: Option<ThreadRows>,
    ) -> Loading<'f>
    where
        'a: 'f,
    {
        Box::pin(async move {
            if rows.is_empty() {
                return Ok(());
            }
            let ids: Vec<i64> = rows.iter().map(|post| post.id).collect();
            for field in selection {
                match &field.kind {
                    PostField::Author(_) => {
                        let authors = distinct(rows.iter().map(|post| post.author_id));
                        let found = gazette_domain::policy::authors_of_read_posts(
                            &mut **self.connection().await?,
                            &authors,
                        )
                        .await?;
                        self.keep(field.slot, Slot::Authors(found))?;
                    }
                    PostField::Tags(_) => {
                        let found = gazette_domain::policy::tags_of_read_posts(
                            &mut **self.connection().await?,
                            &ids,
                        )
                        .await?;
                        self.keep(field.slot, Slot::Tags(found))?;
                    }
                    PostField::CommentCount => {
                        let found = comments::published_counts(
                            &mut **self.connection().await?,
                            &ids,
                            self.reader,
                        )
                        .await?;
                        self.keep(field.slot, Slot::Counts(found))?;
                    }
                    PostField::Comments {
                        page,
                        order,
                        selection,
                    } => {
                        let newest_first = self.newest_first(order)?;
                        self.children(
                            Parent::Post,
                            &ids,
                            page,
                            newest_first,
                            field.slot,
                            selection,
                        )
                        .await?;
                    }
                    PostField::Thread {
                        first,
                        after,
                        selection,
                    } => {
                        let read = thread.take_if(|thread| thread.slot == field.slot);
                        self.threads(&ids, first, after, field.slot, selection, read)
                            .await?;
                    }
                    _ => {}
                }
            }
            Ok(())
        })
    }

    /// A page of children (a post's top-level comments, a comment's replies) for every
    /// parent in `keys`: one statement, and one more for `totalCount` when asked and a
    /// page does not tell it.
    async fn children(
        &self,
        parent: Parent,
        keys: &[i64],
        page: &PageArgs,
        newest_first: bool,
        slot: usize,
        selection: &'a Selection<ConnectionField<CommentField>>,
    ) -> Result<(), Fallback> {
        let ordering = comment_ordering(parent, newest_first);
        let request = PageRequest::new(&self.page_args(page)?, ordering)?;
        let child_page = child_page(&request.window, newest_first);
        let mut found = comments::child_pages(
            &mut **self.connection().await?,
            parent,
            keys,
            self.reader,
            child_page,
            page_columns(selection, false),
            self.budget,
        )
        .await?;
        let (known, others) = counts_told_by_pages(keys, &found, &child_page);
        let pages = keys
            .iter()
            .map(|key| {
                let rows = found.remove(key).unwrap_or_default();
                (*key, Page::new(&request, rows, ordering, comment_position))
            })
            .collect();
        let Slot::CommentPages(pages) = self.keep(slot, Slot::CommentPages(pages))? else {
            return Err(Fallback);
        };
        let count = Count::Children {
            parent,
            known: &known,
            others: &others,
        };
        self.keep_total_counts(selection, count).await?;
        let rows: Vec<&Comment> = pages.values().flat_map(|page| page.nodes.iter()).collect();
        for nodes in node_selections(selection) {
            self.comments(nodes, rows.clone(), None).await?;
        }
        Ok(())
    }

    /// A page of each post's whole thread: one statement per post, as the resolver reads,
    /// unless the one post's page came with it (`read`).
    async fn threads(
        &self,
        post_ids: &[i64],
        first: &Arg,
        after: &Arg,
        slot: usize,
        selection: &'a Selection<ConnectionField<CommentField>>,
        mut read: Option<ThreadRows>,
    ) -> Result<(), Fallback> {
        let (request, after_path) = self.thread_request(first, after)?;
        let mut pages = HashMap::with_capacity(post_ids.len());
        // As for children (`counts_told_by_pages`): a first page shorter than its window
        // holds the whole thread.
        let (mut known, mut others) = (HashMap::new(), Vec::new());
        for post_id in post_ids {
            let rows = match read.take() {
                Some(read) if post_ids.len() == 1 => read.rows,
                Some(_) => return Err(Fallback),
                None => {
                    comments::thread_page(
                        &mut **self.connection().await?,
                        *post_id,
                        self.reader,
                        after_path.as_deref(),
                        request.window.limit,
                        page_columns(selection, true),
                        self.budget,
                    )
                    .await?
                }
            };
            match count_told_by_page(rows.len(), after_path.is_none(), request.window.limit) {
                Some(count) => {
                    known.insert(*post_id, count);
                }
                None => others.push(*post_id),
            }
            let page = Page::new(&request, rows, THREAD_ORDERING, thread_position);
            pages.insert(*post_id, page);
        }
        let Slot::CommentPages(pages) = self.keep(slot, Slot::CommentPages(pages))? else {
            return Err(Fallback);
        };
        let count = Count::Threads {
            known: &known,
            others: &others,
        };
        self.keep_total_counts(selection, count).await?;
        let rows: Vec<&Comment> = pages.values().flat_map(|page| page.nodes.iter()).collect();
        // A thread page knows its own comments: their parents need no look-up.
        let mut known = Known {
            slot,
            comments: IdMap::with_capacity(rows.len()),
        };
        known.comments.extend(pages.iter().flat_map(|(key, page)| {
            page.nodes
                .iter()
                .enumerate()
                .map(|(index, comment)| (comment.id, (comment, *key, index)))
        }));
        for nodes in node_selections(selection) {
            self.comments(nodes, rows.clone(), Some(&known)).await?;
        }
        Ok(())
    }

    fn comments<'f>(
        &'f self,
        selection: &'f Selection<CommentField>,
        rows: Vec<&'f Comment>,
        known: Option<&'f Known<'f>>,
    ) -> Loading<'f>
    where
        'a: 'f,
    {
        Box::pin(async move {
            if rows.is_empty() {
                return Ok(());
            }
            let ids: Vec<i64> = rows.iter().map(|comment| comment.id).collect();
            for field in selection {
                match &field.kind {
                    CommentField::ReplyCount => {
                        let found = comments::published_reply_counts(
                            &mut **self.connection().await?,
                            &ids,
                            self.reader,
                        )
                        .await?;
                        self.keep(field.slot, Slot::Counts(found))?;
                    }
                    CommentField::Parent(selection) => {
                        let wanted = distinct(rows.iter().filter_map(|comment| comment.parent_id));
                        let mut rows: Vec<&Comment> = Vec::with_capacity(wanted.len());
                        let mut places = Places::with_capacity(wanted.len());
                        let mut missing = Vec::new();
                        for id in wanted {
                            match known.and_then(|known| known.comments.get(&id)) {
                                Some((parent, key, index)) => {
                                    places.insert(id, (*key, *index));
                                    rows.push(parent);
                                }
                                None => missing.push(id),
                            }
                        }
                        let loaded = match missing.is_empty() {
                            true => HashMap::new(),
                            false => {
                                comments::find_visible(
                                    &mut **self.connection().await?,
                                    &missing,
                                    self.reader,
                                    self.budget,
                                )
                                .await?
                            }
                        };
                        let parents = Parents {
                            loaded,
                            in_thread: known.map(|known| (known.slot, places)),
                        };
                        let Slot::Parents(parents) =
                            self.keep(field.slot, Slot::Parents(parents))?
                        else {
                            return Err(Fallback);
                        };
                        rows.extend(parents.loaded.values());
                        self.comments(selection, rows, known).await?;
                    }
                    CommentField::Post(selection) => {
                        let wanted = distinct(rows.iter().map(|comment| comment.post_id));
                        let found = posts::find_visible(
                            &mut **self.connection().await?,
                            &wanted,
                            self.reader,
                            post_columns([selection]),
                            self.budget,
                        )
                        .await?;
                        let Slot::PostsById(found) =
                            self.keep(field.slot, Slot::PostsById(found))?
                        else {
                            return Err(Fallback);
                        };
                        self.posts(selection, found.values().collect(), None)
                            .await?;
                    }
                    CommentField::Replies { page, selection } => {
                        self.children(Parent::Comment, &ids, page, false, field.slot, selection)
                            .await?;
                    }
                    _ => {}
                }
            }
            Ok(())
        })
    }

    fn page_args(&self, page: &PageArgs) -> Result<connection::PageArgs, Fallback> {
        Ok(connection::PageArgs::new(
            self.int(&page.first)?,
            self.string(&page.after)?,
            self.int(&page.last)?,
            self.string(&page.before)?,
        ))
    }

    /// An argument's value; `None` when absent or null.
    fn value(&self, arg: &'a Arg) -> Result<Option<&'a ConstValue>, Fallback> {
        let value = match arg {
            Arg::Absent => None,
            Arg::Literal(value) => Some(value),
            Arg::Variable(name) => self.variables.get(name).or_else(|| {
                self.plan
                    .variables
                    .iter()
                    .find(|declared| &declared.name == name)
                    .and_then(|declared| declared.default.as_ref())
            }),
        };
        Ok(value.filter(|value| !matches!(value, ConstValue::Null)))
    }

    fn int(&self, arg: &'a Arg) -> Result<Option<i32>, Fallback> {
        match self.value(arg)? {
            None => Ok(None),
            Some(ConstValue::Number(number)) => number
                .as_i64()
                .and_then(|number| i32::try_from(number).ok())
                .map(Some)
                .ok_or(Fallback),
            Some(_) => Err(Fallback),
        }
    }

    fn string(&self, arg: &'a Arg) -> Result<Option<String>, Fallback> {
        match self.value(arg)? {
            None => Ok(None),
            Some(ConstValue::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(Fallback),
        }
    }
}

/// Whether `value` is one GraphQL would accept for a variable of `kind`.
fn fits(kind: ScalarKind, value: &ConstValue) -> bool {
    match (kind, value) {
        (ScalarKind::Int, ConstValue::Number(number)) => number
            .as_i64()
            .is_some_and(|number| i32::try_from(number).is_ok()),
        (ScalarKind::String | ScalarKind::Id, ConstValue::String(_)) => true,
        (ScalarKind::Boolean, ConstValue::Boolean(_)) => true,
        (ScalarKind::IdList, ConstValue::List(ids)) => {
            ids.iter().all(|id| matches!(id, ConstValue::String(_)))
        }
        (ScalarKind::CommentOrder, ConstValue::String(name)) => order_is_newest(name).is_ok(),
        (ScalarKind::CommentOrder, ConstValue::Enum(name)) => order_is_newest(name).is_ok(),
        _ => false,
    }
}

fn order_is_newest(name: &str) -> Result<bool, Fallback> {
    match name {
        "OLDEST" => Ok(false),
        "NEWEST" => Ok(true),
        _ => Err(Fallback),
    }
}

fn distinct(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    let mut seen = IdSet::with_capacity(ids.size_hint().0);
    ids.filter(|id| seen.insert(*id)).collect()
}

/// The texts a read of posts returns: the Markdown source and the HTML only when one of
/// `selections` (the selections the posts are written with) shows them.
fn post_columns<'s>(selections: impl IntoIterator<Item = &'s Selection<PostField>>) -> PostColumns {
    let (mut body, mut body_html) = (false, false);
    for field in selections.into_iter().flatten() {
        match field.kind {
            PostField::Body => body = true,
            PostField::BodyHtml => body_html = true,
            _ => {}
        }
    }
    PostColumns::Shown { body, body_html }
}

/// The columns a page of comments is read with: the path only for a thread page's
/// cursors; the Markdown source, the commenter's link and the time of the last edit only
/// when a comment of the page shows them — as a node or, in a thread page, as the parent
/// of a later comment of the page.
fn page_columns(connection: &Selection<ConnectionField<CommentField>>, thread: bool) -> Columns {
    let cursors = connection.iter().any(|field| match &field.kind {
        ConnectionField::Edges(edges) => edges
            .iter()
            .any(|edge| matches!(edge.kind, EdgeField::Cursor)),
        ConnectionField::PageInfo(info) => info.iter().any(|field| {
            matches!(
                field.kind,
                PageInfoField::StartCursor | PageInfoField::EndCursor
            )
        }),
        _ => false,
    });
    let nodes = node_selections(connection);
    let shown =
        |wanted: fn(&CommentField) -> bool| nodes.iter().any(|nodes| shows(nodes, thread, wanted));
    Columns::Shown {
        path: thread && cursors,
        body: shown(|field| matches!(field, CommentField::Body)),
        link: shown(|field| match field {
            CommentField::Author(author) => author
                .iter()
                .any(|field| matches!(field.kind, CommentAuthorField::Url)),
            _ => false,
        }),
        edited: shown(|field| matches!(field, CommentField::UpdatedAt)),
    }
}

/// Whether `selection` shows a field `wanted` picks, on the comments of the page or, in
/// a thread (whose page is where its comments' parents come from), on their parents.
fn shows(
    selection: &Selection<CommentField>,
    thread: bool,
    wanted: fn(&CommentField) -> bool,
) -> bool {
    selection.iter().any(|field| match &field.kind {
        CommentField::Parent(parent) if thread && shows(parent, thread, wanted) => true,
        kind => wanted(kind),
    })
}

/// The node selections of a connection: under `edges { node }` and under `nodes`.
pub fn node_selections<N>(selection: &Selection<ConnectionField<N>>) -> Vec<&Selection<N>> {
    let mut found = Vec::new();
    for field in selection {
        match &field.kind {
            ConnectionField::Nodes(nodes) => found.push(nodes),
            ConnectionField::Edges(edges) => {
                for edge in edges {
                    if let EdgeField::Node(nodes) = &edge.kind {
                        found.push(nodes);
                    }
                }
            }
            _ => {}
        }
    }
    found
}

/// The children counts that `pages` (read for `keys` with `window`) already tell, and the
/// keys whose count still has to be read. A page read without a cursor that came back
/// shorter than its window (which is one row longer than the page asked for) holds every
/// child its parent has for this reader, under the same rule `comments::child_counts`
/// applies: its length is the count. Replies are mostly fewer than a page, so most nested
/// `totalCount`s need no statement of their own.
fn counts_told_by_pages<Row>(
    keys: &[i64],
    pages: &HashMap<i64, Vec<Row>>,
    window: &ChildPage,
) -> (HashMap<i64, i64>, Vec<i64>) {
    let uncut = window.after.is_none() && window.before.is_none();
    let mut known = HashMap::with_capacity(keys.len());
    let mut others = Vec::new();
    for key in keys {
        let read = pages.get(key).map_or(0, Vec::len);
        match count_told_by_page(read, uncut, window.limit) {
            Some(count) => {
                known.insert(*key, count);
            }
            None => others.push(*key),
        }
    }
    (known, others)
}

/// The count a page of `read` rows tells, if it tells one: read without a cursor
/// (`uncut`) and shorter than its window of `limit` rows.
fn count_told_by_page(read: usize, uncut: bool, limit: i64) -> Option<i64> {
    i64::try_from(read)
        .ok()
        .filter(|read| uncut && *read < limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(after: Option<i64>, before: Option<i64>) -> ChildPage {
        // `first: 2` asks for a window of three rows.
        ChildPage {
            after,
            before,
            limit: 3,
            from_end: false,
            newest_first: false,
        }
    }

    #[test]
    fn a_page_shorter_than_its_window_tells_its_count() {
        // Parent 1 has no children, 2 has two (all of them read), 3 filled the window.
        let pages = HashMap::from([(2, vec![(), ()]), (3, vec![(), (), ()])]);
        let (known, others) = counts_told_by_pages(&[1, 2, 3], &pages, &window(None, None));
        assert_eq!(known, HashMap::from([(1, 0), (2, 2)]));
        assert_eq!(others, [3]);
    }

    #[test]
    fn a_page_after_or_before_a_cursor_tells_no_count() {
        let pages = HashMap::from([(2, vec![()])]);
        for cut in [window(Some(10), None), window(None, Some(10))] {
            let (known, others) = counts_told_by_pages(&[1, 2], &pages, &cut);
            assert!(known.is_empty());
            assert_eq!(others, [1, 2]);
        }
    }
}
