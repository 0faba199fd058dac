//! `check`: is every snapshot restorable? With `read_data`, is every stored
//! byte authentic? Damage is reported with the files it costs.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::rc::Rc;

use serde::Serialize;

use crate::backend::FileKind;
use crate::blob::BlobType;
use crate::error::{ErrorKind, Result};
use crate::id::Id;
use crate::pack::{self, PackEntry};
use crate::repository::Repository;
use crate::tree::NodeKind;

/// How thoroughly to check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Download every pack and authenticate every blob in it (slow: reads
    /// the whole repository). Without it, trees are read and every data blob
    /// is checked to be indexed in a pack that exists and is long enough.
    pub read_data: bool,
}

/// What kind of damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// An index file fails authentication or does not parse.
    DamagedIndex,
    /// A snapshot file fails authentication or does not parse.
    DamagedSnapshot,
    /// An index names a pack the storage does not have.
    MissingPack,
    /// A pack is shorter than its index entries say.
    TruncatedPack,
    /// A pack's bytes do not hash to its id, or its header is damaged.
    DamagedPack,
    /// A blob fails authentication or does not match its id.
    DamagedBlob,
    /// A tree or file names a blob no index knows.
    MissingBlob,
    /// A folder listing cannot be read.
    DamagedTree,
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProblemKind::DamagedIndex => "damaged index",
            ProblemKind::DamagedSnapshot => "damaged snapshot",
            ProblemKind::MissingPack => "missing pack",
            ProblemKind::TruncatedPack => "truncated pack",
            ProblemKind::DamagedPack => "damaged pack",
            ProblemKind::DamagedBlob => "damaged blob",
            ProblemKind::MissingBlob => "missing blob",
            ProblemKind::DamagedTree => "damaged tree",
        })
    }
}

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct CheckProblem {
    pub kind: ProblemKind,
    /// What is damaged, e.g. `pack 1a2b3c4d` or `data blob 5e6f7a8b`.
    pub subject: String,
    pub detail: String,
}

/// A file (or folder) that cannot be restored from a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AffectedFile {
    pub snapshot: Id,
    /// The snapshot's time, Unix milliseconds.
    pub snapshot_time: i64,
    /// The original absolute path.
    pub path: String,
    pub reason: String,
}

/// What `check` found. `Display` gives the text `coffer check` prints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub snapshots: u64,
    /// Distinct trees read.
    pub trees: u64,
    /// Distinct data blobs referenced.
    pub data_blobs: u64,
    /// Packs in storage.
    pub packs: u64,
    /// Packs downloaded and authenticated (`read_data`).
    pub packs_read: u64,
    /// Packs in storage no index file names (left by interrupted backups;
    /// their headers are read on open and the next backup indexes them). Not
    /// an error; a damaged one shows up with `read_data`.
    pub unindexed_packs: u64,
    /// Sorted by kind, then subject.
    pub problems: Vec<CheckProblem>,
    /// Sorted by snapshot time, snapshot, path.
    pub affected: Vec<AffectedFile>,
}

impl CheckReport {
    /// Whether nothing is damaged.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty() && self.affected.is_empty()
    }
}

pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub(crate) fn short(id: &Id) -> String {
    id.to_hex()[..8].to_owned()
}

/// `2023-11-14T22:13:20Z` from Unix milliseconds (UTC; proleptic Gregorian).
pub(crate) fn format_time(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "checked {}, {}, {}, {}",
            plural(self.snapshots as usize, "snapshot", "snapshots"),
            plural(self.trees as usize, "tree", "trees"),
            plural(self.data_blobs as usize, "data blob", "data blobs"),
            plural(self.packs as usize, "pack", "packs"),
        )?;
        if self.packs_read > 0 || self.packs == 0 {
            writeln!(f, " ({} read and authenticated)", self.packs_read)?;
        } else {
            writeln!(f, " (pack contents not read)")?;
        }
        if self.unindexed_packs > 0 {
            writeln!(
                f,
                "{} in no index file (left by an interrupted backup; the next backup indexes them)",
                plural(self.unindexed_packs as usize, "pack is", "packs are")
            )?;
        }
        if self.is_ok() {
            return writeln!(f, "no errors found");
        }
        writeln!(f, "{}:", plural(self.problems.len(), "error", "errors"))?;
        for p in &self.problems {
            writeln!(f, "  {}: {}: {}", p.kind, p.subject, p.detail)?;
        }
        if !self.affected.is_empty() {
            writeln!(
                f,
                "{} cannot be restored:",
                plural(self.affected.len(), "file or folder", "files or folders")
            )?;
            for a in &self.affected {
                writeln!(
                    f,
                    "  snapshot {} ({}) {}: {}",
                    short(&a.snapshot),
                    format_time(a.snapshot_time),
                    a.path,
                    a.reason
                )?;
            }
        }
        Ok(())
    }
}

