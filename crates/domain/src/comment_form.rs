//! The tokens of the comment form under a post page, and of the moderation pages' forms.
//!
//! A form token is made for one post when its page is rendered: the post id, the time it
//! was made and a random nonce, signed with the edit-token key (HMAC-SHA256, with a
//! purpose prefix of its own). It is not stored: any API process with the key checks it.
//! It proves that the comment comes through the page of that post, recently, and not
//! faster than a person types; a replay of the same submission makes no second comment,
//! because the token and the text make the comment's retry id (see `form_retry_id`).
//! Nothing in it needs a cookie.

use std::time::Duration;

use chrono::{DateTime, Utc};
use hmac::Mac;
use sha2::{Digest, Sha256};

use crate::edit_tokens::EditTokenKey;

const FORM_PURPOSE: &[u8] = b"comment-form:";
const MODERATION_PURPOSE: &[u8] = b"moderation-form:";
/// The signature's length in a form token: 128 bits are beyond guessing.
const SIGNATURE_BYTES: usize = 16;
/// post id, time made, nonce (8 bytes each), signature.
const TOKEN_BYTES: usize = 24 + SIGNATURE_BYTES;

/// How long a form stays good, and how soon after its page it may be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormRules {
    pub lifetime: Duration,
    /// Forms sent sooner than this after the page was made are refused: people read and
    /// type, programs do not.
    pub min_fill: Duration,
}

impl FormRules {
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(2 * 60 * 60);
    pub const DEFAULT_MIN_FILL: Duration = Duration::from_secs(3);

    /// Which quarter of a lifetime `now` falls in. A page's validator includes it, so a
    /// page kept by a browser and revalidated (a 304) holds a form token that still has
    /// at least three quarters of its life left.
    pub fn epoch(&self, now: DateTime<Utc>) -> u64 {
        let quarter = (self.lifetime.as_millis() / 4).max(1);
        let millis = u128::try_from(now.timestamp_millis()).unwrap_or_default();
        u64::try_from(millis / quarter).unwrap_or(u64::MAX)
    }
}

impl Default for FormRules {
    fn default() -> Self {
        Self {
            lifetime: Self::DEFAULT_LIFETIME,
            min_fill: Self::DEFAULT_MIN_FILL,
        }
    }
}

/// Why a form token was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FormTokenError {
    /// Missing, altered, made with another key, or made for another post.
    #[error(
        "This form does not belong to this post's page (or was altered): your comment was not sent."
    )]
    NotThisForm,
    #[error("This form has expired: your comment was not sent.")]
    Expired,
    /// Sent sooner after the page was made than a person could write a comment.
    #[error("This form was sent too quickly after the page opened: your comment was not sent.")]
    TooQuick,
}

/// A form token that checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormToken {
    pub post_id: i64,
    pub nonce: u64,
}

/// A fresh form token for the page of `post_id`.
pub fn issue(key: &EditTokenKey, post_id: i64, now: DateTime<Utc>) -> String {
    let mut nonce = [0u8; 8];
    // Without randomness the nonce is the time alone: tokens stay valid, only their retry
    // ids are less distinct (the text still tells comments apart).
    let _ = getrandom::fill(&mut nonce);
    let mut token = Vec::with_capacity(TOKEN_BYTES);
    token.extend_from_slice(&post_id.to_be_bytes());
    token.extend_from_slice(&now.timestamp_millis().to_be_bytes());
    token.extend_from_slice(&nonce);
    let signature = key.mac_for(FORM_PURPOSE, &token).finalize().into_bytes();
    token.extend_from_slice(&signature[..SIGNATURE_BYTES]);
    hex::encode(token)
}

/// Checks a form token sent with a comment for `post_id`.
pub fn check(
    key: &EditTokenKey,
    rules: &FormRules,
    token: &str,
    post_id: i64,
    now: DateTime<Utc>,
) -> Result<FormToken, FormTokenError> {
    let bytes = hex::decode(token.trim()).map_err(|_| FormTokenError::NotThisForm)?;
    if bytes.len() != TOKEN_BYTES {
        return Err(FormTokenError::NotThisForm);
    }
    let (signed, signature) = bytes.split_at(24);
    key.mac_for(FORM_PURPOSE, signed)
        .verify_truncated_left(signature)
        .map_err(|_| FormTokenError::NotThisForm)?;
    let field = |index: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&signed[index * 8..index * 8 + 8]);
        word
    };
    if i64::from_be_bytes(field(0)) != post_id {
        return Err(FormTokenError::NotThisForm);
    }
    let made = DateTime::from_timestamp_millis(i64::from_be_bytes(field(1)))
        .ok_or(FormTokenError::NotThisForm)?;
    let age = (now - made).to_std().unwrap_or(Duration::ZERO);
    if made > now + chrono::TimeDelta::seconds(60) || age > rules.lifetime {
        return Err(FormTokenError::Expired);
    }
    if age < rules.min_fill {
        return Err(FormTokenError::TooQuick);
    }
    Ok(FormToken {
        post_id,
        nonce: u64::from_be_bytes(field(2)),
    })
}

