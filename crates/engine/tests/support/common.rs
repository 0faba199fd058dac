//! Helpers shared by the engine's integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use coffer_engine::{BackupOptions, Id};

/// Restores all of `snapshot` into `target`, which holds nothing yet.
pub fn restore_all(
    repo: &coffer_engine::Repository,
    snapshot: &Id,
    target: &Path,
) -> coffer_engine::RestoreSummary {
    coffer_engine::restore(
        repo,
        snapshot,
        &coffer_engine::RestoreOptions {
            target: target.to_owned(),
            include: vec![],
            on_conflict: Default::default(),
        },
        &mut |_| {},
    )
    .unwrap()
}

/// Small sizes so tests make many chunks and packs quickly.
pub fn small_options(roots: Vec<PathBuf>) -> BackupOptions {
    BackupOptions {
        roots,
        device_name: "test laptop".into(),
        device_id: "device-1".into(),
        time: 1_700_000_000_000,
        pack_size: 16 * 1024,
        chunk_min: 256,
        chunk_avg: 1024,
        chunk_max: 4096,
        index_every: 2,
        ..BackupOptions::default()
    }
}

pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.gen()).collect()
}

/// What a folder holds, as compared after a restore.
#[derive(Debug, PartialEq, Eq)]
pub enum Seen {
    File {
        bytes: Vec<u8>,
        mode: u32,
        mtime: Option<std::time::SystemTime>,
    },
    Dir {
        mode: u32,
        entries: BTreeMap<String, Seen>,
    },
    Symlink {
        target: PathBuf,
    },
}

#[cfg(unix)]
fn mode_of(meta: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode_of(_: &fs::Metadata) -> u32 {
    0
}

/// Reads a folder recursively without following links.
pub fn read_tree(path: &Path) -> Seen {
    let meta = fs::symlink_metadata(path).unwrap();
    if meta.file_type().is_symlink() {
        Seen::Symlink {
            target: fs::read_link(path).unwrap(),
        }
    } else if meta.is_dir() {
        let mut entries = BTreeMap::new();
        for e in fs::read_dir(path).unwrap() {
            let e = e.unwrap();
            entries.insert(e.file_name().into_string().unwrap(), read_tree(&e.path()));
        }
        Seen::Dir {
            mode: mode_of(&meta),
            entries,
        }
    } else {
        Seen::File {
            bytes: fs::read(path).unwrap(),
            mode: mode_of(&meta),
            mtime: meta.modified().ok(),
        }
    }
}

/// Like [`read_tree`] but without the top folder's own mode (roots restore
/// with default permissions).
pub fn read_entries(path: &Path) -> BTreeMap<String, Seen> {
    match read_tree(path) {
        Seen::Dir { entries, .. } => entries,
        other => panic!("{} is not a folder: {other:?}", path.display()),
    }
}

pub fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

/// A FileCache over a map, counting lookups.
#[derive(Default)]
pub struct MapCache {
    pub map: std::sync::Mutex<
        std::collections::HashMap<PathBuf, (coffer_engine::FileFingerprint, Vec<Id>)>,
    >,
}

impl coffer_engine::FileCache for MapCache {
    fn lookup(&self, path: &Path, fp: &coffer_engine::FileFingerprint) -> Option<Vec<Id>> {
        let map = self.map.lock().unwrap();
        map.get(path)
            .filter(|(seen, _)| seen == fp)
            .map(|(_, ids)| ids.clone())
    }
    fn remember(&self, path: &Path, fp: &coffer_engine::FileFingerprint, content: &[Id]) {
        self.map
            .lock()
            .unwrap()
            .insert(path.to_owned(), (fp.clone(), content.to_vec()));
    }
}

/// A backend decorator that records every put and can fail the Nth one
/// (1-based), as a crash or a dropped connection would.
pub struct FaultyBackend {
    pub inner: coffer_engine::MemoryBackend,
    pub fail_put: std::sync::atomic::AtomicUsize,
    pub puts: std::sync::Mutex<Vec<(coffer_engine::FileKind, Id)>>,
    count: std::sync::atomic::AtomicUsize,
}

impl FaultyBackend {
    pub fn new(inner: coffer_engine::MemoryBackend) -> FaultyBackend {
        FaultyBackend {
            inner,
            fail_put: usize::MAX.into(),
            puts: Default::default(),
            count: 0.into(),
        }
    }

    /// Fails the `n`th put from now on (counting from 1); `None` disarms.
    pub fn arm(&self, n: Option<usize>) {
        use std::sync::atomic::Ordering;
        self.count.store(0, Ordering::SeqCst);
        self.fail_put.store(n.unwrap_or(usize::MAX), Ordering::SeqCst);
    }

    pub fn puts_of(&self, kind: coffer_engine::FileKind) -> Vec<Id> {
        self.puts
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, id)| *id)
            .collect()
    }
}

impl coffer_engine::Backend for FaultyBackend {
    fn put(&self, kind: coffer_engine::FileKind, id: &Id, bytes: &[u8]) -> coffer_engine::Result<()> {
        use std::sync::atomic::Ordering;
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= self.fail_put.load(Ordering::SeqCst) {
            // Everything from the Nth put on fails: the process is gone.
            return Err(coffer_engine::Error::new(
                coffer_engine::ErrorKind::Network,
                format!("injected failure at put {n}"),
            ));
        }
        self.puts.lock().unwrap().push((kind, *id));
        self.inner.put(kind, id, bytes)
    }
    fn get(&self, kind: coffer_engine::FileKind, id: &Id) -> coffer_engine::Result<Vec<u8>> {
        self.inner.get(kind, id)
    }
    fn get_range(
        &self,
        kind: coffer_engine::FileKind,
        id: &Id,
        offset: u64,
        len: u64,
    ) -> coffer_engine::Result<Vec<u8>> {
        self.inner.get_range(kind, id, offset, len)
    }
    fn list(&self, kind: coffer_engine::FileKind) -> coffer_engine::Result<Vec<coffer_engine::ObjectInfo>> {
        self.inner.list(kind)
    }
    fn remove(&self, kind: coffer_engine::FileKind, id: &Id) -> coffer_engine::Result<()> {
        self.inner.remove(kind, id)
    }
}
