//! Forget + prune, including a backup on another device running meanwhile.

#[path = "support/common.rs"]
mod common;

use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use coffer_engine::{
    backup, check, forget, prune, Backend, CheckOptions, DataKey, ErrorKind, FileKind,
    MemoryBackend, NoCache, PruneOptions, Repository, RetentionPolicy,
    MIN_PRUNE_GRACE,
};

use common::*;

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

const HOUR: i64 = 3_600_000;

fn restores(repo: &Repository, snap: &coffer_engine::Id, work: &Path, src: &Path) {
    let target = work.join(format!("restore-{snap}"));
    let summary = restore_all(repo, snap, &target);
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    assert_eq!(read_entries(&target.join("Docs")), read_entries(src));
}

fn opts(now: i64) -> PruneOptions {
    PruneOptions {
        confirm_large: false,
        grace: MIN_PRUNE_GRACE,
        now,
    }
}

#[test]
fn forgotten_data_is_condemned_then_deleted_after_the_grace() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("keep.bin"), random_bytes(1, 40_000)).unwrap();
    fs::write(src.join("old.bin"), random_bytes(2, 20_000)).unwrap();
    let backend = Arc::new(MemoryBackend::new());
    let mut repo = Repository::open(backend.clone(), &DataKey::generate()).unwrap();
    let mut o = small_options(vec![src.clone()]);
    o.time = now() - 48 * HOUR;
    o.pack_threads = 1;
    backup(&mut repo, &o, &NoCache, &mut |_| {}).unwrap();
    fs::remove_file(src.join("old.bin")).unwrap();
    o.time = now() - 24 * HOUR;
    let second = backup(&mut repo, &o, &NoCache, &mut |_| {}).unwrap();

    // Keep only the last snapshot.
    let plan = forget(&repo, &RetentionPolicy { keep_last: 1, ..Default::default() }, now()).unwrap();
    assert_eq!(plan.keep.len(), 1);
    assert_eq!(plan.keep[0].id, second.snapshot_id);
    assert_eq!(plan.apply(&repo).unwrap(), 1);

    let t0 = now();
    let packs_before = backend.list(FileKind::Pack).unwrap().len();
    let first = prune(&mut repo, &opts(t0)).unwrap();
    assert!(first.packs_condemned > 0, "{first}");
    assert_eq!(first.packs_deleted, 0, "nothing deleted before the grace");
    assert_eq!(backend.list(FileKind::Pack).unwrap().len(), packs_before);

    // Within the grace: still waiting.
    let waiting = prune(&mut repo, &opts(t0 + 23 * HOUR)).unwrap();
    assert_eq!((waiting.packs_deleted, waiting.packs_waiting), (0, first.packs_condemned));

    let done = prune(&mut repo, &opts(t0 + 25 * HOUR)).unwrap();
    assert_eq!(done.packs_deleted, first.packs_condemned, "{done}");
    assert_eq!(
        backend.list(FileKind::Pack).unwrap().len(),
        packs_before - first.packs_condemned as usize
    );
    assert!(done.indexes_removed > 0);
    restores(&repo, &second.snapshot_id, work.path(), &src);
    let report = check(&repo, CheckOptions { read_data: true }).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.unindexed_packs, 0);
    // Nothing left to do.
    let again = prune(&mut repo, &opts(t0 + 26 * HOUR)).unwrap();
    assert_eq!((again.packs_condemned, again.packs_deleted), (0, 0));
}

