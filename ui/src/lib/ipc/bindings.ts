// Generated from Rust (crates/client/src/types.rs, error.rs) by ts-rs.
// Do not edit: run `COFFER_UPDATE_BINDINGS=1 cargo test -p coffer-client --test bindings`.

export type AppStatus = { signed_in: boolean, account: AccountInfo | null, server_url: string, keychain_available: boolean, backup: BackupProgress | null, 
/**
 * Signed in to a private-key account whose key is not entered yet.
 */
locked: boolean, };

export type AccountInfo = { account_id: string, first_name: string, last_name: string, email: string, server_url: string, };

export type SignUpRequest = { first_name: string, last_name: string, email: string, password: string, confirm_age: boolean, server_url: string | null, 
/**
 * Default: the data key is escrowed. Private: `private_key` wraps it.
 */
key_mode: KeyMode, private_key: string | null, };

export type SignUpResult = { account: AccountInfo, recovery_code: string | null, };

export type SignInRequest = { email: string, password: string, server_url: string | null, 
/**
 * The six-digit code (or a one-time recovery code) of two-factor sign-in.
 */
totp_code: string | null, };

export type FolderInfo = { path: string, added_at: number, };

export type Quota = { used: number, total: number, };

export type Dashboard = { account: AccountInfo, folders: Array<FolderInfo>, last_backup: SnapshotInfo | null, quota: Quota, backup: BackupProgress | null, };

export type BackupPhase = "scanning" | "uploading" | "finishing" | "done";

export type BackupProgress = { phase: BackupPhase, files_done: number, files_total: number, bytes_done: number, bytes_total: number, current_file: string | null, 
/**
 * Measured over the last seconds; 0 until known.
 */
bytes_per_second: number, 
/**
 * Estimated seconds left; null until known.
 */
eta_seconds: number | null, 
/**
 * Files skipped so far (unreadable, vanished).
 */
skipped: number, };

export type BackupReport = { snapshot_id: string, files_total: number, files_read: number, bytes_read: number, bytes_uploaded: number, skipped: Array<SkippedFile>, finished_at: number, };

export type SkippedFile = { path: string, reason: string, };

export type SnapshotInfo = { id: string, time: number, device_name: string, device_id: string, roots: Array<string>, files: number, bytes: number, };

export type RestoreRequest = { snapshot_id: string, paths: Array<string>, target: string | null, conflict: ConflictPolicy, };

export type RestoreSummary = { files: number, bytes: number, 
/**
 * The folder restored into; for a restore to the original place, the
 * folders that held the backed-up folders (comma-separated).
 */
target: string, 
/**
 * Entries not restored, with the reason.
 */
skipped: Array<SkippedFile>, 
/**
 * Entries restored whose mode or time could not be set.
 */
warnings: Array<SkippedFile>, };

export type RestoreProgress = { files_done: number, files_total: number, bytes_done: number, bytes_total: number, current_file: string | null, };

export type ConflictPolicy = "keep_both" | "overwrite" | "skip";

export type DeviceInfo = { device_id: string, device_name: string, last_backup: number | null, snapshots: number, this_device: boolean, };

export type EntryKind = "file" | "dir" | "symlink";

export type TreeEntry = { name: string, path: string, kind: EntryKind, size: number, mtime: number, };

export type SearchHit = { snapshot_id: string, time: number, path: string, kind: EntryKind, size: number, };

export type FileVersion = { snapshot_id: string, time: number, size: number, mtime: number, };

export type ExclusionSettings = { 
/**
 * Glob patterns matched against names and paths relative to a chosen folder.
 */
patterns: Array<string>, 
/**
 * Files larger than this are left out; null = no limit.
 */
max_file_size: number | null, 
/**
 * Named presets: "caches", "node_modules", "temporary".
 */
presets: Array<string>, };

export type ExcludedFile = { path: string, reason: string, };

export type FolderUsage = { path: string, files: number, bytes: number, excluded: number, };

export type ScheduleMode = "continuous" | "hourly" | "daily" | "custom" | "manual";

export type ScheduleSettings = { mode: ScheduleMode, 
/**
 * "HH:MM", local time, for `daily`.
 */
daily_at: string | null, every_minutes: number | null, 
/**
 * KiB/s; null = unlimited. Applied to a running transfer at once.
 */
upload_limit_kib: number | null, download_limit_kib: number | null, };

export type WatchStatus = { active: boolean, fallback_reason: string | null, };

export type SchedulerStatus = { settings: ScheduleSettings, watch: WatchStatus, 
/**
 * Unix ms until which backups are paused; `i64::MAX` style "until resumed" is `paused_indefinitely`.
 */
paused_until: number | null, paused_indefinitely: boolean, next_backup_at: number | null, };

export type VerifyProblem = { 
/**
 * The file affected, or the snapshot/pack when no file is known.
 */
path: string, message: string, };

export type VerifyReport = { ok: boolean, read_data: boolean, snapshots_checked: number, packs_checked: number, problems: Array<VerifyProblem>, };

export type RunStatus = "running" | "done" | "failed" | "interrupted";

export type BackupRun = { started_at: number, finished_at: number | null, status: RunStatus, snapshot_id: string | null, files_total: number, files_read: number, bytes_uploaded: number, skipped: number, error: string | null, };

export type SessionRecord = { id: string, device_name: string, device_id: string, app_version: string, ip: string, started_at: number, last_seen_at: number, ended_at: number | null, 
/**
 * Why it ended: "signed_out", "revoked", "password_changed", …
 */
end_reason: string | null, active: boolean, requests: number, bytes_up: number, bytes_down: number, transfer_ms: number, current: boolean, };

