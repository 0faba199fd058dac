//! The restore pipeline: plan every path (checking every name), create the
//! folders, then fetch each pack's needed spans once, as streams read blob
//! by blob, on several threads that create each file as its first blob
//! arrives, write the blobs into place and finish the file (mode, time)
//! with the same handle when its last one lands.

mod target;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, OnceLock};

use crate::backend::FileKind;
use crate::backup::Skipped;
use crate::blob::BlobType;
use crate::crypto::SALT_LEN;
use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;
use crate::pack::{self, PackEntry};
use crate::repository::Repository;
use crate::tree::{validate_name, Node, NodeKind};

use target::Target;

/// Blobs of one pack closer than this are fetched with one range read.
const MAX_GAP: u64 = 256 << 10;
/// Largest single range read.
const MAX_SPAN: u64 = 16 << 20;

/// What to restore and where.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Folder to restore into; created if missing. Each snapshot root
    /// `/a/b/Docs` restores into `<target>/Docs`.
    pub target: PathBuf,
    /// Original absolute paths to restore (a root, or a folder or file inside
    /// one); empty restores everything.
    pub include: Vec<String>,
    /// What to do where a file or link already exists at a restored path.
    pub on_conflict: OnConflict,
}

/// What a restore does with something already at a path it restores.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnConflict {
    /// Replace it (never writing through a link).
    #[default]
    Overwrite,
    /// Leave it as it is; the restored entry is reported as skipped.
    Skip,
    /// Restore next to it as `name (restored).ext`, `name (restored 2).ext`, …
    KeepBoth,
}

/// Reported once per file, and as blobs are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreProgress {
    pub files_done: u64,
    pub files_total: u64,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub current_file: Option<PathBuf>,
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreSummary {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub bytes: u64,
    /// Entries not restored (damaged data, unsafe names, local errors).
    pub skipped: Vec<Skipped>,
    /// Entries restored whose mode or modification time could not be set.
    pub warnings: Vec<Skipped>,
}

/// Restores (part of) a snapshot into `opts.target`.
///
/// Every name is checked before anything is written; entries with unsafe
/// names (empty, `.`, `..`, `/`, `\`, NUL, absolute or drive paths) are
/// skipped. Nothing below the target is ever followed as a link: an existing
/// file or link at a destination is replaced, a link where a folder should
/// be is replaced by a folder, and a link planted during the restore makes
/// that entry fail. Existing folders are merged into. A file whose data fails
/// authentication or is missing is skipped with a reason starting with
/// `damaged:`, a file that cannot be written is skipped with the local
/// error, and the rest goes on.
///
/// # Errors
/// `NotFound` when the snapshot does not exist or an include names nothing in
/// it; `InvalidInput` for an include outside every root; `Io` when the target
/// folder cannot be created; backend errors other than damage (network,
/// storage) stop the restore.
pub fn restore(
    repo: &Repository,
    snapshot: &Id,
    opts: &RestoreOptions,
    progress: &mut dyn FnMut(&RestoreProgress),
) -> Result<RestoreSummary> {
    let snapshot = repo.snapshot(snapshot)?;
    let mut planner = Planner {
        repo,
        target: &opts.target,
        dirs: Vec::new(),
        files: Vec::new(),
        links: Vec::new(),
        skipped: Vec::new(),
        matched: HashSet::new(),
    };

    let includes = opts
        .include
        .iter()
        .map(|i| i.trim_end_matches('/'))
        .collect::<Vec<_>>();
    let mut used_names = HashSet::new();
    for root in &snapshot.roots {
        let name = unique_root_name(&root.path, &mut used_names);
        // Which includes fall in this root, as paths relative to it.
        let selectors: Vec<(usize, Vec<String>)> = if includes.is_empty() {
            vec![(usize::MAX, Vec::new())]
        } else {
            includes
                .iter()
                .enumerate()
                .filter_map(|(i, include)| relative_components(&root.path, include).map(|c| (i, c)))
                .collect()
        };
        if selectors.is_empty() {
            continue;
        }
        let rel = PathBuf::from(&name);
        planner.dirs.push((rel.clone(), None));
        if let Some((i, _)) = selectors.iter().find(|(_, c)| c.is_empty()) {
            planner.matched.insert(*i);
        }
        let refs = selectors
            .iter()
            .map(|(i, c)| (*i, c.as_slice()))
            .collect::<Vec<_>>();
        planner.plan_dir(&root.tree, &rel, &refs)?;
    }
    for (i, include) in opts.include.iter().enumerate() {
        if !planner.matched.contains(&i) {
            return Err(Error::new(
                ErrorKind::NotFound,
                format!("{include} is not in this snapshot"),
            ));
        }
    }

    let Planner {
        dirs,
        files,
        links,
        skipped,
        ..
    } = planner;
    let target = Target::open(&opts.target)
        .map_err(|e| Error::io(format!("creating {}", opts.target.display()), e))?;
    let mut skipped = skipped;
    let (files, links) = resolve_conflicts(&target, files, links, opts.on_conflict, &mut skipped);
    let mut run = Run {
        repo,
        target: &target,
        progress,
        state: RestoreProgress {
            files_done: 0,
            files_total: files.len() as u64,
            bytes_done: 0,
            bytes_total: files.iter().map(|f| f.node.size).sum(),
            current_file: None,
        },
        summary: RestoreSummary {
            files: 0,
            dirs: 0,
            symlinks: 0,
            bytes: 0,
            skipped,
            warnings: Vec::new(),
        },
    };
    (run.progress)(&run.state);

    let mut dir_ok = HashSet::new();
    for (rel, _) in &dirs {
        match target.make_dir(rel) {
            Ok(()) => {
                run.summary.dirs += 1;
                dir_ok.insert(rel.clone());
            }
            Err(reason) => run.skip(rel, reason),
        }
    }
    run.write_files(&files)?;
    // Links last, so no file is written below a link this restore made.
    for (rel, link_target, mtime_ns) in &links {
        match target.symlink(rel, link_target, *mtime_ns) {
            Ok(()) => run.summary.symlinks += 1,
            Err(reason) if reason.starts_with("link restored") => {
                run.summary.symlinks += 1;
                run.warn(rel, reason);
            }
            Err(reason) => run.skip(rel, reason),
        }
    }
    // Folder times and modes last, deepest first: writing into a folder
    // changes its mtime, and a read-only folder could not be filled.
    for (rel, meta) in dirs.iter().rev() {
        if let (Some(meta), true) = (meta, dir_ok.contains(rel)) {
            if let Err(e) = target.set_dir_metadata(rel, meta.mode, meta.mtime_ns) {
                run.warn(rel, format!("folder restored, but not its mode or time: {e}"));
            }
        }
    }
    run.state.current_file = None;
    (run.progress)(&run.state);
    Ok(run.summary)
}

