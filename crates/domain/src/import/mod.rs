//! `gazette import`: bringing in an existing blog from a Blogger export (Atom) or a
//! WordPress export (WXR), detected from the file. Posts keep their dates, authors, slugs,
//! labels or tags and categories, and their comments with threading, dates and moderation
//! state; bodies are sanitised as any post's. Every post and comment is recorded by its
//! export id (migration 0010): importing the same file again changes nothing, and a newer
//! export adds only what is new. The file is streamed a record at a time.
//!
//! Transactions: each post with its comments is one transaction, so an interrupted import
//! leaves every post whole or absent. Blogger lists every comment after every post: its
//! comments are staged in temporary tables first (docs/import.md).

mod blogger;
mod wordpress;
mod xml;

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use gazette_store::comments::{self, CommentStatus, NewComment};
use gazette_store::imports::{Imported, StagedComment};
use gazette_store::posts::{self, NewPost, PostStatus};
use gazette_store::tags::TagName;
use gazette_store::{PgConnection, PgPool, StoreError, authors, imports};

use crate::publishing::{self, PublishedBy};

use xml::{Node, Records};

const MAX_SLUG_LEN: usize = 200;
const EXCERPT_CHARS: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{path} is neither a Blogger export (an Atom feed) nor a WordPress export (WXR, an RSS feed with wp: elements)"
    )]
    UnknownFormat { path: PathBuf },
    #[error("the export is not well-formed XML near byte {position}: {detail}")]
    Xml { position: u64, detail: String },
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
    pub tags: Vec<String>,
    /// WordPress gives them with the post; Blogger's come later in the file.
    pub comments: Vec<ImportComment>,
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
    /// Not content (Blogger's settings and template entries).
    Ignored,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Blogger,
    WordPress,
}

/// What an import did (or, with `--dry-run`, would do).
#[derive(Debug, Default)]
pub struct ImportReport {
    pub format: Option<Format>,
    pub posts_imported: usize,
    pub posts_present: usize,
    pub comments_imported: usize,
    pub comments_present: usize,
    /// What was left out, and why.
    pub skipped: Vec<(String, String)>,
}

