//! Copying snapshots from one repository to another, re-encrypting them
//! under the destination's keys without the original files: the heart of a
//! data key switch (see `docs/format.md`, "Switching the data key").
//!
//! Every data blob a snapshot references is read from the source and
//! stored in the destination under the destination's keyed id (the old
//! chunk boundaries are kept); trees are rewritten bottom-up with the new
//! ids. Blobs the destination already has are not stored again, so copying
//! a series of snapshots stores each distinct blob once, and copying a
//! snapshot again after an interruption uploads nothing that was stored.

use std::collections::{HashMap, HashSet};

use crate::backend::FileKind;
use crate::blob::BlobType;
use crate::error::{Error, Result};
use crate::id::Id;
use crate::index::IndexPack;
use crate::pack::PackWriter;
use crate::repository::Repository;
use crate::snapshot::{Snapshot, SnapshotRoot};
use crate::tree::{NodeKind, Tree};

/// Default size at which the copier closes a pack: as a backup's.
const DEFAULT_PACK_SIZE: usize = 8 << 20;

/// What a [`SnapshotCopier`] did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Blobs read from the source (data and trees).
    pub blobs_read: u64,
    /// Blobs stored in the destination (new there).
    pub blobs_stored: u64,
    /// Plaintext bytes of those blobs.
    pub blob_bytes_stored: u64,
    pub packs_uploaded: u64,
    pub bytes_uploaded: u64,
}

/// Copies snapshots from `src` into `dst`. Keeps a map from source blob ids
/// to destination ids, so folders and chunks shared by several snapshots
/// are read and rewritten once.
///
/// Every call of [`SnapshotCopier::copy`] ends with its blobs stored (the
/// last, partly filled pack is uploaded), but **no index file is written**:
/// the packs are adopted by `dst` in memory, and a later open of the
/// destination finds them by their headers. Call
/// [`SnapshotCopier::finish`] (or [`Repository::index_unindexed_packs`]) to
/// name them in index files, then store the snapshots.
pub struct SnapshotCopier<'a> {
    src: &'a Repository,
    dst: &'a mut Repository,
    map: HashMap<(BlobType, Id), Id>,
    /// Mappings made since the last [`SnapshotCopier::take_mappings`].
    fresh: Vec<(BlobType, Id, Id)>,
    writer: Option<PackWriter>,
    /// Destination blobs in `writer`, not stored yet.
    in_writer: HashSet<(BlobType, Id)>,
    /// Mappings whose destination blob is in `writer` (undone on failure).
    unflushed: Vec<(BlobType, Id)>,
    /// Packs the copies depend on: stored by this copier or deduplicated against.
    used_packs: HashSet<Id>,
    /// Packs stored since the last [`SnapshotCopier::take_packs`].
    fresh_packs: Vec<Id>,
    pack_size: usize,
    stats: CopyStats,
}

