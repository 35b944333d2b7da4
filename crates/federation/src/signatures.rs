//! HTTP Signatures as the fediverse uses them (draft-cavage-http-signatures-12,
//! `rsa-sha256`, the `Signature` header), with the body's `Digest` (RFC 3230, SHA-256):
//! signing deliveries and verifying what arrives. Written here rather than taken from
//! `http-signature-normalization`, which is AGPL.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::sha2::{Digest as _, Sha256};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{PrivateKey, PublicKey};

/// What every delivery signs: the method and path, the host, the date and the body's digest.
pub const SIGNED_HEADERS: [&str; 4] = ["(request-target)", "host", "date", "digest"];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Signature header is malformed: {0}")]
    Malformed(&'static str),
    #[error("the signature uses {0}, and only rsa-sha256 (or hs2019 with an RSA key) is accepted")]
    Algorithm(String),
    #[error("the signature uses {0}, and only rsa-v1_5-sha256 is accepted")]
    MessageAlgorithm(String),
    #[error("the signature covers `{0}`, which the request does not have")]
    MissingHeader(String),
    #[error("the signature does not cover `{0}`, which it must")]
    Uncovered(&'static str),
    #[error("the signature does not match the request and the key")]
    Mismatch,
}

/// A request as it is signed: its method, path with query, and headers (names in any case).
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    pub target: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
}

impl Request<'_> {
    pub fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }

    /// The string the signature covers: each named header as `name: value`, one a line.
    pub fn signing_string(&self, names: &[&str]) -> Result<String, SignatureError> {
        let mut lines = Vec::with_capacity(names.len());
        for name in names {
            let name = name.to_ascii_lowercase();
            let value = match name.as_str() {
                "(request-target)" => {
                    format!("{} {}", self.method.to_ascii_lowercase(), self.target)
                }
                header => self
                    .header(header)
                    .ok_or_else(|| SignatureError::MissingHeader(header.to_owned()))?,
            };
            lines.push(format!("{name}: {value}"));
        }
        Ok(lines.join("\n"))
    }
}

/// `SHA-256=<base64>` of a body, for the `Digest` header.
pub fn digest(body: &[u8]) -> String {
    format!("SHA-256={}", STANDARD.encode(Sha256::digest(body)))
}

/// The `Signature` header for `request` over `names`, by the key `key_id` names.
pub fn sign(
    key: &PrivateKey,
    key_id: &str,
    request: &Request<'_>,
    names: &[&str],
) -> Result<String, SignatureError> {
    let signing_string = request.signing_string(names)?;
    let signature = SigningKey::<Sha256>::new(key.clone()).sign(signing_string.as_bytes());
    Ok(format!(
        "keyId=\"{key_id}\",algorithm=\"rsa-sha256\",headers=\"{}\",signature=\"{}\"",
        names.join(" "),
        STANDARD.encode(signature.to_bytes())
    ))
}

/// A `Signature` header's parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedSignature {
    pub key_id: String,
    pub algorithm: Option<String>,
    /// The covered headers, lowercase; `date` alone when the header names none.
    pub headers: Vec<String>,
    pub signature: Vec<u8>,
}

/// Reads a `Signature` header (also the parameters of `Authorization: Signature …`).
pub fn parse(header: &str) -> Result<ParsedSignature, SignatureError> {
    let header = header.trim();
    let header = header.strip_prefix("Signature ").unwrap_or(header);
    let (mut key_id, mut algorithm, mut headers, mut signature) = (None, None, None, None);
    let mut rest = header;
    while !rest.trim().is_empty() {
        let (name, after) = rest
            .trim_start_matches([' ', ','])
            .split_once('=')
            .ok_or(SignatureError::Malformed("a parameter has no value"))?;
        let after = after
            .strip_prefix('"')
            .ok_or(SignatureError::Malformed("a value is not quoted"))?;
        let (value, after) = after
            .split_once('"')
            .ok_or(SignatureError::Malformed("a quote is not closed"))?;
        match name.trim() {
            "keyId" => key_id = Some(value.to_owned()),
            "algorithm" => algorithm = Some(value.to_owned()),
            "headers" => {
                headers = Some(
                    value
                        .split_whitespace()
                        .map(str::to_ascii_lowercase)
                        .collect(),
                )
            }
            "signature" => {
                signature = Some(
                    STANDARD
                        .decode(value)
                        .map_err(|_| SignatureError::Malformed("the signature is not base64"))?,
                )
            }
            // `created`, `expires` and anything newer: not needed for rsa-sha256.
            _ => {}
        }
        rest = after;
    }
    Ok(ParsedSignature {
        key_id: key_id.ok_or(SignatureError::Malformed("keyId is missing"))?,
        algorithm,
        headers: headers.unwrap_or_else(|| vec!["date".to_owned()]),
        signature: signature.ok_or(SignatureError::Malformed("signature is missing"))?,
    })
}

