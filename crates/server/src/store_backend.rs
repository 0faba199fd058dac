//! One account's objects as a read-only [`coffer_engine::Backend`], for the
//! operator's `export-account`: the database says which objects the account
//! has (as `GET /v1/repo/{kind}` does), the [`ObjectStore`] gives their
//! bytes. Storing and removing are refused: nothing the export does can
//! change what the account holds.
//!
//! The engine calls a backend synchronously, from its own threads, so each
//! call blocks on the service's async database and store through a tokio
//! runtime handle. Use it only from threads outside the runtime (a
//! `spawn_blocking` task and the threads the engine starts).

use coffer_engine::{Backend, Error, ErrorKind, FileKind, Id, ObjectInfo, Result};
use tokio::runtime::Handle;

use crate::{Db, ObjectStore};

/// An account's objects, read-only.
pub struct StoreBackend {
    db: Db,
    store: ObjectStore,
    account_id: String,
    runtime: Handle,
}

impl std::fmt::Debug for StoreBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreBackend")
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

fn storage(e: &anyhow::Error) -> Error {
    Error::new(ErrorKind::Storage, format!("{e:#}"))
}

fn not_found(kind: FileKind, id: &Id) -> Error {
    Error::new(ErrorKind::NotFound, format!("{kind}/{id} not found"))
}

impl StoreBackend {
    /// The objects of `account_id`; `runtime` runs the database and store
    /// calls.
    pub fn new(db: Db, store: ObjectStore, account_id: &str, runtime: Handle) -> StoreBackend {
        StoreBackend {
            db,
            store,
            account_id: account_id.to_owned(),
            runtime,
        }
    }

    fn size(&self, kind: FileKind, id: &Id) -> Result<u64> {
        self.runtime
            .block_on(
                self.db
                    .object_size(self.account_id.clone(), kind.as_str(), id.to_hex()),
            )
            .map_err(|e| storage(&e))?
            .ok_or_else(|| not_found(kind, id))
    }

    fn read(
        &self,
        kind: FileKind,
        id: &Id,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<Vec<u8>> {
        self.runtime
            .block_on(
                self.store
                    .read(&self.account_id, kind.as_str(), &id.to_hex(), range),
            )
            .map_err(|e| storage(&e))?
            .map(|bytes| bytes.to_vec())
            // Recorded but not in the store: lost, or deleted meanwhile.
            .ok_or_else(|| not_found(kind, id))
    }
}

impl Backend for StoreBackend {
    fn put(&self, kind: FileKind, id: &Id, _bytes: &[u8]) -> Result<()> {
        Err(Error::new(
            ErrorKind::Storage,
            format!("{kind}/{id}: the operator's view of an account is read-only"),
        ))
    }

    fn get(&self, kind: FileKind, id: &Id) -> Result<Vec<u8>> {
        self.size(kind, id)?;
        self.read(kind, id, None)
    }

    fn get_range(&self, kind: FileKind, id: &Id, offset: u64, len: u64) -> Result<Vec<u8>> {
        let size = self.size(kind, id)?;
        let end = offset
            .checked_add(len)
            .filter(|&end| end <= size)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("{kind}/{id}: range {offset}+{len} is past the end ({size} bytes)"),
                )
            })?;
        if len == 0 {
            return Ok(Vec::new());
        }
        let bytes = self.read(kind, id, Some(offset..end))?;
        if bytes.len() as u64 != len {
            return Err(Error::new(
                ErrorKind::Storage,
                format!("{kind}/{id}: short read at {offset}+{len}"),
            ));
        }
        Ok(bytes)
    }

    fn list(&self, kind: FileKind) -> Result<Vec<ObjectInfo>> {
        let objects = self
            .runtime
            .block_on(self.db.list_objects(self.account_id.clone(), kind.as_str()))
            .map_err(|e| storage(&e))?;
        objects
            .into_iter()
            .map(|o| {
                Ok(ObjectInfo {
                    id: Id::from_hex(&o.id)?,
                    size: o.size,
                })
            })
            .collect()
    }

    fn remove(&self, kind: FileKind, id: &Id) -> Result<()> {
        Err(Error::new(
            ErrorKind::Storage,
            format!("{kind}/{id}: the operator's view of an account is read-only"),
        ))
    }
}
