//! Gazette's ActivityPub federation (docs/federation.md): the blog actor, its key pair,
//! and the documents that let the fediverse find it — WebFinger and NodeInfo. Pure
//! functions of the site and the key; the API serves them.
//!
//! The blog is one actor of type `Person`: Mastodon and its peers show a `Person`'s
//! posts in their followers' home timelines and let readers reply, which is the whole
//! point; a `Group` is shown as a forum that boosts its members' posts, which a blog with
//! one voice is not.

pub mod activities;
mod keys;
pub mod signatures;

use serde_json::{Value, json};

pub use keys::{ActorKey, KeyError};

/// ActivityStreams' public collection: addressed to it, an object is public.
const PUBLIC: &str = "https://www.w3.org/ns/activitystreams#Public";

/// A published post as an `Article` shows it.
#[derive(Debug, Clone)]
pub struct ArticlePost<'a> {
    pub id: i64,
    pub slug: &'a str,
    pub title: &'a str,
    /// The excerpt: Mastodon shows an Article as its name, summary and link.
    pub excerpt: &'a str,
    /// The sanitised body.
    pub body_html: &'a str,
    /// RFC 3339 times.
    pub published: String,
    pub updated: String,
    /// Each tag's name and slug.
    pub tags: Vec<(&'a str, &'a str)>,
}

/// The site as the fediverse sees it.
#[derive(Debug, Clone)]
pub struct FederatedSite {
    /// `https://blog.example.gov` (no trailing slash).
    pub public_url: String,
    /// The actor's user name: `blog` in `@blog@blog.example.gov`.
    pub actor_name: String,
    pub title: String,
    pub description: String,
    pub key: ActorKey,
}

impl FederatedSite {
    /// The actor's id, which is also where its document is served.
    pub fn actor_id(&self) -> String {
        format!("{}/actor", self.public_url)
    }

    /// The host (and port, when not the scheme's) the handle names: `blog.example.gov`.
    pub fn host(&self) -> &str {
        let rest = self
            .public_url
            .split_once("://")
            .map_or(self.public_url.as_str(), |(_, rest)| rest);
        rest.split('/').next().unwrap_or(rest)
    }

    /// `@blog@blog.example.gov`, as people type it into a search box.
    pub fn handle(&self) -> String {
        format!("@{}@{}", self.actor_name, self.host())
    }

    /// Whether a WebFinger `resource` names this actor: `acct:blog@host` (the host in any
    /// case, an optional leading `@`) or the actor's id.
    pub fn is_this_actor(&self, resource: &str) -> bool {
        if resource == self.actor_id() {
            return true;
        }
        let Some(account) = resource.strip_prefix("acct:") else {
            return false;
        };
        let account = account.strip_prefix('@').unwrap_or(account);
        account.rsplit_once('@').is_some_and(|(name, host)| {
            name == self.actor_name && host.eq_ignore_ascii_case(self.host())
        })
    }

    /// The actor document (`application/activity+json`).
    pub fn actor(&self) -> Value {
        let id = self.actor_id();
        json!({
            "@context": [
                "https://www.w3.org/ns/activitystreams",
                "https://w3id.org/security/v1"
            ],
            "id": id,
            "type": "Person",
            "preferredUsername": self.actor_name,
            "name": self.title,
            "summary": escape(&self.description),
            "url": format!("{}/posts", self.public_url),
            "inbox": format!("{id}/inbox"),
            "outbox": format!("{id}/outbox"),
            "followers": format!("{id}/followers"),
            "endpoints": { "sharedInbox": format!("{}/inbox", self.public_url) },
            "icon": {
                "type": "Image",
                "mediaType": "image/svg+xml",
                "url": format!("{}/favicon.ico", self.public_url)
            },
            "manuallyApprovesFollowers": false,
            "discoverable": true,
            "publicKey": {
                "id": format!("{id}#main-key"),
                "owner": id,
                "publicKeyPem": self.key.public_pem()
            }
        })
    }

    /// A post's object id: stable whatever its slug becomes (its URL is the page).
    pub fn article_id(&self, post_id: i64) -> String {
        format!("{}/ap/posts/{post_id}", self.public_url)
    }

    /// A published post as an `Article` (`application/activity+json`): title, excerpt as
    /// the summary readers see, the body with its tags as hashtags, public, to the
    /// followers.
    pub fn article(&self, post: &ArticlePost<'_>) -> Value {
        let url = format!("{}/posts/{}", self.public_url, post.slug);
        let hashtags: Vec<(String, String)> = post
            .tags
            .iter()
            .filter_map(|(name, slug)| {
                let tag = hashtag(name)?;
                Some((tag, format!("{}/tags/{slug}", self.public_url)))
            })
            .collect();
        let mut content = post.body_html.to_owned();
        if !hashtags.is_empty() {
            content.push_str("<p>");
            let links: Vec<String> = hashtags
                .iter()
                .map(|(tag, href)| {
                    format!(
                        "<a href=\"{}\" class=\"mention hashtag\" rel=\"tag\">#<span>{}</span></a>",
                        escape(href),
                        escape(tag)
                    )
                })
                .collect();
            content.push_str(&links.join(" "));
            content.push_str("</p>");
        }
        json!({
            "@context": ["https://www.w3.org/ns/activitystreams", { "Hashtag": "as:Hashtag" }],
            "id": self.article_id(post.id),
            "type": "Article",
            "name": post.title,
            "summary": escape(post.excerpt),
            "content": content,
            "url": url,
            "published": post.published,
            "updated": post.updated,
            "attributedTo": self.actor_id(),
            "to": [PUBLIC],
            "cc": [format!("{}/followers", self.actor_id())],
            "tag": hashtags
                .iter()
                .map(|(tag, href)| json!({ "type": "Hashtag", "href": href, "name": format!("#{tag}") }))
                .collect::<Vec<_>>()
        })
    }

