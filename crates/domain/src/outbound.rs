//! Gazette's requests to addresses others give it (webhook endpoints, fediverse actors and
//! inboxes): an HTTP client that will not reach loopback, private, link-local or metadata
//! addresses unless told to, that follows no redirect and uses no proxy.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::webhooks::is_forbidden_address;

/// A name that does not resolve this soon fails the request.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Only addresses Gazette may call: a name that resolves to a private address is refused
/// at connection time too, so a name cannot be pointed elsewhere between check and call.
struct PublicOnly {
    allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let lookup = tokio::net::lookup_host((name.as_str(), 0));
            let found: Vec<SocketAddr> = tokio::time::timeout(RESOLVE_TIMEOUT, lookup)
                .await
                .map_err(|_| format!("{} did not resolve in time", name.as_str()))??
                .filter(|address| allow_private || !is_forbidden_address(address.ip()))
                .collect();
            if found.is_empty() {
                return Err(
                    format!("{} resolves to no address Gazette may call", name.as_str()).into(),
                );
            }
            let addresses: Addrs = Box::new(found.into_iter());
            Ok(addresses)
        })
    }
}

/// A client for outside addresses: `timeout` per request, no redirects, no proxy (a proxy
/// would resolve names itself, past the resolver that refuses private addresses).
pub fn client(allow_private: bool, timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(gazette_syndication::GENERATOR)
        .dns_resolver(Arc::new(PublicOnly { allow_private }))
        .build()
}

/// Reads at most `limit` bytes of a response's body; `None` when it is longer.
pub async fn read_limited(mut response: reqwest::Response, limit: usize) -> Option<Vec<u8>> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return None;
    }
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        if body.len() + chunk.len() > limit {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

/// What a receiver that refused a delivery said: when to try again (`Retry-After` in
/// seconds), and the start of its answer as one line of text (at most 200 characters of
/// its first 4 KiB, without control characters), for the delivery's error.
pub async fn refusal(mut response: reqwest::Response) -> (Option<Duration>, String) {
    const ANSWER_BYTES: usize = 4096;
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut answer = Vec::new();
    while answer.len() < ANSWER_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
            _ => break,
        }
    }
    answer.truncate(ANSWER_BYTES);
    let excerpt = String::from_utf8_lossy(&answer)
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    (retry_after, excerpt)
}