/// The retry id (`clientMutationId`) of a comment sent with a form: the same submission
/// sent twice (a double click, a resent POST, a replay) makes one comment; another text
/// from the same page (a browser that kept it) makes another.
pub fn form_retry_id(token: &FormToken, parent_id: Option<i64>, name: &str, body: &str) -> String {
    let mut hash = Sha256::new();
    for part in [
        parent_id.unwrap_or_default().to_string().as_str(),
        name,
        body,
    ] {
        hash.update(part.len().to_be_bytes());
        hash.update(part.as_bytes());
    }
    let digest = hash.finalize();
    format!("form:{:016x}:{}", token.nonce, hex::encode(&digest[..16]))
}

/// The token a moderation page's forms carry for one session (its secret): a site that
/// cannot read the page cannot make it.
pub fn moderation_form_token(key: &EditTokenKey, session_secret: &str) -> String {
    hex::encode(
        key.mac_for(MODERATION_PURPOSE, session_secret.as_bytes())
            .finalize()
            .into_bytes(),
    )
}

/// Whether `token` is the moderation form token of the session with `session_secret`.
pub fn check_moderation_form_token(key: &EditTokenKey, session_secret: &str, token: &str) -> bool {
    let Ok(presented) = hex::decode(token.trim()) else {
        return false;
    };
    key.mac_for(MODERATION_PURPOSE, session_secret.as_bytes())
        .verify_slice(&presented)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> FormRules {
        FormRules {
            lifetime: Duration::from_secs(600),
            min_fill: Duration::from_secs(3),
        }
    }

    #[test]
    fn a_form_token_is_good_for_its_post_between_the_fill_time_and_its_lifetime() {
        let key = EditTokenKey::generate().expect("key");
        let made = Utc::now();
        let token = issue(&key, 7, made);
        let at = |seconds| made + chrono::TimeDelta::seconds(seconds);
        assert_eq!(
            check(&key, &rules(), &token, 7, at(10)).map(|t| t.post_id),
            Ok(7)
        );
        assert_eq!(
            check(&key, &rules(), &token, 7, at(1)),
            Err(FormTokenError::TooQuick)
        );
        assert_eq!(
            check(&key, &rules(), &token, 7, at(601)),
            Err(FormTokenError::Expired)
        );
        assert_eq!(
            check(&key, &rules(), &token, 8, at(10)),
            Err(FormTokenError::NotThisForm)
        );
        let other_key = EditTokenKey::generate().expect("key");
        assert_eq!(
            check(&other_key, &rules(), &token, 7, at(10)),
            Err(FormTokenError::NotThisForm)
        );
        // Any changed digit (here the time it was made) breaks the signature.
        let mut altered = token.clone().into_bytes();
        altered[20] = if altered[20] == b'0' { b'1' } else { b'0' };
        let altered = String::from_utf8(altered).expect("hex");
        assert_eq!(
            check(&key, &rules(), &altered, 7, at(10)),
            Err(FormTokenError::NotThisForm)
        );
        for junk in ["", "zz", "00", &"0".repeat(80)] {
            assert_eq!(
                check(&key, &rules(), junk, 7, at(10)),
                Err(FormTokenError::NotThisForm)
            );
        }
    }

    #[test]
    fn retry_ids_tell_submissions_apart_by_their_text() {
        let token = FormToken {
            post_id: 1,
            nonce: 42,
        };
        let first = form_retry_id(&token, None, "Ann", "Hello");
        assert_eq!(first, form_retry_id(&token, None, "Ann", "Hello"));
        assert_ne!(first, form_retry_id(&token, None, "Ann", "Hello!"));
        assert_ne!(first, form_retry_id(&token, Some(3), "Ann", "Hello"));
        // The parts are length-prefixed: moving text between them changes the id.
        assert_ne!(first, form_retry_id(&token, None, "AnnH", "ello"));
        assert!(first.len() <= 200);
    }

    #[test]
    fn moderation_form_tokens_belong_to_one_session() {
        let key = EditTokenKey::generate().expect("key");
        let token = moderation_form_token(&key, "session-a");
        assert!(check_moderation_form_token(&key, "session-a", &token));
        assert!(!check_moderation_form_token(&key, "session-b", &token));
        assert!(!check_moderation_form_token(&key, "session-a", "nonsense"));
    }
}
