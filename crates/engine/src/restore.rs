//! The restore pipeline: plan every path (checking every name), then write.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::backup::Skipped;
use crate::blob::BlobType;
use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;
use crate::repository::Repository;
use crate::tree::{validate_name, Node, NodeKind};

/// What to restore and where.
#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Folder to restore into; created if missing. Each snapshot root
    /// `/a/b/Docs` restores into `<target>/Docs`.
    pub target: PathBuf,
    /// Original absolute paths to restore (a root, or a folder or file inside
    /// one); empty restores everything.
    pub include: Vec<String>,
}

/// Reported once per file, and as large files are written.
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
}

/// Restores (part of) a snapshot into `opts.target`.
///
/// Every name is checked before anything is written; entries with unsafe
/// names (`/`, `\`, NUL, `.`, `..`) are skipped. Symlinks are recreated as
/// links and never written through. Existing files at a destination are
/// replaced; existing folders are merged into. A file whose data fails
/// authentication is skipped with a reason naming it, and the rest goes on.
///
/// # Errors
/// `NotFound` when the snapshot does not exist or an include names nothing in
/// it; `InvalidInput` for an include outside every root; backend errors other
/// than damage (network, storage) stop the restore.
pub fn restore(
    repo: &Repository,
    snapshot: &Id,
    opts: &RestoreOptions,
    progress: &mut dyn FnMut(&RestoreProgress),
) -> Result<RestoreSummary> {
    let snapshot = repo.snapshot(snapshot)?;
    let mut planner = Planner {
        repo,
        actions: Vec::new(),
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
        let dest = opts.target.join(&name);
        planner.actions.push(Action::Dir {
            dest: dest.clone(),
            meta: None,
        });
        if let Some((i, _)) = selectors.iter().find(|(_, c)| c.is_empty()) {
            planner.matched.insert(*i);
        }
        let refs = selectors
            .iter()
            .map(|(i, c)| (*i, c.as_slice()))
            .collect::<Vec<_>>();
        planner.plan_dir(&root.tree, &dest, &refs)?;
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
        actions, skipped, ..
    } = planner;
    let mut writer = Writer {
        repo,
        progress,
        state: RestoreProgress {
            files_done: 0,
            files_total: 0,
            bytes_done: 0,
            bytes_total: 0,
            current_file: None,
        },
        summary: RestoreSummary {
            files: 0,
            dirs: 0,
            symlinks: 0,
            bytes: 0,
            skipped,
        },
    };
    for action in &actions {
        if let Action::File { node, .. } = action {
            writer.state.files_total += 1;
            writer.state.bytes_total += node.size;
        }
    }
    (writer.progress)(&writer.state);
    fs::create_dir_all(&opts.target)
        .map_err(|e| Error::io(format!("creating {}", opts.target.display()), e))?;
    for action in &actions {
        writer.apply(action)?;
    }
    // Folder times and modes last, deepest first: writing into a folder
    // changes its mtime, and a read-only folder could not be filled.
    for action in actions.iter().rev() {
        if let Action::Dir {
            dest,
            meta: Some(meta),
        } = action
        {
            if is_real_dir(dest) {
                let _ = set_metadata_of_path(dest, meta.mode, meta.mtime_ns);
            }
        }
    }
    writer.state.current_file = None;
    (writer.progress)(&writer.state);
    Ok(writer.summary)
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

enum Action {
    Dir {
        dest: PathBuf,
        meta: Option<DirMeta>,
    },
    File {
        dest: PathBuf,
        node: Node,
    },
    Symlink {
        dest: PathBuf,
        target: String,
    },
}

struct Planner<'a> {
    repo: &'a Repository,
    actions: Vec<Action>,
    skipped: Vec<Skipped>,
    /// Indexes of includes that named something.
    matched: HashSet<usize>,
}

/// Whether a restore should stop on this error rather than skip the entry.
fn is_fatal(err: &Error) -> bool {
    !matches!(err.kind(), ErrorKind::Integrity | ErrorKind::NotFound)
}

impl Planner<'_> {
    /// Plans the entries of tree `tree` (restored into `dest`) that the
    /// selectors pick. A selector with no components picks everything.
    fn plan_dir(&mut self, tree: &Id, dest: &Path, selectors: &[(usize, &[String])]) -> Result<()> {
        let tree = match self.repo.tree(tree) {
            Ok(tree) => tree,
            Err(e) if !is_fatal(&e) => {
                self.skipped.push(Skipped {
                    path: dest.to_owned(),
                    reason: format!("folder listing damaged: {e}"),
                });
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
                self.skipped.push(Skipped {
                    path: dest.join("<unsafe name>"),
                    reason: e.to_string(),
                });
                continue;
            }
            let path = dest.join(&node.name);
            if !seen.insert(node.name.clone()) {
                self.skipped.push(Skipped {
                    path,
                    reason: "duplicate name in folder listing".into(),
                });
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
                        self.skipped.push(Skipped {
                            path,
                            reason: "folder without a listing".into(),
                        });
                        continue;
                    };
                    let meta = DirMeta {
                        mode: node.mode,
                        mtime_ns: node.mtime_ns,
                    };
                    self.actions.push(Action::Dir {
                        dest: path.clone(),
                        meta: Some(meta),
                    });
                    self.plan_dir(&subtree, &path, &child)?;
                }
                NodeKind::File => self.actions.push(Action::File { dest: path, node }),
                NodeKind::Symlink => match node.target {
                    Some(target) => self.actions.push(Action::Symlink { dest: path, target }),
                    None => self.skipped.push(Skipped {
                        path,
                        reason: "symlink without a target".into(),
                    }),
                },
            }
        }
        Ok(())
    }
}