/// Imports the export at `path`; with `dry_run`, every transaction is rolled back.
pub async fn import_file(
    pool: &PgPool,
    path: &Path,
    dry_run: bool,
) -> Result<ImportReport, ImportError> {
    let format = detect(path)?;
    let mut report = ImportReport {
        format: Some(format),
        ..ImportReport::default()
    };
    let importer = Importer {
        pool,
        dry_run,
        authors: std::sync::Mutex::default(),
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

/// From the start of the file: an Atom `<feed` is Blogger's, an `<rss` with the WordPress
/// export namespace is WXR.
fn detect(path: &Path) -> Result<Format, ImportError> {
    let mut head = Vec::with_capacity(8192);
    open(path)?
        .take(8192)
        .read_to_end(&mut head)
        .map_err(|source| ImportError::Read {
            path: path.to_owned(),
            source,
        })?;
    let head = String::from_utf8_lossy(&head);
    if head.contains("<rss") && head.contains("wordpress.org/export/") {
        Ok(Format::WordPress)
    } else if head.contains("<feed") && head.contains("http://www.w3.org/2005/Atom") {
        Ok(Format::Blogger)
    } else {
        Err(ImportError::UnknownFormat {
            path: path.to_owned(),
        })
    }
}

struct Importer<'a> {
    pool: &'a PgPool,
    dry_run: bool,
    /// Author ids by login, once their creation committed (not in a dry run, where
    /// nothing commits): most posts of a blog share a few authors.
    authors: std::sync::Mutex<HashMap<String, i64>>,
}

impl Importer<'_> {
    async fn wordpress(&self, path: &Path, report: &mut ImportReport) -> Result<(), ImportError> {
        let mut records = Records::new(open(path)?, "item");
        let mut site = String::new();
        let mut login = None::<String>;
        let mut names: HashMap<String, String> = HashMap::new();
        loop {
            let mut outside = |node: &Node| match node.name.as_str() {
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
                return Ok(());
            };
            let source = format!("wordpress:{site}");
            let display_name = |login: &str| names.get(login).cloned();
            match wordpress::record(&item, &display_name) {
                Record::Post(post) => self.post(&source, &post, report).await?,
                Record::Skipped { what, reason } => report.skipped.push((what, reason)),
                Record::Comment { .. } | Record::Ignored => {}
            }
        }
    }

    /// Blogger lists every comment after every post. Pass 1 stages the comments (and the
    /// posts' ids) in temporary tables of one connection; pass 2 imports each post with its
    /// comments in one transaction, as for WordPress. Memory holds one post's comments.
    async fn blogger(&self, path: &Path, report: &mut ImportReport) -> Result<(), ImportError> {
        let mut connection = self.pool.acquire().await?;
        let conn: &mut PgConnection = &mut connection;
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
                Record::Ignored => {}
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
        while let Some(entry) = records.next_record(&mut |_: &Node| {})? {
            let Record::Post(mut post) = blogger::record(&entry) else {
                continue;
            };
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
                })
                .collect();
            let tx = gazette_store::begin(conn).await?;
            self.post_or_report(tx, &source, &post, report).await?;
        }
        Ok(())
    }

    /// One post and the comments it carries, in one transaction.
    async fn post(
        &self,
        source: &str,
        post: &ImportPost,
        report: &mut ImportReport,
    ) -> Result<(), ImportError> {
        let tx = self.pool.begin().await?;
        self.post_or_report(tx, source, post, report).await
    }

    /// The post in `tx`, committed; a post the database refuses (a constraint: too long a
    /// name, say) is rolled back whole and reported, and the import goes on.
    async fn post_or_report(
        &self,
        mut tx: gazette_store::Transaction<'_>,
        source: &str,
        post: &ImportPost,
        report: &mut ImportReport,
    ) -> Result<(), ImportError> {
        let mut counts = ImportReport::default();
        match self.post_in(&mut tx, source, post, &mut counts).await {
            Ok(author) => {
                self.finish(tx, author.map(|id| (post.author_login.as_str(), id)))
                    .await?;
                report.posts_imported += counts.posts_imported;
                report.posts_present += counts.posts_present;
                report.comments_imported += counts.comments_imported;
                report.comments_present += counts.comments_present;
                Ok(())
            }
            Err(ImportError::Store(error)) if error.constraint().is_some() => {
                tx.rollback().await?;
                report.skipped.push((
                    format!("post {} {:?}", post.external_id, post.title),
                    format!(
                        "the database refused it ({}): nothing of it was imported",
                        error.constraint().unwrap_or_default()
                    ),
                ));
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// The post (unless imported before) and its new comments, in the caller's
    /// transaction; returns the author's id when the post was inserted.
    async fn post_in(
        &self,
        tx: &mut PgConnection,
        source: &str,
        post: &ImportPost,
        report: &mut ImportReport,
    ) -> Result<Option<i64>, ImportError> {
        imports::commit_without_waiting(&mut *tx).await?;
        // What each record became, written in one statement once the post is in.
        let mut records = Vec::new();
        let (post_id, fresh, author) =
            match imports::post_unchecked(&mut *tx, source, &post.external_id).await? {
                Some(existing) => {
                    report.posts_present += 1;
                    (existing, false, None)
                }
                None => {
                    let known = self.known_author(&post.author_login);
                    let (id, author) = insert_post(&mut *tx, post, known).await?;
                    records.push((post.external_id.as_str(), Imported::Post(id)));
                    report.posts_imported += 1;
                    (id, true, Some(author))
                }
            };
        let comments = self
            .comments(&mut *tx, source, post_id, fresh, &post.comments, report)
            .await?;
        records.extend(comments);
        imports::record(&mut *tx, source, &records).await?;
        Ok(author)
    }

    fn known_author(&self, login: &str) -> Option<i64> {
        self.authors
            .lock()
            .ok()
            .and_then(|authors| authors.get(login).copied())
    }

    /// Inserts the comments not imported before, parents first, and returns what each
    /// became, for the caller to record. On a post inserted in this transaction
    /// (`fresh_post`) none can have been: their records would have gone with the post.
    async fn comments<'a>(
        &self,
        tx: &mut PgConnection,
        source: &str,
        post_id: i64,
        fresh_post: bool,
        comments: &'a [ImportComment],
        report: &mut ImportReport,
    ) -> Result<Vec<(&'a str, Imported)>, ImportError> {
        let mut records = Vec::new();
        let mut inserted_here: HashMap<&str, i64> = HashMap::new();
        for comment in parents_first(comments) {
            // Listed twice in the export, or imported by an earlier run.
            let present = inserted_here.contains_key(comment.external_id.as_str())
                || (!fresh_post
                    && imports::comment_unchecked(&mut *tx, source, &comment.external_id)
                        .await?
                        .is_some());
            if present {
                report.comments_present += 1;
                continue;
            }
            let parent_id = match comment.parent_external_id.as_deref() {
                Some(parent) => match inserted_here.get(parent) {
                    Some(id) => Some(*id),
                    None => imports::comment_unchecked(&mut *tx, source, parent).await?,
                },
                None => None,
            };
            let body_html = gazette_content::render_post_body(&comment.body_html);
            let inserted = comments::insert(
                &mut *tx,
                &NewComment {
                    post_id,
                    parent_id,
                    author_name: &comment.author_name,
                    author_email: comment.author_email.as_deref(),
                    author_url: comment.author_url.as_deref(),
                    author_id: None,
                    body: &comment.body_html,
                    body_html: &body_html,
                    status: comment.status,
                    created_at: comment.created_at,
                    client_address: None,
                    client_mutation_id: None,
                },
            )
            .await?;
            records.push((comment.external_id.as_str(), Imported::Comment(inserted.id)));
            inserted_here.insert(&comment.external_id, inserted.id);
            report.comments_imported += 1;
        }
        Ok(records)
    }

    /// Commits (or, in a dry run, rolls back); remembers a new author once committed.
    async fn finish(
        &self,
        tx: gazette_store::Transaction<'_>,
        new_author: Option<(&str, i64)>,
    ) -> Result<(), ImportError> {
        if self.dry_run {
            tx.rollback().await?;
            return Ok(());
        }
        tx.commit().await?;
        if let (Some((login, id)), Ok(mut authors)) = (new_author, self.authors.lock()) {
            authors.insert(login.to_owned(), id);
        }
        Ok(())
    }
}

/// Comments ordered so each parent comes before its replies (exports mostly list them so;
/// this makes sure), others in their given order.
fn parents_first(comments: &[ImportComment]) -> Vec<&ImportComment> {
    let mut placed: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let within: std::collections::HashSet<&str> = comments
        .iter()
        .map(|comment| comment.external_id.as_str())
        .collect();
    let mut ordered = Vec::with_capacity(comments.len());
    let mut waiting: Vec<&ImportComment> = comments.iter().collect();
    while !waiting.is_empty() {
        let before = waiting.len();
        waiting.retain(|comment| {
            let ready = comment
                .parent_external_id
                .as_deref()
                .is_none_or(|parent| placed.contains(parent) || !within.contains(parent));
            if ready {
                placed.insert(comment.external_id.as_str());
                ordered.push(*comment);
            }
            !ready
        });
        if waiting.len() == before {
            // A cycle in the export: take the rest as they come.
            ordered.append(&mut waiting);
        }
    }
    ordered
}

/// Inserts the post (its author found or created unless `known_author`); returns the ids
/// of the post and its author.
async fn insert_post(
    tx: &mut PgConnection,
    post: &ImportPost,
    known_author: Option<i64>,
) -> Result<(i64, i64), ImportError> {
    let author_id = match known_author {
        Some(id) => id,
        None => {
            let author_slug = gazette_content::slugify(&post.author_login, 100, "imported");
            authors::find_or_create(&mut *tx, &author_slug, &post.author_name)
                .await?
                .id
        }
    };
    let title = match post.title.trim() {
        "" => "(untitled)",
        title => title,
    };
    let wanted = post
        .slug
        .as_deref()
        .map(|slug| gazette_content::slugify(slug, MAX_SLUG_LEN, "post"))
        .unwrap_or_else(|| gazette_content::slugify(title, MAX_SLUG_LEN, "post"));
    let slug = posts::free_slug_unchecked(&mut *tx, &wanted, MAX_SLUG_LEN).await?;
    let body_html = gazette_content::render_post_body(&post.body_html);
    let (excerpt, custom_excerpt) = match &post.excerpt {
        Some(excerpt) => (gazette_content::plain_text(excerpt), true),
        None => (
            gazette_content::excerpt(&post.body_html, EXCERPT_CHARS),
            false,
        ),
    };
    let published_at = match post.status {
        PostStatus::Draft => post.published_at,
        _ => Some(post.published_at.unwrap_or_else(Utc::now)),
    };
    let names: Vec<String> = post.tags.clone();
    let slugs: Vec<String> = names
        .iter()
        .map(|name| gazette_content::slugify(name, 100, "tag"))
        .collect();
    let tags: Vec<TagName> = names
        .iter()
        .zip(&slugs)
        .map(|(name, slug)| TagName { slug, name })
        .collect();
    let inserted = publishing::insert_post(
        &mut *tx,
        &NewPost {
            author_id,
            slug: &slug,
            title,
            body: &post.body_html,
            body_html: &body_html,
            excerpt: &excerpt,
            custom_excerpt,
            status: post.status,
            comments_open: true,
            published_at,
        },
        &tags,
        PublishedBy::Import,
    )
    .await?;
    Ok((inserted.id, author_id))
}
