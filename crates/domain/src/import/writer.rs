//! Writing an export's posts and comments. Posts are written in batches: a batch (up to
//! [`BATCH_POSTS`] posts, or [`BATCH_BYTES`] of text) with all its comments is one
//! transaction, and each kind of row is one statement for the whole batch (what was
//! imported before, the posts, their tags, the comments parents first, the import
//! records). A batch the database refuses (a constraint) is written again a post at a
//! time, so only the refused post fails and the rest is imported. Running the same file
//! again finds every record imported before and writes nothing.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use gazette_store::comments::{self, NewComment};
use gazette_store::imports::{self, Imported, KeptIds};
use gazette_store::posts::{self, NewPost, PostStatus};
use gazette_store::tags::TagName;
use gazette_store::{PgConnection, authors};

use super::{Format, ImportComment, ImportError, ImportPost, ImportReport, Importer};
use crate::commenting;
use crate::publishing::{self, PublishedBy};

/// Posts in one transaction: few enough that a refused batch is cheap to write again a
/// post at a time, many enough that round trips stop mattering.
pub(super) const BATCH_POSTS: usize = 200;
/// Text held for one batch, whatever the number of posts.
pub(super) const BATCH_BYTES: usize = 16 * 1024 * 1024;
const MAX_SLUG_LEN: usize = 200;
/// A comment's HTML as an export gives it: room for 10,000 characters of text and their
/// markup.
const MAX_COMMENT_HTML_BYTES: usize = 100 * 1024;
/// The authors table's limit on a name.
const MAX_AUTHOR_NAME_CHARS: usize = 200;
const EXCERPT_CHARS: usize = 300;
/// Comments in one insert: a statement stays well inside the statement timeout however
/// many comments a batch's posts carry.
const COMMENTS_PER_STATEMENT: usize = 1_000;

impl ImportPost {
    /// The post's source: a Gazette export's Markdown, else the export's HTML (which the
    /// Markdown renderer passes through, sanitised).
    fn markdown(&self) -> &str {
        self.gazette
            .as_ref()
            .map_or(&self.body_html, |origin| &origin.source)
    }
}

/// The text a post brings into a batch (its body and its comments').
pub(super) fn text_bytes(post: &ImportPost) -> usize {
    post.body_html.len()
        + post
            .comments
            .iter()
            .map(|comment| comment.body_html.len())
            .sum::<usize>()
}

