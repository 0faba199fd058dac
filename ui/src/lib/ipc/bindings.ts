// Generated from Rust (crates/client/src/types.rs, error.rs) by ts-rs.
// Do not edit: run `COFFER_UPDATE_BINDINGS=1 cargo test -p coffer-client --test bindings`.

export type AppStatus = { signed_in: boolean, account: AccountInfo | null, server_url: string, keychain_available: boolean, backup: BackupProgress | null, };

export type AccountInfo = { account_id: string, first_name: string, last_name: string, email: string, server_url: string, };

export type SignUpRequest = { first_name: string, last_name: string, email: string, password: string, confirm_age: boolean, server_url: string | null, };

export type SignInRequest = { email: string, password: string, server_url: string | null, };

export type FolderInfo = { path: string, added_at: number, };

export type Quota = { used: number, total: number, };

export type Dashboard = { account: AccountInfo, folders: Array<FolderInfo>, last_backup: SnapshotInfo | null, quota: Quota, backup: BackupProgress | null, };

export type BackupPhase = "scanning" | "uploading" | "finishing" | "done";

export type BackupProgress = { phase: BackupPhase, files_done: number, files_total: number, bytes_done: number, bytes_total: number, current_file: string | null, };

export type BackupReport = { snapshot_id: string, files_total: number, files_read: number, bytes_read: number, bytes_uploaded: number, skipped: Array<SkippedFile>, finished_at: number, };

export type SkippedFile = { path: string, reason: string, };

export type SnapshotInfo = { id: string, time: number, device_name: string, roots: Array<string>, files: number, bytes: number, };

export type RestoreRequest = { snapshot_id: string, paths: Array<string>, target: string, };

export type RestoreSummary = { files: number, bytes: number, target: string, skipped: Array<SkippedFile>, };

export type ErrorKind = "network" | "unauthorized" | "not_signed_in" | "invalid_input" | "age_not_confirmed" | "email_taken" | "invalid_credentials" | "quota_exceeded" | "no_keychain" | "busy" | "not_found" | "io" | "integrity" | "server";

export type IpcError = { type: ErrorKind, message: string, };
