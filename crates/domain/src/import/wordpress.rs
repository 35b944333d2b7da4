//! WordPress's export (WXR 1.2): an RSS channel of `<item>`s with `wp:` elements; each
//! item is a post, page, attachment or other post type, with its comments inside it.

use chrono::{DateTime, NaiveDateTime, Utc};
use gazette_store::comments::CommentStatus;
use gazette_store::posts::PostStatus;

use super::xml::Node;
use super::{ImportComment, ImportPost, Record};

/// WXR's GMT dates: `2013-08-22 12:00:00` (a zero date means "never").
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
    let id = item.text_of("wp:post_id").unwrap_or_default();
    let title = item.text_of("title").unwrap_or_default();
    let post_type = item
        .text_of("wp:post_type")
        .unwrap_or_else(|| "post".to_owned());
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
    let wp_status = item
        .text_of("wp:status")
        .unwrap_or_else(|| "publish".to_owned());
    let published_at = gmt(item.text_of("wp:post_date_gmt"));
    let status = match wp_status.as_str() {
        "publish" => PostStatus::Published,
        "future" if published_at.is_some_and(|at| at > Utc::now()) => PostStatus::Scheduled,
        "future" => PostStatus::Published,
        "trash" => {
            return Record::Skipped {
                what: format!("post {id} {title:?}"),
                reason: "it is in the trash".to_owned(),
            };
        }
        // draft, pending, private, auto-draft: not public.
        _ => PostStatus::Draft,
    };
    let login = item
        .text_of("dc:creator")
        .unwrap_or_else(|| "imported".to_owned());
    let comments = item
        .children("wp:comment")
        .filter_map(|comment| {
            let status = match comment.text_of("wp:comment_approved").as_deref() {
                Some("1") => CommentStatus::Published,
                Some("spam") => CommentStatus::Spam,
                Some("trash") => return None,
                _ => CommentStatus::Pending,
            };
            // Pingbacks and trackbacks are notices from other sites, not discussion.
            if comment
                .text_of("wp:comment_type")
                .is_some_and(|kind| kind == "pingback" || kind == "trackback")
            {
                return None;
            }
            Some(ImportComment {
                external_id: format!("comment-{}", comment.text_of("wp:comment_id")?),
                parent_external_id: comment
                    .text_of("wp:comment_parent")
                    .filter(|parent| parent != "0")
                    .map(|parent| format!("comment-{parent}")),
                author_name: comment
                    .text_of("wp:comment_author")
                    .unwrap_or_else(|| "Anonymous".to_owned()),
                author_email: comment.text_of("wp:comment_author_email"),
                author_url: comment.text_of("wp:comment_author_url"),
                body_html: comment.text_of("wp:comment_content").unwrap_or_default(),
                created_at: gmt(comment.text_of("wp:comment_date_gmt")),
                status,
            })
        })
        .collect();
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
            .map(|category| category.text.trim().to_owned())
            .filter(|name| !name.is_empty() && name != "Uncategorized")
            .collect(),
        comments,
        title,
    })
}
