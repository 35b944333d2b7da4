//! `gazette import`: bringing in an existing blog from a Blogger export (Atom) or a
//! WordPress export (WXR), detected from the file. Posts keep their dates, authors, slugs,
//! labels or tags and categories, and their comments with threading, dates and moderation
//! state; bodies are sanitised as any post's, comments pass the comment rules. Every post
//! and comment is recorded by its export id (migration 0010): importing the same file again
//! changes nothing, and a newer export adds only what is new. The file is streamed a record
//! at a time.
//!
//! Transactions: posts are written in batches (`writer`), each with its comments one
//! transaction, so an interrupted import leaves every batch whole or absent. Blogger lists
//! every comment after every post: its comments are staged in temporary tables first
//! (docs/import.md).

mod blogger;
#[cfg(test)]
mod tests;
mod wordpress;
mod writer;
mod xml;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use gazette_store::comments::CommentStatus;
use gazette_store::imports::{self, StagedComment};
use gazette_store::posts::PostStatus;
use gazette_store::{PgConnection, PgPool, StoreError};

use xml::{Node, Records};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is neither a Blogger export (an Atom feed) nor a WordPress export (WXR, an RSS feed with wp: elements)"
    )]
    UnknownFormat { path: PathBuf },
    #[error("line {line}: {detail}")]
    Xml { line: u64, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<gazette_store::SqlxError> for ImportError {
    fn from(error: gazette_store::SqlxError) -> Self {
        ImportError::Store(error.into())
    }
}

/// A post as an export describes it; the body is HTML.
#[derive(Debug, Clone)]
pub struct ImportPost {
    pub external_id: String,
    pub title: String,
    pub body_html: String,
    pub excerpt: Option<String>,
    pub slug: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub status: PostStatus,
    pub author_login: String,
    pub author_name: String,
    pub tags: Vec<ImportTag>,
    /// WordPress gives them with the post; Blogger's come later in the file.
    pub comments: Vec<ImportComment>,
    /// Comments of the record left out, and why (pingbacks, the trash).
    pub skipped_comments: Vec<(String, String)>,
    /// Comments of the record that cannot be identified.
    pub failed_comments: Vec<(String, String)>,
    /// Why a post public to some readers in the source is imported as a draft
    /// (`password-protected`, `private`): Gazette cannot show it to those readers only.
    pub draft_because: Option<&'static str>,
    pub comments_open: bool,
    /// From a Gazette export: the Markdown behind `body_html`, the excerpt as written, and
    /// the id the post had, kept when it is free.
    pub gazette: Option<GazetteOrigin>,
}

/// A tag as the export names it, with the slug it had there (WordPress's `nicename`).
#[derive(Debug, Clone)]
pub struct ImportTag {
    pub name: String,
    pub slug: Option<String>,
}

/// What a Gazette export says of a post or comment beyond WordPress's fields.
#[derive(Debug, Clone)]
pub struct GazetteOrigin {
    /// The Markdown (posts) or text (comments) the HTML was rendered from.
    pub source: String,
    pub id: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct ImportComment {
    pub external_id: String,
    pub parent_external_id: Option<String>,
    pub author_name: String,
    pub author_email: Option<String>,
    pub author_url: Option<String>,
    pub body_html: String,
    pub created_at: Option<DateTime<Utc>>,
    pub status: CommentStatus,
    pub gazette: Option<GazetteOrigin>,
}

/// One record of an export.
#[derive(Debug)]
pub enum Record {
    Post(ImportPost),
    /// A Blogger comment, and the id of the post or comment it answers.
    Comment {
        answers: String,
        comment: ImportComment,
    },
    /// Not imported, and the report says why.
    Skipped {
        what: String,
        reason: String,
    },
    /// Not imported because it cannot be identified (no export id): an error in the report.
    Failed {
        what: String,
        reason: String,
    },
    /// Not content (Blogger's settings and template entries).
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Blogger,
    WordPress,
}

/// What an import did (or, with `--dry-run`, would do). Every record of the file (an
/// `item`, or a Blogger `entry`) is counted once: imported, already present, skipped,
/// ignored (Blogger's settings and template) or failed.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub format: Option<Format>,
    /// The records in the file.
    pub records: usize,
    pub posts_imported: usize,
    pub posts_present: usize,
    pub comments_imported: usize,
    pub comments_present: usize,
    /// Records left out, and why.
    pub skipped: Vec<(String, String)>,
    /// Blogger's settings and template entries: not content, only counted.
    pub ignored: usize,
    /// Records that could not be imported, and why; their number is `failed_records`
    /// (a refused Blogger post takes its comment entries with it).
    pub failed: Vec<(String, String)>,
    pub failed_records: usize,
    /// Comments inside WordPress items left out (pingbacks, the trash) or not identifiable.
    pub skipped_comments: Vec<(String, String)>,
    pub failed_comments: Vec<(String, String)>,
    /// Posts imported as drafts because the source showed them to some readers only.
    pub drafts: Vec<(String, String)>,
    /// What the comment rules changed in imported comments (a website that is no http(s)
    /// address is dropped, a name too long is shortened).
    pub changed: Vec<(String, String)>,
}

impl ImportReport {
    /// The records imported: posts, and for Blogger, comment entries.
    pub fn records_imported(&self) -> usize {
        match self.format {
            Some(Format::Blogger) => self.posts_imported + self.comments_imported,
            _ => self.posts_imported,
        }
    }

    pub fn records_present(&self) -> usize {
        match self.format {
            Some(Format::Blogger) => self.posts_present + self.comments_present,
            _ => self.posts_present,
        }
    }

    /// Whether every record is accounted for, once.
    pub fn adds_up(&self) -> bool {
        self.records
            == self.records_imported()
                + self.records_present()
                + self.skipped.len()
                + self.ignored
                + self.failed_records
    }

    pub(super) fn for_batch(format: Format) -> Self {
        Self {
            format: Some(format),
            ..Self::default()
        }
    }

    /// Adds what a batch's own report counted (records are counted as they are read).
    pub(super) fn merge(&mut self, batch: ImportReport) {
        self.add_counts(&batch);
        self.failed.extend(batch.failed);
        self.failed_records += batch.failed_records;
        self.failed_comments.extend(batch.failed_comments);
    }

    fn add_counts(&mut self, counts: &ImportReport) {
        self.posts_imported += counts.posts_imported;
        self.posts_present += counts.posts_present;
        self.comments_imported += counts.comments_imported;
        self.comments_present += counts.comments_present;
        self.skipped.extend(counts.skipped.iter().cloned());
        self.skipped_comments
            .extend(counts.skipped_comments.iter().cloned());
        self.drafts.extend(counts.drafts.iter().cloned());
        self.changed.extend(counts.changed.iter().cloned());
    }
}

/// How an import runs.
#[derive(Debug, Clone, Copy)]
pub struct ImportOptions {
    /// Report what would be imported and change nothing: the whole import runs in one
    /// transaction that is rolled back, so later batches see what earlier ones would write.
    pub dry_run: bool,
    /// Replies deeper than this stand under their deepest allowed ancestor, as
    /// `addComment` places them (`--comment-max-depth`).
    pub max_comment_depth: i32,
}

/// Imports the export at `path`. `progress` hears how far it has come after each batch.
pub async fn import_file(
    pool: &PgPool,
    path: &Path,
    options: ImportOptions,
    progress: &(dyn Fn(&Progress) + Send + Sync),
) -> Result<ImportReport, ImportError> {
    let format = detect(path)?;
    let mut report = ImportReport {
        format: Some(format),
        ..ImportReport::default()
    };
    let importer = Importer {
        pool,
        format,
        progress,
        dry_run: options.dry_run,
        max_comment_depth: options.max_comment_depth,
        authors: std::sync::Mutex::default(),
        tags: std::sync::Mutex::default(),
        batches: std::sync::atomic::AtomicUsize::new(0),
    };
    match format {
        Format::WordPress => importer.wordpress(path, &mut report).await?,
        Format::Blogger => importer.blogger(path, &mut report).await?,
    }
    Ok(report)
}

fn open(path: &Path) -> Result<BufReader<File>, ImportError> {
    File::open(path)
        .map(BufReader::new)
        .map_err(|source| ImportError::Read {
            path: path.to_owned(),
            source,
        })
}

/// From the file's root element, matched by namespace: Atom's `feed` is Blogger's, an
/// `rss` that declares WordPress's export namespace (any version, http or https) is WXR.
/// Prefixes and the root's spelling of them do not matter.
fn detect(path: &Path) -> Result<Format, ImportError> {
    let unknown = || ImportError::UnknownFormat {
        path: path.to_owned(),
    };
    // The root comes after the declaration and comments: a file that has none in its
    // first MiB is no export.
    let mut reader = quick_xml::NsReader::from_reader(open(path)?.take(1024 * 1024));
    let mut buffer = Vec::new();
    loop {
        buffer.clear();
        let (namespace, event) = reader
            .read_resolved_event_into(&mut buffer)
            .map_err(|_| unknown())?;
        let root = match event {
            quick_xml::events::Event::Start(root) | quick_xml::events::Event::Empty(root) => root,
            quick_xml::events::Event::Eof => return Err(unknown()),
            _ => continue,
        };
        let in_atom = matches!(namespace, quick_xml::name::ResolveResult::Bound(ns) if xml::alias(ns.as_ref()) == "atom");
        // RSS's elements are in no namespace: an `rss` in one is no WXR.
        let unbound = matches!(namespace, quick_xml::name::ResolveResult::Unbound);
        return match root.local_name().as_ref() {
            b"feed" if in_atom => Ok(Format::Blogger),
            b"rss" if unbound && declares_wordpress(&root) => Ok(Format::WordPress),
            _ => Err(unknown()),
        };
    }
}

fn declares_wordpress(root: &quick_xml::events::BytesStart<'_>) -> bool {
    root.attributes()
        .with_checks(false)
        .filter_map(Result::ok)
        .any(|attribute| {
            attribute.key.as_namespace_binding().is_some()
                && xml::is_wordpress_namespace(&attribute.value)
        })
}

struct Importer<'a> {
    pool: &'a PgPool,
    format: Format,
    progress: &'a (dyn Fn(&Progress) + Send + Sync),
    dry_run: bool,
    max_comment_depth: i32,
    /// Author ids by login, once their batch committed: most posts of a blog share a few
    /// authors.
    authors: std::sync::Mutex<HashMap<String, i64>>,
    /// Tag ids by lowercase name, once committed: a blog has few tags and many posts.
    tags: std::sync::Mutex<HashMap<String, i64>>,
    /// Batches committed so far.
    batches: std::sync::atomic::AtomicUsize,
}