impl Importer<'_> {
    /// Writes `posts` in one transaction; when the database refuses the batch, each post
    /// is written in a transaction of its own and the refused one is reported as failed.
    pub(super) async fn write_batch(
        &self,
        conn: &mut PgConnection,
        source: &str,
        posts: &[ImportPost],
        report: &mut ImportReport,
    ) -> Result<(), ImportError> {
        let Some(refusal) = self.try_batch(conn, source, posts, report).await? else {
            return Ok(());
        };
        let refused = |constraint: &str| format!("the database refused it ({constraint})");
        if let [post] = posts {
            self.report_refused(post, &refused(&refusal), report);
            return Ok(());
        }
        for post in posts {
            let single = std::slice::from_ref(post);
            if let Some(refusal) = self.try_batch(conn, source, single, report).await? {
                self.report_refused(post, &refused(&refusal), report);
            }
        }
        Ok(())
    }

    /// Reports a post that cannot be imported (`reason`: the refused constraint, or why it
    /// was not even tried).
    fn report_refused(&self, post: &ImportPost, reason: &str, report: &mut ImportReport) {
        // A Blogger post's comments are records of their own, and go with it.
        let comment_records = match self.format {
            Format::Blogger => post.comments.len(),
            Format::WordPress => 0,
        };
        report.failed.push((
            format!("post {} {:?}", post.external_id, post.title),
            format!(
                "{reason}: nothing of it was imported{}",
                match comment_records {
                    0 => String::new(),
                    n => format!(", nor its {n} comments"),
                }
            ),
        ));
        report.failed_records += 1 + comment_records;
    }

    /// The batch in one transaction (in a dry run, a savepoint of the run's transaction),
    /// committed and counted; the constraint that refused it, when one did (then nothing
    /// of it is counted).
    async fn try_batch(
        &self,
        conn: &mut PgConnection,
        source: &str,
        posts: &[ImportPost],
        report: &mut ImportReport,
    ) -> Result<Option<String>, ImportError> {
        if posts.is_empty() {
            return Ok(None);
        }
        // Two batches written side by side may wait for each other's rows (a tag both
        // create) in opposite orders: PostgreSQL ends one with a deadlock, and it is
        // written again once the other is done.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.try_batch_once(conn, source, posts, report).await {
                Err(ImportError::Store(error)) if error.is_deadlock() && attempts < 5 => {
                    tracing::debug!(
                        "an import batch waited on another in a cycle; writing it again"
                    );
                }
                done => return done,
            }
        }
    }

    async fn try_batch_once(
        &self,
        conn: &mut PgConnection,
        source: &str,
        posts: &[ImportPost],
        report: &mut ImportReport,
    ) -> Result<Option<String>, ImportError> {
        let mut counts = ImportReport::for_batch(self.format);
        let mut tx = gazette_store::begin(conn).await?;
        match self.batch_in(&mut tx, source, posts, &mut counts).await {
            Ok(learned) => {
                // In a dry run this is a savepoint of the run's one transaction, which
                // is rolled back at the end.
                tx.commit().await?;
                self.remember(learned);
                // The tables grow from nothing: statistics taken when they were empty
                // would keep a cached plan (a sequential scan) for the whole import, each
                // batch slower than the last. They are taken again as the rows double.
                let batches = self
                    .batches
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    + 1;
                if batches.is_power_of_two() {
                    imports::analyze_import_tables(&mut *conn).await?;
                }
                report.merge(counts);
                Ok(None)
            }
            Err(ImportError::Store(error)) if error.constraint().is_some() => {
                tx.rollback().await?;
                Ok(error.constraint().map(str::to_owned))
            }
            Err(error) => Err(error),
        }
    }

    /// Writes the batch's new posts and comments in the caller's transaction; returns the
    /// authors and tags it found or created, to remember once the transaction commits.
    async fn batch_in(
        &self,
        tx: &mut PgConnection,
        source: &str,
        posts: &[ImportPost],
        report: &mut ImportReport,
    ) -> Result<Learned, ImportError> {
        imports::begin_batch(&mut *tx).await?;
        let external_ids: Vec<&str> = posts
            .iter()
            .flat_map(|post| {
                std::iter::once(post.external_id.as_str()).chain(
                    post.comments
                        .iter()
                        .map(|comment| comment.external_id.as_str()),
                )
            })
            .collect();
        let before = imports::find_many_unchecked(&mut *tx, source, &external_ids).await?;
        let mut records: Vec<(&str, Imported)> = Vec::new();

        // Posts: those imported before (or listed twice) are present; the rest are new.
        let mut post_ids: HashMap<&str, i64> = HashMap::new();
        let mut new_posts: Vec<&ImportPost> = Vec::new();
        let mut listed: HashSet<&str> = HashSet::new();
        for post in posts {
            if !listed.insert(post.external_id.as_str()) {
                report.posts_present += 1;
                continue;
            }
            match before.get(&post.external_id).map(|record| record.imported) {
                Some(Imported::Post(id)) => {
                    post_ids.insert(&post.external_id, id);
                    report.posts_present += 1;
                }
                _ => new_posts.push(post),
            }
        }
        let (inserted, learned) = self.insert_new_posts(tx, &new_posts, report).await?;
        for (post, id) in inserted {
            post_ids.insert(&post.external_id, id);
            records.push((post.external_id.as_str(), Imported::Post(id)));
            report.posts_imported += 1;
            if let Some(because) = post.draft_because {
                report.drafts.push((
                    format!("post {} {:?}", post.external_id, post.title),
                    format!("{because}: imported as draft"),
                ));
            }
        }
        for post in posts {
            report
                .skipped_comments
                .extend(post.skipped_comments.iter().cloned());
        }

        // Comments: checked as `addComment` checks them, then written a thread level at a
        // time (a reply's parent must be in the database before it). Where each stands:
        // its post and its thread path (the ids from the top down to it).
        let placed: HashMap<&str, (i64, Vec<i64>)> = before
            .iter()
            .filter(|(_, record)| matches!(record.imported, Imported::Comment(_)))
            .map(|(external_id, record)| {
                (external_id.as_str(), (record.post_id, record.path.clone()))
            })
            .collect();
        let mut pending: Vec<(i64, &ImportComment, CheckedComment)> = Vec::new();
        let mut seen: HashSet<&str> = HashSet::new();
        for post in posts {
            let Some(&post_id) = post_ids.get(post.external_id.as_str()) else {
                continue;
            };
            for comment in &post.comments {
                let external_id = comment.external_id.as_str();
                if !seen.insert(external_id) || placed.contains_key(external_id) {
                    report.comments_present += 1;
                    continue;
                }
                let what = format!("comment {external_id}");
                match CheckedComment::of(comment) {
                    Ok(checked) => {
                        report.changed.extend(
                            checked
                                .changes
                                .iter()
                                .map(|change| (what.clone(), change.clone())),
                        );
                        pending.push((post_id, comment, checked));
                    }
                    Err(reason) => match self.format {
                        Format::Blogger => report.skipped.push((what, reason)),
                        Format::WordPress => report.skipped_comments.push((what, reason)),
                    },
                }
            }
        }
        // Parents before their replies, so every level of a batch's threads is written in
        // the same few statements: each row's trigger sees the rows written before it.
        let (order, cycles_broken) = parents_first(&pending, &placed);
        report
            .changed
            .extend(cycles_broken.into_iter().map(|index| {
                (
                format!("comment {}", pending[index].1.external_id),
                "its parent is among its own replies (a cycle in the export); it stands at the top"
                    .to_owned(),
            )
            }));
        let ordered: Vec<&ImportComment> =
            order.iter().map(|(index, _)| pending[*index].1).collect();
        let ids = self.comment_ids(tx, &ordered).await?;
        let max_depth = usize::try_from(self.max_comment_depth.max(1)).unwrap_or(1);
        let mut paths: Vec<Vec<i64>> = vec![Vec::new(); pending.len()];
        let mut rows: Vec<(i64, NewComment<'_>)> = Vec::with_capacity(order.len());
        for ((index, parent), &id) in order.iter().zip(&ids) {
            let (post_id, comment, checked) = &pending[*index];
            // A parent on another post (a comment listed under two posts, or moved between
            // exports) is no parent here: the reply stands at the top (`parents_first`
            // leaves out such parents in the batch).
            let parent_path = match parent {
                Some(parent) => paths[*parent].as_slice(),
                None => comment
                    .parent_external_id
                    .as_deref()
                    .and_then(|parent| placed.get(parent))
                    .filter(|(parent_post, _)| parent_post == post_id)
                    .map(|(_, path)| path.as_slice())
                    .unwrap_or_default(),
            };
            // Deeper than the thread allows: under the deepest allowed ancestor, as
            // `addComment` places it.
            let mut path = parent_path.to_vec();
            if path.len() > max_depth {
                path.truncate(max_depth);
                report.changed.push((
                    format!("comment {}", comment.external_id),
                    format!("it was deeper than {max_depth} replies and stands under an ancestor"),
                ));
            }
            let parent_id = path.last().copied();
            path.push(id);
            rows.push((id, checked.row(*post_id, parent_id, comment)));
            paths[*index] = path;
        }
        for statement in rows.chunks(COMMENTS_PER_STATEMENT) {
            comments::insert_many_reserved(&mut *tx, statement).await?;
        }
        for (comment, id) in ordered.iter().zip(ids) {
            records.push((comment.external_id.as_str(), Imported::Comment(id)));
            report.comments_imported += 1;
        }
        imports::record(&mut *tx, source, &records).await?;
        // Ids kept from a Gazette export may lie ahead of the sequences.
        let kept_ids = posts.iter().any(|post| {
            post.gazette.is_some()
                || post
                    .comments
                    .iter()
                    .any(|comment| comment.gazette.is_some())
        });
        if kept_ids {
            imports::advance_id_sequences(&mut *tx).await?;
        }
        Ok(learned)
    }

    /// Ids for comments: a Gazette export's where free, else reserved ones.
    async fn comment_ids(
        &self,
        tx: &mut PgConnection,
        comments: &[&ImportComment],
    ) -> Result<Vec<i64>, ImportError> {
        let wanted = comments
            .iter()
            .map(|comment| comment.gazette.as_ref().and_then(|origin| origin.id));
        kept_or_reserved_ids(tx, KeptIds::Comments, wanted).await
    }

    /// Inserts the new posts with their tags (authors found or created, slugs made free);
    /// returns their ids in order, and the authors and tags it found or created.
    async fn insert_new_posts<'p>(
        &self,
        tx: &mut PgConnection,
        candidates: &[&'p ImportPost],
        report: &mut ImportReport,
    ) -> Result<(Vec<(&'p ImportPost, i64)>, Learned), ImportError> {
        // What Gazette cannot hold fails before any work on it; what is only too long is
        // shortened, and the report says so.
        let mut new_posts: Vec<&ImportPost> = Vec::with_capacity(candidates.len());
        let mut prepared = Vec::with_capacity(candidates.len());
        for post in candidates {
            match PreparedPost::of(post) {
                Ok((ready, changes)) => {
                    let what = format!("post {} {:?}", post.external_id, post.title);
                    report
                        .changed
                        .extend(changes.into_iter().map(|change| (what.clone(), change)));
                    new_posts.push(post);
                    prepared.push(ready);
                }
                Err(reason) => self.report_refused(post, &reason, report),
            }
        }
        if new_posts.is_empty() {
            return Ok((Vec::new(), Learned::default()));
        }
        let mut new_authors: Vec<(String, i64)> = Vec::new();
        for (post, ready) in new_posts.iter().zip(&mut prepared) {
            let known = self.known_author(&post.author_login).or_else(|| {
                new_authors
                    .iter()
                    .find(|(login, _)| *login == post.author_login)
                    .map(|(_, id)| *id)
            });
            ready.author_id = match known {
                Some(id) => id,
                None => {
                    let slug = gazette_content::slugify(&post.author_login, 100, "imported");
                    // An author's name: the display name, else the login, at most 200
                    // characters (the authors table's limit).
                    let name = match post.author_name.trim() {
                        "" => post.author_login.trim(),
                        name => name,
                    };
                    let name: String = match name {
                        "" => "Imported".to_owned(),
                        name => name.chars().take(MAX_AUTHOR_NAME_CHARS).collect(),
                    };
                    let id = authors::find_or_create(&mut *tx, &slug, &name).await?.id;
                    new_authors.push((post.author_login.clone(), id));
                    id
                }
            };
        }

        // Slugs: one look-up for the batch; a taken one (or one twice in the batch) gets
        // the next free variant.
        let wanted: Vec<&str> = prepared.iter().map(|post| post.slug.as_str()).collect();
        let taken = posts::taken_slugs_unchecked(&mut *tx, &wanted).await?;
        let mut used: HashSet<String> = HashSet::new();
        for post in &mut prepared {
            if taken.contains(&post.slug) || used.contains(&post.slug) {
                post.slug =
                    posts::free_slug_avoiding_unchecked(&mut *tx, &post.slug, MAX_SLUG_LEN, &used)
                        .await?;
            }
            used.insert(post.slug.clone());
        }

        let wanted = new_posts
            .iter()
            .map(|post| post.gazette.as_ref().and_then(|origin| origin.id));
        let ids: Vec<Option<i64>> = kept_or_reserved_ids(&mut *tx, KeptIds::Posts, wanted)
            .await?
            .into_iter()
            .map(Some)
            .collect();
        let rows: Vec<(NewPost<'_>, Vec<TagName<'_>>)> = prepared
            .iter()
            .zip(&new_posts)
            .map(|(prepared, post)| prepared.row(post))
            .collect();
        let known_tags = self
            .tags
            .lock()
            .map(|tags| tags.clone())
            .unwrap_or_default();
        let (inserted, tags) =
            publishing::insert_posts(&mut *tx, &rows, &ids, &known_tags, PublishedBy::Import)
                .await?;
        let learned = Learned {
            authors: new_authors,
            tags,
        };
        Ok((
            new_posts
                .into_iter()
                .zip(inserted)
                .map(|(post, row)| (post, row.id))
                .collect(),
            learned,
        ))
    }

    fn known_author(&self, login: &str) -> Option<i64> {
        self.authors
            .lock()
            .ok()
            .and_then(|authors| authors.get(login).copied())
    }

    fn remember(&self, learned: Learned) {
        if let Ok(mut authors) = self.authors.lock() {
            authors.extend(learned.authors);
        }
        if let Ok(mut tags) = self.tags.lock() {
            tags.extend(learned.tags);
        }
    }
}

/// What a batch found or created that later batches can use once it has committed.
#[derive(Default)]
struct Learned {
    /// Author ids by login.
    authors: Vec<(String, i64)>,
    /// Tag ids by lowercase name.
    tags: HashMap<String, i64>,
}

/// A new post's columns, rendered and sanitised as any post's.
struct PreparedPost {
    author_id: i64,
    slug: String,
    title: String,
    body_html: String,
    excerpt: String,
    custom_excerpt: bool,
    published_at: Option<chrono::DateTime<Utc>>,
    tags: Vec<(String, String)>,
}

impl PreparedPost {
    /// The post as Gazette stores it, with what had to be shortened; or why it cannot be
    /// imported (a body larger than a post may be, or nested deeper than is rendered).
    fn of(post: &ImportPost) -> Result<(Self, Vec<String>), String> {
        let source = post.markdown();
        if source.len() > publishing::MAX_BODY_BYTES {
            return Err(format!(
                "its body has {} KiB, more than the {} KiB a post may have",
                source.len() / 1024,
                publishing::MAX_BODY_BYTES / 1024
            ));
        }
        if gazette_content::html_nesting_exceeds(source, gazette_content::MAX_HTML_NESTING) {
            return Err(format!(
                "its HTML nests more than {} elements deep",
                gazette_content::MAX_HTML_NESTING
            ));
        }
        if let Some(at) = post
            .published_at
            .filter(|at| !publishing::writable_date(*at))
        {
            return Err(format!(
                "its date ({at}) is outside the years 1 to 9999, which feeds and pages can show"
            ));
        }
        // Checked before the sanitiser, whose time grows faster than the nesting: a
        // Gazette export's Markdown nests without a tag (`>` after `>`).
        let body_html =
            gazette_content::render_post_body(source).map_err(|refusal| match refusal {
                gazette_content::Unrenderable::TooDeep => format!(
                    "its body nests more than {} quotes, lists or elements deep",
                    gazette_content::MAX_HTML_NESTING
                ),
                gazette_content::Unrenderable::TooLarge(bytes) => format!(
                    "its body makes {} KiB of HTML, more than the {} KiB a post may",
                    bytes / 1024,
                    gazette_content::MAX_POST_HTML_BYTES / 1024
                ),
            })?;
        let mut changes = Vec::new();
        if post.tags.len() > publishing::MAX_TAGS {
            changes.push(format!(
                "only the first {} of its {} tags were kept (a post may have {})",
                publishing::MAX_TAGS,
                post.tags.len(),
                publishing::MAX_TAGS
            ));
        }
        let mut shorten = |text: &str, max: usize, what: &str| -> String {
            if text.chars().count() <= max {
                return text.to_owned();
            }
            changes.push(format!("{what} was shortened to {max} characters"));
            gazette_content::excerpt(text, max)
        };
        let title = match post.title.trim() {
            "" => "(untitled)".to_owned(),
            title => shorten(title, publishing::MAX_TITLE_CHARS, "the title"),
        };
        let slug =
            gazette_content::slugify(post.slug.as_deref().unwrap_or(&title), MAX_SLUG_LEN, "post");
        let (excerpt, custom_excerpt) = match &post.excerpt {
            // A Gazette export's excerpt is the text the author wrote.
            Some(excerpt) if post.gazette.is_some() => (excerpt.clone(), true),
            Some(excerpt) => (gazette_content::plain_text(excerpt), true),
            None => (gazette_content::excerpt(source, EXCERPT_CHARS), false),
        };
        let excerpt = shorten(&excerpt, publishing::MAX_EXCERPT_CHARS, "the excerpt");
        let published_at = match post.status {
            PostStatus::Draft => post.published_at,
            _ => Some(post.published_at.unwrap_or_else(Utc::now)),
        };
        // As a comment's name: what the tag rules refuse is taken out and said, and a tag
        // left with nothing to show is left out.
        let mut printable = Vec::new();
        let mut changed = Vec::new();
        for tag in post.tags.iter().take(publishing::MAX_TAGS) {
            let (name, removed) = commenting::printable_name(tag.name.trim());
            if removed {
                changed.push(format!(
                    "control and text-direction characters were taken out of the tag \"{name}\""
                ));
            }
            match name.chars().any(commenting::is_visible) {
                true => printable.push((name, tag)),
                false => changed.push("a tag with no visible character was left out".to_owned()),
            }
        }
        let tags = printable
            .into_iter()
            .map(|(name, tag)| {
                let name = shorten(&name, publishing::MAX_TAG_CHARS, "a tag's name");
                let slug =
                    gazette_content::slugify(tag.slug.as_deref().unwrap_or(&name), 100, "tag");
                (name, slug)
            })
            .collect();
        changes.extend(changed);
        let prepared = Self {
            author_id: 0,
            slug,
            title,
            body_html,
            excerpt,
            custom_excerpt,
            published_at,
            tags,
        };
        Ok((prepared, changes))
    }

    fn row<'a>(&'a self, post: &'a ImportPost) -> (NewPost<'a>, Vec<TagName<'a>>) {
        (
            NewPost {
                author_id: self.author_id,
                slug: &self.slug,
                title: &self.title,
                body: post.markdown(),
                body_html: &self.body_html,
                excerpt: &self.excerpt,
                custom_excerpt: self.custom_excerpt,
                status: post.status,
                comments_open: post.comments_open,
                published_at: self.published_at,
            },
            self.tags
                .iter()
                .map(|(name, slug)| TagName { slug, name })
                .collect(),
        )
    }
}

