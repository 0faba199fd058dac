//! An open repository: a backend, the keys, and the index in memory.

use std::collections::HashSet;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use crate::backend::{Backend, FileKind};
use crate::blob::BlobType;
use crate::crypto::{DataKey, Keys};
use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;
use crate::index::{BlobLocation, Index, IndexFile, IndexPack};
use crate::pack;
use crate::snapshot::Snapshot;
use crate::tree::Tree;

/// Page cache of the on-disk blob index opened by
/// [`Repository::open_with_cache`]: 32 MiB.
pub const DEFAULT_INDEX_CACHE_BYTES: usize = 32 << 20;

/// A repository opened with its data key.
pub struct Repository {
    backend: Arc<dyn Backend>,
    keys: Keys,
    index: Index,
    loaded_indexes: HashSet<Id>,
    /// Index files skipped by a tolerant open, with the reason.
    damaged_indexes: Vec<(Id, String)>,
    tolerant: bool,
    /// Packs no index file names, adopted from their headers.
    adopted: Vec<IndexPack>,
    /// Unindexed packs whose header could not be read.
    unreadable_packs: HashSet<Id>,
    /// Stored objects of another key sharing this storage during a key
    /// switch: never read as indexes or snapshots, never adopted.
    ignored: HashSet<(FileKind, Id)>,
    /// Opened knowing that another key's objects share the storage: no
    /// "wrong key" verdict from packs that do not open.
    mixed: bool,
}

impl fmt::Debug for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository")
            .field("loaded_indexes", &self.loaded_indexes.len())
            .finish_non_exhaustive()
    }
}

/// Reads a whole file and checks that its id is the hash of its bytes.
fn get_verified(backend: &dyn Backend, kind: FileKind, id: &Id) -> Result<Vec<u8>> {
    let bytes = backend.get(kind, id)?;
    if Id::hash(&bytes) != *id {
        return Err(Error::integrity(format!(
            "{kind}/{id}: contents do not match the id"
        )));
    }
    Ok(bytes)
}

impl Repository {
    /// Opens a repository, reading every index file into memory. An empty
    /// backend is an empty repository.
    ///
    /// # Errors
    /// Backend errors; `Integrity` when an index file is damaged or was
    /// written with another data key.
    pub fn open(backend: Arc<dyn Backend>, key: &DataKey) -> Result<Repository> {
        let mut repo = Repository {
            backend,
            keys: Keys::derive(key),
            index: Index::default(),
            loaded_indexes: HashSet::new(),
            damaged_indexes: Vec::new(),
            tolerant: false,
            adopted: Vec::new(),
            unreadable_packs: HashSet::new(),
            ignored: HashSet::new(),
            mixed: false,
        };
        repo.refresh()?;
        Ok(repo)
    }

    /// Like [`Repository::open`], but the blob index lives in `cache_dir`
    /// (created if missing) instead of memory, so memory stays bounded by
    /// `DEFAULT_INDEX_CACHE_BYTES` whatever the repository's size, and a
    /// later open downloads only index files it has not seen. Use one
    /// folder per repository on this device; it holds no secret beyond what
    /// the device already has (blob and pack ids, no keys, no contents).
    ///
    /// # Errors
    /// As [`Repository::open`]; `Io` when the cache cannot be opened (for
    /// example another process has it open).
    pub fn open_with_cache(
        backend: Arc<dyn Backend>,
        key: &DataKey,
        cache_dir: &Path,
    ) -> Result<Repository> {
        Repository::open_with_cache_size(backend, key, cache_dir, DEFAULT_INDEX_CACHE_BYTES)
    }

    /// [`Repository::open_with_cache`] with the index's page cache set to
    /// `cache_bytes`: the knob that sets peak memory.
    ///
    /// # Errors
    /// As [`Repository::open_with_cache`].
    pub fn open_with_cache_size(
        backend: Arc<dyn Backend>,
        key: &DataKey,
        cache_dir: &Path,
        cache_bytes: usize,
    ) -> Result<Repository> {
        let keys = Keys::derive(key);
        std::fs::create_dir_all(cache_dir)
            .map_err(|e| Error::io(format!("creating {}", cache_dir.display()), e))?;
        let path = cache_dir.join(format!("index-{}.redb", keys.cache_name()));
        let index = Index::on_disk(&path, cache_bytes)?;
        let mut repo = Repository {
            backend,
            keys,
            loaded_indexes: index.cached_index_files()?,
            index,
            damaged_indexes: Vec::new(),
            tolerant: false,
            adopted: Vec::new(),
            unreadable_packs: HashSet::new(),
            ignored: HashSet::new(),
            mixed: false,
        };
        repo.refresh()?;
        Ok(repo)
    }

