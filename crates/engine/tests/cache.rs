//! The on-disk index cache: same behaviour as the in-memory index, index
//! files downloaded once, rebuilt when an index file disappears.

#[path = "support/common.rs"]
mod common;

use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use coffer_engine::{
    backup, Backend, DataKey, FileKind, Id, MemoryBackend, NoCache, ObjectInfo,
    Repository, Result,
};

use common::*;

/// Counts index downloads.
struct Counting {
    inner: MemoryBackend,
    index_gets: AtomicUsize,
}

impl Backend for Counting {
    fn put(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> Result<()> {
        self.inner.put(kind, id, bytes)
    }
    fn get(&self, kind: FileKind, id: &Id) -> Result<Vec<u8>> {
        if kind == FileKind::Index {
            self.index_gets.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.get(kind, id)
    }
    fn get_range(&self, kind: FileKind, id: &Id, offset: u64, len: u64) -> Result<Vec<u8>> {
        self.inner.get_range(kind, id, offset, len)
    }
    fn list(&self, kind: FileKind) -> Result<Vec<ObjectInfo>> {
        self.inner.list(kind)
    }
    fn remove(&self, kind: FileKind, id: &Id) -> Result<()> {
        self.inner.remove(kind, id)
    }
}

#[test]
fn cached_index_backs_up_restores_and_downloads_each_index_once() {
    let work = tempfile::tempdir().unwrap();
    let src = work.path().join("Docs");
    fs::create_dir_all(src.join("sub")).unwrap();
    for i in 0..6u64 {
        fs::write(src.join(format!("sub/f{i}")), random_bytes(i, 20_000)).unwrap();
    }
    let cache_dir = work.path().join("cache");
    let key = DataKey::generate();
    let backend = Arc::new(Counting {
        inner: MemoryBackend::new(),
        index_gets: AtomicUsize::new(0),
    });

    let mut repo = Repository::open_with_cache(backend.clone(), &key, &cache_dir).unwrap();
    let first = backup(&mut repo, &small_options(vec![src.clone()]), &NoCache, &mut |_| {}).unwrap();
    let blobs = repo.blob_count().unwrap();
    assert_eq!(blobs, first.blobs_new);
    drop(repo);
    let indexes = backend.inner.list(FileKind::Index).unwrap().len();
    assert!(indexes >= 2);

    // Reopening reads the cache, not the index files.
    backend.index_gets.store(0, Ordering::SeqCst);
    let mut repo = Repository::open_with_cache(backend.clone(), &key, &cache_dir).unwrap();
    assert_eq!(backend.index_gets.load(Ordering::SeqCst), 0);
    assert_eq!(repo.blob_count().unwrap(), blobs);
    // Dedup works from the cache: nothing new to store.
    let again = backup(&mut repo, &small_options(vec![src.clone()]), &NoCache, &mut |_| {}).unwrap();
    assert_eq!((again.blobs_new, again.packs_uploaded), (0, 0));
    let target = work.path().join("t");
    let summary = restore_all(&repo, &again.snapshot_id, &target);
    assert!(summary.skipped.is_empty());
    assert_eq!(read_entries(&target.join("Docs")), read_entries(&src));
    drop(repo);

    // An index written by another device is fetched, and only it.
    let mut other = Repository::open(backend.clone(), &key).unwrap();
    fs::write(src.join("new.bin"), random_bytes(77, 3_000)).unwrap();
    backup(&mut other, &small_options(vec![src.clone()]), &NoCache, &mut |_| {}).unwrap();
    let new_indexes = backend.inner.list(FileKind::Index).unwrap().len() - indexes;
    backend.index_gets.store(0, Ordering::SeqCst);
    let repo = Repository::open_with_cache(backend.clone(), &key, &cache_dir).unwrap();
    assert_eq!(backend.index_gets.load(Ordering::SeqCst), new_indexes);
    assert_eq!(repo.blob_count().unwrap(), other.blob_count().unwrap());
    drop(repo);

    // An index file that disappears (prune rewrote the indexes) makes the
    // cache start over instead of trusting what it remembered.
    let mut listed = backend.inner.list(FileKind::Index).unwrap();
    listed.sort_by_key(|o| o.id);
    let gone = listed[0].id;
    let bytes = backend.inner.get(FileKind::Index, &gone).unwrap();
    backend.inner.remove(FileKind::Index, &gone).unwrap();
    backend.index_gets.store(0, Ordering::SeqCst);
    let repo = Repository::open_with_cache(backend.clone(), &key, &cache_dir).unwrap();
    assert_eq!(backend.index_gets.load(Ordering::SeqCst), listed.len() - 1);
    // The removed index's packs are now unindexed and adopted from headers.
    assert!(repo.unindexed_packs() > 0);
    assert_eq!(repo.blob_count().unwrap(), other.blob_count().unwrap());
    drop(repo);
    backend.inner.put(FileKind::Index, &gone, &bytes).unwrap();
}

#[test]
fn a_cache_in_use_is_refused_not_shared() {
    let work = tempfile::tempdir().unwrap();
    let backend = Arc::new(MemoryBackend::new());
    let key = DataKey::generate();
    let _first = Repository::open_with_cache(backend.clone(), &key, work.path()).unwrap();
    let err = Repository::open_with_cache(backend.clone(), &key, work.path()).unwrap_err();
    assert_eq!(err.kind(), coffer_engine::ErrorKind::Io);
    // Another key gets another cache file.
    Repository::open_with_cache(backend, &DataKey::generate(), work.path()).unwrap();
}
