/// Whether `text` is an absolute `http://` or `https://` URL with a host, no whitespace,
/// at most 2,048 bytes: what Gazette accepts where users give web addresses (so no
/// `javascript:` or `data:` links get in).
pub fn is_http_url(text: &str) -> bool {
    let host = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .and_then(|rest| rest.split(['/', '?', '#']).next())
        .filter(|host| !host.is_empty());
    host.is_some() && text.len() <= 2048 && !text.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::is_http_url;

    #[test]
    fn only_web_addresses_pass() {
        assert!(is_http_url("https://example.org/me"));
        assert!(is_http_url("http://localhost:8080"));
        for bad in [
            "javascript:alert(1)",
            "https://",
            "ftp://x.example",
            "https://a b",
            "data:text/html,x",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
        assert!(!is_http_url(&format!(
            "https://x.example/{}",
            "a".repeat(2048)
        )));
    }
}