    /// Opens a repository even when some index files are damaged, for
    /// `check` and `repair`: those files are skipped and listed by
    /// [`Repository::damaged_indexes`].
    ///
    /// # Errors
    /// Backend errors; `Integrity` ("wrong key") when index files exist but
    /// not one of them opens with this key.
    pub fn open_tolerant(backend: Arc<dyn Backend>, key: &DataKey) -> Result<Repository> {
        let mut repo = Repository {
            backend,
            keys: Keys::derive(key),
            index: Index::default(),
            loaded_indexes: HashSet::new(),
            damaged_indexes: Vec::new(),
            tolerant: true,
            adopted: Vec::new(),
            unreadable_packs: HashSet::new(),
            ignored: HashSet::new(),
            mixed: false,
        };
        repo.refresh()?;
        if repo.loaded_indexes.is_empty() && !repo.damaged_indexes.is_empty() {
            return Err(Error::integrity(
                "wrong key: no index file opens with this data key",
            ));
        }
        Ok(repo)
    }

    /// Like [`Repository::open`], but the objects in `ignore` are treated as
    /// absent: such index files are not read, such snapshots are not listed
    /// by [`Repository::snapshots`] and such packs are never adopted. For a
    /// key switch, when the objects of the old key and the new one share one
    /// storage (see `docs/format.md`, "Switching the data key"). Since more
    /// objects of the other key may appear meanwhile, packs that do not open
    /// are passed over without the "wrong key" verdict of a strict open
    /// (index files that do not open still fail it).
    ///
    /// # Errors
    /// As [`Repository::open`], for the objects not ignored.
    pub fn open_ignoring(
        backend: Arc<dyn Backend>,
        key: &DataKey,
        ignore: &HashSet<(FileKind, Id)>,
    ) -> Result<Repository> {
        let mut repo = Repository::unopened(backend, Keys::derive(key), Index::default(), HashSet::new());
        repo.ignored = ignore.clone();
        repo.mixed = true;
        repo.refresh()?;
        Ok(repo)
    }

    /// [`Repository::open_ignoring`] with the blob index on disk, as
    /// [`Repository::open_with_cache`].
    ///
    /// # Errors
    /// As [`Repository::open_with_cache`].
    pub fn open_with_cache_ignoring(
        backend: Arc<dyn Backend>,
        key: &DataKey,
        cache_dir: &Path,
        ignore: &HashSet<(FileKind, Id)>,
    ) -> Result<Repository> {
        let keys = Keys::derive(key);
        std::fs::create_dir_all(cache_dir)
            .map_err(|e| Error::io(format!("creating {}", cache_dir.display()), e))?;
        let path = cache_dir.join(format!("index-{}.redb", keys.cache_name()));
        let index = Index::on_disk(&path, DEFAULT_INDEX_CACHE_BYTES)?;
        let loaded = index.cached_index_files()?;
        let mut repo = Repository::unopened(backend, keys, index, loaded);
        repo.ignored = ignore.clone();
        repo.mixed = true;
        repo.refresh()?;
        Ok(repo)
    }

    fn unopened(backend: Arc<dyn Backend>, keys: Keys, index: Index, loaded: HashSet<Id>) -> Repository {
        Repository {
            backend,
            keys,
            index,
            loaded_indexes: loaded,
            damaged_indexes: Vec::new(),
            tolerant: false,
            adopted: Vec::new(),
            unreadable_packs: HashSet::new(),
            ignored: HashSet::new(),
            mixed: false,
        }
    }

    /// Index files a tolerant open skipped, with the reason, sorted by id.
    pub fn damaged_indexes(&self) -> &[(Id, String)] {
        &self.damaged_indexes
    }

