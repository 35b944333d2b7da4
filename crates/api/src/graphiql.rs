//! The GraphiQL playground, served from our own copy of its assets (see
//! `assets/graphiql/LICENSES.txt`): it must work on machines without internet, so nothing
//! is loaded from a CDN.

use std::sync::OnceLock;

use axum::Router;
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use gazette_domain::feeds::{Subject, feeds_of};

use chrono::Utc;
use sha2::{Digest, Sha256};

use crate::conditional::{self, Document};
use crate::html::escape;
use crate::state::AppState;

/// Where GraphQL requests and subscriptions go; the page resolves them against its own URL.
pub const GRAPHQL_PATH: &str = "/graphql";
/// Where the playground is; `/` redirects here.
pub const PLAYGROUND_PATH: &str = "/graphiql";
pub const SUBSCRIPTIONS_PATH: &str = "/graphql/ws";

/// The vendored versions are part of the asset URLs, so browsers may cache them forever.
const ASSETS_PREFIX: &str = "/graphiql/assets/3.9.0";

const DEFAULT_QUERY: &str = r#"# Welcome to Gazette. Press the ▶ button to run this query.
{
  post(slug: "the-implementation-of-enterprise-2-0-by-government-departments") {
    title
    publishedAt
    url
    excerpt
  }
}
"#;

struct Asset {
    cache_control: &'static str,
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const VENDORED: &str = "public, max-age=31536000, immutable";
/// Our own start-up script changes between Gazette versions: revalidate it.
const OURS: &str = "no-cache";

const ASSETS: &[Asset] = &[
    Asset {
        cache_control: VENDORED,
        name: "graphiql.min.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../assets/graphiql/graphiql.min.css"),
    },
    Asset {
        cache_control: VENDORED,
        name: "graphiql.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/graphiql/graphiql.min.js"),
    },
    Asset {
        cache_control: VENDORED,
        name: "react.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/graphiql/react.production.min.js"),
    },
    Asset {
        cache_control: VENDORED,
        name: "react-dom.production.min.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/graphiql/react-dom.production.min.js"),
    },
    Asset {
        cache_control: OURS,
        name: "gazette-graphiql.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../assets/gazette-graphiql.js"),
    },
];

/// The playground's page.
pub fn routes() -> Router<AppState> {
    Router::new().route(PLAYGROUND_PATH, get(page))
}

/// Its static files, gzipped once ahead of time (with validators, as the feeds are):
/// served outside the compression layer, whose gzip state per answer (about 0.4 MB) a
/// client that does not read held for as long as its connection lived, uncounted (a probe
/// held 200 MB with 512 such connections).
pub fn asset_routes() -> Router<AppState> {
    Router::new().route(&format!("{ASSETS_PREFIX}/{{name}}"), get(asset))
}

/// The assets as documents to serve, made once, on the first request for one.
static ASSET_DOCUMENTS: OnceLock<Vec<Document>> = OnceLock::new();

fn asset_documents() -> Vec<Document> {
    let since = Utc::now();
    ASSETS
        .iter()
        .map(|asset| {
            let hash = hex(&Sha256::digest(asset.body)[..16]);
            Document::new(
                Bytes::from_static(asset.body),
                asset.content_type,
                &hash,
                since,
                asset.cache_control,
            )
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

async fn page() -> Response {
    let feeds = feeds_of(Subject::Posts)
        .map(|route| {
            format!(
                r#"<link rel="alternate" type="{}" title="Posts ({})" href="{}">"#,
                route.format.media_type(),
                route.format.label(),
                route.route()
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Gazette · GraphiQL</title>
<link rel="stylesheet" href="{ASSETS_PREFIX}/graphiql.min.css">
{feeds}
<style>html, body {{ height: 100%; margin: 0; }} #graphiql {{ height: 100vh; }}</style>
</head>
<body>
<div id="graphiql" data-endpoint="{GRAPHQL_PATH}" data-subscription-endpoint="{SUBSCRIPTIONS_PATH}" data-default-query="{query}">Loading GraphiQL…</div>
<script src="{ASSETS_PREFIX}/react.production.min.js"></script>
<script src="{ASSETS_PREFIX}/react-dom.production.min.js"></script>
<script src="{ASSETS_PREFIX}/graphiql.min.js"></script>
<script src="{ASSETS_PREFIX}/gazette-graphiql.js"></script>
</body>
</html>
"#,
        query = escape(DEFAULT_QUERY),
    );
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            // GraphiQL's editor sets inline styles and its fonts are data: URLs.
            "default-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; \
             img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'",
        )],
        Html(html),
    )
        .into_response()
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let Some(index) = ASSETS.iter().position(|asset| asset.name == name) else {
        return (StatusCode::NOT_FOUND, "No such GraphiQL asset.\n").into_response();
    };
    let documents = match ASSET_DOCUMENTS.get() {
        Some(documents) => documents,
        // Compressing a megabyte takes a while: not on the runtime's threads.
        None => match tokio::task::spawn_blocking(|| ASSET_DOCUMENTS.get_or_init(asset_documents))
            .await
        {
            Ok(documents) => documents,
            Err(_) => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        },
    };
    match documents.get(index) {
        Some(document) => conditional::respond(document, &headers),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