/// Checks `signature` against `request` with the signer's public key. `required` names
/// the headers the signature must cover (a delivery's: the target, host, date, digest).
pub fn verify(
    key: &PublicKey,
    signature: &ParsedSignature,
    request: &Request<'_>,
    required: &[&'static str],
) -> Result<(), SignatureError> {
    match signature.algorithm.as_deref() {
        None | Some("rsa-sha256" | "hs2019") => {}
        Some(other) => return Err(SignatureError::Algorithm(other.to_owned())),
    }
    if let Some(missing) = required
        .iter()
        .find(|name| !signature.headers.iter().any(|covered| covered == *name))
    {
        return Err(SignatureError::Uncovered(missing));
    }
    let names: Vec<&str> = signature.headers.iter().map(String::as_str).collect();
    let signing_string = request.signing_string(&names)?;
    let parsed = Signature::try_from(signature.signature.as_slice())
        .map_err(|_| SignatureError::Mismatch)?;
    VerifyingKey::<Sha256>::new(key.clone())
        .verify(signing_string.as_bytes(), &parsed)
        .map_err(|_| SignatureError::Mismatch)
}

/// An RSA public key from the PEM an actor publishes: SPKI (`BEGIN PUBLIC KEY`, what
/// Mastodon and Fedify publish) or PKCS#1 (`BEGIN RSA PUBLIC KEY`).
pub fn public_key_from_pem(pem: &str) -> Option<PublicKey> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::pkcs8::DecodePublicKey;
    let pem = pem.trim();
    PublicKey::from_public_key_pem(pem)
        .or_else(|_| PublicKey::from_pkcs1_pem(pem))
        .ok()
}

/// An RFC 9421 signature (`Signature-Input` and `Signature`), one label's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSignature {
    pub key_id: String,
    /// The covered components as written (`"@method"`, `"content-digest"`…).
    pub components: Vec<String>,
    /// The signature parameters exactly as sent: the last line of the signature base.
    params: String,
    pub created: Option<i64>,
    pub expires: Option<i64>,
    signature: Vec<u8>,
}

impl MessageSignature {
    /// Whether it covers `component` (`@method`, `content-digest`…).
    pub fn covers(&self, component: &str) -> bool {
        self.components.iter().any(|covered| covered == component)
    }
}

/// Reads an RFC 9421 signature: the first label of `Signature-Input` with a value in
/// `Signature`.
pub fn parse_message_signature(
    input: &str,
    signature: &str,
) -> Result<MessageSignature, SignatureError> {
    for member in split_members(input) {
        let Some((label, params)) = member.split_once('=') else {
            continue;
        };
        let label = label.trim();
        let params = params.trim();
        let Some(value) = split_members(signature).find_map(|member| {
            let (name, value) = member.split_once('=')?;
            (name.trim() == label).then(|| value.trim().to_owned())
        }) else {
            continue;
        };
        let encoded = value
            .strip_prefix(':')
            .and_then(|value| value.strip_suffix(':'))
            .ok_or(SignatureError::Malformed(
                "the signature is not a byte sequence",
            ))?;
        let signature = STANDARD
            .decode(encoded)
            .map_err(|_| SignatureError::Malformed("the signature is not base64"))?;
        let list_end = params.find(')').filter(|_| params.starts_with('(')).ok_or(
            SignatureError::Malformed("the covered components are not a list"),
        )?;
        let components: Vec<String> = params[1..list_end]
            .split_whitespace()
            .map(|component| component.trim_matches('"').to_ascii_lowercase())
            .collect();
        let (mut key_id, mut alg, mut created, mut expires) = (None, None, None, None);
        for parameter in params[list_end + 1..].split(';').filter(|p| !p.is_empty()) {
            let (name, value) = parameter.split_once('=').unwrap_or((parameter, ""));
            let text = value.trim_matches('"').to_owned();
            match name.trim() {
                "keyid" => key_id = Some(text),
                "alg" => alg = Some(text),
                "created" => created = text.parse().ok(),
                "expires" => expires = text.parse().ok(),
                _ => {}
            }
        }
        if let Some(alg) = alg.filter(|alg| alg != "rsa-v1_5-sha256") {
            return Err(SignatureError::MessageAlgorithm(alg));
        }
        return Ok(MessageSignature {
            key_id: key_id.ok_or(SignatureError::Malformed("keyid is missing"))?,
            components,
            params: params.to_owned(),
            created,
            expires,
            signature,
        });
    }
    Err(SignatureError::Malformed(
        "Signature-Input names no signature that Signature holds",
    ))
}