    /// Loads index files written since the repository was opened (e.g. by
    /// another device).
    ///
    /// # Errors
    /// As [`Repository::open`].
    pub fn refresh(&mut self) -> Result<()> {
        let mut listed = self.backend.list(FileKind::Index)?;
        listed.retain(|o| !self.ignored.contains(&(FileKind::Index, o.id)));
        listed.sort_by_key(|o| o.id);
        let present: HashSet<Id> = listed.iter().map(|o| o.id).collect();
        if self.loaded_indexes.iter().any(|id| !present.contains(id)) {
            // An index file went away (prune rewrote the indexes): what it
            // named may be gone too, so start over.
            self.index.clear()?;
            self.loaded_indexes.clear();
            self.adopted.clear();
            self.unreadable_packs.clear();
        }
        for info in listed {
            if self.loaded_indexes.contains(&info.id) {
                continue;
            }
            if self.damaged_indexes.iter().any(|(id, _)| *id == info.id) {
                continue;
            }
            let bytes = self.backend.get(FileKind::Index, &info.id)?;
            let file = if Id::hash(&bytes) != info.id {
                Err(Error::integrity("contents do not match the id"))
            } else {
                IndexFile::decrypt(&self.keys, &bytes)
            };
            let file = match file {
                Ok(file) => file,
                Err(e) if self.tolerant && e.kind() == ErrorKind::Integrity => {
                    self.damaged_indexes.push((info.id, e.message().to_owned()));
                    continue;
                }
                Err(e) => {
                    return Err(e.context(format!("{}/{}", FileKind::Index, info.id)));
                }
            };
            self.index.add_index_file(&info.id, &file)?;
            self.loaded_indexes.insert(info.id);
        }
        // Adopted packs an index now names are ordinary ones.
        let mut still_adopted = Vec::new();
        for pack in std::mem::take(&mut self.adopted) {
            if !self.index.has_pack(&pack.id)? {
                still_adopted.push(pack);
            }
        }
        self.adopted = still_adopted;
        self.adopt_unindexed_packs()
    }

    /// Packs in storage that no index file names were uploaded by a backup
    /// that stopped before writing its index. Their headers (two range
    /// reads) make their blobs usable, so the next backup does not upload
    /// them again; the next index this repository writes names them.
    fn adopt_unindexed_packs(&mut self) -> Result<()> {
        let mut listed = self.backend.list(FileKind::Pack)?;
        listed.retain(|o| !self.ignored.contains(&(FileKind::Pack, o.id)));
        listed.sort_by_key(|o| o.id);
        let (mut tried, mut adopted) = (0, 0);
        for info in listed {
            if self.adopted.iter().any(|p| p.id == info.id)
                || self.index.has_pack(&info.id)?
                || self.unreadable_packs.contains(&info.id)
            {
                continue;
            }
            tried += 1;
            match pack::read_remote_header(&self.keys, &*self.backend, &info.id, info.size) {
                Ok((salt, blobs)) => {
                    let pack = IndexPack {
                        id: info.id,
                        salt,
                        blobs,
                    };
                    self.index.add_adopted(&pack);
                    self.adopted.push(pack);
                    adopted += 1;
                }
                // Damaged, or vanished meanwhile (pruned): check reports it.
                Err(e) if matches!(e.kind(), ErrorKind::Integrity | ErrorKind::NotFound | ErrorKind::InvalidInput) => {
                    self.unreadable_packs.insert(info.id);
                }
                Err(e) => return Err(e),
            }
        }
        if !self.tolerant && !self.mixed && tried > 0 && adopted == 0 && self.loaded_indexes.is_empty() {
            return Err(Error::integrity(
                "wrong key: no pack or index file opens with this data key",
            ));
        }
        Ok(())
    }

    /// Number of distinct blobs the index knows.
    ///
    /// # Errors
    /// `Io` when the on-disk index cannot be read.
    pub fn blob_count(&self) -> Result<u64> {
        self.index.len()
    }

    /// Packs adopted from their headers that no index file names yet.
    pub fn unindexed_packs(&self) -> usize {
        self.adopted.len()
    }

    /// Whether an index file names `pack`.
    pub(crate) fn is_indexed(&self, pack: &Id) -> Result<bool> {
        self.index.has_pack(pack)
    }

    /// Adopted packs to name in the next index file written.
    pub(crate) fn take_adopted(&mut self) -> Vec<IndexPack> {
        std::mem::take(&mut self.adopted)
    }