impl Importer<'_> {
    async fn wordpress(&self, path: &Path, report: &mut ImportReport) -> Result<(), ImportError> {
        let mut first = self.pool.acquire().await?;
        if self.dry_run {
            // One transaction for the whole run, its batches savepoints in it, rolled back
            // at the end: each batch sees what the ones before would have written.
            let mut outer = gazette_store::begin(&mut first).await?;
            let written = self.wordpress_on(vec![&mut *outer], path, report).await;
            outer.rollback().await?;
            return written;
        }
        // A second connection, when the pool has one to spare, writes a second batch at
        // the same time (the database does most of the work, one backend on one core).
        let mut second = match self.pool.options().get_max_connections() {
            0 | 1 => None,
            _ => Some(self.pool.acquire().await?),
        };
        let mut connections: Vec<&mut PgConnection> = vec![&mut first];
        if let Some(second) = &mut second {
            connections.push(second);
        }
        self.wordpress_on(connections, path, report).await
    }

    async fn wordpress_on(
        &self,
        connections: Vec<&mut PgConnection>,
        path: &Path,
        report: &mut ImportReport,
    ) -> Result<(), ImportError> {
        let mut writers = Writers {
            connections,
            waiting: Vec::new(),
        };
        let mut batch = Batch::default();
        let mut records = Records::new(open(path)?, "item");
        let mut blog = String::new();
        let mut site = String::new();
        let mut login = None::<String>;
        let mut names: HashMap<String, String> = HashMap::new();
        loop {
            let mut outside = |node: &Node| match node.name.as_str() {
                "wp:base_blog_url" => blog = node.text.trim().to_owned(),
                "wp:base_site_url" => site = node.text.trim().to_owned(),
                "link" if site.is_empty() => site = node.text.trim().to_owned(),
                "wp:author_login" => login = Some(node.text.trim().to_owned()),
                "wp:author_display_name" => {
                    if let Some(login) = login.take() {
                        names.insert(login, node.text.trim().to_owned());
                    }
                }
                _ => {}
            };
            let Some(item) = records.next_record(&mut outside)? else {
                let source = wordpress_source(&blog, &site);
                writers.waiting.push(batch.take());
                self.write_waiting(&mut writers, &source, report).await?;
                (self.progress)(&Progress::of(report, &records));
                return Ok(());
            };
            report.records += 1;
            let display_name = |login: &str| names.get(login).cloned();
            match wordpress::record(&item, &display_name) {
                Record::Post(post) => {
                    report
                        .failed_comments
                        .extend(post.failed_comments.iter().cloned());
                    if batch.add(post) {
                        writers.waiting.push(batch.take());
                        if writers.waiting.len() == writers.connections.len() {
                            let source = wordpress_source(&blog, &site);
                            self.write_waiting(&mut writers, &source, report).await?;
                            (self.progress)(&Progress::of(report, &records));
                        }
                    }
                }
                Record::Skipped { what, reason } => report.skipped.push((what, reason)),
                Record::Failed { what, reason } => {
                    report.failed.push((what, reason));
                    report.failed_records += 1;
                }
                Record::Comment { .. } | Record::Ignored => report.ignored += 1,
            }
        }
    }

    /// Blogger lists every comment after every post. Pass 1 stages the comments (and the
    /// posts' ids) in temporary tables of one connection; pass 2 imports the posts with their
    /// comments in batches, as for WordPress. Memory holds one batch.
    async fn blogger(&self, path: &Path, report: &mut ImportReport) -> Result<(), ImportError> {
        let mut connection = self.pool.acquire().await?;
        if self.dry_run {
            // As for WordPress: one transaction, rolled back at the end.
            let mut outer = gazette_store::begin(&mut connection).await?;
            let written = self.blogger_on(&mut outer, path, report).await;
            outer.rollback().await?;
            return written;
        }
        self.blogger_on(&mut connection, path, report).await
    }

    async fn blogger_on(
        &self,
        conn: &mut PgConnection,
        path: &Path,
        report: &mut ImportReport,
    ) -> Result<(), ImportError> {
        imports::stage_begin(conn).await?;
        let mut blog = String::new();
        let mut records = Records::new(open(path)?, "atom:entry");
        loop {
            let mut outside = |node: &Node| {
                if node.name == "atom:id" && blog.is_empty() {
                    blog = node.text.trim().to_owned();
                }
            };
            let Some(entry) = records.next_record(&mut outside)? else {
                break;
            };
            report.records += 1;
            match blogger::record(&entry) {
                Record::Post(post) => imports::stage_post(conn, &post.external_id).await?,
                Record::Comment { answers, comment } => {
                    imports::stage_comment(
                        conn,
                        &StagedComment {
                            external_id: comment.external_id,
                            answers,
                            parent: comment.parent_external_id,
                            author_name: comment.author_name,
                            author_email: comment.author_email,
                            author_url: comment.author_url,
                            body: comment.body_html,
                            created_at: comment.created_at,
                        },
                    )
                    .await?;
                }
                Record::Skipped { what, reason } => report.skipped.push((what, reason)),
                Record::Failed { what, reason } => {
                    report.failed.push((what, reason));
                    report.failed_records += 1;
                }
                Record::Ignored => report.ignored += 1,
            }
        }
        for (comment, answers) in imports::staged_orphans_unchecked(conn).await? {
            report.skipped.push((
                format!("comment {comment}"),
                format!("it answers {answers}, which is not in the export"),
            ));
        }
        let source = format!("blogger:{blog}");
        let mut records = Records::new(open(path)?, "atom:entry");
        let mut batch = Batch::default();
        let mut posts_seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        while let Some(entry) = records.next_record(&mut |_: &Node| {})? {
            let Record::Post(mut post) = blogger::record(&entry) else {
                continue;
            };
            // The same post twice: the second entry is present, its comments were the
            // first's.
            if !posts_seen.insert(post.external_id.clone()) {
                report.posts_present += 1;
                continue;
            }
            post.comments = imports::staged_comments_of_unchecked(conn, &post.external_id)
                .await?
                .into_iter()
                .map(|staged| ImportComment {
                    external_id: staged.external_id,
                    parent_external_id: staged.parent,
                    author_name: staged.author_name,
                    author_email: staged.author_email,
                    author_url: staged.author_url,
                    body_html: staged.body,
                    created_at: staged.created_at,
                    status: CommentStatus::Published,
                    gazette: None,
                })
                .collect();
            if batch.add(post) {
                self.write_batch(conn, &source, &batch.take(), report)
                    .await?;
                (self.progress)(&Progress::of(report, &records));
            }
        }
        self.write_batch(conn, &source, &batch.take(), report)
            .await?;
        (self.progress)(&Progress::of(report, &records));
        Ok(())
    }
}

