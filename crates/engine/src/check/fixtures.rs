//! Golden damaged repositories: `tests/fixtures/<case>/repo` (a
//! `LocalBackend` folder) with the exact `check` report expected for each.
//!
//! Regenerate (only when the format or the report text changes on purpose):
//! `COFFER_REGENERATE_FIXTURES=expected cargo test -p coffer-engine generate_fixtures -- --ignored`
//! then review the `.expected` diffs by hand.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use crate::backend::{Backend, FileKind, LocalBackend};
use crate::backup::{backup, BackupOptions, NoCache};
use crate::blob::BlobType;
use crate::check::{check, CheckOptions};
use crate::crypto::DataKey;
use crate::id::Id;
use crate::repair::repair;
use crate::repository::Repository;
use crate::restore::{restore, RestoreOptions};

/// The fixtures' data key. Public knowledge: these repositories hold only
/// generated test data.
const FIXTURE_KEY: [u8; 32] = [0x42; 32];
const SOURCE: &str = "/tmp/coffer-fixture-src/Docs";
const T1: i64 = 1_700_000_000_000;
const T2: i64 = 1_700_086_400_000;

const CASES: &[&str] = &[
    "healthy",
    "damaged-data-pack",
    "missing-pack",
    "truncated-pack",
    "damaged-tree",
    "damaged-index",
    "damaged-snapshot",
];

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.gen()).collect()
}

fn write_source(second: bool) {
    let src = Path::new(SOURCE);
    let files: [(&str, Vec<u8>); 4] = [
        (
            "a.txt",
            if second {
                b"hello, changed".to_vec()
            } else {
                b"hello".to_vec()
            },
        ),
        ("b.bin", random_bytes(1, 6000)),
        ("sub/c.bin", random_bytes(2, 9000)),
        ("sub/d.txt", b"deep".to_vec()),
    ];
    fs::create_dir_all(src.join("sub")).unwrap();
    for (name, bytes) in files {
        fs::write(src.join(name), bytes).unwrap();
        let when = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        fs::File::options()
            .write(true)
            .open(src.join(name))
            .unwrap()
            .set_modified(when)
            .unwrap();
    }
    for dir in ["sub", ""] {
        let when = UNIX_EPOCH + Duration::from_secs(1_600_000_000);
        fs::File::open(src.join(dir)).unwrap().set_modified(when).unwrap();
    }
}

fn object_path(root: &Path, kind: FileKind, id: &Id) -> PathBuf {
    let hex = id.to_hex();
    root.join(kind.as_str()).join(&hex[..2]).join(hex)
}

/// The pack holding a snapshot's blob found by path ("b.bin#0" = first
/// chunk of b.bin, "sub/" = tree of sub).
fn pack_of(repo: &Repository, snapshot: &Id, what: &str) -> Id {
    let snap = repo.snapshot(snapshot).unwrap();
    let root = repo.tree(&snap.roots[0].tree).unwrap();
    if let Some(dir) = what.strip_suffix('/') {
        let node = root.nodes.iter().find(|n| n.name == dir).unwrap();
        return repo
            .blob_location(BlobType::Tree, &node.subtree.unwrap())
            .unwrap()
            .unwrap()
            .pack;
    }
    let (path, chunk) = what.split_once('#').unwrap();
    let mut tree = root;
    let mut parts: Vec<&str> = path.split('/').collect();
    let file = parts.pop().unwrap();
    for part in parts {
        let node = tree.nodes.iter().find(|n| n.name == part).unwrap();
        tree = repo.tree(&node.subtree.unwrap()).unwrap();
    }
    let node = tree.nodes.iter().find(|n| n.name == file).unwrap();
    let chunk: usize = if chunk == "last" {
        node.content.len() - 1
    } else {
        chunk.parse().unwrap()
    };
    repo.blob_location(BlobType::Data, &node.content[chunk])
        .unwrap()
        .unwrap()
        .pack
}

fn flip(path: &Path, at: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes[at] ^= 0x20;
    fs::write(path, bytes).unwrap();
}