    /// The storage this repository uses.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Every snapshot, oldest first (ties broken by id).
    ///
    /// # Errors
    /// Backend errors; `Integrity` when a snapshot file is damaged.
    pub fn snapshots(&self) -> Result<Vec<(Id, Snapshot)>> {
        let mut all = self
            .backend
            .list(FileKind::Snapshot)?
            .into_iter()
            .filter(|info| !self.ignored.contains(&(FileKind::Snapshot, info.id)))
            .map(|info| Ok((info.id, self.snapshot(&info.id)?)))
            .collect::<Result<Vec<_>>>()?;
        all.sort_by(|(a_id, a), (b_id, b)| a.time.cmp(&b.time).then(a_id.cmp(b_id)));
        Ok(all)
    }

    /// One snapshot.
    ///
    /// # Errors
    /// `NotFound` when absent; `Integrity` when damaged.
    pub fn snapshot(&self, id: &Id) -> Result<Snapshot> {
        let bytes = get_verified(&*self.backend, FileKind::Snapshot, id)?;
        Snapshot::decrypt(&self.keys, &bytes).map_err(|e| e.context(format!("snapshot {id}")))
    }

    /// One directory listing, e.g. to browse a snapshot.
    ///
    /// # Errors
    /// `NotFound` when no index names the tree; `Integrity` when damaged.
    pub fn tree(&self, id: &Id) -> Result<Tree> {
        Tree::from_bytes(&self.load_blob(BlobType::Tree, id)?)
            .map_err(|e| e.context(format!("tree {id}")))
    }

    /// Reads a whole pack, authenticates its header and every blob in it,
    /// and checks each blob's id. Returns the number of blobs.
    ///
    /// # Errors
    /// `NotFound` when absent; `Integrity` naming the first damage found.
    pub fn verify_pack(&self, id: &Id) -> Result<usize> {
        let bytes = get_verified(&*self.backend, FileKind::Pack, id)?;
        let (salt, entries) = pack::read_header(&self.keys, &bytes)?;
        for entry in &entries {
            let sealed = &bytes[entry.offset as usize..(entry.offset + entry.length) as usize];
            let plaintext = pack::open_blob(&self.keys, &salt, entry, sealed)
                .map_err(|e| e.context(format!("blob {} in pack {id}", entry.id)))?;
            if self.keys.blob_id(&plaintext) != entry.id {
                return Err(Error::integrity(format!(
                    "blob {} in pack {id}: contents do not match the id",
                    entry.id
                )));
            }
        }
        Ok(entries.len())
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.keys
    }

    pub(crate) fn blob_location(
        &self,
        blob_type: BlobType,
        id: &Id,
    ) -> Result<Option<BlobLocation>> {
        self.index.get(blob_type, id)
    }

    pub(crate) fn index(&self) -> &Index {
        &self.index
    }

    pub(crate) fn has_blob(&self, blob_type: BlobType, id: &Id) -> Result<bool> {
        self.index.contains(blob_type, id)
    }

    /// Where a backup may take `id` from instead of storing it again: its
    /// location, unless it is unknown or in a pack prune has condemned.
    pub(crate) fn dedup_location(&self, blob_type: BlobType, id: &Id) -> Result<Option<BlobLocation>> {
        match self.index.get(blob_type, id)? {
            Some(loc) if self.index.condemned_since(&loc.pack)?.is_none() => Ok(Some(loc)),
            _ => Ok(None),
        }
    }

    /// Every condemned pack and since when (Unix ms).
    pub(crate) fn condemned(&self) -> Result<std::collections::HashMap<Id, i64>> {
        self.index.condemned()
    }

    /// Stores a whole index file (prune's rewrite) and loads it.
    pub(crate) fn save_index_file(&mut self, file: IndexFile) -> Result<Id> {
        let bytes = file.encrypt(&self.keys);
        let id = Id::hash(&bytes);
        self.backend.put(FileKind::Index, &id, &bytes)?;
        self.index.add_index_file(&id, &file)?;
        self.loaded_indexes.insert(id);
        Ok(id)
    }

    /// Ids of the index files loaded.
    pub(crate) fn loaded_index_files(&self) -> Vec<Id> {
        let mut ids: Vec<Id> = self.loaded_indexes.iter().copied().collect();
        ids.sort();
        ids
    }


