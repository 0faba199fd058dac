//! Object bytes, through Apache OpenDAL, at `<account>/<kind>/<id>`.
//!
//! Embedded, the backend is a folder: OpenDAL writes into a temporary file in
//! the atomic-write folder and renames it into place, so a half-written
//! object is never visible. Scaled, it is an S3-compatible store (Garage,
//! MinIO, AWS S3…), where a single PUT is atomic by the protocol: an object
//! is either all there or not there.
//!
//! A write that fails is aborted, so a full disk is not kept full by the
//! staged part of what did not fit; a full disk is reported as
//! [`StorageFull`], which the service answers as `507 storage_full`.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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
    /// Set only by the test hook [`FAIL_WRITES_VAR`].
    failing_writes: Option<Arc<FailingWrites>>,
}

/// The store has no room left for a write (the disk or the volume's quota
/// is full). Nothing was stored; an operator must free or add space.
#[derive(Debug, thiserror::Error)]
#[error("the object store is full")]
pub struct StorageFull;

/// Test hook, honoured by debug builds only: `COFFER_TEST_FAIL_OBJECT_WRITES=N`
/// makes the Nth object write of the process and every later one fail, as a
/// store that broke would. The fault tests of `crates/cli/tests/faults.rs`
/// set it on a `coffer-server` they start; a release build ignores it. An
/// environment variable rather than an option, so the program under test
/// has the command line an operator uses and no fault among its options.
#[doc(hidden)]
pub const FAIL_WRITES_VAR: &str = "COFFER_TEST_FAIL_OBJECT_WRITES";

/// Counts writes and fails them from the `from`th on.
#[derive(Debug)]
struct FailingWrites {
    from: u64,
    seen: AtomicU64,
}

impl FailingWrites {
    fn from_env() -> Option<Arc<FailingWrites>> {
        if !cfg!(debug_assertions) {
            return None;
        }
        let from = std::env::var(FAIL_WRITES_VAR)
            .ok()?
            .trim()
            .parse::<u64>()
            .ok()?;
        tracing::warn!(from, "test hook: object writes fail from the {from}th on");
        Some(Arc::new(FailingWrites {
            from: from.max(1),
            seen: AtomicU64::new(0),
        }))
    }

    /// Whether this write is one that fails.
    fn fails_next(&self) -> bool {
        self.seen.fetch_add(1, Ordering::SeqCst) + 1 >= self.from
    }
}

fn object_path(account_id: &str, kind: &str, id: &str) -> String {
    format!("{account_id}/{kind}/{id}")
}

/// What `--objects` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectsTarget {
    /// A folder.
    Folder(PathBuf),
    /// An S3-compatible bucket.
    S3(S3Target),
}

/// An S3-compatible bucket and where in it objects go.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Target {
    pub bucket: String,
    /// A key prefix (no leading or trailing `/`); empty for the whole bucket.
    pub prefix: String,
    /// e.g. `http://127.0.0.1:3900`; `None` is AWS.
    pub endpoint: Option<String>,
    pub region: String,
    /// `None`: from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

impl std::fmt::Debug for S3Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Target")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            // A secret: never printed.
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

