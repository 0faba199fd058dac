//! Pack files: many encrypted blobs and an encrypted table of contents.
//!
//! ```text
//! "CFPK" | version (1 byte) | salt (16) | blob… | sealed header | header length (u32 LE)
//! ```
//! See `docs/format.md` for the header layout.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::blob::{self, BlobSealer, BlobType};
use crate::crypto::{self, Keys, SALT_LEN};
use crate::error::{Error, Result};
use crate::id::Id;

const MAGIC: &[u8; 4] = b"CFPK";
const VERSION: u8 = 1;
/// Magic, version and salt.
pub(crate) const PREFIX_LEN: usize = 4 + 1 + SALT_LEN;
/// type, id, offset, length, raw length, flags.
const ENTRY_LEN: usize = 1 + 32 + 8 + 8 + 8 + 1;
const FLAG_COMPRESSED: u8 = 1;

/// Where one blob sits inside a pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PackEntry {
    #[serde(rename = "type")]
    pub blob_type: BlobType,
    pub id: Id,
    /// Byte offset of the sealed blob from the start of the pack file.
    pub offset: u64,
    /// Length of the sealed blob (nonce and tag included).
    pub length: u64,
    /// Length of the plaintext.
    pub raw_length: u64,
    /// Whether the sealed plaintext is zstd-compressed.
    pub compressed: bool,
}

/// A finished pack, ready to upload.
pub(crate) struct Pack {
    pub id: Id,
    pub bytes: Vec<u8>,
    pub salt: [u8; SALT_LEN],
    pub entries: Vec<PackEntry>,
}

/// Builds one pack in memory.
pub(crate) struct PackWriter {
    salt: [u8; SALT_LEN],
    sealer: BlobSealer,
    bytes: Vec<u8>,
    entries: Vec<PackEntry>,
    ids: HashSet<Id>,
}

impl PackWriter {
    pub(crate) fn new(keys: &Keys) -> PackWriter {
        PackWriter::with_buffer(keys, Vec::new())
    }

    /// A writer that builds the pack in `buffer` (emptied first), so a
    /// backup can reuse a few pack-sized buffers instead of allocating one
    /// per pack.
    pub(crate) fn with_buffer(keys: &Keys, mut bytes: Vec<u8>) -> PackWriter {
        let salt = crypto::random_salt();
        bytes.clear();
        bytes.extend_from_slice(MAGIC);
        bytes.push(VERSION);
        bytes.extend_from_slice(&salt);
        let key = keys.pack_key(&salt);
        PackWriter {
            salt,
            sealer: BlobSealer::new(&key),
            bytes,
            entries: Vec::new(),
            ids: HashSet::new(),
        }
    }