/// What is known to be wrong with stored data, keyed for the tree walk.
#[derive(Default)]
pub(crate) struct Damage {
    /// Packs that are missing or too short, with the reason.
    pub packs: HashMap<Id, String>,
    /// Blobs that fail authentication, with the reason.
    pub blobs: HashMap<(BlobType, Id), String>,
}

impl Damage {
    /// Why a data blob cannot be read, or `None` when it can (as far as is
    /// known).
    pub(crate) fn data_blob(
        &self,
        repo: &Repository,
        id: &Id,
    ) -> Result<Option<(String, Option<Id>)>> {
        let Some(loc) = repo.blob_location(BlobType::Data, id)? else {
            return Ok(Some((format!("data blob {} is in no index", short(id)), None)));
        };
        if let Some(why) = self.packs.get(&loc.pack) {
            return Ok(Some((
                format!("data blob {} is in pack {}, which {why}", short(id), short(&loc.pack)),
                Some(loc.pack),
            )));
        }
        Ok(self.blobs.get(&(BlobType::Data, *id)).map(|_| {
            (
                format!("data blob {} in pack {} is damaged", short(id), short(&loc.pack)),
                Some(loc.pack),
            )
        }))
    }
}

/// Problems collected while checking, deduplicated.
#[derive(Default)]
struct Findings {
    problems: BTreeMap<(ProblemKind, String), String>,
}

impl Findings {
    fn add(&mut self, kind: ProblemKind, subject: String, detail: String) {
        self.problems.entry((kind, subject)).or_insert(detail);
    }
}