/// An imported comment as the comment rules make it, exactly as `addComment` would: its
/// HTML turned into the text a commenter types (rendered with the comment allow-list), the
/// website an http(s) address, the email plausible, the name 1 to 80 characters.
struct CheckedComment {
    author_name: String,
    author_email: Option<String>,
    author_url: Option<String>,
    body: String,
    body_html: String,
    /// What the rules changed, for the report.
    changes: Vec<String>,
}

impl CheckedComment {
    /// The comment, or why it cannot be imported (no text, too long).
    fn of(comment: &ImportComment) -> Result<Self, String> {
        if let Some(at) = comment
            .created_at
            .filter(|at| !publishing::writable_date(*at))
        {
            return Err(format!(
                "its date ({at}) is outside the years 1 to 9999, which feeds and pages can show"
            ));
        }
        // Checked before the HTML is parsed: parsing is where the time would go.
        if comment.body_html.len() > MAX_COMMENT_HTML_BYTES {
            return Err(format!(
                "its HTML has more than {} KiB, more than a comment of {} characters needs",
                MAX_COMMENT_HTML_BYTES / 1024,
                commenting::MAX_BODY_CHARS
            ));
        }
        if gazette_content::html_nesting_exceeds(
            &comment.body_html,
            gazette_content::MAX_HTML_NESTING,
        ) {
            return Err(format!(
                "its HTML nests more than {} elements deep",
                gazette_content::MAX_HTML_NESTING
            ));
        }
        let text = match &comment.gazette {
            Some(origin) => origin.source.clone(),
            // Its nesting is checked above.
            None => gazette_content::comment_text_from_html(&comment.body_html).map_err(|_| {
                format!(
                    "its HTML nests more than {} elements deep",
                    gazette_content::MAX_HTML_NESTING
                )
            })?,
        };
        let mut changes = Vec::new();
        // Old exports hold control characters (cp1252 mix-ups) that XML allows and the
        // comment rules refuse: taken out and said, so the comment is kept.
        let (text, removed) = commenting::without_control_characters(&text);
        if removed {
            changes.push("control characters were taken out of its text".to_owned());
        }
        let body = commenting::check_body(&text).map_err(|error| match text.trim() {
            "" => "it has no text".to_owned(),
            _ => error.to_string(),
        })?;
        let (name, removed) = commenting::printable_name(&comment.author_name);
        if removed {
            changes.push(
                "control and text-direction characters were taken out of the name".to_owned(),
            );
        }
        let author_name = match name.trim() {
            "" => "Anonymous".to_owned(),
            name => match commenting::check_author_name(name) {
                Ok(name) => name,
                Err(_) if name.chars().count() > commenting::MAX_AUTHOR_NAME_CHARS => {
                    changes.push(format!(
                        "the name was shortened to {} characters",
                        commenting::MAX_AUTHOR_NAME_CHARS
                    ));
                    let shortened: String = name
                        .chars()
                        .take(commenting::MAX_AUTHOR_NAME_CHARS)
                        .collect();
                    commenting::check_author_name(&shortened)
                        .unwrap_or_else(|_| "Anonymous".to_owned())
                }
                Err(error) => {
                    changes.push(format!("the name was replaced by \"Anonymous\": {error}"));
                    "Anonymous".to_owned()
                }
            },
        };
        let mut optional = |value: &Option<String>, check: fn(&str) -> _, field: &str| {
            let value = value.as_deref()?;
            match check(value) {
                Ok(checked) => checked,
                Err(error) => {
                    changes.push(format!("the {field} {value:?} was left out: {error}"));
                    None
                }
            }
        };
        let author_url = optional(&comment.author_url, commenting::check_url, "website");
        let author_email = optional(&comment.author_email, commenting::check_email, "email");
        Ok(Self {
            author_name,
            author_email,
            author_url,
            body_html: gazette_content::render_comment_body(&body),
            body,
            changes,
        })
    }

