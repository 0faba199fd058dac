import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { open, save } from '@tauri-apps/plugin-dialog';
import type {
  AccountInfo,
  AppConnected,
  ConnectAppRequest,
  ConnectedApp,
  ShareCreated,
  ShareInfo,
  ShareProgress,
  ShareRequest,
  Activity,
  AppStatus,
  BackupProgress,
  BackupReport,
  CleanupWaiting,
  CommunicationPreferences,
  ConfirmationStatus,
  Dashboard,
  DeletionScheduled,
  DeviceInfo,
  ExcludedFile,
  ExclusionSettings,
  ExportResult,
  FileVersion,
  FolderInfo,
  FolderUsage,
  HeldDeletion,
  IpcError,
  KeyMode,
  KeyProgress,
  KeyStatus,
  KeyStrength,
  PasswordChange,
  PolicyInfo,
  Profile,
  ProfileUpdate,
  RestoreProgress,
  RestoreRequest,
  RestoreSummary,
  RetentionOutcome,
  RetentionSettings,
  ScheduleSettings,
  SchedulerStatus,
  SearchHit,
  SessionRecord,
  SignInRequest,
  SignUpRequest,
  SignUpResult,
  SnapshotInfo,
  TotpSetup,
  TreeEntry,
  VerifyReport,
} from './bindings';
import { toBackendError } from './errors';

export type Unsubscribe = () => void;
type Handler<T> = (payload: T) => void;

/**
 * Everything the UI can ask of the desktop agent (docs/ipc.md). The app talks
 * to this interface only; tests hand components a fake.
 * Every method rejects with a BackendError.
 */
export interface Backend {
  // Session and account
  appStatus(): Promise<AppStatus>;
  signUp(request: SignUpRequest): Promise<SignUpResult>;
  signIn(request: SignInRequest): Promise<AccountInfo>;
  /** Cancels a scheduled account deletion (email + password), then signs in with the same request. */
  restoreAccount(request: SignInRequest): Promise<AccountInfo>;
  signOut(): Promise<void>;
  profile(): Promise<Profile>;
  updateProfile(update: ProfileUpdate): Promise<Profile>;
  /** Ends every other session. */
  changePassword(change: PasswordChange): Promise<void>;
  listSessions(): Promise<SessionRecord[]>;
  revokeSession(id: string): Promise<SessionRecord[]>;
  /** This device signs out too. */
  signOutEverywhere(): Promise<void>;
  preferences(): Promise<CommunicationPreferences>;
  setPreferences(preferences: CommunicationPreferences): Promise<CommunicationPreferences>;
  policy(): Promise<PolicyInfo>;
  acceptPolicy(version: string): Promise<PolicyInfo>;
  /** Writes everything the service holds about the person to `path`. */
  exportData(path: string): Promise<ExportResult>;
  /** This device signs out. */
  deleteAccount(password: string, purgeNow: boolean): Promise<DeletionScheduled>;
  activity(): Promise<Activity>;
  /** Mails a reset link; never says whether the account exists. */
  requestPasswordReset(email: string, serverUrl: string | null): Promise<void>;
  resendVerification(): Promise<void>;
  /** Two-factor sign-in: the secret to scan, shown once. */
  totpSetup(): Promise<TotpSetup>;
  /** Resolves to the one-time recovery codes, shown once. */
  totpEnable(code: string): Promise<string[]>;
  totpDisable(password: string): Promise<void>;

  // Encryption key
  keyStatus(): Promise<KeyStatus>;
  keyStrength(key: string): Promise<KeyStrength>;
  unlock(key: string, remember: boolean): Promise<KeyStatus>;
  unlockWithRecovery(code: string, remember: boolean): Promise<KeyStatus>;
  lockNow(): Promise<KeyStatus>;
  /** `password` is the account password (a fresh proof that it is the person). */
  changeKey(currentKey: string, newKey: string, password: string): Promise<KeyStatus>;
  /**
   * To private: `key` is the new key; to default: the current key. Resolves to
   * the new recovery code when switching to private; the re-upload runs in the
   * background (key events).
   */
  switchKeyMode(to: KeyMode, key: string | null, password: string): Promise<string | null>;
  /**
   * Both key and recovery code lost: deletes every stored backup (nobody can
   * open them any more) and makes a new data key. `newKey` null = the default
   * key. Resolves to the new recovery code for a private key.
   */
  startOver(newKey: string | null, password: string): Promise<string | null>;