/// `Docs`, then `Docs (2)`, `Docs (3)`… for roots with the same base name.
fn unique_root_name(root_path: &str, used: &mut HashSet<String>) -> String {
    let base = Path::new(root_path)
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| validate_name(n).is_ok())
        .unwrap_or("root")
        .to_owned();
    let mut name = base.clone();
    let mut n = 2;
    while !used.insert(name.clone()) {
        name = format!("{base} ({n})");
        n += 1;
    }
    name
}

/// `include` relative to `root` as path components, or `None` when outside it.
fn relative_components(root: &str, include: &str) -> Option<Vec<String>> {
    let rest = Path::new(include).strip_prefix(Path::new(root)).ok()?;
    rest.components()
        .map(|c| match c {
            std::path::Component::Normal(s) => s.to_str().map(str::to_owned),
            _ => None,
        })
        .collect()
}

struct DirMeta {
    mode: u32,
    mtime_ns: i64,
}

struct FilePlan {
    rel: PathBuf,
    node: Node,
}

/// Applies the conflict policy to files and links whose path is taken.
fn resolve_conflicts(
    target: &Target,
    files: Vec<FilePlan>,
    links: Vec<(PathBuf, String, i64)>,
    policy: OnConflict,
    skipped: &mut Vec<Skipped>,
) -> (Vec<FilePlan>, Vec<(PathBuf, String, i64)>) {
    if policy == OnConflict::Overwrite {
        return (files, links);
    }
    // Names handed out in this run count as taken too.
    let mut claimed: HashSet<PathBuf> = HashSet::new();
    let mut place = |rel: PathBuf, skipped: &mut Vec<Skipped>| -> Option<PathBuf> {
        if !target.exists(&rel) {
            claimed.insert(rel.clone());
            return Some(rel);
        }
        match policy {
            OnConflict::Skip => {
                skipped.push(Skipped { path: target.display_path(&rel), reason: "already there; kept as it is".into() });
                None
            }
            _ => {
                let free = (1..).map(|n| restored_name(&rel, n)).find(|c| !claimed.contains(c) && !target.exists(c))?;
                claimed.insert(free.clone());
                Some(free)
            }
        }
    };
    let files = files.into_iter().filter_map(|f| place(f.rel, skipped).map(|rel| FilePlan { rel, node: f.node })).collect();
    let links = links.into_iter().filter_map(|(rel, t, m)| place(rel, skipped).map(|rel| (rel, t, m))).collect();
    (files, links)
}

