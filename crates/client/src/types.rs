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
    /// Signed in to a private-key account whose key is not entered yet.
    pub locked: bool,
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
    /// Default: the data key is escrowed. Private: `private_key` wraps it.
    #[serde(default = "default_key_mode")]
    pub key_mode: KeyMode,
    #[serde(default)]
    pub private_key: Option<String>,
}

fn default_key_mode() -> KeyMode {
    KeyMode::Default
}

/// What sign-up hands back. `recovery_code` is set once, for private-key
/// accounts, so the person can print or save it: the only time a secret
/// crosses IPC towards the UI, by design (see docs/ipc.md).
#[derive(Debug, Clone, Serialize, TS)]
pub struct SignUpResult {
    pub account: AccountInfo,
    pub recovery_code: Option<String>,
}

#[derive(Clone, Deserialize, TS)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
    pub server_url: Option<String>,
    /// The six-digit code (or a one-time recovery code) of two-factor sign-in.
    #[serde(default)]
    pub totp_code: Option<String>,
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
    /// Measured over the last seconds; 0 until known.
    #[ts(type = "number")]
    pub bytes_per_second: u64,
    /// Estimated seconds left; null until known.
    #[ts(type = "number | null")]
    pub eta_seconds: Option<u64>,
    /// Files skipped so far (unreadable, vanished).
    #[ts(type = "number")]
    pub skipped: u64,
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
    pub device_id: String,
    pub roots: Vec<String>,
    #[ts(type = "number")]
    pub files: u64,
    #[ts(type = "number")]
    pub bytes: u64,
}

/// Restore `paths` (original absolute paths; empty = everything) of a
/// snapshot into the folder `target`, or to their original place when
/// `target` is null; `conflict` says what to do where a file exists.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct RestoreRequest {
    pub snapshot_id: String,
    pub paths: Vec<String>,
    pub target: Option<String>,
    #[serde(default)]
    pub conflict: ConflictPolicy,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct RestoreSummary {
    #[ts(type = "number")]
    pub files: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    /// The folder restored into; for a restore to the original place, the
    /// folders that held the backed-up folders (comma-separated).
    pub target: String,
    /// Entries not restored, with the reason.
    pub skipped: Vec<SkippedFile>,
    /// Entries restored whose mode or time could not be set.
    pub warnings: Vec<SkippedFile>,
}

// ---------------------------------------------------------------------------
// Restore browser
// ---------------------------------------------------------------------------

/// A device that has backed up to this account.
#[derive(Debug, Clone, Serialize, TS)]
pub struct DeviceInfo {
    pub device_id: String,
    pub device_name: String,
    #[ts(type = "number | null")]
    pub last_backup: Option<i64>,
    #[ts(type = "number")]
    pub snapshots: u64,
    pub this_device: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
}

/// One entry of a folder as it was in a backup. `path` is the original
/// absolute path (what a restore request names).
#[derive(Debug, Clone, Serialize, TS)]
pub struct TreeEntry {
    pub name: String,
    pub path: String,
    pub kind: EntryKind,
    #[ts(type = "number")]
    pub size: u64,
    #[ts(type = "number")]
    pub mtime: i64,
}

/// A name match from searching backups.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SearchHit {
    pub snapshot_id: String,
    #[ts(type = "number")]
    pub time: i64,
    pub path: String,
    pub kind: EntryKind,
    #[ts(type = "number")]
    pub size: u64,
}

/// One version of one file: the backups in which its content differs from
/// the backup before.
#[derive(Debug, Clone, Serialize, TS)]
pub struct FileVersion {
    pub snapshot_id: String,
    #[ts(type = "number")]
    pub time: i64,
    #[ts(type = "number")]
    pub size: u64,
    #[ts(type = "number")]
    pub mtime: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    /// Restore next to the existing file as "name (restored YYYY-MM-DD).ext".
    #[default]
    KeepBoth,
    Overwrite,
    Skip,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct RestoreProgress {
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

// ---------------------------------------------------------------------------
// Folders, exclusions, schedule
// ---------------------------------------------------------------------------

/// What is left out of every backup.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ExclusionSettings {
    /// Glob patterns matched against names and paths relative to a chosen folder.
    pub patterns: Vec<String>,
    /// Files larger than this are left out; null = no limit.
    #[ts(type = "number | null")]
    pub max_file_size: Option<u64>,
    /// Named presets: "caches", "node_modules", "temporary".
    pub presets: Vec<String>,
}

/// A file that will not be backed up, and why.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ExcludedFile {
    pub path: String,
    pub reason: String,
}