    /// Whether a blob with this id is already in the pack.
    #[cfg(test)]
    pub(crate) fn contains(&self, id: &Id) -> bool {
        self.ids.contains(id)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes so far (header excluded).
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// The finished pack's size at most, were a blob of `plaintext_len`
    /// bytes added now (sealed blobs are never larger than their plaintext
    /// plus nonce and tag, since a blob that zstd does not shrink is stored
    /// as is).
    pub(crate) fn size_with(&self, plaintext_len: usize) -> usize {
        finished_size(self.bytes.len() + sealed_bound(plaintext_len), self.entries.len() + 1)
    }

    /// Appends a blob unless the pack has it already.
    pub(crate) fn add(&mut self, blob_type: BlobType, id: &Id, plaintext: &[u8]) {
        if !self.ids.insert(*id) {
            return;
        }
        let offset = self.bytes.len();
        let compressed = self.sealer.seal_into(blob_type, id, plaintext, &mut self.bytes);
        self.entries.push(PackEntry {
            blob_type,
            id: *id,
            offset: offset as u64,
            length: (self.bytes.len() - offset) as u64,
            raw_length: plaintext.len() as u64,
            compressed,
        });
    }

    /// Seals the header onto the pack and names it.
    pub(crate) fn finish(self) -> Pack {
        let PackWriter {
            salt,
            sealer,
            mut bytes,
            entries,
            ..
        } = self;
        bytes.reserve(finished_size(bytes.len(), entries.len()) - bytes.len());
        let mut header = Vec::with_capacity(4 + entries.len() * ENTRY_LEN);
        header.extend_from_slice(&(entries.len() as u32).to_le_bytes());
        for e in &entries {
            header.push(e.blob_type.to_byte());
            header.extend_from_slice(e.id.as_bytes());
            header.extend_from_slice(&e.offset.to_le_bytes());
            header.extend_from_slice(&e.length.to_le_bytes());
            header.extend_from_slice(&e.raw_length.to_le_bytes());
            header.push(if e.compressed { FLAG_COMPRESSED } else { 0 });
        }
        let prefix: [u8; PREFIX_LEN] = bytes[..PREFIX_LEN].try_into().expect("prefix written");
        let header_start = bytes.len();
        sealer.seal_plain_into(&prefix, &header, &mut bytes);
        let sealed_len = bytes.len() - header_start;
        bytes.extend_from_slice(&(sealed_len as u32).to_le_bytes());
        Pack {
            id: Id::hash(&bytes),
            bytes,
            salt,
            entries,
        }
    }
}

/// The most a sealed blob of `plaintext_len` bytes takes in a pack.
pub(crate) fn sealed_bound(plaintext_len: usize) -> usize {
    crypto::NONCE_LEN + plaintext_len + crypto::TAG_LEN
}

/// A pack's size once its header is sealed onto `body_len` bytes of prefix
/// and blobs holding `entries` blobs.
pub(crate) fn finished_size(body_len: usize, entries: usize) -> usize {
    body_len + sealed_bound(4 + entries * ENTRY_LEN) + 4
}

/// Reads a whole pack's table of contents, e.g. to rebuild a lost index.
///
/// # Errors
/// `Integrity` when the pack is malformed or fails authentication.
pub(crate) fn read_header(keys: &Keys, pack: &[u8]) -> Result<([u8; SALT_LEN], Vec<PackEntry>)> {
    let id = Id::hash(pack);
    if pack.len() < PREFIX_LEN + 4 {
        return Err(Error::integrity(format!("pack {id}: not a pack file")));
    }
    let (body, trailer) = pack.split_at(pack.len() - 4);
    let header_len = header_length(trailer, body.len() as u64, &id)?;
    let blobs_end = body.len() - header_len as usize;
    decode_header(keys, &id, &pack[..PREFIX_LEN], &body[blobs_end..], blobs_end as u64)
}

/// The sealed header's length from the pack's last 4 bytes.
///
/// # Errors
/// `Integrity` when it cannot fit in a pack of `body_len` bytes (all but
/// the trailer).
pub(crate) fn header_length(trailer: &[u8], body_len: u64, id: &Id) -> Result<u64> {
    let header_len = u64::from(u32::from_le_bytes(
        trailer.try_into().map_err(|_| Error::integrity(format!("pack {id}: no trailer")))?,
    ));
    if body_len < PREFIX_LEN as u64 || header_len > body_len - PREFIX_LEN as u64 {
        return Err(Error::integrity(format!("pack {id}: header length out of range")));
    }
    Ok(header_len)
}

/// Authenticates and parses a pack header given the pack's first
/// [`PREFIX_LEN`] bytes and the sealed header; `blobs_end` is where the
/// sealed header starts (every entry must end before it).
///
/// # Errors
/// `Integrity` when malformed or not authentic.
pub(crate) fn decode_header(
    keys: &Keys,
    id: &Id,
    prefix: &[u8],
    sealed_header: &[u8],
    blobs_end: u64,
) -> Result<([u8; SALT_LEN], Vec<PackEntry>)> {
    let bad = |what: &str| Error::integrity(format!("pack {id}: {what}"));
    if prefix.len() != PREFIX_LEN || &prefix[..4] != MAGIC {
        return Err(bad("not a pack file"));
    }
    if prefix[4] != VERSION {
        return Err(bad(&format!("unsupported version {}", prefix[4])));
    }
    let salt: [u8; SALT_LEN] = prefix[5..PREFIX_LEN].try_into().expect("salt length");
    let header = crypto::open(&keys.pack_key(&salt), prefix, sealed_header)
        .map_err(|e| e.context(format!("pack {id} header")))?;
    let count = u32::from_le_bytes(
        header
            .get(..4)
            .ok_or_else(|| bad("empty header"))?
            .try_into()
            .unwrap(),
    ) as usize;
    if count.checked_mul(ENTRY_LEN).and_then(|n| n.checked_add(4)) != Some(header.len()) {
        return Err(bad("header length does not match its entry count"));
    }
    let u64_at = |b: &[u8], at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    let mut entries = Vec::with_capacity(count);
    for raw in header[4..].chunks_exact(ENTRY_LEN) {
        let entry = PackEntry {
            blob_type: BlobType::from_byte(raw[0])?,
            id: Id::from_bytes(raw[1..33].try_into().unwrap()),
            offset: u64_at(raw, 33),
            length: u64_at(raw, 41),
            raw_length: u64_at(raw, 49),
            compressed: raw[57] & FLAG_COMPRESSED != 0,
        };
        if entry.offset < PREFIX_LEN as u64
            || entry
                .offset
                .checked_add(entry.length)
                .is_none_or(|end| end > blobs_end)
        {
            return Err(bad("blob entry out of range"));
        }
        entries.push(entry);
    }
    Ok((salt, entries))
}

/// Reads a stored pack's header with range reads (the last 64 KiB, which
/// usually holds the whole header, and the 21-byte prefix), so an unindexed
/// pack's blobs can be used without downloading it.
///
/// # Errors
/// Backend errors; `Integrity` when malformed or not authentic.
pub(crate) fn read_remote_header(
    keys: &Keys,
    backend: &dyn crate::backend::Backend,
    id: &Id,
    size: u64,
) -> Result<([u8; SALT_LEN], Vec<PackEntry>)> {
    use crate::backend::FileKind;
    if size < PREFIX_LEN as u64 + 4 {
        return Err(Error::integrity(format!("pack {id}: not a pack file")));
    }
    let tail_len = size.min(64 << 10);
    let tail = backend.get_range(FileKind::Pack, id, size - tail_len, tail_len)?;
    let header_len = header_length(&tail[tail.len() - 4..], size - 4, id)?;
    let blobs_end = size - 4 - header_len;
    let sealed = if header_len + 4 <= tail_len {
        tail[(tail_len - 4 - header_len) as usize..tail.len() - 4].to_vec()
    } else {
        backend.get_range(FileKind::Pack, id, blobs_end, header_len)?
    };
    let prefix = if size == tail_len {
        tail[..PREFIX_LEN].to_vec()
    } else {
        backend.get_range(FileKind::Pack, id, 0, PREFIX_LEN as u64)?
    };
    decode_header(keys, id, &prefix, &sealed, blobs_end)
}

/// Decrypts one blob given its pack's salt and its sealed bytes.
///
/// # Errors
/// `Integrity` when authentication fails.
pub(crate) fn open_blob(
    keys: &Keys,
    salt: &[u8; SALT_LEN],
    entry: &PackEntry,
    sealed: &[u8],
) -> Result<Vec<u8>> {
    blob::open(
        &keys.pack_key(salt),
        entry.blob_type,
        &entry.id,
        sealed,
        entry.compressed,
        entry.raw_length,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::DataKey;
    use crate::error::ErrorKind;

    fn blob_at<'a>(pack: &'a [u8], e: &PackEntry) -> &'a [u8] {
        &pack[e.offset as usize..(e.offset + e.length) as usize]
    }

