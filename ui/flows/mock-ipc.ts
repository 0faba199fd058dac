// Test-only entry, bundled by flows/run.mjs and injected before the app loads:
// an in-memory Coffer agent behind Tauri's mockIPC, so page flows run the real
// ui/dist in Chromium without the Rust side.
import { mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import type {
  AccountInfo,
  AppStatus,
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
} from '../src/lib/ipc/bindings';

export type MockOptions = {
  /** Start signed in with these folders and backups. */
  signedIn?: boolean;
  folders?: string[];
  snapshots?: SnapshotInfo[];
  /** sign_up / sign_in reject with `network`. */
  offline?: boolean;
  /** Milliseconds between backup events. */
  stepMs?: number;
  keychainAvailable?: boolean;
};

declare global {
  interface Window {
    __cofferMockOptions?: MockOptions;
    __cofferMock?: { calls: { cmd: string; args: unknown }[]; state: unknown };
  }
}

const options: MockOptions = window.__cofferMockOptions ?? {};
const SERVER = 'http://127.0.0.1:8750';
const GB = 1_000_000_000;
const NOW = Date.now();

const state = {
  account: null as AccountInfo | null,
  password: '',
  folders: [] as FolderInfo[],
  snapshots: [] as SnapshotInfo[],
  quota: { used: 0, total: 50 * GB },
  running: null as BackupProgress | null,
};

if (options.signedIn) {
  state.account = {
    account_id: 'acc-1',
    first_name: 'Ada',
    last_name: 'Lovelace',
    email: 'ada@example.com',
    server_url: SERVER,
  };
  state.password = 'correct horse battery';
  state.folders = (options.folders ?? []).map((path, i) => ({ path, added_at: NOW - (i + 1) * 86_400_000 }));
  state.snapshots = options.snapshots ?? [];
  state.quota.used = state.snapshots[0]?.bytes ?? 0;
}

const calls: { cmd: string; args: unknown }[] = [];
window.__cofferMock = { calls, state };

function fail(type: ErrorKind, message: string): never {
  throw { type, message } satisfies IpcError;
}

function requireAccount(): AccountInfo {
  if (!state.account) fail('not_signed_in', 'Sign in first.');
  return state.account;
}

function dashboard(): Dashboard {
  return {
    account: requireAccount(),
    folders: state.folders,
    last_backup: state.snapshots[0] ?? null,
    quota: state.quota,
    backup: state.running,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Scanning → uploading in steps → finishing → finished, like the agent. */
async function runBackup() {
  const step = options.stepMs ?? 250;
  const files = [
    { path: `${state.folders[0]?.path ?? '/data'}/report-2024.pdf`, size: 2_400_000 },
    { path: `${state.folders[0]?.path ?? '/data'}/photos/holiday-001.jpg`, size: 4_100_000 },
    { path: `${state.folders[0]?.path ?? '/data'}/photos/holiday-002.jpg`, size: 3_900_000 },
    { path: `${state.folders[0]?.path ?? '/data'}/notes.txt`, size: 12_000 },
  ];
  const bytesTotal = files.reduce((n, f) => n + f.size, 0);
  const progress = (p: BackupProgress) => {
    state.running = p;
    return emit('backup-progress', p);
  };
  await progress({ phase: 'scanning', files_done: 0, files_total: 0, bytes_done: 0, bytes_total: 0, current_file: null });
  await sleep(step);
  let done = 0;
  for (let i = 0; i < files.length; i++) {
    await progress({
      phase: 'uploading',
      files_done: i,
      files_total: files.length + 1,
      bytes_done: done,
      bytes_total: bytesTotal,
      current_file: files[i].path,
    });
    done += files[i].size;
    await sleep(step);
  }
  await progress({ phase: 'finishing', files_done: files.length, files_total: files.length + 1, bytes_done: bytesTotal, bytes_total: bytesTotal, current_file: null });
  await sleep(step);
  const snapshot: SnapshotInfo = {
    id: `snap-${state.snapshots.length + 1}`,
    time: Date.now(),
    device_name: 'ada-laptop',
    roots: state.folders.map((f) => f.path),
    files: files.length,
    bytes: bytesTotal,
  };
  state.snapshots = [snapshot, ...state.snapshots];
  state.quota = { ...state.quota, used: state.quota.used + bytesTotal };
  state.running = null;
  const report: BackupReport = {
    snapshot_id: snapshot.id,
    files_total: files.length + 1,
    files_read: files.length,
    bytes_read: bytesTotal,
    bytes_uploaded: Math.round(bytesTotal * 0.93),
    skipped: [{ path: `${state.folders[0]?.path ?? '/data'}/locked.db`, reason: 'Permission denied' }],
    finished_at: Date.now(),
  };
  await emit('backup-finished', report);
}

mockIPC(
  async (cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: a });
    switch (cmd) {
      case 'app_status':
        return {
          signed_in: state.account !== null,
          account: state.account,
          server_url: SERVER,
          keychain_available: options.keychainAvailable ?? true,
          backup: state.running,
        } satisfies AppStatus;
      case 'sign_up': {
        const r = a.request as SignUpRequest;
        if (options.offline) fail('network', `Could not connect to ${r.server_url ?? SERVER}.`);
        if (!r.confirm_age) fail('age_not_confirmed', 'You must be at least 13 years old to use Coffer.');
        if (r.email === 'taken@example.com') fail('email_taken', 'An account with this email already exists.');
        state.account = { account_id: 'acc-1', first_name: r.first_name, last_name: r.last_name, email: r.email, server_url: r.server_url ?? SERVER };
        state.password = r.password;
        return state.account;
      }
      case 'sign_in': {
        const r = a.request as SignInRequest;
        if (options.offline) fail('network', `Could not connect to ${r.server_url ?? SERVER}.`);
        if (r.email !== 'ada@example.com' || r.password !== 'correct horse battery')
          fail('invalid_credentials', 'The email or password is not right.');
        state.account = { account_id: 'acc-1', first_name: 'Ada', last_name: 'Lovelace', email: r.email, server_url: SERVER };
        return state.account;
      }
      case 'sign_out':
        state.account = null;
        return null;
      case 'dashboard':
        return dashboard();
      case 'add_folder': {
        requireAccount();
        const path = String(a.path);
        if (!path.startsWith('/')) fail('invalid_input', 'The folder path must be absolute.');
        if (path === '/does/not/exist') fail('not_found', 'There is no folder at /does/not/exist.');
        state.folders = [...state.folders, { path, added_at: Date.now() }];
        return state.folders;
      }
      case 'remove_folder':
        requireAccount();
        state.folders = state.folders.filter((f) => f.path !== a.path);
        return state.folders;
      case 'backup_now':
        requireAccount();
        if (state.running) fail('busy', 'A backup is already running.');
        state.running = { phase: 'scanning', files_done: 0, files_total: 0, bytes_done: 0, bytes_total: 0, current_file: null };
        void runBackup();
        return null;
      case 'list_snapshots':
        requireAccount();
        return state.snapshots;
      case 'restore': {
        const r = a.request as RestoreRequest;
        const snapshot = state.snapshots.find((s) => s.id === r.snapshot_id);
        if (!snapshot) fail('not_found', 'That backup no longer exists.');
        await sleep(options.stepMs ?? 250);
        const share = r.paths.length === 0 ? 1 : 0.5;
        return {
          files: Math.round(snapshot.files * share),
          bytes: Math.round(snapshot.bytes * share),
          target: r.target,
          skipped:
            r.paths.length === 0
              ? [{ path: `${snapshot.roots[0]}/photos/holiday-002.jpg`, reason: 'A damaged piece could not be read' }]
              : [],
        } satisfies RestoreSummary;
      }
      case 'plugin:dialog|open':
        return '/home/ada/Pictures';
      default:
        fail('server', `The mock has no command ${cmd}.`);
    }
  },
  { shouldMockEvents: true },
);
