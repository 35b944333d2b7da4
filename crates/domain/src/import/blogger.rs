//! Blogger's "Back up content" export: an Atom feed whose entries are posts, comments,
//! pages, settings and the template, told apart by their `kind` category. Comments follow
//! the posts and say what they answer with `thr:in-reply-to` (and, for replies, a
//! `related` link to the parent comment).

use chrono::{DateTime, Utc};
use gazette_store::comments::CommentStatus;
use gazette_store::posts::PostStatus;

use super::xml::Node;
use super::{ImportComment, ImportPost, ImportTag, Record};

const KIND_SCHEME: &str = "http://schemas.google.com/g/2005#kind";
const LABEL_SCHEME: &str = "http://www.blogger.com/atom/ns#";

/// What an entry is, from its `kind` category (`…/kind#post`).
fn kind(entry: &Node) -> &str {
    entry
        .children("atom:category")
        .find(|category| category.attribute("scheme") == Some(KIND_SCHEME))
        .and_then(|category| category.attribute("term"))
        .and_then(|term| term.rsplit('#').next())
        .unwrap_or("unknown")
}

fn date(entry: &Node, name: &str) -> Option<DateTime<Utc>> {
    entry
        .text_of(name)
        .and_then(|text| DateTime::parse_from_rfc3339(&text).ok())
        .map(|date| date.with_timezone(&Utc))
}

/// The entry as a post, a comment (with the id it answers), or a skipped entry.
pub fn record(entry: &Node) -> Record {
    let title = entry
        .child("atom:title")
        .map(|title| title.text.trim().to_owned())
        .unwrap_or_default();
    let kind = kind(entry);
    let Some(id) = entry.text_of("atom:id") else {
        if matches!(kind, "settings" | "template") {
            return Record::Ignored;
        }
        return Record::Failed {
            what: format!("{kind} {title:?}"),
            reason: "it has no id, so it cannot be told apart from the others".to_owned(),
        };
    };
    match kind {
        "post" => {
            let draft = entry
                .child("app:control")
                .and_then(|control| control.text_of("app:draft"))
                .is_some_and(|draft| draft == "yes");
            let permalink = entry
                .children("atom:link")
                .find(|link| link.attribute("rel") == Some("alternate"))
                .and_then(|link| link.attribute("href"))
                .map(str::to_owned);
            // `/2013/08/the-slug.html`: the slug is the last segment.
            let slug = permalink.as_deref().and_then(|url| {
                url.rsplit('/')
                    .next()
                    .map(|last| last.trim_end_matches(".html").to_owned())
                    .filter(|slug| !slug.is_empty())
            });
            let author = entry
                .child("atom:author")
                .and_then(|author| author.text_of("atom:name"))
                .unwrap_or_else(|| "Imported".to_owned());
            Record::Post(ImportPost {
                external_id: id,
                title,
                body_html: entry.text_of("atom:content").unwrap_or_default(),
                excerpt: None,
                slug,
                published_at: date(entry, "atom:published"),
                status: if draft {
                    PostStatus::Draft
                } else {
                    PostStatus::Published
                },
                author_login: author.clone(),
                author_name: author,
                tags: entry
                    .children("atom:category")
                    .filter(|category| category.attribute("scheme") == Some(LABEL_SCHEME))
                    .filter_map(|category| category.attribute("term"))
                    .map(|name| ImportTag {
                        name: name.to_owned(),
                        slug: None,
                    })
                    .collect(),
                comments: Vec::new(),
                skipped_comments: Vec::new(),
                failed_comments: Vec::new(),
                draft_because: None,
                comments_open: true,
                gazette: None,
            })
        }
        "comment" => {
            let answers = entry
                .child("thr:in-reply-to")
                .and_then(|reply| reply.attribute("ref"))
                .unwrap_or_default()
                .to_owned();
            // A reply links its parent comment: `…/comments/default/<comment id>`.
            let blog = id.split(".post-").next().unwrap_or_default();
            let parent = entry
                .children("atom:link")
                .find(|link| link.attribute("rel") == Some("related"))
                .and_then(|link| link.attribute("href"))
                .and_then(|href| href.rsplit('/').next())
                .map(|comment| format!("{blog}.post-{comment}"));
            let author = entry.child("atom:author");
            Record::Comment {
                answers,
                comment: ImportComment {
                    external_id: id,
                    parent_external_id: parent,
                    author_name: author
                        .and_then(|author| author.text_of("atom:name"))
                        .unwrap_or_default(),
                    author_email: author
                        .and_then(|author| author.text_of("atom:email"))
                        .filter(|email| email != "noreply@blogger.com"),
                    author_url: author.and_then(|author| author.text_of("atom:uri")),
                    body_html: entry.text_of("atom:content").unwrap_or_default(),
                    created_at: date(entry, "atom:published"),
                    status: CommentStatus::Published,
                    gazette: None,
                },
            }
        }
        "settings" | "template" => Record::Ignored,
        other => Record::Skipped {
            what: format!("{other} {}", if title.is_empty() { id } else { title }),
            reason: match other {
                "page" => "pages are not posts in Gazette".to_owned(),
                _ => format!("entries of kind {other:?} are not imported"),
            },
        },
    }
}
