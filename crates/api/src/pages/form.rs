//! A page's form, read within the same bounds as GraphQL's bodies ([`crate::bodies`]): its
//! size, the time it may take to arrive, and what all bodies being read at once, and one
//! client's, may hold. axum's `Form` read each form whole with only a size limit, so 128
//! connections from one address trickling forms held 20 MB until the request timeout.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, Form, FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::bodies::{self, BodyRefused};
use crate::client::client_key;
use crate::state::AppState;

/// The most a page's form may send: a comment's 10,000 characters, percent-encoded at up
/// to 12 bytes each, and the other fields.
pub const FORM_BODY_LIMIT: usize = 160 * 1024;

/// A form's fields, read within bounds.
pub struct PageForm<T>(pub T);

/// Why a form was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormRefused {
    TooLarge,
    Busy,
    TimedOut,
    /// Broken off, not a form, or fields that do not parse.
    Unreadable,
}

impl FormRefused {
    pub fn status(self) -> StatusCode {
        match self {
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
            Self::TimedOut => StatusCode::REQUEST_TIMEOUT,
            Self::Unreadable => StatusCode::BAD_REQUEST,
        }
    }

    /// A sentence for the page that says so.
    pub fn sentence(self) -> &'static str {
        match self {
            Self::TooLarge => "Nothing was posted: the form sent more than a form may hold.",
            Self::Busy => {
                "Nothing was posted: the server is reading many large requests now. Send the form again in a few seconds."
            }
            Self::TimedOut => "Nothing was posted: the form did not arrive in time. Send it again.",
            Self::Unreadable => "Nothing was posted: the form could not be read.",
        }
    }
}

/// Handlers take the refusal as a `Result` and answer with their own page; this is the
/// answer of a handler that does not.
impl IntoResponse for FormRefused {
    fn into_response(self) -> Response {
        (self.status(), format!("{}\n", self.sentence())).into_response()
    }
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for PageForm<T> {
    type Rejection = FormRefused;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, FormRefused> {
        let (parts, body) = request.into_parts();
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<usize>().ok());
        if declared.is_some_and(|length| length > FORM_BODY_LIMIT) {
            return Err(FormRefused::TooLarge);
        }
        // The listener gives every request its peer; without one (never in a server) the
        // form is charged to the unspecified address's share.
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            |ConnectInfo(peer)| *peer,
        );
        let client = client_key(&parts.headers, peer, state.config.trusted_proxy_hops);
        let bytes = bodies::read(body, FORM_BODY_LIMIT, &state.body_budget(&client))
            .await
            .map_err(|refused| match refused {
                BodyRefused::TooLarge => FormRefused::TooLarge,
                BodyRefused::Busy => FormRefused::Busy,
                BodyRefused::TimedOut => FormRefused::TimedOut,
                BodyRefused::Broken => FormRefused::Unreadable,
            })?;
        // axum's `Form` decodes leniently (`%ZZ` stays as sent, bytes that are no UTF-8
        // become U+FFFD): such a form is refused, not stored mangled.
        if !well_encoded(&bytes) {
            return Err(FormRefused::Unreadable);
        }
        // axum's `Form` checks the media type and parses the fields, from the bytes read.
        let request = Request::from_parts(parts, Body::from(bytes));
        let Form(fields) = Form::<T>::from_request(request, &())
            .await
            .map_err(|_| FormRefused::Unreadable)?;
        Ok(Self(fields))
    }
}

/// Whether a form body decodes exactly: every `%` starts two hex digits, and what the
/// fields decode to is UTF-8. Checked on the whole body at once: the separators (`&`,
/// `=`) are ASCII, which no UTF-8 sequence runs across, so a field that is no UTF-8 on
/// its own makes the whole no UTF-8.
fn well_encoded(body: &[u8]) -> bool {
    let mut decoded = Vec::with_capacity(body.len());
    let mut bytes = body.iter().copied();
    while let Some(byte) = bytes.next() {
        match byte {
            b'%' => {
                let high = bytes.next().and_then(|digit| (digit as char).to_digit(16));
                let low = bytes.next().and_then(|digit| (digit as char).to_digit(16));
                let (Some(high), Some(low)) = (high, low) else {
                    return false;
                };
                // Two hex digits are at most 255.
                decoded.push((high * 16 + low) as u8);
            }
            b'+' => decoded.push(b' '),
            other => decoded.push(other),
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

#[cfg(test)]
mod tests {
    use super::well_encoded;

    #[test]
    fn forms_decode_exactly_or_are_refused() {
        for good in [
            &b""[..],
            b"name=Ann&body=hi+there",
            b"body=%C3%A9t%C3%A9%20%26%3D%2B",
            "body=\u{e9}t\u{e9}".as_bytes(),
            b"empty=&flag",
        ] {
            assert!(well_encoded(good), "{}", String::from_utf8_lossy(good));
        }
        for bad in [
            &b"name=%ZZ"[..],
            b"body=%",
            b"body=%4",
            b"name=%C3%28",
            b"a=%C3&b=%A9",
            b"body=\xff",
        ] {
            assert!(!well_encoded(bad), "{}", String::from_utf8_lossy(bad));
        }
    }
}