  // Folders and backups
  dashboard(): Promise<Dashboard>;
  addFolder(path: string): Promise<FolderInfo[]>;
  removeFolder(path: string): Promise<FolderInfo[]>;
  folderUsage(): Promise<FolderUsage[]>;
  exclusions(): Promise<ExclusionSettings>;
  setExclusions(settings: ExclusionSettings): Promise<ExclusionSettings>;
  excludedFiles(): Promise<ExcludedFile[]>;
  /** Starts a backup; progress arrives through the subscriptions below. */
  backupNow(): Promise<void>;
  verifyBackup(readData: boolean): Promise<VerifyReport>;
  /** Which older backups are kept. */
  retention(): Promise<RetentionSettings>;
  /** Rejects with `invalid_input` when the rules would keep nothing. */
  setRetention(settings: RetentionSettings): Promise<RetentionSettings>;
  /**
   * Removes the backups the rules no longer keep (`preview`: only says which).
   * A prune deleting more than half the stored data rejects with
   * `invalid_input` unless `confirmLarge`; without a recent
   * `confirmIdentity` it rejects with `confirmation_required`.
   */
  applyRetention(preview: boolean, confirmLarge: boolean): Promise<RetentionOutcome>;
  /** Automatic cleanup that waits for the person to confirm; null when none does. */
  cleanupWaiting(): Promise<CleanupWaiting | null>;

  // Deleting needs the person, not only this device
  /**
   * "Confirm it's you": the account password and, with two-factor sign-in,
   * a code. Deleting (cleanup, a key switch's removal of old copies) works
   * until `confirmed_until`; the proof itself stays in the agent. Rejects
   * with `invalid_credentials` (wrong password), `totp_required` (a code is
   * needed), `invalid_input` (a wrong code).
   */
  confirmIdentity(password: string, totpCode: string | null): Promise<ConfirmationStatus>;
  /** Deleted backups the service holds for 7 days, newest first. */
  heldDeletions(): Promise<HeldDeletion[]>;
  /** Puts a held deletion back; resolves to those still held. */
  cancelHeldDeletion(id: string): Promise<HeldDeletion[]>;

  // Schedule
  schedulerStatus(): Promise<SchedulerStatus>;
  setSchedule(settings: ScheduleSettings): Promise<SchedulerStatus>;
  /** null minutes = until resumed. */
  pauseBackups(minutes: number | null): Promise<SchedulerStatus>;
  resumeBackups(): Promise<SchedulerStatus>;
  autostart(): Promise<boolean>;
  setAutostart(enabled: boolean): Promise<boolean>;

  // Restore
  /** Newest first. */
  listSnapshots(): Promise<SnapshotInfo[]>;
  listDevices(): Promise<DeviceInfo[]>;
  /** null path = the backed-up folders of that backup. */
  browse(snapshotId: string, path: string | null): Promise<TreeEntry[]>;
  /** null snapshot = across every backup. */
  searchFiles(query: string, snapshotId: string | null): Promise<SearchHit[]>;
  /** Newest first. */
  fileVersions(path: string): Promise<FileVersion[]>;
  restore(request: RestoreRequest): Promise<RestoreSummary>;

  // Sharing and connected apps
  /**
   * Shares a file or folder as it was in a backup (progress: onShareProgress).
   * Resolves to the share and its full link — shown once; nothing keeps it.
   */
  share(request: ShareRequest): Promise<ShareCreated>;
  /** Every share, newest first. */
  shares(): Promise<ShareInfo[]>;
  /** The link fails at once; resolves to the shares left. */
  revokeShare(id: string): Promise<ShareInfo[]>;
  connectedApps(): Promise<ConnectedApp[]>;
  /** Resolves to the app and its token — shown once; the service keeps a hash. */
  connectApp(request: ConnectAppRequest): Promise<AppConnected>;
  /** The token fails at once; resolves to the apps left. */
  revokeApp(id: string): Promise<ConnectedApp[]>;

  // Events
  onBackupProgress(handler: Handler<BackupProgress>): Promise<Unsubscribe>;
  onBackupFinished(handler: Handler<BackupReport>): Promise<Unsubscribe>;
  onBackupFailed(handler: Handler<IpcError>): Promise<Unsubscribe>;
  onRestoreProgress(handler: Handler<RestoreProgress>): Promise<Unsubscribe>;
  onSchedulerChanged(handler: Handler<SchedulerStatus>): Promise<Unsubscribe>;
  onKeyProgress(handler: Handler<KeyProgress>): Promise<Unsubscribe>;
  onKeyFinished(handler: Handler<KeyStatus>): Promise<Unsubscribe>;
  onKeyFailed(handler: Handler<IpcError>): Promise<Unsubscribe>;
  onShareProgress(handler: Handler<ShareProgress>): Promise<Unsubscribe>;

  // Desktop
  /** Opens the native folder picker; null when the person cancels. */
  pickFolder(): Promise<string | null>;
  /** Opens the native save dialog; null when the person cancels. */
  pickSavePath(suggestedName: string): Promise<string | null>;
  /** Hands a small text file (the recovery kit) to the person as a download. */
  saveTextFile(suggestedName: string, text: string): Promise<void>;
  /** Puts text on the clipboard (a share link, an app token). */
  copyText(text: string): Promise<void>;
  /** Opens the person's mail app with a draft; only `mailto:` URLs. */
  openMailDraft(url: string): Promise<void>;
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (reason) {
    throw toBackendError(reason);
  }
}

