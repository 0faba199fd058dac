//! Key escrow: the service's key-encryption key and the wrapping of
//! default-key accounts' data keys with it.
//!
//! The key-encryption key is 32 random bytes in `<data-dir>/escrow.key`,
//! readable only by the service's user. Data keys are wrapped with
//! AES-256-GCM, the account id as associated data so a wrapped key cannot be
//! moved to another account's row.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use anyhow::{bail, Context};
use rand::RngCore;
use zeroize::Zeroizing;

const NONCE_LEN: usize = 12;

/// The service's key-encryption key.
#[derive(Clone)]
pub struct EscrowKey {
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for EscrowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EscrowKey(..)")
    }
}

impl EscrowKey {
    /// Reads the key file, or creates it with fresh random bytes (mode 0600)
    /// when it does not exist.
    ///
    /// # Errors
    /// When the file cannot be read or created, is not exactly 32 bytes, or
    /// (on Unix) is readable or writable by anyone but its owner.
    pub fn load_or_create(path: &Path) -> anyhow::Result<EscrowKey> {
        match std::fs::symlink_metadata(path) {
            Ok(_) => EscrowKey::load(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = Zeroizing::new([0u8; 32]);
                rand::rngs::OsRng.fill_bytes(key.as_mut());
                let mut file =
                    create_private(path).with_context(|| format!("creating {}", path.display()))?;
                file.write_all(key.as_ref())?;
                file.sync_all()?;
                tracing::info!(path = %path.display(), "created a new escrow key");
                Ok(EscrowKey { key })
            }
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Reads an existing key file (never creates one).
    ///
    /// # Errors
    /// When the file is missing or unreadable, is not exactly 32 bytes, or
    /// (on Unix) is readable or writable by anyone but its owner.
    pub fn load(path: &Path) -> anyhow::Result<EscrowKey> {
        let meta = std::fs::symlink_metadata(path)
            .with_context(|| format!("reading the escrow key {}", path.display()))?;
        check_private(path, &meta)?;
        let bytes = Zeroizing::new(
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        );
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            anyhow::anyhow!(
                "{} must hold exactly 32 bytes, it holds {}",
                path.display(),
                bytes.len()
            )
        })?;
        Ok(EscrowKey {
            key: Zeroizing::new(key),
        })
    }

    /// Builds a key from raw bytes (tests).
    pub fn from_bytes(key: [u8; 32]) -> EscrowKey {
        EscrowKey {
            key: Zeroizing::new(key),
        }
    }

    /// A 32-byte key for another purpose (signing links, say), derived with
    /// HKDF-SHA256 so it reveals nothing about the escrow key.
    pub fn derive_key(&self, purpose: &str) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<sha2::Sha256>::new(None, self.key.as_ref())
            .expand(purpose.as_bytes(), out.as_mut())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        out
    }

    /// Wraps `data_key` for `account_id`: nonce ‖ ciphertext ‖ tag.
    ///
    /// # Errors
    /// Only if the cipher fails, which it does not for valid lengths.
    pub fn wrap(&self, account_id: &str, data_key: &[u8]) -> anyhow::Result<Vec<u8>> {
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.key.as_ref()));
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: data_key,
                    aad: account_id.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("wrapping a data key failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Unwraps a key made by [`EscrowKey::wrap`] for the same account.
    ///
    /// # Errors
    /// When the blob is damaged, belongs to another account or was wrapped
    /// with another escrow key.
    pub fn unwrap(&self, account_id: &str, wrapped: &[u8]) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        if wrapped.len() < NONCE_LEN {
            bail!("wrapped data key is too short");
        }
        let (nonce, sealed) = wrapped.split_at(NONCE_LEN);
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.key.as_ref()));
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: account_id.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| anyhow::anyhow!("unwrapping the data key of account {account_id} failed"))
    }
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if !meta.is_file() {
        bail!("{} must be a regular file", path.display());
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        bail!(
            "{} has mode {mode:o}; it holds the escrow key and must be readable only by its owner \
             (run: chmod 600 {})",
            path.display(),
            path.display()
        );
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> anyhow::Result<()> {
    if !meta.is_file() {
        bail!("{} must be a regular file", path.display());
    }
    Ok(())
}

#[cfg(unix)]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_round_trips_and_is_bound_to_the_account() {
        let kek = EscrowKey::from_bytes([7; 32]);
        let wrapped = kek.wrap("acct-a", &[1; 32]).unwrap();
        assert_eq!(kek.unwrap("acct-a", &wrapped).unwrap().as_slice(), &[1; 32]);
        assert!(kek.unwrap("acct-b", &wrapped).is_err());
        assert!(EscrowKey::from_bytes([8; 32])
            .unwrap("acct-a", &wrapped)
            .is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("escrow.key");
        let first = EscrowKey::load_or_create(&path).unwrap();
        let again = EscrowKey::load_or_create(&path).unwrap();
        assert_eq!(first.key.as_ref(), again.key.as_ref());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = EscrowKey::load_or_create(&path).unwrap_err().to_string();
            assert!(err.contains("chmod 600"), "{err}");
        }
    }
}