/// Checks the repository. See [`CheckOptions`] for what is read.
///
/// # Errors
/// Only backend failures that are not damage (network, storage, access);
/// damage of any kind is reported in the [`CheckReport`].
pub fn check(repo: &Repository, opts: CheckOptions) -> Result<CheckReport> {
    let mut report = CheckReport::default();
    let mut findings = Findings::default();
    for (id, why) in repo.damaged_indexes() {
        findings.add(ProblemKind::DamagedIndex, format!("index {}", short(id)), why.clone());
    }

    let listed: BTreeMap<Id, u64> = repo
        .backend()
        .list(FileKind::Pack)?
        .into_iter()
        .map(|o| (o.id, o.size))
        .collect();
    report.packs = listed.len() as u64;
    // Per indexed pack: blob count and where its last blob ends.
    let mut indexed: HashMap<Id, (usize, u64)> = HashMap::new();
    repo.index().for_each(|_, _, loc| {
        let slot = indexed.entry(loc.pack).or_insert((0, 0));
        slot.0 += 1;
        slot.1 = slot.1.max(loc.entry.offset + loc.entry.length);
    })?;
    for id in listed.keys() {
        if !repo.is_indexed(id)? {
            report.unindexed_packs += 1;
        }
    }

    let mut damage = Damage::default();
    let mut indexed: Vec<(Id, (usize, u64))> = indexed.into_iter().collect();
    indexed.sort_by_key(|(id, _)| *id);
    for (pack, (count, end)) in &indexed {
        let (count, end) = (*count, *end);
        match listed.get(pack) {
            None => {
                damage.packs.insert(*pack, "is missing".into());
                findings.add(
                    ProblemKind::MissingPack,
                    format!("pack {}", short(pack)),
                    format!(
                        "named by the index with {}, not in storage",
                        plural(count, "blob", "blobs")
                    ),
                );
            }
            Some(&size) if size < end => {
                damage.packs.insert(*pack, "is truncated".into());
                findings.add(
                    ProblemKind::TruncatedPack,
                    format!("pack {}", short(pack)),
                    format!("{size} bytes, the index needs at least {end}"),
                );
            }
            Some(_) => {}
        }
    }

    if opts.read_data {
        for (pack, _) in listed.iter() {
            if damage.packs.contains_key(pack) {
                continue;
            }
            read_pack(repo, pack, &mut damage, &mut findings)?;
            report.packs_read += 1;
        }
    }

    let mut snapshots = Vec::new();
    let mut listed_snapshots = repo.backend().list(FileKind::Snapshot)?;
    listed_snapshots.sort_by_key(|o| o.id);
    for info in listed_snapshots {
        let read = repo.backend().get(FileKind::Snapshot, &info.id).and_then(|bytes| {
            if Id::hash(&bytes) != info.id {
                return Err(crate::error::Error::integrity("contents do not match the id"));
            }
            crate::snapshot::Snapshot::decrypt(repo.keys(), &bytes)
        });
        match read {
            Ok(snap) => snapshots.push((info.id, snap)),
            Err(e) if is_damage(e.kind()) => findings.add(
                ProblemKind::DamagedSnapshot,
                format!("snapshot {}", short(&info.id)),
                e.message().to_owned(),
            ),
            Err(e) => return Err(e),
        }
    }
    snapshots.sort_by(|(a_id, a), (b_id, b)| a.time.cmp(&b.time).then(a_id.cmp(b_id)));
    report.snapshots = snapshots.len() as u64;

    let mut walker = Walker {
        repo,
        damage: &damage,
        findings: &mut findings,
        memo: HashMap::new(),
        data_blobs: HashSet::new(),
    };
    let mut affected = BTreeSet::new();
    for (id, snap) in &snapshots {
        for root in &snap.roots {
            for (rel, reason) in walker.walk(&root.tree)?.iter() {
                let path = if rel.is_empty() {
                    root.path.clone()
                } else {
                    format!("{}/{rel}", root.path.trim_end_matches('/'))
                };
                affected.insert(AffectedFile {
                    snapshot: *id,
                    snapshot_time: snap.time,
                    path,
                    reason: reason.clone(),
                });
            }
        }
    }
    report.trees = walker.memo.len() as u64;
    report.data_blobs = walker.data_blobs.len() as u64;
    let mut affected: Vec<AffectedFile> = affected.into_iter().collect();
    affected.sort_by(|a, b| {
        (a.snapshot_time, a.snapshot, &a.path).cmp(&(b.snapshot_time, b.snapshot, &b.path))
    });
    report.affected = affected;
    report.problems = findings
        .problems
        .into_iter()
        .map(|((kind, subject), detail)| CheckProblem {
            kind,
            subject,
            detail,
        })
        .collect();
    Ok(report)
}

/// Whether an error means the data is damaged (report it) rather than that
/// the storage could not be asked (stop).
pub(crate) fn is_damage(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Integrity | ErrorKind::NotFound | ErrorKind::InvalidInput
    )
}

/// Downloads one pack and authenticates its header and every blob.
fn read_pack(
    repo: &Repository,
    pack: &Id,
    damage: &mut Damage,
    findings: &mut Findings,
) -> Result<()> {
    let subject = format!("pack {}", short(pack));
    let bytes = match repo.backend().get(FileKind::Pack, pack) {
        Ok(bytes) => bytes,
        Err(e) if is_damage(e.kind()) => {
            damage.packs.insert(*pack, format!("cannot be read ({e})"));
            findings.add(ProblemKind::DamagedPack, subject, e.to_string());
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    if Id::hash(&bytes) != *pack {
        findings.add(
            ProblemKind::DamagedPack,
            subject.clone(),
            "contents do not match the id".into(),
        );
    }
    // The header lists every blob; when it is damaged, the index's entries
    // for this pack (what restore would use) are checked instead.
    let mut entries: Vec<(PackEntry, [u8; crate::crypto::SALT_LEN])> =
        match pack::read_header(repo.keys(), &bytes) {
            Ok((salt, header)) => header.into_iter().map(|e| (e, salt)).collect(),
            Err(e) => {
                findings.add(
                    ProblemKind::DamagedPack,
                    subject.clone(),
                    format!("header: {}", e.message()),
                );
                let mut from_index = Vec::new();
                repo.index().for_each(|_, _, loc| {
                    if loc.pack == *pack {
                        from_index.push((loc.entry, loc.salt));
                    }
                })?;
                from_index
            }
        };
    entries.sort_by_key(|(e, _)| e.offset);
    for (entry, salt) in entries {
        let name = format!("{} blob {}", type_name(entry.blob_type), short(&entry.id));
        let sealed = usize::try_from(entry.offset)
            .ok()
            .zip(usize::try_from(entry.offset + entry.length).ok())
            .and_then(|(a, b)| bytes.get(a..b));
        let outcome = match sealed {
            None => Err("lies past the end of the pack".to_owned()),
            Some(sealed) => pack::open_blob(repo.keys(), &salt, &entry, sealed)
                .map_err(|e| e.to_string())
                .and_then(|plain| {
                    if repo.keys().blob_id(&plain) == entry.id {
                        Ok(())
                    } else {
                        Err("contents do not match the id".to_owned())
                    }
                }),
        };
        if let Err(why) = outcome {
            damage.blobs.insert((entry.blob_type, entry.id), why.clone());
            findings.add(ProblemKind::DamagedBlob, format!("{subject}: {name}"), why);
        }
    }
    Ok(())
}

pub(crate) fn type_name(t: BlobType) -> &'static str {
    match t {
        BlobType::Data => "data",
        BlobType::Tree => "tree",
    }
}

/// Walks trees once each, remembering which paths under each tree are lost.
struct Walker<'a> {
    repo: &'a Repository,
    damage: &'a Damage,
    findings: &'a mut Findings,
    /// Tree id → (path relative to the tree, reason) of each lost entry.
    memo: HashMap<Id, Rc<Vec<(String, String)>>>,
    data_blobs: HashSet<Id>,
}

