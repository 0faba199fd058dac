//! The backup pipeline: scan → chunk → dedup → pack → index → trees → snapshot.

use std::fs::{self, File, Metadata};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::backend::FileKind;
use crate::blob::BlobType;
use crate::chunker::{ChunkSizes, Chunker};
use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;
use crate::index::{Index, IndexPack};
use crate::pack::PackWriter;
use crate::repository::Repository;
use crate::snapshot::{Snapshot, SnapshotRoot};
use crate::tree::{Node, NodeKind, Tree};

/// What identifies an unchanged file without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFingerprint {
    pub size: u64,
    pub mtime_ns: i64,
    /// Status-change time; 0 where the platform has none.
    pub ctime_ns: i64,
    /// Inode number; 0 where the platform has none.
    pub inode: u64,
}

/// Remembers which chunks a file had when it was last backed up, so unchanged
/// files are not read again. The agent's catalog implements this.
pub trait FileCache {
    /// The file's content chunk ids if it was backed up with exactly this
    /// fingerprint. The engine still checks that every chunk is in the index.
    fn lookup(&self, path: &Path, fingerprint: &FileFingerprint) -> Option<Vec<Id>>;

    /// Records a file's chunks. Called only after the snapshot that contains
    /// them is committed, and only for files that did not change while read.
    fn remember(&self, path: &Path, fingerprint: &FileFingerprint, content: &[Id]);
}

/// A cache that knows nothing: every file is read.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCache;

impl FileCache for NoCache {
    fn lookup(&self, _: &Path, _: &FileFingerprint) -> Option<Vec<Id>> {
        None
    }
    fn remember(&self, _: &Path, _: &FileFingerprint, _: &[Id]) {}
}

/// What to back up and how.
#[derive(Debug, Clone)]
pub struct BackupOptions {
    /// Folders to back up; relative paths are made absolute.
    pub roots: Vec<PathBuf>,
    pub device_name: String,
    pub device_id: String,
    /// Snapshot time, Unix milliseconds. Defaults to now.
    pub time: i64,
    /// Target pack size in bytes; a pack is closed once it reaches this.
    pub pack_size: usize,
    pub chunk_min: u32,
    pub chunk_avg: u32,
    pub chunk_max: u32,
}

impl Default for BackupOptions {
    fn default() -> BackupOptions {
        BackupOptions {
            roots: Vec::new(),
            device_name: String::new(),
            device_id: String::new(),
            time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            pack_size: 8 << 20,
            chunk_min: 256 << 10,
            chunk_avg: 1 << 20,
            chunk_max: 4 << 20,
        }
    }
}

/// Where a backup is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupPhase {
    /// Walking the folders; totals are still growing.
    Scanning,
    /// Reading changed files and uploading packs.
    Uploading,
    /// Uploading the last pack, the index and the snapshot.
    Finishing,
    /// Committed.
    Done,
}

/// Reported at each phase change, for each file, and as large files are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupProgress {
    pub phase: BackupPhase,
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub current_file: Option<PathBuf>,
}

/// Something left out of a backup or restore, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

/// What a backup did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSummary {
    pub snapshot_id: Id,
    /// Regular files found (including ones later skipped).
    pub files_total: u64,
    /// Files whose contents were read.
    pub files_read: u64,
    /// Files the cache showed unchanged (not read).
    pub files_unchanged: u64,
    /// Size of all files found.
    pub bytes_total: u64,
    /// Bytes read from files.
    pub bytes_read: u64,
    /// Bytes of packs uploaded.
    pub bytes_uploaded: u64,
    pub packs_uploaded: u64,
    pub skipped: Vec<Skipped>,
}