/// Connections that write batches side by side (one or two), and the batches waiting.
struct Writers<'c> {
    connections: Vec<&'c mut PgConnection>,
    waiting: Vec<Vec<ImportPost>>,
}

impl Importer<'_> {
    /// Writes the waiting batches (at most one per connection) at the same time.
    async fn write_waiting(
        &self,
        writers: &mut Writers<'_>,
        source: &str,
        report: &mut ImportReport,
    ) -> Result<(), ImportError> {
        let mut batches = std::mem::take(&mut writers.waiting).into_iter();
        let (first, second) = (
            batches.next().unwrap_or_default(),
            batches.next().unwrap_or_default(),
        );
        let (one, two) = match writers.connections.as_mut_slice() {
            [one, two] => (one, two),
            [one] => {
                // One connection: one batch after the other.
                for batch in [first, second] {
                    self.write_batch(one, source, &batch, report).await?;
                }
                return Ok(());
            }
            _ => return Ok(()),
        };
        let mut first_report = ImportReport::for_batch(self.format);
        let mut second_report = ImportReport::for_batch(self.format);
        let (first_done, second_done) = tokio::join!(
            self.write_batch(one, source, &first, &mut first_report),
            self.write_batch(two, source, &second, &mut second_report),
        );
        first_done?;
        second_done?;
        report.merge(first_report);
        report.merge(second_report);
        Ok(())
    }
}

/// A WordPress blog's identity: its own URL. WordPress.com exports give every blog the
/// same `base_site_url`, so the blog's URL comes first.
fn wordpress_source(blog: &str, site: &str) -> String {
    format!("wordpress:{}", if blog.is_empty() { site } else { blog })
}

/// Posts gathered for one transaction.
#[derive(Default)]
struct Batch {
    posts: Vec<ImportPost>,
    bytes: usize,
}

impl Batch {
    /// Adds a post; whether the batch is full.
    fn add(&mut self, post: ImportPost) -> bool {
        self.bytes += writer::text_bytes(&post);
        self.posts.push(post);
        self.posts.len() >= writer::BATCH_POSTS || self.bytes >= writer::BATCH_BYTES
    }

    fn take(&mut self) -> Vec<ImportPost> {
        self.bytes = 0;
        std::mem::take(&mut self.posts)
    }
}

/// How far an import has come: records read, and how much of the file.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub records: usize,
    pub bytes_read: u64,
}

impl Progress {
    fn of<R: std::io::BufRead>(report: &ImportReport, records: &Records<R>) -> Self {
        Self {
            records: report.records,
            bytes_read: records.bytes_read(),
        }
    }
}