export type Activity = { backups: Array<BackupRun>, sessions: Array<SessionRecord>, };

export type PostalAddress = { line1: string, line2: string, city: string, region: string, postal_code: string, country: string, };

export type Profile = { first_name: string, last_name: string, email: string, email_verified: boolean, 
/**
 * A new address waiting for its verification link.
 */
pending_email: string | null, postal_address: PostalAddress | null, totp_enabled: boolean, };

export type ProfileUpdate = { first_name: string | null, last_name: string | null, email: string | null, 
/**
 * Some(empty address) removes it.
 */
postal_address: PostalAddress | null, };

export type PasswordChange = { current_password: string, new_password: string, };

export type CommunicationPreferences = { product_announcements: boolean, software_updates: boolean, surveys_research: boolean, newsletter: boolean, operational_alerts: boolean, };

export type PolicyInfo = { version: string, published_at: number, 
/**
 * The policy text (Markdown).
 */
text: string, accepted_version: string | null, accepted_at: number | null, };

export type ExportResult = { path: string, bytes: number, };

export type DeletionScheduled = { 
/**
 * When stored files are purged (now, or after 10 business days).
 */
purge_at: number, };

export type KeyMode = "default" | "private";

export type KeyStatus = { mode: KeyMode, changed_at: number | null, 
/**
 * The data key is available on this device now.
 */
unlocked: boolean, 
/**
 * The unlocked key is kept in this device's keychain.
 */
remembered: boolean, 
/**
 * A key switch that was interrupted and will resume.
 */
switch_in_progress: boolean, };

export type KeyStrength = { 
/**
 * 0 (very weak) to 4 (strong); 3 or more is accepted.
 */
score: number, acceptable: boolean, message: string, };

export type KeyProgress = { stage: string, done: number, total: number, };

export type TotpSetup = { secret: string, otpauth_url: string, };

export type RetentionSettings = { keep_last: number, keep_hourly: number, keep_daily: number, keep_weekly: number, keep_monthly: number, keep_yearly: number, 
/**
 * Keep every backup younger than this many days; null = no such rule.
 */
keep_within_days: number | null, 
/**
 * Apply the rules (forget and prune) by itself once a day.
 */
automatic: boolean, };

export type RetentionOutcome = { kept: number, 
/**
 * Backups removed (or that would be, in a preview).
 */
removed: Array<SnapshotInfo>, 
/**
 * Space given back by the prune that followed, in bytes (0 in a preview).
 */
bytes_freed: number, 
/**
 * Space that will be given back once the safety delay has passed.
 */
bytes_waiting: number, };

export type HeldDeletion = { id: string, 
/**
 * When the person confirmed with their password.
 */
confirmed_at: number, 
/**
 * When the first of these was deleted.
 */
deleted_at: number, device_name: string, device_id: string, 
/**
 * Backups (snapshots) deleted.
 */
snapshots: number, 
/**
 * Other stored pieces (data packs, index files) deleted.
 */
other_objects: number, bytes: number, 
/**
 * When they are removed for good.
 */
purge_at: number, };

export type ConfirmationStatus = { confirmed_until: number, };

export type CleanupWaiting = { 
/**
 * When automatic cleanup first had to wait.
 */
since: number, 
/**
 * Backups the rules would forget, as last counted.
 */
snapshots: number, };

export type AppScope = "restore" | "backup" | "account_read";

export type ConnectedApp = { id: string, name: string, scopes: Array<AppScope>, created_at: number, expires_at: number, 
/**
 * Past `expires_at`: it no longer works.
 */
expired: boolean, 
/**
 * Its last request, if it made any.
 */
last_used_at: number | null, last_used_ip: string | null, 
/**
 * Requests it made.
 */
uses: number, };

export type ShareRequest = { 
/**
 * The original absolute path of a file or folder in the backup.
 */
path: string, 
/**
 * A snapshot id or unique prefix [default: the latest backup].
 */
snapshot_id: string | null, 
/**
 * Emails mailed a notice (up to 20); none: only the link is handed back.
 */
recipients: Array<string>, 
/**
 * 1–90 [default: 7].
 */
expires_in_days: number | null, 
/**
 * 8–1024 characters; recipients must type it.
 */
password: string | null, 
/**
 * 1–1000 [default: unlimited].
 */
max_downloads: number | null, };

export type ShareState = "uploading" | "active" | "expired" | "exhausted" | "revoked";

export type ShareInfo = { id: string, state: ShareState, created_at: number, expires_at: number, 
/**
 * Whether recipients need a password.
 */
password: boolean, max_downloads: number | null, downloads: number, 
/**
 * Forgotten once the share's data is removed.
 */
recipients: Array<string>, 
/**
 * Stored bytes, counted against the quota.
 */
bytes: number, 
/**
 * Its data (and the recipients' addresses) were removed.
 */
removed: boolean, };

export type ShareProgress = { files_done: number, files_total: number, bytes_done: number, bytes_total: number, };

export type ShareCreated = { share: ShareInfo, 
/**
 * The only copy of the share key outside the person's hands.
 */
link: string, };

export type ConnectAppRequest = { name: string, scopes: Array<AppScope>, 
/**
 * 1–365 [default: 30].
 */
expires_in_days: number | null, };

export type AppConnected = { app: ConnectedApp, token: string, };

export type ErrorKind = "network" | "unauthorized" | "account_deleted" | "not_signed_in" | "invalid_input" | "age_not_confirmed" | "email_taken" | "invalid_credentials" | "totp_required" | "confirmation_required" | "quota_exceeded" | "no_keychain" | "busy" | "not_found" | "io" | "integrity" | "locked" | "wrong_key" | "server";

export type IpcError = { type: ErrorKind, message: string, };
