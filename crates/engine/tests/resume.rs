//! Incremental and resumable backups: an interrupted run costs nothing on
//! the next, and an unchanged folder costs only a snapshot.

#[path = "support/common.rs"]
mod common;

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use coffer_engine::{
    backup, Backend, BackupOptions, DataKey, FileKind, MemoryBackend, NoCache, Repository,
};

use common::*;

fn dataset(root: &Path) {
    fs::create_dir_all(root.join("sub/deeper")).unwrap();
    for i in 0..12u64 {
        let dir = match i % 3 {
            0 => root.to_owned(),
            1 => root.join("sub"),
            _ => root.join("sub/deeper"),
        };
        fs::write(dir.join(format!("f{i}.bin")), random_bytes(i, 2_000 + 1_500 * i as usize)).unwrap();
    }
    // Duplicated content and an empty file.
    fs::write(root.join("copy.bin"), random_bytes(5, 2_000 + 1_500 * 5)).unwrap();
    fs::write(root.join("empty"), b"").unwrap();
}

fn options(root: &Path) -> BackupOptions {
    let mut opts = small_options(vec![root.to_owned()]);
    opts.pack_size = 8 * 1024;
    opts.index_every = 3;
    opts.pack_threads = 2;
    opts
}

/// Kill the backup at every possible put; the rerun finishes, stores no
/// pack twice and no blob twice, and restores identically.
#[test]
fn a_backup_killed_at_any_put_resumes_without_resending() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    dataset(&src);
    let key = DataKey::from_bytes([9; 32]);

    // A clean run with the same key tells how many puts and blobs there are.
    let clean_backend = Arc::new(FaultyBackend::new(MemoryBackend::new()));
    let mut clean_repo = Repository::open(clean_backend.clone(), &key).unwrap();
    let clean = backup(&mut clean_repo, &options(&src), &NoCache, &mut |_| {}).unwrap();
    let total_puts = clean_backend.puts.lock().unwrap().len();
    assert!(clean.packs_uploaded >= 8, "{clean:?}");
    assert!(clean.indexes_uploaded >= 3, "intermediate indexes: {clean:?}");
    assert_eq!(
        total_puts as u64,
        clean.packs_uploaded + clean.indexes_uploaded + 1
    );

    for fail_at in 1..=total_puts {
        let backend = Arc::new(FaultyBackend::new(MemoryBackend::new()));
        backend.arm(Some(fail_at));
        let mut repo = Repository::open(backend.clone(), &key).unwrap();
        match backup(&mut repo, &options(&src), &NoCache, &mut |_| {}) {
            Err(err) => assert!(err.message().contains("injected"), "{err}"),
            // Pack threads share blobs out differently each run, so a run
            // may need fewer puts than the clean one did.
            Ok(_) => {
                assert!(backend.puts.lock().unwrap().len() < fail_at);
                continue;
            }
        }
        let packs_before = backend.puts_of(FileKind::Pack).len() as u64;
        drop(repo);

        // The process restarts: a fresh open, no failures.
        backend.arm(None);
        let mut repo = Repository::open(backend.clone(), &key).unwrap();
        let rerun = backup(&mut repo, &options(&src), &NoCache, &mut |_| {}).unwrap();

        let packs = backend.puts_of(FileKind::Pack);
        let distinct: HashSet<_> = packs.iter().collect();
        assert_eq!(distinct.len(), packs.len(), "fail at {fail_at}: a pack was sent twice");
        assert_eq!(
            rerun.packs_uploaded + packs_before,
            packs.len() as u64,
            "fail at {fail_at}"
        );
        // No blob stored twice: the stored packs hold exactly the blobs of
        // one clean run.
        let stored_blobs: usize = backend
            .inner
            .list(FileKind::Pack)
            .unwrap()
            .iter()
            .map(|p| repo.verify_pack(&p.id).unwrap())
            .sum();
        assert_eq!(stored_blobs as u64, clean.blobs_new, "fail at {fail_at}");
        // Every pack is named by an index again.
        let reopened = Repository::open(backend.clone(), &key).unwrap();
        assert_eq!(reopened.unindexed_packs(), 0, "fail at {fail_at}");

        let target = work.path().join(format!("restore-{fail_at}"));
        let summary = restore_all(&reopened, &rerun.snapshot_id, &target);
        assert!(summary.skipped.is_empty());
        assert_eq!(read_entries(&target.join("Docs")), read_entries(&src), "fail at {fail_at}");
    }
}

/// With the agent's file cache, an unchanged folder is not read and the
/// run stores only a snapshot.
#[test]
fn an_unchanged_rerun_reads_nothing_and_sends_only_a_snapshot() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    dataset(&src);
    let backend = Arc::new(FaultyBackend::new(MemoryBackend::new()));
    let mut repo = Repository::open(backend.clone(), &DataKey::generate()).unwrap();
    let cache = MapCache::default();
    let first = backup(&mut repo, &options(&src), &cache, &mut |_| {}).unwrap();
    assert_eq!(first.files_read, 14);
    backend.puts.lock().unwrap().clear();

    let again = backup(&mut repo, &options(&src), &cache, &mut |_| {}).unwrap();
    assert_eq!((again.files_read, again.bytes_read), (0, 0));
    assert_eq!(again.files_unchanged, 14);
    assert_eq!((again.packs_uploaded, again.blobs_new, again.indexes_uploaded), (0, 0, 0));
    let puts = backend.puts.lock().unwrap().clone();
    assert_eq!(puts, vec![(FileKind::Snapshot, again.snapshot_id)]);

    // A 1-file change sends about that file, not the folder.
    fs::write(src.join("sub/f1.bin"), random_bytes(1000, 3_500)).unwrap();
    let changed = backup(&mut repo, &options(&src), &cache, &mut |_| {}).unwrap();
    assert_eq!(changed.files_read, 1);
    // The new file plus the two folder listings on its path (which list
    // chunk ids, so they are not small at this tiny chunk size).
    assert!(changed.bytes_uploaded * 10 < first.bytes_uploaded, "{changed:?} vs {first:?}");
    // At most one partly filled pack per pack thread.
    assert!(changed.packs_uploaded <= 2, "{changed:?}");
}

/// A backup interrupted before its first index leaves only unindexed
/// packs; a fresh open adopts them from their headers (two range reads
/// each, never a whole download).
#[test]
fn unindexed_packs_are_adopted_on_open() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    dataset(&src);
    let key = DataKey::generate();
    let backend = Arc::new(FaultyBackend::new(MemoryBackend::new()));
    let mut opts = options(&src);
    opts.index_every = 1000;
    backend.arm(Some(4));
    let mut repo = Repository::open(backend.clone(), &key).unwrap();
    backup(&mut repo, &opts, &NoCache, &mut |_| {}).unwrap_err();
    assert_eq!(backend.inner.list(FileKind::Index).unwrap().len(), 0);
    assert_eq!(backend.inner.list(FileKind::Pack).unwrap().len(), 3);

    backend.arm(None);
    let mut repo = Repository::open(backend.clone(), &key).unwrap();
    assert_eq!(repo.unindexed_packs(), 3);
    let rerun = backup(&mut repo, &opts, &NoCache, &mut |_| {}).unwrap();
    assert_eq!(repo.unindexed_packs(), 0);
    assert_eq!(rerun.indexes_uploaded, 1);
    // A wrong key adopts nothing and is refused.
    assert!(Repository::open(backend.clone(), &DataKey::generate()).is_err());
}