async function subscribe<T>(event: string, handler: Handler<T>): Promise<Unsubscribe> {
  const unlisten: UnlistenFn = await listen<T>(event, (e) => handler(e.payload));
  return unlisten;
}

/** The real backend: Tauri commands and events from src-tauri (docs/ipc.md). */
export class TauriBackend implements Backend {
  appStatus() {
    return call<AppStatus>('app_status');
  }
  signUp(request: SignUpRequest) {
    return call<SignUpResult>('sign_up', { request });
  }
  signIn(request: SignInRequest) {
    return call<AccountInfo>('sign_in', { request });
  }
  restoreAccount(request: SignInRequest) {
    return call<AccountInfo>('restore_account', { request });
  }
  async signOut() {
    await call<null>('sign_out');
  }
  profile() {
    return call<Profile>('profile');
  }
  updateProfile(update: ProfileUpdate) {
    return call<Profile>('update_profile', { update });
  }
  async changePassword(change: PasswordChange) {
    await call<null>('change_password', { change });
  }
  listSessions() {
    return call<SessionRecord[]>('list_sessions');
  }
  revokeSession(id: string) {
    return call<SessionRecord[]>('revoke_session', { id });
  }
  async signOutEverywhere() {
    await call<null>('sign_out_everywhere');
  }
  preferences() {
    return call<CommunicationPreferences>('preferences');
  }
  setPreferences(preferences: CommunicationPreferences) {
    return call<CommunicationPreferences>('set_preferences', { preferences });
  }
  policy() {
    return call<PolicyInfo>('policy');
  }
  acceptPolicy(version: string) {
    return call<PolicyInfo>('accept_policy', { version });
  }
  exportData(path: string) {
    return call<ExportResult>('export_data', { path });
  }
  deleteAccount(password: string, purgeNow: boolean) {
    return call<DeletionScheduled>('delete_account', { password, purgeNow });
  }
  activity() {
    return call<Activity>('activity');
  }
  async requestPasswordReset(email: string, serverUrl: string | null) {
    await call<null>('request_password_reset', { email, serverUrl });
  }
  async resendVerification() {
    await call<null>('resend_verification');
  }
  totpSetup() {
    return call<TotpSetup>('totp_setup');
  }
  totpEnable(code: string) {
    return call<string[]>('totp_enable', { code });
  }
  async totpDisable(password: string) {
    await call<null>('totp_disable', { password });
  }

  keyStatus() {
    return call<KeyStatus>('key_status');
  }
  keyStrength(key: string) {
    return call<KeyStrength>('key_strength', { key });
  }
  unlock(key: string, remember: boolean) {
    return call<KeyStatus>('unlock', { key, remember });
  }
  unlockWithRecovery(code: string, remember: boolean) {
    return call<KeyStatus>('unlock_with_recovery', { code, remember });
  }
  lockNow() {
    return call<KeyStatus>('lock_now');
  }
  changeKey(currentKey: string, newKey: string, password: string) {
    return call<KeyStatus>('change_key', { currentKey, newKey, password });
  }
  switchKeyMode(to: KeyMode, key: string | null, password: string) {
    return call<string | null>('switch_key_mode', { to, key, password });
  }
  startOver(newKey: string | null, password: string) {
    return call<string | null>('start_over', { newKey, password });
  }

  dashboard() {
    return call<Dashboard>('dashboard');
  }
  addFolder(path: string) {
    return call<FolderInfo[]>('add_folder', { path });
  }
  removeFolder(path: string) {
    return call<FolderInfo[]>('remove_folder', { path });
  }
  folderUsage() {
    return call<FolderUsage[]>('folder_usage');
  }
  exclusions() {
    return call<ExclusionSettings>('exclusions');
  }
  setExclusions(settings: ExclusionSettings) {
    return call<ExclusionSettings>('set_exclusions', { settings });
  }
  excludedFiles() {
    return call<ExcludedFile[]>('excluded_files');
  }
  async backupNow() {
    await call<null>('backup_now');
  }
  verifyBackup(readData: boolean) {
    return call<VerifyReport>('verify_backup', { readData });
  }
  retention() {
    return call<RetentionSettings>('retention');
  }
  setRetention(settings: RetentionSettings) {
    return call<RetentionSettings>('set_retention', { settings });
  }
  applyRetention(preview: boolean, confirmLarge: boolean) {
    return call<RetentionOutcome>('apply_retention', { preview, confirmLarge });
  }
  cleanupWaiting() {
    return call<CleanupWaiting | null>('cleanup_waiting');
  }
  confirmIdentity(password: string, totpCode: string | null) {
    return call<ConfirmationStatus>('confirm_identity', { password, totpCode });
  }
  heldDeletions() {
    return call<HeldDeletion[]>('held_deletions');
  }
  cancelHeldDeletion(id: string) {
    return call<HeldDeletion[]>('cancel_held_deletion', { id });
  }

