//! The blog actor's RSA key pair: made on first start, kept in a file (mode 0600) next to
//! the edit-token key, read by every process on the same data directory. Its public half
//! is in the actor document; its private half signs deliveries (HTTP Signatures,
//! `rsa-sha256`, which every fediverse server accepts).

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::{PrivateKey, PublicKey};

/// What fediverse servers expect of an actor key.
const KEY_BITS: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read or create the federation key file {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the federation key file {} does not hold an RSA private key (PKCS#8 PEM); move it away and a new one is made",
        path.display()
    )]
    Malformed { path: PathBuf },
    #[error("cannot make an RSA key: {0}")]
    Generate(String),
}

/// The actor's key pair, and its public key as PEM. `Debug` hides the private key.
#[derive(Clone)]
pub struct ActorKey {
    private: PrivateKey,
    public_pem: String,
}

impl fmt::Debug for ActorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ActorKey(…)")
    }
}

impl ActorKey {
    /// A fresh key pair (first start, and tests).
    pub fn generate() -> Result<Self, KeyError> {
        let private = PrivateKey::new(&mut getrandom::SysRng, KEY_BITS)
            .map_err(|error| KeyError::Generate(error.to_string()))?;
        Self::from_private(private)
    }

    fn from_private(private: PrivateKey) -> Result<Self, KeyError> {
        let public_pem = PublicKey::from(&private)
            .to_public_key_pem(LineEnding::LF)
            .map_err(|error| KeyError::Generate(error.to_string()))?;
        Ok(Self {
            private,
            public_pem,
        })
    }

    /// The public key as `-----BEGIN PUBLIC KEY-----` PEM (SPKI), as actors publish it.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// The private key, for signing.
    pub fn private(&self) -> &PrivateKey {
        &self.private
    }

    /// Reads the key from `path`, or makes one and writes it there (mode 0600). Processes
    /// starting together on one file agree: it appears whole or not at all (written aside,
    /// then hard-linked into place; the loser reads the winner's).
    pub fn load_or_create(path: &Path) -> Result<Self, KeyError> {
        let io = |source| KeyError::Io {
            path: path.to_owned(),
            source,
        };
        match fs::read_to_string(path) {
            Ok(pem) => return Self::parse(&pem, path),
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(io(error)),
            Err(_) => {}
        }
        let key = Self::generate()?;
        let pem = key
            .private
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|error| KeyError::Generate(error.to_string()))?;
        if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(io)?;
        }
        let aside = path.with_extension(format!("new-{}", std::process::id()));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&aside)
            .and_then(|mut file| {
                file.write_all(pem.as_bytes())
                    .and_then(|()| file.sync_all())
            });
        if let Err(error) = written {
            let _ = fs::remove_file(&aside);
            return Err(io(error));
        }
        let linked = fs::hard_link(&aside, path);
        let _ = fs::remove_file(&aside);
        match linked {
            Ok(()) => {
                tracing::info!(file = %path.display(), "made the federation actor's key pair");
                Ok(key)
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                let pem = fs::read_to_string(path).map_err(io)?;
                Self::parse(&pem, path)
            }
            Err(error) => Err(io(error)),
        }
    }

    fn parse(pem: &str, path: &Path) -> Result<Self, KeyError> {
        if let Ok(meta) = fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            let _ = fs::set_permissions(path, fs::Permissions::from_mode(0o600));
            tracing::warn!(file = %path.display(), "the federation key file was readable by others; it is now mode 0600");
        }
        let private = PrivateKey::from_pkcs8_pem(pem).map_err(|_| KeyError::Malformed {
            path: path.to_owned(),
        })?;
        Self::from_private(private)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_is_made_private_once_and_read_back() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("federation-key.pem");
        let made = ActorKey::load_or_create(&path).expect("made");
        let mode = fs::metadata(&path).expect("file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let read = ActorKey::load_or_create(&path).expect("read");
        assert_eq!(read.public_pem(), made.public_pem());
        assert!(made.public_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
        fs::write(&path, "not a key").expect("spoilt");
        assert!(matches!(
            ActorKey::load_or_create(&path),
            Err(KeyError::Malformed { .. })
        ));
    }
}
