//! Property test: random folders back up and restore byte-identical.

#[path = "support/common.rs"]
mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use coffer_engine::{
    backup, Backend, DataKey, LocalBackend, MemoryBackend, NoCache, Repository,
};
use proptest::prelude::*;

use common::*;

#[derive(Debug, Clone)]
enum Spec {
    File { content: Vec<u8>, mode: u32 },
    Dir(BTreeMap<String, Spec>),
    Symlink(String),
}

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _.éü日本語-]{1,8}".prop_filter("not . or ..", |n| n != "." && n != "..")
}

fn spec() -> impl Strategy<Value = Spec> {
    let leaf = prop_oneof![
        4 => (proptest::collection::vec(any::<u8>(), 0..600), prop::sample::select(vec![0o644, 0o600, 0o755, 0o444]))
            .prop_map(|(content, mode)| Spec::File { content, mode }),
        1 => Just(Spec::File { content: Vec::new(), mode: 0o644 }),
        1 => "[a-z./ ]{1,12}".prop_map(Spec::Symlink),
        1 => Just(Spec::Dir(BTreeMap::new())),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        proptest::collection::btree_map(name(), inner, 0..5).prop_map(Spec::Dir)
    })
}

fn materialize(path: &Path, spec: &Spec) {
    match spec {
        Spec::File { content, mode } => {
            fs::write(path, content).unwrap();
            set_mode(path, *mode);
        }
        Spec::Dir(entries) => {
            fs::create_dir(path).unwrap();
            for (name, child) in entries {
                materialize(&path.join(name), child);
            }
        }
        Spec::Symlink(target) => {
            #[cfg(unix)]
            std::os::unix::fs::symlink(target, path).unwrap();
            #[cfg(not(unix))]
            fs::write(path, target).unwrap();
        }
    }
}

fn round_trip(backend: Arc<dyn Backend>, root_spec: BTreeMap<String, Spec>, big_seed: u64) {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    materialize(&src, &Spec::Dir(root_spec));
    // Bigger than a pack (16 KiB), so it spans several.
    fs::write(src.join("big file.bin"), random_bytes(big_seed, 40_000)).unwrap();

    let key = DataKey::generate();
    let mut repo = Repository::open(backend.clone(), &key).unwrap();
    let summary = backup(
        &mut repo,
        &small_options(vec![src.clone()]),
        &NoCache,
        &mut |_| {},
    )
    .unwrap();
    assert!(summary.skipped.is_empty(), "{:?}", summary.skipped);
    assert!(summary.packs_uploaded >= 3);

    // A fresh open sees only what was committed.
    let repo = Repository::open(backend, &key).unwrap();
    let target = work.path().join("restored");
    let restored = restore_all(&repo, &summary.snapshot_id, &target);
    assert!(restored.skipped.is_empty(), "{:?}", restored.skipped);
    assert_eq!(restored.files, summary.files_total);
    assert_eq!(read_entries(&target.join("Docs")), read_entries(&src));
    assert_eq!(fs::read_dir(&target).unwrap().count(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn random_trees_round_trip_in_memory(root in proptest::collection::btree_map(name(), spec(), 0..6), seed: u64) {
        round_trip(Arc::new(MemoryBackend::new()), root, seed);
    }

    #[test]
    fn random_trees_round_trip_in_a_folder(root in proptest::collection::btree_map(name(), spec(), 0..6), seed: u64) {
        let store = tempfile::tempdir().unwrap();
        round_trip(Arc::new(LocalBackend::new(store.path()).unwrap()), root, seed);
    }
}
