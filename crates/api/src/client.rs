//! Where a request comes from, for per-client limits.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use gazette_domain::ClientKey;

/// The client's address: the peer's, or behind trusted proxies (`trusted_hops` > 0) the
/// address the outermost trusted proxy saw. Each proxy appends the address it received the
/// request from to `X-Forwarded-For` (several header lines count as one list, in order), so
/// with N trusted proxies the client is the N-th entry from the end; everything before it
/// is the client's to forge. An entry that is not an IP address (or a missing header) falls
/// back to the peer, never to something the client wrote.
pub fn client_ip(headers: &HeaderMap, peer: SocketAddr, trusted_hops: u32) -> IpAddr {
    if trusted_hops == 0 {
        return peer.ip();
    }
    let entries: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .collect();
    let hops = usize::try_from(trusted_hops).unwrap_or(usize::MAX);
    // Fewer entries than trusted proxies: the request skipped the outer ones, and the
    // first entry is the one the innermost proxy appended.
    let index = entries.len().saturating_sub(hops);
    entries
        .get(index)
        .and_then(|entry| parse_ip(entry))
        .unwrap_or_else(|| peer.ip())
}

/// The key a client's limits are counted under (IPv6 per /64).
pub fn client_key(headers: &HeaderMap, peer: SocketAddr, trusted_hops: u32) -> ClientKey {
    ClientKey::from_ip(client_ip(headers, peer, trusted_hops))
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1` or
/// `[2001:db8::1]:4711`.
fn parse_ip(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|address| address.ip()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(lines: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", HeaderValue::from_static(line));
        }
        headers
    }

    fn ip(address: &str) -> IpAddr {
        address.parse().expect("an address")
    }

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let peer: SocketAddr = "10.0.0.5:4321".parse().expect("address");
        let forged = headers(&["6.6.6.6, 203.0.113.9"]);
        assert_eq!(client_ip(&forged, peer, 0), ip("10.0.0.5"));
        assert_eq!(client_ip(&forged, peer, 1), ip("203.0.113.9"));
        assert_eq!(client_ip(&forged, peer, 2), ip("6.6.6.6"));
        assert_eq!(client_ip(&HeaderMap::new(), peer, 1), ip("10.0.0.5"));
    }

    #[test]
    fn the_proxy_appended_line_wins_over_a_forged_first_line() {
        let peer: SocketAddr = "10.0.0.5:4321".parse().expect("address");
        // The client sent its own header line; the proxy added another.
        let lines = headers(&["1.1.1.1", "203.0.113.9"]);
        assert_eq!(client_ip(&lines, peer, 1), ip("203.0.113.9"));
    }

    #[test]
    fn entries_are_parsed_as_addresses() {
        let peer: SocketAddr = "10.0.0.5:4321".parse().expect("address");
        assert_eq!(
            client_ip(&headers(&["[2001:db8::7]:443"]), peer, 1),
            ip("2001:db8::7")
        );
        assert_eq!(
            client_ip(&headers(&["192.0.2.1:80"]), peer, 1),
            ip("192.0.2.1")
        );
        assert_eq!(client_ip(&headers(&["unknown"]), peer, 1), ip("10.0.0.5"));
        assert_eq!(
            client_ip(&headers(&["x, 192.0.2.1 "]), peer, 1),
            ip("192.0.2.1")
        );
        assert_eq!(
            client_key(&headers(&["2001:db8:0:1::7"]), peer, 1).as_str(),
            "2001:db8:0:1::/64"
        );
    }
}