    fn row<'a>(
        &'a self,
        post_id: i64,
        parent_id: Option<i64>,
        comment: &ImportComment,
    ) -> NewComment<'a> {
        NewComment {
            post_id,
            parent_id,
            author_name: &self.author_name,
            author_email: self.author_email.as_deref(),
            author_url: self.author_url.as_deref(),
            author_id: None,
            body: &self.body,
            body_html: &self.body_html,
            status: comment.status,
            created_at: comment.created_at,
            client_address: None,
            client_mutation_id: None,
        }
    }
}

/// Ids for a batch's rows of `table`: the id a Gazette export gave a row where no row has
/// it and no row before it in `wanted` (the order rows are written) asks for it (global
/// ids stay valid), else one reserved
/// from the sequence. Reserved ids skip the ids kept here: those lie ahead of the sequence
/// until the batch is written, and the sequence would hand them out again.
async fn kept_or_reserved_ids(
    tx: &mut PgConnection,
    table: KeptIds,
    wanted: impl Iterator<Item = Option<i64>> + Clone,
) -> Result<Vec<i64>, ImportError> {
    let asked: Vec<i64> = wanted.clone().flatten().collect();
    let mut taken = match asked.is_empty() {
        true => HashSet::new(),
        false => imports::taken_ids_unchecked(&mut *tx, table, &asked).await?,
    };
    let kept: Vec<Option<i64>> = wanted.map(|id| id.filter(|id| taken.insert(*id))).collect();
    let missing = kept.iter().filter(|id| id.is_none()).count();
    if missing == 0 {
        return Ok(kept.into_iter().flatten().collect());
    }
    // Each id kept could be one the sequence hands out: reserving that many more leaves
    // at least `missing` free in one round trip (the rest are gaps, which cost nothing).
    let mut reserved = imports::reserve_ids(&mut *tx, table, missing + taken.len())
        .await?
        .into_iter()
        .filter(|id| !taken.contains(id));
    // Never the default: at least `missing` reserved ids are not taken.
    Ok(kept
        .into_iter()
        .map(|id| id.or_else(|| reserved.next()).unwrap_or_default())
        .collect())
}

