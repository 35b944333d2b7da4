//! Conditional GET (RFC 9110 §13) for generated documents: strong ETags from content
//! hashes, Last-Modified from when the content last changed, 304 with no body on a match.
//!
//! A [`Document`] is prepared once per version (see the feed cache) and then served many
//! times: its body is shared bytes (a response clones a pointer, not 76 KB), its gzip
//! variant is compressed once rather than per request, and every header value is built
//! ahead. Each encoding is its own representation with its own strong ETag.

use std::io::Write;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::write::GzEncoder;

/// Bodies smaller than this are not worth a second, compressed copy.
const GZIP_MIN_BYTES: usize = 1024;

const HTTP_DATE: &str = "%a, %d %b %Y %H:%M:%S GMT";

/// A generated document as the HTTP layer serves it.
#[derive(Debug, Clone)]
pub struct Document {
    identity: Representation,
    gzip: Option<Representation>,
    content_type: HeaderValue,
    content_hash: String,
    last_modified: HeaderValue,
    modified_at: DateTime<Utc>,
    cache_control: HeaderValue,
}

#[derive(Debug, Clone)]
struct Representation {
    body: Bytes,
    etag: HeaderValue,
}

impl Document {
    /// Prepares `body` for serving: its validators, and its gzip variant when it is large
    /// enough to gain from one. `content_hash` must be made of ETag characters (hex).
    pub fn new(
        body: impl Into<Bytes>,
        content_type: &str,
        content_hash: &str,
        modified_at: DateTime<Utc>,
        cache_control: &'static str,
    ) -> Self {
        let body = body.into();
        let etag = |suffix: &str| {
            HeaderValue::from_str(&format!("\"{content_hash}{suffix}\""))
                .unwrap_or_else(|_| HeaderValue::from_static("\"invalid\""))
        };
        let gzip = (body.len() >= GZIP_MIN_BYTES)
            .then(|| gzip(&body))
            .flatten()
            .map(|compressed| Representation {
                body: compressed,
                etag: etag("-gzip"),
            });
        Self {
            identity: Representation {
                body,
                etag: etag(""),
            },
            gzip,
            content_type: HeaderValue::from_str(content_type)
                .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
            content_hash: content_hash.to_owned(),
            last_modified: HeaderValue::from_str(&modified_at.format(HTTP_DATE).to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT")),
            modified_at,
            cache_control: HeaderValue::from_static(cache_control),
        }
    }

    /// The hash the document's ETags are made of.
    pub fn content_hash(&self) -> &str {
        &self.content_hash
    }

    /// The body as stored (no content coding).
    pub fn body(&self) -> &Bytes {
        &self.identity.body
    }
}

fn gzip(body: &[u8]) -> Option<Bytes> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4), Compression::best());
    encoder.write_all(body).ok()?;
    encoder.finish().ok().map(Bytes::from)
}

