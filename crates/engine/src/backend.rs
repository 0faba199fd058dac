//! The storage seam: write-once files addressed by kind and id.

mod local;
mod memory;

use std::fmt;
use std::io::Read;
use std::str::FromStr;
use std::sync::Arc;

pub use local::LocalBackend;
pub use memory::MemoryBackend;

use crate::error::{Error, ErrorKind, Result};
use crate::id::Id;

/// The kinds of file a repository stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    /// Encrypted blobs plus an encrypted header.
    Pack,
    /// Encrypted lists of which blob lives where.
    Index,
    /// Encrypted snapshot descriptions; storing one commits a backup.
    Snapshot,
}

impl FileKind {
    /// Every kind, in a fixed order.
    pub const ALL: [FileKind; 3] = [FileKind::Pack, FileKind::Index, FileKind::Snapshot];

    /// The folder / URL segment name: `packs`, `indexes` or `snapshots`.
    pub fn as_str(&self) -> &'static str {
        match self {
            FileKind::Pack => "packs",
            FileKind::Index => "indexes",
            FileKind::Snapshot => "snapshots",
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FileKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<FileKind> {
        FileKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Error::new(ErrorKind::InvalidInput, format!("unknown file kind {s:?}")))
    }
}

/// One stored file as listed by [`Backend::list`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ObjectInfo {
    pub id: Id,
    pub size: u64,
}

/// Where a repository's files live: a local folder, memory, or the service.
///
/// Every file's id is the unkeyed BLAKE3 hash of its bytes; backends may
/// check this on `put` but need not.
pub trait Backend: Send + Sync {
    /// Stores a file. Write-once: storing an id that exists is `Ok(())` and
    /// changes nothing. A reader never sees a partly written file.
    fn put(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> Result<()>;

    /// [`Backend::put`] from a shared buffer the backend may hold on to
    /// while it stores it (a network backend sends it without a copy of its
    /// own; the backup gets the buffer back once every clone is dropped).
    fn put_shared(&self, kind: FileKind, id: &Id, bytes: bytes::Bytes) -> Result<()> {
        self.put(kind, id, &bytes)
    }

    /// Reads a whole file.
    ///
    /// # Errors
    /// `NotFound` when absent.
    fn get(&self, kind: FileKind, id: &Id) -> Result<Vec<u8>>;

    /// Reads `len` bytes starting at `offset`.
    ///
    /// # Errors
    /// `NotFound` when absent; `InvalidInput` when the range goes past the end.
    fn get_range(&self, kind: FileKind, id: &Id, offset: u64, len: u64) -> Result<Vec<u8>>;

    /// [`Backend::get_range`] as a stream, for a reader that takes the bytes
    /// in pieces and need not hold them all (a restore reads a pack's span
    /// blob by blob). The stream may break off or end early: the reader
    /// checks what it gets. The default reads the whole range first.
    ///
    /// # Errors
    /// As [`Backend::get_range`], for what is known before the first byte.
    fn get_range_stream(&self, kind: FileKind, id: &Id, offset: u64, len: u64) -> Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(std::io::Cursor::new(self.get_range(kind, id, offset, len)?)))
    }

    /// Every file of `kind`, in no particular order.
    fn list(&self, kind: FileKind) -> Result<Vec<ObjectInfo>>;

    /// Deletes a file.
    ///
    /// # Errors
    /// `NotFound` when absent.
    fn remove(&self, kind: FileKind, id: &Id) -> Result<()>;
}

impl<T: Backend + ?Sized> Backend for Arc<T> {
    fn put(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> Result<()> {
        (**self).put(kind, id, bytes)
    }
    fn put_shared(&self, kind: FileKind, id: &Id, bytes: bytes::Bytes) -> Result<()> {
        (**self).put_shared(kind, id, bytes)
    }
    fn get(&self, kind: FileKind, id: &Id) -> Result<Vec<u8>> {
        (**self).get(kind, id)
    }
    fn get_range(&self, kind: FileKind, id: &Id, offset: u64, len: u64) -> Result<Vec<u8>> {
        (**self).get_range(kind, id, offset, len)
    }
    fn get_range_stream(&self, kind: FileKind, id: &Id, offset: u64, len: u64) -> Result<Box<dyn Read + Send + '_>> {
        (**self).get_range_stream(kind, id, offset, len)
    }
    fn list(&self, kind: FileKind) -> Result<Vec<ObjectInfo>> {
        (**self).list(kind)
    }
    fn remove(&self, kind: FileKind, id: &Id) -> Result<()> {
        (**self).remove(kind, id)
    }
}