#[test]
fn implausible_prunes_are_refused_without_confirmation() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("a.bin"), random_bytes(1, 30_000)).unwrap();
    let backend = Arc::new(MemoryBackend::new());
    let mut repo = Repository::open(backend.clone(), &DataKey::generate()).unwrap();
    let snap = backup(&mut repo, &small_options(vec![src.clone()]), &NoCache, &mut |_| {})
        .unwrap()
        .snapshot_id;
    // Every snapshot gone (e.g. removed by mistake): prune refuses.
    backend.remove(FileKind::Snapshot, &snap).unwrap();
    let err = prune(&mut repo, &opts(now())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(err.message().contains("no snapshot exists"), "{err}");
    let indexes = backend.list(FileKind::Index).unwrap().len();
    let err = prune(&mut repo, &opts(now())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(backend.list(FileKind::Index).unwrap().len(), indexes, "nothing written");

    // With confirmation it condemns (and deletes only after the grace).
    let report = prune(&mut repo, &PruneOptions { confirm_large: true, ..opts(now()) }).unwrap();
    assert_eq!(report.packs_condemned, report.packs_total);
    assert_eq!(report.packs_deleted, 0);

    // A too-short grace is refused.
    let err = prune(
        &mut repo,
        &PruneOptions {
            grace: Duration::from_secs(60),
            ..opts(now())
        },
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

/// Device B opens the repository, then device A forgets and prunes. B's
/// backup deduplicates against a pack A just condemned: it still commits
/// (the pack cannot be deleted for the grace period), and the next prune
/// rescues the pack instead of deleting it.
#[test]
fn a_backup_running_during_prune_keeps_its_packs() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("shared.bin"), random_bytes(1, 30_000)).unwrap();
    let key = DataKey::generate();
    let backend = Arc::new(MemoryBackend::new());
    let mut a = Repository::open(backend.clone(), &key).unwrap();
    let first = backup(&mut a, &small_options(vec![src.clone()]), &NoCache, &mut |_| {}).unwrap();

    // Device B starts (loads the index) before the prune.
    let mut b = Repository::open(backend.clone(), &key).unwrap();

    backend.remove(FileKind::Snapshot, &first.snapshot_id).unwrap();
    let t0 = now();
    let condemned = prune(&mut a, &PruneOptions { confirm_large: true, ..opts(t0) }).unwrap();
    assert!(condemned.packs_condemned > 0);

    // B's backup reuses the condemned blobs (its index is older) and commits.
    let mut o = small_options(vec![src.clone()]);
    o.device_id = "device-b".into();
    let from_b = backup(&mut b, &o, &NoCache, &mut |_| {}).unwrap();
    assert_eq!(from_b.packs_uploaded, 0, "B deduplicated against the old packs");

    // After the grace, the packs are referenced again: rescued, not deleted.
    let later = prune(&mut a, &opts(t0 + 25 * HOUR)).unwrap();
    assert_eq!(later.packs_deleted, 0, "{later}");
    assert!(later.packs_rescued > 0);
    restores(&a, &from_b.snapshot_id, work.path(), &src);
    let again = prune(&mut a, &opts(t0 + 50 * HOUR)).unwrap();
    assert_eq!((again.packs_deleted, again.packs_rescued), (0, 0));
}

/// A fresh backup after a condemnation stores the blobs anew instead of
/// depending on condemned packs; and a backup that would depend on a pack
/// condemned long ago refuses to commit.
#[test]
fn backups_avoid_condemned_packs() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("shared.bin"), random_bytes(1, 30_000)).unwrap();
    let key = DataKey::generate();
    let backend = Arc::new(MemoryBackend::new());
    let mut a = Repository::open(backend.clone(), &key).unwrap();
    let first = backup(&mut a, &small_options(vec![src.clone()]), &NoCache, &mut |_| {}).unwrap();
    let mut stale = Repository::open(backend.clone(), &key).unwrap();
    backend.remove(FileKind::Snapshot, &first.snapshot_id).unwrap();
    // Condemned 30 hours ago (by another device's clock).
    prune(&mut a, &PruneOptions { confirm_large: true, ..opts(now() - 30 * HOUR) }).unwrap();

    // A stale view deduplicates against them and must not commit.
    let err = backup(&mut stale, &small_options(vec![src.clone()]), &NoCache, &mut |_| {}).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage);
    assert!(err.message().contains("about to be pruned"), "{err}");

    // Run again: the fresh index shows the condemnation, so it stores anew.
    let mut fresh = Repository::open(backend.clone(), &key).unwrap();
    let rerun = backup(&mut fresh, &small_options(vec![src.clone()]), &NoCache, &mut |_| {}).unwrap();
    assert!(rerun.packs_uploaded > 0);
    assert_eq!(rerun.blobs_new, first.blobs_new);
    // Deleting the condemned packs (the whole old copy, about half of what
    // is stored, so it needs confirming) leaves the new snapshot whole.
    let done = prune(&mut a, &PruneOptions { confirm_large: true, ..opts(now()) }).unwrap();
    assert!(done.packs_deleted > 0, "{done}");
    restores(&a, &rerun.snapshot_id, work.path(), &src);
}
