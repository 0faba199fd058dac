import { vi } from 'vitest';
import type {
  AccountInfo,
  AppStatus,
  Backend,
  BackupProgress,
  BackupReport,
  Dashboard,
  ErrorKind,
  FolderInfo,
  IpcError,
  RestoreRequest,
  RestoreSummary,
  SignInRequest,
  SignUpRequest,
  SnapshotInfo,
} from '../src/lib/ipc';
import { BackendError } from '../src/lib/ipc';

export const NOW = new Date(2025, 5, 14, 15, 30).getTime();
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

export const ACCOUNT: AccountInfo = {
  account_id: 'acc-1',
  first_name: 'Ada',
  last_name: 'Lovelace',
  email: 'ada@example.com',
  server_url: 'http://127.0.0.1:8750',
};

export function folder(path: string, added_at = NOW - DAY): FolderInfo {
  return { path, added_at };
}

export function snapshot(overrides: Partial<SnapshotInfo> = {}): SnapshotInfo {
  return {
    id: 'snap-1',
    time: NOW - HOUR,
    device_name: 'ada-laptop',
    roots: ['/home/ada/Documents', '/home/ada/Pictures'],
    files: 1284,
    bytes: 3_400_000_000,
    ...overrides,
  };
}

export function dashboardData(overrides: Partial<Dashboard> = {}): Dashboard {
  return {
    account: ACCOUNT,
    folders: [folder('/home/ada/Documents'), folder('/home/ada/Pictures')],
    last_backup: snapshot(),
    quota: { used: 3_400_000_000, total: 50_000_000_000 },
    backup: null,
    ...overrides,
  };
}

export function progress(overrides: Partial<BackupProgress> = {}): BackupProgress {
  return {
    phase: 'uploading',
    files_done: 3,
    files_total: 10,
    bytes_done: 2_000_000,
    bytes_total: 8_000_000,
    current_file: '/home/ada/Documents/report.pdf',
    ...overrides,
  };
}

export function report(overrides: Partial<BackupReport> = {}): BackupReport {
  return {
    snapshot_id: 'snap-2',
    files_total: 10,
    files_read: 4,
    bytes_read: 8_000_000,
    bytes_uploaded: 5_000_000,
    skipped: [],
    finished_at: NOW,
    ...overrides,
  };
}

export function fail(type: ErrorKind, message = `${type} happened`): BackendError {
  return new BackendError(type, message);
}

/** A promise the test settles by hand, to look at loading states. */
export function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((ok, no) => {
    resolve = ok;
    reject = no;
  });
  return { promise, resolve, reject };
}

type Handlers = {
  progress: ((p: BackupProgress) => void)[];
  finished: ((r: BackupReport) => void)[];
  failed: ((e: IpcError) => void)[];
};

/** A Backend whose every method is a vi.fn with a sensible default; events are fired by the test. */
export class FakeBackend implements Backend {
  handlers: Handlers = { progress: [], finished: [], failed: [] };

  appStatus = vi.fn(
    async (): Promise<AppStatus> => ({
      signed_in: false,
      account: null,
      server_url: 'http://127.0.0.1:8750',
      keychain_available: true,
      backup: null,
    }),
  );
  signUp = vi.fn(async (_request: SignUpRequest) => ACCOUNT);
  signIn = vi.fn(async (_request: SignInRequest) => ACCOUNT);
  signOut = vi.fn(async () => {});
  dashboard = vi.fn(async () => dashboardData());
  addFolder = vi.fn(async (path: string) => [folder('/home/ada/Documents'), folder(path, NOW)]);
  removeFolder = vi.fn(async (_path: string): Promise<FolderInfo[]> => []);
  backupNow = vi.fn(async () => {});
  listSnapshots = vi.fn(async () => [snapshot(), snapshot({ id: 'snap-0', time: NOW - 3 * DAY, roots: ['/home/ada/Documents'] })]);
  restore = vi.fn(async (request: RestoreRequest): Promise<RestoreSummary> => ({ files: 1284, bytes: 3_400_000_000, target: request.target, skipped: [] }));
  pickFolder = vi.fn(async (): Promise<string | null> => '/home/ada/Picked');

  onBackupProgress = vi.fn(async (handler: (p: BackupProgress) => void) => this.#add('progress', handler));
  onBackupFinished = vi.fn(async (handler: (r: BackupReport) => void) => this.#add('finished', handler));
  onBackupFailed = vi.fn(async (handler: (e: IpcError) => void) => this.#add('failed', handler));

  emitProgress(p: BackupProgress) {
    for (const h of this.handlers.progress) h(p);
  }
  emitFinished(r: BackupReport) {
    for (const h of this.handlers.finished) h(r);
  }
  emitFailed(e: IpcError) {
    for (const h of this.handlers.failed) h(e);
  }

  #add<K extends keyof Handlers>(kind: K, handler: Handlers[K][number]) {
    (this.handlers[kind] as unknown[]).push(handler);
    return () => {
      this.handlers[kind] = (this.handlers[kind] as unknown[]).filter((h) => h !== handler) as Handlers[K];
    };
  }
}
