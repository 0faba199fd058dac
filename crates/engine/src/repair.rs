//! `repair`: turns a damaged snapshot into one that restores completely,
//! minus the files whose data is lost.

use std::collections::HashMap;
use std::fmt;

use serde::Serialize;

use crate::backend::FileKind;
use crate::blob::BlobType;
use crate::check::{format_time, is_damage, short, AffectedFile};
use crate::error::Result;
use crate::id::Id;
use crate::pack::PackWriter;
use crate::repository::Repository;
use crate::snapshot::Snapshot;
use crate::tree::{NodeKind, Tree};

/// What `repair` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepairReport {
    /// The snapshot that was checked.
    pub old_snapshot: Id,
    /// The replacement, or `None` when nothing was lost (nothing written).
    pub new_snapshot: Option<Id>,
    /// Files and folders left out of the replacement, sorted by path.
    pub lost: Vec<AffectedFile>,
    /// Regular files in the replacement (or the old snapshot when intact).
    pub files_kept: u64,
}

impl fmt::Display for RepairReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.new_snapshot {
            None => writeln!(
                f,
                "snapshot {} is intact ({} files); nothing to repair",
                short(&self.old_snapshot),
                self.files_kept
            ),
            Some(new) => {
                writeln!(
                    f,
                    "snapshot {} replaced by {}: {} files kept, {} lost:",
                    short(&self.old_snapshot),
                    short(&new),
                    self.files_kept,
                    self.lost.len()
                )?;
                for lost in &self.lost {
                    writeln!(
                        f,
                        "  {} ({}): {}",
                        lost.path,
                        format_time(lost.snapshot_time),
                        lost.reason
                    )?;
                }
                Ok(())
            }
        }
    }
}

/// Reads every blob `snapshot` references (one authenticated range read
/// each). If any file or folder is lost, writes a new snapshot without them
/// — same time, device and roots, `repaired_from` naming the old one — and
/// then removes the old snapshot file, so the history shows one restorable
/// snapshot at that time. Unchanged folders keep their tree ids; changed
/// ones are stored as new tree blobs in one new pack and index.
///
/// # Errors
/// `NotFound` or `Integrity` when the snapshot file itself is missing or
/// damaged (nothing can be saved from it); backend errors that are not
/// damage (network, storage) stop the repair before anything is written.
pub fn repair(repo: &mut Repository, snapshot: &Id) -> Result<RepairReport> {
    let old = repo.snapshot(snapshot)?;
    let mut rebuild = Rebuild {
        repo,
        blobs: HashMap::new(),
        trees: HashMap::new(),
        new_trees: Vec::new(),
    };
    let mut roots = Vec::new();
    let mut lost = Vec::new();
    let (mut files, mut bytes) = (0, 0);
    for root in &old.roots {
        let outcome = rebuild.tree(&root.tree)?;
        let tree = match &outcome.tree {
            Some(tree) => *tree,
            // The root's listing is lost: keep the root, empty.
            None => rebuild.store_tree(Tree::default()),
        };
        files += outcome.files;
        bytes += outcome.bytes;
        for (rel, reason) in &outcome.lost {
            lost.push(AffectedFile {
                snapshot: *snapshot,
                snapshot_time: old.time,
                path: if rel.is_empty() {
                    root.path.clone()
                } else {
                    format!("{}/{rel}", root.path.trim_end_matches('/'))
                },
                reason: reason.clone(),
            });
        }
        let mut root = root.clone();
        root.tree = tree;
        roots.push(root);
    }
    lost.sort();
    if lost.is_empty() {
        return Ok(RepairReport {
            old_snapshot: *snapshot,
            new_snapshot: None,
            lost,
            files_kept: files,
        });
    }

    let new_trees = std::mem::take(&mut rebuild.new_trees);
    if !new_trees.is_empty() {
        let mut writer = PackWriter::new(repo.keys());
        for (id, bytes) in &new_trees {
            if !repo.has_blob(BlobType::Tree, id)? {
                writer.add(BlobType::Tree, id, bytes);
            }
        }
        if !writer.is_empty() {
            let pack = writer.finish();
            repo.backend().put(FileKind::Pack, &pack.id, &pack.bytes)?;
            repo.save_index(vec![(&pack).into()])?;
        }
    }
    let replacement = Snapshot {
        roots,
        files,
        bytes,
        repaired_from: Some(*snapshot),
        ..old
    };
    let new_id = repo.save_snapshot(&replacement)?;
    repo.backend().remove(FileKind::Snapshot, snapshot)?;
    Ok(RepairReport {
        old_snapshot: *snapshot,
        new_snapshot: Some(new_id),
        lost,
        files_kept: files,
    })
}