impl ObjectsTarget {
    /// Parses `--objects`: a folder path (or `file:///path`), or
    /// `s3://bucket[/prefix][?endpoint=URL&region=R&access_key_id=…&secret_access_key=…]`.
    ///
    /// # Errors
    /// An unknown scheme, a missing bucket, an unknown or repeated parameter.
    pub fn parse(text: &str) -> anyhow::Result<ObjectsTarget> {
        let text = text.trim();
        if text.is_empty() {
            anyhow::bail!("--objects is empty: give a folder or s3://bucket?endpoint=…");
        }
        if let Some(path) = text.strip_prefix("file://") {
            return Ok(ObjectsTarget::Folder(PathBuf::from(path)));
        }
        let Some(rest) = text.strip_prefix("s3://") else {
            if text.contains("://") {
                anyhow::bail!("--objects: unknown kind of store in {text:?} (a folder or s3://…)");
            }
            return Ok(ObjectsTarget::Folder(PathBuf::from(text)));
        };
        let (location, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            anyhow::bail!("--objects: s3:// needs a bucket name (s3://bucket?endpoint=…)");
        }
        let mut target = S3Target {
            bucket: bucket.to_owned(),
            prefix: prefix.trim_matches('/').to_owned(),
            endpoint: None,
            region: "us-east-1".to_owned(),
            access_key_id: None,
            secret_access_key: None,
        };
        let mut seen = std::collections::HashSet::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if !seen.insert(name.clone()) {
                anyhow::bail!("--objects: {name} is given twice");
            }
            let value = value.into_owned();
            match name.as_ref() {
                "endpoint" => target.endpoint = Some(value),
                "region" => target.region = value,
                "access_key_id" => target.access_key_id = Some(value),
                "secret_access_key" => target.secret_access_key = Some(value),
                other => anyhow::bail!(
                    "--objects: unknown parameter {other:?} (endpoint, region, access_key_id, secret_access_key)"
                ),
            }
        }
        if target.access_key_id.is_some() != target.secret_access_key.is_some() {
            anyhow::bail!("--objects: give both access_key_id and secret_access_key, or neither");
        }
        Ok(ObjectsTarget::S3(target))
    }
}

impl ObjectStore {
    /// The store `--objects` names (see [`ObjectsTarget::parse`]), or the
    /// folder `data_dir/objects` when it is `None`. That default folder
    /// stages writes in `data_dir/tmp`; a folder `--objects` names stages
    /// them in its own `.staging` folder, so the final rename stays on one
    /// file system when the objects are on a volume of their own.
    ///
    /// # Errors
    /// A malformed target; the failures of [`ObjectStore::local`] and
    /// [`ObjectStore::s3`].
    pub fn open(objects: Option<&str>, data_dir: &Path) -> anyhow::Result<ObjectStore> {
        let mut store = match objects.map(ObjectsTarget::parse).transpose()? {
            None => ObjectStore::local(&data_dir.join("objects"), &data_dir.join("tmp")),
            Some(ObjectsTarget::Folder(root)) => ObjectStore::local(&root, &root.join(".staging")),
            Some(ObjectsTarget::S3(target)) => ObjectStore::s3(&target),
        }?;
        store.failing_writes = FailingWrites::from_env();
        Ok(store)
    }

    /// A store in an S3-compatible bucket (which must exist).
    ///
    /// # Errors
    /// When OpenDAL rejects the setup.
    pub fn s3(target: &S3Target) -> anyhow::Result<ObjectStore> {
        let mut builder = services::S3::default()
            .bucket(&target.bucket)
            .root(&format!("/{}", target.prefix))
            .region(&target.region)
            // Never ask a cloud's instance metadata service for keys: off
            // AWS that is a connection timing out on every start.
            .disable_ec2_metadata();
        if let Some(endpoint) = &target.endpoint {
            builder = builder.endpoint(endpoint);
        }
        if let (Some(id), Some(secret)) = (&target.access_key_id, &target.secret_access_key) {
            builder = builder
                .access_key_id(id)
                .secret_access_key(secret)
                .disable_config_load();
        }
        let op = Operator::new(builder)
            .context("configuring the S3 object store")?
            // A request the store could not answer this time (a pooled
            // connection it had closed, a 503) is sent again, a few times
            // with backoff: objects are write-once, so a repeat is harmless.
            .layer(opendal::layers::RetryLayer::new().with_jitter())
            .finish();
        Ok(ObjectStore {
            op,
            local_root: None,
            failing_writes: None,
        })
    }

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
            failing_writes: None,
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
            failing_writes: None,
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