    /// Reads one blob with a range request, authenticates it and checks its id.
    ///
    /// # Errors
    /// `NotFound` when no index names it; `Integrity` when damaged.
    pub(crate) fn load_blob(&self, blob_type: BlobType, id: &Id) -> Result<Vec<u8>> {
        let loc = self.index.get(blob_type, id)?.ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("no index names {blob_type:?} blob {id}"),
            )
        })?;
        self.read_blob_at(&loc)
            .map_err(|e| e.context(format!("{blob_type:?} blob {id} in pack {}", loc.pack)))
    }

    /// Reads, authenticates and id-checks the blob at `loc`. Messages are
    /// short and name no ids (callers add them): `pack is missing`, `pack is
    /// shorter than the index says`, `authentication failed: …`, `contents do
    /// not match the id`.
    ///
    /// # Errors
    /// `NotFound`, `InvalidInput` (range) or `Integrity` for damage; other
    /// kinds for backend failures.
    pub(crate) fn read_blob_at(&self, loc: &BlobLocation) -> Result<Vec<u8>> {
        let sealed = self
            .backend
            .get_range(FileKind::Pack, &loc.pack, loc.entry.offset, loc.entry.length)
            .map_err(|e| match e.kind() {
                ErrorKind::NotFound => Error::new(ErrorKind::NotFound, "pack is missing"),
                ErrorKind::InvalidInput => Error::new(
                    ErrorKind::InvalidInput,
                    "pack is shorter than the index says",
                ),
                _ => e,
            })?;
        let plaintext = pack::open_blob(&self.keys, &loc.salt, &loc.entry, &sealed)
            .map_err(|e| Error::integrity(e.message().to_owned()))?;
        if self.keys.blob_id(&plaintext) != loc.entry.id {
            return Err(Error::integrity("contents do not match the id"));
        }
        Ok(plaintext)
    }

    /// Stores an index file naming `packs` (which must already be stored) and
    /// adds them to the in-memory index.
    pub(crate) fn save_index(&mut self, packs: Vec<IndexPack>) -> Result<Id> {
        let bytes = IndexFile::new(packs).encrypt(&self.keys);
        let id = Id::hash(&bytes);
        self.backend.put(FileKind::Index, &id, &bytes)?;
        let file = IndexFile::decrypt(&self.keys, &bytes)?;
        self.index.add_index_file(&id, &file)?;
        self.loaded_indexes.insert(id);
        Ok(id)
    }

    /// Stores a snapshot file: the commit point of a backup.
    pub(crate) fn save_snapshot(&self, snapshot: &Snapshot) -> Result<Id> {
        let bytes = snapshot.encrypt(&self.keys);
        let id = Id::hash(&bytes);
        self.backend.put(FileKind::Snapshot, &id, &bytes)?;
        Ok(id)
    }

    /// Every stored object this repository reads as its own: the snapshot
    /// files listed (not ignored; they are not decrypted here), the index
    /// files it loaded, and the listed packs that a loaded index names or
    /// that were adopted from their headers. Packs it cannot read (another
    /// key's, or damaged) are not included. Sorted by kind, then id.
    ///
    /// # Errors
    /// Backend errors.
    pub fn own_objects(&self) -> Result<Vec<(FileKind, Id)>> {
        let mut objects = Vec::new();
        for info in self.backend.list(FileKind::Snapshot)? {
            if !self.ignored.contains(&(FileKind::Snapshot, info.id)) {
                objects.push((FileKind::Snapshot, info.id));
            }
        }
        objects.extend(self.loaded_indexes.iter().map(|id| (FileKind::Index, *id)));
        let adopted: HashSet<Id> = self.adopted.iter().map(|p| p.id).collect();
        for info in self.backend.list(FileKind::Pack)? {
            if self.ignored.contains(&(FileKind::Pack, info.id)) {
                continue;
            }
            if adopted.contains(&info.id) || self.index.has_pack(&info.id)? {
                objects.push((FileKind::Pack, info.id));
            }
        }
        objects.sort();
        Ok(objects)
    }

    /// Encrypts a snapshot without storing it: its file's id and bytes. A
    /// caller that records them can store exactly this file later (storing
    /// an id twice changes nothing), so a retried commit never makes a
    /// second snapshot.
    pub fn seal_snapshot(&self, snapshot: &Snapshot) -> (Id, Vec<u8>) {
        let bytes = snapshot.encrypt(&self.keys);
        (Id::hash(&bytes), bytes)
    }

    /// Decrypts snapshot file bytes made by [`Repository::seal_snapshot`]
    /// (e.g. kept by a caller until its commit).
    ///
    /// # Errors
    /// `Integrity` when they fail authentication under this key.
    pub fn unseal_snapshot(&self, bytes: &[u8]) -> Result<Snapshot> {
        Snapshot::decrypt(&self.keys, bytes)
    }

    /// Packs the index locates some blob in that storage does not list
    /// (deleted since they were indexed or adopted). Sorted.
    ///
    /// # Errors
    /// Backend errors; `Io` when the on-disk index cannot be read.
    pub fn missing_packs(&self) -> Result<Vec<Id>> {
        let listed: HashSet<Id> = self.backend.list(FileKind::Pack)?.into_iter().map(|o| o.id).collect();
        let mut missing = HashSet::new();
        self.index.for_each(|_, _, loc| {
            if !listed.contains(&loc.pack) {
                missing.insert(loc.pack);
            }
        })?;
        let mut missing: Vec<Id> = missing.into_iter().collect();
        missing.sort();
        Ok(missing)
    }

    /// Stores a snapshot: the commit point of a backup or a copy.
    ///
    /// # Errors
    /// Backend errors.
    pub fn store_snapshot(&self, snapshot: &Snapshot) -> Result<Id> {
        self.save_snapshot(snapshot)
    }

    /// Writes index files naming every adopted pack (packs stored without
    /// an index, e.g. by [`crate::SnapshotCopier`] or an interrupted
    /// backup), at most 50 000 blobs per file. Returns the index files
    /// written (none when every pack is indexed).
    ///
    /// # Errors
    /// Backend errors.
    pub fn index_unindexed_packs(&mut self) -> Result<Vec<Id>> {
        const MAX_BLOBS: usize = 50_000;
        let mut written = Vec::new();
        let mut batch: Vec<IndexPack> = Vec::new();
        let mut blobs = 0;
        for pack in self.take_adopted() {
            if !batch.is_empty() && blobs + pack.blobs.len() > MAX_BLOBS {
                written.push(self.save_index(std::mem::take(&mut batch))?);
                blobs = 0;
            }
            blobs += pack.blobs.len();
            batch.push(pack);
        }
        if !batch.is_empty() {
            written.push(self.save_index(batch)?);
        }
        Ok(written)
    }

    /// Whether everything `snapshot` references is here: every tree
    /// reachable from its roots is read and authenticated, and every data
    /// blob a file names is in the index (data blobs are not read).
    /// Returns the first problem, or `None`. Trees in `verified` are
    /// skipped, and trees found complete are added to it, so checking many
    /// snapshots reads each shared folder once.
    ///
    /// # Errors
    /// Backend errors that are not damage (network, storage).
    pub fn find_missing(&self, snapshot: &Snapshot, verified: &mut HashSet<Id>) -> Result<Option<String>> {
        for root in &snapshot.roots {
            if let Some(problem) = self.find_missing_in_tree(&root.tree, verified)? {
                return Ok(Some(format!("{}: {problem}", root.path)));
            }
        }
        Ok(None)
    }

    fn find_missing_in_tree(&self, id: &Id, verified: &mut HashSet<Id>) -> Result<Option<String>> {
        if verified.contains(id) {
            return Ok(None);
        }
        let tree = match self.tree(id) {
            Ok(tree) => tree,
            Err(e) if crate::check::is_damage(e.kind()) => {
                return Ok(Some(format!("tree {id}: {}", e.message())));
            }
            Err(e) => return Err(e),
        };
        for node in &tree.nodes {
            for blob in &node.content {
                if !self.has_blob(BlobType::Data, blob)? {
                    return Ok(Some(format!("{}: data blob {blob} is in no index", node.name)));
                }
            }
            if let Some(sub) = &node.subtree {
                if let Some(problem) = self.find_missing_in_tree(sub, verified)? {
                    return Ok(Some(format!("{}/{problem}", node.name)));
                }
            }
        }
        verified.insert(*id);
        Ok(None)
    }

    /// Makes a pack this process just stored usable at once (dedup, reads)
    /// without an index file; the next index written names it.
    pub(crate) fn adopt_stored(&mut self, pack: IndexPack) {
        self.index.add_adopted(&pack);
        self.adopted.push(pack);
    }
}
