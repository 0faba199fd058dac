//! The backup pipeline: scan → chunk → dedup → pack → index → trees → snapshot.

mod pipeline;
mod read_ahead;

use std::collections::{HashSet, VecDeque};
use std::fs::{self, File, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::blob::BlobType;
use crate::chunker::{ChunkSizes, Chunker, Cutter};
use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;
use crate::index::IndexPack;
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

    /// Records a file's chunks, only for files that did not change while
    /// read. Called while the backup runs, before its snapshot is committed
    /// (holding every file until then cost memory in proportion to the
    /// files): a cache must not answer [`FileCache::lookup`] from these
    /// until the caller knows the snapshot committed, and must forget them
    /// if it did not (the agent's catalog keeps them pending until its
    /// `finish_run`).
    fn remember(&self, path: &Path, fingerprint: &FileFingerprint, content: &[Id]);

    /// Records many files at once, under the same rules as
    /// [`FileCache::remember`]; a cache that can write them together (one
    /// transaction) should.
    fn remember_all(&self, files: &[(PathBuf, FileFingerprint, Vec<Id>)]) {
        for (path, fingerprint, content) in files {
            self.remember(path, fingerprint, content);
        }
    }
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
    /// Largest pack in bytes: a pack is closed before a blob would take it
    /// past this (a single larger chunk gets a pack of its own).
    pub pack_size: usize,
    pub chunk_min: u32,
    pub chunk_avg: u32,
    pub chunk_max: u32,
    /// An index file is written after this many packs, so a backup that is
    /// interrupted loses at most this many packs' worth of index (and those
    /// packs are still adopted from their headers by the next run).
    pub index_every: usize,
    /// Threads that compress, encrypt and pack; 0 means one per core.
    pub pack_threads: usize,
    /// Packs uploaded at the same time.
    pub concurrent_uploads: usize,
    /// What to leave out (the person's exclusion rules); `None` keeps everything.
    pub exclude: Option<ExcludeFilter>,
}

/// Decides what a backup leaves out. Called with an entry's path relative to
/// its root folder, whether it is a folder, and its size; `true` leaves it
/// (and, for a folder, everything in it) out of the snapshot.
#[derive(Clone)]
pub struct ExcludeFilter(pub Arc<dyn Fn(&Path, bool, u64) -> bool + Send + Sync>);

