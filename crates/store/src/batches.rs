//! Post pages of requests that arrive together, read in one statement.
//!
//! A post page is one statement, and most of what it costs PostgreSQL is the statement,
//! not its rows: on the benchmark's data (10,000 posts, a random one per page), a page
//! read alone cost PostgreSQL 0.087 ms, and read eight to a statement 0.041 ms each
//! (pgbench, docs/benchmarks.md). So the pages of one shape (the same reader, columns and
//! page size) run at most [`PostPageBatches::at_once`] statements at a time; a request
//! that finds them all running waits in line, and the next statement reads the page of
//! every request waiting then (up to [`MOST_PAGES_PER_STATEMENT`]). Nothing waits for a
//! batch to fill: a request that finds a statement free runs at once, alone if alone, so
//! a quiet server answers as fast as before, and only a busy one shares statements.
//!
//! The request whose turn it is runs the statement for the others, on a connection of
//! its own taken for it, and hands each waiting request its row undecoded; each decodes
//! it and charges it to its own read budget. Should that request end early (its client
//! left), the requests it took in go back to the head of the line for the next
//! statement; should the statement fail, they are told so (their answers are dropped)
//! and read on the resolvers. The turn passes on in any case.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::oneshot;

use crate::budget::ReadBudget;
use crate::comments::{self, Columns, Comment, PostKeys, PostPage, ThreadPage};
use crate::error::StoreError;
use crate::posts::{Post, PostColumns, PostKey};
use crate::visibility::Reader;
use crate::warm::WarmConnections;

/// The most posts one statement reads: what a statement holds in memory at once (rows of
/// at most a page of comments each) stays bounded however long the line.
const MOST_PAGES_PER_STATEMENT: usize = 32;

/// The `tracing` target of the event each statement of a line sends as it starts, with
/// the number of `pages` it reads: gazette-metrics makes it
/// `gazette_db_post_pages_per_statement`, as it makes sqlx's events its statement counts
/// (the store names no metrics).
const STATEMENT_EVENT_TARGET: &str = "gazette_store::post_pages";

/// The post pages of one database's reads, in lines by shape.
#[derive(Debug)]
pub(crate) struct PostPageBatches {
    at_once: usize,
    lines: Arc<Mutex<HashMap<Shape, Line>>>,
}

/// What makes two post pages one statement: everything but the post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Shape {
    page: FirstPostPage,
    by_slug: bool,
}

/// A post page as [`comments::post_pages`] reads it, but for the post: the post's columns
/// and the first `limit` comments of its thread, as `reader` sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FirstPostPage {
    pub reader: Reader,
    pub post_columns: PostColumns,
    pub comment_columns: Columns,
    pub limit: i64,
}

impl FirstPostPage {
    fn thread_page(&self) -> ThreadPage<'static> {
        ThreadPage {
            after_path: None,
            limit: self.limit,
            columns: self.comment_columns,
        }
    }
}

/// The statements of a shape running now, and the requests waiting for the next.
#[derive(Debug, Default)]
struct Line {
    running: usize,
    waiting: VecDeque<Waiter>,
}

#[derive(Debug)]
struct Waiter {
    key: OwnedKey,
    answer: oneshot::Sender<Answer>,
}

#[derive(Debug)]
enum OwnedKey {
    Id(i64),
    Slug(String),
}

impl OwnedKey {
    fn of(key: PostKey<'_>) -> Self {
        match key {
            PostKey::Id(id) => OwnedKey::Id(id),
            PostKey::Slug(slug) => OwnedKey::Slug(slug.to_owned()),
        }
    }

    fn borrowed(&self) -> PostKey<'_> {
        match self {
            OwnedKey::Id(id) => PostKey::Id(*id),
            OwnedKey::Slug(slug) => PostKey::Slug(slug),
        }
    }
}

/// What a waiting request is handed: its page (`None`: the reader does not see the
/// post), or the turn to run the next statement.
#[derive(Debug)]
enum Answer {
    Read(Option<Arc<PostPage>>),
    Run(Turn),
}

/// A shape's right to run one statement. Dropped, it goes to the request that has
/// waited longest, or back to the line when none waits.
#[derive(Debug)]
struct Turn {
    /// `None` once the turn is passed on (or found no taker), so dropping does nothing.
    lines: Option<Arc<Mutex<HashMap<Shape, Line>>>>,
    shape: Shape,
}

