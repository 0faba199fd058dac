//! Blobs: a chunk of file data or a tree, compressed and encrypted.

use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::error::{Error, Result};
use crate::id::Id;

/// zstd level for blobs: fast, and most of the gain.
const ZSTD_LEVEL: i32 = 3;

/// What a blob holds; part of its associated data, so a data blob cannot be
/// passed off as a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlobType {
    /// A chunk of a file's contents.
    Data,
    /// A serialized directory listing.
    Tree,
}

impl BlobType {
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            BlobType::Data => 0,
            BlobType::Tree => 1,
        }
    }

    pub(crate) fn from_byte(byte: u8) -> Result<BlobType> {
        match byte {
            0 => Ok(BlobType::Data),
            1 => Ok(BlobType::Tree),
            other => Err(Error::integrity(format!("unknown blob type {other}"))),
        }
    }
}

/// Associated data of a blob: type byte ‖ blob id.
fn aad(blob_type: BlobType, id: &Id) -> [u8; 33] {
    let mut aad = [0u8; 33];
    aad[0] = blob_type.to_byte();
    aad[1..].copy_from_slice(id.as_bytes());
    aad
}

/// A blob ready to append to a pack.
pub(crate) struct SealedBlob {
    pub bytes: Vec<u8>,
    pub raw_length: u64,
    pub compressed: bool,
}

/// Compresses (when that shrinks it) and encrypts `plaintext` under the pack key.
pub(crate) fn seal(
    pack_key: &[u8; 32],
    blob_type: BlobType,
    id: &Id,
    plaintext: &[u8],
) -> SealedBlob {
    let packed = zstd::bulk::compress(plaintext, ZSTD_LEVEL)
        .ok()
        .filter(|c| c.len() < plaintext.len());
    let compressed = packed.is_some();
    let body = packed.as_deref().unwrap_or(plaintext);
    SealedBlob {
        bytes: crypto::seal(pack_key, &aad(blob_type, id), body),
        raw_length: plaintext.len() as u64,
        compressed,
    }
}

/// Decrypts and decompresses a blob.
///
/// # Errors
/// `Integrity` when authentication fails or the contents do not match the
/// recorded length.
pub(crate) fn open(
    pack_key: &[u8; 32],
    blob_type: BlobType,
    id: &Id,
    sealed: &[u8],
    compressed: bool,
    raw_length: u64,
) -> Result<Vec<u8>> {
    let body = crypto::open(pack_key, &aad(blob_type, id), sealed)?;
    let plaintext = if compressed {
        // Streams, so a wrong (huge) raw length costs no up-front allocation.
        crate::index::decompress_bounded(&body, raw_length)
            .map_err(|e| Error::integrity(format!("blob {id} does not decompress: {}", e.message())))?
    } else {
        body
    };
    if plaintext.len() as u64 != raw_length {
        return Err(Error::integrity(format!(
            "blob {id} has {} bytes, the index says {raw_length}",
            plaintext.len()
        )));
    }
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn compresses_only_when_it_shrinks() {
        let key = [1u8; 32];
        let id = Id::hash(b"id");
        let text = b"abcabcabc".repeat(1000);
        let sealed = seal(&key, BlobType::Data, &id, &text);
        assert!(sealed.compressed);
        assert!(sealed.bytes.len() < text.len());
        assert_eq!(
            open(
                &key,
                BlobType::Data,
                &id,
                &sealed.bytes,
                true,
                sealed.raw_length
            )
            .unwrap(),
            text
        );

        let mut noise = vec![0u8; 4096];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut noise);
        let noise_sealed = seal(&key, BlobType::Data, &id, &noise);
        assert!(!noise_sealed.compressed);
        assert_eq!(
            open(&key, BlobType::Data, &id, &noise_sealed.bytes, false, 4096).unwrap(),
            noise
        );

        let empty = seal(&key, BlobType::Tree, &id, b"");
        assert_eq!(
            open(&key, BlobType::Tree, &id, &empty.bytes, empty.compressed, 0).unwrap(),
            b""
        );
    }

    #[test]
    fn type_and_id_are_authenticated() {
        let key = [1u8; 32];
        let id = Id::hash(b"id");
        let sealed = seal(&key, BlobType::Data, &id, b"contents");
        let integrity =
            |r: Result<Vec<u8>>| assert_eq!(r.unwrap_err().kind(), ErrorKind::Integrity);
        integrity(open(
            &key,
            BlobType::Tree,
            &id,
            &sealed.bytes,
            sealed.compressed,
            8,
        ));
        integrity(open(
            &key,
            BlobType::Data,
            &Id::hash(b"other"),
            &sealed.bytes,
            sealed.compressed,
            8,
        ));
        integrity(open(
            &key,
            BlobType::Data,
            &id,
            &sealed.bytes,
            sealed.compressed,
            9,
        ));
        assert!(BlobType::from_byte(2).is_err());
    }
}