    #[test]
    fn pack_round_trip() {
        let keys = Keys::derive(&DataKey::generate());
        let mut writer = PackWriter::new(&keys);
        assert!(writer.is_empty());
        let blobs: Vec<(BlobType, Vec<u8>)> = vec![
            (BlobType::Data, b"hello hello hello hello hello".to_vec()),
            (BlobType::Tree, b"{\"nodes\":[]}".to_vec()),
            (BlobType::Data, Vec::new()),
            (BlobType::Data, (0..=255u8).collect()),
        ];
        for (t, b) in &blobs {
            writer.add(*t, &keys.blob_id(b), b);
        }
        // Adding an id twice stores it once.
        writer.add(BlobType::Data, &keys.blob_id(&blobs[0].1), &blobs[0].1);
        assert!(writer.contains(&keys.blob_id(&blobs[1].1)));
        let pack = writer.finish();
        assert_eq!(pack.id, Id::hash(&pack.bytes));
        assert_eq!(pack.entries.len(), 4);

        let (salt, entries) = read_header(&keys, &pack.bytes).unwrap();
        assert_eq!(salt, pack.salt);
        assert_eq!(entries, pack.entries);
        for ((t, b), e) in blobs.iter().zip(&entries) {
            assert_eq!(e.blob_type, *t);
            assert_eq!(
                open_blob(&keys, &salt, e, blob_at(&pack.bytes, e)).unwrap(),
                *b
            );
        }
        assert!(entries[0].compressed);
        assert!(!entries[3].compressed);

        // A blob cannot be read with another pack's salt, or under another type.
        let e = &entries[0];
        let sealed = blob_at(&pack.bytes, e);
        let err = open_blob(&keys, &[0u8; SALT_LEN], e, sealed).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity);
        let as_tree = PackEntry {
            blob_type: BlobType::Tree,
            ..*e
        };
        assert_eq!(
            open_blob(&keys, &salt, &as_tree, sealed)
                .unwrap_err()
                .kind(),
            ErrorKind::Integrity
        );
    }

    #[test]
    fn remote_header_matches_the_whole_pack_read() {
        use crate::backend::{Backend, FileKind, MemoryBackend};
        let keys = Keys::derive(&DataKey::generate());
        let backend = MemoryBackend::new();
        // Small (whole pack in the tail read) and large (header > 64 KiB).
        for blobs in [1usize, 40, 1300] {
            let mut writer = PackWriter::new(&keys);
            for i in 0..blobs {
                let data = format!("blob number {i}");
                writer.add(BlobType::Data, &keys.blob_id(data.as_bytes()), data.as_bytes());
            }
            let pack = writer.finish();
            backend.put(FileKind::Pack, &pack.id, &pack.bytes).unwrap();
            let remote =
                read_remote_header(&keys, &backend, &pack.id, pack.bytes.len() as u64).unwrap();
            assert_eq!(remote, read_header(&keys, &pack.bytes).unwrap());
            assert_eq!(remote.1.len(), blobs);
            // A wrong size (e.g. a listing that lies) fails cleanly.
            assert!(read_remote_header(&keys, &backend, &pack.id, 10).is_err());
            let other = Keys::derive(&DataKey::generate());
            assert_eq!(
                read_remote_header(&other, &backend, &pack.id, pack.bytes.len() as u64)
                    .unwrap_err()
                    .kind(),
                ErrorKind::Integrity
            );
        }
    }

    #[test]
    fn damaged_or_foreign_packs_are_rejected() {
        let keys = Keys::derive(&DataKey::generate());
        let mut writer = PackWriter::new(&keys);
        writer.add(BlobType::Data, &keys.blob_id(b"x"), b"x");
        let pack = writer.finish().bytes;

        let other_keys = Keys::derive(&DataKey::generate());
        assert_eq!(
            read_header(&other_keys, &pack).unwrap_err().kind(),
            ErrorKind::Integrity
        );
        for i in [0, 4, 6, pack.len() - 10, pack.len() - 1] {
            let mut bad = pack.clone();
            bad[i] ^= 0x40;
            assert_eq!(
                read_header(&keys, &bad).unwrap_err().kind(),
                ErrorKind::Integrity,
                "byte {i}"
            );
        }
        assert_eq!(
            read_header(&keys, &pack[..10]).unwrap_err().kind(),
            ErrorKind::Integrity
        );
    }
}
