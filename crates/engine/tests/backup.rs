//! Backup behaviour: incremental runs, dedup, skipped files, progress, commit.

#[path = "support/common.rs"]
mod common;

use std::fs;
use std::sync::Arc;

use coffer_engine::{
    backup, restore, Backend, BackupPhase, DataKey, ErrorKind, FileKind, MemoryBackend, NoCache,
    Repository, RestoreOptions,
};

use common::*;

fn repo() -> (Arc<MemoryBackend>, Repository) {
    let backend = Arc::new(MemoryBackend::new());
    let repo = Repository::open(backend.clone(), &DataKey::generate()).unwrap();
    (backend, repo)
}

#[test]
fn unchanged_files_are_not_read_again() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    fs::create_dir_all(src.join("sub")).unwrap();
    for i in 0..5u64 {
        fs::write(src.join(format!("f{i}.bin")), random_bytes(i, 3000)).unwrap();
    }
    fs::write(src.join("sub/deep.txt"), b"deep").unwrap();
    let (_, mut repo) = repo();
    let cache = MapCache::default();
    let opts = small_options(vec![src.clone()]);

    let first = backup(&mut repo, &opts, &cache, &mut |_| {}).unwrap();
    assert_eq!(
        (first.files_total, first.files_read, first.files_unchanged),
        (6, 6, 0)
    );
    assert_eq!(first.bytes_read, 5 * 3000 + 4);

    // Change one file (size changes, so the fingerprint does).
    fs::write(src.join("f2.bin"), random_bytes(99, 3500)).unwrap();
    let second = backup(&mut repo, &opts, &cache, &mut |_| {}).unwrap();
    assert_eq!(
        (
            second.files_total,
            second.files_read,
            second.files_unchanged
        ),
        (6, 1, 5)
    );
    assert_eq!(second.bytes_read, 3500);

    // Both snapshots restore their own version.
    for (id, f2) in [
        (first.snapshot_id, random_bytes(2, 3000)),
        (second.snapshot_id, random_bytes(99, 3500)),
    ] {
        let target = work.path().join(format!("restore-{id}"));
        restore_all(&repo, &id, &target);
        assert_eq!(fs::read(target.join("Docs/f2.bin")).unwrap(), f2);
        assert_eq!(fs::read(target.join("Docs/sub/deep.txt")).unwrap(), b"deep");
    }
    assert_eq!(repo.snapshots().unwrap().len(), 2);
}

#[test]
fn cache_entries_naming_unknown_chunks_are_not_trusted() {
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("a.txt"), b"contents").unwrap();
    // Larger than what is read ahead: streamed when read again.
    let large = random_bytes(7, 1_500_000);
    fs::write(work.path().join("large.bin"), &large).unwrap();
    let cache = MapCache::default();
    let opts = small_options(vec![work.path().to_owned()]);
    let (_, mut first_repo) = repo();
    backup(&mut first_repo, &opts, &cache, &mut |_| {}).unwrap();
    // Another repository (e.g. after switching keys) knows none of the chunks.
    let (_, mut other) = repo();
    let summary = backup(&mut other, &opts, &cache, &mut |_| {}).unwrap();
    assert_eq!(summary.files_read, 2);
    assert_eq!(summary.bytes_read, 8 + 1_500_000);
    let target = work.path().join("restored");
    restore_all(&other, &summary.snapshot_id, &target);
    let name = work.path().file_name().unwrap();
    assert_eq!(fs::read(target.join(name).join("large.bin")).unwrap(), large);
    assert_eq!(fs::read(target.join(name).join("a.txt")).unwrap(), b"contents");
}

