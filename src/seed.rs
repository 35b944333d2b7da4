//! First run: an admin token for the operator, and the demo post for an empty database.
//!
//! The demo content is `seed/enterprise-2-0-government-post.txt` (a copy of the project's
//! shared seed), parsed here: a Blogger-style page with the date, the title, the body, a
//! list of social channels (name, then URL) and the threaded comments.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use gazette_store::channels::{self, ChannelKind, NewChannel};
use gazette_store::comments::{self, CommentStatus, NewComment};
use gazette_store::posts::{self, NewPost, PostStatus};
use gazette_store::tags::{self, TagName};
use gazette_store::tokens::{self, Role};
use gazette_store::{PgPool, authors, meta};

const DEMO_POST: &str = include_str!("../seed/enterprise-2-0-government-post.txt");

/// The file, under the data directory, that holds the first admin token for scripts.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// The source names neither the post's author nor the first commenter; these stand in.
const DEMO_AUTHOR: (&str, &str) = ("government-blogger", "Government Blogger");
const DEMO_COMMENTER: &str = "Anonymous";
const DEMO_TAGS: [(&str, &str); 3] = [
    ("enterprise-2-0", "Enterprise 2.0"),
    ("government", "Government"),
    ("social-media", "Social media"),
];
/// Noon UTC keeps the post on 22 August in every timezone from UTC−11 to UTC+11.
const DEMO_PUBLISHED_AT: NaiveTime = NaiveTime::from_hms_opt(12, 0, 0).expect("valid time");

/// On the first start against a database: creates an admin token (printed once, and saved
/// to `<data dir>/admin-token` with mode 0600) and, when `seed_demo` is set and the database
/// holds no posts, the demo post. One transaction: either all of it happens or none does.
pub async fn first_run(pool: &PgPool, data_dir: &Path, seed_demo: bool) -> anyhow::Result<()> {
    let mut tx = pool.begin().await?;
    let admin_token = if meta::claim_once(&mut tx, "admin_token_created").await? {
        let admin = authors::find_or_create(&mut tx, "admin", "Administrator").await?;
        let (_, secret) =
            tokens::create(&mut *tx, admin.id, "first admin token", Role::Admin).await?;
        Some(secret)
    } else {
        None
    };
    let seeded = seed_demo
        && !meta::has_posts(&mut *tx).await?
        && meta::claim_once(&mut tx, "demo_seeded").await?;
    if seeded {
        insert_demo(&mut tx, &parse_demo(DEMO_POST)?).await?;
    }
    // Written before the commit: if the file cannot be written, nothing is created and the
    // next start tries again; a token nobody has is never committed.
    if let Some(secret) = &admin_token {
        write_admin_token(data_dir, secret)?;
    }
    tx.commit().await?;
    if seeded {
        tracing::info!("seeded the demo post");
    }
    if let Some(secret) = admin_token {
        let path = data_dir.join(ADMIN_TOKEN_FILE);
        println!(
            "Admin token (shown once; also saved to {}):",
            path.display()
        );
        println!("  {secret}");
    }
    Ok(())
}

fn write_admin_token(data_dir: &Path, secret: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("data directory {} is not usable", data_dir.display()))?;
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    let cannot_write = || format!("cannot write the admin token to {}", path.display());
    // Never through a symlink someone planted, and private even when the file was there
    // before with looser permissions (the mode only applies to files we create).
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .with_context(cannot_write)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(cannot_write)?;
    writeln!(file, "{secret}").with_context(cannot_write)
}

/// The demo post as parsed from its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPost {
    pub published_at: DateTime<Utc>,
    pub title: String,
    /// Markdown; the channel list becomes a list of links.
    pub body: String,
    pub channels: Vec<(String, String)>,
    /// Top-level comments, each with its replies.
    pub comments: Vec<DemoComment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoComment {
    pub body: String,
    pub replies: Vec<String>,
}

