//! Whether a browser request comes from the site's own pages (`Origin`), for the forms
//! and the WebSocket: the public URL's origin, or the origin the request was sent to when
//! that names the server by address (`127.0.0.1`, `[::1]`, a LAN address) or `localhost`.
//!
//! A request's own `Host` is not enough when it is a name: a page that points its own
//! name at the server (DNS rebinding) sends `Host` and `Origin` both naming itself, and
//! would pass as the site. No page can have an address or `localhost` as its origin
//! without being served from there, so those stay allowed, as the ways one reaches a
//! Gazette that has no `--public-url` yet.

use std::net::IpAddr;

/// Whether `origin` is the site's own: that of `public_url`, or `host` (the request's
/// `Host`) when that is an address or `localhost`.
pub fn is_own_origin(origin: &str, host: Option<&str>, public_url: &str) -> bool {
    let origin = origin.trim_end_matches('/');
    if origin.eq_ignore_ascii_case(origin_of(public_url)) {
        return true;
    }
    let Some(host) = host.filter(|host| !host.is_empty()) else {
        return false;
    };
    let names_server_by_address = {
        let name = host_name(host);
        name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
    };
    names_server_by_address
        && origin
            .split_once("://")
            .is_some_and(|(_, origin_host)| origin_host.eq_ignore_ascii_case(host))
}

/// `scheme://host[:port]` of a URL, without its path.
fn origin_of(url: &str) -> &str {
    let url = url.trim_end_matches('/');
    match url.find("://") {
        Some(scheme) => {
            let rest = &url[scheme + 3..];
            &url[..scheme + 3 + rest.find('/').unwrap_or(rest.len())]
        }
        None => url,
    }
}

/// The host of a `Host` header, without its port or an IPv6 address's brackets.
fn host_name(host: &str) -> &str {
    if let Some(bracketed) = host.strip_prefix('[') {
        return bracketed.split(']').next().unwrap_or_default();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|byte| byte.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PUBLIC: &str = "https://blog.example.org/";

    #[test]
    fn the_public_origin_is_the_sites() {
        assert!(is_own_origin("https://blog.example.org", None, PUBLIC));
        assert!(is_own_origin("https://BLOG.example.org", Some("x"), PUBLIC));
        assert!(is_own_origin(
            "https://blog.example.org",
            None,
            "https://blog.example.org/news/"
        ));
        assert!(!is_own_origin("https://evil.example", None, PUBLIC));
        assert!(!is_own_origin("http://blog.example.org", None, PUBLIC));
    }

    #[test]
    fn the_host_counts_only_when_it_is_an_address_or_localhost() {
        for host in [
            "127.0.0.1:8080",
            "[::1]:8080",
            "192.168.1.20:8080",
            "localhost:8080",
        ] {
            assert!(
                is_own_origin(&format!("http://{host}"), Some(host), PUBLIC),
                "{host}"
            );
        }
        // DNS rebinding: the page's own name, pointed at the server.
        assert!(!is_own_origin(
            "http://rebind.evil.example:8080",
            Some("rebind.evil.example:8080"),
            PUBLIC
        ));
        // An address the request was not sent to.
        assert!(!is_own_origin(
            "http://127.0.0.1:9999",
            Some("127.0.0.1:8080"),
            PUBLIC
        ));
        assert!(!is_own_origin("http://127.0.0.1:8080", Some(""), PUBLIC));
    }
}
