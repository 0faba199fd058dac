//! An open repository: a backend, the keys, and the index in memory.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use crate::backend::{Backend, FileKind};
use crate::blob::BlobType;
use crate::crypto::{DataKey, Keys};
use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;
use crate::index::{Index, IndexFile, IndexPack};
use crate::pack;
use crate::snapshot::Snapshot;
use crate::tree::Tree;

/// A repository opened with its data key.
pub struct Repository {
    backend: Arc<dyn Backend>,
    keys: Keys,
    index: Index,
    loaded_indexes: HashSet<Id>,
}

impl fmt::Debug for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Repository")
            .field("blobs", &self.index.len())
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
        };
        repo.refresh()?;
        Ok(repo)
    }

    /// Loads index files written since the repository was opened (e.g. by
    /// another device).
    ///
    /// # Errors
    /// As [`Repository::open`].
    pub fn refresh(&mut self) -> Result<()> {
        let mut listed = self.backend.list(FileKind::Index)?;
        listed.sort_by_key(|o| o.id);
        for info in listed {
            if self.loaded_indexes.contains(&info.id) {
                continue;
            }
            let bytes = get_verified(&*self.backend, FileKind::Index, &info.id)?;
            let file = IndexFile::decrypt(&self.keys, &bytes)
                .map_err(|e| e.context(format!("index {}", info.id)))?;
            for pack in &file.packs {
                self.index.add_pack(pack);
            }
            self.loaded_indexes.insert(info.id);
        }
        Ok(())
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

    pub(crate) fn has_blob(&self, blob_type: BlobType, id: &Id) -> bool {
        self.index.contains(blob_type, id)
    }

    /// Reads one blob with a range request, authenticates it and checks its id.
    ///
    /// # Errors
    /// `NotFound` when no index names it; `Integrity` when damaged.
    pub(crate) fn load_blob(&self, blob_type: BlobType, id: &Id) -> Result<Vec<u8>> {
        let loc = self.index.get(blob_type, id).ok_or_else(|| {
            Error::new(
                ErrorKind::NotFound,
                format!("no index names {blob_type:?} blob {id}"),
            )
        })?;
        let sealed = self.backend.get_range(
            FileKind::Pack,
            &loc.pack,
            loc.entry.offset,
            loc.entry.length,
        )?;
        let context = || format!("{blob_type:?} blob {id} in pack {}", loc.pack);
        let plaintext = pack::open_blob(&self.keys, &loc.salt, &loc.entry, &sealed)
            .map_err(|e| e.context(context()))?;
        if self.keys.blob_id(&plaintext) != *id {
            return Err(Error::integrity(format!(
                "{}: contents do not match the id",
                context()
            )));
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
        for pack in &file.packs {
            self.index.add_pack(pack);
        }
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
}