#[test]
fn identical_content_is_uploaded_once() {
    let work = tempfile::tempdir().unwrap();
    let one = work.path().join("one");
    let many = work.path().join("many");
    fs::create_dir_all(&one).unwrap();
    fs::create_dir_all(many.join("nested")).unwrap();
    let content = random_bytes(5, 50_000);
    fs::write(one.join("a.bin"), &content).unwrap();
    for p in ["a.bin", "b.bin", "nested/c.bin"] {
        fs::write(many.join(p), &content).unwrap();
    }

    let (_, mut r1) = repo();
    let single = backup(&mut r1, &small_options(vec![one]), &NoCache, &mut |_| {}).unwrap();
    let (_, mut r2) = repo();
    let triple = backup(
        &mut r2,
        &small_options(vec![many.clone()]),
        &NoCache,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(triple.bytes_read, 3 * 50_000);
    // Only the trees differ (two more listings of ~50 chunk ids); the data
    // went up once — a second copy would add another 50 kB.
    assert!(single.bytes_uploaded > 50_000);
    assert!(
        triple.bytes_uploaded < single.bytes_uploaded + 10_000,
        "{} vs {}",
        triple.bytes_uploaded,
        single.bytes_uploaded
    );

    // Backing up the same folder again stores nothing new.
    let again = backup(&mut r2, &small_options(vec![many]), &NoCache, &mut |_| {}).unwrap();
    assert_eq!((again.packs_uploaded, again.bytes_uploaded), (0, 0));
    assert_eq!(again.files_read, 3);
}

#[test]
fn progress_reports_phases_and_every_file() {
    let work = tempfile::tempdir().unwrap();
    for i in 0..4 {
        fs::write(work.path().join(format!("{i}.txt")), vec![b'x'; 100 * i]).unwrap();
    }
    let (_, mut repo) = repo();
    let mut seen = Vec::new();
    let summary = backup(
        &mut repo,
        &small_options(vec![work.path().to_owned()]),
        &NoCache,
        &mut |p| seen.push(p.clone()),
    )
    .unwrap();
    let mut phases: Vec<BackupPhase> = seen.iter().map(|p| p.phase).collect();
    phases.dedup();
    assert_eq!(
        phases,
        [
            BackupPhase::Scanning,
            BackupPhase::Uploading,
            BackupPhase::Finishing,
            BackupPhase::Done
        ]
    );
    let last = seen.last().unwrap();
    assert_eq!(
        (
            last.files_done,
            last.files_total,
            last.bytes_done,
            last.bytes_total
        ),
        (4, 4, 600, 600)
    );
    for i in 0..4 {
        let path = work.path().join(format!("{i}.txt"));
        assert!(seen
            .iter()
            .any(|p| p.phase == BackupPhase::Uploading && p.current_file.as_ref() == Some(&path)));
    }
    assert_eq!(summary.bytes_total, 600);
    assert_eq!(
        serde_json::to_string(&BackupPhase::Finishing).unwrap(),
        "\"finishing\""
    );
}

#[cfg(unix)]
#[test]
fn unreadable_and_odd_entries_are_skipped_and_the_rest_is_kept() {
    use std::os::unix::ffi::OsStrExt;
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("good.txt"), b"good").unwrap();
    let bad_name = src.join(std::ffi::OsStr::from_bytes(b"bad\xffname"));
    fs::write(&bad_name, b"x").unwrap();
    let locked = src.join("locked.txt");
    fs::write(&locked, b"secret").unwrap();
    set_mode(&locked, 0o000);
    // Root can read anything; only expect the skip when permissions bite.
    let locked_bites = fs::File::open(&locked).is_err();
    let missing = work.path().join("missing");

    let (_, mut repo) = repo();
    let mut last_skipped = 0;
    let summary = backup(
        &mut repo,
        &small_options(vec![src.clone(), missing.clone()]),
        &NoCache,
        &mut |p| last_skipped = p.skipped,
    )
    .unwrap();
    assert_eq!(last_skipped, summary.skipped.len() as u64, "progress counts every skipped entry");
    let skipped: Vec<_> = summary.skipped.iter().map(|s| s.path.clone()).collect();
    assert!(skipped.contains(&bad_name), "{skipped:?}");
    assert!(skipped.contains(&missing), "{skipped:?}");
    assert_eq!(skipped.contains(&locked), locked_bites);

    let snap = repo.snapshot(&summary.snapshot_id).unwrap();
    assert_eq!(snap.roots.len(), 1);
    assert_eq!(snap.roots[0].path, src.to_str().unwrap());
    let names: Vec<_> = repo
        .tree(&snap.roots[0].tree)
        .unwrap()
        .nodes
        .into_iter()
        .map(|n| n.name)
        .collect();
    let expected: Vec<&str> = if locked_bites {
        vec!["good.txt"]
    } else {
        vec!["good.txt", "locked.txt"]
    };
    assert_eq!(names, expected);
}