/// Backs up `opts.roots` into a new snapshot.
///
/// Unreadable or vanishing files and folders are recorded in
/// [`BackupSummary::skipped`] and the backup goes on. Nothing is visible in
/// the repository until the snapshot file is stored, which is the last step.
///
/// # Errors
/// `InvalidInput` for bad options or a root that is not a folder; backend
/// errors when storing packs, the index or the snapshot (the run is then
/// lost; stored packs are garbage for a later prune).
pub fn backup(
    repo: &mut Repository,
    opts: &BackupOptions,
    cache: &dyn FileCache,
    progress: &mut dyn FnMut(&BackupProgress),
) -> Result<BackupSummary> {
    let sizes = ChunkSizes {
        min: opts.chunk_min,
        avg: opts.chunk_avg,
        max: opts.chunk_max,
    };
    sizes.validate()?;
    if opts.pack_size == 0 {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "pack size must be positive",
        ));
    }

    let mut state = BackupProgress {
        phase: BackupPhase::Scanning,
        files_done: 0,
        files_total: 0,
        bytes_done: 0,
        bytes_total: 0,
        current_file: None,
    };
    progress(&state);
    let mut skipped = Vec::new();
    let roots = scan_roots(&opts.roots, &mut state, &mut skipped, progress)?;

    state.phase = BackupPhase::Uploading;
    state.current_file = None;
    progress(&state);
    let mut uploader = Uploader {
        repo,
        sizes,
        pack_size: opts.pack_size,
        cache,
        progress: &mut *progress,
        state,
        skipped,
        writer: None,
        uploaded: Index::default(),
        uploaded_packs: Vec::new(),
        remember: Vec::new(),
        files_read: 0,
        files_unchanged: 0,
        bytes_read: 0,
        bytes_uploaded: 0,
        packs_uploaded: 0,
        snapshot_files: 0,
        snapshot_bytes: 0,
    };
    let mut snapshot_roots = Vec::new();
    for root in roots {
        let tree = uploader.store_dir(root.children)?;
        snapshot_roots.push(SnapshotRoot {
            path: root.path_string,
            tree,
        });
    }

    uploader.state.phase = BackupPhase::Finishing;
    uploader.state.current_file = None;
    (uploader.progress)(&uploader.state);
    uploader.flush_pack()?;
    let Uploader {
        mut state,
        skipped,
        uploaded_packs,
        remember,
        files_read,
        files_unchanged,
        bytes_read,
        bytes_uploaded,
        packs_uploaded,
        snapshot_files,
        snapshot_bytes,
        ..
    } = uploader;

    if !uploaded_packs.is_empty() {
        repo.save_index(uploaded_packs)?;
    }
    let snapshot = Snapshot {
        time: opts.time,
        device_name: opts.device_name.clone(),
        device_id: opts.device_id.clone(),
        roots: snapshot_roots,
        files: snapshot_files,
        bytes: snapshot_bytes,
    };
    let snapshot_id = repo.save_snapshot(&snapshot)?;
    for (path, fingerprint, content) in &remember {
        cache.remember(path, fingerprint, content);
    }

    state.phase = BackupPhase::Done;
    state.current_file = None;
    progress(&state);
    Ok(BackupSummary {
        snapshot_id,
        files_total: state.files_total,
        files_read,
        files_unchanged,
        bytes_total: state.bytes_total,
        bytes_read,
        bytes_uploaded,
        packs_uploaded,
        skipped,
    })
}

/// A folder or file found by the scan.
enum Entry {
    File {
        name: String,
        path: PathBuf,
        mode: u32,
    },
    Dir {
        name: String,
        mtime_ns: i64,
        mode: u32,
        children: Vec<Entry>,
    },
    Symlink {
        name: String,
        mtime_ns: i64,
        mode: u32,
        target: String,
    },
}

struct ScannedRoot {
    path_string: String,
    children: Vec<Entry>,
}

fn scan_roots(
    roots: &[PathBuf],
    state: &mut BackupProgress,
    skipped: &mut Vec<Skipped>,
    progress: &mut dyn FnMut(&BackupProgress),
) -> Result<Vec<ScannedRoot>> {
    let mut scanned = Vec::new();
    for root in roots {
        let path = std::path::absolute(root).map_err(|e| {
            Error::with_source(
                ErrorKind::InvalidInput,
                format!("root {}: {e}", root.display()),
                e,
            )
        })?;
        let path_string = path
            .to_str()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("root {} is not UTF-8", path.display()),
                )
            })?
            .to_owned();
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(Error::new(
                    ErrorKind::InvalidInput,
                    format!("root {path_string} is not a folder"),
                ));
            }
            Err(e) => {
                skipped.push(Skipped {
                    path,
                    reason: format!("cannot read folder: {e}"),
                });
                continue;
            }
        }
        let Some(children) = scan_dir(&path, state, skipped, progress) else {
            continue;
        };
        scanned.push(ScannedRoot {
            path_string,
            children,
        });
    }
    Ok(scanned)
}

