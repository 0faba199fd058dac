//! `prune`: deletes packs no snapshot references — in two steps, so a
//! backup running on another device at the same time never loses a pack it
//! relies on. See `docs/format.md` ("Prune protocol").
//!
//! 1. An unreferenced pack is first *condemned*: an index file records
//!    `{pack, since}`. Backups that load it stop deduplicating against the
//!    pack (they store those blobs again).
//! 2. A later prune deletes a condemned pack only if it is still
//!    unreferenced and was condemned at least `grace` ago; a pack that a
//!    snapshot references again is *rescued* (its record dropped).
//! 3. Before committing, every backup reloads the index and refuses to
//!    commit if a pack it depends on is gone, or was condemned so long ago
//!    that the shortest allowed grace could end before its commit lands.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::backend::FileKind;
use crate::blob::BlobType;
use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;
use crate::index::{Condemned, IndexFile, IndexPack};
use crate::repository::Repository;
use crate::tree::NodeKind;

/// The shortest grace `prune` accepts.
pub const MIN_PRUNE_GRACE: Duration = Duration::from_secs(24 * 3600);
/// A backup refuses to commit when a pack it depends on was condemned
/// more than `MIN_PRUNE_GRACE - COMMIT_MARGIN` ago: its deletion could be
/// near. The margin also absorbs clock differences between devices.
const COMMIT_MARGIN: Duration = Duration::from_secs(3 * 3600);
/// Largest index file prune writes, in blobs.
const BLOBS_PER_INDEX_FILE: usize = 50_000;

/// How to prune.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneOptions {
    /// Allow deleting (or condemning) more than half of the stored bytes,
    /// or everything when there is no snapshot. Without it such a prune is
    /// refused: it is more likely a mistake (wrong key, lost snapshots)
    /// than a wish.
    pub confirm_large: bool,
    /// How long a pack stays condemned before it may be deleted; at least
    /// [`MIN_PRUNE_GRACE`].
    pub grace: Duration,
    /// The current time, Unix milliseconds.
    pub now: i64,
}

impl Default for PruneOptions {
    fn default() -> PruneOptions {
        PruneOptions {
            confirm_large: false,
            grace: MIN_PRUNE_GRACE,
            now: now_ms(),
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What `prune` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PruneReport {
    pub packs_total: u64,
    pub bytes_total: u64,
    pub packs_referenced: u64,
    /// Found unreferenced for the first time.
    pub packs_condemned: u64,
    pub bytes_condemned: u64,
    /// Condemned, still unreferenced, but the grace period is not over.
    pub packs_waiting: u64,
    pub packs_deleted: u64,
    pub bytes_deleted: u64,
    /// Condemned earlier but referenced again (by a backup that committed
    /// meanwhile): kept.
    pub packs_rescued: u64,
    /// Index files written / removed by the rewrite.
    pub indexes_written: u64,
    pub indexes_removed: u64,
}

impl fmt::Display for PruneReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} packs ({} bytes), {} referenced",
            self.packs_total, self.bytes_total, self.packs_referenced
        )?;
        writeln!(
            f,
            "deleted {} packs ({} bytes); condemned {} ({} bytes); {} waiting for the grace period; {} rescued",
            self.packs_deleted,
            self.bytes_deleted,
            self.packs_condemned,
            self.bytes_condemned,
            self.packs_waiting,
            self.packs_rescued
        )
    }
}

/// Every blob any snapshot references.
///
/// # Errors
/// Any failure to read a snapshot or tree: with unknown references nothing
/// may be deleted.
fn referenced_blobs(repo: &Repository) -> Result<(usize, HashSet<(BlobType, Id)>)> {
    let snapshots = repo.snapshots().map_err(|e| e.context("prune needs every snapshot"))?;
    let mut seen = HashSet::new();
    let mut stack: Vec<Id> = Vec::new();
    for (_, snap) in &snapshots {
        stack.extend(snap.roots.iter().map(|r| r.tree));
    }
    while let Some(tree_id) = stack.pop() {
        if !seen.insert((BlobType::Tree, tree_id)) {
            continue;
        }
        let tree = repo
            .tree(&tree_id)
            .map_err(|e| e.context("prune needs every folder listing (run check)"))?;
        for node in tree.nodes {
            match node.kind {
                NodeKind::File => {
                    for id in node.content {
                        seen.insert((BlobType::Data, id));
                    }
                }
                NodeKind::Dir => stack.extend(node.subtree),
                NodeKind::Symlink => {}
            }
        }
    }
    Ok((snapshots.len(), seen))
}

