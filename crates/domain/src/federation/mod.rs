//! Federation's use cases (docs/federation.md): receiving activities in the inbox
//! ([`inbox`]), fetching remote actors and their keys ([`remote`]), turning the event
//! outbox into deliveries ([`fanout`]), and the admin's blocks and followers. The protocol's
//! documents and signatures are `gazette_federation`'s; the rows are the store's.

pub mod admin;
pub mod fanout;
pub mod inbox;
pub mod outreach;
pub mod remote;

use chrono::SecondsFormat;
use gazette_federation::{ArticlePost, FederatedSite};
use gazette_store::posts::{self, Post, PostColumns};
use gazette_store::tags::Tag;
use gazette_store::{PgExecutor, PgPool, ReadBudget, Reader, StoreError};
use serde_json::Value;

/// Federation's settings, shared by the API (the inbox) and the worker (deliveries).
#[derive(Debug, Clone)]
pub struct Federation {
    pub site: FederatedSite,
    /// Fetch from and deliver to loopback and private addresses, and plain-http peers
    /// (`--federation-allow-private`: tests and private networks).
    pub allow_private: bool,
    /// Follows wait for an admin instead of being accepted at once.
    pub approve_followers: bool,
    /// The followers collection lists who follows, not only how many.
    pub list_followers: bool,
}

impl Federation {
    /// The post whose object id or page address `id` is, if it is one of the blog's.
    pub fn post_of(&self, id: &str) -> Option<PostRef> {
        let public = &self.site.public_url;
        let rest = id.strip_prefix(public.as_str())?;
        let rest = rest.split(['#', '?']).next().unwrap_or(rest);
        if let Some(number) = rest.strip_prefix("/ap/posts/") {
            return number.parse().ok().filter(|id| *id > 0).map(PostRef::Id);
        }
        rest.strip_prefix("/posts/")
            .filter(|slug| !slug.is_empty() && !slug.contains('/'))
            .map(|slug| PostRef::Slug(slug.to_owned()))
    }

    /// The blog's comment whose object id `id` is.
    pub fn comment_of(&self, id: &str) -> Option<i64> {
        id.strip_prefix(self.site.public_url.as_str())?
            .strip_prefix("/ap/comments/")?
            .parse()
            .ok()
            .filter(|id| *id > 0)
    }
}

/// A post named by the fediverse: by its object id or its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostRef {
    Id(i64),
    Slug(String),
}

/// The published post `post` names (read as the public).
pub async fn public_post(pool: &PgPool, post: &PostRef) -> Result<Option<Post>, StoreError> {
    let budget = ReadBudget::unlimited();
    match post {
        PostRef::Id(id) => {
            Ok(
                posts::find_visible(pool, &[*id], Reader::PUBLIC, PostColumns::All, &budget)
                    .await?
                    .remove(id),
            )
        }
        PostRef::Slug(slug) => {
            posts::find_visible_by_slug(pool, slug, Reader::PUBLIC, PostColumns::All, &budget).await
        }
    }
}

/// A published post (read as the public) with its tags, as the `Article` followers get.
pub async fn article(
    exec: impl PgExecutor<'_>,
    site: &FederatedSite,
    post: &Post,
) -> Result<Value, StoreError> {
    let mut articles = articles(exec, site, std::slice::from_ref(post)).await?;
    Ok(articles.pop().unwrap_or_default())
}

/// Published posts as `Article`s, in their order, their tags read in one statement.
pub async fn articles(
    exec: impl PgExecutor<'_>,
    site: &FederatedSite,
    posts: &[Post],
) -> Result<Vec<Value>, StoreError> {
    let ids: Vec<i64> = posts.iter().map(|post| post.id).collect();
    let mut tags = crate::policy::tags_of_read_posts(exec, &ids).await?;
    Ok(posts
        .iter()
        .map(|post| {
            let tags: Vec<Tag> = tags.remove(&post.id).unwrap_or_default();
            site.article(&ArticlePost {
                id: post.id,
                slug: &post.slug,
                title: &post.title,
                excerpt: &post.excerpt,
                body_html: &post.body_html,
                published: post
                    .published_at
                    .unwrap_or(post.created_at)
                    .to_rfc3339_opts(SecondsFormat::Secs, true),
                updated: post.updated_at.to_rfc3339_opts(SecondsFormat::Secs, true),
                tags: tags
                    .iter()
                    .map(|tag| (tag.name.as_str(), tag.slug.as_str()))
                    .collect(),
            })
        })
        .collect())
}

/// A host (as [`host_of`] gives it) without its port or a final dot: what per-instance
/// limits count by, one server being one instance on any of its ports. The same as the
/// database's `federation_hostname`.
pub fn instance_of(host: &str) -> String {
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => host
            .rsplit_once(':')
            .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
            .map_or(host, |(name, _)| name),
    };
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The host of a URL (with its port when not the scheme's): what instance blocks name.
pub fn host_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    // One address, one host: `[::ffff:127.0.0.1]` is 127.0.0.1.
    let host = match parsed.host()? {
        url::Host::Ipv6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => format!("[{v6}]"),
        },
        url::Host::Ipv4(v4) => v4.to_string(),
        url::Host::Domain(name) => name.trim_end_matches('.').to_ascii_lowercase(),
    };
    Some(match parsed.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    })
}

/// Queues `activity` for one actor's inbox, in the caller's transaction.
pub(crate) async fn queue_to(
    tx: &mut gazette_store::PgConnection,
    actor: &gazette_store::federation::RemoteActor,
    activity: &Value,
) -> Result<(), StoreError> {
    gazette_store::federation::queue_deliveries(
        &mut *tx,
        std::slice::from_ref(&actor.inbox),
        std::slice::from_ref(&actor.host),
        &activity.to_string(),
    )
    .await?;
    Ok(())
}

/// Queues `activity` for each of `inboxes` (those with a host), in the caller's
/// transaction.
pub(crate) async fn queue_to_inboxes(
    tx: &mut gazette_store::PgConnection,
    inboxes: &[String],
    activity: &Value,
) -> Result<(), StoreError> {
    let (inboxes, hosts): (Vec<String>, Vec<String>) = inboxes
        .iter()
        .filter_map(|inbox| Some((inbox.clone(), host_of(inbox)?)))
        .unzip();
    if !inboxes.is_empty() {
        gazette_store::federation::queue_deliveries(
            &mut *tx,
            &inboxes,
            &hosts,
            &activity.to_string(),
        )
        .await?;
    }
    Ok(())
}
