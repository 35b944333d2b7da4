//! Who a client is, for per-client limits: an IP address, where one IPv6 network (/64)
//! counts as one client, since a single subscriber is usually given a whole /64 and can
//! pick any address in it.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// The key a client's limits are counted under: an IPv4 address, or an IPv6 /64 network.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey(String);

impl ClientKey {
    pub fn from_ip(ip: IpAddr) -> Self {
        // `::ffff:192.0.2.1` is the IPv4 client 192.0.2.1 on a dual-stack socket.
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self(v4.to_string()),
            IpAddr::V6(v6) => {
                let [a, b, c, d, ..] = v6.segments();
                let network = Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0);
                Self(format!("{network}/64"))
            }
        }
    }

    /// A fediverse actor (or any remote id): a digest of its id, which may be long.
    pub fn remote_actor(id: &str) -> Self {
        Self(format!("ap:{}", short_digest(id)))
    }

    /// A writer (by author id), for limits on what they send out.
    pub fn writer(author_id: i64) -> Self {
        Self(format!("writer:{author_id}"))
    }

    /// A fediverse instance, by its host.
    pub fn remote_instance(host: &str) -> Self {
        Self(format!("ap-host:{}", short_digest(host)))
    }

    /// The same client when a browser says another site's page sent the request: its
    /// refusals are counted apart.
    pub fn from_other_sites_page(&self) -> Self {
        Self(format!("{}|cross-site", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 128 bits of SHA-256 as hex: short enough for the rate limit's key column.
fn short_digest(text: &str) -> String {
    use sha2::{Digest as _, Sha256};
    hex::encode(&Sha256::digest(text.as_bytes())[..16])
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(address: &str) -> String {
        ClientKey::from_ip(address.parse().expect("an address")).0
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_network() {
        assert_eq!(key("203.0.113.9"), "203.0.113.9");
        assert_eq!(key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_eq!(key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff::1"), "2001:db8:1:2::/64");
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("::1"), "::/64");
    }
}