/// Deletes unreferenced packs safely (see the module docs).
///
/// # Errors
/// `InvalidInput` when `grace` is below [`MIN_PRUNE_GRACE`], or when the
/// prune would delete or condemn more than half of the stored bytes (or
/// anything while no snapshot exists) and `confirm_large` is false — nothing
/// is changed then; `Integrity`/`NotFound` when a snapshot or tree cannot be
/// read (nothing is changed); backend errors.
pub fn prune(repo: &mut Repository, opts: &PruneOptions) -> Result<PruneReport> {
    if opts.grace < MIN_PRUNE_GRACE {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("the prune grace period must be at least {} hours", MIN_PRUNE_GRACE.as_secs() / 3600),
        ));
    }
    repo.refresh()?;
    let (snapshot_count, referenced) = referenced_blobs(repo)?;

    let listed: HashMap<Id, u64> = repo
        .backend()
        .list(FileKind::Pack)?
        .into_iter()
        .map(|o| (o.id, o.size))
        .collect();
    // Which packs hold a referenced blob (by the index's chosen copy).
    let mut used: HashSet<Id> = HashSet::new();
    repo.index().for_each(|t, id, loc| {
        if referenced.contains(&(t, id)) {
            used.insert(loc.pack);
        }
    })?;
    let condemned = repo.condemned()?;

    let mut report = PruneReport {
        packs_total: listed.len() as u64,
        bytes_total: listed.values().sum(),
        ..PruneReport::default()
    };
    let mut to_condemn = Vec::new();
    let mut to_delete = Vec::new();
    let mut rescued = Vec::new();
    let grace_ms = opts.grace.as_millis() as i64;
    let mut packs: Vec<(&Id, &u64)> = listed.iter().collect();
    packs.sort();
    for (pack, size) in packs {
        let since = condemned.get(pack).copied();
        if used.contains(pack) {
            report.packs_referenced += 1;
            if since.is_some() {
                rescued.push(*pack);
            }
            continue;
        }
        match since {
            None => {
                to_condemn.push(*pack);
                report.bytes_condemned += size;
            }
            Some(since) if since <= opts.now - grace_ms => {
                to_delete.push(*pack);
                report.bytes_deleted += size;
            }
            Some(_) => report.packs_waiting += 1,
        }
    }
    report.packs_condemned = to_condemn.len() as u64;
    report.packs_deleted = to_delete.len() as u64;
    report.packs_rescued = rescued.len() as u64;

    let going = report.bytes_condemned + report.bytes_deleted;
    let implausible = (report.bytes_total > 0 && going * 2 > report.bytes_total)
        || (snapshot_count == 0 && !listed.is_empty());
    if implausible && !opts.confirm_large && (going > 0) {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!(
                "prune would remove {going} of {} stored bytes ({}%){}; \
                 if that is intended, confirm it",
                report.bytes_total,
                going * 100 / report.bytes_total.max(1),
                if snapshot_count == 0 { " and no snapshot exists" } else { "" }
            ),
        ));
    }

    if to_delete.is_empty() && rescued.is_empty() {
        // Only new condemnations: one small index file records them.
        if !to_condemn.is_empty() {
            let mut file = IndexFile::new(Vec::new());
            file.condemned = to_condemn
                .iter()
                .map(|&pack| Condemned { pack, since: opts.now })
                .collect();
            repo.save_index_file(file)?;
            report.indexes_written += 1;
        }
        return Ok(report);
    }

    // Rewrite: new index files naming every pack that stays, with the
    // condemned records that still hold; then delete the packs; then the
    // old index files. A crash between steps leaves a repository that the
    // next prune finishes (old and new index files overlap harmlessly).
    let deleting: HashSet<Id> = to_delete.iter().copied().collect();
    let rescued: HashSet<Id> = rescued.into_iter().collect();
    let mut by_pack: HashMap<Id, IndexPack> = HashMap::new();
    repo.index().for_each(|_, _, loc| {
        if deleting.contains(&loc.pack) || !repo.is_indexed(&loc.pack).unwrap_or(false) {
            return;
        }
        by_pack
            .entry(loc.pack)
            .or_insert_with(|| IndexPack {
                id: loc.pack,
                salt: loc.salt,
                blobs: Vec::new(),
            })
            .blobs
            .push(loc.entry);
    })?;
    let mut keep_condemned: Vec<Condemned> = condemned
        .iter()
        .filter(|(pack, _)| !deleting.contains(pack) && !rescued.contains(pack) && listed.contains_key(pack))
        .map(|(&pack, &since)| Condemned { pack, since })
        .collect();
    keep_condemned.extend(to_condemn.iter().map(|&pack| Condemned { pack, since: opts.now }));
    keep_condemned.sort_by_key(|c| c.pack);
    let mut packs: Vec<IndexPack> = by_pack.into_values().collect();
    packs.sort_by_key(|p| p.id);
    for p in &mut packs {
        p.blobs.sort_by_key(|e| e.offset);
    }

    let old_files = repo.loaded_index_files();
    let mut files = Vec::new();
    let mut current = IndexFile::new(Vec::new());
    let mut blobs_in_current = 0;
    for pack in packs {
        blobs_in_current += pack.blobs.len();
        current.packs.push(pack);
        if blobs_in_current >= BLOBS_PER_INDEX_FILE {
            files.push(std::mem::replace(&mut current, IndexFile::new(Vec::new())));
            blobs_in_current = 0;
        }
    }
    current.condemned = keep_condemned;
    if !current.packs.is_empty() || !current.condemned.is_empty() || files.is_empty() {
        files.push(current);
    }
    let mut written = HashSet::new();
    for file in files {
        written.insert(repo.save_index_file(file)?);
        report.indexes_written += 1;
    }
    for pack in &to_delete {
        match repo.backend().remove(FileKind::Pack, pack) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    for old in old_files {
        if written.contains(&old) {
            continue;
        }
        match repo.backend().remove(FileKind::Index, &old) {
            Ok(()) => report.indexes_removed += 1,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    repo.refresh()?;
    Ok(report)
}

/// Step 3 of the protocol, run by `backup` just before it stores its
/// snapshot: reload the index (learning of condemnations since the backup
/// began) and make sure every pack the snapshot depends on exists and
/// cannot be deleted before the commit lands.
///
/// # Errors
/// `Storage` naming the pack when it is gone or condemned too long ago; the
/// backup should be run again (it then stores those blobs anew).
pub(crate) fn check_packs_before_commit(repo: &mut Repository, used: &HashSet<Id>) -> Result<()> {
    repo.refresh()?;
    let condemned = repo.condemned()?;
    let limit = now_ms() - (MIN_PRUNE_GRACE - COMMIT_MARGIN).as_millis() as i64;
    let risky: Vec<&Id> = used
        .iter()
        .filter(|p| condemned.get(p).is_some_and(|&since| since <= limit))
        .collect();
    if let Some(pack) = risky.first() {
        return Err(Error::new(
            ErrorKind::Storage,
            format!(
                "pack {pack} this backup depends on is about to be pruned; run the backup again"
            ),
        ));
    }
    if !used.is_empty() {
        let listed: HashSet<Id> = repo
            .backend()
            .list(FileKind::Pack)?
            .into_iter()
            .map(|o| o.id)
            .collect();
        if let Some(gone) = used.iter().find(|p| !listed.contains(p)) {
            return Err(Error::new(
                ErrorKind::Storage,
                format!("pack {gone} this backup depends on was deleted meanwhile; run the backup again"),
            ));
        }
    }
    Ok(())
}
