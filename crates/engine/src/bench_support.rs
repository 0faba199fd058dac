//! The engine's building blocks one at a time, for the criterion benches in
//! `benches/components.rs`: the same code the backup runs (chunker, keyed
//! BLAKE3, zstd at the blob level, AES-256-GCM), without files, packs or
//! threads around it. Not part of the API.

use crate::blob::ZSTD_LEVEL;
use crate::chunker::{ChunkSizes, Chunker, Cutter};
use crate::crypto::{self, Keys, SealingKey};
use crate::id::Id;
use crate::DataKey;

/// One account's keys and the backup's default chunk sizes.
pub struct Components {
    keys: Keys,
    cutter: Cutter,
    key: SealingKey,
    zstd: zstd::bulk::Compressor<'static>,
}

impl Components {
    /// # Panics
    /// When zstd cannot set up a compression context.
    pub fn new(key: &DataKey) -> Components {
        let keys = Keys::derive(key);
        let defaults = crate::BackupOptions::default();
        let sizes = ChunkSizes {
            min: defaults.chunk_min,
            avg: defaults.chunk_avg,
            max: defaults.chunk_max,
        };
        let cutter = Cutter::new(sizes, keys.chunker_seed());
        let pack_key = keys.pack_key(&[7u8; crypto::SALT_LEN]);
        Components {
            key: SealingKey::new(&pack_key),
            keys,
            cutter,
            zstd: zstd::bulk::Compressor::new(ZSTD_LEVEL).expect("zstd context"),
        }
    }

    /// Cuts `data` into content-defined chunks as a backup reads a file;
    /// returns how many.
    pub fn chunk(&self, data: &[u8]) -> usize {
        let mut chunks = 0;
        for chunk in Chunker::new(data, &self.cutter, data.len() as u64) {
            chunk.expect("reading memory does not fail");
            chunks += 1;
        }
        chunks
    }

    /// A blob id: BLAKE3 keyed with the account's chunk-id key.
    pub fn blob_id(&self, data: &[u8]) -> Id {
        self.keys.blob_id(data)
    }

    /// Compresses `data` as a blob is compressed (zstd level 3, reused
    /// context); returns the compressed length.
    pub fn compress(&mut self, data: &[u8], out: &mut Vec<u8>) -> usize {
        out.clear();
        out.reserve(zstd::zstd_safe::compress_bound(data.len()));
        self.zstd.compress_to_buffer(data, out).expect("zstd compresses")
    }

    /// Encrypts `data` as a blob is encrypted (AES-256-GCM, random nonce,
    /// 33 bytes of associated data) into `out`.
    pub fn encrypt(&self, data: &[u8], out: &mut Vec<u8>) {
        out.clear();
        crypto::seal_into(&self.key, &[0u8; 33], data, out);
    }
}