/// `a/report.txt` → `a/report (restored).txt`, then `a/report (restored 2).txt`, …
fn restored_name(rel: &Path, n: u32) -> PathBuf {
    let name = rel.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (stem, ext) = match name.rfind('.') {
        Some(dot) if dot > 0 => (&name[..dot], &name[dot..]),
        _ => (name.as_str(), ""),
    };
    let suffix = if n == 1 { " (restored)".to_owned() } else { format!(" (restored {n})") };
    rel.with_file_name(format!("{stem}{suffix}{ext}"))
}

struct Planner<'a> {
    repo: &'a Repository,
    target: &'a Path,
    /// Relative paths, parents before children.
    dirs: Vec<(PathBuf, Option<DirMeta>)>,
    files: Vec<FilePlan>,
    links: Vec<(PathBuf, String, i64)>,
    skipped: Vec<Skipped>,
    /// Indexes of includes that named something.
    matched: HashSet<usize>,
}

/// Whether a restore should stop on this error rather than skip the entry.
/// `InvalidInput` from a range read means the pack is shorter than the index
/// says: damage.
fn is_fatal(err: &Error) -> bool {
    !matches!(
        err.kind(),
        ErrorKind::Integrity | ErrorKind::NotFound | ErrorKind::InvalidInput
    )
}

impl Planner<'_> {
    fn skip(&mut self, rel: &Path, reason: String) {
        self.skipped.push(Skipped {
            path: self.target.join(rel),
            reason,
        });
    }

    /// Plans the entries of tree `tree` (restored into `rel`) that the
    /// selectors pick. A selector with no components picks everything.
    fn plan_dir(&mut self, tree: &Id, rel: &Path, selectors: &[(usize, &[String])]) -> Result<()> {
        let tree = match self.repo.tree(tree) {
            Ok(tree) => tree,
            Err(e) if !is_fatal(&e) => {
                self.skip(rel, format!("folder listing damaged: {e}"));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let everything = selectors.iter().any(|(_, c)| c.is_empty());
        let mut seen = HashSet::new();
        for node in tree.nodes {
            let child: Vec<(usize, &[String])> = if everything {
                vec![(usize::MAX, &[][..])]
            } else {
                selectors
                    .iter()
                    .filter(|(_, c)| c[0] == node.name)
                    .map(|(i, c)| (*i, &c[1..]))
                    .collect()
            };
            if child.is_empty() {
                continue;
            }
            if let Err(e) = validate_name(&node.name) {
                self.skip(&rel.join("<unsafe name>"), e.to_string());
                continue;
            }
            let path = rel.join(&node.name);
            if !seen.insert(node.name.clone()) {
                self.skip(&path, "duplicate name in folder listing".into());
                continue;
            }
            let whole = child.iter().any(|(_, c)| c.is_empty());
            if node.kind != NodeKind::Dir && !whole {
                // An include that goes below a file or link names nothing.
                continue;
            }
            for (i, c) in &child {
                if c.is_empty() {
                    self.matched.insert(*i);
                }
            }
            match node.kind {
                NodeKind::Dir => {
                    let Some(subtree) = node.subtree else {
                        self.skip(&path, "folder without a listing".into());
                        continue;
                    };
                    let meta = DirMeta {
                        mode: node.mode,
                        mtime_ns: node.mtime_ns,
                    };
                    self.dirs.push((path.clone(), Some(meta)));
                    self.plan_dir(&subtree, &path, &child)?;
                }
                NodeKind::File => self.files.push(FilePlan { rel: path, node }),
                NodeKind::Symlink => match node.target {
                    Some(target) => self.links.push((path, target, node.mtime_ns)),
                    None => self.skip(&path, "symlink without a target".into()),
                },
            }
        }
        Ok(())
    }
}

/// Where one blob goes: file number and byte offset in it.
#[derive(Debug, Clone, Copy)]
struct Use {
    file: usize,
    offset: u64,
}

/// Everything to fetch from one pack, blobs sorted by offset.
struct PackJob {
    pack: Id,
    salt: [u8; SALT_LEN],
    blobs: Vec<(PackEntry, Vec<Use>)>,
}

/// A planned file as the restore threads see it: created by whichever
/// thread first has data for it, finished by the one that writes its last
/// blob.
struct FileSlot {
    /// Set once the file was created (or could not be).
    created: OnceLock<std::result::Result<(), String>>,
    /// Blobs not yet written.
    remaining: AtomicUsize,
}

enum Event {
    /// `finished` is set when this was the file's last blob: whether its
    /// mode and time could be set.
    Written {
        file: usize,
        bytes: u64,
        finished: Option<std::result::Result<(), String>>,
    },
    Failed { file: usize, reason: String },
}

struct Run<'a> {
    repo: &'a Repository,
    target: &'a Target,
    progress: &'a mut dyn FnMut(&RestoreProgress),
    state: RestoreProgress,
    summary: RestoreSummary,
}