impl Drop for Turn {
    fn drop(&mut self) {
        if let Some(lines) = self.lines.take() {
            pass_on(lines, self.shape);
        }
    }
}

fn lock(lines: &Mutex<HashMap<Shape, Line>>) -> MutexGuard<'_, HashMap<Shape, Line>> {
    // Every change under the lock leaves the lines whole: a panic elsewhere while it was
    // held cannot have left one half-made.
    lines.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Gives `shape`'s turn to the request that has waited longest (and is still there), or
/// takes it back.
fn pass_on(lines: Arc<Mutex<HashMap<Shape, Line>>>, shape: Shape) {
    loop {
        let waiter = {
            let mut by_shape = lock(&lines);
            let Some(line) = by_shape.get_mut(&shape) else {
                return;
            };
            match line.waiting.pop_front() {
                Some(waiter) => waiter,
                None => {
                    line.running = line.running.saturating_sub(1);
                    if line.running == 0 {
                        by_shape.remove(&shape);
                    }
                    return;
                }
            }
        };
        let turn = Turn {
            lines: Some(lines.clone()),
            shape,
        };
        // Sent outside the lock: a turn dropped with a refused answer passes itself on.
        match waiter.answer.send(Answer::Run(turn)) {
            Ok(()) => return,
            // It left: the turn comes back here, for the next in line.
            Err(refused) => {
                if let Answer::Run(mut turn) = refused {
                    turn.lines = None;
                }
            }
        }
    }
}

/// The requests taken from a line into a statement, with the turn that runs it. Should
/// the request running it leave before it ends (its client went away), they go back to
/// the head of their line, and the turn to the first of them: they wait for the next
/// statement instead of failing for another's leaving.
struct TakenIn {
    waiters: Vec<Waiter>,
    lines: Arc<Mutex<HashMap<Shape, Line>>>,
    shape: Shape,
    turn: Option<Turn>,
}

impl TakenIn {
    /// The waiters and the turn, once the statement has ended.
    fn ended(mut self) -> (Vec<Waiter>, Option<Turn>) {
        (std::mem::take(&mut self.waiters), self.turn.take())
    }
}

impl Drop for TakenIn {
    fn drop(&mut self) {
        if !self.waiters.is_empty() {
            let mut by_shape = lock(&self.lines);
            let line = by_shape.entry(self.shape).or_default();
            for waiter in self.waiters.drain(..).rev() {
                line.waiting.push_front(waiter);
            }
        }
        // Passed on after they are back in line, so it goes to the first of them.
        drop(self.turn.take());
    }
}

/// Whether a post could have `slug` (the `posts_slug_format` constraint): no text column
/// holds a NUL, which PostgreSQL refuses as a parameter, and no slug is longer than 200
/// characters. Any other text is asked for (and found or not) like the rest: one that
/// cannot be stored would fail the statement for every request in it, and a long one
/// would be copied into it for nothing.
fn could_be_a_post_slug(slug: &str) -> bool {
    const MOST_CHARACTERS: usize = 200;
    crate::could_be_stored(slug)
        && (slug.len() <= MOST_CHARACTERS || slug.chars().count() <= MOST_CHARACTERS)
}

/// Where a request stands after joining its shape's line.
enum Joined {
    Run(Turn),
    Wait(oneshot::Receiver<Answer>),
}

impl PostPageBatches {
    /// Lines that run at most `at_once` statements each at a time; `0` runs every page
    /// as its own statement, at once.
    pub(crate) fn new(at_once: usize) -> Self {
        Self {
            at_once,
            lines: Arc::default(),
        }
    }

    /// How many statements of one shape run at a time (`0`: no lines).
    pub(crate) fn at_once(&self) -> usize {
        self.at_once
    }

    /// How many requests wait in line now, all shapes together.
    pub(crate) fn waiting(&self) -> usize {
        lock(&self.lines)
            .values()
            .map(|line| line.waiting.len())
            .sum()
    }