    /// The WebFinger answer (`application/jrd+json`) for this actor.
    pub fn webfinger(&self) -> Value {
        json!({
            "subject": format!("acct:{}@{}", self.actor_name, self.host()),
            "aliases": [self.actor_id(), format!("{}/posts", self.public_url)],
            "links": [
                {
                    "rel": "self",
                    "type": "application/activity+json",
                    "href": self.actor_id()
                },
                {
                    "rel": "http://webfinger.net/rel/profile-page",
                    "type": "text/html",
                    "href": format!("{}/posts", self.public_url)
                }
            ]
        })
    }

    /// `/.well-known/nodeinfo`: where the NodeInfo 2.1 document is.
    pub fn nodeinfo_links(&self) -> Value {
        json!({
            "links": [{
                "rel": "http://nodeinfo.diaspora.software/ns/schema/2.1",
                "href": format!("{}/nodeinfo/2.1", self.public_url)
            }]
        })
    }

    /// NodeInfo 2.1: what software this is, that it speaks ActivityPub, and how much it
    /// holds (one actor; `local_posts` published posts).
    pub fn nodeinfo(&self, local_posts: i64) -> Value {
        json!({
            "version": "2.1",
            "software": {
                "name": "gazette",
                "version": env!("CARGO_PKG_VERSION"),
                "homepage": self.public_url
            },
            "protocols": ["activitypub"],
            "services": { "inbound": [], "outbound": ["atom1.0", "rss2.0"] },
            "openRegistrations": false,
            "usage": {
                "users": { "total": 1, "activeMonth": 1, "activeHalfyear": 1 },
                "localPosts": local_posts
            },
            "metadata": { "nodeName": self.title }
        })
    }
}

/// A tag's name as a hashtag: its words run together, each capitalised (`Social media`
/// is `SocialMedia`), letters and digits only; `None` when nothing is left.
fn hashtag(name: &str) -> Option<String> {
    let tag: String = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                .unwrap_or_default()
        })
        .collect();
    (!tag.is_empty()).then_some(tag)
}

/// Text as HTML (the actor's `summary` is HTML).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> FederatedSite {
        FederatedSite {
            public_url: "https://blog.example.gov:8443".to_owned(),
            actor_name: "blog".to_owned(),
            title: "Department blog".to_owned(),
            description: "News <and> notes".to_owned(),
            key: ActorKey::generate().expect("key"),
        }
    }

    #[test]
    fn the_handle_names_the_public_host_and_port() {
        let site = site();
        assert_eq!(site.handle(), "@blog@blog.example.gov:8443");
        for resource in [
            "acct:blog@blog.example.gov:8443",
            "acct:@blog@BLOG.example.gov:8443",
            "https://blog.example.gov:8443/actor",
        ] {
            assert!(site.is_this_actor(resource), "{resource}");
        }
        for resource in [
            "acct:blog@blog.example.gov",
            "acct:other@blog.example.gov:8443",
            "blog@blog.example.gov:8443",
            "https://blog.example.gov:8443/actor/x",
        ] {
            assert!(!site.is_this_actor(resource), "{resource}");
        }
    }

    #[test]
    fn the_actor_publishes_its_key_and_where_to_reach_it() {
        let site = site();
        let actor = site.actor();
        assert_eq!(actor["id"], "https://blog.example.gov:8443/actor");
        assert_eq!(actor["type"], "Person");
        assert_eq!(actor["publicKey"]["owner"], actor["id"]);
        assert!(
            actor["publicKey"]["publicKeyPem"]
                .as_str()
                .is_some_and(|pem| pem.starts_with("-----BEGIN PUBLIC KEY-----"))
        );
        assert_eq!(actor["summary"], "News &lt;and&gt; notes");
        let finger = site.webfinger();
        assert_eq!(finger["subject"], "acct:blog@blog.example.gov:8443");
        assert_eq!(finger["links"][0]["href"], actor["id"]);
        assert_eq!(site.nodeinfo(3)["usage"]["localPosts"], 3);
    }

    #[test]
    fn a_post_is_an_article_with_hashtags() {
        let site = site();
        let article = site.article(&ArticlePost {
            id: 7,
            slug: "open-data",
            title: "Open data",
            excerpt: "Why <we> publish",
            body_html: "<p>Body</p>",
            published: "2026-12-06T00:00:00Z".to_owned(),
            updated: "2026-12-06T01:00:00Z".to_owned(),
            tags: vec![
                ("Social media", "social-media"),
                ("2.0", "2-0"),
                ("—", "dash"),
            ],
        });
        assert_eq!(article["id"], "https://blog.example.gov:8443/ap/posts/7");
        assert_eq!(article["type"], "Article");
        assert_eq!(
            article["url"],
            "https://blog.example.gov:8443/posts/open-data"
        );
        assert_eq!(article["summary"], "Why &lt;we&gt; publish");
        assert_eq!(article["to"][0], PUBLIC);
        assert_eq!(
            article["cc"][0],
            "https://blog.example.gov:8443/actor/followers"
        );
        let tags: Vec<&str> = article["tag"]
            .as_array()
            .expect("tags")
            .iter()
            .filter_map(|tag| tag["name"].as_str())
            .collect();
        assert_eq!(tags, ["#SocialMedia", "#20"]);
        let content = article["content"].as_str().expect("content");
        assert!(content.starts_with(
            "<p>Body</p><p><a href=\"https://blog.example.gov:8443/tags/social-media\""
        ));
        assert!(content.contains("#<span>SocialMedia</span>"));
    }
}