pub(crate) fn not_found(kind: FileKind, id: &Id) -> Error {
    Error::new(ErrorKind::NotFound, format!("{kind}/{id} not found"))
}

pub(crate) fn range_error(kind: FileKind, id: &Id, offset: u64, len: u64, size: u64) -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        format!("{kind}/{id}: range {offset}+{len} is past the end ({size} bytes)"),
    )
}

/// Behaviour every backend must show; run by each backend's tests.
#[cfg(test)]
pub(crate) fn check_backend_contract(backend: &dyn Backend) {
    let a = b"first object".to_vec();
    let id_a = Id::hash(&a);
    let b = vec![7u8; 10_000];
    let id_b = Id::hash(&b);

    assert_eq!(
        backend.get(FileKind::Pack, &id_a).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    backend.put(FileKind::Pack, &id_a, &a).unwrap();
    backend.put(FileKind::Pack, &id_b, &b).unwrap();
    assert_eq!(backend.get(FileKind::Pack, &id_a).unwrap(), a);

    // Write-once: a second put of an existing id changes nothing.
    backend
        .put(FileKind::Pack, &id_a, b"something else")
        .unwrap();
    assert_eq!(backend.get(FileKind::Pack, &id_a).unwrap(), a);

    // Kinds are separate namespaces.
    assert_eq!(
        backend.get(FileKind::Index, &id_a).unwrap_err().kind(),
        ErrorKind::NotFound
    );

    assert_eq!(
        backend.get_range(FileKind::Pack, &id_a, 6, 6).unwrap(),
        b"object"
    );
    assert_eq!(backend.get_range(FileKind::Pack, &id_a, 0, 0).unwrap(), b"");
    assert_eq!(
        backend
            .get_range(FileKind::Pack, &id_a, 6, 100)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        backend
            .get_range(FileKind::Pack, &id_b, 9_000, 2_000)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        backend
            .get_range(FileKind::Pack, &id_b, 9_000, 1_000)
            .unwrap(),
        vec![7u8; 1000]
    );
    assert_eq!(
        backend
            .get_range(FileKind::Snapshot, &id_a, 0, 1)
            .unwrap_err()
            .kind(),
        ErrorKind::NotFound
    );

    let mut listed = backend.list(FileKind::Pack).unwrap();
    listed.sort_by_key(|o| o.id);
    let mut expected = vec![
        ObjectInfo {
            id: id_a,
            size: a.len() as u64,
        },
        ObjectInfo {
            id: id_b,
            size: b.len() as u64,
        },
    ];
    expected.sort_by_key(|o| o.id);
    assert_eq!(listed, expected);
    assert!(backend.list(FileKind::Snapshot).unwrap().is_empty());

    backend.remove(FileKind::Pack, &id_a).unwrap();
    assert_eq!(
        backend.get(FileKind::Pack, &id_a).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        backend.remove(FileKind::Pack, &id_a).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(backend.list(FileKind::Pack).unwrap().len(), 1);
    // After removal the id may be stored again.
    backend.put(FileKind::Pack, &id_a, &a).unwrap();
    assert_eq!(backend.get(FileKind::Pack, &id_a).unwrap(), a);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_kind_names() {
        for kind in FileKind::ALL {
            assert_eq!(kind.as_str().parse::<FileKind>().unwrap(), kind);
        }
        assert_eq!(FileKind::Index.as_str(), "indexes");
        assert_eq!(
            "blobs".parse::<FileKind>().unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
    }

    #[test]
    fn arc_forwards() {
        let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
        check_backend_contract(&backend);
    }
}