/// One tree after repair.
#[derive(Clone)]
struct Outcome {
    /// The tree to use, `None` when its listing is lost.
    tree: Option<Id>,
    /// (path relative to the tree, reason) of each entry left out.
    lost: Vec<(String, String)>,
    files: u64,
    bytes: u64,
}

struct Rebuild<'a> {
    repo: &'a Repository,
    /// Data blob → why it cannot be read (`None`: readable).
    blobs: HashMap<Id, Option<String>>,
    trees: HashMap<Id, Outcome>,
    new_trees: Vec<(Id, Vec<u8>)>,
}

impl Rebuild<'_> {
    fn blob_problem(&mut self, id: &Id) -> Result<Option<String>> {
        if let Some(known) = self.blobs.get(id) {
            return Ok(known.clone());
        }
        let problem = match self.repo.blob_location(BlobType::Data, id)? {
            None => Some(format!("data blob {} is in no index", short(id))),
            Some(loc) => match self.repo.read_blob_at(&loc) {
                Ok(_) => None,
                Err(e) if is_damage(e.kind()) => Some(format!(
                    "data blob {} in pack {}: {}",
                    short(id),
                    short(&loc.pack),
                    e.message()
                )),
                Err(e) => return Err(e),
            },
        };
        self.blobs.insert(*id, problem.clone());
        Ok(problem)
    }

    fn store_tree(&mut self, tree: Tree) -> Id {
        let bytes = tree.to_bytes();
        let id = self.repo.keys().blob_id(&bytes);
        self.new_trees.push((id, bytes));
        id
    }

    fn tree(&mut self, id: &Id) -> Result<Outcome> {
        if let Some(done) = self.trees.get(id) {
            return Ok(done.clone());
        }
        let loaded = match self.repo.blob_location(BlobType::Tree, id)? {
            None => Err(crate::error::Error::new(
                crate::error::ErrorKind::NotFound,
                "it is in no index",
            )),
            Some(loc) => self
                .repo
                .read_blob_at(&loc)
                .and_then(|bytes| Tree::from_bytes(&bytes)),
        };
        let outcome = match loaded {
            Err(e) if is_damage(e.kind()) => Outcome {
                tree: None,
                lost: vec![(
                    String::new(),
                    format!("folder listing (tree {}) cannot be read: {}", short(id), e.message()),
                )],
                files: 0,
                bytes: 0,
            },
            Err(e) => return Err(e),
            Ok(tree) => {
                let mut kept = Tree::default();
                let mut lost = Vec::new();
                let (mut files, mut bytes) = (0, 0);
                for mut node in tree.nodes {
                    match node.kind {
                        NodeKind::File => {
                            let mut why = None;
                            for blob in &node.content {
                                if let Some(problem) = self.blob_problem(blob)? {
                                    why = Some(problem);
                                    break;
                                }
                            }
                            if let Some(why) = why {
                                lost.push((node.name.clone(), why));
                                continue;
                            }
                            files += 1;
                            bytes += node.size;
                        }
                        NodeKind::Dir => {
                            let Some(sub) = node.subtree else {
                                lost.push((node.name.clone(), "folder without a listing".into()));
                                continue;
                            };
                            let inner = self.tree(&sub)?;
                            for (rel, why) in &inner.lost {
                                let path = if rel.is_empty() {
                                    node.name.clone()
                                } else {
                                    format!("{}/{rel}", node.name)
                                };
                                lost.push((path, why.clone()));
                            }
                            let Some(new_sub) = inner.tree else {
                                continue;
                            };
                            node.subtree = Some(new_sub);
                            files += inner.files;
                            bytes += inner.bytes;
                        }
                        NodeKind::Symlink => {}
                    }
                    kept.nodes.push(node);
                }
                let tree = if lost.is_empty() {
                    *id
                } else {
                    self.store_tree(kept)
                };
                Outcome {
                    tree: Some(tree),
                    lost,
                    files,
                    bytes,
                }
            }
        };
        self.trees.insert(*id, outcome.clone());
        Ok(outcome)
    }
}