#[test]
fn a_root_that_is_a_file_or_bad_sizes_are_invalid_input() {
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("f");
    fs::write(&file, b"x").unwrap();
    let (backend, mut repo) = repo();
    let err = backup(&mut repo, &small_options(vec![file]), &NoCache, &mut |_| {}).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let mut opts = small_options(vec![work.path().to_owned()]);
    opts.chunk_min = 10;
    assert_eq!(
        backup(&mut repo, &opts, &NoCache, &mut |_| {})
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert!(backend.list(FileKind::Snapshot).unwrap().is_empty());
}

#[test]
fn snapshot_is_stored_last_and_names_only_indexed_blobs() {
    /// Records the order of writes.
    struct Recording {
        inner: MemoryBackend,
        log: std::sync::Mutex<Vec<FileKind>>,
    }
    impl Backend for Recording {
        fn put(
            &self,
            kind: FileKind,
            id: &coffer_engine::Id,
            bytes: &[u8],
        ) -> coffer_engine::Result<()> {
            self.log.lock().unwrap().push(kind);
            self.inner.put(kind, id, bytes)
        }
        fn get(&self, kind: FileKind, id: &coffer_engine::Id) -> coffer_engine::Result<Vec<u8>> {
            self.inner.get(kind, id)
        }
        fn get_range(
            &self,
            kind: FileKind,
            id: &coffer_engine::Id,
            o: u64,
            l: u64,
        ) -> coffer_engine::Result<Vec<u8>> {
            self.inner.get_range(kind, id, o, l)
        }
        fn list(&self, kind: FileKind) -> coffer_engine::Result<Vec<coffer_engine::ObjectInfo>> {
            self.inner.list(kind)
        }
        fn remove(&self, kind: FileKind, id: &coffer_engine::Id) -> coffer_engine::Result<()> {
            self.inner.remove(kind, id)
        }
    }
    let work = tempfile::tempdir().unwrap();
    fs::write(work.path().join("big"), random_bytes(1, 60_000)).unwrap();
    let backend = Arc::new(Recording {
        inner: MemoryBackend::new(),
        log: Default::default(),
    });
    let key = DataKey::generate();
    let mut repo = Repository::open(backend.clone(), &key).unwrap();
    let summary = backup(
        &mut repo,
        &small_options(vec![work.path().to_owned()]),
        &NoCache,
        &mut |_| {},
    )
    .unwrap();
    let log = backend.log.lock().unwrap().clone();
    let packs = summary.packs_uploaded as usize;
    assert!(packs >= 3);
    let indexes = summary.indexes_uploaded as usize;
    // Intermediate indexes depend on upload timing here (few packs); the
    // resume tests check them on more data.
    assert!(indexes >= 1);
    assert_eq!(log.len(), packs + indexes + 1);
    assert_eq!(log.iter().filter(|k| **k == FileKind::Pack).count(), packs);
    // The snapshot comes last, an index right before it, and a pack first.
    assert_eq!(log[0], FileKind::Pack);
    assert_eq!(&log[log.len() - 2..], [FileKind::Index, FileKind::Snapshot]);

    let reopened = Repository::open(backend.clone(), &key).unwrap();
    for pack in backend.list(FileKind::Pack).unwrap() {
        assert!(reopened.verify_pack(&pack.id).unwrap() > 0);
    }
    // Another key cannot read the index.
    let err = Repository::open(backend, &DataKey::generate()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Integrity);
}

#[test]
fn excluded_entries_are_left_out_of_the_snapshot() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Code");
    fs::create_dir_all(src.join("node_modules/pkg")).unwrap();
    fs::create_dir_all(src.join("src")).unwrap();
    fs::write(src.join("node_modules/pkg/index.js"), b"module").unwrap();
    fs::write(src.join("src/main.rs"), b"fn main() {}").unwrap();
    fs::write(src.join("big.iso"), random_bytes(9, 5000)).unwrap();
    fs::write(src.join("notes.txt"), b"keep me").unwrap();
    let (_, mut repo) = repo();
    let mut opts = small_options(vec![src.clone()]);
    opts.exclude = Some(coffer_engine::ExcludeFilter(Arc::new(|relative: &std::path::Path, is_dir: bool, size: u64| {
        relative.file_name().is_some_and(|n| n == "node_modules") || (!is_dir && size > 4000)
    })));

    let summary = backup(&mut repo, &opts, &NoCache, &mut |_| {}).unwrap();
    assert_eq!(summary.files_total, 2, "only src/main.rs and notes.txt");
    assert!(summary.skipped.is_empty(), "exclusions are chosen, not failures");

    let out = work.path().join("out");
    restore(&repo, &summary.snapshot_id, &RestoreOptions { target: out.clone(), ..Default::default() }, &mut |_| {}).unwrap();
    assert!(out.join("Code/notes.txt").exists());
    assert!(out.join("Code/src/main.rs").exists());
    assert!(!out.join("Code/node_modules").exists());
    assert!(!out.join("Code/big.iso").exists());
}