/// Lists a folder recursively, sorted by name. `None` when it cannot be read.
fn scan_dir(
    dir: &Path,
    state: &mut BackupProgress,
    skipped: &mut Vec<Skipped>,
    progress: &mut dyn FnMut(&BackupProgress),
) -> Option<Vec<Entry>> {
    let read = match fs::read_dir(dir) {
        Ok(read) => read,
        Err(e) => {
            skipped.push(Skipped {
                path: dir.to_owned(),
                reason: format!("cannot read folder: {e}"),
            });
            return None;
        }
    };
    let mut entries = Vec::new();
    for item in read {
        let item = match item {
            Ok(item) => item,
            Err(e) => {
                skipped.push(Skipped {
                    path: dir.to_owned(),
                    reason: format!("cannot list folder: {e}"),
                });
                continue;
            }
        };
        let path = item.path();
        let skip = |skipped: &mut Vec<Skipped>, reason: String| {
            skipped.push(Skipped {
                path: path.clone(),
                reason,
            })
        };
        let Some(name) = item.file_name().to_str().map(str::to_owned) else {
            skip(skipped, "name is not valid UTF-8".into());
            continue;
        };
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) => {
                skip(skipped, format!("cannot read metadata: {e}"));
                continue;
            }
        };
        let file_type = meta.file_type();
        if file_type.is_symlink() {
            let target = match fs::read_link(&path) {
                Ok(target) => target,
                Err(e) => {
                    skip(skipped, format!("cannot read link: {e}"));
                    continue;
                }
            };
            let Some(target) = target.to_str().map(str::to_owned) else {
                skip(skipped, "link target is not valid UTF-8".into());
                continue;
            };
            entries.push(Entry::Symlink {
                name,
                mtime_ns: mtime_ns(&meta),
                mode: mode(&meta),
                target,
            });
        } else if file_type.is_dir() {
            if let Some(children) = scan_dir(&path, state, skipped, progress) {
                entries.push(Entry::Dir {
                    name,
                    mtime_ns: mtime_ns(&meta),
                    mode: mode(&meta),
                    children,
                });
            }
        } else if file_type.is_file() {
            state.files_total += 1;
            state.bytes_total += meta.len();
            state.current_file = Some(path.clone());
            progress(state);
            entries.push(Entry::File {
                name,
                path,
                mode: mode(&meta),
            });
        } else {
            skip(skipped, "not a regular file, folder or symlink".into());
        }
    }
    entries.sort_by(|a, b| a.name().cmp(b.name()));
    Some(entries)
}

impl Entry {
    fn name(&self) -> &str {
        match self {
            Entry::File { name, .. } | Entry::Dir { name, .. } | Entry::Symlink { name, .. } => {
                name
            }
        }
    }
}

fn mtime_ns(meta: &Metadata) -> i64 {
    match meta.modified() {
        Ok(t) => match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            Err(before) => -i64::try_from(before.duration().as_nanos()).unwrap_or(i64::MAX),
        },
        Err(_) => 0,
    }
}

#[cfg(unix)]
fn mode(meta: &Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode(meta: &Metadata) -> u32 {
    let base = if meta.is_dir() { 0o755 } else { 0o644 };
    if meta.permissions().readonly() {
        base & !0o222
    } else {
        base
    }
}

pub(crate) fn fingerprint(meta: &Metadata) -> FileFingerprint {
    #[cfg(unix)]
    let (ctime_ns, inode) = {
        use std::os::unix::fs::MetadataExt;
        (
            meta.ctime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.ctime_nsec()),
            meta.ino(),
        )
    };
    #[cfg(not(unix))]
    let (ctime_ns, inode) = (0, 0);
    FileFingerprint {
        size: meta.len(),
        mtime_ns: mtime_ns(meta),
        ctime_ns,
        inode,
    }
}

/// Turns scanned entries into stored blobs, trees and packs.
struct Uploader<'a> {
    repo: &'a Repository,
    sizes: ChunkSizes,
    pack_size: usize,
    cache: &'a dyn FileCache,
    progress: &'a mut dyn FnMut(&BackupProgress),
    state: BackupProgress,
    skipped: Vec<Skipped>,
    writer: Option<PackWriter>,
    /// Packs stored by this run; indexed only once the run's index is stored.
    uploaded: Index,
    uploaded_packs: Vec<IndexPack>,
    remember: Vec<(PathBuf, FileFingerprint, Vec<Id>)>,
    files_read: u64,
    files_unchanged: u64,
    bytes_read: u64,
    bytes_uploaded: u64,
    packs_uploaded: u64,
    snapshot_files: u64,
    snapshot_bytes: u64,
}

