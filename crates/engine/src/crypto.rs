//! Keys and authenticated encryption.
//!
//! One 32-byte data key per account; every key the format uses is derived
//! from it with HKDF-SHA256 (see `docs/format.md`).

use std::fmt;

use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::{Error, Result};
use crate::id::Id;

/// Length of an AES-GCM nonce, stored in front of each ciphertext.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of an AES-GCM tag, stored after each ciphertext.
pub(crate) const TAG_LEN: usize = 16;
/// Length of a pack salt.
pub(crate) const SALT_LEN: usize = 16;

const INFO_ENCRYPTION: &[u8] = b"coffer v1 encryption key";
const INFO_CHUNK_ID: &[u8] = b"coffer v1 chunk-id key";
const INFO_CHUNKER_SEED: &[u8] = b"coffer v1 chunker seed";
const INFO_METADATA: &[u8] = b"coffer v1 metadata key";
const INFO_PACK: &[u8] = b"coffer v1 pack key";
const INFO_NOTE: &[u8] = b"coffer v1 note key";

/// An account's data key: 32 random bytes, the root of every other key.
/// Wiped from memory when dropped; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    /// A fresh key from the operating system's random source.
    pub fn generate() -> DataKey {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        DataKey(bytes)
    }

    /// Wraps existing key bytes (from the keychain or the service's escrow).
    pub fn from_bytes(bytes: [u8; 32]) -> DataKey {
        DataKey(bytes)
    }

    /// The raw key bytes, e.g. to store them in the keychain.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Encrypts a small note a device keeps beside work in progress (e.g.
    /// the recovery code of a key switch that has not finished), so that
    /// only this key opens it: AES-256-GCM under
    /// `HKDF-SHA256(K, info = "coffer v1 note key")` with `purpose` as
    /// associated data.
    pub fn seal_note(&self, purpose: &str, plaintext: &[u8]) -> Vec<u8> {
        let key = self.note_key();
        seal(&key, purpose.as_bytes(), plaintext)
    }

    /// Reverses [`DataKey::seal_note`].
    ///
    /// # Errors
    /// `Integrity` for another key, another purpose or changed bytes.
    pub fn open_note(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let key = self.note_key();
        open(&key, purpose.as_bytes(), sealed)
    }

    fn note_key(&self) -> Zeroizing<[u8; 32]> {
        let mut key = Zeroizing::new([0u8; 32]);
        expand(self, INFO_NOTE, &mut key[..]);
        key
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(..)")
    }
}

/// The sub-keys derived from a [`DataKey`].
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Keys {
    /// Root of the per-pack blob encryption keys.
    encryption: [u8; 32],
    /// BLAKE3 key for blob ids.
    chunk_id: [u8; 32],
    /// Encrypts index and snapshot files.
    metadata: [u8; 32],
    /// Seeds FastCDC's gear table.
    chunker_seed: u64,
}

fn expand(key: &DataKey, info: &[u8], out: &mut [u8]) {
    Hkdf::<Sha256>::new(None, key.as_bytes())
        .expand(info, out)
        .expect("HKDF-SHA256 can expand to 32 bytes");
}

impl Keys {
    pub(crate) fn derive(key: &DataKey) -> Keys {
        let mut keys = Keys {
            encryption: [0; 32],
            chunk_id: [0; 32],
            metadata: [0; 32],
            chunker_seed: 0,
        };
        expand(key, INFO_ENCRYPTION, &mut keys.encryption);
        expand(key, INFO_CHUNK_ID, &mut keys.chunk_id);
        expand(key, INFO_METADATA, &mut keys.metadata);
        let mut seed = Zeroizing::new([0u8; 8]);
        expand(key, INFO_CHUNKER_SEED, &mut seed[..]);
        // fastcdc treats seed 0 as "no seed"; 0 has odds 2^-64 but map it anyway.
        keys.chunker_seed = u64::from_le_bytes(*seed).max(1);
        keys
    }

    /// The key that encrypts the blobs and header of the pack with `salt`.
    pub(crate) fn pack_key(&self, salt: &[u8; SALT_LEN]) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        Hkdf::<Sha256>::new(Some(salt), &self.encryption)
            .expand(INFO_PACK, &mut out[..])
            .expect("HKDF-SHA256 can expand to 32 bytes");
        out
    }

    /// A blob's id: BLAKE3 keyed with the chunk-id key, so the service
    /// cannot test whether someone stores a known file.
    pub(crate) fn blob_id(&self, plaintext: &[u8]) -> Id {
        Id::from_bytes(*blake3::keyed_hash(&self.chunk_id, plaintext).as_bytes())
    }

    pub(crate) fn metadata_key(&self) -> &[u8; 32] {
        &self.metadata
    }

    /// A name for this repository's local index cache file that reveals
    /// nothing about the key (keyed hash of a constant, 16 hex digits).
    pub(crate) fn cache_name(&self) -> String {
        let h = blake3::keyed_hash(&self.metadata, b"coffer v1 index cache name");
        hex::encode(&h.as_bytes()[..8])
    }

    pub(crate) fn chunker_seed(&self) -> u64 {
        self.chunker_seed
    }
}

/// A fresh random pack salt.
pub(crate) fn random_salt() -> [u8; SALT_LEN] {
    let mut salt = [0u8; SALT_LEN];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    salt
}