impl Walker<'_> {
    fn walk(&mut self, tree_id: &Id) -> Result<Rc<Vec<(String, String)>>> {
        if let Some(done) = self.memo.get(tree_id) {
            return Ok(done.clone());
        }
        let mut lost = Vec::new();
        let loaded = match self.repo.blob_location(BlobType::Tree, tree_id)? {
            None => {
                self.findings.add(
                    ProblemKind::MissingBlob,
                    format!("tree blob {}", short(tree_id)),
                    "no index names it".into(),
                );
                Err((format!("folder listing (tree {}) is in no index", short(tree_id)), None))
            }
            Some(loc) => match self
                .repo
                .read_blob_at(&loc)
                .and_then(|bytes| crate::tree::Tree::from_bytes(&bytes))
            {
                Ok(tree) => Ok(tree),
                Err(e) if is_damage(e.kind()) => Err((
                    format!(
                        "folder listing (tree {}) in pack {} is damaged",
                        short(tree_id),
                        short(&loc.pack)
                    ),
                    Some(format!("in pack {}: {}", short(&loc.pack), e.message())),
                )),
                Err(e) => return Err(e),
            },
        };
        match loaded {
            Err((reason, detail)) => {
                if let Some(detail) = detail {
                    self.findings.add(
                        ProblemKind::DamagedTree,
                        format!("tree blob {}", short(tree_id)),
                        detail,
                    );
                }
                lost.push((String::new(), reason));
            }
            Ok(tree) => {
                for node in &tree.nodes {
                    match node.kind {
                        NodeKind::File => {
                            let mut why = None;
                            for id in &node.content {
                                self.data_blobs.insert(*id);
                                if let Some((reason, pack)) = self.damage.data_blob(self.repo, id)? {
                                    if pack.is_none() {
                                        self.findings.add(
                                            ProblemKind::MissingBlob,
                                            format!("data blob {}", short(id)),
                                            "no index names it".into(),
                                        );
                                    }
                                    why.get_or_insert(reason);
                                }
                            }
                            if let Some(why) = why {
                                lost.push((node.name.clone(), why));
                            }
                        }
                        NodeKind::Dir => match node.subtree {
                            Some(sub) => {
                                for (rel, why) in self.walk(&sub)?.iter() {
                                    let path = if rel.is_empty() {
                                        node.name.clone()
                                    } else {
                                        format!("{}/{rel}", node.name)
                                    };
                                    lost.push((path, why.clone()));
                                }
                            }
                            None => lost.push((node.name.clone(), "folder without a listing".into())),
                        },
                        NodeKind::Symlink => {}
                    }
                }
            }
        }
        let lost = Rc::new(lost);
        self.memo.insert(*tree_id, lost.clone());
        Ok(lost)
    }
}

#[cfg(test)]
mod fixtures;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_format() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_700_000_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(format_time(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(format_time(-1), "1969-12-31T23:59:59Z");
    }
}