impl Run<'_> {
    fn skip(&mut self, rel: &Path, reason: String) {
        self.summary.skipped.push(Skipped {
            path: self.target.display_path(rel),
            reason,
        });
    }

    fn warn(&mut self, rel: &Path, reason: String) {
        self.summary.warnings.push(Skipped {
            path: self.target.display_path(rel),
            reason,
        });
    }

    /// Fetches the blobs pack by pack on worker threads, which create each
    /// file as its first blob arrives and finish it (mode, time) with the
    /// same handle as its last one lands. Empty files are made here.
    fn write_files(&mut self, files: &[FilePlan]) -> Result<()> {
        let slots: Vec<FileSlot> = files
            .iter()
            .map(|f| FileSlot {
                created: OnceLock::new(),
                remaining: AtomicUsize::new(f.node.content.len()),
            })
            .collect();
        let mut failed: Vec<Option<String>> = vec![None; files.len()];
        let mut jobs: HashMap<Id, PackJob> = HashMap::new();
        let mut places: HashMap<(Id, Id), usize> = HashMap::new();

        for (i, file) in files.iter().enumerate() {
            let mut offset = 0u64;
            let mut locations = Vec::with_capacity(file.node.content.len());
            for id in &file.node.content {
                match self.repo.blob_location(BlobType::Data, id)? {
                    Some(loc) => locations.push(loc),
                    None => {
                        failed[i] = Some(format!("damaged: no index names data blob {id}"));
                        break;
                    }
                }
            }
            if failed[i].is_some() {
                continue;
            }
            if locations.is_empty() {
                // No thread will see it: made and finished here, never removed.
                let finished = self
                    .target
                    .create_file(&file.rel)
                    .map(|f| set_metadata(&f, &file.node));
                match finished {
                    Ok(meta) => self.finish_file(file, meta),
                    Err(reason) => failed[i] = Some(reason),
                }
                continue;
            }
            for loc in locations {
                let job = jobs.entry(loc.pack).or_insert_with(|| PackJob {
                    pack: loc.pack,
                    salt: loc.salt,
                    blobs: Vec::new(),
                });
                let place = *places.entry((loc.pack, loc.entry.id)).or_insert_with(|| {
                    job.blobs.push((loc.entry, Vec::new()));
                    job.blobs.len() - 1
                });
                job.blobs[place].1.push(Use { file: i, offset });
                offset += loc.entry.raw_length;
            }
        }
        drop(places);
        let mut jobs: Vec<PackJob> = jobs.into_values().collect();
        for job in &mut jobs {
            job.blobs.sort_by_key(|(e, _)| e.offset);
        }
        // Largest packs first keeps the threads evenly busy at the end.
        jobs.sort_by_key(|j| std::cmp::Reverse(j.blobs.len()));

        // Twice the cores: while one thread waits for its pack, another
        // decrypts and writes. Each holds about one blob at a time.
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| 2 * n.get())
            .clamp(4, 8)
            .min(jobs.len().max(1));
        let next = AtomicUsize::new(0);
        let abort = AtomicBool::new(false);
        let (tx, rx) = mpsc::sync_channel::<Event>(1024);
        let fatal = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let tx = tx.clone();
                    let (jobs, next, abort, slots) = (&jobs, &next, &abort, &slots);
                    let (repo, target) = (self.repo, self.target);
                    scope.spawn(move || -> Result<()> {
                        let writer = Writer { target, files, slots, tx: &tx };
                        while !abort.load(Ordering::Relaxed) {
                            let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) else {
                                break;
                            };
                            if let Err(e) = fetch_pack(repo, &writer, job) {
                                abort.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                        Ok(())
                    })
                })
                .collect();
            drop(tx);
            for event in rx {
                match event {
                    Event::Written { file, bytes, finished } => {
                        self.state.bytes_done += bytes;
                        match finished {
                            Some(meta) if failed[file].is_none() => self.finish_file(&files[file], meta),
                            _ => (self.progress)(&self.state),
                        }
                    }
                    Event::Failed { file, reason } => {
                        failed[file].get_or_insert(reason);
                    }
                }
            }
            workers
                .into_iter()
                .map(|w| w.join().expect("restore worker panicked"))
                .find_map(Result::err)
        });
        if let Some(e) = fatal {
            return Err(e);
        }
        for (i, reason) in failed.into_iter().enumerate() {
            if let Some(reason) = reason {
                let file = &files[i];
                if matches!(slots[i].created.get(), Some(Ok(()))) {
                    let _ = self.target.remove_file(&file.rel);
                }
                self.state.files_done += 1;
                self.skip(&file.rel, reason);
            }
        }
        Ok(())
    }

    /// Counts a complete file; `meta` says whether its mode and time were set.
    fn finish_file(&mut self, file: &FilePlan, meta: std::result::Result<(), String>) {
        if let Err(e) = meta {
            self.warn(&file.rel, format!("file restored, but not its mode or time: {e}"));
        }
        self.summary.files += 1;
        self.summary.bytes += file.node.size;
        self.state.files_done += 1;
        self.state.current_file = Some(self.target.display_path(&file.rel));
        (self.progress)(&self.state);
    }
}

