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
