//! `gazette export`: the whole site as a WordPress export (WXR 1.2), which WordPress's
//! importer and `gazette import` both read. Posts keep their status, dates, slugs, tags and
//! authors; comments their threading, authors and moderation state. Bodies are written as
//! HTML (what WordPress shows), and their Markdown source again in Gazette's own namespace
//! (`gazette:source`, which WordPress ignores), so a round trip through `gazette import`
//! loses nothing: export, import into an empty database, export again, and the file is
//! the same but for its date.
//!
//! Posts are read a page at a time, so memory follows one page, not the site.

use std::io::Write;

use chrono::{DateTime, Utc};
use gazette_store::comments::CommentStatus;
use gazette_store::export::{self, ExportedComment, ExportedPost};
use gazette_store::posts::PostStatus;
use gazette_store::{PgPool, SiteConfig, StoreError};

/// Gazette's own elements in an export: the Markdown and comment text behind the HTML.
pub const GAZETTE_NAMESPACE: &str = "urn:gazette:export:1";
/// Posts read and written at a time.
const PAGE: i64 = 500;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
}

/// What an export wrote.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExportCounts {
    pub posts: usize,
    pub comments: usize,
    pub authors: usize,
}

/// Writes the site as WXR 1.2 to `out`, dated `generated`.
pub async fn export_site(
    pool: &PgPool,
    site: &SiteConfig,
    generated: DateTime<Utc>,
    out: &mut (dyn Write + Send),
) -> Result<ExportCounts, ExportError> {
    let mut counts = ExportCounts::default();
    let url = site.public_url.trim_end_matches('/');
    writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
    writeln!(
        out,
        "<!-- A Gazette site exported as WordPress eXtended RSS (WXR 1.2): WordPress's importer and `gazette import` read it. -->"
    )?;
    writeln!(
        out,
        "<rss version=\"2.0\" xmlns:excerpt=\"http://wordpress.org/export/1.2/excerpt/\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:wfw=\"http://wellformedweb.org/CommentAPI/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:wp=\"http://wordpress.org/export/1.2/\" xmlns:gazette=\"{GAZETTE_NAMESPACE}\">"
    )?;
    writeln!(out, "<channel>")?;
    element(out, 1, "title", &site.title)?;
    element(out, 1, "link", url)?;
    element(out, 1, "description", &site.description)?;
    element(out, 1, "pubDate", &generated.to_rfc2822())?;
    element(out, 1, "language", &site.language)?;
    element(out, 1, "wp:wxr_version", "1.2")?;
    element(out, 1, "wp:base_site_url", url)?;
    element(out, 1, "wp:base_blog_url", url)?;
    element(out, 1, "generator", "Gazette")?;
    for author in export::authors_unchecked(pool).await? {
        writeln!(out, "\t<wp:author>")?;
        element(out, 2, "wp:author_login", &author.slug)?;
        element(out, 2, "wp:author_display_name", &author.name)?;
        writeln!(out, "\t</wp:author>")?;
        counts.authors += 1;
    }
    let mut after = 0;
    loop {
        let posts = export::posts_unchecked(pool, after, PAGE).await?;
        let Some(last) = posts.last() else {
            break;
        };
        after = last.id;
        let ids: Vec<i64> = posts.iter().map(|post| post.id).collect();
        let comments = export::comments_unchecked(pool, &ids).await?;
        let tombstones: std::collections::HashMap<i64, Option<i64>> =
            export::tombstone_parents_unchecked(pool, &ids)
                .await?
                .into_iter()
                .collect();
        let mut comments = comments.into_iter().peekable();
        for post in &posts {
            write_post(out, url, post)?;
            while let Some(comment) = comments.next_if(|comment| comment.post_id == post.id) {
                write_comment(out, &comment, &tombstones)?;
                counts.comments += 1;
            }
            writeln!(out, "\t</item>")?;
            counts.posts += 1;
        }
    }
    writeln!(out, "</channel>")?;
    writeln!(out, "</rss>")?;
    out.flush()?;
    Ok(counts)
}