pub fn parse_demo(text: &str) -> anyhow::Result<DemoPost> {
    let mut lines = text.lines().map(str::trim_end).peekable();
    let date_line = lines.next().context("the demo post is empty")?;
    let date = NaiveDate::parse_from_str(date_line.trim(), "%A, %B %d, %Y")
        .with_context(|| format!("the demo post's first line is not a date: {date_line:?}"))?;
    let title = lines
        .by_ref()
        .find(|line| !line.trim().is_empty())
        .context("the demo post has no title")?
        .trim()
        .to_owned();

    let mut paragraphs: Vec<String> = Vec::new();
    let mut channels = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let flush = |current: &mut Vec<&str>, paragraphs: &mut Vec<String>| {
        if !current.is_empty() {
            paragraphs.push(current.join("\n"));
            current.clear();
        }
    };
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if is_comment_count(trimmed) {
            break;
        }
        let next_is_url = lines
            .peek()
            .is_some_and(|next| next.trim().starts_with("http"));
        if !trimmed.is_empty() && next_is_url {
            // A channel: its name, then its page.
            let url = lines.next().unwrap_or_default().trim().to_owned();
            flush(&mut current, &mut paragraphs);
            channels.push((trimmed.to_owned(), url));
        } else if trimmed.is_empty() || trimmed == "." {
            // A lone "." is a stray of the original page, not content.
            flush(&mut current, &mut paragraphs);
        } else {
            current.push(trimmed);
        }
    }
    flush(&mut current, &mut paragraphs);
    if channels.is_empty() {
        bail!("the demo post lists no channels");
    }
    let channel_list: Vec<String> = channels
        .iter()
        .map(|(name, url)| format!("- [{name}]({url})"))
        .collect();
    paragraphs.push(channel_list.join("\n"));

    let comments = parse_comments(lines)?;
    Ok(DemoPost {
        published_at: date.and_time(DEMO_PUBLISHED_AT).and_utc(),
        title,
        body: paragraphs.join("\n\n"),
        channels,
        comments,
    })
}

fn is_comment_count(line: &str) -> bool {
    line.strip_suffix(" comments:")
        .or_else(|| line.strip_suffix(" comment:"))
        .is_some_and(|count| count.parse::<u32>().is_ok())
}

/// Blogger's layout: `  1. text…` starts a comment, `ReplyDelete` ends it, `Replies` opens
/// its replies, indented deeper, each ended by `Delete`.
fn parse_comments<'a>(lines: impl Iterator<Item = &'a str>) -> anyhow::Result<Vec<DemoComment>> {
    let mut comments: Vec<DemoComment> = Vec::new();
    let mut text: Vec<&str> = Vec::new();
    let mut is_reply = false;
    let finish = |text: &mut Vec<&str>, is_reply: bool, comments: &mut Vec<DemoComment>| {
        let body = text.join("\n").trim().to_owned();
        text.clear();
        if body.is_empty() {
            return Ok(());
        }
        match (is_reply, comments.last_mut()) {
            (false, _) => comments.push(DemoComment {
                body,
                replies: Vec::new(),
            }),
            (true, Some(parent)) => parent.replies.push(body),
            (true, None) => bail!("the demo post has a reply without a comment"),
        }
        Ok(())
    };
    for line in lines {
        let indent = line.len() - line.trim_start().len();
        let trimmed = line.trim();
        let numbered = trimmed
            .split_once(". ")
            .filter(|(number, _)| number.parse::<u32>().is_ok());
        match (trimmed, numbered) {
            ("ReplyDelete" | "Delete", _) => finish(&mut text, is_reply, &mut comments)?,
            ("Replies", _) => {}
            (_, Some((_, first_line))) => {
                finish(&mut text, is_reply, &mut comments)?;
                is_reply = indent > 2;
                text.push(first_line);
            }
            _ => text.push(trimmed),
        }
    }
    finish(&mut text, is_reply, &mut comments)?;
    Ok(comments)
}

