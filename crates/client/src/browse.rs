//! Reading backups as folders: list a folder as it was, search names across
//! backups, and the version history of one file. Trees are immutable and
//! content-addressed, so they are cached by id.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use coffer_engine::{Id, Node, NodeKind, Repository, Snapshot, Tree};

use crate::error::{Error, ErrorKind, Result};
use crate::types::{EntryKind, FileVersion, SearchHit, TreeEntry};

/// How many trees the cache keeps before it starts over.
const TREE_CACHE_LIMIT: usize = 20_000;

/// The most hits one search returns.
pub const SEARCH_LIMIT: usize = 500;

/// Decrypted trees by id.
#[derive(Default)]
pub struct TreeCache {
    trees: Mutex<HashMap<Id, Arc<Tree>>>,
}

impl TreeCache {
    pub fn get(&self, repo: &Repository, id: &Id) -> Result<Arc<Tree>> {
        if let Some(tree) = self.trees.lock().expect("tree cache").get(id) {
            return Ok(Arc::clone(tree));
        }
        let tree = Arc::new(repo.tree(id)?);
        let mut trees = self.trees.lock().expect("tree cache");
        if trees.len() >= TREE_CACHE_LIMIT {
            trees.clear();
        }
        trees.insert(*id, Arc::clone(&tree));
        Ok(tree)
    }
}

fn entry_kind(kind: NodeKind) -> EntryKind {
    match kind {
        NodeKind::File => EntryKind::File,
        NodeKind::Dir => EntryKind::Dir,
        NodeKind::Symlink => EntryKind::Symlink,
    }
}

fn join(parent: &str, name: &str) -> String {
    if parent.ends_with('/') {
        format!("{parent}{name}")
    } else {
        format!("{parent}/{name}")
    }
}

fn base_name(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or(path)
}

fn entry(parent: &str, node: &Node) -> TreeEntry {
    TreeEntry {
        name: node.name.clone(),
        path: join(parent, &node.name),
        kind: entry_kind(node.kind),
        size: node.size,
        mtime: node.mtime_ns.div_euclid(1_000_000),
    }
}

/// Where `path` sits in `snapshot`: the tree of the folder holding it (None
/// for a root itself) and the node, if the path existed in that backup.
enum Located {
    Root(Id),
    Node(Node),
}

fn locate(repo: &Repository, cache: &TreeCache, snapshot: &Snapshot, path: &str) -> Result<Option<Located>> {
    let path = path.trim_end_matches('/');
    for root in &snapshot.roots {
        let root_path = root.path.trim_end_matches('/');
        if path == root_path {
            return Ok(Some(Located::Root(root.tree)));
        }
        let Some(rest) = path.strip_prefix(root_path).and_then(|r| r.strip_prefix('/')) else { continue };
        let mut tree = cache.get(repo, &root.tree)?;
        let mut parts = rest.split('/').filter(|p| !p.is_empty()).peekable();
        while let Some(part) = parts.next() {
            let Some(node) = tree.nodes.iter().find(|n| n.name == part).cloned() else { return Ok(None) };
            if parts.peek().is_none() {
                return Ok(Some(Located::Node(node)));
            }
            match (node.kind, node.subtree) {
                (NodeKind::Dir, Some(subtree)) => tree = cache.get(repo, &subtree)?,
                _ => return Ok(None),
            }
        }
    }
    Ok(None)
}

