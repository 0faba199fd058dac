//! Restore behaviour: selection, layout, damage, link safety.

#[path = "support/common.rs"]
mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use coffer_engine::{
    backup, restore, Backend, DataKey, ErrorKind, FileKind, Id, MemoryBackend, NoCache, Repository,
    RestoreOptions,
};

use common::*;

fn backed_up(roots: Vec<PathBuf>, pack_size: usize) -> (Arc<MemoryBackend>, Repository, Id) {
    let backend = Arc::new(MemoryBackend::new());
    let mut repo = Repository::open(backend.clone(), &DataKey::generate()).unwrap();
    let mut opts = small_options(roots);
    opts.pack_size = pack_size;
    let summary = backup(&mut repo, &opts, &NoCache, &mut |_| {}).unwrap();
    (backend, repo, summary.snapshot_id)
}

fn docs(root: &Path) -> PathBuf {
    let docs = root.join("Docs");
    fs::create_dir_all(docs.join("a/deeper")).unwrap();
    fs::write(docs.join("a/b.txt"), b"b").unwrap();
    fs::write(docs.join("a/deeper/c.txt"), b"c").unwrap();
    fs::write(docs.join("top.txt"), b"top").unwrap();
    docs
}

fn opts(target: &Path, include: &[&str]) -> RestoreOptions {
    RestoreOptions {
        target: target.to_owned(),
        include: include.iter().map(|s| s.to_string()).collect(),
        on_conflict: Default::default(),
    }
}