/// An AES-256-GCM key with its key schedule prepared, for sealing many
/// messages (the blobs of a pack). ring's AES-GCM is several times faster
/// than the RustCrypto one on CPUs with AES and carry-less multiply
/// instructions; the bytes are the same standard AES-256-GCM.
pub(crate) struct SealingKey(LessSafeKey);

impl SealingKey {
    pub(crate) fn new(key: &[u8; 32]) -> SealingKey {
        SealingKey(LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte AES-256 key"),
        ))
    }
}

/// AES-256-GCM with a random nonce: returns `nonce ‖ ciphertext ‖ tag`.
pub(crate) fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + TAG_LEN);
    seal_into(&SealingKey::new(key), aad, plaintext, &mut out);
    out
}

/// [`seal`] with a prepared key, appending `nonce ‖ ciphertext ‖ tag` to
/// `out` and encrypting in place there (no intermediate copy).
pub(crate) fn seal_into(key: &SealingKey, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    out.reserve(NONCE_LEN + plaintext.len() + TAG_LEN);
    out.extend_from_slice(&nonce);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = key
        .0
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut out[start..],
        )
        .expect("AES-GCM encrypts any message under 64 GiB");
    out.extend_from_slice(tag.as_ref());
}

/// Reverses [`seal`].
///
/// # Errors
/// `Integrity` when the bytes were changed, the key is wrong or `aad` differs.
pub(crate) fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return Err(Error::integrity("ciphertext too short"));
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).expect("12-byte nonce");
    let mut buffer = ciphertext.to_vec();
    let plaintext_len = SealingKey::new(key)
        .0
        .open_in_place(nonce, Aad::from(aad), &mut buffer)
        .map_err(|_| {
            Error::integrity(
                "authentication failed: data damaged, altered or encrypted with another key",
            )
        })?
        .len();
    buffer.truncate(plaintext_len);
    Ok(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn seal_open_round_trip_and_tamper_detection() {
        let key = [3u8; 32];
        let sealed = seal(&key, b"aad", b"secret message");
        assert_eq!(sealed.len(), NONCE_LEN + 14 + TAG_LEN);
        assert_eq!(open(&key, b"aad", &sealed).unwrap(), b"secret message");
        // Fresh nonce each time.
        assert_ne!(seal(&key, b"aad", b"secret message"), sealed);

        let fails = |r: Result<Vec<u8>>| assert_eq!(r.unwrap_err().kind(), ErrorKind::Integrity);
        fails(open(&key, b"other aad", &sealed));
        fails(open(&[4u8; 32], b"aad", &sealed));
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            fails(open(&key, b"aad", &bad));
        }
        fails(open(&key, b"aad", &sealed[..sealed.len() - 1]));
        fails(open(&key, b"aad", &sealed[..5]));
    }

    #[test]
    fn sealed_bytes_are_standard_aes_256_gcm() {
        // Packs written before the switch to ring were sealed by the
        // RustCrypto implementation: each must open what the other seals.
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let key = [5u8; 32];
        let cipher = aes_gcm::Aes256Gcm::new((&key).into());
        let sealed = seal(&key, b"aad", b"the same bytes either way");
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let opened = cipher
            .decrypt(aes_gcm::Nonce::from_slice(nonce), Payload { msg: ciphertext, aad: b"aad" })
            .unwrap();
        assert_eq!(opened, b"the same bytes either way");

        let nonce = [9u8; NONCE_LEN];
        let mut theirs = nonce.to_vec();
        theirs.extend(
            cipher
                .encrypt(aes_gcm::Nonce::from_slice(&nonce), Payload { msg: b"older pack", aad: b"aad" })
                .unwrap(),
        );
        assert_eq!(open(&key, b"aad", &theirs).unwrap(), b"older pack");
    }

    #[test]
    fn sub_keys_are_distinct_and_deterministic() {
        let key = DataKey::from_bytes([9u8; 32]);
        let a = Keys::derive(&key);
        let b = Keys::derive(&key.clone());
        assert_eq!(a.encryption, b.encryption);
        assert_eq!(a.chunker_seed, b.chunker_seed);
        let all = [a.encryption, a.chunk_id, a.metadata];
        assert_ne!(all[0], all[1]);
        assert_ne!(all[1], all[2]);
        assert_ne!(all[0], all[2]);
        assert_ne!(a.encryption, *key.as_bytes());

        let other = Keys::derive(&DataKey::generate());
        assert_ne!(other.chunk_id, a.chunk_id);
        assert_ne!(a.blob_id(b"x"), other.blob_id(b"x"));
        assert_ne!(a.blob_id(b"x"), Id::hash(b"x"));

        let salt1 = [1u8; SALT_LEN];
        assert_eq!(*a.pack_key(&salt1), *b.pack_key(&salt1));
        assert_ne!(*a.pack_key(&salt1), *a.pack_key(&[2u8; SALT_LEN]));
    }

    #[test]
    fn data_key_debug_hides_bytes() {
        let key = DataKey::from_bytes([0xab; 32]);
        assert_eq!(format!("{key:?}"), "DataKey(..)");
        assert_eq!(key.as_bytes(), &[0xab; 32]);
        assert_ne!(
            DataKey::generate().as_bytes(),
            DataKey::generate().as_bytes()
        );
    }
}
