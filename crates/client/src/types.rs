//! What the agent hands to its front ends (the app's UI over IPC, the CLI's
//! `--json`). TypeScript twins are generated from these with ts-rs; none of
//! them carries a secret outward.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

#[derive(Debug, Clone, Serialize, TS)]
pub struct AppStatus {
    pub signed_in: bool,
    pub account: Option<AccountInfo>,
    pub server_url: String,
    pub keychain_available: bool,
    pub backup: Option<BackupProgress>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct AccountInfo {
    pub account_id: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub server_url: String,
}

/// The sign-up form. `server_url` null means the agent's current service.
#[derive(Clone, Deserialize, TS)]
pub struct SignUpRequest {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub password: String,
    pub confirm_age: bool,
    pub server_url: Option<String>,
}

#[derive(Clone, Deserialize, TS)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
    pub server_url: Option<String>,
}

// Requests carry a password: keep it out of any debug print or log line.
impl std::fmt::Debug for SignUpRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignUpRequest").field("email", &self.email).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SignInRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInRequest").field("email", &self.email).finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct FolderInfo {
    pub path: String,
    #[ts(type = "number")]
    pub added_at: i64,
}

#[derive(Debug, Clone, Copy, Serialize, TS)]
pub struct Quota {
    #[ts(type = "number")]
    pub used: u64,
    #[ts(type = "number")]
    pub total: u64,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct Dashboard {
    pub account: AccountInfo,
    pub folders: Vec<FolderInfo>,
    pub last_backup: Option<SnapshotInfo>,
    pub quota: Quota,
    pub backup: Option<BackupProgress>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum BackupPhase {
    Scanning,
    Uploading,
    Finishing,
    Done,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct BackupProgress {
    pub phase: BackupPhase,
    #[ts(type = "number")]
    pub files_done: u64,
    #[ts(type = "number")]
    pub files_total: u64,
    #[ts(type = "number")]
    pub bytes_done: u64,
    #[ts(type = "number")]
    pub bytes_total: u64,
    pub current_file: Option<String>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct SkippedFile {
    pub path: String,
    pub reason: String,
}

/// What one finished backup did. `files_read` counts files whose contents
/// were read; unchanged files are recognised from the catalog and not read.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BackupReport {
    pub snapshot_id: String,
    #[ts(type = "number")]
    pub files_total: u64,
    #[ts(type = "number")]
    pub files_read: u64,
    #[ts(type = "number")]
    pub bytes_read: u64,
    #[ts(type = "number")]
    pub bytes_uploaded: u64,
    pub skipped: Vec<SkippedFile>,
    #[ts(type = "number")]
    pub finished_at: i64,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct SnapshotInfo {
    pub id: String,
    #[ts(type = "number")]
    pub time: i64,
    pub device_name: String,
    pub roots: Vec<String>,
    #[ts(type = "number")]
    pub files: u64,
    #[ts(type = "number")]
    pub bytes: u64,
}

/// Restore `paths` (original absolute paths; empty = everything) of a
/// snapshot into the folder `target`.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct RestoreRequest {
    pub snapshot_id: String,
    pub paths: Vec<String>,
    pub target: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct RestoreSummary {
    #[ts(type = "number")]
    pub files: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    pub target: String,
    pub skipped: Vec<SkippedFile>,
}
