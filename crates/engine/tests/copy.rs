//! Copying snapshots to another data key without the original files: the
//! engine half of a key switch. Both keys share one storage meanwhile.

#[path = "support/common.rs"]
mod common;

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use coffer_engine::{
    backup, copy_snapshot, restore, Backend, BlobType, DataKey, ErrorKind, FileKind, Id, MemoryBackend, NoCache,
    Repository, RestoreOptions, SnapshotCopier,
};

use common::*;

/// Three backups of a folder that changes between them: a file edited, one
/// added, one removed, a link and an empty file.
fn three_backups(root: &Path, backend: Arc<dyn Backend>, key: &DataKey) -> Vec<Id> {
    fs::create_dir_all(root.join("sub/deeper")).unwrap();
    for i in 0..8u64 {
        let dir = if i % 2 == 0 { root.to_owned() } else { root.join("sub/deeper") };
        fs::write(dir.join(format!("f{i}.bin")), random_bytes(i, 3_000 + 2_000 * i as usize)).unwrap();
    }
    fs::write(root.join("empty"), b"").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink("f0.bin", root.join("link")).unwrap();
    let mut repo = Repository::open(backend, key).unwrap();
    let mut ids = Vec::new();
    for round in 0..3i64 {
        if round == 1 {
            let mut edited = random_bytes(2, 7_000);
            edited[3_000..3_100].fill(7);
            fs::write(root.join("f2.bin"), edited).unwrap();
            fs::write(root.join("sub/new.txt"), b"added in round two").unwrap();
        }
        if round == 2 {
            fs::remove_file(root.join("f4.bin")).unwrap();
            fs::write(root.join("sub/deeper/f7.bin"), random_bytes(70, 20_000)).unwrap();
        }
        let mut opts = small_options(vec![root.to_owned()]);
        opts.time += round * 3_600_000;
        ids.push(backup(&mut repo, &opts, &NoCache, &mut |_| {}).unwrap().snapshot_id);
    }
    ids
}

fn restore_into(repo: &Repository, snapshot: &Id, target: &Path) {
    let summary = restore(
        repo,
        snapshot,
        &RestoreOptions { target: target.to_owned(), include: vec![], on_conflict: Default::default() },
        &mut |_| {},
    )
    .unwrap();
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
}

fn ignore_set(objects: &[(FileKind, Id)]) -> HashSet<(FileKind, Id)> {
    objects.iter().copied().collect()
}

#[test]
fn copies_restore_identically_under_the_new_key_and_share_blobs() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("Docs");
    let backend = MemoryBackend::new();
    let (old_key, new_key) = (DataKey::generate(), DataKey::generate());
    let old_ids = three_backups(&root, Arc::new(backend.clone()), &old_key);

    let src = Repository::open(Arc::new(backend.clone()), &old_key).unwrap();
    let old_objects = src.own_objects().unwrap();
    assert_eq!(old_objects.iter().filter(|(k, _)| *k == FileKind::Snapshot).count(), 3);
    assert_eq!(old_objects.len(), backend.list(FileKind::Pack).unwrap().len() + backend.list(FileKind::Index).unwrap().len() + 3);

    // Before anything is copied every old pack must be ignored, or the new
    // key's open would take the foreign packs for a wrong key.
    assert_eq!(
        Repository::open(Arc::new(backend.clone()), &new_key).unwrap_err().kind(),
        ErrorKind::Integrity
    );
    // Packs of the other key that are not listed are tried and passed over
    // (more may appear while a switch runs); index files are not.
    let metadata_only: HashSet<_> = old_objects.iter().filter(|(k, _)| *k != FileKind::Pack).copied().collect();
    let lenient = Repository::open_ignoring(Arc::new(backend.clone()), &new_key, &metadata_only).unwrap();
    assert_eq!((lenient.blob_count().unwrap(), lenient.unindexed_packs()), (0, 0));
    let no_indexes: HashSet<_> = old_objects.iter().filter(|(k, _)| *k != FileKind::Index).copied().collect();
    assert_eq!(
        Repository::open_ignoring(Arc::new(backend.clone()), &new_key, &no_indexes).unwrap_err().kind(),
        ErrorKind::Integrity
    );
    let ignore = ignore_set(&old_objects);
    let mut dst = Repository::open_ignoring(Arc::new(backend.clone()), &new_key, &ignore).unwrap();
    assert_eq!(dst.blob_count().unwrap(), 0);
    assert!(dst.snapshots().unwrap().is_empty(), "old snapshots are not listed");

    let mut new_ids = Vec::new();
    let mut stored = 0;
    for (round, old) in old_ids.iter().enumerate() {
        let before = backend.list(FileKind::Pack).unwrap().len();
        let id = copy_snapshot(&src, &mut dst, old).unwrap();
        let packs_added = backend.list(FileKind::Pack).unwrap().len() - before;
        if round > 0 {
            assert!(packs_added <= 1, "an incremental snapshot adds only its changes: {packs_added} packs");
        }
        stored += packs_added;
        new_ids.push(id);
    }
    assert!(stored > 0);
    // Same plaintexts, new ids: one destination blob per source blob.
    assert_eq!(dst.blob_count().unwrap(), src.blob_count().unwrap());

    // The copies keep what the history shows.
    let copies = dst.snapshots().unwrap();
    assert_eq!(copies.iter().map(|(id, _)| *id).collect::<Vec<_>>(), new_ids);
    for ((_, copy), old) in copies.iter().zip(&old_ids) {
        let original = src.snapshot(old).unwrap();
        assert_eq!((copy.time, &copy.device_name, &copy.device_id), (original.time, &original.device_name, &original.device_id));
        assert_eq!((copy.files, copy.bytes), (original.files, original.bytes));
        assert_eq!(copy.roots.len(), 1);
        assert_eq!(copy.roots[0].path, original.roots[0].path);
        assert_ne!(copy.roots[0].tree, original.roots[0].tree, "trees are rewritten with the new ids");
    }

    // The old objects are deleted: the new key alone opens the storage,
    // strictly, and every snapshot restores as the original did.
    for (kind, id) in [FileKind::Snapshot, FileKind::Index, FileKind::Pack]
        .into_iter()
        .flat_map(|k| old_objects.iter().filter(move |(kind, _)| *kind == k))
    {
        backend.remove(*kind, id).unwrap();
    }
    let fresh = Repository::open(Arc::new(backend.clone()), &new_key).unwrap();
    assert_eq!(fresh.unindexed_packs(), 0);
    assert_eq!(fresh.snapshots().unwrap().len(), 3);
    let original = Repository::open(Arc::new(backend.clone()), &old_key);
    assert_eq!(original.unwrap_err().kind(), ErrorKind::Integrity, "nothing opens with the old key");
    // (`src` still has the old index in memory, but its packs are gone.)
    for (i, id) in new_ids.iter().enumerate() {
        let target = work.path().join(format!("copy-{i}"));
        restore_into(&fresh, id, &target);
        if i == 2 {
            assert_eq!(read_entries(&target.join("Docs")), read_entries(&root));
        }
    }
    // The first copy is the first backup, not the latest state.
    let first = work.path().join("copy-0/Docs");
    assert!(first.join("f4.bin").exists());
    assert!(!first.join("sub/new.txt").exists());
    assert_eq!(fs::read(first.join("f2.bin")).unwrap(), random_bytes(2, 7_000));
}