/// 304 when the request's validators match `document`, else 200 with it, gzipped when the
/// client accepts gzip and a gzip variant exists.
pub fn respond(document: &Document, request: &HeaderMap) -> Response {
    let chosen = match &document.gzip {
        Some(gzip) if accepts_gzip(request) => gzip,
        _ => &document.identity,
    };
    let not_modified = not_modified(document, request);
    let mut response = Response::new(if not_modified {
        Body::empty()
    } else {
        Body::from(chosen.body.clone())
    });
    let headers = response.headers_mut();
    headers.insert(header::ETAG, chosen.etag.clone());
    headers.insert(header::LAST_MODIFIED, document.last_modified.clone());
    headers.insert(header::CACHE_CONTROL, document.cache_control.clone());
    if document.gzip.is_some() {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if not_modified {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return response;
    }
    headers.insert(header::CONTENT_TYPE, document.content_type.clone());
    if std::ptr::eq(chosen, &document.identity) {
        return response;
    }
    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    response
}

/// Whether `Accept-Encoding` lists gzip (or `*`) with a non-zero quality.
fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|param| {
                param
                    .trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

fn not_modified(document: &Document, request: &HeaderMap) -> bool {
    // If-None-Match wins over If-Modified-Since when both are sent.
    if let Some(candidates) = request.get(header::IF_NONE_MATCH) {
        let Ok(candidates) = candidates.to_str() else {
            return false;
        };
        let ours = |candidate: &str| {
            candidate.as_bytes() == document.identity.etag.as_bytes()
                || document
                    .gzip
                    .as_ref()
                    .is_some_and(|gzip| candidate.as_bytes() == gzip.etag.as_bytes())
        };
        // Weak comparison, as the spec asks for If-None-Match; a client that cached either
        // encoding holds the current content.
        return candidates
            .split(',')
            .map(str::trim)
            .any(|candidate| candidate == "*" || ours(candidate.trim_start_matches("W/")));
    }
    let Some(since) = request
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| DateTime::parse_from_rfc2822(value).ok())
    else {
        return false;
    };
    // A date after the server's clock is invalid (RFC 7232, 3.3): a reader whose clock runs
    // ahead would otherwise be told "not modified" about every change until it catches up.
    if since.timestamp() > Utc::now().timestamp() {
        return false;
    }
    // HTTP dates have whole seconds.
    document.modified_at.timestamp() <= since.timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn document() -> Document {
        Document::new(
            "<rss/>",
            "application/rss+xml; charset=utf-8",
            "abc",
            Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
                .single()
                .expect("valid date")
                + chrono::Duration::milliseconds(250),
            "public, max-age=60",
        )
    }

    fn request(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).expect("header value"));
        headers
    }

    #[test]
    fn matching_etags_are_not_modified() {
        let doc = document();
        assert_eq!(
            respond(&doc, &request(header::IF_NONE_MATCH, "\"abc\"")).status(),
            304
        );
        assert_eq!(
            respond(&doc, &request(header::IF_NONE_MATCH, "\"x\", W/\"abc\"")).status(),
            304
        );
        assert_eq!(
            respond(&doc, &request(header::IF_NONE_MATCH, "*")).status(),
            304
        );
        assert_eq!(
            respond(&doc, &request(header::IF_NONE_MATCH, "\"other\"")).status(),
            200
        );
    }

    #[test]
    fn dates_compare_in_whole_seconds() {
        let doc = document();
        let same_second = "Wed, 25 Nov 2026 10:00:00 GMT";
        let earlier = "Wed, 25 Nov 2026 09:59:59 GMT";
        assert_eq!(
            respond(&doc, &request(header::IF_MODIFIED_SINCE, same_second)).status(),
            304
        );
        assert_eq!(
            respond(&doc, &request(header::IF_MODIFIED_SINCE, earlier)).status(),
            200
        );
        assert_eq!(
            respond(&doc, &request(header::IF_MODIFIED_SINCE, "garbage")).status(),
            200
        );
    }

    #[test]
    fn a_date_after_the_servers_clock_is_ignored() {
        let doc = document();
        let tomorrow = (Utc::now() + chrono::Duration::days(1)).to_rfc2822();
        assert_eq!(
            respond(&doc, &request(header::IF_MODIFIED_SINCE, &tomorrow)).status(),
            200
        );
    }

    #[test]
    fn etag_beats_date() {
        let doc = document();
        let mut headers = request(header::IF_NONE_MATCH, "\"other\"");
        headers.insert(
            header::IF_MODIFIED_SINCE,
            HeaderValue::from_static("Wed, 25 Nov 2026 10:00:00 GMT"),
        );
        assert_eq!(respond(&doc, &headers).status(), 200);
    }

    #[test]
    fn full_responses_carry_validators() {
        let response = respond(&document(), &HeaderMap::new());
        assert_eq!(response.status(), 200);
        let headers = response.headers();
        assert_eq!(headers[header::ETAG], "\"abc\"");
        assert_eq!(
            headers[header::LAST_MODIFIED],
            "Wed, 25 Nov 2026 10:00:00 GMT"
        );
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/rss+xml; charset=utf-8"
        );
    }

    fn large() -> Document {
        let body = "<rss><item>A feed item that repeats.</item></rss>".repeat(100);
        Document::new(body, "application/rss+xml", "def", Utc::now(), "public")
    }

    async fn body_of(response: Response) -> Vec<u8> {
        axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec()
    }

    #[tokio::test]
    async fn gzip_is_served_precompressed_to_clients_that_accept_it() {
        let doc = large();
        let response = respond(&doc, &request(header::ACCEPT_ENCODING, "br, gzip;q=0.8"));
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(response.headers()[header::ETAG], "\"def-gzip\"");
        assert_eq!(response.headers()[header::VARY], "accept-encoding");
        let compressed = body_of(response).await;
        assert!(compressed.len() < doc.body().len() / 4);
        let mut plain = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::GzDecoder::new(compressed.as_slice()),
            &mut plain,
        )
        .expect("valid gzip");
        assert_eq!(plain, doc.body().to_vec());

        for refusing in ["identity", "gzip;q=0", "deflate"] {
            let response = respond(&doc, &request(header::ACCEPT_ENCODING, refusing));
            assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
            assert_eq!(response.headers()[header::ETAG], "\"def\"");
            assert_eq!(body_of(response).await, doc.body().to_vec());
        }
    }

    #[test]
    fn either_encodings_etag_revalidates() {
        let doc = large();
        for etag in ["\"def\"", "\"def-gzip\"", "W/\"def-gzip\""] {
            let mut headers = request(header::IF_NONE_MATCH, etag);
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
            let response = respond(&doc, &headers);
            assert_eq!(response.status(), 304, "{etag}");
            assert_eq!(response.headers()[header::ETAG], "\"def-gzip\"");
        }
        assert_eq!(
            respond(&doc, &request(header::IF_NONE_MATCH, "\"def-br\"")).status(),
            200
        );
    }

    #[test]
    fn small_documents_have_one_representation() {
        let response = respond(&document(), &request(header::ACCEPT_ENCODING, "gzip"));
        assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
        assert!(response.headers().get(header::VARY).is_none());
    }
}