#[test]
fn include_selects_a_file_or_a_folder() {
    let work = tempfile::tempdir().unwrap();
    let src = docs(&work.path().join("src"));
    let (_, repo, snap) = backed_up(vec![src.clone()], 16 * 1024);
    let s = src.to_str().unwrap();

    let t1 = work.path().join("t1");
    let summary = restore(
        &repo,
        &snap,
        &opts(&t1, &[&format!("{s}/a/b.txt")]),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(summary.files, 1);
    assert_eq!(fs::read(t1.join("Docs/a/b.txt")).unwrap(), b"b");
    assert!(!t1.join("Docs/top.txt").exists());
    assert!(!t1.join("Docs/a/deeper").exists());

    let t2 = work.path().join("t2");
    restore(
        &repo,
        &snap,
        &opts(&t2, &[&format!("{s}/a/"), &format!("{s}/top.txt")]),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(fs::read(t2.join("Docs/a/deeper/c.txt")).unwrap(), b"c");
    assert_eq!(fs::read(t2.join("Docs/top.txt")).unwrap(), b"top");

    let t3 = work.path().join("t3");
    restore(&repo, &snap, &opts(&t3, &[s]), &mut |_| {}).unwrap();
    assert_eq!(read_entries(&t3.join("Docs")), read_entries(&src));

    for missing in [
        format!("{s}/nope"),
        format!("{s}/top.txt/x"),
        "/elsewhere".to_string(),
    ] {
        let err = restore(
            &repo,
            &snap,
            &opts(&work.path().join("t4"), &[&missing]),
            &mut |_| {},
        )
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound, "{missing}");
    }
    assert!(
        !work.path().join("t4").exists(),
        "nothing is written when an include is wrong"
    );
}

#[test]
fn roots_with_the_same_name_get_numbered() {
    let work = tempfile::tempdir().unwrap();
    let first = docs(&work.path().join("one"));
    let second = work.path().join("two/Docs");
    fs::create_dir_all(&second).unwrap();
    fs::write(second.join("other.txt"), b"other").unwrap();
    let (_, repo, snap) = backed_up(vec![first, second], 16 * 1024);
    let target = work.path().join("t");
    let summary = restore(&repo, &snap, &opts(&target, &[]), &mut |_| {}).unwrap();
    assert_eq!(fs::read(target.join("Docs/top.txt")).unwrap(), b"top");
    assert_eq!(
        fs::read(target.join("Docs (2)/other.txt")).unwrap(),
        b"other"
    );
    assert_eq!(summary.files, 4);
    assert_eq!(summary.bytes, 1 + 1 + 3 + 5);
}

#[test]
fn progress_covers_every_file() {
    let work = tempfile::tempdir().unwrap();
    let src = docs(&work.path().join("src"));
    let (_, repo, snap) = backed_up(vec![src], 16 * 1024);
    let mut seen = Vec::new();
    restore(&repo, &snap, &opts(&work.path().join("t"), &[]), &mut |p| {
        seen.push(p.clone())
    })
    .unwrap();
    let last = seen.last().unwrap();
    assert_eq!(
        (
            last.files_done,
            last.files_total,
            last.bytes_done,
            last.bytes_total
        ),
        (3, 3, 5, 5)
    );
    assert!(seen.iter().any(|p| p
        .current_file
        .as_deref()
        .is_some_and(|f| f.ends_with("Docs/a/b.txt"))));
}

/// Whatever pack is damaged, restore never writes wrong bytes: each file is
/// either correct or listed as skipped, and the rest is restored.
#[test]
fn damage_skips_the_affected_entries_only() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    fs::create_dir_all(src.join("sub")).unwrap();
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("a.txt", b"small".to_vec()),
        ("b.bin", random_bytes(3, 3000)),
        ("sub/c.bin", random_bytes(4, 9000)),
    ];
    for (name, bytes) in &files {
        fs::write(src.join(name), bytes).unwrap();
    }
    // pack_size 1: one blob per pack, so each damage hits one blob.
    let (backend, repo, snap) = backed_up(vec![src.clone()], 1);
    let packs = backend.list(FileKind::Pack).unwrap();
    assert!(packs.len() >= 5);
    let mut file_skips = 0;
    for (n, pack) in packs.iter().enumerate() {
        let original = backend.get(FileKind::Pack, &pack.id).unwrap();
        let mut damaged = original.clone();
        damaged[30] ^= 1; // inside the first (only) blob
        backend.corrupt(FileKind::Pack, &pack.id, damaged);

        let target = work.path().join(format!("t{n}"));
        let summary = restore(&repo, &snap, &opts(&target, &[]), &mut |_| {}).unwrap();
        assert!(
            !summary.skipped.is_empty(),
            "damage in pack {n} went unnoticed"
        );
        for (name, bytes) in &files {
            let path = target.join("Docs").join(name);
            match fs::read(&path) {
                Ok(restored) => assert_eq!(&restored, bytes, "{name}"),
                Err(_) => assert!(
                    summary.skipped.iter().any(|s| path.starts_with(&s.path)),
                    "{name} missing without a reason: {:?}",
                    summary.skipped
                ),
            }
        }
        for s in &summary.skipped {
            if s.path.is_file() || s.path.extension().is_some() {
                file_skips += 1;
                assert!(s.reason.contains("damaged"), "{}", s.reason);
            }
        }
        backend.corrupt(FileKind::Pack, &pack.id, original);
    }
    assert!(file_skips >= 3);
    // And verify_pack finds damage.
    let mut damaged = backend.get(FileKind::Pack, &packs[0].id).unwrap();
    damaged[30] ^= 1;
    backend.corrupt(FileKind::Pack, &packs[0].id, damaged);
    assert_eq!(
        repo.verify_pack(&packs[0].id).unwrap_err().kind(),
        ErrorKind::Integrity
    );
}