/// The members of a structured-field dictionary, split at commas outside quotes and
/// parentheses.
fn split_members(text: &str) -> impl Iterator<Item = &str> {
    let mut members = Vec::new();
    let (mut depth, mut quoted, mut start) = (0u32, false, 0);
    for (index, character) in text.char_indices() {
        match character {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            ',' if !quoted && depth == 0 => {
                members.push(&text[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    members.push(&text[start..]);
    members
        .into_iter()
        .map(str::trim)
        .filter(|member| !member.is_empty())
}

/// Checks an RFC 9421 signature (`rsa-v1_5-sha256`) against `request`, whose full URL
/// (as the signer addressed it) is `target_uri`.
pub fn verify_message(
    key: &PublicKey,
    signature: &MessageSignature,
    request: &Request<'_>,
    target_uri: &str,
) -> Result<(), SignatureError> {
    let (scheme, rest) = target_uri
        .split_once("://")
        .ok_or(SignatureError::Malformed("the target is not a URL"))?;
    let (authority, path_query) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path_query = if path_query.is_empty() {
        "/"
    } else {
        path_query
    };
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let mut base = String::new();
    for component in &signature.components {
        let value = match component.as_str() {
            "@method" => request.method.to_ascii_uppercase(),
            "@target-uri" => target_uri.to_owned(),
            "@authority" => authority.to_ascii_lowercase(),
            "@scheme" => scheme.to_ascii_lowercase(),
            "@request-target" => path_query.to_owned(),
            "@path" => path.to_owned(),
            "@query" => format!("?{query}"),
            name if name.starts_with('@') => {
                return Err(SignatureError::MissingHeader(name.to_owned()));
            }
            header => request
                .header(header)
                .ok_or_else(|| SignatureError::MissingHeader(header.to_owned()))?,
        };
        base.push_str(&format!("\"{component}\": {value}\n"));
    }
    base.push_str(&format!("\"@signature-params\": {}", signature.params));
    let parsed = Signature::try_from(signature.signature.as_slice())
        .map_err(|_| SignatureError::Mismatch)?;
    VerifyingKey::<Sha256>::new(key.clone())
        .verify(base.as_bytes(), &parsed)
        .map_err(|_| SignatureError::Mismatch)
}

/// Whether a `Content-Digest` (RFC 9530) or `Digest` (RFC 3230) header value matches
/// `body` (SHA-256 or SHA-512).
pub fn digest_matches(header: &str, body: &[u8]) -> bool {
    use rsa::sha2::Sha512;
    header.split(',').any(|member| {
        let Some((algorithm, value)) = member.trim().split_once('=') else {
            return false;
        };
        let value = value.trim().trim_matches(':');
        let Ok(sent) = STANDARD.decode(value) else {
            return false;
        };
        match algorithm.trim().to_ascii_lowercase().as_str() {
            "sha-256" => sent == Sha256::digest(body).as_slice(),
            "sha-512" => sent == Sha512::digest(body).as_slice(),
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePublicKey;

    use super::*;

    // The test values of draft-cavage-http-signatures, Appendix C (its `keyId="Test"`
    // key and request), as the specification publishes them.
    const SPEC_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDCFENGw33yGihy92pDjZQhl0C3
6rPJj+CvfSC8+q28hxA161QFNUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6
Z4UMR7EOcpfdUE9Hf3m/hs+FUR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJw
oYi+1hqp1fIekaxsyQIDAQAB
-----END PUBLIC KEY-----";
    const SPEC_PRIVATE_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQDCFENGw33yGihy92pDjZQhl0C36rPJj+CvfSC8+q28hxA161QF
NUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6Z4UMR7EOcpfdUE9Hf3m/hs+F
UR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJwoYi+1hqp1fIekaxsyQIDAQAB
AoGBAJR8ZkCUvx5kzv+utdl7T5MnordT1TvoXXJGXK7ZZ+UuvMNUCdN2QPc4sBiA
QWvLw1cSKt5DsKZ8UETpYPy8pPYnnDEz2dDYiaew9+xEpubyeW2oH4Zx71wqBtOK
kqwrXa/pzdpiucRRjk6vE6YY7EBBs/g7uanVpGibOVAEsqH1AkEA7DkjVH28WDUg
f1nqvfn2Kj6CT7nIcE3jGJsZZ7zlZmBmHFDONMLUrXR/Zm3pR5m0tCmBqa5RK95u
412jt1dPIwJBANJT3v8pnkth48bQo/fKel6uEYyboRtA5/uHuHkZ6FQF7OUkGogc
mSJluOdc5t6hI1VsLn0QZEjQZMEOWr+wKSMCQQCC4kXJEsHAve77oP6HtG/IiEn7
kpyUXRNvFsDE0czpJJBvL/aRFUJxuRK91jhjC68sA7NsKMGg5OXb5I5Jj36xAkEA
gIT7aFOYBFwGgQAQkWNKLvySgKbAZRTeLBacpHMuQdl1DfdntvAyqpAZ0lY0RKmW
G6aFKaqQfOXKCyWoUiVknQJAXrlgySFci/2ueKlIE1QqIiLSZ8V8OlpFLRnb1pzI
7U1yQXnTAEFYM560yJlzUpOb1V4cScGd365tiSMvxLOvTA==
-----END RSA PRIVATE KEY-----";
    const SPEC_HEADERS: [(&str, &str); 5] = [
        ("Host", "example.com"),
        ("Date", "Sun, 05 Jan 2014 21:31:40 GMT"),
        ("Content-Type", "application/json"),
        (
            "Digest",
            "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
        ),
        ("Content-Length", "18"),
    ];
    const SPEC_BODY: &[u8] = br#"{"hello": "world"}"#;

    fn spec_request() -> Request<'static> {
        Request {
            method: "POST",
            target: "/foo?param=value&pet=dog",
            headers: &SPEC_HEADERS,
        }
    }

    #[test]
    fn the_specifications_all_headers_test_verifies_and_signs_alike() {
        let public = PublicKey::from_public_key_pem(SPEC_PUBLIC_KEY).expect("spec key");
        let header = "keyId=\"Test\",algorithm=\"rsa-sha256\",\
            headers=\"(request-target) host date content-type digest content-length\",\
            signature=\"vSdrb+dS3EceC9bcwHSo4MlyKS59iFIrhgYkz8+oVLEEzmYZZvRs8rgOp+63LEM3v+MFHB32NfpB2bEKBIvB1q52LaEUHFv120V01IL+TAD48XaERZFukWgHoBTLMhYS2Gb51gWxpeIq8knRmPnYePbF5MOkR0Zkly4zKH7s1dE=\"";
        let parsed = parse(header).expect("parsed");
        assert_eq!(parsed.key_id, "Test");
        verify(&public, &parsed, &spec_request(), &SIGNED_HEADERS).expect("verifies");
        assert_eq!(digest(SPEC_BODY), SPEC_HEADERS[3].1);
        // Signing the same (PKCS#1 v1.5 is deterministic) gives the published value.
        let private = PrivateKey::from_pkcs1_pem(SPEC_PRIVATE_KEY).expect("spec private key");
        let names = [
            "(request-target)",
            "host",
            "date",
            "content-type",
            "digest",
            "content-length",
        ];
        let signed = sign(&private, "Test", &spec_request(), &names).expect("signed");
        assert_eq!(parse(&signed).expect("parsed"), parsed);
    }

    #[test]
    fn altered_requests_and_weak_signatures_are_refused() {
        let public = PublicKey::from_public_key_pem(SPEC_PUBLIC_KEY).expect("spec key");
        let private = PrivateKey::from_pkcs1_pem(SPEC_PRIVATE_KEY).expect("spec private key");
        let signed = sign(&private, "Test", &spec_request(), &SIGNED_HEADERS).expect("signed");
        let parsed = parse(&signed).expect("parsed");
        verify(&public, &parsed, &spec_request(), &SIGNED_HEADERS).expect("verifies");
        let other_body = [
            SPEC_HEADERS[0],
            SPEC_HEADERS[1],
            (
                "Digest",
                "SHA-256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
        ];
        let altered = Request {
            headers: &other_body,
            ..spec_request()
        };
        assert_eq!(
            verify(&public, &parsed, &altered, &SIGNED_HEADERS),
            Err(SignatureError::Mismatch)
        );
        let elsewhere = Request {
            target: "/inbox",
            ..spec_request()
        };
        assert_eq!(
            verify(&public, &parsed, &elsewhere, &SIGNED_HEADERS),
            Err(SignatureError::Mismatch)
        );
        // Only the date signed: it could be replayed onto any body.
        let date_only = sign(&private, "Test", &spec_request(), &["date"]).expect("signed");
        assert_eq!(
            verify(
                &public,
                &parse(&date_only).expect("parsed"),
                &spec_request(),
                &SIGNED_HEADERS
            ),
            Err(SignatureError::Uncovered("(request-target)"))
        );
        for malformed in [
            "",
            "keyId=Test",
            "keyId=\"Test\"",
            "signature=\"!!\",keyId=\"a\"",
        ] {
            assert!(parse(malformed).is_err(), "{malformed}");
        }
    }
}
