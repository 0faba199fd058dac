//! The bytes of a share (`docs/format.md`, *Shares*): files re-encrypted
//! under a fresh random 256-bit share key with AES-256-GCM, in chunks of
//! 1 MiB so any size streams, grouped in parts of 8 chunks for upload. The
//! nonce and associated data of each chunk name the share, the stream (a
//! file's index, or the manifest), the chunk's index and whether it is the
//! last, so a reordered, swapped, truncated or extended stream fails to
//! decrypt. The recipient's page (`crates/server/src/share_page/`) is the
//! other implementation; a test keeps the two in step.

use std::io::Read;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

/// Plaintext bytes per chunk.
pub const CHUNK_BYTES: usize = 1024 * 1024;
/// The authentication tag each sealed chunk carries.
pub const TAG_BYTES: usize = 16;
/// A full sealed chunk.
pub const SEALED_CHUNK_BYTES: usize = CHUNK_BYTES + TAG_BYTES;
/// Sealed chunks per part.
pub const PART_CHUNKS: usize = 8;
/// The stream number of the manifest (files are 0, 1, 2, …).
pub const MANIFEST_STREAM: u32 = u32::MAX;
/// The manifest's `format`.
pub const MANIFEST_FORMAT: &str = "coffer-share/1";
const AAD_PREFIX: &[u8] = b"coffer-share-v1\0";

/// A share key: 32 random bytes, written into the link's fragment as
/// base64url without padding. Never serialised, never printed by `Debug`.
pub struct ShareKey(Zeroizing<[u8; 32]>);

impl ShareKey {
    /// A fresh random key.
    pub fn random() -> ShareKey {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(key.as_mut());
        ShareKey(key)
    }

    /// The key as it appears after `#` in the link.
    pub fn to_link_text(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.0.as_ref()))
    }

    /// The key from the text after `#` in a link.
    ///
    /// # Errors
    /// `InvalidInput` when it is not 32 bytes of base64url.
    pub fn from_link_text(text: &str) -> Result<ShareKey> {
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(text.trim())
                .map_err(|_| Error::new(ErrorKind::InvalidInput, "the share key in the link is damaged"))?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::new(ErrorKind::InvalidInput, "the share key in the link is damaged"))?;
        Ok(ShareKey(Zeroizing::new(key)))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new_from_slice(self.0.as_ref()).expect("a 32-byte key")
    }
}

impl std::fmt::Debug for ShareKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShareKey(<secret>)")
    }
}

/// The encrypted list of what a share holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareManifest {
    /// [`MANIFEST_FORMAT`].
    pub format: String,
    /// What was shared: the file's or folder's name.
    pub name: String,
    #[serde(default)]
    pub created_at: i64,
    pub files: Vec<ManifestFile>,
}

/// One file of a share; stream number = its index in `files`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// `/`-separated, relative, starting with the shared item's name.
    pub path: String,
    pub size: u64,
    /// Modification time, Unix ms.
    pub mtime: Option<i64>,
    /// Its first part; it fills `parts` parts from there.
    pub first_part: u64,
    pub parts: u64,
}

/// How many parts a stream of `size` plaintext bytes fills (an empty
/// stream still has one, empty, chunk).
pub fn parts_for(size: u64) -> u64 {
    let chunks = size.div_ceil(CHUNK_BYTES as u64).max(1);
    chunks.div_ceil(PART_CHUNKS as u64)
}

fn nonce(stream: u32, chunk: u32, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..4].copy_from_slice(&stream.to_be_bytes());
    n[4..8].copy_from_slice(&chunk.to_be_bytes());
    n[8] = u8::from(last);
    n
}

fn associated_data(share_id: &str, stream: u32, chunk: u32, last: bool) -> Vec<u8> {
    let mut aad = Vec::with_capacity(AAD_PREFIX.len() + share_id.len() + 9);
    aad.extend_from_slice(AAD_PREFIX);
    aad.extend_from_slice(share_id.as_bytes());
    aad.extend_from_slice(&stream.to_be_bytes());
    aad.extend_from_slice(&chunk.to_be_bytes());
    aad.push(u8::from(last));
    aad
}

/// Seals one chunk.
pub fn seal_chunk(key: &ShareKey, share_id: &str, stream: u32, chunk: u32, last: bool, plain: &[u8]) -> Vec<u8> {
    let aad = associated_data(share_id, stream, chunk, last);
    key.cipher()
        .encrypt(Nonce::from_slice(&nonce(stream, chunk, last)), Payload { msg: plain, aad: &aad })
        .expect("AES-GCM seals any chunk below 64 GiB")
}