#[cfg(unix)]
#[test]
fn restore_never_writes_through_existing_links() {
    let work = tempfile::tempdir().unwrap();
    let src = docs(&work.path().join("src"));
    let (_, repo, snap) = backed_up(vec![src], 16 * 1024);
    let outside = work.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("victim.txt"), b"untouched").unwrap();

    let target = work.path().join("t");
    fs::create_dir_all(target.join("Docs")).unwrap();
    std::os::unix::fs::symlink(outside.join("victim.txt"), target.join("Docs/top.txt")).unwrap();
    std::os::unix::fs::symlink(&outside, target.join("Docs/a")).unwrap();

    let summary = restore(&repo, &snap, &opts(&target, &[]), &mut |_| {}).unwrap();
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    assert_eq!(fs::read(outside.join("victim.txt")).unwrap(), b"untouched");
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 1);
    assert!(!fs::symlink_metadata(target.join("Docs/top.txt"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read(target.join("Docs/top.txt")).unwrap(), b"top");
    assert_eq!(fs::read(target.join("Docs/a/deeper/c.txt")).unwrap(), b"c");
}

#[test]
fn unknown_snapshot_is_not_found() {
    let work = tempfile::tempdir().unwrap();
    let (_, repo, _) = backed_up(vec![docs(work.path())], 16 * 1024);
    let err = restore(
        &repo,
        &Id::hash(b"nope"),
        &opts(&work.path().join("t"), &[]),
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

/// `evil → outside` restored by one snapshot, then `evil/passwd` by another
/// into the same target: the second replaces the link with a real folder
/// and never writes through it.
#[cfg(unix)]
#[test]
fn a_symlinked_parent_is_never_followed() {
    let work = tempfile::tempdir().unwrap();
    let outside = work.path().join("etc");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("passwd"), b"root:x:0:0").unwrap();

    let first = work.path().join("one/Docs");
    fs::create_dir_all(&first).unwrap();
    std::os::unix::fs::symlink(&outside, first.join("evil")).unwrap();
    let second = work.path().join("two/Docs");
    fs::create_dir_all(second.join("evil")).unwrap();
    fs::write(second.join("evil/passwd"), b"pwned").unwrap();

    let backend = Arc::new(MemoryBackend::new());
    let mut repo = Repository::open(backend, &DataKey::generate()).unwrap();
    let a = backup(&mut repo, &small_options(vec![first]), &NoCache, &mut |_| {}).unwrap();
    let b = backup(&mut repo, &small_options(vec![second]), &NoCache, &mut |_| {}).unwrap();

    let target = work.path().join("t");
    restore(&repo, &a.snapshot_id, &opts(&target, &[]), &mut |_| {}).unwrap();
    assert_eq!(fs::read_link(target.join("Docs/evil")).unwrap(), outside);
    let summary = restore(&repo, &b.snapshot_id, &opts(&target, &[]), &mut |_| {}).unwrap();
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    assert_eq!(fs::read(outside.join("passwd")).unwrap(), b"root:x:0:0");
    assert!(fs::symlink_metadata(target.join("Docs/evil")).unwrap().is_dir());
    assert_eq!(fs::read(target.join("Docs/evil/passwd")).unwrap(), b"pwned");

    // And back: the link replaces nothing outside, only the folder entry
    // in the way is refused (its contents are not deleted).
    let summary = restore(&repo, &a.snapshot_id, &opts(&target, &[]), &mut |_| {}).unwrap();
    assert_eq!(summary.skipped.len(), 1, "{:?}", summary.skipped);
    assert!(summary.skipped[0].reason.contains("folder is in the way"));
    assert_eq!(fs::read(outside.join("passwd")).unwrap(), b"root:x:0:0");
}

#[cfg(unix)]
#[test]
fn existing_links_at_link_and_file_paths_are_replaced() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f.txt"), b"new").unwrap();
    std::os::unix::fs::symlink("f.txt", src.join("link")).unwrap();
    let backend = Arc::new(MemoryBackend::new());
    let mut repo = Repository::open(backend, &DataKey::generate()).unwrap();
    let snap = backup(&mut repo, &small_options(vec![src]), &NoCache, &mut |_| {})
        .unwrap()
        .snapshot_id;

    let outside = work.path().join("outside.txt");
    fs::write(&outside, b"keep").unwrap();
    let target = work.path().join("t");
    fs::create_dir_all(target.join("Docs")).unwrap();
    std::os::unix::fs::symlink(&outside, target.join("Docs/link")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/dangling", target.join("Docs/f.txt")).unwrap();
    let summary = restore(&repo, &snap, &opts(&target, &[]), &mut |_| {}).unwrap();
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    assert_eq!(fs::read(&outside).unwrap(), b"keep");
    assert_eq!(fs::read_link(target.join("Docs/link")).unwrap(), PathBuf::from("f.txt"));
    assert_eq!(fs::read(target.join("Docs/f.txt")).unwrap(), b"new");
    assert!(!Path::new("/nonexistent/dangling").exists());
}

#[cfg(unix)]
#[test]
fn modes_and_times_are_restored() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::time::{Duration, UNIX_EPOCH};
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    fs::create_dir_all(src.join("private")).unwrap();
    fs::write(src.join("script.sh"), b"#!/bin/sh\n").unwrap();
    fs::write(src.join("private/notes.txt"), b"notes").unwrap();
    std::os::unix::fs::symlink("private/notes.txt", src.join("ln")).unwrap();
    set_mode(&src.join("script.sh"), 0o750);
    set_mode(&src.join("private/notes.txt"), 0o600);
    let when = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_nanos(123_456_789);
    let times = [
        ("script.sh", when(1_500_000_000)),
        ("private/notes.txt", when(1_400_000_000)),
        ("private", when(1_300_000_000)),
    ];
    for (p, t) in times {
        fs::File::open(src.join(p)).unwrap().set_modified(t).unwrap();
    }
    set_mode(&src.join("private"), 0o700);

    let backend = Arc::new(MemoryBackend::new());
    let mut repo = Repository::open(backend, &DataKey::generate()).unwrap();
    let snap = backup(&mut repo, &small_options(vec![src.clone()]), &NoCache, &mut |_| {})
        .unwrap()
        .snapshot_id;
    let target = work.path().join("t");
    let summary = restore(&repo, &snap, &opts(&target, &[]), &mut |_| {}).unwrap();
    assert!(summary.skipped.is_empty() && summary.warnings.is_empty(), "{summary:?}");
    for (p, t) in times {
        let meta = fs::symlink_metadata(target.join("Docs").join(p)).unwrap();
        assert_eq!(meta.modified().unwrap(), t, "{p}");
    }
    let mode = |p: &str| fs::symlink_metadata(target.join("Docs").join(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("script.sh"), 0o750);
    assert_eq!(mode("private/notes.txt"), 0o600);
    assert_eq!(mode("private"), 0o700);
    // The link's own time, not its target's.
    let link_src = fs::symlink_metadata(src.join("ln")).unwrap();
    let link_dst = fs::symlink_metadata(target.join("Docs/ln")).unwrap();
    assert_eq!(link_dst.mtime(), link_src.mtime());
}

/// An entry that cannot be written is reported and the rest restores.
#[test]
fn unwritable_entries_are_skipped_and_the_rest_restores() {
    let work = tempfile::tempdir().unwrap();
    let src = docs(&work.path().join("src"));
    let (_, repo, snap) = backed_up(vec![src], 16 * 1024);
    let target = work.path().join("t");
    // A non-empty folder where a file goes: it is neither deleted nor written.
    fs::create_dir_all(target.join("Docs/top.txt/inner")).unwrap();
    fs::write(target.join("Docs/top.txt/inner/keep"), b"keep").unwrap();
    let summary = restore(&repo, &snap, &opts(&target, &[]), &mut |_| {}).unwrap();
    assert_eq!(summary.files, 2);
    assert_eq!(summary.skipped.len(), 1, "{:?}", summary.skipped);
    assert_eq!(summary.skipped[0].path, target.join("Docs/top.txt"));
    assert!(summary.skipped[0].reason.contains("folder is in the way"));
    assert_eq!(fs::read(target.join("Docs/top.txt/inner/keep")).unwrap(), b"keep");
    assert_eq!(fs::read(target.join("Docs/a/deeper/c.txt")).unwrap(), b"c");

    // Permission-denied case; meaningless as root (root writes anyway).
    #[cfg(unix)]
    {
        let locked = work.path().join("locked");
        fs::create_dir_all(locked.join("Docs/a")).unwrap();
        set_mode(&locked.join("Docs/a"), 0o555);
        let root_bypasses = fs::write(locked.join("Docs/a/probe"), b"").is_ok();
        if !root_bypasses {
            let summary = restore(&repo, &snap, &opts(&locked, &[]), &mut |_| {}).unwrap();
            assert!(summary.skipped.iter().any(|s| s.path.ends_with("a/b.txt")));
            assert_eq!(fs::read(locked.join("Docs/top.txt")).unwrap(), b"top");
        }
        set_mode(&locked.join("Docs/a"), 0o755);
    }
}

#[test]
fn existing_files_are_kept_skipped_or_overwritten_as_asked() {
    use coffer_engine::OnConflict;
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("report.txt"), b"from the backup").unwrap();
    fs::write(src.join("README"), b"readme from the backup").unwrap();
    let backend = Arc::new(MemoryBackend::new());
    let mut repo = Repository::open(backend, &DataKey::generate()).unwrap();
    let snap = backup(&mut repo, &small_options(vec![src.clone()]), &NoCache, &mut |_| {}).unwrap().snapshot_id;

    let run = |target: &Path, on_conflict| {
        let mut o = opts(target, &[]);
        o.on_conflict = on_conflict;
        restore(&repo, &snap, &o, &mut |_| {}).unwrap()
    };
    let prepare = |name: &str| {
        let target = work.path().join(name);
        fs::create_dir_all(target.join("Docs")).unwrap();
        fs::write(target.join("Docs/report.txt"), b"edited since").unwrap();
        target
    };

    let keep = prepare("keep");
    run(&keep, OnConflict::KeepBoth);
    assert_eq!(fs::read(keep.join("Docs/report.txt")).unwrap(), b"edited since");
    assert_eq!(fs::read(keep.join("Docs/report (restored).txt")).unwrap(), b"from the backup");
    assert_eq!(fs::read(keep.join("Docs/README")).unwrap(), b"readme from the backup", "no conflict, no new name");
    run(&keep, OnConflict::KeepBoth);
    assert_eq!(fs::read(keep.join("Docs/report (restored 2).txt")).unwrap(), b"from the backup");
    assert!(!keep.join("Docs/README (restored).txt").exists(), "names without a dot get the suffix at the end");
    assert_eq!(fs::read(keep.join("Docs/README (restored)")).unwrap(), b"readme from the backup");

    let skip = prepare("skip");
    let summary = run(&skip, OnConflict::Skip);
    assert_eq!(fs::read(skip.join("Docs/report.txt")).unwrap(), b"edited since");
    assert_eq!(summary.skipped.len(), 1);
    assert!(summary.skipped[0].reason.contains("already there"));

    let overwrite = prepare("overwrite");
    run(&overwrite, OnConflict::Overwrite);
    assert_eq!(fs::read(overwrite.join("Docs/report.txt")).unwrap(), b"from the backup");
}

/// A backend whose span streams break off after `after` bytes, either with
/// an error (a dropped connection) or by ending early; whole-range reads
/// work and are counted.
struct BreakingStreams {
    inner: Arc<MemoryBackend>,
    after: u64,
    as_error: bool,
    range_reads: std::sync::atomic::AtomicUsize,
}

struct BreakingReader {
    bytes: std::io::Cursor<Vec<u8>>,
    left: u64,
    as_error: bool,
}

impl std::io::Read for BreakingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return if self.as_error {
                Err(std::io::ErrorKind::ConnectionReset.into())
            } else {
                Ok(0)
            };
        }
        let n = buf.len().min(self.left as usize);
        let n = self.bytes.read(&mut buf[..n])?;
        self.left -= n as u64;
        Ok(n)
    }
}