    /// The post `key` names and the first page of its thread, read with the pages of the
    /// requests waiting beside it, on a connection of `warm`; charged to `budget`.
    pub(crate) async fn read(
        &self,
        warm: &WarmConnections,
        key: PostKey<'_>,
        page: FirstPostPage,
        budget: &ReadBudget,
    ) -> Result<Option<(Post, Vec<Comment>)>, StoreError> {
        budget.check()?;
        if let PostKey::Slug(slug) = key
            && !could_be_a_post_slug(slug)
        {
            return Ok(None);
        }
        let shape = Shape {
            page,
            by_slug: matches!(key, PostKey::Slug(_)),
        };
        let turn = match self.join(shape, key) {
            Joined::Run(turn) => turn,
            Joined::Wait(answer) => match answer.await {
                Ok(Answer::Read(found)) => {
                    return found.map(|found| found.read(budget)).transpose();
                }
                Ok(Answer::Run(turn)) => turn,
                Err(_) => return Err(StoreError::SharedReadFailed),
            },
        };
        let found = self.run(warm, turn, shape, key).await?;
        found.map(|found| found.read(budget)).transpose()
    }

    /// Runs the request's statement at once when its shape has one free, else puts it in
    /// line.
    fn join(&self, shape: Shape, key: PostKey<'_>) -> Joined {
        let mut by_shape = lock(&self.lines);
        let line = by_shape.entry(shape).or_default();
        // With no limit (`0`), every page runs at once, alone: its own statement.
        if self.at_once == 0 || line.running < self.at_once {
            line.running += 1;
            return Joined::Run(Turn {
                lines: Some(self.lines.clone()),
                shape,
            });
        }
        let (answer, answered) = oneshot::channel();
        line.waiting.push_back(Waiter {
            key: OwnedKey::of(key),
            answer,
        });
        Joined::Wait(answered)
    }

    /// The requests in `shape`'s line now, at most `most` (those that left skipped).
    fn take_waiting(&self, shape: Shape, most: usize) -> Vec<Waiter> {
        let mut by_shape = lock(&self.lines);
        let Some(line) = by_shape.get_mut(&shape) else {
            return Vec::new();
        };
        line.waiting.retain(|waiter| !waiter.answer.is_closed());
        let taken = most.min(line.waiting.len());
        line.waiting.drain(..taken).collect()
    }

    /// Runs one statement of `shape` with `turn`: `key`'s page and those of the requests
    /// waiting, each handed its row.
    async fn run(
        &self,
        warm: &WarmConnections,
        turn: Turn,
        shape: Shape,
        key: PostKey<'_>,
    ) -> Result<Option<Arc<PostPage>>, StoreError> {
        let mut connection = match warm.take().await {
            Ok(connection) => connection,
            Err(error) => {
                // Whoever waits would wait the pool's whole timeout again, one after the
                // other: they are told now, and read on the resolvers (which report it).
                drop(self.take_waiting(shape, usize::MAX));
                return Err(error.into());
            }
        };
        let taken = TakenIn {
            waiters: self.take_waiting(shape, MOST_PAGES_PER_STATEMENT - 1),
            lines: self.lines.clone(),
            shape,
            turn: Some(turn),
        };
        // One kind of key per line: `by_slug` is part of its shape.
        let (mut ids, mut slugs) = (Vec::new(), Vec::new());
        let keys =
            std::iter::once(key).chain(taken.waiters.iter().map(|waiter| waiter.key.borrowed()));
        for key in keys {
            match key {
                PostKey::Id(id) => ids.push(id),
                PostKey::Slug(slug) => slugs.push(slug.to_owned()),
            }
        }
        let keys = match shape.by_slug {
            true => PostKeys::Slugs(slugs),
            false => PostKeys::Ids(ids),
        };
        tracing::trace!(
            target: STATEMENT_EVENT_TARGET,
            pages = 1 + taken.waiters.len() as u64,
            "a post page statement"
        );
        let FirstPostPage {
            reader,
            post_columns,
            ..
        } = shape.page;
        let thread_page = shape.page.thread_page();
        let read =
            comments::post_pages(&mut *connection, keys, post_columns, reader, thread_page).await;
        if read.is_ok() {
            warm.keep(connection);
        }
        // The statement ended (in rows or an error): the waiters taken in are answered
        // (dropped unanswered on an error: they read on the resolvers), and the next
        // statement may start while the rows are handed out.
        let (waiting, turn) = taken.ended();
        drop(turn);
        let pages: Vec<Arc<PostPage>> = read?.into_iter().map(Arc::new).collect();
        let find = |key: PostKey<'_>| pages.iter().find(|found| found.is(key)).cloned();
        for waiter in waiting {
            let found = find(waiter.key.borrowed());
            // One that left no longer needs it.
            let _ = waiter.answer.send(Answer::Read(found));
        }
        Ok(find(key))
    }
}
