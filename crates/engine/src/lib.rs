//! Coffer's backup engine: the repository format (keys, chunks, blobs, packs,
//! indexes, trees, snapshots) and the backup / restore pipelines.
//!
//! The engine reaches storage only through [`Backend`]; it knows nothing of
//! HTTP, SQL or the desktop. `docs/format.md` describes every byte it writes.

mod backend;
mod backup;
#[doc(hidden)]
pub mod bench_support;
mod blob;
mod check;
mod chunker;
mod copy;
mod crypto;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod id;
mod index;
mod keywrap;
mod pack;
mod prune;
mod repair;
mod repository;
mod restore;
mod retention;
mod snapshot;
mod tree;

pub use backend::{Backend, FileKind, LocalBackend, MemoryBackend, ObjectInfo};
pub use backup::{
    backup, BackupOptions, ExcludeFilter, BackupPhase, BackupProgress, BackupSummary, FileCache, FileFingerprint,
    NoCache, Skipped,
};
pub use blob::BlobType;
pub use check::{check, AffectedFile, CheckOptions, CheckProblem, CheckReport, ProblemKind};
pub use copy::{copy_snapshot, CopyStats, SnapshotCopier};
pub use crypto::DataKey;
pub use error::{Error, ErrorKind, Result};
pub use id::Id;
pub use keywrap::{key_strength, KdfParams, KeyStrength, RecoveryCode, WrappedKey, MIN_KEY_SCORE};
pub use repair::{repair, RepairReport};
pub use repository::{Repository, DEFAULT_INDEX_CACHE_BYTES};
pub use prune::{prune, PruneOptions, PruneReport, MIN_PRUNE_GRACE};
pub use restore::{restore, OnConflict, RestoreOptions, RestoreProgress, RestoreSummary};
pub use retention::{forget, ForgetPlan, PlannedSnapshot, RetentionPolicy};
pub use snapshot::{Snapshot, SnapshotRoot};
pub use tree::{Node, NodeKind, Tree};