impl std::fmt::Debug for ExcludeFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ExcludeFilter(..)")
    }
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
            index_every: 8,
            pack_threads: 0,
            concurrent_uploads: 2,
            exclude: None,
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
    /// Files skipped so far (unreadable, vanished, unusable names).
    pub skipped: u64,
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
    /// Blobs (data and trees) this run stored that the repository lacked.
    pub blobs_new: u64,
    /// Plaintext bytes of those blobs.
    pub blob_bytes_new: u64,
    /// Index files written (intermediate and final).
    pub indexes_uploaded: u64,
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
    let cutter = Cutter::new(sizes, repo.keys().chunker_seed());
    if opts.pack_size == 0 || opts.index_every == 0 || opts.concurrent_uploads == 0 {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "pack size, index_every and concurrent_uploads must be positive",
        ));
    }
    let threads = pipeline::Threads {
        pack_workers: match opts.pack_threads {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        },
        uploaders: opts.concurrent_uploads,
    };

    let mut state = BackupProgress {
        phase: BackupPhase::Scanning,
        files_done: 0,
        files_total: 0,
        bytes_done: 0,
        bytes_total: 0,
        current_file: None,
        skipped: 0,
    };
    progress(&state);
    let mut skipped = Vec::new();
    let roots = scan_roots(
        &opts.roots,
        opts.exclude.as_ref(),
        &mut state,
        &mut skipped,
        progress,
    )?;

    state.phase = BackupPhase::Uploading;
    state.current_file = None;
    state.skipped = skipped.len() as u64;
    progress(&state);
    let failure = pipeline::Failure::default();
    let keys = repo.keys().clone();
    let backend = repo.backend().clone();
    let (snapshot_roots, uploader) = std::thread::scope(|scope| -> Result<_> {
        // A pack is closed before it would pass `pack_size`, unless it is a
        // single chunk larger than that.
        let pack_capacity = opts.pack_size.max(crate::pack::finished_size(
            crate::pack::PREFIX_LEN + crate::pack::sealed_bound(opts.chunk_max as usize),
            1,
        ));
        let pipeline = pipeline::Pipeline::start(
            scope,
            &keys,
            backend,
            opts.pack_size,
            pack_capacity,
            threads,
            &failure,
        );
        let mut uploader = Uploader {
            repo: &mut *repo,
            readers: read_ahead::Readers::start(scope),
            walk: FileWalk::new(&roots),
            ahead: VecDeque::new(),
            ahead_bytes: 0,
            pipeline: Some(pipeline),
            cutter: &cutter,
            index_every: opts.index_every,
            cache,
            progress: &mut *progress,
            state,
            skipped,
            sent: HashSet::new(),
            stored_packs: Vec::new(),
            used_packs: HashSet::new(),
            remember: Vec::new(),
            files_read: 0,
            files_unchanged: 0,
            bytes_read: 0,
            bytes_uploaded: 0,
            packs_uploaded: 0,
            blobs_new: 0,
            blob_bytes_new: 0,
            indexes_uploaded: 0,
            snapshot_files: 0,
            snapshot_bytes: 0,
        };
        let mut snapshot_roots = Vec::new();
        for root in &roots {
            let tree = uploader.store_dir(&root.path, &root.children)?;
            snapshot_roots.push(SnapshotRoot {
                path: root.path_string.clone(),
                tree,
            });
        }
        uploader.state.phase = BackupPhase::Finishing;
        uploader.state.current_file = None;
        (uploader.progress)(&uploader.state);
        let pipeline = uploader.pipeline.take().expect("pipeline is open");
        for pack in pipeline.finish()? {
            uploader.record(pack);
            if uploader.stored_packs.len() >= uploader.index_every {
                uploader.save_index()?;
            }
        }
        // Adopted packs this run relied on must be named by an index before
        // the snapshot that references their blobs is committed.
        uploader.save_index()?;
        crate::prune::check_packs_before_commit(uploader.repo, &uploader.used_packs)?;
        Ok((snapshot_roots, uploader.into_counts()))
    })?;
    let Counts {
        mut state,
        skipped,
        remember,
        files_read,
        files_unchanged,
        bytes_read,
        bytes_uploaded,
        packs_uploaded,
        blobs_new,
        blob_bytes_new,
        indexes_uploaded,
        snapshot_files,
        snapshot_bytes,
    } = uploader;

    let snapshot = Snapshot {
        time: opts.time,
        device_name: opts.device_name.clone(),
        device_id: opts.device_id.clone(),
        roots: snapshot_roots,
        files: snapshot_files,
        bytes: snapshot_bytes,
        repaired_from: None,
    };
    let snapshot_id = repo.save_snapshot(&snapshot)?;
    cache.remember_all(&remember);
    drop(remember);

    state.phase = BackupPhase::Done;
    state.current_file = None;
    state.skipped = skipped.len() as u64;
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
        blobs_new,
        blob_bytes_new,
        indexes_uploaded,
        skipped,
    })
}