struct Writer<'a> {
    repo: &'a Repository,
    progress: &'a mut dyn FnMut(&RestoreProgress),
    state: RestoreProgress,
    summary: RestoreSummary,
}

fn is_real_dir(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// Clears the way for a new file or link at `dest` without following links:
/// removes a file or link there; refuses to remove a folder.
fn clear_for_entry(dest: &Path) -> std::result::Result<(), String> {
    let parent = dest.parent().expect("restore paths have a parent");
    if !is_real_dir(parent) {
        return Err("its folder could not be created (or is a link)".into());
    }
    match fs::symlink_metadata(dest) {
        Ok(meta) if meta.is_dir() => Err("a folder is in the way".into()),
        Ok(_) => fs::remove_file(dest).map_err(|e| format!("cannot replace existing file: {e}")),
        Err(_) => Ok(()),
    }
}

fn system_time(mtime_ns: i64) -> SystemTime {
    if mtime_ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(mtime_ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(mtime_ns.unsigned_abs())
    }
}

#[cfg(unix)]
fn set_file_mode(file: &File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    // setuid/setgid are not restored: the owner is not restored either.
    file.set_permissions(fs::Permissions::from_mode(mode & 0o1777))
}

#[cfg(not(unix))]
fn set_file_mode(file: &File, mode: u32) -> std::io::Result<()> {
    let mut perms = file.metadata()?.permissions();
    perms.set_readonly(mode & 0o222 == 0);
    file.set_permissions(perms)
}

fn set_metadata_of_path(path: &Path, mode: u32, mtime_ns: i64) -> std::io::Result<()> {
    let dir = File::open(path)?;
    dir.set_modified(system_time(mtime_ns))?;
    set_file_mode(&dir, mode)
}

impl Writer<'_> {
    fn skip(&mut self, path: &Path, reason: String) {
        self.summary.skipped.push(Skipped {
            path: path.to_owned(),
            reason,
        });
    }

    fn apply(&mut self, action: &Action) -> Result<()> {
        match action {
            Action::Dir { dest, .. } => {
                let made = match fs::symlink_metadata(dest) {
                    Ok(meta) if meta.is_dir() => Ok(()),
                    Ok(_) => fs::remove_file(dest).and_then(|()| fs::create_dir(dest)),
                    Err(_) => fs::create_dir(dest),
                };
                match made {
                    Ok(()) if is_real_dir(dest) => self.summary.dirs += 1,
                    Ok(()) => self.skip(dest, "folder was replaced while restoring".into()),
                    Err(e) => self.skip(dest, format!("cannot create folder: {e}")),
                }
            }
            Action::Symlink { dest, target } => {
                if let Err(reason) = clear_for_entry(dest) {
                    self.skip(dest, reason);
                } else {
                    match make_symlink(target, dest) {
                        Ok(()) => self.summary.symlinks += 1,
                        Err(e) => self.skip(dest, format!("cannot create link: {e}")),
                    }
                }
            }
            Action::File { dest, node } => {
                self.state.current_file = Some(dest.clone());
                (self.progress)(&self.state);
                let bytes_before = self.state.bytes_done;
                match self.write_file(dest, node) {
                    Ok(Ok(())) => {
                        self.summary.files += 1;
                        self.summary.bytes += node.size;
                    }
                    Ok(Err(reason)) => {
                        self.skip(dest, reason);
                        self.state.bytes_done = bytes_before + node.size;
                    }
                    Err(e) => return Err(e.context(format!("restoring {}", dest.display()))),
                }
                self.state.files_done += 1;
            }
        }
        Ok(())
    }

    /// `Ok(Err(reason))` skips the file; `Err` stops the restore.
    fn write_file(&mut self, dest: &Path, node: &Node) -> Result<std::result::Result<(), String>> {
        if let Err(reason) = clear_for_entry(dest) {
            return Ok(Err(reason));
        }
        // create_new never follows a link at `dest`.
        let mut file = match OpenOptions::new().write(true).create_new(true).open(dest) {
            Ok(file) => file,
            Err(e) => return Ok(Err(format!("cannot create file: {e}"))),
        };
        let outcome = (|| {
            for id in &node.content {
                let data = match self.repo.load_blob(BlobType::Data, id) {
                    Ok(data) => data,
                    Err(e) if !is_fatal(&e) => return Ok(Err(format!("damaged: {e}"))),
                    Err(e) => return Err(e),
                };
                if let Err(e) = file.write_all(&data) {
                    return Ok(Err(format!("write failed: {e}")));
                }
                self.state.bytes_done += data.len() as u64;
                (self.progress)(&self.state);
            }
            // Times and mode are best effort: a file with its contents is
            // better than no file.
            let _ = file.set_modified(system_time(node.mtime_ns));
            let _ = set_file_mode(&file, node.mode);
            Ok(Ok(()))
        })();
        drop(file);
        if !matches!(outcome, Ok(Ok(()))) {
            let _ = fs::remove_file(dest);
        }
        outcome
    }
}

#[cfg(unix)]
fn make_symlink(target: &str, dest: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, dest)
}

#[cfg(not(unix))]
fn make_symlink(_target: &str, _dest: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "symlinks are only restored on Unix",
    ))
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
