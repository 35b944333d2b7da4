//! `/sitemap.xml` and `/robots.txt`, so search engines find every published post and tag.
//! One `urlset` while the site fits in one file (50,000 URLs); past that, `/sitemap.xml`
//! becomes an index of `/sitemaps/pages.xml`, `/sitemaps/posts-N.xml` and
//! `/sitemaps/tags-N.xml`. Built on request from the database (what the public sees, by
//! the one visibility rule), reused for a minute, and served with conditional GET
//! (docs/feeds.md).

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gazette_store::sitemap::{self, Listed, SitemapEntry};
use gazette_store::{PgPool, Reader, SiteConfig, StoreError};
use gazette_syndication::{MAX_URLS_PER_FILE, SitemapLink, render_sitemap_index, render_urlset};
use sha2::{Digest, Sha256};

use crate::conditional::{Document, respond};
use crate::state::AppState;

const XML: &str = "application/xml; charset=utf-8";
/// Crawlers come back now and then; an hour's staleness costs nothing.
const CACHE_CONTROL: &str = "public, max-age=3600";

/// How the site's URLs are spread over files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Everything in `/sitemap.xml`.
    Single,
    /// An index of the listing page, then this many files of posts and of tags.
    Index { post_files: usize, tag_files: usize },
}

fn plan(posts: usize, tags: usize, per_file: usize) -> Plan {
    // The list of latest posts (`/posts`) is one URL more.
    if posts + tags < per_file {
        return Plan::Single;
    }
    Plan::Index {
        post_files: posts.div_ceil(per_file),
        tag_files: tags.div_ceil(per_file),
    }
}

/// How long a built sitemap is reused. A large site's sitemap is a megabyte to query,
/// render and compress: built on every request, it would let anyone keep the server busy.
const REUSE_FOR: Duration = Duration::from_secs(60);

/// A built sitemap and when it was built, by site (public URL) and file.
type Built = HashMap<(String, String), (Instant, Arc<Document>)>;

static BUILT: LazyLock<Mutex<Built>> = LazyLock::new(Mutex::default);

fn reusable(state: &AppState, file: &str) -> Option<Arc<Document>> {
    let key = (state.config.site.public_url.clone(), file.to_owned());
    let built = BUILT.lock().ok()?;
    built
        .get(&key)
        .filter(|(at, _)| at.elapsed() < REUSE_FOR)
        .map(|(_, document)| document.clone())
}

fn keep(state: &AppState, file: &str, document: Arc<Document>) {
    if let Ok(mut built) = BUILT.lock() {
        built.retain(|_, (at, _)| at.elapsed() < REUSE_FOR);
        built.insert(
            (state.config.site.public_url.clone(), file.to_owned()),
            (Instant::now(), document),
        );
    }
}

pub async fn sitemap_xml(State(state): State<AppState>, request: HeaderMap) -> Response {
    if let Some(document) = reusable(&state, "sitemap.xml") {
        return respond(&document, &request);
    }
    match state
        .read_page(|pool: PgPool| {
            let state = &state;
            async move { build_sitemap(state, &pool).await }
        })
        .await
    {
        Ok((xml, modified)) => {
            let document = Arc::new(document(xml, modified));
            keep(&state, "sitemap.xml", document.clone());
            respond(&document, &request)
        }
        Err(error) => unavailable(&error),
    }
}

/// A part of a split sitemap: `pages.xml`, `posts-N.xml` or `tags-N.xml`.
pub async fn sitemap_part(
    State(state): State<AppState>,
    Path(file): Path<String>,
    request: HeaderMap,
) -> Response {
    if let Some(document) = reusable(&state, &file) {
        return respond(&document, &request);
    }
    match state
        .read_page(|pool: PgPool| {
            let (state, file) = (&state, &file);
            async move { build_part(state, &pool, file).await }
        })
        .await
    {
        Ok(Some((xml, modified))) => {
            let document = Arc::new(document(xml, modified));
            keep(&state, &file, document.clone());
            respond(&document, &request)
        }
        Ok(None) => (
            StatusCode::NOT_FOUND,
            "There is no such sitemap: /sitemap.xml lists them.\n",
        )
            .into_response(),
        Err(error) => unavailable(&error),
    }
}

/// Every crawler may read the site; the API endpoints are not pages.
pub async fn robots_txt(State(state): State<AppState>) -> Response {
    let text = format!(
        "User-agent: *\nDisallow: /graphql\nDisallow: /graphiql\nAllow: /\n\nSitemap: {}\n",
        state.config.site.url("sitemap.xml")
    );
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, CACHE_CONTROL),
        ],
        text,
    )
        .into_response()
}