/// A folder or file found by the scan. Paths are not kept (a backup of
/// many small files holds every entry until the end): the folder's path
/// plus the name gives them.
enum Entry {
    File {
        name: String,
        mode: u32,
        /// What the scan saw: enough for the cache to vouch for the file
        /// without opening it.
        seen: FileFingerprint,
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
    path: PathBuf,
    path_string: String,
    children: Vec<Entry>,
}

/// The scanned files' paths in the order [`Uploader::store_dir`] stores
/// them, so they can be opened and read ahead of it.
struct FileWalk<'r> {
    roots: std::slice::Iter<'r, ScannedRoot>,
    folders: Vec<(PathBuf, std::slice::Iter<'r, Entry>)>,
}

impl<'r> FileWalk<'r> {
    fn new(roots: &'r [ScannedRoot]) -> FileWalk<'r> {
        FileWalk {
            roots: roots.iter(),
            folders: Vec::new(),
        }
    }
}

impl Iterator for FileWalk<'_> {
    type Item = (PathBuf, FileFingerprint);

    fn next(&mut self) -> Option<(PathBuf, FileFingerprint)> {
        loop {
            let Some((dir, entries)) = self.folders.last_mut() else {
                let root = self.roots.next()?;
                self.folders.push((root.path.clone(), root.children.iter()));
                continue;
            };
            match entries.next() {
                Some(Entry::File { name, seen, .. }) => {
                    return Some((dir.join(name), seen.clone()))
                }
                Some(Entry::Dir { name, children, .. }) => {
                    let path = dir.join(name);
                    self.folders.push((path, children.iter()));
                }
                Some(Entry::Symlink { .. }) => {}
                None => {
                    self.folders.pop();
                }
            }
        }
    }
}

/// A file opened ahead of being stored.
struct AheadFile {
    path: PathBuf,
    opened: Opened,
}

enum Opened {
    /// Skipped, for this reason.
    Failed(String),
    /// The cache knows its chunks; read only if one of them is missing.
    Cached {
        before: FileFingerprint,
        content: Vec<Id>,
    },
    /// A small file a reader thread is reading.
    Reading {
        before: FileFingerprint,
        slot: crossbeam_channel::Receiver<read_ahead::ReadResult>,
    },
    /// A large file, streamed when it is stored.
    Streamed { file: File, before: FileFingerprint },
}

fn scan_roots(
    roots: &[PathBuf],
    exclude: Option<&ExcludeFilter>,
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
        let walk = Walk {
            root: &path,
            exclude,
        };
        let Some(children) = scan_dir(&walk, &path, state, skipped, progress) else {
            continue;
        };
        scanned.push(ScannedRoot {
            path,
            path_string,
            children,
        });
    }
    Ok(scanned)
}

/// The root folder a scan is under, and what it leaves out.
struct Walk<'a> {
    root: &'a Path,
    exclude: Option<&'a ExcludeFilter>,
}

impl Walk<'_> {
    fn excluded(&self, path: &Path, meta: &fs::Metadata) -> bool {
        let Some(ExcludeFilter(exclude)) = self.exclude else {
            return false;
        };
        let relative = path.strip_prefix(self.root).unwrap_or(path);
        exclude(relative, meta.is_dir(), meta.len())
    }
}

