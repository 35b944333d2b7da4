//! Edit tokens let an anonymous commenter change or delete their comment for a while.
//! They are not stored: each is an HMAC of the comment id under a key that lives outside
//! the database (a file, mode 0600), so a copy of the database (a backup, a replica, a
//! leaked dump) cannot forge them, and a retried `addComment` can hand out the same token
//! again. The key is read once at start; rotating it only invalidates the tokens of the
//! last few minutes (a token works for 15 minutes).

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The key's length in bytes (hex-encoded in its file).
const KEY_BYTES: usize = 32;

#[derive(Debug, thiserror::Error)]
pub enum EditTokenKeyError {
    #[error("cannot read or create the edit-token key file {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the edit-token key file {} must hold at least {KEY_BYTES} bytes as hex (64 hex digits); make one with `openssl rand -hex 32`",
        path.display()
    )]
    Malformed { path: PathBuf },
    #[error("cannot draw random bytes for a new edit-token key: {0}")]
    Random(String),
}

/// The secret edit tokens are made with. Its `Debug` output hides it.
#[derive(Clone)]
pub struct EditTokenKey(Vec<u8>);

impl fmt::Debug for EditTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EditTokenKey(…)")
    }
}

impl EditTokenKey {
    /// A fresh random key (tests, and a file's first start).
    pub fn generate() -> Result<Self, EditTokenKeyError> {
        let mut key = vec![0u8; KEY_BYTES];
        getrandom::fill(&mut key).map_err(|error| EditTokenKeyError::Random(error.to_string()))?;
        Ok(Self(key))
    }

    /// Reads the key from `path`, creating the file (mode 0600, with a random key) when it
    /// does not exist. Several processes starting together on one shared file agree: the
    /// file appears whole or not at all (written aside, then hard-linked into place).
    pub fn load_or_create(path: &Path) -> Result<Self, EditTokenKeyError> {
        let key = Self::read_or_create(path)?;
        // A key file others can read lets them forge tokens: keep it private.
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(|source| {
                EditTokenKeyError::Io {
                    path: path.to_owned(),
                    source,
                }
            })?;
            tracing::warn!(file = %path.display(), "the edit-token key file was readable by others; it is now mode 0600");
        }
        Ok(key)
    }

    fn read_or_create(path: &Path) -> Result<Self, EditTokenKeyError> {
        let io = |source| EditTokenKeyError::Io {
            path: path.to_owned(),
            source,
        };
        match fs::read_to_string(path) {
            Ok(text) => return Self::parse(&text, path),
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(io(error)),
            Err(_) => {}
        }
        let key = Self::generate()?;
        let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
        if let Some(dir) = dir {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let aside = path.with_extension(format!("new-{}", std::process::id()));
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&aside)?;
            writeln!(file, "{}", hex::encode(&key.0))?;
            file.sync_all()
        })();
        let linked = written.and_then(|()| fs::hard_link(&aside, path));
        let _ = fs::remove_file(&aside);
        match linked {
            Ok(()) => Ok(key),
            // Another process made it first: use theirs.
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                Self::parse(&fs::read_to_string(path).map_err(io)?, path)
            }
            Err(error) => Err(io(error)),
        }
    }

    fn parse(text: &str, path: &Path) -> Result<Self, EditTokenKeyError> {
        match hex::decode(text.trim()) {
            Ok(key) if key.len() >= KEY_BYTES => Ok(Self(key)),
            _ => Err(EditTokenKeyError::Malformed {
                path: path.to_owned(),
            }),
        }
    }

    /// The edit token of comment `comment_id`.
    pub fn token_for(&self, comment_id: i64) -> String {
        hex::encode(self.mac(comment_id).finalize().into_bytes())
    }

    /// Whether `token` is the edit token of `comment_id` (compared in constant time).
    pub fn verify(&self, comment_id: i64, token: &str) -> bool {
        let Ok(presented) = hex::decode(token) else {
            return false;
        };
        self.mac(comment_id).verify_slice(&presented).is_ok()
    }

    fn mac(&self, comment_id: i64) -> Hmac<Sha256> {
        self.mac_for(b"comment-edit:", &comment_id.to_be_bytes())
    }

    /// An HMAC of `message` for one `purpose` (a prefix no other purpose starts with), so
    /// the comment form's and the moderation pages' tokens made with this key can never
    /// stand for an edit token, or for each other.
    pub(crate) fn mac_for(&self, purpose: &[u8], message: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(purpose);
        mac.update(message);
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_for_their_comment_and_key() {
        let key = EditTokenKey::generate().expect("key");
        let token = key.token_for(7);
        assert!(key.verify(7, &token));
        assert!(!key.verify(8, &token));
        assert!(!key.verify(7, "not hex"));
        let other = EditTokenKey::generate().expect("key");
        assert!(!other.verify(7, &token));
    }

    #[test]
    fn the_key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("keys").join("edit-token-key");
        let first = EditTokenKey::load_or_create(&path).expect("created");
        let mode = fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = EditTokenKey::load_or_create(&path).expect("read");
        assert_eq!(first.token_for(1), again.token_for(1));
        assert!(format!("{first:?}").contains('…'));
    }

    #[test]
    fn a_loose_or_malformed_key_file_is_handled() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("edit-token-key");
        fs::write(&path, "abcd\n").expect("write");
        assert!(matches!(
            EditTokenKey::load_or_create(&path),
            Err(EditTokenKeyError::Malformed { .. })
        ));
        fs::write(&path, format!("{}\n", "ab".repeat(32))).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
        EditTokenKey::load_or_create(&path).expect("read");
        let mode = fs::metadata(&path).expect("file").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "made private");
    }
}