fn write_post(out: &mut dyn Write, url: &str, post: &ExportedPost) -> std::io::Result<()> {
    writeln!(out, "\t<item>")?;
    element(out, 2, "title", &post.title)?;
    element(out, 2, "link", &format!("{url}/posts/{}", post.slug))?;
    element(
        out,
        2,
        "pubDate",
        &post
            .published_at
            .map(|at| at.to_rfc2822())
            .unwrap_or_default(),
    )?;
    element(out, 2, "dc:creator", &post.author_slug)?;
    writeln!(
        out,
        "\t\t<guid isPermaLink=\"false\">{}</guid>",
        escape(&format!("{url}/?p={}", post.id))
    )?;
    element(out, 2, "description", "")?;
    element(out, 2, "content:encoded", &post.body_html)?;
    element(
        out,
        2,
        "excerpt:encoded",
        if post.custom_excerpt {
            &post.excerpt
        } else {
            ""
        },
    )?;
    element(out, 2, "gazette:source", &post.body)?;
    element(out, 2, "wp:post_id", &post.id.to_string())?;
    let date = wxr_date(post.published_at);
    element(out, 2, "wp:post_date", &date)?;
    element(out, 2, "wp:post_date_gmt", &date)?;
    let comment_status = if post.comments_open { "open" } else { "closed" };
    element(out, 2, "wp:comment_status", comment_status)?;
    element(out, 2, "wp:ping_status", "closed")?;
    element(out, 2, "wp:post_name", &post.slug)?;
    let status = match post.status {
        PostStatus::Published => "publish",
        PostStatus::Scheduled => "future",
        PostStatus::Draft => "draft",
    };
    element(out, 2, "wp:status", status)?;
    element(out, 2, "wp:post_parent", "0")?;
    element(out, 2, "wp:menu_order", "0")?;
    element(out, 2, "wp:post_type", "post")?;
    element(out, 2, "wp:post_password", "")?;
    element(out, 2, "wp:is_sticky", "0")?;
    for (slug, name) in post.tag_slugs.iter().zip(&post.tag_names) {
        writeln!(
            out,
            "\t\t<category domain=\"post_tag\" nicename=\"{}\">{}</category>",
            escape(slug),
            escape(name)
        )?;
    }
    Ok(())
}

fn write_comment(
    out: &mut dyn Write,
    comment: &ExportedComment,
    tombstones: &std::collections::HashMap<i64, Option<i64>>,
) -> std::io::Result<()> {
    // A deleted comment is not exported: its replies hang under its nearest living
    // ancestor, as they would after an import of this file.
    let mut parent = comment.parent_id;
    while let Some(id) = parent
        && let Some(grandparent) = tombstones.get(&id)
    {
        parent = *grandparent;
    }
    writeln!(out, "\t\t<wp:comment>")?;
    element(out, 3, "wp:comment_id", &comment.id.to_string())?;
    element(out, 3, "wp:comment_author", &comment.author_name)?;
    element(
        out,
        3,
        "wp:comment_author_email",
        comment.author_email.as_deref().unwrap_or_default(),
    )?;
    element(
        out,
        3,
        "wp:comment_author_url",
        comment.author_url.as_deref().unwrap_or_default(),
    )?;
    let date = wxr_date(Some(comment.created_at));
    element(out, 3, "wp:comment_date", &date)?;
    element(out, 3, "wp:comment_date_gmt", &date)?;
    element(out, 3, "wp:comment_content", &comment.body_html)?;
    element(out, 3, "gazette:source", &comment.body)?;
    let approved = match comment.status {
        CommentStatus::Published => "1",
        CommentStatus::Spam => "spam",
        CommentStatus::Pending | CommentStatus::Deleted => "0",
    };
    element(out, 3, "wp:comment_approved", approved)?;
    element(out, 3, "wp:comment_type", "comment")?;
    element(
        out,
        3,
        "wp:comment_parent",
        &parent.unwrap_or_default().to_string(),
    )?;
    element(out, 3, "wp:comment_user_id", "0")?;
    writeln!(out, "\t\t</wp:comment>")
}

/// WXR's dates: `2013-08-22 12:00:00` in UTC, the zero date for none.
fn wxr_date(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "0000-00-00 00:00:00".to_owned(),
        |at| at.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

fn element(out: &mut dyn Write, depth: usize, name: &str, text: &str) -> std::io::Result<()> {
    writeln!(
        out,
        "{}<{name}>{}</{name}>",
        "\t".repeat(depth),
        escape(text)
    )
}

/// Text as XML 1.0 keeps it: markup escaped, carriage returns as references (a parser
/// would turn them into line feeds), and the control characters XML cannot hold replaced.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\r' => escaped.push_str("&#13;"),
            '\t' | '\n' => escaped.push(character),
            control if (control as u32) < 0x20 || matches!(control, '\u{FFFE}' | '\u{FFFF}') => {
                escaped.push('\u{FFFD}');
            }
            other => escaped.push(other),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn text_survives_an_xml_parser() {
        assert_eq!(
            escape("a < b & \"c\"\r\n\u{1}"),
            "a &lt; b &amp; &quot;c&quot;&#13;\n\u{FFFD}"
        );
    }
}