/// Lists a folder recursively, sorted by name. `None` when it cannot be read.
fn scan_dir(
    walk: &Walk<'_>,
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
        // Relative to the open folder (`fstatat`), not a walk of the whole path.
        let meta = match item.metadata() {
            Ok(meta) => meta,
            Err(e) => {
                skip(skipped, format!("cannot read metadata: {e}"));
                continue;
            }
        };
        if walk.excluded(&path, &meta) {
            continue;
        }
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
            if let Some(children) = scan_dir(walk, &path, state, skipped, progress) {
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
            state.skipped = skipped.len() as u64;
            progress(state);
            entries.push(Entry::File {
                name,
                mode: mode(&meta),
                seen: fingerprint(&meta),
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

/// Files handed to [`FileCache::remember_all`] at a time.
const REMEMBER_BATCH: usize = 2048;

/// What an [`Uploader`] leaves behind.
struct Counts {
    state: BackupProgress,
    skipped: Vec<Skipped>,
    remember: Vec<(PathBuf, FileFingerprint, Vec<Id>)>,
    files_read: u64,
    files_unchanged: u64,
    bytes_read: u64,
    bytes_uploaded: u64,
    packs_uploaded: u64,
    blobs_new: u64,
    blob_bytes_new: u64,
    indexes_uploaded: u64,
    snapshot_files: u64,
    snapshot_bytes: u64,
}

/// Turns scanned entries into stored blobs, trees and packs: chunks and
/// hashes on the calling thread (small files are read ahead by reader
/// threads, large ones here) and hands new blobs to the pipeline.
struct Uploader<'a, 'p> {
    repo: &'a mut Repository,
    readers: read_ahead::Readers,
    walk: FileWalk<'a>,
    /// The next files in walk order, opened and (small ones) being read.
    ahead: VecDeque<AheadFile>,
    /// Size of the files in `ahead` that readers were handed.
    ahead_bytes: u64,
    pipeline: Option<pipeline::Pipeline<'p>>,
    cutter: &'a Cutter,
    index_every: usize,
    cache: &'a dyn FileCache,
    progress: &'a mut dyn FnMut(&BackupProgress),
    state: BackupProgress,
    skipped: Vec<Skipped>,
    /// Blobs this run handed to the pipeline (stored or on their way).
    sent: HashSet<(BlobType, Id)>,
    /// Packs stored by this run that no index file names yet.
    stored_packs: Vec<IndexPack>,
    /// Packs this run's snapshot will depend on: its own and those it
    /// deduplicated against (checked against prune before the commit).
    used_packs: HashSet<Id>,
    remember: Vec<(PathBuf, FileFingerprint, Vec<Id>)>,
    files_read: u64,
    files_unchanged: u64,
    bytes_read: u64,
    bytes_uploaded: u64,
    packs_uploaded: u64,
    blobs_new: u64,
    blob_bytes_new: u64,
    indexes_uploaded: u64,
    snapshot_files: u64,
    snapshot_bytes: u64,
}

impl Uploader<'_, '_> {
    fn into_counts(self) -> Counts {
        Counts {
            state: self.state,
            skipped: self.skipped,
            remember: self.remember,
            files_read: self.files_read,
            files_unchanged: self.files_unchanged,
            bytes_read: self.bytes_read,
            bytes_uploaded: self.bytes_uploaded,
            packs_uploaded: self.packs_uploaded,
            blobs_new: self.blobs_new,
            blob_bytes_new: self.blob_bytes_new,
            indexes_uploaded: self.indexes_uploaded,
            snapshot_files: self.snapshot_files,
            snapshot_bytes: self.snapshot_bytes,
        }
    }

    fn is_stored(&mut self, blob_type: BlobType, id: &Id) -> Result<bool> {
        if self.sent.contains(&(blob_type, *id)) {
            return Ok(true);
        }
        match self.repo.dedup_location(blob_type, id)? {
            Some(loc) => {
                self.used_packs.insert(loc.pack);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Hands a blob to the pipeline unless it is stored already, and
    /// indexes the packs stored meanwhile.
    fn add_blob(&mut self, blob_type: BlobType, id: &Id, plaintext: Vec<u8>) -> Result<()> {
        if self.is_stored(blob_type, id)? {
            return Ok(());
        }
        self.sent.insert((blob_type, *id));
        self.blobs_new += 1;
        self.blob_bytes_new += plaintext.len() as u64;
        let pipeline = self.pipeline.as_mut().expect("pipeline is open");
        pipeline.send(pipeline::BlobJob {
            blob_type,
            id: *id,
            plaintext,
        })?;
        for pack in pipeline.stored() {
            self.record(pack);
        }
        if self.stored_packs.len() >= self.index_every {
            self.save_index()?;
        }
        Ok(())
    }

    fn record(&mut self, pack: pipeline::StoredPack) {
        self.used_packs.insert(pack.index.id);
        self.bytes_uploaded += pack.bytes;
        self.packs_uploaded += 1;
        self.stored_packs.push(pack.index);
    }

    /// Writes an index naming the packs stored since the last one (and any
    /// adopted packs), if there are any.
    fn save_index(&mut self) -> Result<()> {
        let mut packs = std::mem::take(&mut self.stored_packs);
        packs.extend(self.repo.take_adopted());
        if packs.is_empty() {
            return Ok(());
        }
        // Once indexed, the repository's index answers for these blobs, so
        // `sent` only ever holds blobs of packs not yet indexed.
        for pack in &packs {
            for blob in &pack.blobs {
                self.sent.remove(&(blob.blob_type, blob.id));
            }
        }
        self.repo.save_index(packs)?;
        self.indexes_uploaded += 1;
        Ok(())
    }

    fn skip(&mut self, path: &Path, reason: String) {
        self.skipped.push(Skipped {
            path: path.to_owned(),
            reason,
        });
        self.state.skipped = self.skipped.len() as u64;
    }

    /// Stores a folder's entries and returns its tree id.
    fn store_dir(&mut self, dir: &Path, entries: &[Entry]) -> Result<Id> {
        let mut tree = Tree::default();
        for entry in entries {
            let node = match entry {
                Entry::File { name, mode, .. } => {
                    let stored = self.store_file(&dir.join(name))?;
                    self.state.files_done += 1;
                    let Some((size, mtime_ns, content)) = stored else {
                        continue;
                    };
                    self.snapshot_files += 1;
                    self.snapshot_bytes += size;
                    Node {
                        name: name.clone(),
                        kind: NodeKind::File,
                        size,
                        mtime_ns,
                        mode: *mode,
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
                    let subtree = self.store_dir(&dir.join(name), children)?;
                    Node {
                        name: name.clone(),
                        kind: NodeKind::Dir,
                        size: 0,
                        mtime_ns: *mtime_ns,
                        mode: *mode,
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
                    name: name.clone(),
                    kind: NodeKind::Symlink,
                    size: 0,
                    mtime_ns: *mtime_ns,
                    mode: *mode,
                    content: Vec::new(),
                    subtree: None,
                    target: Some(target.clone()),
                },
            };
            tree.nodes.push(node);
        }
        let bytes = tree.to_bytes();
        let id = self.repo.keys().blob_id(&bytes);
        self.add_blob(BlobType::Tree, &id, bytes)?;
        Ok(id)
    }

    /// Opens the next files in walk order, up to the read-ahead limits, and
    /// hands the small ones the cache cannot vouch for to the readers.
    fn open_ahead(&mut self) {
        while self.ahead.len() < read_ahead::AHEAD_FILES
            && self.ahead_bytes < read_ahead::AHEAD_BYTES
        {
            let Some((path, seen)) = self.walk.next() else {
                break;
            };
            let opened = self.open(&path, &seen);
            self.ahead.push_back(AheadFile { path, opened });
        }
    }

    /// A file the cache vouches for as the scan saw it is not even opened
    /// (a run with nothing changed opens no file); any other is opened and
    /// fingerprinted through its handle, so what is read is what was checked.
    fn open(&mut self, path: &Path, seen: &FileFingerprint) -> Opened {
        if let Some(content) = self.cache.lookup(path, seen) {
            return Opened::Cached {
                before: seen.clone(),
                content,
            };
        }
        self.open_uncached(path)
    }

    fn open_uncached(&mut self, path: &Path) -> Opened {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) => return Opened::Failed(format!("cannot open: {e}")),
        };
        let before = match file.metadata() {
            Ok(meta) if meta.is_file() => fingerprint(&meta),
            Ok(_) => return Opened::Failed("no longer a regular file".into()),
            Err(e) => return Opened::Failed(format!("cannot read metadata: {e}")),
        };
        if before.size < read_ahead::SMALL_FILE {
            self.ahead_bytes += before.size;
            let slot = self.readers.read(file, before.size);
            return Opened::Reading { before, slot };
        }
        Opened::Streamed { file, before }
    }

    /// Stores one file's contents, reading it only when the cache cannot vouch
    /// for it. `Ok(None)` when it was skipped.
    fn store_file(&mut self, path: &Path) -> Result<Option<(u64, i64, Vec<Id>)>> {
        self.state.current_file = Some(path.to_owned());
        (self.progress)(&self.state);

        self.open_ahead();
        let ahead = self.ahead.pop_front().expect("the walk has this file");
        debug_assert_eq!(ahead.path, path, "read ahead in walk order");
        match ahead.opened {
            Opened::Failed(reason) => {
                self.skip(path, reason);
                Ok(None)
            }
            Opened::Cached { before, content } => {
                let mut all_stored = true;
                for id in &content {
                    if !self.is_stored(BlobType::Data, id)? {
                        all_stored = false;
                        break;
                    }
                }
                if all_stored {
                    self.files_unchanged += 1;
                    self.state.bytes_done += before.size;
                    return Ok(Some((before.size, before.mtime_ns, content)));
                }
                // A chunk went missing (pruned, damaged): read it again.
                match self.open_uncached(path) {
                    Opened::Failed(reason) => {
                        self.skip(path, reason);
                        Ok(None)
                    }
                    Opened::Streamed { file, before } => {
                        self.store_contents(path, &file, &file, before)
                    }
                    Opened::Reading { before, slot } => self.store_read_ahead(path, before, slot),
                    Opened::Cached { .. } => unreachable!("opened without the cache"),
                }
            }
            Opened::Streamed { file, before } => self.store_contents(path, &file, &file, before),
            Opened::Reading { before, slot } => self.store_read_ahead(path, before, slot),
        }
    }

    /// Stores a small file once its reader has read it.
    fn store_read_ahead(
        &mut self,
        path: &Path,
        before: FileFingerprint,
        slot: crossbeam_channel::Receiver<read_ahead::ReadResult>,
    ) -> Result<Option<(u64, i64, Vec<Id>)>> {
        self.ahead_bytes -= before.size;
        match slot.recv() {
            Ok(Ok((bytes, file))) => {
                self.store_contents(path, bytes.as_slice().chain(&file), &file, before)
            }
            Ok(Err(e)) => {
                self.skip(path, format!("read failed: {e}"));
                Ok(None)
            }
            Err(_) => {
                self.skip(path, "read failed: the reader stopped".into());
                Ok(None)
            }
        }
    }

    /// Chunks a file's contents from `source` (the open `file`, or what a
    /// reader read of it followed by the file) and hands new chunks on.
    fn store_contents(
        &mut self,
        path: &Path,
        source: impl Read,
        file: &File,
        before: FileFingerprint,
    ) -> Result<Option<(u64, i64, Vec<Id>)>> {
        let mut content = Vec::new();
        let mut size = 0u64;
        for chunk in Chunker::new(source, self.cutter, before.size) {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    self.skip(path, format!("read failed: {e}"));
                    return Ok(None);
                }
            };
            let id = self.repo.keys().blob_id(&chunk);
            let len = chunk.len() as u64;
            self.add_blob(BlobType::Data, &id, chunk)?;
            content.push(id);
            size += len;
            self.bytes_read += len;
            self.state.bytes_done += len;
            (self.progress)(&self.state);
        }
        self.files_read += 1;
        // A file written to while we read it may be torn; store what we read
        // but let the next run read it again.
        let after = file.metadata().map(|m| fingerprint(&m)).ok();
        if after.as_ref() == Some(&before) && size == before.size {
            self.remember
                .push((path.to_owned(), before.clone(), content.clone()));
            if self.remember.len() >= REMEMBER_BATCH {
                self.cache.remember_all(&self.remember);
                self.remember.clear();
            }
        }
        Ok(Some((size, before.mtime_ns, content)))
    }
}
