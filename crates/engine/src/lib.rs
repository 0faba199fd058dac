//! Coffer's backup engine: the repository format (keys, chunks, blobs, packs,
//! indexes, trees, snapshots) and the backup / restore pipelines.
//!
//! The engine reaches storage only through [`Backend`]; it knows nothing of
//! HTTP, SQL or the desktop. `docs/format.md` describes every byte it writes.

mod backend;
mod backup;
mod blob;
mod chunker;
mod crypto;
mod error;
mod id;
mod index;
mod pack;
mod repository;
mod restore;
mod snapshot;
mod tree;

pub use backend::{Backend, FileKind, LocalBackend, MemoryBackend, ObjectInfo};
pub use backup::{
    backup, BackupOptions, BackupPhase, BackupProgress, BackupSummary, FileCache, FileFingerprint,
    NoCache, Skipped,
};
pub use blob::BlobType;
pub use crypto::DataKey;
pub use error::{Error, ErrorKind, Result};
pub use id::Id;
pub use repository::Repository;
pub use restore::{restore, RestoreOptions, RestoreProgress, RestoreSummary};
pub use snapshot::{Snapshot, SnapshotRoot};
pub use tree::{Node, NodeKind, Tree};
