//! Outgoing webhooks, as the Standard Webhooks specification (1.0) describes them: the
//! endpoints admins manage, their secrets, the signature, the addresses Gazette refuses to
//! call, and when a failed delivery is tried again. Events come from the outbox
//! (migration 0016); the worker delivers them (`gazette_worker::webhooks`).
//!
//! Secrets are needed in clear to sign, so they cannot be stored as digests like API
//! tokens. Each is sealed with the site key (the edit-token key file, mode 0600, outside
//! the database): XORed with an HMAC-SHA256 keystream of the key over a random nonce kept
//! beside it, and a tag (an HMAC of both) that tells a secret sealed with another key.
//! A database dump, a backup or a replica alone cannot sign; the key file and the
//! database together can, as any process that delivers must.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, TimeDelta, Utc};
use gazette_store::PgPool;
use gazette_store::webhooks::{self, Delivery, Webhook};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::edit_tokens::EditTokenKey;
use crate::error::DomainError;
use crate::outbound::Purpose;
use crate::policy::Viewer;

/// What an endpoint can subscribe to, as receivers see it in `type`.
pub const EVENT_TYPES: [&str; 8] = [
    "post.published",
    "post.updated",
    "post.unpublished",
    "post.deleted",
    "comment.created",
    "comment.approved",
    "comment.unpublished",
    "comment.deleted",
];
const SECRET_PREFIX: &str = "whsec_";
const SECRET_BYTES: usize = 32;
const NONCE_BYTES: usize = 16;
const TAG_BYTES: usize = 16;
const SEAL_PURPOSE: &[u8] = b"webhook-secret:";
const TAG_PURPOSE: &[u8] = b"webhook-secret-tag:";
/// The most endpoints a site may have (they are listed whole in `webhooks`).
pub const MAX_WEBHOOKS: usize = 50;
/// How long the old secret still signs after a rotation.
pub const ROTATION_GRACE: TimeDelta = TimeDelta::hours(24);
/// An endpoint whose deliveries all failed for this long is disabled.
pub const DISABLE_AFTER_FAILING: Duration = Duration::from_secs(5 * 24 * 60 * 60);
const MAX_DESCRIPTION_CHARS: usize = 500;
const MAX_URL_BYTES: usize = 2048;

/// Which endpoints Gazette may call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EndpointRules {
    /// `http://` endpoints as well as `https://` (`--webhooks-allow-http`).
    pub allow_http: bool,
    /// Loopback, private, link-local and metadata addresses (`--webhooks-allow-private`).
    pub allow_private: bool,
}

/// A new signing secret: `whsec_` and the base64 of 32 random bytes, as the spec writes
/// them.
fn new_secret() -> Result<[u8; SECRET_BYTES], DomainError> {
    let mut secret = [0u8; SECRET_BYTES];
    getrandom::fill(&mut secret)
        .map_err(|error| DomainError::Internal(format!("no randomness: {error}").into()))?;
    Ok(secret)
}

/// The secret as an admin copies it.
pub fn secret_text(secret: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", STANDARD.encode(secret))
}

fn keystream(key: &EditTokenKey, nonce: &[u8]) -> [u8; SECRET_BYTES] {
    key.mac_for(SEAL_PURPOSE, nonce)
        .finalize()
        .into_bytes()
        .into()
}

/// The secret sealed for storage: a fresh nonce, the secret XORed with the keystream,
/// and the tag of both.
pub fn seal(key: &EditTokenKey, secret: &[u8; SECRET_BYTES]) -> Result<Vec<u8>, DomainError> {
    let mut nonce = [0u8; NONCE_BYTES];
    getrandom::fill(&mut nonce)
        .map_err(|error| DomainError::Internal(format!("no randomness: {error}").into()))?;
    let stream = keystream(key, &nonce);
    let mut sealed = nonce.to_vec();
    sealed.extend(secret.iter().zip(stream).map(|(byte, mask)| byte ^ mask));
    let tag = key.mac_for(TAG_PURPOSE, &sealed).finalize().into_bytes();
    sealed.extend_from_slice(&tag[..TAG_BYTES]);
    Ok(sealed)
}