impl Uploader<'_> {
    fn is_stored(&self, blob_type: BlobType, id: &Id) -> bool {
        self.repo.has_blob(blob_type, id)
            || self.uploaded.contains(blob_type, id)
            || self.writer.as_ref().is_some_and(|w| w.contains(id))
    }

    /// Adds a blob to the current pack unless it is stored already.
    fn add_blob(&mut self, blob_type: BlobType, id: &Id, plaintext: &[u8]) -> Result<()> {
        if self.is_stored(blob_type, id) {
            return Ok(());
        }
        let keys = self.repo.keys();
        let writer = self.writer.get_or_insert_with(|| PackWriter::new(keys));
        writer.add(blob_type, id, plaintext);
        if writer.len() >= self.pack_size {
            self.flush_pack()?;
        }
        Ok(())
    }

    fn flush_pack(&mut self) -> Result<()> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        if writer.is_empty() {
            return Ok(());
        }
        let pack = writer.finish();
        self.repo
            .backend()
            .put(FileKind::Pack, &pack.id, &pack.bytes)?;
        let entry = IndexPack::from(&pack);
        self.uploaded.add_pack(&entry);
        self.uploaded_packs.push(entry);
        self.bytes_uploaded += pack.bytes.len() as u64;
        self.packs_uploaded += 1;
        Ok(())
    }

    fn skip(&mut self, path: &Path, reason: String) {
        self.skipped.push(Skipped {
            path: path.to_owned(),
            reason,
        });
    }

    /// Stores a folder's entries and returns its tree id.
    fn store_dir(&mut self, entries: Vec<Entry>) -> Result<Id> {
        let mut tree = Tree::default();
        for entry in entries {
            let node = match entry {
                Entry::File { name, path, mode } => {
                    let stored = self.store_file(&path)?;
                    self.state.files_done += 1;
                    let Some((size, mtime_ns, content)) = stored else {
                        continue;
                    };
                    self.snapshot_files += 1;
                    self.snapshot_bytes += size;
                    Node {
                        name,
                        kind: NodeKind::File,
                        size,
                        mtime_ns,
                        mode,
                        content,
                        subtree: None,
                        target: None,
                    }
                }
                Entry::Dir {
                    name,
                    mtime_ns,
                    mode,
                    children,
                } => {
                    let subtree = self.store_dir(children)?;
                    Node {
                        name,
                        kind: NodeKind::Dir,
                        size: 0,
                        mtime_ns,
                        mode,
                        content: Vec::new(),
                        subtree: Some(subtree),
                        target: None,
                    }
                }
                Entry::Symlink {
                    name,
                    mtime_ns,
                    mode,
                    target,
                } => Node {
                    name,
                    kind: NodeKind::Symlink,
                    size: 0,
                    mtime_ns,
                    mode,
                    content: Vec::new(),
                    subtree: None,
                    target: Some(target),
                },
            };
            tree.nodes.push(node);
        }
        let bytes = tree.to_bytes();
        let id = self.repo.keys().blob_id(&bytes);
        self.add_blob(BlobType::Tree, &id, &bytes)?;
        Ok(id)
    }

    /// Stores one file's contents, reading it only when the cache cannot vouch
    /// for it. `Ok(None)` when it was skipped.
    fn store_file(&mut self, path: &Path) -> Result<Option<(u64, i64, Vec<Id>)>> {
        self.state.current_file = Some(path.to_owned());
        (self.progress)(&self.state);

        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) => {
                self.skip(path, format!("cannot open: {e}"));
                return Ok(None);
            }
        };
        let before = match file.metadata() {
            Ok(meta) if meta.is_file() => fingerprint(&meta),
            Ok(_) => {
                self.skip(path, "no longer a regular file".into());
                return Ok(None);
            }
            Err(e) => {
                self.skip(path, format!("cannot read metadata: {e}"));
                return Ok(None);
            }
        };

        if let Some(content) = self.cache.lookup(path, &before) {
            if content.iter().all(|id| self.is_stored(BlobType::Data, id)) {
                self.files_unchanged += 1;
                self.state.bytes_done += before.size;
                return Ok(Some((before.size, before.mtime_ns, content)));
            }
        }

        let mut content = Vec::new();
        let mut size = 0u64;
        let seed = self.repo.keys().chunker_seed();
        for chunk in Chunker::new(&file, self.sizes, seed) {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    self.skip(path, format!("read failed: {e}"));
                    return Ok(None);
                }
            };
            let id = self.repo.keys().blob_id(&chunk);
            self.add_blob(BlobType::Data, &id, &chunk)?;
            content.push(id);
            size += chunk.len() as u64;
            self.bytes_read += chunk.len() as u64;
            self.state.bytes_done += chunk.len() as u64;
            (self.progress)(&self.state);
        }
        self.files_read += 1;
        // A file written to while we read it may be torn; store what we read
        // but let the next run read it again.
        let after = file.metadata().map(|m| fingerprint(&m)).ok();
        if after.as_ref() == Some(&before) && size == before.size {
            self.remember
                .push((path.to_owned(), before.clone(), content.clone()));
        }
        Ok(Some((size, before.mtime_ns, content)))
    }
}