/// Sets a complete file's mode and time through its handle.
fn set_metadata(file: &File, node: &Node) -> std::result::Result<(), String> {
    target::set_metadata(file, node.mode, node.mtime_ns).map_err(|e| e.to_string())
}

/// What a restore thread needs to put blobs into files.
struct Writer<'a> {
    target: &'a Target,
    files: &'a [FilePlan],
    slots: &'a [FileSlot],
    tx: &'a mpsc::SyncSender<Event>,
}

impl Writer<'_> {
    fn send(&self, event: Event) {
        // The receiver lives until every worker ends.
        let _ = self.tx.send(event);
    }

    fn fail(&self, file: usize, reason: String) {
        self.send(Event::Failed { file, reason });
    }

    /// Writes one blob at its place, creating the file if this is the first
    /// blob to arrive for it and finishing it if it is the last.
    fn write(&self, at: Use, plaintext: &[u8]) {
        let (plan, slot) = (&self.files[at.file], &self.slots[at.file]);
        let mut fresh = None;
        let created = slot.created.get_or_init(|| {
            self.target.create_file(&plan.rel).map(|f| fresh = Some(f))
        });
        if let Err(reason) = created {
            return self.fail(at.file, reason.clone());
        }
        let written = match fresh {
            Some(file) => Ok(file),
            None => self.target.open_file(&plan.rel),
        }
        .and_then(|file| write_at(&file, plaintext, at.offset).map(|()| file));
        match written {
            Ok(file) => {
                let last = slot.remaining.fetch_sub(1, Ordering::AcqRel) == 1;
                self.send(Event::Written {
                    file: at.file,
                    bytes: plaintext.len() as u64,
                    finished: last.then(|| set_metadata(&file, &plan.node)),
                });
            }
            Err(e) => self.fail(at.file, format!("write failed: {e}")),
        }
    }
}

/// Groups a pack's wanted blobs into ranges that are each read once.
fn spans(blobs: &[(PackEntry, Vec<Use>)]) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    let mut start = 0;
    for i in 1..=blobs.len() {
        let split = i == blobs.len() || {
            let first = &blobs[start].0;
            let prev = &blobs[i - 1].0;
            let next = &blobs[i].0;
            next.offset > prev.offset + prev.length + MAX_GAP
                || next.offset + next.length - first.offset > MAX_SPAN
        };
        if split {
            spans.push(start..i);
            start = i;
        }
    }
    spans
}

