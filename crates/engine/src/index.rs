//! Index files (which blob lives in which pack) and the in-memory index.

mod disk;

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::blob::BlobType;
use crate::crypto::{self, Keys, SALT_LEN};
use crate::error::{Error, Result};
use crate::id::Id;
use crate::pack::{Pack, PackEntry};

const INDEX_AAD: &[u8] = b"coffer index v1";
const INDEX_VERSION: u32 = 1;
/// Largest decompressed index file accepted (writers stay far below: prune
/// splits at 50 000 blobs, about 10 MiB of JSON), so a hostile file cannot
/// make a reader allocate without bound.
const MAX_INDEX_JSON: u64 = 256 << 20;

/// zstd-decompresses at most `limit` bytes.
///
/// # Errors
/// `Integrity` when the data is not zstd or expands beyond `limit`.
pub(crate) fn decompress_bounded(packed: &[u8], limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let decoder = zstd::stream::read::Decoder::new(packed)
        .map_err(|e| Error::integrity(format!("not zstd: {e}")))?;
    let mut out = Vec::new();
    decoder
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|e| Error::integrity(format!("does not decompress: {e}")))?;
    if out.len() as u64 > limit {
        return Err(Error::integrity(format!("expands beyond {limit} bytes")));
    }
    Ok(out)
}

/// The plaintext of one index file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IndexFile {
    pub version: u32,
    pub packs: Vec<IndexPack>,
    /// Packs prune found unreferenced, and since when (Unix ms): deleted once
    /// still unreferenced after the grace period (see `prune.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub condemned: Vec<Condemned>,
}

/// A pack prune intends to delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Condemned {
    pub pack: Id,
    /// When prune first found it unreferenced, Unix milliseconds.
    pub since: i64,
}

/// One pack as an index file lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IndexPack {
    pub id: Id,
    #[serde(with = "hex_salt")]
    pub salt: [u8; SALT_LEN],
    pub blobs: Vec<PackEntry>,
}

impl From<&Pack> for IndexPack {
    fn from(pack: &Pack) -> IndexPack {
        IndexPack {
            id: pack.id,
            salt: pack.salt,
            blobs: pack.entries.clone(),
        }
    }
}

mod hex_salt {
    use super::SALT_LEN;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(salt: &[u8; SALT_LEN], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(salt))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; SALT_LEN], D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let mut salt = [0u8; SALT_LEN];
        hex::decode_to_slice(text.as_ref(), &mut salt).map_err(serde::de::Error::custom)?;
        Ok(salt)
    }
}

impl IndexFile {
    pub(crate) fn new(packs: Vec<IndexPack>) -> IndexFile {
        IndexFile {
            version: INDEX_VERSION,
            packs,
            condemned: Vec::new(),
        }
    }

    /// `nonce ‖ AES-256-GCM(metadata key, zstd(JSON))`.
    pub(crate) fn encrypt(&self, keys: &Keys) -> Vec<u8> {
        let json = serde_json::to_vec(self).expect("index serializes");
        let packed = zstd::bulk::compress(&json, 3).expect("zstd compresses in memory");
        crypto::seal(keys.metadata_key(), INDEX_AAD, &packed)
    }

    /// # Errors
    /// `Integrity` when the file fails authentication or does not parse.
    pub(crate) fn decrypt(keys: &Keys, bytes: &[u8]) -> Result<IndexFile> {
        let packed = crypto::open(keys.metadata_key(), INDEX_AAD, bytes)?;
        let json = decompress_bounded(&packed, MAX_INDEX_JSON)
            .map_err(|e| e.context("index"))?;
        let file: IndexFile = serde_json::from_slice(&json)
            .map_err(|e| Error::integrity(format!("index does not parse: {e}")))?;
        if file.version != INDEX_VERSION {
            return Err(Error::integrity(format!(
                "unsupported index version {}",
                file.version
            )));
        }
        Ok(file)
    }
}