/// Builds one case from scratch into `dir/repo`.
fn generate_case(case: &str, dir: &Path) {
    let _ = fs::remove_dir_all(dir);
    let _ = fs::remove_dir_all(Path::new(SOURCE).parent().unwrap());
    let root = dir.join("repo");
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(&root).unwrap());
    let key = DataKey::from_bytes(FIXTURE_KEY);
    let mut repo = Repository::open(backend, &key).unwrap();
    let opts = |time| BackupOptions {
        roots: vec![PathBuf::from(SOURCE)],
        device_name: "fixture laptop".into(),
        device_id: "fixture-device".into(),
        time,
        // One blob per pack, so each damage hits exactly one blob.
        pack_size: 1,
        chunk_min: 256,
        chunk_avg: 1024,
        chunk_max: 4096,
        index_every: 2,
        ..BackupOptions::default()
    };
    write_source(false);
    let first = backup(&mut repo, &opts(T1), &NoCache, &mut |_| {}).unwrap();
    write_source(true);
    let second = backup(&mut repo, &opts(T2), &NoCache, &mut |_| {}).unwrap();
    let _ = fs::remove_dir_all(Path::new(SOURCE).parent().unwrap());

    match case {
        "healthy" => {}
        "damaged-data-pack" => {
            let pack = pack_of(&repo, &first.snapshot_id, "b.bin#0");
            flip(&object_path(&root, FileKind::Pack, &pack), 40);
        }
        "missing-pack" => {
            let pack = pack_of(&repo, &first.snapshot_id, "sub/c.bin#0");
            fs::remove_file(object_path(&root, FileKind::Pack, &pack)).unwrap();
        }
        "truncated-pack" => {
            let pack = pack_of(&repo, &first.snapshot_id, "b.bin#last");
            let path = object_path(&root, FileKind::Pack, &pack);
            let bytes = fs::read(&path).unwrap();
            fs::write(&path, &bytes[..30]).unwrap();
        }
        "damaged-tree" => {
            let pack = pack_of(&repo, &first.snapshot_id, "sub/");
            flip(&object_path(&root, FileKind::Pack, &pack), 40);
        }
        "damaged-index" => {
            let mut indexes = repo.backend().list(FileKind::Index).unwrap();
            indexes.sort_by_key(|o| o.id);
            flip(&object_path(&root, FileKind::Index, &indexes[0].id), 20);
        }
        "damaged-snapshot" => {
            flip(&object_path(&root, FileKind::Snapshot, &second.snapshot_id), 20);
        }
        other => panic!("unknown case {other}"),
    }
    let _ = fs::remove_dir_all(root.join("tmp"));
}

/// Copies a fixture into a temporary folder (checks and repairs write).
fn open_copy(case: &str, work: &Path) -> (Arc<dyn Backend>, Repository) {
    let from = fixtures_dir().join(case).join("repo");
    let to = work.join(case);
    copy_dir(&from, &to);
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(&to).unwrap());
    let repo = Repository::open_tolerant(backend.clone(), &DataKey::from_bytes(FIXTURE_KEY)).unwrap();
    (backend, repo)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            fs::copy(entry.path(), dest).unwrap();
        }
    }
}

fn reports(repo: &Repository) -> (String, String) {
    let quick = check(repo, CheckOptions { read_data: false }).unwrap();
    let full = check(repo, CheckOptions { read_data: true }).unwrap();
    (quick.to_string(), full.to_string())
}

/// `COFFER_REGENERATE_FIXTURES=repos` rebuilds the repositories (new random
/// salts and nonces, so every id changes) and the texts;
/// `COFFER_REGENERATE_FIXTURES=expected` rewrites only the `.expected` texts
/// from the committed repositories.
#[test]
#[ignore = "writes tests/fixtures; run with COFFER_REGENERATE_FIXTURES=repos|expected"]
fn generate_fixtures() {
    let mode = std::env::var("COFFER_REGENERATE_FIXTURES").unwrap_or_default();
    assert!(
        mode == "repos" || mode == "expected",
        "set COFFER_REGENERATE_FIXTURES=repos or =expected to overwrite the committed fixtures"
    );
    for case in CASES {
        let dir = fixtures_dir().join(case);
        if mode == "repos" {
            generate_case(case, &dir);
        }
        let work = tempfile::tempdir().unwrap();
        let (_, repo) = open_copy(case, work.path());
        let (quick, full) = reports(&repo);
        fs::write(dir.join("check.expected"), quick).unwrap();
        fs::write(dir.join("check-read-data.expected"), full).unwrap();
    }
}

/// Each fixture's reports match the committed text exactly.
#[test]
fn golden_check_reports() {
    let work = tempfile::tempdir().unwrap();
    for case in CASES {
        let dir = fixtures_dir().join(case);
        let (_, repo) = open_copy(case, work.path());
        let (quick, full) = reports(&repo);
        let expected = |name: &str| fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(quick, expected("check.expected"), "{case}: check");
        assert_eq!(full, expected("check-read-data.expected"), "{case}: check --read-data");
        let healthy = *case == "healthy";
        assert_eq!(full.ends_with("no errors found\n"), healthy, "{case}");
    }
}

