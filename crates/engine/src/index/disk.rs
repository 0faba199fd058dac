//! The blob index on disk (redb), for repositories larger than memory.
//!
//! Tables: `blobs` (type byte ‖ blob id → packed location), `packs` (pack
//! ids named by loaded index files) and `index_files` (which index files are
//! in the cache, so a later open loads only new ones). The file is a cache:
//! it holds nothing that is not in the repository's index files, is written
//! without fsync, and is rebuilt when it is lost or an index file it loaded
//! disappears.

use std::collections::HashSet;
use std::path::Path;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use crate::blob::BlobType;
use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;
use crate::index::{BlobLocation, IndexFile};
use crate::pack::PackEntry;

type Key = [u8; 33];
type Location = [u8; LOCATION_LEN];
/// pack 32 ‖ salt 16 ‖ offset 8 ‖ length 8 ‖ raw length 8 ‖ flags 1.
const LOCATION_LEN: usize = 73;

const BLOBS: TableDefinition<Key, Location> = TableDefinition::new("blobs");
const PACKS: TableDefinition<[u8; 32], ()> = TableDefinition::new("packs");
const INDEX_FILES: TableDefinition<[u8; 32], ()> = TableDefinition::new("index_files");
const CONDEMNED: TableDefinition<[u8; 32], i64> = TableDefinition::new("condemned");

fn cache_error(e: impl Into<redb::Error>) -> Error {
    let e: redb::Error = e.into();
    Error::new(ErrorKind::Io, format!("index cache: {e}"))
}

fn key(blob_type: BlobType, id: &Id) -> Key {
    let mut k = [0u8; 33];
    k[0] = blob_type.to_byte();
    k[1..].copy_from_slice(id.as_bytes());
    k
}

fn encode(loc: &BlobLocation) -> Location {
    let mut v = [0u8; LOCATION_LEN];
    v[..32].copy_from_slice(loc.pack.as_bytes());
    v[32..48].copy_from_slice(&loc.salt);
    v[48..56].copy_from_slice(&loc.entry.offset.to_le_bytes());
    v[56..64].copy_from_slice(&loc.entry.length.to_le_bytes());
    v[64..72].copy_from_slice(&loc.entry.raw_length.to_le_bytes());
    v[72] = u8::from(loc.entry.compressed);
    v
}

fn decode(k: &Key, v: &Location) -> Result<(BlobType, Id, BlobLocation)> {
    let blob_type = BlobType::from_byte(k[0])?;
    let id = Id::from_bytes(k[1..].try_into().expect("32 bytes"));
    let u64_at = |at: usize| u64::from_le_bytes(v[at..at + 8].try_into().expect("8 bytes"));
    Ok((
        blob_type,
        id,
        BlobLocation {
            pack: Id::from_bytes(v[..32].try_into().expect("32 bytes")),
            salt: v[32..48].try_into().expect("16 bytes"),
            entry: PackEntry {
                blob_type,
                id,
                offset: u64_at(48),
                length: u64_at(56),
                raw_length: u64_at(64),
                compressed: v[72] != 0,
            },
        },
    ))
}

pub(crate) struct DiskIndex {
    db: Database,
}

impl std::fmt::Debug for DiskIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DiskIndex")
    }
}

impl DiskIndex {
    pub(crate) fn open(path: &Path, cache_bytes: usize) -> Result<DiskIndex> {
        let db = Database::builder()
            .set_cache_size(cache_bytes)
            .create(path)
            .map_err(|e| cache_error(e).context(path.display()))?;
        let index = DiskIndex { db };
        // Create the tables so readers never meet a missing one.
        index.write(|_| Ok(()))?;
        Ok(index)
    }

    fn write(&self, f: impl FnOnce(&redb::WriteTransaction) -> Result<()>) -> Result<()> {
        let mut txn = self.db.begin_write().map_err(cache_error)?;
        // A cache: losing the last writes on a crash only costs a reload.
        txn.set_durability(Durability::None).map_err(cache_error)?;
        txn.open_table(BLOBS).map_err(cache_error)?;
        txn.open_table(PACKS).map_err(cache_error)?;
        txn.open_table(INDEX_FILES).map_err(cache_error)?;
        txn.open_table(CONDEMNED).map_err(cache_error)?;
        f(&txn)?;
        txn.commit().map_err(cache_error)
    }

    pub(crate) fn index_files(&self) -> Result<HashSet<Id>> {
        let txn = self.db.begin_read().map_err(cache_error)?;
        let table = txn.open_table(INDEX_FILES).map_err(cache_error)?;
        let mut ids = HashSet::new();
        for row in table.iter().map_err(cache_error)? {
            let (k, _) = row.map_err(cache_error)?;
            ids.insert(Id::from_bytes(k.value()));
        }
        Ok(ids)
    }