/// The secret from its sealed form; `None` when it was sealed with another key (or
/// altered).
pub fn open(key: &EditTokenKey, sealed: &[u8]) -> Option<[u8; SECRET_BYTES]> {
    if sealed.len() != NONCE_BYTES + SECRET_BYTES + TAG_BYTES {
        return None;
    }
    let (body, tag) = sealed.split_at(NONCE_BYTES + SECRET_BYTES);
    key.mac_for(TAG_PURPOSE, body)
        .verify_truncated_left(tag)
        .ok()?;
    let (nonce, masked) = body.split_at(NONCE_BYTES);
    let stream = keystream(key, nonce);
    let mut secret = [0u8; SECRET_BYTES];
    for ((out, byte), mask) in secret.iter_mut().zip(masked).zip(stream) {
        *out = byte ^ mask;
    }
    Some(secret)
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for one secret.
pub fn signature(secret: &[u8], message_id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(message_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header for an endpoint: its secret's signature, and during a
/// rotation's grace period the previous secret's too (space-separated, as the spec allows).
pub fn signatures(
    key: &EditTokenKey,
    webhook: &Webhook,
    message_id: &str,
    timestamp: i64,
    body: &[u8],
    now: DateTime<Utc>,
) -> Option<String> {
    let current = open(key, &webhook.secret_sealed)?;
    let mut header = signature(&current, message_id, timestamp, body);
    let previous = webhook
        .previous_secret_sealed
        .as_deref()
        .filter(|_| {
            webhook
                .previous_secret_until
                .is_some_and(|until| until > now)
        })
        .and_then(|sealed| open(key, sealed));
    if let Some(previous) = previous {
        header.push(' ');
        header.push_str(&signature(&previous, message_id, timestamp, body));
    }
    Some(header)
}

/// Whether an address is one Gazette must not call for a webhook: loopback, private,
/// shared (CGNAT), link-local (cloud metadata lives there), unspecified, multicast,
/// broadcast, documentation and other reserved ranges.
pub fn is_forbidden_address(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
                // IETF protocol assignments (192.0.0.0/24).
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let [first, second, ..] = segments;
    let embedded = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local (fc00::/7), link-local (fe80::/10), site-local (fec0::/10).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // Documentation (2001:db8::/32, 3fff::/20), discard-only (100::/64).
        || (first == 0x2001 && second == 0x0db8)
        || (first & 0xfff0) == 0x3ff0
        || (first == 0x0100 && segments[1..4] == [0, 0, 0])
        // Teredo (2001::/32): a tunnel to an IPv4 host Gazette cannot check.
        || (first == 0x2001 && second == 0)
        // 6to4 (2002::/16) of a forbidden IPv4 address.
        || (first == 0x2002 && forbidden_v4(embedded(second, segments[2])))
        // NAT64 (64:ff9b::/96, 64:ff9b:1::/48).
        || (first == 0x0064 && second == 0xff9b)
        // IPv4-translated (::ffff:0:a.b.c.d).
        || (segments[..6] == [0, 0, 0, 0, 0xffff, 0]
            && forbidden_v4(embedded(segments[6], segments[7])))
        // IPv4-compatible and -mapped forms of forbidden IPv4 addresses.
        || ip.to_ipv4().is_some_and(forbidden_v4)
}

/// Checks an endpoint address: a URL of an allowed scheme, without a user name or
/// password, whose host resolves only to addresses Gazette may call. Resolved again at
/// every delivery (a name may point elsewhere later).
pub async fn check_endpoint(url: &str, rules: EndpointRules) -> Result<url::Url, DomainError> {
    let bad = |message: &str| DomainError::bad_input("url", message);
    let url = url.trim();
    if url.contains(char::is_control) {
        return Err(bad("The address may not contain control characters."));
    }
    let too_long = || bad("The address must be a URL of at most 2,048 bytes (percent-encoded).");
    if url.len() > MAX_URL_BYTES {
        return Err(too_long());
    }
    let parsed = url::Url::parse(url).map_err(|_| bad("This is not a URL."))?;
    // What is stored, and sent to, is the normalised (percent-encoded) form.
    if parsed.as_str().len() > MAX_URL_BYTES {
        return Err(too_long());
    }
    if parsed.port() == Some(0) {
        return Err(bad("Port 0 is not a port an endpoint can listen on."));
    }
    match parsed.scheme() {
        "https" => {}
        "http" if rules.allow_http => {}
        "http" => {
            return Err(bad(
                "Webhook endpoints must be https:// addresses (http:// only with --webhooks-allow-http).",
            ));
        }
        _ => return Err(bad("Webhook endpoints must be https:// addresses.")),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("The address may not hold a user name or password."));
    }
    resolve_allowed(&parsed, rules, Purpose::Outbound).await?;
    Ok(parsed)
}

/// The addresses `url`'s host resolves to, all of which Gazette may call.
pub async fn resolve_allowed(
    url: &url::Url,
    rules: EndpointRules,
    purpose: Purpose,
) -> Result<Vec<std::net::SocketAddr>, DomainError> {
    let bad = |message: String| DomainError::bad_input("url", message);
    let port = url.port_or_known_default().unwrap_or(443);
    let addresses: Vec<std::net::SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![(IpAddr::V4(ip), port).into()],
        Some(url::Host::Ipv6(ip)) => vec![(IpAddr::V6(ip), port).into()],
        Some(url::Host::Domain(name)) => crate::outbound::lookup(purpose, name, port)
            .await
            .map_err(|_| bad(format!("The host {name} cannot be resolved.")))?,
        None => return Err(bad("The address has no host.".to_owned())),
    };
    if addresses.is_empty() {
        return Err(bad("The host has no address.".to_owned()));
    }
    // The address itself is not named: an admin learns nothing of internal names.
    if !rules.allow_private
        && addresses
            .iter()
            .any(|address| is_forbidden_address(address.ip()))
    {
        return Err(bad(
            "The endpoint is (or resolves to) a loopback, private, link-local or reserved address, which webhooks may not call (--webhooks-allow-private allows it).".to_owned(),
        ));
    }
    Ok(addresses)
}

/// When a failed delivery is tried again: the delays between attempts (the first attempt
/// is at once). After the `attempts`-th attempt failed, the `attempts`-th delay with ±10%
/// jitter (never sooner than `retry_after`, the receiver's `Retry-After`, up to a day), or
/// `None` when the schedule is used up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<Duration>);

impl Default for RetrySchedule {
    /// The spec's example: at once, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
    /// 20 h and 24 h.
    fn default() -> Self {
        let minutes = |m: u64| Duration::from_secs(m * 60);
        Self(vec![
            Duration::from_secs(5),
            minutes(5),
            minutes(30),
            minutes(120),
            minutes(300),
            minutes(600),
            minutes(840),
            minutes(1200),
            minutes(1440),
        ])
    }
}

impl RetrySchedule {
    pub fn next_delay(&self, attempts: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
        let base = *self.0.get(index)?;
        let mut jitter = [0u8; 2];
        let _ = getrandom::fill(&mut jitter);
        // 0.9 to 1.1 of the delay.
        let factor = 0.9 + f64::from(u16::from_be_bytes(jitter)) / f64::from(u16::MAX) * 0.2;
        let delay = base.mul_f64(factor);
        let floor = retry_after
            .unwrap_or_default()
            .min(Duration::from_secs(24 * 60 * 60));
        Some(delay.max(floor))
    }
}

/// What an admin gives for a new endpoint, or changes.
#[derive(Debug, Clone, Default)]
pub struct EndpointInput {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
}

/// A new endpoint and its secret, shown this once.
#[derive(Debug, Clone)]
pub struct CreatedWebhook {
    pub webhook: Webhook,
    pub secret: String,
}

fn check_events(events: &[String]) -> Result<Vec<String>, DomainError> {
    let mut checked: Vec<String> = Vec::new();
    for event in events {
        if !EVENT_TYPES.contains(&event.as_str()) {
            return Err(DomainError::bad_input(
                "events",
                format!(
                    "`{event}` is not an event type; use {}.",
                    EVENT_TYPES.join(", ")
                ),
            ));
        }
        if !checked.contains(event) {
            checked.push(event.clone());
        }
    }
    if checked.is_empty() {
        return Err(DomainError::bad_input(
            "events",
            "Subscribe to at least one event type.",
        ));
    }
    Ok(checked)
}

fn check_description(description: &str) -> Result<String, DomainError> {
    let description = description.trim();
    if description.chars().count() > MAX_DESCRIPTION_CHARS || description.contains(char::is_control)
    {
        return Err(DomainError::bad_input(
            "description",
            "The description may have at most 500 characters, without control characters.",
        ));
    }
    Ok(description.to_owned())
}

/// The admin use cases behind GraphQL's webhook fields.
pub struct Endpoints<'a> {
    pub pool: &'a PgPool,
    pub key: &'a EditTokenKey,
    pub rules: EndpointRules,
    pub viewer: &'a Viewer,
}

