//! WordPress's export (WXR 1.2): an RSS channel of `<item>`s with `wp:` elements; each
//! item is a post, page, attachment or other post type, with its comments inside it.

use chrono::{DateTime, NaiveDateTime, Utc};
use gazette_store::comments::CommentStatus;
use gazette_store::posts::PostStatus;

use super::xml::Node;
use super::{GazetteOrigin, ImportComment, ImportPost, ImportTag, Record};

/// The largest id kept from a Gazette export. Any file may claim to be one: an id past
/// this (or not positive) is not kept, so no file can move the id sequences near their end.
const MAX_KEPT_ID: i64 = i32::MAX as i64;

/// What a Gazette export adds to an item or comment: the source behind its HTML (kept as
/// written, white space and all) and its id.
fn gazette_origin(node: &Node, id: &str) -> Option<GazetteOrigin> {
    node.child("gazette:source").map(|source| GazetteOrigin {
        source: source.text.clone(),
        id: id.parse().ok().filter(|id| (1..=MAX_KEPT_ID).contains(id)),
    })
}

/// Export ids longer than this are no ids (WordPress's are numbers).
const MAX_ID_CHARS: usize = 64;

/// A date of the node: WXR's GMT one, or (old exports wrote zeros there) the site's local
/// one taken as UTC, or the RSS `pubDate`; `None` when there is none.
fn date_of(node: &Node, gmt_field: &str, local_field: &str) -> Option<DateTime<Utc>> {
    gmt(node.text_of(gmt_field))
        .or_else(|| gmt(node.text_of(local_field)))
        .or_else(|| {
            node.text_of("pubDate")
                .and_then(|text| DateTime::parse_from_rfc2822(&text).ok())
                .map(|date| date.with_timezone(&Utc))
        })
}

/// WXR's dates: `2013-08-22 12:00:00` (a zero date means "never").
fn gmt(text: Option<String>) -> Option<DateTime<Utc>> {
    let text = text?;
    if text.starts_with("0000") {
        return None;
    }
    NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S")
        .ok()
        .map(|date| date.and_utc())
}

/// The item as a post (with its comments) or a skipped item. `display_name` gives an
/// author's name from their login (the channel's `wp:author` elements).
pub fn record(item: &Node, display_name: &dyn Fn(&str) -> Option<String>) -> Record {
    let title = item.text_of("title").unwrap_or_default();
    let post_type = item
        .text_of("wp:post_type")
        .unwrap_or_else(|| "post".to_owned());
    let Some(id) = item.text_of("wp:post_id") else {
        return Record::Failed {
            what: format!("{post_type} {title:?}"),
            reason: "it has no wp:post_id, so it cannot be told apart from the others".to_owned(),
        };
    };
    if id.chars().count() > MAX_ID_CHARS {
        return Record::Failed {
            what: format!("{post_type} {title:?}"),
            reason: format!("its wp:post_id has more than {MAX_ID_CHARS} characters"),
        };
    }
    if post_type != "post" {
        return Record::Skipped {
            what: format!("{post_type} {id} {title:?}"),
            reason: match post_type.as_str() {
                "page" => "pages are not posts in Gazette".to_owned(),
                "attachment" => {
                    "attachments (media) are not imported; posts keep their links to them"
                        .to_owned()
                }
                _ => format!("post type {post_type:?} is not imported"),
            },
        };
    }
    // No status says nothing about who may read it: a draft, as WordPress's importer does.
    let wp_status = item
        .text_of("wp:status")
        .unwrap_or_else(|| "draft".to_owned());
    let published_at = date_of(item, "wp:post_date_gmt", "wp:post_date");
    // Any password, even of spaces, protects the post in WordPress.
    let protected = item
        .child("wp:post_password")
        .is_some_and(|password| !password.text.is_empty());
    // What WordPress shows only to some readers, Gazette cannot: it stays a draft.
    let (status, draft_because) = match wp_status.as_str() {
        "trash" => {
            return Record::Skipped {
                what: format!("post {id} {title:?}"),
                reason: "it is in the trash".to_owned(),
            };
        }
        _ if protected => (PostStatus::Draft, Some("password-protected")),
        "private" => (PostStatus::Draft, Some("private")),
        "pending" => (PostStatus::Draft, Some("pending review")),
        "publish" => (PostStatus::Published, None),
        "future" if published_at.is_some_and(|at| at > Utc::now()) => (PostStatus::Scheduled, None),
        "future" => (PostStatus::Published, None),
        // draft, auto-draft: not public, and a draft in Gazette too.
        _ => (PostStatus::Draft, None),
    };
    let login = item
        .text_of("dc:creator")
        .unwrap_or_else(|| "imported".to_owned());
    let mut skipped_comments = Vec::new();
    let mut failed_comments = Vec::new();
    let mut comments = Vec::new();
    for comment in item.children("wp:comment") {
        let Some(comment_id) = comment
            .text_of("wp:comment_id")
            .filter(|id| id.chars().count() <= MAX_ID_CHARS)
        else {
            failed_comments.push((
                format!("a comment on post {id}"),
                format!("it has no wp:comment_id (of at most {MAX_ID_CHARS} characters), so it cannot be told apart from the others"),
            ));
            continue;
        };
        let what = format!("comment {comment_id} on post {id}");
        let kind = comment.text_of("wp:comment_type").unwrap_or_default();
        if kind == "pingback" || kind == "trackback" {
            skipped_comments.push((
                what,
                format!("{kind}s are notices from other sites, not discussion"),
            ));
            continue;
        }
        let status = match comment.text_of("wp:comment_approved").as_deref() {
            Some("1") => CommentStatus::Published,
            Some("spam") => CommentStatus::Spam,
            Some("trash") => {
                skipped_comments.push((what, "it is in the trash".to_owned()));
                continue;
            }
            _ => CommentStatus::Pending,
        };
        comments.push(ImportComment {
            external_id: format!("comment-{comment_id}"),
            parent_external_id: comment
                .text_of("wp:comment_parent")
                .filter(|parent| parent != "0")
                .map(|parent| format!("comment-{parent}")),
            author_name: comment.text_of("wp:comment_author").unwrap_or_default(),
            author_email: comment.text_of("wp:comment_author_email"),
            author_url: comment.text_of("wp:comment_author_url"),
            body_html: comment.text_of("wp:comment_content").unwrap_or_default(),
            created_at: date_of(comment, "wp:comment_date_gmt", "wp:comment_date"),
            status,
            gazette: gazette_origin(comment, &comment_id),
        });
    }
    Record::Post(ImportPost {
        external_id: format!("post-{id}"),
        body_html: item.text_of("content:encoded").unwrap_or_default(),
        excerpt: item.text_of("excerpt:encoded"),
        slug: item.text_of("wp:post_name"),
        published_at,
        status,
        author_name: display_name(&login).unwrap_or_else(|| login.clone()),
        author_login: login,
        tags: item
            .children("category")
            .filter(|category| {
                matches!(category.attribute("domain"), Some("post_tag" | "category"))
            })
            .map(|category| ImportTag {
                name: category.text.trim().to_owned(),
                // WordPress's slug: kept, so tag addresses survive and two names that
                // make the same slug (C#, C++) keep theirs apart.
                slug: category.attribute("nicename").map(str::to_owned),
            })
            .filter(|tag| !tag.name.is_empty() && tag.name != "Uncategorized")
            .collect(),
        comments,
        skipped_comments,
        failed_comments,
        draft_because,
        comments_open: item.text_of("wp:comment_status").as_deref() != Some("closed"),
        gazette: gazette_origin(item, &id),
        title,
    })
}