    pub(crate) fn clear(&self) -> Result<()> {
        let txn = self.db.begin_write().map_err(cache_error)?;
        txn.delete_table(BLOBS).map_err(cache_error)?;
        txn.delete_table(PACKS).map_err(cache_error)?;
        txn.delete_table(INDEX_FILES).map_err(cache_error)?;
        txn.delete_table(CONDEMNED).map_err(cache_error)?;
        txn.commit().map_err(cache_error)?;
        self.write(|_| Ok(()))
    }

    pub(crate) fn add_index_file(&self, file_id: &Id, file: &IndexFile) -> Result<()> {
        self.write(|txn| {
            let mut blobs = txn.open_table(BLOBS).map_err(cache_error)?;
            let mut pack_table = txn.open_table(PACKS).map_err(cache_error)?;
            let mut condemned = txn.open_table(CONDEMNED).map_err(cache_error)?;
            for c in &file.condemned {
                let old = condemned.get(c.pack.as_bytes()).map_err(cache_error)?.map(|v| v.value());
                let since = old.map_or(c.since, |o| o.min(c.since));
                condemned.insert(c.pack.as_bytes(), since).map_err(cache_error)?;
            }
            let is_condemned = |t: &redb::Table<[u8; 32], i64>, p: &[u8; 32]| -> Result<bool> {
                Ok(t.get(p).map_err(cache_error)?.is_some())
            };
            for pack in &file.packs {
                let new_condemned = is_condemned(&condemned, pack.id.as_bytes())?;
                for entry in &pack.blobs {
                    let k = key(entry.blob_type, &entry.id);
                    // The first copy wins (later duplicates are garbage for
                    // prune), except over a copy in a condemned pack.
                    let existing = blobs.get(&k).map_err(cache_error)?.map(|v| v.value());
                    if let Some(existing) = existing {
                        let old_pack: [u8; 32] = existing[..32].try_into().expect("32 bytes");
                        if new_condemned || !is_condemned(&condemned, &old_pack)? {
                            continue;
                        }
                    }
                    let loc = BlobLocation {
                        pack: pack.id,
                        salt: pack.salt,
                        entry: *entry,
                    };
                    blobs.insert(&k, &encode(&loc)).map_err(cache_error)?;
                }
                pack_table.insert(pack.id.as_bytes(), ()).map_err(cache_error)?;
            }
            txn.open_table(INDEX_FILES)
                .map_err(cache_error)?
                .insert(file_id.as_bytes(), ())
                .map_err(cache_error)?;
            Ok(())
        })
    }

    pub(crate) fn condemned_since(&self, pack: &Id) -> Result<Option<i64>> {
        let txn = self.db.begin_read().map_err(cache_error)?;
        let table = txn.open_table(CONDEMNED).map_err(cache_error)?;
        Ok(table.get(pack.as_bytes()).map_err(cache_error)?.map(|v| v.value()))
    }

    pub(crate) fn condemned(&self) -> Result<std::collections::HashMap<Id, i64>> {
        let txn = self.db.begin_read().map_err(cache_error)?;
        let table = txn.open_table(CONDEMNED).map_err(cache_error)?;
        let mut all = std::collections::HashMap::new();
        for row in table.iter().map_err(cache_error)? {
            let (k, v) = row.map_err(cache_error)?;
            all.insert(Id::from_bytes(k.value()), v.value());
        }
        Ok(all)
    }

    pub(crate) fn has_pack(&self, pack: &Id) -> Result<bool> {
        let txn = self.db.begin_read().map_err(cache_error)?;
        let table = txn.open_table(PACKS).map_err(cache_error)?;
        Ok(table.get(pack.as_bytes()).map_err(cache_error)?.is_some())
    }

    pub(crate) fn get(&self, blob_type: BlobType, id: &Id) -> Result<Option<BlobLocation>> {
        let txn = self.db.begin_read().map_err(cache_error)?;
        let table = txn.open_table(BLOBS).map_err(cache_error)?;
        let k = key(blob_type, id);
        match table.get(&k).map_err(cache_error)? {
            Some(v) => Ok(Some(decode(&k, &v.value())?.2)),
            None => Ok(None),
        }
    }

    pub(crate) fn for_each(&self, mut f: impl FnMut(BlobType, Id, BlobLocation)) -> Result<()> {
        let txn = self.db.begin_read().map_err(cache_error)?;
        let table = txn.open_table(BLOBS).map_err(cache_error)?;
        for row in table.iter().map_err(cache_error)? {
            let (k, v) = row.map_err(cache_error)?;
            let (t, id, loc) = decode(&k.value(), &v.value())?;
            f(t, id, loc);
        }
        Ok(())
    }

    pub(crate) fn len(&self) -> Result<u64> {
        let txn = self.db.begin_read().map_err(cache_error)?;
        let table = txn.open_table(BLOBS).map_err(cache_error)?;
        table.len().map_err(cache_error)
    }
}