/// In every case, restoring each snapshot restores every file `check` does
/// not list as affected, byte for byte, and skips exactly the affected ones.
#[test]
fn damaged_fixtures_restore_everything_else() {
    let work = tempfile::tempdir().unwrap();
    for case in CASES {
        let (backend, repo) = open_copy(case, work.path());
        let report = check(&repo, CheckOptions { read_data: true }).unwrap();
        let mut snapshots = backend.list(FileKind::Snapshot).unwrap();
        snapshots.sort_by_key(|o| o.id);
        for info in snapshots {
            let Ok(snap) = repo.snapshot(&info.id) else {
                continue; // the damaged snapshot itself
            };
            let target = work.path().join(format!("restore-{case}-{}", info.id));
            let summary = restore(
                &repo,
                &info.id,
                &RestoreOptions {
                    target: target.clone(),
                    include: vec![],
                    on_conflict: Default::default(),
                },
                &mut |_| {},
            )
            .unwrap();
            let affected: Vec<String> = report
                .affected
                .iter()
                .filter(|a| a.snapshot == info.id)
                .map(|a| a.path.clone())
                .collect();
            let to_original = |p: &Path| {
                let rel = p.strip_prefix(target.join("Docs")).unwrap();
                let rel = rel.to_str().unwrap();
                if rel.is_empty() {
                    SOURCE.to_owned()
                } else {
                    format!("{SOURCE}/{rel}")
                }
            };
            let mut skipped: Vec<String> = summary.skipped.iter().map(|s| to_original(&s.path)).collect();
            skipped.sort();
            assert_eq!(skipped, affected, "{case}: {:?}", summary.skipped);
            let second = snap.time == T2;
            for (name, bytes) in [
                (
                    "a.txt",
                    if second {
                        b"hello, changed".to_vec()
                    } else {
                        b"hello".to_vec()
                    },
                ),
                ("b.bin", random_bytes(1, 6000)),
                ("sub/c.bin", random_bytes(2, 9000)),
                ("sub/d.txt", b"deep".to_vec()),
            ] {
                let original = format!("{SOURCE}/{name}");
                let lost = affected.iter().any(|a| original.starts_with(a.as_str()));
                match fs::read(target.join("Docs").join(name)) {
                    Ok(restored) => {
                        assert!(!lost, "{case}: {name} restored but reported lost");
                        assert_eq!(restored, bytes, "{case}: {name}");
                    }
                    Err(_) => assert!(lost, "{case}: {name} missing but not reported"),
                }
            }
        }
    }
}

/// `repair` makes every readable snapshot restorable with no skips; check
/// then lists no affected files (damaged packs stay until prune).
#[test]
fn repair_makes_snapshots_restorable() {
    let work = tempfile::tempdir().unwrap();
    for case in CASES {
        let (backend, mut repo) = open_copy(case, work.path());
        let before = check(&repo, CheckOptions { read_data: true }).unwrap();
        let mut snapshots = backend.list(FileKind::Snapshot).unwrap();
        snapshots.sort_by_key(|o| o.id);
        let mut repaired = 0;
        for info in snapshots {
            let report = match repair(&mut repo, &info.id) {
                Ok(report) => report,
                Err(e) => {
                    assert_eq!(*case, "damaged-snapshot", "{e}");
                    continue;
                }
            };
            let lost: Vec<&String> = report.lost.iter().map(|l| &l.path).collect();
            let expected: Vec<&String> = before
                .affected
                .iter()
                .filter(|a| a.snapshot == info.id)
                .map(|a| &a.path)
                .collect();
            assert_eq!(lost, expected, "{case}");
            let Some(new) = report.new_snapshot else {
                continue;
            };
            repaired += 1;
            assert!(report.to_string().contains("replaced by"));
            assert_eq!(
                backend.get(FileKind::Snapshot, &info.id).unwrap_err().kind(),
                crate::error::ErrorKind::NotFound,
                "the damaged snapshot is forgotten"
            );
            assert_eq!(repo.snapshot(&new).unwrap().repaired_from, Some(info.id));
            let summary = restore(
                &repo,
                &new,
                &RestoreOptions {
                    target: work.path().join(format!("repaired-{case}-{new}")),
                    include: vec![],
                    on_conflict: Default::default(),
                },
                &mut |_| {},
            )
            .unwrap();
            assert!(summary.skipped.is_empty(), "{case}: {:?}", summary.skipped);
            assert_eq!(summary.files, report.files_kept);
        }
        assert_eq!(repaired > 0, !before.affected.is_empty(), "{case}");
        let after = check(&repo, CheckOptions { read_data: true }).unwrap();
        assert!(after.affected.is_empty(), "{case}: {after}");
    }
}

#[test]
fn tolerant_open_still_refuses_a_wrong_key() {
    let work = tempfile::tempdir().unwrap();
    let from = fixtures_dir().join("damaged-index").join("repo");
    copy_dir(&from, work.path());
    let backend: Arc<dyn Backend> = Arc::new(LocalBackend::new(work.path()).unwrap());
    let err = Repository::open_tolerant(backend.clone(), &DataKey::generate()).unwrap_err();
    assert_eq!(err.kind(), crate::error::ErrorKind::Integrity);
    assert!(err.message().starts_with("wrong key"));
    // The strict open refuses the damaged index outright.
    let err = Repository::open(backend, &DataKey::from_bytes(FIXTURE_KEY)).unwrap_err();
    assert_eq!(err.kind(), crate::error::ErrorKind::Integrity);
}