/// Where to find a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlobLocation {
    pub pack: Id,
    pub salt: [u8; SALT_LEN],
    pub entry: PackEntry,
}

/// Every known blob, by type and id: in memory, or in an on-disk cache
/// (`disk.rs`) with a small in-memory overlay for adopted packs.
#[derive(Debug, Default)]
pub(crate) struct Index {
    /// Everything (memory mode) or only adopted packs' blobs (disk mode).
    blobs: HashMap<(BlobType, Id), BlobLocation>,
    /// Packs named by a loaded index file (memory mode).
    packs: HashSet<Id>,
    /// Condemned packs and since when (memory mode).
    condemned: HashMap<Id, i64>,
    disk: Option<disk::DiskIndex>,
}

impl Index {
    /// An index kept on disk in `path` (created if missing), using at most
    /// `cache_bytes` of memory for its page cache.
    ///
    /// # Errors
    /// `Io` when the file cannot be opened (e.g. another process has it).
    pub(crate) fn on_disk(path: &Path, cache_bytes: usize) -> Result<Index> {
        Ok(Index {
            disk: Some(disk::DiskIndex::open(path, cache_bytes)?),
            ..Index::default()
        })
    }

    /// Index files already in the on-disk cache (empty in memory mode).
    pub(crate) fn cached_index_files(&self) -> Result<HashSet<Id>> {
        match &self.disk {
            Some(disk) => disk.index_files(),
            None => Ok(HashSet::new()),
        }
    }

    /// Forgets everything (an index file was removed, e.g. by prune).
    pub(crate) fn clear(&mut self) -> Result<()> {
        self.blobs.clear();
        self.packs.clear();
        self.condemned.clear();
        match &self.disk {
            Some(disk) => disk.clear(),
            None => Ok(()),
        }
    }

    /// Adds the packs of one index file (recorded as loaded in the cache).
    pub(crate) fn add_index_file(&mut self, file_id: &Id, file: &IndexFile) -> Result<()> {
        match &self.disk {
            Some(disk) => disk.add_index_file(file_id, file),
            None => {
                for c in &file.condemned {
                    let since = self.condemned.entry(c.pack).or_insert(c.since);
                    *since = (*since).min(c.since);
                }
                for pack in &file.packs {
                    self.add_to_memory(pack);
                    self.packs.insert(pack.id);
                }
                Ok(())
            }
        }
    }

    /// Since when a pack is condemned, if it is.
    pub(crate) fn condemned_since(&self, pack: &Id) -> Result<Option<i64>> {
        match &self.disk {
            Some(disk) => disk.condemned_since(pack),
            None => Ok(self.condemned.get(pack).copied()),
        }
    }

    /// Every condemned pack and since when.
    pub(crate) fn condemned(&self) -> Result<HashMap<Id, i64>> {
        match &self.disk {
            Some(disk) => disk.condemned(),
            None => Ok(self.condemned.clone()),
        }
    }

    /// Adds a pack no index file names (kept in memory only, so a cache
    /// never remembers a pack that may later be pruned unindexed).
    pub(crate) fn add_adopted(&mut self, pack: &IndexPack) {
        self.add_to_memory(pack);
    }

