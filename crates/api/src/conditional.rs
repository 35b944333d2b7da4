//! Conditional GET (RFC 9110 §13) for generated documents: strong ETags from content
//! hashes, Last-Modified from when the content last changed, 304 with no body on a match.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

/// A generated document as the HTTP layer serves it.
#[derive(Debug, Clone)]
pub struct Document {
    pub body: String,
    pub content_type: String,
    pub content_hash: String,
    pub modified_at: DateTime<Utc>,
    pub cache_control: &'static str,
}

const HTTP_DATE: &str = "%a, %d %b %Y %H:%M:%S GMT";

/// 304 when the request's validators match `document`, else 200 with it.
pub fn respond(document: &Document, request: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", document.content_hash);
    let last_modified = document.modified_at.format(HTTP_DATE).to_string();
    let mut headers = HeaderMap::new();
    let mut set = |name, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    set(header::ETAG, &etag);
    set(header::LAST_MODIFIED, &last_modified);
    set(header::CACHE_CONTROL, document.cache_control);
    if not_modified(document, &etag, request) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    set(header::CONTENT_TYPE, &document.content_type);
    (StatusCode::OK, headers, document.body.clone()).into_response()
}

fn not_modified(document: &Document, etag: &str, request: &HeaderMap) -> bool {
    // If-None-Match wins over If-Modified-Since when both are sent.
    if let Some(candidates) = request.get(header::IF_NONE_MATCH) {
        let Ok(candidates) = candidates.to_str() else {
            return false;
        };
        return candidates.split(',').map(str::trim).any(|candidate| {
            // Weak comparison, as the spec asks for If-None-Match.
            candidate == "*" || candidate.trim_start_matches("W/") == etag
        });
    }
    let Some(since) = request
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| DateTime::parse_from_rfc2822(value).ok())
    else {
        return false;
    };
    // HTTP dates have whole seconds.
    document.modified_at.timestamp() <= since.timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn document() -> Document {
        Document {
            body: "<rss/>".to_owned(),
            content_type: "application/rss+xml; charset=utf-8".to_owned(),
            content_hash: "abc".to_owned(),
            modified_at: Utc
                .with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
                .single()
                .expect("valid date")
                + chrono::Duration::milliseconds(250),
            cache_control: "public, max-age=60",
        }
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
}