/// A chosen folder with what it costs.
#[derive(Debug, Clone, Serialize, TS)]
pub struct FolderUsage {
    pub path: String,
    #[ts(type = "number")]
    pub files: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    #[ts(type = "number")]
    pub excluded: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleMode {
    /// Watch folders and back up changes within seconds.
    Continuous,
    Hourly,
    /// Once a day at `daily_at`.
    Daily,
    /// Every `every_minutes`.
    Custom,
    /// Only when the person clicks "Back up now".
    Manual,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ScheduleSettings {
    pub mode: ScheduleMode,
    /// "HH:MM", local time, for `daily`.
    pub daily_at: Option<String>,
    #[ts(type = "number | null")]
    pub every_minutes: Option<u32>,
    /// KiB/s; null = unlimited. Applied to a running transfer at once.
    #[ts(type = "number | null")]
    pub upload_limit_kib: Option<u32>,
    #[ts(type = "number | null")]
    pub download_limit_kib: Option<u32>,
}

/// Whether folder watching works, or why the agent scans periodically instead.
#[derive(Debug, Clone, Serialize, TS)]
pub struct WatchStatus {
    pub active: bool,
    pub fallback_reason: Option<String>,
}

/// What the scheduler is doing now.
#[derive(Debug, Clone, Serialize, TS)]
pub struct SchedulerStatus {
    pub settings: ScheduleSettings,
    pub watch: WatchStatus,
    /// Unix ms until which backups are paused; `i64::MAX` style "until resumed" is `paused_indefinitely`.
    #[ts(type = "number | null")]
    pub paused_until: Option<i64>,
    pub paused_indefinitely: bool,
    #[ts(type = "number | null")]
    pub next_backup_at: Option<i64>,
}

// ---------------------------------------------------------------------------
// Verify, activity
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize, TS)]
pub struct VerifyProblem {
    /// The file affected, or the snapshot/pack when no file is known.
    pub path: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct VerifyReport {
    pub ok: bool,
    pub read_data: bool,
    #[ts(type = "number")]
    pub snapshots_checked: u64,
    #[ts(type = "number")]
    pub packs_checked: u64,
    pub problems: Vec<VerifyProblem>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Done,
    Failed,
    Interrupted,
}

/// One backup run of this device, from the catalog.
#[derive(Debug, Clone, Serialize, TS)]
pub struct BackupRun {
    #[ts(type = "number")]
    pub started_at: i64,
    #[ts(type = "number | null")]
    pub finished_at: Option<i64>,
    pub status: RunStatus,
    pub snapshot_id: Option<String>,
    #[ts(type = "number")]
    pub files_total: u64,
    #[ts(type = "number")]
    pub files_read: u64,
    #[ts(type = "number")]
    pub bytes_uploaded: u64,
    #[ts(type = "number")]
    pub skipped: u64,
    pub error: Option<String>,
}

/// A session record as the service keeps it (policy: "Session Records").
#[derive(Debug, Clone, Serialize, TS)]
pub struct SessionRecord {
    pub id: String,
    pub device_name: String,
    pub device_id: String,
    pub app_version: String,
    pub ip: String,
    #[ts(type = "number")]
    pub started_at: i64,
    #[ts(type = "number")]
    pub last_seen_at: i64,
    #[ts(type = "number | null")]
    pub ended_at: Option<i64>,
    /// Why it ended: "signed_out", "revoked", "password_changed", …
    pub end_reason: Option<String>,
    pub active: bool,
    #[ts(type = "number")]
    pub requests: u64,
    #[ts(type = "number")]
    pub bytes_up: u64,
    #[ts(type = "number")]
    pub bytes_down: u64,
    #[ts(type = "number")]
    pub transfer_ms: u64,
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct Activity {
    pub backups: Vec<BackupRun>,
    pub sessions: Vec<SessionRecord>,
}

// ---------------------------------------------------------------------------
// Settings: account, communication, privacy
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct PostalAddress {
    pub line1: String,
    pub line2: String,
    pub city: String,
    pub region: String,
    pub postal_code: String,
    pub country: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct Profile {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub email_verified: bool,
    /// A new address waiting for its verification link.
    pub pending_email: Option<String>,
    pub postal_address: Option<PostalAddress>,
    pub totp_enabled: bool,
}

/// Fields to change; null leaves a field as it is.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct ProfileUpdate {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// Some(empty address) removes it.
    pub postal_address: Option<PostalAddress>,
}

#[derive(Clone, Deserialize, TS)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordChange(..)")
    }
}