  schedulerStatus() {
    return call<SchedulerStatus>('scheduler_status');
  }
  setSchedule(settings: ScheduleSettings) {
    return call<SchedulerStatus>('set_schedule', { settings });
  }
  pauseBackups(minutes: number | null) {
    return call<SchedulerStatus>('pause_backups', { minutes });
  }
  resumeBackups() {
    return call<SchedulerStatus>('resume_backups');
  }
  autostart() {
    return call<boolean>('autostart');
  }
  setAutostart(enabled: boolean) {
    return call<boolean>('set_autostart', { enabled });
  }

  listSnapshots() {
    return call<SnapshotInfo[]>('list_snapshots');
  }
  listDevices() {
    return call<DeviceInfo[]>('list_devices');
  }
  browse(snapshotId: string, path: string | null) {
    return call<TreeEntry[]>('browse', { snapshotId, path });
  }
  searchFiles(query: string, snapshotId: string | null) {
    return call<SearchHit[]>('search_files', { query, snapshotId });
  }
  fileVersions(path: string) {
    return call<FileVersion[]>('file_versions', { path });
  }
  restore(request: RestoreRequest) {
    return call<RestoreSummary>('restore', { request });
  }

  share(request: ShareRequest) {
    return call<ShareCreated>('share', { request });
  }
  shares() {
    return call<ShareInfo[]>('shares');
  }
  revokeShare(id: string) {
    return call<ShareInfo[]>('revoke_share', { id });
  }
  connectedApps() {
    return call<ConnectedApp[]>('connected_apps');
  }
  connectApp(request: ConnectAppRequest) {
    return call<AppConnected>('connect_app', { request });
  }
  revokeApp(id: string) {
    return call<ConnectedApp[]>('revoke_app', { id });
  }

  onBackupProgress(handler: Handler<BackupProgress>) {
    return subscribe('backup-progress', handler);
  }
  onBackupFinished(handler: Handler<BackupReport>) {
    return subscribe('backup-finished', handler);
  }
  onBackupFailed(handler: Handler<IpcError>) {
    return subscribe('backup-failed', handler);
  }
  onRestoreProgress(handler: Handler<RestoreProgress>) {
    return subscribe('restore-progress', handler);
  }
  onSchedulerChanged(handler: Handler<SchedulerStatus>) {
    return subscribe('scheduler-changed', handler);
  }
  onKeyProgress(handler: Handler<KeyProgress>) {
    return subscribe('key-progress', handler);
  }
  onKeyFinished(handler: Handler<KeyStatus>) {
    return subscribe('key-finished', handler);
  }
  onKeyFailed(handler: Handler<IpcError>) {
    return subscribe('key-failed', handler);
  }
  onShareProgress(handler: Handler<ShareProgress>) {
    return subscribe('share-progress', handler);
  }

  async pickFolder(): Promise<string | null> {
    try {
      const picked = await open({ directory: true, multiple: false, title: 'Choose a folder' });
      return typeof picked === 'string' ? picked : null;
    } catch (reason) {
      throw toBackendError(reason);
    }
  }
  async pickSavePath(suggestedName: string): Promise<string | null> {
    try {
      const picked = await save({ defaultPath: suggestedName, title: 'Save as' });
      return typeof picked === 'string' ? picked : null;
    } catch (reason) {
      throw toBackendError(reason);
    }
  }
  async saveTextFile(suggestedName: string, text: string): Promise<void> {
    // The native save dialog picks the place; Rust writes the file readable by its owner only.
    const path = await this.pickSavePath(suggestedName);
    if (path === null) return;
    await call<null>('save_text_file', { path, text });
  }
  async copyText(text: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Older webviews without the async clipboard: a selected hidden field.
      const field = document.createElement('textarea');
      field.value = text;
      field.setAttribute('readonly', '');
      field.style.position = 'fixed';
      field.style.opacity = '0';
      document.body.append(field);
      field.select();
      const copied = document.execCommand('copy');
      field.remove();
      if (!copied) throw toBackendError({ type: 'io', message: 'Could not copy to the clipboard. Select the text and copy it instead.' });
    }
  }
  async openMailDraft(url: string): Promise<void> {
    if (!url.startsWith('mailto:')) throw toBackendError({ type: 'invalid_input', message: 'Only mail drafts can be opened.' });
    // tauri-plugin-opener, allowed for mailto: URLs only (src-tauri/capabilities).
    await call<null>('plugin:opener|open_url', { url });
  }
}
