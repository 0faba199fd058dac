//! Object bytes, through Apache OpenDAL, at `<account>/<kind>/<id>`.
//!
//! Embedded, the backend is a folder: OpenDAL writes into a temporary file in
//! the atomic-write folder and renames it into place, so a half-written
//! object is never visible. An S3-compatible store slots in here later.

use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::Context;
use axum::body::Bytes;
use opendal::{services, ErrorKind, Operator};

/// Where object bytes live.
#[derive(Clone, Debug)]
pub struct ObjectStore {
    op: Operator,
    /// The folder of a local store (OpenDAL answers for the root itself
    /// without looking, so readiness checks the folder directly).
    local_root: Option<PathBuf>,
}

fn object_path(account_id: &str, kind: &str, id: &str) -> String {
    format!("{account_id}/{kind}/{id}")
}

impl ObjectStore {
    /// A store in the folder `root`, staging writes in `staging` (which must
    /// be on the same file system, so the final rename is atomic).
    ///
    /// # Errors
    /// When the folders cannot be created or OpenDAL rejects the setup.
    pub fn local(root: &Path, staging: &Path) -> anyhow::Result<ObjectStore> {
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        std::fs::create_dir_all(staging)
            .with_context(|| format!("creating {}", staging.display()))?;
        let builder = services::Fs::default()
            .root(&root.to_string_lossy())
            .atomic_write_dir(&staging.to_string_lossy());
        let op = Operator::new(builder)
            .context("configuring the object store")?
            .finish();
        Ok(ObjectStore {
            op,
            local_root: Some(root.to_path_buf()),
        })
    }

    /// An existing store in the folder `root`, for reading only (nothing is
    /// created, no staging folder is needed).
    ///
    /// # Errors
    /// When `root` is not a folder or OpenDAL rejects the setup.
    pub fn local_read_only(root: &Path) -> anyhow::Result<ObjectStore> {
        if !root.is_dir() {
            anyhow::bail!("no object folder at {}", root.display());
        }
        let builder = services::Fs::default().root(&root.to_string_lossy());
        let op = Operator::new(builder)
            .context("configuring the object store")?
            .finish();
        Ok(ObjectStore {
            op,
            local_root: Some(root.to_path_buf()),
        })
    }

    /// Whether the store's root is there and can be listed (readiness). A
    /// missing root counts as a failure: for a folder it means an unmounted
    /// or deleted volume, not an empty store.
    ///
    /// # Errors
    /// When it cannot be reached, or the root is not a folder.
    pub async fn check(&self) -> anyhow::Result<()> {
        if let Some(root) = &self.local_root {
            let meta = tokio::fs::metadata(root)
                .await
                .with_context(|| format!("checking {}", root.display()))?;
            if !meta.is_dir() {
                anyhow::bail!("{} is not a folder", root.display());
            }
        }
        self.op.check().await.context("listing the object store")
    }

    /// Writes an object (atomically).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn write(
        &self,
        account_id: &str,
        kind: &str,
        id: &str,
        bytes: Bytes,
    ) -> anyhow::Result<()> {
        self.op
            .write(&object_path(account_id, kind, id), bytes)
            .await
            .map(drop)
            .with_context(|| format!("writing {kind}/{id} of account {account_id}"))
    }

    /// Reads an object, or part of it. `Ok(None)` when it does not exist.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn read(
        &self,
        account_id: &str,
        kind: &str,
        id: &str,
        range: Option<Range<u64>>,
    ) -> anyhow::Result<Option<Bytes>> {
        let path = object_path(account_id, kind, id);
        let read = match range {
            Some(range) => self.op.read_with(&path).range(range).await,
            None => self.op.read(&path).await,
        };
        match read {
            Ok(buffer) => Ok(Some(buffer.to_bytes())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => {
                Err(e).with_context(|| format!("reading {kind}/{id} of account {account_id}"))
            }
        }
    }

    /// Removes an object; removing a missing object is not an error.
    ///
    /// # Errors
    /// Storage failures.
    pub async fn delete(&self, account_id: &str, kind: &str, id: &str) -> anyhow::Result<()> {
        self.op
            .delete(&object_path(account_id, kind, id))
            .await
            .with_context(|| format!("deleting {kind}/{id} of account {account_id}"))
    }

    /// Removes everything stored for an account (after its objects were
    /// deleted one by one, this sweeps up folders and strays).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn delete_account(&self, account_id: &str) -> anyhow::Result<()> {
        match self.op.remove_all(&format!("{account_id}/")).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => {
                Err(e).with_context(|| format!("removing the objects of account {account_id}"))
            }
        }
    }
}