/// Opt-in mail categories: all off until the person turns them on, except
/// operational alerts (no backup for days, storage almost full).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CommunicationPreferences {
    pub product_announcements: bool,
    pub software_updates: bool,
    pub surveys_research: bool,
    pub newsletter: bool,
    pub operational_alerts: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct PolicyInfo {
    pub version: String,
    #[ts(type = "number")]
    pub published_at: i64,
    /// The policy text (Markdown).
    pub text: String,
    pub accepted_version: Option<String>,
    #[ts(type = "number | null")]
    pub accepted_at: Option<i64>,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct ExportResult {
    pub path: String,
    #[ts(type = "number")]
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct DeletionScheduled {
    /// When stored files are purged (now, or after 10 business days).
    #[ts(type = "number")]
    pub purge_at: i64,
}

// ---------------------------------------------------------------------------
// Encryption key
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "lowercase")]
pub enum KeyMode {
    /// The data key is escrowed with the service (it can recover it).
    Default,
    /// Only the person's own key (or recovery code) opens the data key.
    Private,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct KeyStatus {
    pub mode: KeyMode,
    #[ts(type = "number | null")]
    pub changed_at: Option<i64>,
    /// The data key is available on this device now.
    pub unlocked: bool,
    /// The unlocked key is kept in this device's keychain.
    pub remembered: bool,
    /// A key switch that was interrupted and will resume.
    pub switch_in_progress: bool,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct KeyStrength {
    /// 0 (very weak) to 4 (strong); 3 or more is accepted.
    pub score: u8,
    pub acceptable: bool,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, TS)]
pub struct KeyProgress {
    pub stage: String,
    #[ts(type = "number")]
    pub done: u64,
    #[ts(type = "number")]
    pub total: u64,
}

/// Two-factor sign-in being set up: the secret to add to an authenticator
/// app (as text and as an otpauth:// link for a QR code). Shown once, by design.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct TotpSetup {
    pub secret: String,
    pub otpauth_url: String,
}

/// How many versions to keep (a user setting). A backup is kept when any
/// rule keeps it; rules apply per device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct RetentionSettings {
    pub keep_last: u32,
    pub keep_hourly: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    pub keep_yearly: u32,
    /// Keep every backup younger than this many days; null = no such rule.
    pub keep_within_days: Option<u32>,
    /// Apply the rules (forget and prune) by itself once a day.
    pub automatic: bool,
}

/// What applying the retention rules did (or would do, for a preview).
#[derive(Debug, Clone, Serialize, TS)]
pub struct RetentionOutcome {
    #[ts(type = "number")]
    pub kept: u64,
    /// Backups removed (or that would be, in a preview).
    pub removed: Vec<SnapshotInfo>,
    /// Space given back by the prune that followed, in bytes (0 in a preview).
    #[ts(type = "number")]
    pub bytes_freed: u64,
    /// Space that will be given back once the safety delay has passed.
    #[ts(type = "number")]
    pub bytes_waiting: u64,
}

/// Backups and data one confirmation deleted, held by the service until
/// `purge_at`; until then `cancel_held_deletion` puts them back.
#[derive(Debug, Clone, Serialize, TS)]
pub struct HeldDeletion {
    pub id: String,
    /// When the person confirmed with their password.
    #[ts(type = "number")]
    pub confirmed_at: i64,
    /// When the first of these was deleted.
    #[ts(type = "number")]
    pub deleted_at: i64,
    pub device_name: String,
    pub device_id: String,
    /// Backups (snapshots) deleted.
    #[ts(type = "number")]
    pub snapshots: u64,
    /// Other stored pieces (data packs, index files) deleted.
    #[ts(type = "number")]
    pub other_objects: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    /// When they are removed for good.
    #[ts(type = "number")]
    pub purge_at: i64,
}

/// The person confirmed it is them: deleting works without asking again
/// until `confirmed_until` (Unix ms). The grant itself stays in the agent.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ConfirmationStatus {
    #[ts(type = "number")]
    pub confirmed_until: i64,
}