impl Backend for BreakingStreams {
    fn put(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> coffer_engine::Result<()> {
        self.inner.put(kind, id, bytes)
    }
    fn get(&self, kind: FileKind, id: &Id) -> coffer_engine::Result<Vec<u8>> {
        self.inner.get(kind, id)
    }
    fn get_range(&self, kind: FileKind, id: &Id, offset: u64, len: u64) -> coffer_engine::Result<Vec<u8>> {
        if kind == FileKind::Pack {
            self.range_reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        self.inner.get_range(kind, id, offset, len)
    }
    fn get_range_stream(
        &self,
        kind: FileKind,
        id: &Id,
        offset: u64,
        len: u64,
    ) -> coffer_engine::Result<Box<dyn std::io::Read + Send + '_>> {
        Ok(Box::new(BreakingReader {
            bytes: std::io::Cursor::new(self.inner.get_range(kind, id, offset, len)?),
            left: self.after.min(len),
            as_error: self.as_error,
        }))
    }
    fn list(&self, kind: FileKind) -> coffer_engine::Result<Vec<coffer_engine::ObjectInfo>> {
        self.inner.list(kind)
    }
    fn remove(&self, kind: FileKind, id: &Id) -> coffer_engine::Result<()> {
        self.inner.remove(kind, id)
    }
}

/// Restore reads a pack's span as a stream, blob by blob; when the stream
/// breaks off (a dropped connection, or an answer that ends early) the rest
/// of the span is fetched blob by blob and every file still comes back
/// whole, none reported damaged.
#[test]
fn a_span_that_breaks_off_is_finished_blob_by_blob() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    fs::create_dir_all(&src).unwrap();
    for i in 0..40u64 {
        fs::write(src.join(format!("f{i}.bin")), random_bytes(i, 500 + 300 * i as usize)).unwrap();
    }
    let inner = Arc::new(MemoryBackend::new());
    let key = DataKey::generate();
    let mut repo = Repository::open(inner.clone(), &key).unwrap();
    let mut options = small_options(vec![src.clone()]);
    options.pack_size = 1 << 20; // few packs, long spans
    let snap = backup(&mut repo, &options, &NoCache, &mut |_| {}).unwrap().snapshot_id;