async fn insert_demo(tx: &mut sqlx::PgConnection, demo: &DemoPost) -> anyhow::Result<()> {
    let (author_slug, author_name) = DEMO_AUTHOR;
    let author = authors::find_or_create(tx, author_slug, author_name).await?;
    let body_html = gazette_content::render_post_body(&demo.body)
        .map_err(|refusal| anyhow::anyhow!("the demo post does not render: {refusal:?}"))?;
    let excerpt = gazette_content::excerpt(&demo.body, 300);
    let slug = gazette_content::slugify(&demo.title, 200, "post");
    let post = posts::insert(
        &mut *tx,
        &NewPost {
            author_id: author.id,
            slug: &slug,
            title: &demo.title,
            body: &demo.body,
            body_html: &body_html,
            excerpt: &excerpt,
            custom_excerpt: false,
            status: PostStatus::Published,
            comments_open: true,
            published_at: Some(demo.published_at),
        },
    )
    .await?;
    let tags: Vec<TagName> = DEMO_TAGS
        .iter()
        .map(|&(slug, name)| TagName { slug, name })
        .collect();
    tags::set_post_tags(tx, post.id, &tags).await?;
    for (position, (name, url)) in demo.channels.iter().enumerate() {
        let slug = gazette_content::slugify(name, 100, "channel");
        channels::insert(
            &mut *tx,
            &NewChannel {
                slug: &slug,
                kind: channel_kind(name),
                name,
                url,
                position: Some(i32::try_from(position)?),
                enabled: true,
                template: None,
            },
        )
        .await?;
    }
    // The source gives no comment times: a day apart, after the post.
    let mut at = demo.published_at;
    for comment in &demo.comments {
        at += TimeDelta::days(1);
        let parent = comments::insert(
            &mut *tx,
            &NewComment {
                post_id: post.id,
                parent_id: None,
                author_name: DEMO_COMMENTER,
                author_email: None,
                author_url: None,
                author_id: None,
                body: &comment.body,
                body_html: &gazette_content::render_comment_body(&comment.body),
                status: CommentStatus::Published,
                created_at: Some(at),
                client_address: None,
                client_mutation_id: None,
            },
        )
        .await?;
        // The replies in the source are the post author's answers.
        for reply in &comment.replies {
            at += TimeDelta::days(1);
            comments::insert(
                &mut *tx,
                &NewComment {
                    post_id: post.id,
                    parent_id: Some(parent.id),
                    author_name: &author.name,
                    author_email: None,
                    author_url: None,
                    author_id: Some(author.id),
                    body: reply,
                    body_html: &gazette_content::render_comment_body(reply),
                    status: CommentStatus::Published,
                    created_at: Some(at),
                    client_address: None,
                    client_mutation_id: None,
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// The kind a demo channel's label names (`Facebook page` → Facebook), in the kinds' own
/// order; `Other` when it names none.
fn channel_kind(name: &str) -> ChannelKind {
    let name = name.to_lowercase();
    ChannelKind::ALL
        .into_iter()
        .filter(|kind| *kind != ChannelKind::Other)
        .find(|kind| name.contains(kind.as_str()))
        .unwrap_or(ChannelKind::Other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_demo_post() {
        let demo = parse_demo(DEMO_POST).expect("the demo post parses");
        assert_eq!(
            demo.title,
            "The implementation of Enterprise 2.0 by government departments"
        );
        assert_eq!(demo.published_at.to_rfc3339(), "2013-08-22T12:00:00+00:00");
        assert!(
            demo.body.starts_with("As a government department employee"),
            "{}",
            demo.body
        );
        assert!(demo.body.contains(
            "- [Facebook](http://australia.gov.au/news-and-media/social-media/facebook)"
        ));
        assert!(!demo.body.contains("\n.\n"));
        assert!(!demo.body.contains("comments:"));
        let names: Vec<&str> = demo
            .channels
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "Facebook", "Blogs", "Twitter", "Youtube", "Flickr", "RSS Feed", "Podcasts"
            ]
        );
        assert_eq!(
            demo.channels[5].1,
            "http://australia.gov.au/news-and-media/social-media/rss-feeds"
        );
        assert_eq!(demo.comments.len(), 1);
        let comment = &demo.comments[0];
        assert!(comment.body.starts_with("Good read!"), "{}", comment.body);
        assert!(
            comment.body.ends_with("http://wp.me/p3jRFF-H"),
            "{}",
            comment.body
        );
        assert_eq!(comment.replies.len(), 1);
        assert!(comment.replies[0].starts_with("Thank you for commenting on my blog!"));
        assert!(comment.replies[0].ends_with("you have selected!"));
    }

    #[test]
    fn every_demo_channel_has_a_known_kind() {
        let demo = parse_demo(DEMO_POST).expect("the demo post parses");
        let kinds: Vec<ChannelKind> = demo
            .channels
            .iter()
            .map(|(name, _)| channel_kind(name))
            .collect();
        assert_eq!(
            kinds,
            [
                ChannelKind::Facebook,
                ChannelKind::Blog,
                ChannelKind::Twitter,
                ChannelKind::Youtube,
                ChannelKind::Flickr,
                ChannelKind::Rss,
                ChannelKind::Podcast
            ]
        );
    }
}