async fn build_sitemap(
    state: &AppState,
    pool: &PgPool,
) -> Result<(String, Option<DateTime<Utc>>), StoreError> {
    let site = &state.config.site;
    let (post_count, latest) = sitemap::post_summary(pool, Reader::PUBLIC).await?;
    let tag_count = sitemap::tag_count(pool, Reader::PUBLIC).await?;
    let count = |value: i64| usize::try_from(value).unwrap_or(0);
    match plan(count(post_count), count(tag_count), MAX_URLS_PER_FILE) {
        Plan::Single => {
            let mut links = vec![listing(site, latest)];
            for (listed, all) in [(Listed::Posts, post_count), (Listed::Tags, tag_count)] {
                let entries = sitemap::entries(pool, Reader::PUBLIC, listed, 0, all).await?;
                links.extend(links_to(site, listed, &entries));
            }
            Ok((render_urlset(&links), latest))
        }
        Plan::Index {
            post_files,
            tag_files,
        } => {
            let part = |name: String| SitemapLink {
                loc: site.url(&format!("sitemaps/{name}")),
                lastmod: latest,
            };
            let mut links = vec![part("pages.xml".to_owned())];
            for (listed, files) in [(Listed::Posts, post_files), (Listed::Tags, tag_files)] {
                links.extend(
                    (1..=files).map(|number| part(format!("{}-{number}.xml", listed.name()))),
                );
            }
            Ok((render_sitemap_index(&links), latest))
        }
    }
}

async fn build_part(
    state: &AppState,
    pool: &PgPool,
    file: &str,
) -> Result<Option<(String, Option<DateTime<Utc>>)>, StoreError> {
    let site = &state.config.site;
    if file == "pages.xml" {
        let (_, latest) = sitemap::post_summary(pool, Reader::PUBLIC).await?;
        return Ok(Some((render_urlset(&[listing(site, latest)]), latest)));
    }
    let Some((listed, number)) = file
        .strip_suffix(".xml")
        .and_then(|stem| stem.split_once('-'))
        .and_then(|(kind, number)| Some((Listed::from_name(kind)?, number.parse::<i64>().ok()?)))
        .filter(|(_, number)| *number >= 1)
    else {
        return Ok(None);
    };
    let per_file = i64::try_from(MAX_URLS_PER_FILE).unwrap_or(i64::MAX);
    let offset = (number - 1).saturating_mul(per_file);
    let entries = sitemap::entries(pool, Reader::PUBLIC, listed, offset, per_file).await?;
    if entries.is_empty() {
        return Ok(None);
    }
    let links = links_to(site, listed, &entries);
    let modified = entries.iter().map(|entry| entry.lastmod).max();
    Ok(Some((render_urlset(&links), modified)))
}

fn listing(site: &SiteConfig, latest: Option<DateTime<Utc>>) -> SitemapLink {
    SitemapLink {
        loc: site.url("posts"),
        lastmod: latest,
    }
}

fn links_to(site: &SiteConfig, listed: Listed, entries: &[SitemapEntry]) -> Vec<SitemapLink> {
    entries
        .iter()
        .map(|entry| SitemapLink {
            loc: site.url(&format!("{}/{}", listed.name(), entry.slug)),
            lastmod: Some(entry.lastmod),
        })
        .collect()
}

fn document(xml: String, modified: Option<DateTime<Utc>>) -> Document {
    let hash: String = Sha256::digest(xml.as_bytes())[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    Document::new(
        xml,
        XML,
        &hash,
        modified.unwrap_or(DateTime::UNIX_EPOCH),
        CACHE_CONTROL,
    )
}

fn unavailable(error: &StoreError) -> Response {
    tracing::error!(error = %gazette_store::display_chain(error), "could not build the sitemap");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        "The sitemap is temporarily unavailable. Try again shortly.\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_while_it_fits_then_an_index() {
        assert_eq!(plan(7, 2, 10), Plan::Single);
        assert_eq!(
            plan(8, 2, 10),
            Plan::Index {
                post_files: 1,
                tag_files: 1
            }
        );
        assert_eq!(
            plan(25, 0, 10),
            Plan::Index {
                post_files: 3,
                tag_files: 0
            }
        );
        assert_eq!(plan(49_999, 0, MAX_URLS_PER_FILE), Plan::Single);
        assert_eq!(
            plan(50_000, 3, MAX_URLS_PER_FILE),
            Plan::Index {
                post_files: 1,
                tag_files: 1
            }
        );
    }
}
