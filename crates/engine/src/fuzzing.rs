//! Entry points for the cargo-fuzz targets in `fuzz/` (feature `fuzzing`):
//! every parser of bytes that come from the service. Each takes arbitrary
//! bytes and must return (an error is fine) without panicking, hanging or
//! allocating without bound.

use crate::crypto::{self, DataKey, Keys};
use crate::id::Id;
use crate::index::IndexFile;
use crate::keywrap::WrappedKey;
use crate::pack;
use crate::snapshot::Snapshot;
use crate::tree::{validate_name, Tree};

fn keys() -> Keys {
    Keys::derive(&DataKey::from_bytes([0x42; 32]))
}

/// A whole pack file as stored (almost always fails authentication: this
/// exercises the framing checks).
pub fn pack_file(bytes: &[u8]) {
    let _ = pack::read_header(&keys(), bytes);
}

/// A pack header's plaintext, sealed with the fuzzing key so the parser
/// behind authentication runs on arbitrary input.
pub fn pack_header_plaintext(bytes: &[u8]) {
    let keys = keys();
    let salt = [7u8; crypto::SALT_LEN];
    let mut prefix = b"CFPK\x01".to_vec();
    prefix.extend_from_slice(&salt);
    let sealed = crypto::seal(&keys.pack_key(&salt), &prefix, bytes);
    let blobs_end = u64::from(bytes.first().copied().unwrap_or(0)) << 8;
    let _ = pack::decode_header(&keys, &Id::hash(bytes), &prefix, &sealed, blobs_end);
}

/// An index file as stored, and its plaintext (zstd JSON) behind
/// authentication.
pub fn index_file(bytes: &[u8]) {
    let keys = keys();
    let _ = IndexFile::decrypt(&keys, bytes);
    let sealed = crypto::seal(keys.metadata_key(), b"coffer index v1", bytes);
    let _ = IndexFile::decrypt(&keys, &sealed);
    // And the JSON itself, compressed the way writers do.
    if let Ok(packed) = zstd::bulk::compress(bytes, 1) {
        let sealed = crypto::seal(keys.metadata_key(), b"coffer index v1", &packed);
        let _ = IndexFile::decrypt(&keys, &sealed);
    }
}

/// A tree blob's plaintext, and the name check restore applies.
pub fn tree(bytes: &[u8]) {
    if let Ok(tree) = Tree::from_bytes(bytes) {
        for node in &tree.nodes {
            let _ = validate_name(&node.name);
        }
        let _ = tree.to_bytes();
    }
}

/// A snapshot file as stored, and its JSON behind authentication.
pub fn snapshot(bytes: &[u8]) {
    let keys = keys();
    let _ = Snapshot::decrypt(&keys, bytes);
    let sealed = crypto::seal(keys.metadata_key(), b"coffer snapshot v1", bytes);
    let _ = Snapshot::decrypt(&keys, &sealed);
}

/// A wrapped-key record (parsed only: unwrapping runs Argon2).
pub fn wrapped_key(bytes: &[u8]) {
    if let Ok(w) = WrappedKey::from_json(bytes) {
        let again = WrappedKey::from_json(w.to_json().as_bytes()).expect("own output parses");
        assert_eq!(again, w);
    }
}

/// A blob's sealed bytes with arbitrary flags and lengths.
pub fn blob(bytes: &[u8]) {
    if bytes.len() < 9 {
        return;
    }
    let keys = keys();
    let raw_length = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let compressed = bytes[8] & 1 == 1;
    let body = &bytes[9..];
    let id = Id::hash(body);
    let salt = [7u8; crypto::SALT_LEN];
    let key = keys.pack_key(&salt);
    // Seal the body as a compressed-or-not blob so decompression runs.
    let mut aad = vec![0u8];
    aad.extend_from_slice(id.as_bytes());
    let sealed = crypto::seal(&key, &aad, body);
    let _ = crate::blob::open(&key, crate::blob::BlobType::Data, &id, &sealed, compressed, raw_length);
}

/// Regression tests: each fuzzing entry point on random input, and the
/// inputs that once were (or could be) a problem.
#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Read;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn entry_points_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            pack_file(&bytes);
            pack_header_plaintext(&bytes);
            index_file(&bytes);
            tree(&bytes);
            snapshot(&bytes);
            wrapped_key(&bytes);
            blob(&bytes);
        }
    }

    /// An authentic index whose JSON expands to 300 MiB is refused without
    /// allocating it (it used to be `zstd::decode_all`, unbounded).
    #[test]
    fn index_decompression_bomb_is_bounded() {
        let keys = keys();
        let mut encoder = zstd::stream::read::Encoder::new(std::io::repeat(b' ').take(300 << 20), 19).unwrap();
        let mut packed = Vec::new();
        encoder.read_to_end(&mut packed).unwrap();
        assert!(packed.len() < 1 << 20);
        let sealed = crypto::seal(keys.metadata_key(), b"coffer index v1", &packed);
        let err = IndexFile::decrypt(&keys, &sealed).unwrap_err();
        assert!(err.message().contains("expands beyond"), "{err}");
    }

    /// A blob entry claiming an absurd raw length does not allocate it up
    /// front (it used to be `zstd::bulk::decompress(body, raw_length)`).
    #[test]
    fn absurd_blob_length_is_not_preallocated() {
        let packed = zstd::bulk::compress(b"small", 3).unwrap();
        let mut input = u64::MAX.to_le_bytes().to_vec();
        input.push(1);
        input.extend_from_slice(&packed);
        blob(&input); // would abort with "capacity overflow" / OOM before
    }

    /// A header claiming u32::MAX entries is refused by its length check
    /// without overflowing.
    #[test]
    fn huge_entry_count_is_refused() {
        pack_header_plaintext(&u32::MAX.to_le_bytes());
        let mut header = 2u32.to_le_bytes().to_vec();
        header.extend_from_slice(&[0u8; 58]);
        pack_header_plaintext(&header);
    }
}