/// Automatic cleanup found old versions to forget but could not delete them
/// without the person's confirmation ("Old versions are ready to be cleaned
/// up — confirm with your password").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CleanupWaiting {
    /// When automatic cleanup first had to wait.
    #[ts(type = "number")]
    pub since: i64,
    /// Backups the rules would forget, as last counted.
    #[ts(type = "number")]
    pub snapshots: u64,
}

/// What a connected app may do with the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum AppScope {
    /// Read-only: list and download backups.
    Restore,
    /// Add backups: list and upload, never read or delete.
    Backup,
    /// Read the profile, mail preferences and sessions.
    AccountRead,
}

/// A connected app (a scoped token the person made for a third-party
/// application), as listed. Never carries the token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ConnectedApp {
    pub id: String,
    pub name: String,
    pub scopes: Vec<AppScope>,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub expires_at: i64,
    /// Past `expires_at`: it no longer works.
    pub expired: bool,
    /// Its last request, if it made any.
    #[ts(type = "number | null")]
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    /// Requests it made.
    #[ts(type = "number")]
    pub uses: u64,
}

/// Share a file or folder as it was in a backup. The recipients are mailed
/// a notice with the link without its key; the person sends them the full
/// link, which only the agent's answer holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
pub struct ShareRequest {
    /// The original absolute path of a file or folder in the backup.
    pub path: String,
    /// A snapshot id or unique prefix [default: the latest backup].
    pub snapshot_id: Option<String>,
    /// Emails mailed a notice (up to 20); none: only the link is handed back.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// 1–90 [default: 7].
    pub expires_in_days: Option<u32>,
    /// 8–1024 characters; recipients must type it.
    pub password: Option<String>,
    /// 1–1000 [default: unlimited].
    pub max_downloads: Option<u32>,
}

/// Where a share stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ShareState {
    /// Its upload has not finished.
    Uploading,
    /// Recipients can open it.
    Active,
    Expired,
    /// Downloaded as many times as allowed.
    Exhausted,
    Revoked,
}

/// A share as its owner sees it. Never carries the key or the link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct ShareInfo {
    pub id: String,
    pub state: ShareState,
    #[ts(type = "number")]
    pub created_at: i64,
    #[ts(type = "number")]
    pub expires_at: i64,
    /// Whether recipients need a password.
    pub password: bool,
    #[ts(type = "number | null")]
    pub max_downloads: Option<u64>,
    #[ts(type = "number")]
    pub downloads: u64,
    /// Forgotten once the share's data is removed.
    pub recipients: Vec<String>,
    /// Stored bytes, counted against the quota.
    #[ts(type = "number")]
    pub bytes: u64,
    /// Its data (and the recipients' addresses) were removed.
    pub removed: bool,
}

/// How far making a share has come.
#[derive(Debug, Clone, Serialize, TS)]
pub struct ShareProgress {
    #[ts(type = "number")]
    pub files_done: u64,
    #[ts(type = "number")]
    pub files_total: u64,
    #[ts(type = "number")]
    pub bytes_done: u64,
    #[ts(type = "number")]
    pub bytes_total: u64,
}

/// A new share and its full link `<service>/s/<id>#<key>`, returned once by
/// the desktop's `share` command so the person can copy it or mail it on
/// (docs/ipc.md, *Secrets*: a deliberate exception, like the recovery code).
/// Nothing keeps it afterwards; `Debug` does not print the link.
#[derive(Clone, Serialize, TS)]
pub struct ShareCreated {
    pub share: ShareInfo,
    /// The only copy of the share key outside the person's hands.
    pub link: String,
}

impl std::fmt::Debug for ShareCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShareCreated").field("share", &self.share).field("link", &"<secret>").finish()
    }
}

/// Connect an app: a name the person will recognise, what it may do, and
/// for how long.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
pub struct ConnectAppRequest {
    pub name: String,
    pub scopes: Vec<AppScope>,
    /// 1–365 [default: 30].
    pub expires_in_days: Option<u32>,
}

/// A newly connected app and its token, returned once by the desktop's
/// `connect_app` command to be shown once (docs/ipc.md, *Secrets*); the
/// service keeps only a hash. `Debug` does not print the token.
#[derive(Clone, Serialize, TS)]
pub struct AppConnected {
    pub app: ConnectedApp,
    pub token: String,
}

impl std::fmt::Debug for AppConnected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConnected").field("app", &self.app).field("token", &"<secret>").finish()
    }
}