    /// Writes an object (atomically). A write that fails leaves nothing
    /// behind: what was staged is removed.
    ///
    /// # Errors
    /// Storage failures; [`StorageFull`] (in the chain) when the disk is full.
    pub async fn write(
        &self,
        account_id: &str,
        kind: &str,
        id: &str,
        bytes: Bytes,
    ) -> anyhow::Result<()> {
        let context = || format!("writing {kind}/{id} of account {account_id}");
        if self.failing_writes.as_ref().is_some_and(|f| f.fails_next()) {
            anyhow::bail!("{}: failed by the test hook {FAIL_WRITES_VAR}", context());
        }
        let mut writer = self
            .op
            .writer(&object_path(account_id, kind, id))
            .await
            .map_err(storage_error)
            .with_context(context)?;
        let written = match writer.write(bytes).await {
            Ok(()) => writer.close().await.map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = written {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(error = %abort, "removing a failed write's staged part");
            }
            return Err(storage_error(e)).with_context(context);
        }
        Ok(())
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

    /// Every object whose path (`<account>/<kind>/<id>`) starts with
    /// `prefix` (`""` for all, or `"<account>/"`), as `(path, size)` sorted
    /// by path: what the store really holds, for audits and tests (what
    /// the database records must be a part of it).
    ///
    /// # Errors
    /// Storage failures.
    pub async fn list(&self, prefix: &str) -> anyhow::Result<Vec<(String, u64)>> {
        let entries = match self.op.list_with(prefix).recursive(true).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).with_context(|| format!("listing {prefix:?}")),
        };
        let mut objects = Vec::new();
        for entry in entries {
            // A folder store's staging folder holds no object.
            if entry.metadata().is_dir() || entry.path().starts_with(".staging/") {
                continue;
            }
            let size = self
                .op
                .stat(entry.path())
                .await
                .with_context(|| format!("reading the size of {}", entry.path()))?
                .content_length();
            objects.push((entry.path().to_owned(), size));
        }
        objects.sort();
        Ok(objects)
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

/// An OpenDAL error, as [`StorageFull`] when it was a full disk.
fn storage_error(err: opendal::Error) -> anyhow::Error {
    if is_disk_full(&err) {
        anyhow::Error::new(err).context(StorageFull)
    } else {
        err.into()
    }
}

fn is_disk_full(err: &opendal::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            ) {
                return true;
            }
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;

    fn io_failure(kind: std::io::ErrorKind) -> opendal::Error {
        opendal::Error::new(ErrorKind::Unexpected, "write failed")
            .set_source(std::io::Error::from(kind))
    }

    #[test]
    fn a_full_disk_is_storage_full_through_any_context() {
        let err = Err::<(), _>(storage_error(io_failure(std::io::ErrorKind::StorageFull)))
            .context("writing packs/… of account …")
            .unwrap_err();
        let answer = AppError::from(err);
        assert!(matches!(answer, AppError::StorageFull), "{answer:?}");
        assert_eq!(answer.status_and_code().1, "storage_full");

        let other = AppError::from(storage_error(io_failure(
            std::io::ErrorKind::PermissionDenied,
        )));
        assert!(matches!(other, AppError::Internal(_)), "{other:?}");
    }

    #[tokio::test]
    async fn a_folder_named_by_objects_stages_inside_itself() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("volume");
        let store =
            ObjectStore::open(Some(root.to_str().unwrap()), &dir.path().join("data")).unwrap();
        let bytes = Bytes::from_static(b"object bytes");
        store
            .write("acct", "packs", "ab", bytes.clone())
            .await
            .unwrap();
        assert_eq!(
            store.read("acct", "packs", "ab", None).await.unwrap(),
            Some(bytes)
        );
        assert!(root.join(".staging").is_dir());
        assert!(!dir.path().join("data").join("tmp").exists());
        assert_eq!(
            store.list("").await.unwrap(),
            vec![("acct/packs/ab".to_owned(), 12)]
        );
    }
}