    fn add_to_memory(&mut self, pack: &IndexPack) {
        for entry in &pack.blobs {
            let loc = BlobLocation {
                pack: pack.id,
                salt: pack.salt,
                entry: *entry,
            };
            // The first copy wins (later duplicates are garbage for prune),
            // except over a copy in a condemned pack.
            match self.blobs.entry((entry.blob_type, entry.id)) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(loc);
                }
                std::collections::hash_map::Entry::Occupied(mut o) => {
                    if self.condemned.contains_key(&o.get().pack)
                        && !self.condemned.contains_key(&pack.id)
                    {
                        o.insert(loc);
                    }
                }
            }
        }
    }

    /// Whether an index file names `pack`.
    pub(crate) fn has_pack(&self, pack: &Id) -> Result<bool> {
        match &self.disk {
            Some(disk) => disk.has_pack(pack),
            None => Ok(self.packs.contains(pack)),
        }
    }

    pub(crate) fn get(&self, blob_type: BlobType, id: &Id) -> Result<Option<BlobLocation>> {
        if let Some(loc) = self.blobs.get(&(blob_type, *id)) {
            return Ok(Some(*loc));
        }
        match &self.disk {
            Some(disk) => disk.get(blob_type, id),
            None => Ok(None),
        }
    }

    pub(crate) fn contains(&self, blob_type: BlobType, id: &Id) -> Result<bool> {
        Ok(self.get(blob_type, id)?.is_some())
    }

    /// Calls `f` for every blob with its location, in no particular order
    /// (memory overlay first). Streams from disk, holding no copy.
    pub(crate) fn for_each(&self, mut f: impl FnMut(BlobType, Id, BlobLocation)) -> Result<()> {
        for ((t, id), loc) in &self.blobs {
            f(*t, *id, *loc);
        }
        if let Some(disk) = &self.disk {
            disk.for_each(|t, id, loc| {
                if !self.blobs.contains_key(&(t, id)) {
                    f(t, id, loc);
                }
            })?;
        }
        Ok(())
    }

    /// Number of distinct blobs.
    pub(crate) fn len(&self) -> Result<u64> {
        let mut n = self.blobs.len() as u64;
        if let Some(disk) = &self.disk {
            n += disk.len()?;
            // Adopted blobs may also be in the cache; rare, count exactly.
            for (t, id) in self.blobs.keys() {
                if disk.get(*t, id)?.is_some() {
                    n -= 1;
                }
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::DataKey;
    use crate::error::ErrorKind;
    use crate::pack::PackWriter;

    #[test]
    fn index_file_round_trip_and_lookup() {
        let keys = Keys::derive(&DataKey::generate());
        let mut writer = PackWriter::new(&keys);
        writer.add(BlobType::Data, &keys.blob_id(b"a"), b"a");
        writer.add(BlobType::Tree, &keys.blob_id(b"t"), b"t");
        let pack = writer.finish();
        let file = IndexFile::new(vec![IndexPack::from(&pack)]);
        let bytes = file.encrypt(&keys);
        assert_eq!(IndexFile::decrypt(&keys, &bytes).unwrap(), file);

        let other = Keys::derive(&DataKey::generate());
        assert_eq!(
            IndexFile::decrypt(&other, &bytes).unwrap_err().kind(),
            ErrorKind::Integrity
        );

        let dir = tempfile::tempdir().unwrap();
        for mut index in [
            Index::default(),
            Index::on_disk(&dir.path().join("cache.redb"), 1 << 20).unwrap(),
        ] {
            index.add_index_file(&Id::hash(&bytes), &file).unwrap();
            assert_eq!(index.len().unwrap(), 2);
            let loc = index.get(BlobType::Data, &keys.blob_id(b"a")).unwrap().unwrap();
            assert_eq!(loc.pack, pack.id);
            assert_eq!(loc.salt, pack.salt);
            assert_eq!(loc.entry, file.packs[0].blobs[0]);
            assert!(index.contains(BlobType::Tree, &keys.blob_id(b"t")).unwrap());
            // Type is part of the key.
            assert!(!index.contains(BlobType::Tree, &keys.blob_id(b"a")).unwrap());
            assert!(index.has_pack(&pack.id).unwrap());
            let mut seen = 0;
            index.for_each(|_, _, loc| {
                assert_eq!(loc.pack, pack.id);
                seen += 1;
            })
            .unwrap();
            assert_eq!(seen, 2);

            // An adopted pack is found but not counted as indexed.
            let mut w = PackWriter::new(&keys);
            w.add(BlobType::Data, &keys.blob_id(b"b"), b"b");
            let adopted = IndexPack::from(&w.finish());
            index.add_adopted(&adopted);
            assert!(index.contains(BlobType::Data, &keys.blob_id(b"b")).unwrap());
            assert!(!index.has_pack(&adopted.id).unwrap());
            assert_eq!(index.len().unwrap(), 3);
            index.clear().unwrap();
            assert_eq!(index.len().unwrap(), 0);
        }
    }

    fn status_kib(field: &str) -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Peak memory of opening a repository whose index names `COFFER_INDEX_BLOBS`
    /// (default 1 000 000) blobs, in memory or with the on-disk cache. Run
    /// each mode alone (peak RSS is per process):
    /// `COFFER_INDEX_MODE=disk cargo test --release -p coffer-engine --lib index_peak_memory -- --ignored --nocapture`
    #[test]
    #[ignore = "measurement; prints peak RSS"]
    fn index_peak_memory() {
        use crate::backend::{Backend, FileKind, LocalBackend};
        use crate::repository::Repository;
        use std::sync::Arc;
        let mode = std::env::var("COFFER_INDEX_MODE").unwrap_or_else(|_| "disk".into());
        let blobs: u64 = std::env::var("COFFER_INDEX_BLOBS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        let cache_mib: usize = std::env::var("COFFER_INDEX_CACHE_MIB")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(32);
        let key = DataKey::generate();
        let keys = Keys::derive(&key);
        let dir = tempfile::tempdir().unwrap();
        let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(dir.path().join("repo")).unwrap());
        // Synthetic index files: 100 blobs per pack, 100 packs per file,
        // as backups writing an index every few packs would leave.
        let mut n = 0u64;
        while n < blobs {
            let mut packs = Vec::new();
            for _ in 0..100 {
                let pack_id = Id::hash(&n.to_le_bytes());
                let mut entries = Vec::new();
                for j in 0..100u64 {
                    if n >= blobs {
                        break;
                    }
                    entries.push(PackEntry {
                        blob_type: BlobType::Data,
                        id: keys.blob_id(&n.to_le_bytes()),
                        offset: 21 + j * 1_000_000,
                        length: 1_000_000,
                        raw_length: 1_048_576,
                        compressed: false,
                    });
                    n += 1;
                }
                packs.push(IndexPack { id: pack_id, salt: [7; SALT_LEN], blobs: entries });
            }
            let bytes = IndexFile::new(packs).encrypt(&keys);
            backend.put(FileKind::Index, &Id::hash(&bytes), &bytes).unwrap();
        }
        // Forget the generator's peak (Linux: "5" resets VmHWM).
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = status_kib("VmHWM:");
        let start = std::time::Instant::now();
        let repo = match mode.as_str() {
            "memory" => Repository::open(backend.clone(), &key).unwrap(),
            _ => Repository::open_with_cache_size(
                backend.clone(),
                &key,
                &dir.path().join("cache"),
                cache_mib << 20,
            )
            .unwrap(),
        };
        let opened = start.elapsed();
        assert_eq!(repo.blob_count().unwrap(), blobs);
        let start = std::time::Instant::now();
        for i in (0..blobs).step_by((blobs / 10_000).max(1) as usize) {
            let id = keys.blob_id(&i.to_le_bytes());
            assert!(repo.has_blob(BlobType::Data, &id).unwrap());
        }
        let lookups = start.elapsed();
        let reopen = if mode == "memory" {
            std::time::Duration::ZERO
        } else {
            drop(repo);
            let start = std::time::Instant::now();
            let repo = Repository::open_with_cache(backend, &key, &dir.path().join("cache")).unwrap();
            assert_eq!(repo.blob_count().unwrap(), blobs);
            start.elapsed()
        };
        println!(
            "index of {blobs} blobs, mode {mode} (cache {cache_mib} MiB): peak RSS {} MiB (before open {} MiB), \
             open {opened:?}, reopen {reopen:?}, 10k lookups {lookups:?}",
            status_kib("VmHWM:") / 1024,
            before / 1024
        );
    }
}
