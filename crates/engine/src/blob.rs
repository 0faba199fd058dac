//! Blobs: a chunk of file data or a tree, compressed and encrypted.

use serde::{Deserialize, Serialize};

use crate::crypto;
use crate::error::{Error, Result};
use crate::id::Id;

/// zstd level for blobs: fast, and most of the gain.
pub(crate) const ZSTD_LEVEL: i32 = 3;

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
#[cfg(test)]
pub(crate) struct SealedBlob {
    pub bytes: Vec<u8>,
    pub raw_length: u64,
    pub compressed: bool,
}

/// Compresses (when that shrinks it) and encrypts `plaintext` under the pack key.
#[cfg(test)]
pub(crate) fn seal(
    pack_key: &[u8; 32],
    blob_type: BlobType,
    id: &Id,
    plaintext: &[u8],
) -> SealedBlob {
    let mut bytes = Vec::new();
    let compressed = BlobSealer::new(pack_key).seal_into(blob_type, id, plaintext, &mut bytes);
    SealedBlob {
        bytes,
        raw_length: plaintext.len() as u64,
        compressed,
    }
}

/// Seals the blobs of one pack: one cipher (one key schedule), one zstd
/// context and one scratch buffer for all of them. A context per blob
/// cost more than compressing a small file.
pub(crate) struct BlobSealer {
    key: crypto::SealingKey,
    /// `None` when zstd could not set up a context: blobs are then stored
    /// uncompressed, which the format allows.
    zstd: Option<zstd::bulk::Compressor<'static>>,
    scratch: Vec<u8>,
}

impl BlobSealer {
    pub(crate) fn new(pack_key: &[u8; 32]) -> BlobSealer {
        BlobSealer {
            key: crypto::SealingKey::new(pack_key),
            zstd: zstd::bulk::Compressor::new(ZSTD_LEVEL).ok(),
            scratch: Vec::new(),
        }
    }

    /// Compresses `plaintext` (when that shrinks it), encrypts it and
    /// appends `nonce ‖ ciphertext ‖ tag` to `out`. Returns whether it was
    /// compressed.
    pub(crate) fn seal_into(
        &mut self,
        blob_type: BlobType,
        id: &Id,
        plaintext: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        let compressed = match &mut self.zstd {
            Some(zstd) => {
                self.scratch.clear();
                self.scratch.reserve(zstd::zstd_safe::compress_bound(plaintext.len()));
                zstd.compress_to_buffer(plaintext, &mut self.scratch).is_ok()
                    && self.scratch.len() < plaintext.len()
            }
            None => false,
        };
        let body = if compressed { &self.scratch[..] } else { plaintext };
        crypto::seal_into(&self.key, &aad(blob_type, id), body, out);
        compressed
    }

    /// Encrypts `plaintext` as is under the same key with `aad` (the pack
    /// header) and appends it to `out`.
    pub(crate) fn seal_plain_into(&self, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
        crypto::seal_into(&self.key, aad, plaintext, out);
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
        decompress(&body, raw_length)
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

/// Blobs up to this raw length are decompressed in one call into a buffer
/// of exactly that size; larger claims (only trees can be larger than the
/// 16 MiB chunk limit) stream, so a wrong, huge raw length costs no
/// up-front allocation.
const BULK_DECOMPRESS_LIMIT: u64 = 16 << 20;

thread_local! {
    /// One zstd decompression context per thread: setting one up per blob
    /// cost more than decompressing a small one.
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

fn decompress(packed: &[u8], raw_length: u64) -> Result<Vec<u8>> {
    if raw_length > BULK_DECOMPRESS_LIMIT {
        return crate::index::decompress_bounded(packed, raw_length);
    }
    DECOMPRESSOR.with(|cell| {
        let mut cell = cell.borrow_mut();
        let zstd = match cell.as_mut() {
            Some(zstd) => zstd,
            None => cell.insert(
                zstd::bulk::Decompressor::new()
                    .map_err(|e| Error::integrity(format!("no zstd context: {e}")))?,
            ),
        };
        let mut out = Vec::with_capacity(raw_length as usize);
        // Fails when the frame would expand past `raw_length`.
        zstd.decompress_to_buffer(packed, &mut out)
            .map_err(|e| Error::integrity(format!("does not decompress to {raw_length} bytes: {e}")))?;
        Ok(out)
    })
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
