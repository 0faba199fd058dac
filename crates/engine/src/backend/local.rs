//! A backend in a local folder: `root/<kind>/<first 2 hex digits>/<hex id>`.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rand::RngCore;

use crate::backend::{not_found, range_error, Backend, FileKind, ObjectInfo};
use crate::error::{Error, Result};
use crate::id::Id;

/// Stores files in a folder. Writes go to `root/tmp`, are flushed to disk and
/// then renamed into place, so a crash never leaves a half-written object
/// under its final name (leftovers in `tmp` are garbage).
#[derive(Debug, Clone)]
pub struct LocalBackend {
    root: PathBuf,
}

impl LocalBackend {
    /// Opens the folder, creating it and its kind folders when missing.
    ///
    /// # Errors
    /// `Io` when the folders cannot be created.
    pub fn new(root: impl Into<PathBuf>) -> Result<LocalBackend> {
        let root = root.into();
        for dir in FileKind::ALL
            .iter()
            .map(|k| root.join(k.as_str()))
            .chain([root.join("tmp")])
        {
            fs::create_dir_all(&dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        Ok(LocalBackend { root })
    }

    /// The folder this backend stores into.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, kind: FileKind, id: &Id) -> PathBuf {
        let hex = id.to_hex();
        self.root.join(kind.as_str()).join(&hex[..2]).join(hex)
    }

    fn open(&self, kind: FileKind, id: &Id) -> Result<File> {
        File::open(self.path(kind, id)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => not_found(kind, id),
            _ => Error::io(format!("opening {kind}/{id}"), e),
        })
    }
}

/// Makes a rename durable: on Unix a directory entry is only on disk once the
/// directory itself is synced.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

impl Backend for LocalBackend {
    fn put(&self, kind: FileKind, id: &Id, bytes: &[u8]) -> Result<()> {
        let path = self.path(kind, id);
        if path.exists() {
            return Ok(());
        }
        let what = || format!("storing {kind}/{id}");
        let mut suffix = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut suffix);
        let tmp = self
            .root
            .join("tmp")
            .join(format!("{}-{}", id.to_hex(), hex::encode(suffix)));
        let written = (|| {
            let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            drop(file);
            let dir = path.parent().expect("object path has a parent");
            fs::create_dir_all(dir)?;
            // Same id means same bytes, so a concurrent writer that wins the
            // rename race leaves identical content.
            fs::rename(&tmp, &path)?;
            sync_dir(dir)
        })();
        if written.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        written.map_err(|e| Error::io(what(), e))
    }

    fn get(&self, kind: FileKind, id: &Id) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open(kind, id)?
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(format!("reading {kind}/{id}"), e))?;
        Ok(bytes)
    }

    fn get_range(&self, kind: FileKind, id: &Id, offset: u64, len: u64) -> Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(len as usize);
        self.get_range_stream(kind, id, offset, len)?
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(format!("reading {kind}/{id}"), e))?;
        if bytes.len() as u64 != len {
            return Err(Error::io(
                format!("reading {kind}/{id}"),
                std::io::ErrorKind::UnexpectedEof.into(),
            ));
        }
        Ok(bytes)
    }

    fn get_range_stream(&self, kind: FileKind, id: &Id, offset: u64, len: u64) -> Result<Box<dyn Read + Send + '_>> {
        let mut file = self.open(kind, id)?;
        let what = || format!("reading {kind}/{id}");
        let size = file.metadata().map_err(|e| Error::io(what(), e))?.len();
        if offset.checked_add(len).is_none_or(|end| end > size) {
            return Err(range_error(kind, id, offset, len, size));
        }
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(what(), e))?;
        Ok(Box::new(file.take(len)))
    }

    fn list(&self, kind: FileKind) -> Result<Vec<ObjectInfo>> {
        let dir = self.root.join(kind.as_str());
        let what = |p: &Path| format!("listing {}", p.display());
        let mut found = Vec::new();
        for prefix in fs::read_dir(&dir).map_err(|e| Error::io(what(&dir), e))? {
            let prefix = prefix.map_err(|e| Error::io(what(&dir), e))?;
            if !prefix
                .file_type()
                .map_err(|e| Error::io(what(&dir), e))?
                .is_dir()
            {
                continue;
            }
            let prefix_path = prefix.path();
            for entry in fs::read_dir(&prefix_path).map_err(|e| Error::io(what(&prefix_path), e))? {
                let entry = entry.map_err(|e| Error::io(what(&prefix_path), e))?;
                // Anything that is not an object name is not ours; ignore it.
                let Some(id) = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| Id::from_hex(n).ok())
                else {
                    continue;
                };
                let meta = entry
                    .metadata()
                    .map_err(|e| Error::io(what(&prefix_path), e))?;
                if meta.is_file() {
                    found.push(ObjectInfo {
                        id,
                        size: meta.len(),
                    });
                }
            }
        }
        Ok(found)
    }

    fn remove(&self, kind: FileKind, id: &Id) -> Result<()> {
        fs::remove_file(self.path(kind, id)).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => not_found(kind, id),
            _ => Error::io(format!("removing {kind}/{id}"), e),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_backend_contract() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path().join("repo")).unwrap();
        crate::backend::check_backend_contract(&backend);
    }

    #[test]
    fn layout_and_no_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let backend = LocalBackend::new(dir.path()).unwrap();
        let id = Id::hash(b"abc");
        backend.put(FileKind::Index, &id, b"abc").unwrap();
        let hex = id.to_hex();
        let path = dir.path().join("indexes").join(&hex[..2]).join(&hex);
        assert_eq!(fs::read(path).unwrap(), b"abc");
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        // Stray files in the kind folder are not listed as objects.
        fs::write(dir.path().join("indexes").join(&hex[..2]).join("junk"), b"").unwrap();
        assert_eq!(backend.list(FileKind::Index).unwrap().len(), 1);
    }
}
