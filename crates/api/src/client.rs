//! Where a request comes from, for per-client limits.

use std::net::SocketAddr;

use axum::http::HeaderMap;

/// The peer's address; behind a trusted proxy (`trust_forwarded_for`), the address that
/// proxy saw, the last one in `X-Forwarded-For` (earlier entries are the client's to forge).
pub fn client_address(headers: &HeaderMap, peer: SocketAddr, trust_forwarded_for: bool) -> String {
    let forwarded = trust_forwarded_for
        .then(|| headers.get("x-forwarded-for")?.to_str().ok())
        .flatten()
        .and_then(|value| value.rsplit(',').next())
        .map(str::trim)
        .filter(|address| !address.is_empty() && address.len() <= 100);
    match forwarded {
        Some(address) => address.to_owned(),
        None => peer.ip().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let peer: SocketAddr = "10.0.0.5:4321".parse().expect("address");
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.9"),
        );
        assert_eq!(client_address(&headers, peer, false), "10.0.0.5");
        assert_eq!(client_address(&headers, peer, true), "203.0.113.9");
        assert_eq!(client_address(&HeaderMap::new(), peer, true), "10.0.0.5");
    }
}