#[test]
fn a_copier_shares_work_across_snapshots_and_reports_its_mappings() {
    let work = tempfile::tempdir().unwrap();
    let backend = MemoryBackend::new();
    let (old_key, new_key) = (DataKey::generate(), DataKey::generate());
    let old_ids = three_backups(&work.path().join("Docs"), Arc::new(backend.clone()), &old_key);
    let src = Repository::open(Arc::new(backend.clone()), &old_key).unwrap();
    let ignore = ignore_set(&src.own_objects().unwrap());
    let mut dst = Repository::open_ignoring(Arc::new(backend.clone()), &new_key, &ignore).unwrap();

    let mut copier = SnapshotCopier::new(&src, &mut dst).with_pack_size(4 * 1024);
    let mut copies = Vec::new();
    let mut mapped = 0;
    for id in &old_ids {
        let snapshot = src.snapshot(id).unwrap();
        let mut seen = Vec::new();
        copies.push(copier.copy(&snapshot, &mut |done| seen.push(done)).unwrap());
        assert_eq!(seen.last(), Some(&snapshot.bytes), "progress ends at the snapshot's size");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
        mapped += copier.take_mappings().len();
    }
    let stats = copier.stats();
    assert_eq!(stats.blobs_stored, src.blob_count().unwrap(), "each distinct blob stored once");
    assert_eq!(stats.blobs_read, stats.blobs_stored, "and read once");
    assert_eq!(mapped as u64, stats.blobs_stored);
    assert!(stats.packs_uploaded > 3);
    // Nothing is indexed until `finish`: the packs are adopted in memory.
    assert!(backend.list(FileKind::Index).unwrap().len() == ignore.iter().filter(|(k, _)| *k == FileKind::Index).count());
    let indexes = copier.finish().unwrap();
    assert_eq!(indexes.len(), 1);
    for copy in &copies {
        assert_eq!(dst.find_missing(copy, &mut HashSet::new()).unwrap(), None);
        dst.store_snapshot(copy).unwrap();
    }
    let reopened = Repository::open_ignoring(Arc::new(backend.clone()), &new_key, &ignore).unwrap();
    assert_eq!(reopened.unindexed_packs(), 0);
    assert_eq!(reopened.snapshots().unwrap().len(), 3);

    // A sealed snapshot stored twice is one snapshot.
    let (id, bytes) = reopened.seal_snapshot(&copies[0]);
    backend.put(FileKind::Snapshot, &id, &bytes).unwrap();
    backend.put(FileKind::Snapshot, &id, &bytes).unwrap();
    let again = Repository::open_ignoring(Arc::new(backend.clone()), &new_key, &ignore).unwrap();
    assert_eq!(again.snapshots().unwrap().len(), 4, "one more snapshot, not two");
}