/// The entries of a folder as it was in `snapshot`; `None` lists the
/// backed-up folders themselves.
///
/// # Errors
/// `NotFound` when the path was not in that backup or is not a folder.
pub fn list(repo: &Repository, cache: &TreeCache, snapshot: &Snapshot, path: Option<&str>) -> Result<Vec<TreeEntry>> {
    let Some(path) = path.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(snapshot
            .roots
            .iter()
            .map(|r| TreeEntry { name: base_name(&r.path).to_owned(), path: r.path.clone(), kind: EntryKind::Dir, size: 0, mtime: snapshot.time })
            .collect());
    };
    let tree_id = match locate(repo, cache, snapshot, path)? {
        Some(Located::Root(id)) => id,
        Some(Located::Node(Node { kind: NodeKind::Dir, subtree: Some(id), .. })) => id,
        Some(Located::Node(_)) => return Err(Error::new(ErrorKind::InvalidInput, format!("{path} is a file, not a folder"))),
        None => return Err(Error::new(ErrorKind::NotFound, format!("{path} is not in this backup"))),
    };
    let tree = cache.get(repo, &tree_id)?;
    let mut entries: Vec<TreeEntry> = tree.nodes.iter().map(|n| entry(path.trim_end_matches('/'), n)).collect();
    // Folders first, then names as a person sorts them.
    entries.sort_by(|a, b| {
        (a.kind != EntryKind::Dir).cmp(&(b.kind != EntryKind::Dir)).then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    Ok(entries)
}

/// Entries whose name contains `query` (case-insensitive), across the given
/// snapshots (newest first). A path is reported once, from the newest backup
/// that has it.
pub fn search(repo: &Repository, cache: &TreeCache, snapshots: &[(Id, Snapshot)], query: &str) -> Result<Vec<SearchHit>> {
    let needle = query.trim().to_lowercase();
    if needle.is_empty() {
        return Err(Error::new(ErrorKind::InvalidInput, "type part of a file or folder name to search for"));
    }
    let mut hits = Vec::new();
    let mut seen_paths = HashSet::new();
    // The same tree at the same place yields the same hits: walk it once.
    let mut walked: HashSet<(String, Id)> = HashSet::new();
    for (id, snapshot) in snapshots {
        let mut stack: Vec<(String, Id)> = snapshot.roots.iter().map(|r| (r.path.trim_end_matches('/').to_owned(), r.tree)).collect();
        while let Some((dir, tree_id)) = stack.pop() {
            if !walked.insert((dir.clone(), tree_id)) {
                continue;
            }
            let tree = cache.get(repo, &tree_id)?;
            for node in &tree.nodes {
                let path = join(&dir, &node.name);
                if node.name.to_lowercase().contains(&needle) && seen_paths.insert(path.clone()) {
                    hits.push(SearchHit { snapshot_id: id.to_hex(), time: snapshot.time, path: path.clone(), kind: entry_kind(node.kind), size: node.size });
                    if hits.len() >= SEARCH_LIMIT {
                        return Ok(hits);
                    }
                }
                if let (NodeKind::Dir, Some(subtree)) = (node.kind, node.subtree) {
                    stack.push((path, subtree));
                }
            }
        }
    }
    Ok(hits)
}

/// Every version of the file at `path`: the backups (newest first) in which
/// its content differs from the backup before.
pub fn versions(repo: &Repository, cache: &TreeCache, snapshots: &[(Id, Snapshot)], path: &str) -> Result<Vec<FileVersion>> {
    let mut oldest_first: Vec<&(Id, Snapshot)> = snapshots.iter().collect();
    oldest_first.sort_by_key(|(_, s)| s.time);
    let mut versions = Vec::new();
    let mut previous: Option<Vec<Id>> = None;
    for (id, snapshot) in oldest_first {
        match locate(repo, cache, snapshot, path)? {
            Some(Located::Node(node)) if node.kind == NodeKind::File => {
                if previous.as_ref() != Some(&node.content) {
                    versions.push(FileVersion {
                        snapshot_id: id.to_hex(),
                        time: snapshot.time,
                        size: node.size,
                        mtime: node.mtime_ns.div_euclid(1_000_000),
                    });
                }
                previous = Some(node.content);
            }
            // Gone in this backup: a later reappearance is a new version.
            _ => previous = None,
        }
    }
    if versions.is_empty() {
        return Err(Error::new(ErrorKind::NotFound, format!("no backup has a file at {path}")));
    }
    versions.reverse();
    Ok(versions)
}