/// The order to write a batch's comments in, parents first: each comment's index in
/// `pending`, with its parent's index when the parent is written in the same batch. A
/// parent imported before (in `placed`) or not in the export leaves `None`, and so does a
/// parent that would close a cycle: the cycle is broken there, and that comment stands
/// at the top (its index is in the second list, for the report). Walks each chain once,
/// without recursion, so a chain of any length costs its length.
fn parents_first(
    pending: &[(i64, &ImportComment, CheckedComment)],
    placed: &HashMap<&str, (i64, Vec<i64>)>,
) -> (Vec<(usize, Option<usize>)>, Vec<usize>) {
    let index: HashMap<&str, usize> = pending
        .iter()
        .enumerate()
        .map(|(at, (_, comment, _))| (comment.external_id.as_str(), at))
        .collect();
    // A parent on another post is no parent (the reply stands at the top), so it neither
    // orders the reply nor closes a cycle.
    let mut parents: Vec<Option<usize>> = pending
        .iter()
        .map(|(post_id, comment, _)| {
            comment
                .parent_external_id
                .as_deref()
                .filter(|parent| !placed.contains_key(parent))
                .and_then(|parent| index.get(parent).copied())
                .filter(|&parent| pending[parent].0 == *post_id)
        })
        .collect();
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Waiting,
        OnChain,
        Ordered,
    }
    let mut marks = vec![Mark::Waiting; pending.len()];
    let mut order = Vec::with_capacity(pending.len());
    let mut chain = Vec::new();
    let mut broken = Vec::new();
    for start in 0..pending.len() {
        let mut at = start;
        while marks[at] == Mark::Waiting {
            marks[at] = Mark::OnChain;
            chain.push(at);
            match parents[at] {
                Some(parent) if marks[parent] == Mark::OnChain => {
                    parents[at] = None;
                    broken.push(at);
                }
                Some(parent) => at = parent,
                None => {}
            }
        }
        for &comment in chain.iter().rev() {
            marks[comment] = Mark::Ordered;
            order.push((comment, parents[comment]));
        }
        chain.clear();
    }
    (order, broken)
}