impl Endpoints<'_> {
    fn admin(&self) -> Result<(), DomainError> {
        self.viewer.require_admin("manage webhooks").map(|_| ())
    }

    pub async fn all(&self) -> Result<Vec<Webhook>, DomainError> {
        self.admin()?;
        Ok(webhooks::all(self.pool).await?)
    }

    pub async fn create(&self, input: EndpointInput) -> Result<CreatedWebhook, DomainError> {
        self.admin()?;
        let url = check_endpoint(input.url.as_deref().unwrap_or_default(), self.rules).await?;
        let events = check_events(input.events.as_deref().unwrap_or_default())?;
        let description = check_description(input.description.as_deref().unwrap_or_default())?;
        if webhooks::count(self.pool).await? >= MAX_WEBHOOKS as i64 {
            return Err(DomainError::bad_input(
                "url",
                format!("A site may have {MAX_WEBHOOKS} webhooks; delete one first."),
            ));
        }
        let secret = new_secret()?;
        let sealed = seal(self.key, &secret)?;
        let webhook =
            webhooks::create(self.pool, url.as_str(), &description, &events, &sealed).await?;
        Ok(CreatedWebhook {
            webhook,
            secret: secret_text(&secret),
        })
    }

    pub async fn update(&self, id: i64, input: EndpointInput) -> Result<Webhook, DomainError> {
        self.admin()?;
        let url = match input.url.as_deref() {
            Some(url) => Some(check_endpoint(url, self.rules).await?.to_string()),
            None => None,
        };
        let events = input.events.as_deref().map(check_events).transpose()?;
        let description = input
            .description
            .as_deref()
            .map(check_description)
            .transpose()?;
        webhooks::update(
            self.pool,
            id,
            url.as_deref(),
            description.as_deref(),
            events.as_deref(),
        )
        .await?
        .ok_or_else(not_found)
    }

    pub async fn delete(&self, id: i64) -> Result<(), DomainError> {
        self.admin()?;
        match webhooks::delete(self.pool, id).await? {
            true => Ok(()),
            false => Err(not_found()),
        }
    }

    /// A new secret, shown once; the old one signs too for [`ROTATION_GRACE`].
    pub async fn rotate_secret(&self, id: i64) -> Result<CreatedWebhook, DomainError> {
        self.admin()?;
        let secret = new_secret()?;
        let sealed = seal(self.key, &secret)?;
        let webhook = webhooks::rotate_secret(self.pool, id, &sealed, Utc::now() + ROTATION_GRACE)
            .await?
            .ok_or_else(not_found)?;
        Ok(CreatedWebhook {
            webhook,
            secret: secret_text(&secret),
        })
    }

    pub async fn set_enabled(&self, id: i64, enabled: bool) -> Result<Webhook, DomainError> {
        self.admin()?;
        webhooks::set_enabled(self.pool, id, enabled, Some("admin"))
            .await?
            .ok_or_else(not_found)
    }

    pub async fn redeliver(&self, id: i64, event_id: i64) -> Result<Delivery, DomainError> {
        self.admin()?;
        webhooks::find(self.pool, id).await?.ok_or_else(not_found)?;
        webhooks::redeliver(self.pool, id, event_id)
            .await?
            .ok_or_else(|| {
                DomainError::not_found("This endpoint was never sent an event with this id.")
            })
    }

    /// Queues a `webhook.test` event for this endpoint only.
    pub async fn send_test(&self, id: i64) -> Result<Delivery, DomainError> {
        self.admin()?;
        let webhook = webhooks::find(self.pool, id).await?.ok_or_else(not_found)?;
        let data = format!(
            "{{\"webhook\":{{\"databaseId\":{}}},\"message\":\"A test event from Gazette.\"}}",
            webhook.id
        );
        Ok(webhooks::queue_test(self.pool, webhook.id, &data).await?)
    }

    /// The latest deliveries of each of `ids`, newest first.
    pub async fn recent_deliveries(
        &self,
        ids: &[i64],
        per_webhook: i64,
    ) -> Result<Vec<Delivery>, DomainError> {
        self.admin()?;
        Ok(webhooks::recent_deliveries(self.pool, ids, per_webhook).await?)
    }
}