/// Reads the spans of one pack, authenticates each blob and writes it to
/// every place it belongs. Damage fails the affected files only.
fn fetch_pack(repo: &Repository, writer: &Writer<'_>, job: &PackJob) -> Result<()> {
    let fail_all = |uses: &[Use], reason: &str| {
        for u in uses {
            writer.fail(u.file, reason.to_owned());
        }
    };
    // The sealed bytes of the blob at hand, read from the span's stream.
    let mut buf = Vec::new();
    for span in spans(&job.blobs) {
        let blobs = &job.blobs[span];
        let start = blobs[0].0.offset;
        let end = blobs.iter().map(|(e, _)| e.offset + e.length).max().unwrap_or(start);
        let mut stream = match repo
            .backend()
            .get_range_stream(FileKind::Pack, &job.pack, start, end - start)
        {
            Ok(stream) => Some((stream, start)),
            Err(e) if !is_fatal(&e) => None,
            Err(e) => return Err(e),
        };
        for (entry, uses) in blobs {
            let mut streamed = false;
            if let Some((reader, at)) = stream.as_mut() {
                streamed = read_blob(reader.as_mut(), at, entry, &mut buf).is_ok();
                if !streamed {
                    stream = None;
                }
            }
            // Where the span broke off (e.g. a truncated pack), the rest is
            // fetched blob by blob, which tells damage from a lost connection.
            let sealed = if streamed {
                Ok(Cow::Borrowed(&buf[..]))
            } else {
                repo.backend()
                    .get_range(FileKind::Pack, &job.pack, entry.offset, entry.length)
                    .map(Cow::Owned)
            };
            let plaintext = sealed.and_then(|sealed| {
                let plain = pack::open_blob(repo.keys(), &job.salt, entry, &sealed)?;
                if repo.keys().blob_id(&plain) != entry.id {
                    return Err(Error::integrity("contents do not match the id"));
                }
                Ok(plain)
            });
            let plaintext = match plaintext {
                Ok(p) => p,
                Err(e) if !is_fatal(&e) => {
                    fail_all(
                        uses,
                        &format!("damaged: data blob {} in pack {}: {e}", entry.id, job.pack),
                    );
                    continue;
                }
                Err(e) => return Err(e),
            };
            for u in uses {
                writer.write(*u, &plaintext);
            }
        }
    }
    Ok(())
}

/// Reads `entry`'s sealed bytes into `buf` from a span stream that is at
/// pack offset `*at`, skipping the gap before it.
fn read_blob(stream: &mut dyn Read, at: &mut u64, entry: &PackEntry, buf: &mut Vec<u8>) -> std::io::Result<()> {
    let short = || std::io::Error::from(std::io::ErrorKind::UnexpectedEof);
    let gap = entry.offset.checked_sub(*at).ok_or_else(short)?;
    if std::io::copy(&mut stream.take(gap), &mut std::io::sink())? != gap {
        return Err(short());
    }
    buf.clear();
    if stream.take(entry.length).read_to_end(buf)? as u64 != entry.length {
        return Err(short());
    }
    *at = entry.offset + entry.length;
    Ok(())
}

#[cfg(unix)]
fn write_at(file: &File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
}