/// Small files are read ahead by reader threads and large ones streamed;
/// either way files are stored in walk order, so the trees do not depend
/// on which read finished first.
#[test]
fn many_files_read_ahead_give_the_same_trees_and_restore_exactly() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Data");
    let mut expected_order = Vec::new();
    for d in 0..3 {
        let dir = src.join(format!("d{d}"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..60u64 {
            let name = format!("f{f:02}.bin");
            let len = match f % 20 {
                0 => 0,
                7 => (1 << 20) + 1000, // above the read-ahead size: streamed
                _ => (f as usize * 997) % 9000 + 1,
            };
            fs::write(dir.join(&name), random_bytes(d * 100 + f, len)).unwrap();
            expected_order.push(dir.join(&name));
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink("f01.bin", dir.join("link")).unwrap();
    }
    let (_, mut repo) = repo();
    let cache = MapCache::default();
    let opts = small_options(vec![src.clone()]);

    let mut order = Vec::new();
    let first = backup(&mut repo, &opts, &NoCache, &mut |p| {
        if p.phase == BackupPhase::Uploading {
            if let Some(path) = &p.current_file {
                if order.last() != Some(path) {
                    order.push(path.clone());
                }
            }
        }
    })
    .unwrap();
    assert_eq!(order, expected_order, "files are stored in walk order");
    assert_eq!((first.files_total, first.files_read), (180, 180));

    let second = backup(&mut repo, &opts, &cache, &mut |_| {}).unwrap();
    let third = backup(&mut repo, &opts, &cache, &mut |_| {}).unwrap();
    assert_eq!((third.files_read, third.files_unchanged), (0, 180));
    let root_tree = |id| repo.snapshot(&id).unwrap().roots[0].tree;
    let tree = root_tree(first.snapshot_id);
    assert_eq!(root_tree(second.snapshot_id), tree);
    assert_eq!(root_tree(third.snapshot_id), tree);

    let target = work.path().join("restored");
    restore_all(&repo, &first.snapshot_id, &target);
    assert_eq!(read_entries(&target.join("Data")), read_entries(&src));
}