/// Kill the copy at every put; a fresh process (a new open, a new copier
/// taught the mappings recorded so far) finishes it, never storing a blob twice.
#[test]
fn an_interrupted_copy_resumes_without_storing_anything_twice() {
    let work = tempfile::tempdir().unwrap();
    let (old_key, new_key) = (DataKey::from_bytes([3; 32]), DataKey::from_bytes([4; 32]));
    let base = MemoryBackend::new();
    let old_ids = three_backups(&work.path().join("Docs"), Arc::new(base.clone()), &old_key);
    let src = Repository::open(Arc::new(base.clone()), &old_key).unwrap();
    let old_objects = src.own_objects().unwrap();
    let ignore = ignore_set(&old_objects);
    let distinct = src.blob_count().unwrap();

    let run = |backend: &Arc<FaultyBackend>, recorded: &mut Vec<(BlobType, Id, Id)>, copied: &mut usize| -> coffer_engine::Result<()> {
        let src = Repository::open(backend.clone(), &old_key)?;
        let mut dst = Repository::open_ignoring(backend.clone(), &new_key, &ignore)?;
        let mut copier = SnapshotCopier::new(&src, &mut dst).with_pack_size(4 * 1024);
        for (t, old, new) in recorded.iter() {
            copier.remember(*t, *old, *new);
        }
        for id in &old_ids[*copied..] {
            let copy = copier.copy(&src.snapshot(id)?, &mut |_| {});
            recorded.extend(copier.take_mappings());
            copy?;
            *copied += 1;
        }
        copier.finish()?;
        Ok(())
    };

    // How many puts a clean copy makes.
    let clean = Arc::new(FaultyBackend::new(MemoryBackend::new()));
    for (kind, id) in &old_objects {
        clean.inner.put(*kind, id, &base.get(*kind, id).unwrap()).unwrap();
    }
    run(&clean, &mut Vec::new(), &mut 0).unwrap();
    let total_puts = clean.puts.lock().unwrap().len();
    assert!(total_puts > 5, "{total_puts}");

    for fail_at in 1..=total_puts {
        let backend = Arc::new(FaultyBackend::new(MemoryBackend::new()));
        for (kind, id) in &old_objects {
            backend.inner.put(*kind, id, &base.get(*kind, id).unwrap()).unwrap();
        }
        backend.arm(Some(fail_at));
        let (mut recorded, mut copied) = (Vec::new(), 0);
        let err = run(&backend, &mut recorded, &mut copied).unwrap_err();
        assert!(err.message().contains("injected"), "{err}");
        backend.arm(None);
        run(&backend, &mut recorded, &mut copied).unwrap();
        assert_eq!(copied, 3);

        let packs = backend.puts_of(FileKind::Pack);
        assert_eq!(packs.iter().collect::<HashSet<_>>().len(), packs.len(), "fail at {fail_at}: a pack sent twice");
        let dst = Repository::open_ignoring(backend.clone(), &new_key, &ignore).unwrap();
        let stored: usize = packs.iter().map(|p| dst.verify_pack(p).unwrap()).sum();
        assert_eq!(stored as u64, distinct, "fail at {fail_at}: a blob stored twice");
        assert_eq!(dst.unindexed_packs(), 0);
    }
}

#[test]
fn a_remembered_mapping_whose_blob_is_gone_is_copied_again() {
    let work = tempfile::tempdir().unwrap();
    let backend = MemoryBackend::new();
    let (old_key, new_key) = (DataKey::generate(), DataKey::generate());
    let old_ids = three_backups(&work.path().join("Docs"), Arc::new(backend.clone()), &old_key);
    let src = Repository::open(Arc::new(backend.clone()), &old_key).unwrap();
    let ignore = ignore_set(&src.own_objects().unwrap());
    let mut dst = Repository::open_ignoring(Arc::new(backend.clone()), &new_key, &ignore).unwrap();
    let mut copier = SnapshotCopier::new(&src, &mut dst);
    let snapshot = src.snapshot(&old_ids[2]).unwrap();
    copier.copy(&snapshot, &mut |_| {}).unwrap();
    let mappings = copier.take_mappings();
    drop(copier);
    // The new packs vanish (say a prune of the old key's devices took them).
    for pack in backend.list(FileKind::Pack).unwrap() {
        if !ignore.contains(&(FileKind::Pack, pack.id)) {
            backend.remove(FileKind::Pack, &pack.id).unwrap();
        }
    }
    let mut dst = Repository::open_ignoring(Arc::new(backend.clone()), &new_key, &ignore).unwrap();
    let mut copier = SnapshotCopier::new(&src, &mut dst);
    for (t, old, new) in &mappings {
        copier.remember(*t, *old, *new);
    }
    let copy = copier.copy(&snapshot, &mut |_| {}).unwrap();
    assert_eq!(copier.stats().blobs_stored as usize, mappings.len(), "everything stored again");
    copier.finish().unwrap();
    assert_eq!(dst.find_missing(&copy, &mut HashSet::new()).unwrap(), None);
}