#[cfg(windows)]
fn write_at(file: &File, mut bytes: &[u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !bytes.is_empty() {
        let n = file.seek_write(bytes, offset)?;
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        bytes = &bytes[n..];
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::backend::MemoryBackend;
    use crate::crypto::DataKey;
    use crate::index::IndexPack;
    use crate::pack::PackWriter;
    use crate::snapshot::{Snapshot, SnapshotRoot};
    use crate::tree::Tree;
    use std::fs;
    use std::sync::Arc;

    fn file(name: &str, content: Vec<Id>, size: u64) -> Node {
        Node {
            name: name.into(),
            kind: NodeKind::File,
            size,
            mtime_ns: 0,
            mode: 0o644,
            content,
            subtree: None,
            target: None,
        }
    }

    /// A hostile tree (as a malicious or buggy writer could store) restores
    /// only its safe entries, and nothing lands outside the target.
    #[test]
    fn unsafe_names_are_refused() {
        let backend = Arc::new(MemoryBackend::new());
        let mut repo = Repository::open(backend, &DataKey::generate()).unwrap();
        let keys = repo.keys().clone();
        let mut writer = PackWriter::new(&keys);
        let data = b"payload".to_vec();
        let data_id = keys.blob_id(&data);
        writer.add(BlobType::Data, &data_id, &data);
        let mut hostile = vec![
            file("..", vec![data_id], 7),
            file(".", vec![data_id], 7),
            file("x/../../escape", vec![data_id], 7),
            file("back\\slash", vec![data_id], 7),
            file("nul\0", vec![data_id], 7),
            file("", vec![data_id], 7),
            file("ok.txt", vec![data_id], 7),
            file("ok.txt", vec![], 0),
            file("missing-data", vec![keys.blob_id(b"never stored")], 3),
        ];
        hostile.push(Node {
            kind: NodeKind::Dir,
            subtree: None,
            ..file("dir-without-tree", vec![], 0)
        });
        let tree = Tree { nodes: hostile }.to_bytes();
        let tree_id = keys.blob_id(&tree);
        writer.add(BlobType::Tree, &tree_id, &tree);
        let pack = writer.finish();
        repo.backend()
            .put(crate::backend::FileKind::Pack, &pack.id, &pack.bytes)
            .unwrap();
        repo.save_index(vec![IndexPack::from(&pack)]).unwrap();
        let snap = Snapshot {
            time: 0,
            device_name: String::new(),
            device_id: String::new(),
            roots: vec![SnapshotRoot {
                path: "/x/Docs".into(),
                tree: tree_id,
            }],
            files: 0,
            bytes: 0,
            repaired_from: None,
        };
        let snap_id = repo.save_snapshot(&snap).unwrap();

        let work = tempfile::tempdir().unwrap();
        let target = work.path().join("target");
        let summary = restore(
            &repo,
            &snap_id,
            &RestoreOptions {
                target: target.clone(),
                include: vec![],
                on_conflict: Default::default(),
            },
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(summary.files, 1);
        assert_eq!(fs::read(target.join("Docs/ok.txt")).unwrap(), b"payload");
        assert_eq!(fs::read_dir(target.join("Docs")).unwrap().count(), 1);
        assert_eq!(
            fs::read_dir(work.path()).unwrap().count(),
            1,
            "nothing outside the target"
        );
        assert_eq!(summary.skipped.len(), 9, "{:?}", summary.skipped);
        assert!(summary
            .skipped
            .iter()
            .any(|s| s.path.ends_with("missing-data") && s.reason.contains("damaged")));
        assert!(!target.join("Docs/missing-data").exists());
    }

    #[test]
    fn root_names_are_unique() {
        let mut used = HashSet::new();
        assert_eq!(unique_root_name("/home/u/Docs", &mut used), "Docs");
        assert_eq!(unique_root_name("/mnt/Docs", &mut used), "Docs (2)");
        assert_eq!(unique_root_name("/x/Docs/", &mut used), "Docs (3)");
        assert_eq!(unique_root_name("/", &mut used), "root");
    }

    #[test]
    fn includes_relative_to_roots() {
        assert_eq!(
            relative_components("/home/u/Docs", "/home/u/Docs"),
            Some(vec![])
        );
        assert_eq!(
            relative_components("/home/u/Docs", "/home/u/Docs/a/b.txt"),
            Some(vec!["a".to_owned(), "b.txt".to_owned()])
        );
        assert_eq!(relative_components("/home/u/Docs", "/home/u/Docs2/a"), None);
        assert_eq!(relative_components("/home/u/Docs", "/home/u"), None);
        assert_eq!(
            relative_components("/home/u/Docs", "/home/u/Docs/../x"),
            None
        );
    }
}

#[cfg(test)]
mod hostile_tests {
    use super::*;

    use crate::backend::{Backend, MemoryBackend};
    use crate::crypto::DataKey;
    use crate::index::IndexPack;
    use crate::pack::PackWriter;
    use crate::snapshot::{Snapshot, SnapshotRoot};
    use crate::tree::Tree;
    use std::fs;
    use std::sync::Arc;

    fn node(name: &str, kind: NodeKind) -> Node {
        Node {
            name: name.into(),
            kind,
            size: 0,
            mtime_ns: 0,
            mode: 0o755,
            content: vec![],
            subtree: None,
            target: None,
        }
    }

    /// Stores hand-made trees (the last is the root) as a malicious writer
    /// could, with one data blob "payload". `trees` gets the repository to
    /// compute blob ids.
    fn hostile_snapshot(trees: impl FnOnce(&Repository) -> Vec<Tree>) -> (Repository, Id) {
        let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
        let mut repo = Repository::open(backend, &DataKey::generate()).unwrap();
        let keys = repo.keys().clone();
        let mut writer = PackWriter::new(&keys);
        writer.add(BlobType::Data, &keys.blob_id(b"payload"), b"payload");
        let mut root = None;
        for tree in trees(&repo) {
            let bytes = tree.to_bytes();
            let id = keys.blob_id(&bytes);
            writer.add(BlobType::Tree, &id, &bytes);
            root = Some(id);
        }
        let pack = writer.finish();
        repo.backend().put(FileKind::Pack, &pack.id, &pack.bytes).unwrap();
        repo.save_index(vec![IndexPack::from(&pack)]).unwrap();
        let snap = Snapshot {
            time: 0,
            device_name: String::new(),
            device_id: String::new(),
            roots: vec![SnapshotRoot {
                path: "/x/Docs".into(),
                tree: root.unwrap(),
            }],
            files: 0,
            bytes: 0,
            repaired_from: None,
        };
        let id = repo.save_snapshot(&snap).unwrap();
        (repo, id)
    }

    fn payload_file(repo: &Repository, name: &str) -> Node {
        Node {
            size: 7,
            mode: 0o644,
            content: vec![repo.keys().blob_id(b"payload")],
            ..node(name, NodeKind::File)
        }
    }

    /// Absolute, drive and separator names, and a link to outside followed
    /// by a folder of the same name, all inside one hostile snapshot.
    #[test]
    fn hostile_paths_never_leave_the_target() {
        let work = tempfile::tempdir().unwrap();
        let outside = work.path().join("etc");
        fs::create_dir(&outside).unwrap();
        let names = [
            outside.join("abs").to_str().unwrap().to_owned(),
            "/etc/passwd".into(),
            "C:".into(),
            "c:evil".into(),
            "..".into(),
            "a/../../x".into(),
            "..\\..\\x".into(),
            "nul\0".into(),
        ];
        let (repo, snap) = hostile_snapshot(|repo| {
            let inner = Tree {
                nodes: vec![payload_file(repo, "passwd")],
            };
            let mut nodes: Vec<Node> = names.iter().map(|n| payload_file(repo, n)).collect();
            nodes.push(Node {
                target: Some(outside.to_str().unwrap().into()),
                ..node("evil", NodeKind::Symlink)
            });
            nodes.push(Node {
                subtree: Some(repo.keys().blob_id(&inner.to_bytes())),
                ..node("evil", NodeKind::Dir)
            });
            nodes.push(payload_file(repo, "ok.txt"));
            vec![inner, Tree { nodes }]
        });

        let target = work.path().join("target");
        let summary = restore(
            &repo,
            &snap,
            &RestoreOptions {
                target: target.clone(),
                include: vec![],
                on_conflict: Default::default(),
            },
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "nothing written outside");
        assert_eq!(fs::read_dir(work.path()).unwrap().count(), 2);
        assert_eq!(fs::read(target.join("Docs/ok.txt")).unwrap(), b"payload");
        // The link was restored (as a link); the same-named folder skipped.
        assert!(fs::symlink_metadata(target.join("Docs/evil")).unwrap().file_type().is_symlink());
        let mut listed: Vec<_> = fs::read_dir(target.join("Docs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        listed.sort();
        assert_eq!(listed, ["evil", "ok.txt"]);
        assert_eq!(summary.skipped.len(), names.len() + 1, "{:?}", summary.skipped);
        assert!(summary
            .skipped
            .iter()
            .any(|s| s.reason.contains("absolute or drive")));
    }

    /// A link planted below the target after its folders were made (a race
    /// with another process) makes the write fail instead of escaping.
    #[cfg(unix)]
    #[test]
    fn a_link_planted_during_restore_is_not_followed() {
        let work = tempfile::tempdir().unwrap();
        let outside = work.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let target = Target::open(&work.path().join("t")).unwrap();
        target.make_dir(Path::new("a")).unwrap();
        target.make_dir(Path::new("a/b")).unwrap();
        fs::remove_dir(work.path().join("t/a/b")).unwrap();
        std::os::unix::fs::symlink(&outside, work.path().join("t/a/b")).unwrap();

        let err = target.create_file(Path::new("a/b/x")).unwrap_err();
        assert!(err.contains("link"), "{err}");
        assert!(target.open_file(Path::new("a/b/x")).is_err());
        assert!(target.make_dir(Path::new("a/b/c")).is_err());
        assert!(target.symlink(Path::new("a/b/l"), "/", 0).is_err());
        assert!(target.set_dir_metadata(Path::new("a/b"), 0o777, 0).is_err());
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
        assert_eq!(
            fs::metadata(&outside).unwrap().permissions().mode() & 0o777,
            fs::metadata(work.path()).unwrap().permissions().mode() & 0o777
        );
        // Replacing the link with a folder is allowed (the link itself goes).
        target.make_dir(Path::new("a/b")).unwrap();
        target.create_file(Path::new("a/b/x")).unwrap();
        assert!(work.path().join("t/a/b/x").is_file());
        assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    }
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;
}
