//! A backend in memory, for tests and dry runs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::backend::{not_found, range_error, Backend, FileKind, ObjectInfo};
use crate::error::Result;
use crate::id::Id;

type Files = HashMap<(FileKind, Id), Arc<Vec<u8>>>;

/// Keeps every file in a map. Clones share the same storage.
#[derive(Debug, Default, Clone)]
pub struct MemoryBackend {
    files: Arc<Mutex<Files>>,
}

impl MemoryBackend {
    /// An empty store.
    pub fn new() -> MemoryBackend {
        MemoryBackend::default()
    }

    fn files(&self) -> MutexGuard<'_, Files> {
        // A panic while holding the lock cannot leave the map half-updated.
        self.files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Replaces a stored file's bytes, bypassing write-once. For tests that
    /// simulate damage.
    pub fn corrupt(&self, kind: FileKind, id: &Id, bytes: Vec<u8>) {
        self.files().insert((kind, *id), Arc::new(bytes));
    }
}

impl Backend for MemoryBackend {
    fn put(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> Result<()> {
        self.files()
            .entry((kind, *id))
            .or_insert_with(|| Arc::new(bytes.to_vec()));
        Ok(())
    }

    fn get(&self, kind: FileKind, id: &Id) -> Result<Vec<u8>> {
        let file = self.files().get(&(kind, *id)).cloned();
        file.map(|f| f.to_vec()).ok_or_else(|| not_found(kind, id))
    }

    fn get_range(&self, kind: FileKind, id: &Id, offset: u64, len: u64) -> Result<Vec<u8>> {
        let file = self
            .files()
            .get(&(kind, *id))
            .cloned()
            .ok_or_else(|| not_found(kind, id))?;
        let size = file.len() as u64;
        match offset.checked_add(len) {
            Some(end) if end <= size => Ok(file[offset as usize..end as usize].to_vec()),
            _ => Err(range_error(kind, id, offset, len, size)),
        }
    }

    fn list(&self, kind: FileKind) -> Result<Vec<ObjectInfo>> {
        Ok(self
            .files()
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|((_, id), bytes)| ObjectInfo {
                id: *id,
                size: bytes.len() as u64,
            })
            .collect())
    }

    fn remove(&self, kind: FileKind, id: &Id) -> Result<()> {
        self.files()
            .remove(&(kind, *id))
            .map(|_| ())
            .ok_or_else(|| not_found(kind, id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_backend_contract() {
        crate::backend::check_backend_contract(&MemoryBackend::new());
    }

    #[test]
    fn clones_share_storage() {
        let a = MemoryBackend::new();
        let b = a.clone();
        let id = Id::hash(b"x");
        a.put(FileKind::Snapshot, &id, b"x").unwrap();
        assert_eq!(b.get(FileKind::Snapshot, &id).unwrap(), b"x");
    }
}