fn not_found() -> DomainError {
    DomainError::not_found("There is no webhook with this id.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_with_their_key_only() {
        let key = EditTokenKey::generate().expect("key");
        let secret = [7u8; SECRET_BYTES];
        let sealed = seal(&key, &secret).expect("sealed");
        assert!(!sealed.windows(SECRET_BYTES).any(|window| window == secret));
        assert_eq!(open(&key, &sealed), Some(secret));
        let other = EditTokenKey::generate().expect("key");
        assert_eq!(
            open(&other, &sealed),
            None,
            "another key is told, not trusted"
        );
        let mut altered = sealed.clone();
        altered[20] ^= 1;
        assert_eq!(open(&key, &altered), None);
        assert_ne!(
            seal(&key, &secret).expect("sealed"),
            sealed,
            "a fresh nonce each time"
        );
        assert!(secret_text(&secret).starts_with("whsec_"));
    }

    /// The example of the Standard Webhooks reference libraries' tests; the expected value
    /// is what the reference implementation (`standardwebhooks` 1.3.0 from PyPI,
    /// `Webhook("whsec_MfKQ…").sign(id, time, body)`) prints for these inputs.
    #[test]
    fn signatures_match_the_reference_example() {
        let secret = STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .expect("base64");
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn private_and_reserved_addresses_are_forbidden() {
        for forbidden in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "224.0.0.1",
            "192.0.0.8",
            "2002:7f00:1::",
            "2002:a9fe:a9fe::",
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "::ffff:0:127.0.0.1",
            "fec0::1",
            "100::1",
            "3fff::1",
            "64:ff9b::a00:1",
        ] {
            assert!(
                is_forbidden_address(forbidden.parse().expect("ip")),
                "{forbidden}"
            );
        }
        for allowed in [
            "93.184.215.14",
            "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
            "8.8.8.8",
            "192.0.1.1",
            "2002:808:808::",
        ] {
            assert!(
                !is_forbidden_address(allowed.parse().expect("ip")),
                "{allowed}"
            );
        }
    }

    #[tokio::test]
    async fn endpoints_must_be_https_public_and_without_credentials() {
        let strict = EndpointRules::default();
        for (url, says) in [
            ("http://example.com/hook", "https://"),
            ("ftp://example.com/", "https://"),
            ("https://user:pw@example.com/", "user name"),
            ("https://127.0.0.1/hook", "loopback"),
            ("https://[::1]/hook", "loopback"),
            ("https://169.254.169.254/latest", "link-local"),
            ("https://localhost/hook", "loopback"),
            ("not a url", "not a URL"),
            ("https://8.8.8.8:0/", "Port 0"),
            ("https://hooks.example/\tx", "control characters"),
        ] {
            match check_endpoint(url, strict).await {
                Err(DomainError::BadUserInput { message, .. }) => {
                    assert!(message.contains(says), "{url}: {message}");
                }
                other => panic!("{url}: {other:?}"),
            }
        }
        let testing = EndpointRules {
            allow_http: true,
            allow_private: true,
        };
        assert!(
            check_endpoint("http://127.0.0.1:9/hook", testing)
                .await
                .is_ok()
        );
        // Short as typed, too long once percent-encoded as it is stored.
        let encoded = format!("https://8.8.8.8/{}", "é".repeat(1000));
        match check_endpoint(&encoded, strict).await {
            Err(DomainError::BadUserInput { message, .. }) => assert!(message.contains("2,048")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retries_follow_the_schedule_with_jitter_and_retry_after() {
        let schedule = RetrySchedule::default();
        let second = schedule.next_delay(1, None).expect("a retry");
        assert!((4_500..=5_500).contains(&second.as_millis()), "{second:?}");
        let waited = schedule
            .next_delay(1, Some(Duration::from_secs(60)))
            .expect("a retry");
        assert!(waited >= Duration::from_secs(60));
        assert_eq!(
            schedule.next_delay(10, None),
            None,
            "ten attempts, then it gives up"
        );
        assert!(schedule.next_delay(9, None).is_some());
        assert_eq!(schedule.next_delay(0, None), None);
    }
}