/// Opens one sealed chunk.
///
/// # Errors
/// `Integrity` when it does not authenticate as this chunk.
pub fn open_chunk(key: &ShareKey, share_id: &str, stream: u32, chunk: u32, last: bool, sealed: &[u8]) -> Result<Vec<u8>> {
    let aad = associated_data(share_id, stream, chunk, last);
    key.cipher()
        .decrypt(Nonce::from_slice(&nonce(stream, chunk, last)), Payload { msg: sealed, aad: &aad })
        .map_err(|_| Error::new(ErrorKind::Integrity, "the shared data was changed, damaged or is not for this key"))
}

fn read_full(reader: &mut dyn Read, want: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(want);
    reader.take(want as u64).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Seals everything `reader` yields as stream `stream`, handing each part
/// (up to [`PART_CHUNKS`] sealed chunks) to `emit` as it fills; reads one
/// chunk ahead to know which chunk is the last. Returns the plaintext size
/// and the number of parts.
///
/// # Errors
/// `Io` when reading fails; whatever `emit` returns.
pub fn seal_stream(
    key: &ShareKey,
    share_id: &str,
    stream: u32,
    reader: &mut dyn Read,
    emit: &mut dyn FnMut(Vec<u8>) -> Result<()>,
) -> Result<(u64, u64)> {
    let read = |reader: &mut dyn Read| read_full(reader, CHUNK_BYTES).map_err(|e| Error::io("reading a file to share", e));
    let mut current = read(reader)?;
    let mut index: u32 = 0;
    let mut size = 0u64;
    let mut parts = 0u64;
    let mut part = Vec::with_capacity(PART_CHUNKS * SEALED_CHUNK_BYTES);
    let mut in_part = 0;
    loop {
        let next = if current.len() == CHUNK_BYTES { read(reader)? } else { Vec::new() };
        let last = next.is_empty();
        part.extend_from_slice(&seal_chunk(key, share_id, stream, index, last, &current));
        size += current.len() as u64;
        in_part += 1;
        if in_part == PART_CHUNKS || last {
            emit(std::mem::take(&mut part))?;
            parts += 1;
            in_part = 0;
        }
        if last {
            return Ok((size, parts));
        }
        index = index
            .checked_add(1)
            .ok_or_else(|| Error::new(ErrorKind::InvalidInput, "a file is too large to share (4 PiB)"))?;
        current = next;
    }
}

/// Opens a whole sealed stream (the concatenation of its parts). A chunk is
/// the last exactly when nothing follows it.
///
/// # Errors
/// `Integrity` when any chunk fails to authenticate, or the stream is
/// truncated, reordered or extended.
pub fn open_stream(key: &ShareKey, share_id: &str, stream: u32, sealed: &[u8]) -> Result<Vec<u8>> {
    let mut plain = Vec::with_capacity(sealed.len());
    let mut rest = sealed;
    let mut index: u32 = 0;
    while rest.len() > SEALED_CHUNK_BYTES {
        let (chunk, tail) = rest.split_at(SEALED_CHUNK_BYTES);
        plain.extend(open_chunk(key, share_id, stream, index, false, chunk)?);
        rest = tail;
        index = index.checked_add(1).ok_or_else(|| Error::new(ErrorKind::Integrity, "the shared stream is too long"))?;
    }
    if rest.len() < TAG_BYTES {
        return Err(Error::new(ErrorKind::Integrity, "the shared data was cut short"));
    }
    plain.extend(open_chunk(key, share_id, stream, index, true, rest)?);
    Ok(plain)
}

/// Seals a manifest as one stream.
pub fn seal_manifest(key: &ShareKey, share_id: &str, manifest: &ShareManifest) -> Result<Vec<u8>> {
    let json = serde_json::to_vec(manifest).expect("a manifest serialises");
    let mut out = Vec::new();
    seal_stream(key, share_id, MANIFEST_STREAM, &mut json.as_slice(), &mut |part| {
        out.extend(part);
        Ok(())
    })?;
    if out.len() > PART_CHUNKS * SEALED_CHUNK_BYTES {
        return Err(Error::new(ErrorKind::InvalidInput, "too many files to share at once: choose a smaller folder"));
    }
    Ok(out)
}

/// Opens a sealed manifest.
///
/// # Errors
/// `Integrity` when it does not decrypt or is not a share manifest.
pub fn open_manifest(key: &ShareKey, share_id: &str, sealed: &[u8]) -> Result<ShareManifest> {
    let plain = open_stream(key, share_id, MANIFEST_STREAM, sealed)?;
    let manifest: ShareManifest =
        serde_json::from_slice(&plain).map_err(|_| Error::new(ErrorKind::Integrity, "the share's manifest is damaged"))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(Error::new(ErrorKind::Integrity, format!("unknown share format {}", manifest.format)));
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef";

    fn seal_all(key: &ShareKey, data: &[u8]) -> (Vec<Vec<u8>>, u64) {
        let mut parts = Vec::new();
        let (size, count) = seal_stream(key, ID, 3, &mut &data[..], &mut |p| {
            parts.push(p);
            Ok(())
        })
        .unwrap();
        assert_eq!(count as usize, parts.len());
        assert_eq!(count, parts_for(size));
        (parts, size)
    }

    #[test]
    fn streams_of_every_awkward_size_round_trip() {
        let key = ShareKey::random();
        for size in [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, 8 * CHUNK_BYTES, 8 * CHUNK_BYTES + 5, 17 * CHUNK_BYTES] {
            let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            let (parts, sealed_size) = seal_all(&key, &data);
            assert_eq!(sealed_size, size as u64);
            for part in &parts[..parts.len() - 1] {
                assert_eq!(part.len(), PART_CHUNKS * SEALED_CHUNK_BYTES, "full parts but the last");
            }
            let sealed = parts.concat();
            assert_eq!(open_stream(&key, ID, 3, &sealed).unwrap(), data, "size {size}");
        }
    }

    #[test]
    fn truncation_reordering_swapping_and_other_keys_fail() {
        let key = ShareKey::random();
        let data = vec![7u8; 2 * CHUNK_BYTES + 10];
        let sealed = seal_all(&key, &data).0.concat();
        // Cut at a chunk boundary: the last chunk left does not say "last".
        assert!(open_stream(&key, ID, 3, &sealed[..2 * SEALED_CHUNK_BYTES]).is_err());
        assert!(open_stream(&key, ID, 3, &sealed[..sealed.len() - 1]).is_err());
        let mut extended = sealed.clone();
        extended.extend_from_slice(&seal_chunk(&key, ID, 3, 3, true, b"more"));
        assert!(open_stream(&key, ID, 3, &extended).is_err());
        let mut swapped = sealed[SEALED_CHUNK_BYTES..2 * SEALED_CHUNK_BYTES].to_vec();
        swapped.extend_from_slice(&sealed[..SEALED_CHUNK_BYTES]);
        swapped.extend_from_slice(&sealed[2 * SEALED_CHUNK_BYTES..]);
        assert!(open_stream(&key, ID, 3, &swapped).is_err());
        assert!(open_stream(&key, ID, 4, &sealed).is_err(), "another file's stream");
        assert!(open_stream(&key, "ffffffffffffffffffffffffffffffff", 3, &sealed).is_err(), "another share");
        assert!(open_stream(&ShareKey::random(), ID, 3, &sealed).is_err());
        let mut flipped = sealed.clone();
        flipped[100] ^= 1;
        assert!(open_stream(&key, ID, 3, &flipped).is_err());
    }

    #[test]
    fn keys_travel_as_43_characters_of_base64url() {
        let key = ShareKey::random();
        let text = key.to_link_text();
        assert_eq!(text.len(), 43);
        assert!(text.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        let again = ShareKey::from_link_text(&text).unwrap();
        let sealed = seal_chunk(&key, ID, 0, 0, true, b"hi");
        assert_eq!(open_chunk(&again, ID, 0, 0, true, &sealed).unwrap(), b"hi");
        assert!(ShareKey::from_link_text("short").is_err());
        assert_eq!(format!("{key:?}"), "ShareKey(<secret>)");
    }

    #[test]
    fn a_manifest_round_trips() {
        let key = ShareKey::random();
        let manifest = ShareManifest {
            format: MANIFEST_FORMAT.into(),
            name: "Docs".into(),
            created_at: 1,
            files: vec![ManifestFile { path: "Docs/a.txt".into(), size: 3, mtime: Some(5), first_part: 0, parts: 1 }],
        };
        let sealed = seal_manifest(&key, ID, &manifest).unwrap();
        assert_eq!(open_manifest(&key, ID, &sealed).unwrap(), manifest);
    }
}