impl<'a> SnapshotCopier<'a> {
    pub fn new(src: &'a Repository, dst: &'a mut Repository) -> SnapshotCopier<'a> {
        SnapshotCopier {
            src,
            dst,
            map: HashMap::new(),
            fresh: Vec::new(),
            writer: None,
            in_writer: HashSet::new(),
            unflushed: Vec::new(),
            used_packs: HashSet::new(),
            fresh_packs: Vec::new(),
            pack_size: DEFAULT_PACK_SIZE,
            stats: CopyStats::default(),
        }
    }

    /// Closes packs at `bytes` instead of 8 MiB.
    #[must_use]
    pub fn with_pack_size(mut self, bytes: usize) -> SnapshotCopier<'a> {
        self.pack_size = bytes.max(1);
        self
    }

    /// Teaches the copier a mapping learned earlier (e.g. before an
    /// interruption): source blob `old` is `new` in the destination. It is
    /// only used while the destination's index has `new`; otherwise the
    /// blob is read and stored again.
    pub fn remember(&mut self, blob_type: BlobType, old: Id, new: Id) {
        self.map.insert((blob_type, old), new);
    }

    /// The mappings made since the last call, each one's destination blob
    /// stored: what a caller records to resume without reading again.
    pub fn take_mappings(&mut self) -> Vec<(BlobType, Id, Id)> {
        std::mem::take(&mut self.fresh)
    }

    /// The packs stored since the last call.
    pub fn take_packs(&mut self) -> Vec<Id> {
        std::mem::take(&mut self.fresh_packs)
    }

    /// The repository copied into (e.g. to seal the copies).
    pub fn destination(&self) -> &Repository {
        self.dst
    }

    pub fn stats(&self) -> CopyStats {
        self.stats
    }

    /// Copies one snapshot's trees and data into the destination and
    /// returns the destination's snapshot: same time, device, root paths,
    /// file count and size, with the new tree ids (a `repaired_from` is
    /// dropped: it names a source snapshot). Nothing is committed: store it
    /// with [`Repository::store_snapshot`] once an index names its packs.
    /// When it returns, every blob the new snapshot references is stored.
    /// `progress` gets the bytes of files handled so far in this snapshot,
    /// ending with `snapshot.bytes`.
    ///
    /// # Errors
    /// `NotFound`/`Integrity` (with the path) when a source blob is missing
    /// or damaged — run `check` and `repair` on the source first; backend
    /// errors. After an error the copier may be used again: what was not
    /// stored is forgotten.
    pub fn copy(&mut self, snapshot: &Snapshot, progress: &mut dyn FnMut(u64)) -> Result<Snapshot> {
        let mut done = 0u64;
        let result = (|| {
            let mut roots = Vec::with_capacity(snapshot.roots.len());
            for root in &snapshot.roots {
                let tree = self
                    .copy_tree(&root.tree, &mut done, progress)
                    .map_err(|e| e.context(&root.path))?;
                roots.push(SnapshotRoot {
                    path: root.path.clone(),
                    tree,
                });
            }
            self.flush()?;
            Ok(roots)
        })();
        match result {
            Ok(roots) => {
                progress(snapshot.bytes);
                Ok(Snapshot {
                    time: snapshot.time,
                    device_name: snapshot.device_name.clone(),
                    device_id: snapshot.device_id.clone(),
                    roots,
                    files: snapshot.files,
                    bytes: snapshot.bytes,
                    repaired_from: None,
                })
            }
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }

    /// Writes index files naming every pack the destination holds without
    /// one (this copier's and any adopted earlier). Returns their ids.
    ///
    /// # Errors
    /// Backend errors.
    pub fn finish(self) -> Result<Vec<Id>> {
        self.dst.index_unindexed_packs()
    }

    /// Copies one tree (and everything below it) and returns its new id.
    fn copy_tree(&mut self, old: &Id, done: &mut u64, progress: &mut dyn FnMut(u64)) -> Result<Id> {
        if let Some(new) = self.known(BlobType::Tree, old)? {
            return Ok(new);
        }
        let tree = self.src.tree(old)?;
        self.stats.blobs_read += 1;
        let mut copied = Tree::default();
        for mut node in tree.nodes {
            match node.kind {
                NodeKind::File => {
                    let mut content = Vec::with_capacity(node.content.len());
                    for blob in &node.content {
                        content.push(self.copy_data(blob).map_err(|e| e.context(&node.name))?);
                    }
                    node.content = content;
                    *done += node.size;
                    progress(*done);
                }
                NodeKind::Dir => {
                    if let Some(sub) = node.subtree {
                        node.subtree = Some(
                            self.copy_tree(&sub, done, progress)
                                .map_err(|e| e.context(&node.name))?,
                        );
                    }
                }
                NodeKind::Symlink => {}
            }
            copied.nodes.push(node);
        }
        let bytes = copied.to_bytes();
        let new = self.dst.keys().blob_id(&bytes);
        self.store(BlobType::Tree, old, new, &bytes)?;
        Ok(new)
    }

    fn copy_data(&mut self, old: &Id) -> Result<Id> {
        if let Some(new) = self.known(BlobType::Data, old)? {
            return Ok(new);
        }
        let plaintext = self.src.load_blob(BlobType::Data, old)?;
        self.stats.blobs_read += 1;
        let new = self.dst.keys().blob_id(&plaintext);
        self.store(BlobType::Data, old, new, &plaintext)?;
        Ok(new)
    }

    /// The destination id of `old` if it is known and the destination has
    /// (or is about to store) that blob.
    fn known(&mut self, blob_type: BlobType, old: &Id) -> Result<Option<Id>> {
        let Some(new) = self.map.get(&(blob_type, *old)).copied() else {
            return Ok(None);
        };
        if self.in_writer.contains(&(blob_type, new)) {
            return Ok(Some(new));
        }
        match self.dst.dedup_location(blob_type, &new)? {
            Some(loc) => {
                self.used_packs.insert(loc.pack);
                Ok(Some(new))
            }
            None => {
                // Learned earlier but gone since (e.g. pruned): copy it again.
                self.map.remove(&(blob_type, *old));
                Ok(None)
            }
        }
    }

    /// Stores `plaintext` as `new` unless the destination has it, and maps `old` to it.
    fn store(&mut self, blob_type: BlobType, old: &Id, new: Id, plaintext: &[u8]) -> Result<()> {
        self.map.insert((blob_type, *old), new);
        if self.in_writer.contains(&(blob_type, new)) {
            self.unflushed.push((blob_type, *old));
            return Ok(());
        }
        if let Some(loc) = self.dst.dedup_location(blob_type, &new)? {
            self.used_packs.insert(loc.pack);
            self.fresh.push((blob_type, *old, new));
            return Ok(());
        }
        let writer = self
            .writer
            .get_or_insert_with(|| PackWriter::new(self.dst.keys()));
        writer.add(blob_type, &new, plaintext);
        self.in_writer.insert((blob_type, new));
        self.unflushed.push((blob_type, *old));
        self.stats.blobs_stored += 1;
        self.stats.blob_bytes_stored += plaintext.len() as u64;
        if writer.len() >= self.pack_size {
            self.flush()?;
        }
        Ok(())
    }

    /// Uploads the pack being built, if any, and lets the destination use it.
    fn flush(&mut self) -> Result<()> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        if writer.is_empty() {
            return Ok(());
        }
        let pack = writer.finish();
        if let Err(e) = self
            .dst
            .backend()
            .put(FileKind::Pack, &pack.id, &pack.bytes)
        {
            // Keep nothing that points into the pack that was not stored.
            self.rollback();
            return Err(e);
        }
        self.stats.packs_uploaded += 1;
        self.stats.bytes_uploaded += pack.bytes.len() as u64;
        self.used_packs.insert(pack.id);
        self.fresh_packs.push(pack.id);
        self.dst.adopt_stored(IndexPack::from(&pack));
        self.in_writer.clear();
        let stored = self.unflushed_mappings_done();
        self.fresh.extend(stored);
        Ok(())
    }

    /// The mappings waiting for a pack that is now stored.
    fn unflushed_mappings_done(&mut self) -> Vec<(BlobType, Id, Id)> {
        if !self.in_writer.is_empty() {
            return Vec::new();
        }
        std::mem::take(&mut self.unflushed)
            .into_iter()
            .filter_map(|(t, old)| self.map.get(&(t, old)).map(|new| (t, old, *new)))
            .collect()
    }

    /// Forgets the pack being built and the mappings that point into it.
    fn rollback(&mut self) {
        self.writer = None;
        self.in_writer.clear();
        for key in std::mem::take(&mut self.unflushed) {
            self.map.remove(&key);
        }
    }

    /// Packs the copies made so far depend on.
    pub(crate) fn used_packs(&self) -> &HashSet<Id> {
        &self.used_packs
    }
}

