import { invoke } from '@tauri-apps/api/core';
import { listen, type UnlistenFn } from '@tauri-apps/api/event';
import { open } from '@tauri-apps/plugin-dialog';
import type {
  AccountInfo,
  AppStatus,
  BackupProgress,
  BackupReport,
  Dashboard,
  FolderInfo,
  IpcError,
  RestoreRequest,
  RestoreSummary,
  SignInRequest,
  SignUpRequest,
  SnapshotInfo,
} from './bindings';
import { toBackendError } from './errors';

export type Unsubscribe = () => void;

/**
 * Everything the UI can ask of the desktop agent. The app talks to this
 * interface only; tests hand components a fake.
 * Every method rejects with a BackendError.
 */
export interface Backend {
  appStatus(): Promise<AppStatus>;
  signUp(request: SignUpRequest): Promise<AccountInfo>;
  signIn(request: SignInRequest): Promise<AccountInfo>;
  signOut(): Promise<void>;
  dashboard(): Promise<Dashboard>;
  addFolder(path: string): Promise<FolderInfo[]>;
  removeFolder(path: string): Promise<FolderInfo[]>;
  /** Starts a backup; progress arrives through the subscriptions below. */
  backupNow(): Promise<void>;
  /** Newest first. */
  listSnapshots(): Promise<SnapshotInfo[]>;
  restore(request: RestoreRequest): Promise<RestoreSummary>;

  onBackupProgress(handler: (progress: BackupProgress) => void): Promise<Unsubscribe>;
  onBackupFinished(handler: (report: BackupReport) => void): Promise<Unsubscribe>;
  onBackupFailed(handler: (error: IpcError) => void): Promise<Unsubscribe>;

  /** Opens the native folder picker; null when the person cancels. */
  pickFolder(): Promise<string | null>;
}

async function call<T>(command: string, args?: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(command, args);
  } catch (reason) {
    throw toBackendError(reason);
  }
}

async function subscribe<T>(event: string, handler: (payload: T) => void): Promise<Unsubscribe> {
  const unlisten: UnlistenFn = await listen<T>(event, (e) => handler(e.payload));
  return unlisten;
}

/** The real backend: Tauri commands and events from src-tauri (docs/ipc.md). */
export class TauriBackend implements Backend {
  appStatus() {
    return call<AppStatus>('app_status');
  }
  signUp(request: SignUpRequest) {
    return call<AccountInfo>('sign_up', { request });
  }
  signIn(request: SignInRequest) {
    return call<AccountInfo>('sign_in', { request });
  }
  async signOut() {
    await call<null>('sign_out');
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
  async backupNow() {
    await call<null>('backup_now');
  }
  listSnapshots() {
    return call<SnapshotInfo[]>('list_snapshots');
  }
  restore(request: RestoreRequest) {
    return call<RestoreSummary>('restore', { request });
  }
  onBackupProgress(handler: (progress: BackupProgress) => void) {
    return subscribe('backup-progress', handler);
  }
  onBackupFinished(handler: (report: BackupReport) => void) {
    return subscribe('backup-finished', handler);
  }
  onBackupFailed(handler: (error: IpcError) => void) {
    return subscribe('backup-failed', handler);
  }
  async pickFolder(): Promise<string | null> {
    try {
      const picked = await open({ directory: true, multiple: false, title: 'Choose a folder' });
      return typeof picked === 'string' ? picked : null;
    } catch (reason) {
      throw toBackendError(reason);
    }
  }
}