#[cfg(test)]
mod tests {
    use gazette_store::comments::CommentStatus;

    use super::*;

    fn comment(author_name: &str, body_html: &str) -> ImportComment {
        ImportComment {
            external_id: "1".to_owned(),
            parent_external_id: None,
            author_name: author_name.to_owned(),
            author_email: None,
            author_url: None,
            body_html: body_html.to_owned(),
            created_at: None,
            status: CommentStatus::Published,
            gazette: None,
        }
    }

    /// Old exports hold control characters (cp1252 read as Latin-1 gives U+0080–U+009F)
    /// that `addComment` refuses: an import keeps the comment without them, and says so.
    #[test]
    fn control_characters_of_old_exports_are_taken_out_not_the_comment() {
        let checked = CheckedComment::of(&comment(
            "Jos\u{e9}\u{92}s \u{202e}Caf\u{e9}",
            "<p>It\u{92}s fine\u{85} really</p>",
        ))
        .expect("kept");
        assert_eq!(checked.author_name, "Jos\u{e9}s Caf\u{e9}");
        assert_eq!(checked.body, "Its fine really");
        assert_eq!(checked.changes.len(), 2, "{:?}", checked.changes);
        let invisible = CheckedComment::of(&comment("\u{200b}", "<p>hello</p>")).expect("kept");
        assert_eq!(invisible.author_name, "Anonymous");
    }
}