    for (n, as_error) in [(0, true), (1, false)] {
        let breaking = Arc::new(BreakingStreams {
            inner: inner.clone(),
            after: 5000,
            as_error,
            range_reads: Default::default(),
        });
        let repo = Repository::open(breaking.clone(), &key).unwrap();
        let target = work.path().join(format!("t{n}"));
        let summary = restore_all(&repo, &snap, &target);
        assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
        assert_eq!(summary.files, 40);
        assert_eq!(read_entries(&target.join("Docs")), read_entries(&src));
        assert!(
            breaking.range_reads.load(std::sync::atomic::Ordering::SeqCst) > 0,
            "the blobs after the break were fetched one by one"
        );
    }
}

/// More folders than the restore keeps open at once (it keeps the most
/// recently used 128): every file lands in its own folder, and the number
/// of descriptors the process holds stays bounded.
#[test]
fn many_folders_restore_with_a_bounded_number_open() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    for a in 0..20 {
        for b in 0..15 {
            let folder = src.join(format!("a{a}/b{b}"));
            fs::create_dir_all(&folder).unwrap();
            fs::write(folder.join("note.txt"), format!("{a}/{b}")).unwrap();
        }
    }
    let (_, repo, snap) = backed_up(vec![src.clone()], 64 * 1024);
    let target = work.path().join("t");
    let open_now = || fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0);
    let before = open_now();
    let mut most = before;
    let summary = restore(&repo, &snap, &opts(&target, &[]), &mut |_| most = most.max(open_now())).unwrap();
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    assert_eq!(summary.files, 300);
    assert_eq!(read_entries(&target.join("Docs")), read_entries(&src));
    if cfg!(target_os = "linux") {
        // 320 folders; other tests of this binary run alongside, hence the slack.
        assert!(most < before + 128 + 100, "{most} descriptors open during the restore, {before} before");
    }
}