/// Copies one snapshot of `src` into `dst`, re-encrypted under `dst`'s key,
/// and commits it there: packs, then an index naming them, then the
/// snapshot file (same time, device, roots, file count and size). Returns
/// the new snapshot's id. Running it again after an interruption uploads
/// no blob that was stored (they are adopted by `dst`'s open).
///
/// # Errors
/// `NotFound` for an unknown snapshot; `NotFound`/`Integrity` when
/// something it references is missing or damaged in `src`; backend errors;
/// `Storage` when a pack it depends on is being pruned meanwhile.
pub fn copy_snapshot(src: &Repository, dst: &mut Repository, snapshot: &Id) -> Result<Id> {
    let old = src.snapshot(snapshot)?;
    let mut copier = SnapshotCopier::new(src, dst);
    let new = copier.copy(&old, &mut |_| {})?;
    let used = copier.used_packs().clone();
    copier.finish()?;
    crate::prune::check_packs_before_commit(dst, &used)?;
    if let Some(problem) = dst.find_missing(&new, &mut HashSet::new())? {
        return Err(Error::new(
            crate::error::ErrorKind::Storage,
            format!("the copy of snapshot {snapshot} is incomplete ({problem}); copy it again"),
        ));
    }
    dst.store_snapshot(&new)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::backend::{Backend, MemoryBackend};
    use crate::backup::{backup, BackupOptions, NoCache};
    use crate::crypto::DataKey;
    use crate::error::ErrorKind;

    #[test]
    fn damage_in_the_source_names_the_file_and_commits_nothing() {
        let work = tempfile::tempdir().unwrap();
        let root = work.path().join("Docs");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::write(root.join("a.txt"), b"first file").unwrap();
        std::fs::write(root.join("sub/b.txt"), b"second file, damaged later").unwrap();
        let backend = MemoryBackend::new();
        let (old_key, new_key) = (DataKey::generate(), DataKey::generate());
        let mut src = Repository::open(Arc::new(backend.clone()), &old_key).unwrap();
        let opts = BackupOptions {
            roots: vec![root],
            ..BackupOptions::default()
        };
        let id = backup(&mut src, &opts, &NoCache, &mut |_| {})
            .unwrap()
            .snapshot_id;

        // Flip one byte inside b.txt's sealed chunk.
        let chunk = src.keys().blob_id(b"second file, damaged later");
        let loc = src.blob_location(BlobType::Data, &chunk).unwrap().unwrap();
        let mut bytes = backend.get(FileKind::Pack, &loc.pack).unwrap();
        bytes[loc.entry.offset as usize + 14] ^= 1;
        backend.corrupt(FileKind::Pack, &loc.pack, bytes);

        let ignore = src.own_objects().unwrap().into_iter().collect();
        let mut dst =
            Repository::open_ignoring(Arc::new(backend.clone()), &new_key, &ignore).unwrap();
        let err = copy_snapshot(&src, &mut dst, &id).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Integrity);
        assert!(err.message().contains("Docs: sub: b.txt: "), "{err}");
        assert!(dst.snapshots().unwrap().is_empty(), "nothing committed");

        // The copier is usable after the failure and forgets what it did not store.
        let mut copier = SnapshotCopier::new(&src, &mut dst);
        let snapshot = src.snapshot(&id).unwrap();
        assert!(copier.copy(&snapshot, &mut |_| {}).is_err());
        assert!(
            copier
                .take_mappings()
                .iter()
                .all(|(t, _, new)| *t == BlobType::Data
                    && *new == new_key_id(&new_key, b"first file"))
        );
    }

    fn new_key_id(key: &DataKey, plaintext: &[u8]) -> Id {
        crate::crypto::Keys::derive(key).blob_id(plaintext)
    }

    #[test]
    fn notes_open_only_with_their_key_and_purpose() {
        let key = DataKey::generate();
        let sealed = key.seal_note("recovery code", b"ABCD-EFGH");
        assert_eq!(
            key.open_note("recovery code", &sealed).unwrap(),
            b"ABCD-EFGH"
        );
        assert_eq!(
            key.open_note("other", &sealed).unwrap_err().kind(),
            ErrorKind::Integrity
        );
        assert_eq!(
            DataKey::generate()
                .open_note("recovery code", &sealed)
                .unwrap_err()
                .kind(),
            ErrorKind::Integrity
        );
    }
}
