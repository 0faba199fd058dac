// Test-only entry, bundled by flows/harness.mjs and injected before the app loads:
// an in-memory Coffer agent behind Tauri's mockIPC, so page flows run the real
// ui/dist in Chromium without the Rust side.
import { mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import type {
  AccountInfo,
  AppScope,
  ConnectAppRequest,
  ConnectedApp,
  ShareInfo,
  ShareRequest,
  Activity,
  AppStatus,
  BackupProgress,
  BackupReport,
  BackupRun,
  CleanupWaiting,
  CommunicationPreferences,
  Dashboard,
  DeviceInfo,
  ErrorKind,
  ExcludedFile,
  ExclusionSettings,
  FileVersion,
  FolderInfo,
  FolderUsage,
  HeldDeletion,
  IpcError,
  KeyMode,
  KeyStatus,
  KeyStrength,
  PolicyInfo,
  Profile,
  ProfileUpdate,
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
  TreeEntry,
  VerifyReport,
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
  /** Signed in to a private-key account whose key is not entered (key: "correct horse battery staple"). */
  locked?: boolean;
  keyMode?: KeyMode;
  /** The published policy is newer than the accepted one. */
  policyOutdated?: boolean;
  /** The folder watcher fell back to scanning. */
  watchFallback?: string;
  /** Show a backup in progress from the start (frozen at 42 %). */
  backupRunning?: boolean;
  /** A switch to a private key (new key: "purple elephant quietly dances") was interrupted on this device. */
  keySwitchInterrupted?: boolean;
  /** sign_in needs a two-factor code (123456). */
  totp?: boolean;
  /** These commands reject with `server` (to picture error states). */
  failing?: string[];
  /** Like the agent's scheduler: a folder just added is backed up right away (continuous mode). */
  autoBackup?: boolean;
  /** Automatic cleanup found old versions (the rules keep the 5 newest) and waits for the person to confirm. */
  cleanupWaiting?: boolean;
  /** The account's storage plan in bytes (default 50 GB); a backup that does not fit fails with `quota_exceeded`. */
  quotaBytes?: number;
  /** Start with shares in every state and two connected apps (for pictures of the lists). */
  sharingHistory?: boolean;
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
const MB = 1_000_000;
const NOW = Date.now();
const DAY = 86_400_000;
const PRIVATE_KEY = 'correct horse battery staple';
/** The new key of the interrupted switch (`keySwitchInterrupted`). */
const SWITCH_KEY = 'purple elephant quietly dances';
const RECOVERY = 'K7QM2XPA9RTB4WZC8NDF';
/** The recovery code of the key made by "start over". */
const NEW_RECOVERY = 'R4WB7MXT2QKP9CZD3HNA';
/** The share of a backup's size that no other backup shares (what removing it frees); the stored data is their sum. */
const UNIQUE_SHARE = 0.08;

const ADA: AccountInfo = { account_id: 'acc-1', first_name: 'Ada', last_name: 'Lovelace', email: 'ada@example.com', server_url: SERVER };

const state = {
  account: null as AccountInfo | null,
  password: '',
  /** When the deleted account's files are purged (Unix ms, 00:00 UTC), while it can still be restored. */
  deletedUntil: null as number | null,
  /** Like the agent: deleting works until then after "Confirm it's you" (Unix ms). */
  confirmedUntil: 0,
  /** Deletions the service holds for 7 days, with the backups each took. */
  held: [] as { deletion: HeldDeletion; snapshots: SnapshotInfo[] }[],
  cleanupWaiting: Boolean(options.cleanupWaiting),
  keyMode: (options.keyMode ?? (options.locked ? 'private' : 'default')) as KeyMode,
  unlocked: !options.locked,
  remembered: false,
  keyChangedAt: null as number | null,
  /** The new key of a switch to a private key recorded on this device (cleared when it finishes). */
  keySwitch: (options.keySwitchInterrupted ? SWITCH_KEY : null) as string | null,
  folders: [] as FolderInfo[],
  snapshots: [] as SnapshotInfo[],
  quota: { used: 0, total: options.quotaBytes ?? 50 * GB },
  running: null as BackupProgress | null,
  runs: [] as BackupRun[],
  schedule: {
    mode: 'continuous',
    daily_at: null,
    every_minutes: null,
    upload_limit_kib: null,
    download_limit_kib: null,
  } as ScheduleSettings,
  pausedUntil: null as number | null,
  pausedIndefinitely: false,
  exclusions: { patterns: ['*.iso'], max_file_size: null, presets: ['caches', 'node_modules'] } as ExclusionSettings,
  prefs: {
    product_announcements: false,
    software_updates: false,
    surveys_research: false,
    newsletter: false,
    operational_alerts: true,
  } as CommunicationPreferences,
  profile: null as Profile | null,
  sessions: [] as SessionRecord[],
  policy: {
    version: '2025-06-01',
    published_at: NOW - 12 * DAY,
    text: POLICY_TEXT(),
    accepted_version: options.policyOutdated ? '2024-01-15' : '2025-06-01',
    accepted_at: NOW - (options.policyOutdated ? 400 : 11) * DAY,
  } as PolicyInfo,
  autostart: false,
  savedFiles: {} as Record<string, string>,
  shares: [] as ShareInfo[],
  apps: [] as ConnectedApp[],
  /** Full share links and app tokens handed out (only the creating answer carries them). */
  secretsGiven: [] as string[],
  /** URLs the person opened with "Email it". */
  mailDrafts: [] as string[],
  retention: (options.cleanupWaiting
    ? { keep_last: 5, keep_hourly: 0, keep_daily: 0, keep_weekly: 0, keep_monthly: 0, keep_yearly: 0, keep_within_days: null, automatic: true }
    : {
        keep_last: 10,
        keep_hourly: 24,
        keep_daily: 30,
        keep_weekly: 8,
        keep_monthly: 12,
        keep_yearly: 3,
        keep_within_days: null,
        automatic: true,
      }) as RetentionSettings,
};

function POLICY_TEXT(): string {
  return [
    '# Coffer privacy policy',
    '',
    'Coffer backs up your files. This policy says what we keep about you, why, and what you can do about it.',
    '',
    '## What you give us',
    '- Your name, email address and, if you choose, a postal address.',
    '- Your files — encrypted on your device before they leave it. With a private key, we cannot open them.',
    '',
    '## Session records',
    'Each time the app talks to the service we record when, from which IP address and device, and how much was sent. You can see these records under Activity. We delete them after 90 days.',
    '',
    '## Your choices',
    '- Emails other than alerts stay off until you turn them on.',
    '- You can export everything we hold about you, and delete your account at any time.',
  ].join('\n');
}

/** 00:00 UTC after the 10th business day from `from` (crates/server/src/calendar.rs). */
function purgeDay(from: number): number {
  const day = new Date(from);
  day.setUTCHours(0, 0, 0, 0);
  for (let left = 10; left > 0; ) {
    day.setUTCDate(day.getUTCDate() + 1);
    if (day.getUTCDay() !== 0 && day.getUTCDay() !== 6) left -= 1;
  }
  day.setUTCDate(day.getUTCDate() + 1);
  return day.getTime();
}

/** What the agent says when signing in to a deleted account (crates/client/src/service.rs). */
function deletedMessage(purgeAt: number): string {
  const day = new Date(purgeAt).toLocaleDateString('en-US', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
  return `This account is scheduled for deletion: it and its stored files will be deleted for good on ${day}. Until then you can restore it.`;
}

function signIn(account: AccountInfo, password: string) {
  state.account = account;
  state.password = password;
  state.profile = {
    first_name: account.first_name,
    last_name: account.last_name,
    email: account.email,
    email_verified: true,
    pending_email: null,
    postal_address: null,
    totp_enabled: false,
  };
  // The service lists sessions newest first: this device, signed in earlier, is not first.
  state.sessions = [
    session('sess-2', 'ada-desktop', false, '192.0.2.44', NOW - DAY),
    session('sess-1', 'ada-laptop', true, '127.0.0.1', NOW - 2 * DAY),
    session('sess-3', 'ada-phone-backup', false, '198.51.100.7', NOW - 30 * DAY, NOW - 20 * DAY),
  ];
}

function session(id: string, device: string, current: boolean, ip: string, started: number, ended: number | null = null): SessionRecord {
  return {
    id,
    device_name: device,
    device_id: `dev-${device}-7f3a9c21`,
    app_version: '0.1.0',
    ip,
    started_at: started,
    last_seen_at: ended ?? NOW - (current ? 30_000 : 3 * 3_600_000),
    ended_at: ended,
    end_reason: ended ? 'signed_out' : null,
    active: ended === null,
    requests: current ? 2_318 : 412,
    bytes_up: current ? 3.4 * GB : 120 * MB,
    bytes_down: current ? 18 * MB : 2 * MB,
    transfer_ms: current ? 612_000 : 41_000,
    current,
  };
}

if (options.signedIn || options.locked) {
  signIn(ADA, 'correct horse battery');
  state.folders = (options.folders ?? []).map((path, i) => ({ path, added_at: NOW - (i + 1) * DAY }));
  state.snapshots = options.snapshots ?? [];
  state.quota.used = state.snapshots[0]?.bytes ?? 0;
  state.runs = state.snapshots.map((s, i) => ({
    started_at: s.time - 95_000,
    finished_at: s.time,
    status: 'done',
    snapshot_id: s.id,
    files_total: s.files,
    files_read: i === state.snapshots.length - 1 ? s.files : 14 + i,
    bytes_uploaded: i === state.snapshots.length - 1 ? s.bytes : 6_200_000 + i * 1_000_000,
    skipped: i === 0 ? 1 : 0,
    error: null,
  }));
  if (state.snapshots.length > 1)
    state.runs.splice(1, 0, {
      started_at: state.snapshots[0].time - DAY / 2,
      finished_at: null,
      status: 'failed',
      snapshot_id: null,
      files_total: 0,
      files_read: 0,
      bytes_uploaded: 0,
      skipped: 0,
      error: 'The Coffer service could not be reached.',
    });
}
if (options.backupRunning) {
  state.running = {
    phase: 'uploading',
    files_done: 412,
    files_total: 1_020,
    bytes_done: 880 * MB,
    bytes_total: 2_100 * MB,
    current_file: `${state.folders[0]?.path ?? '/data'}/photos/holiday-002.jpg`,
    bytes_per_second: 2_400_000,
    eta_seconds: 510,
    skipped: 1,
  };
}

function hex(n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += Math.floor(Math.random() * 16).toString(16);
  return out;
}

function shareListing(): ShareInfo[] {
  const now = Date.now();
  for (const s of state.shares) {
    if (s.state === 'active' && s.expires_at <= now) s.state = 'expired';
  }
  return [...state.shares].sort((a, b) => b.created_at - a.created_at);
}

/** Like the agent: restores the item from the backup, re-encrypts and uploads it with progress, then the link. */
async function share(request: ShareRequest) {
  requireAccount();
  const snapshot = snapshotById(request.snapshot_id);
  const map = index(snapshot);
  const node = map.get(request.path);
  if (!node) fail('not_found', `${request.path} is not in this backup`);
  const bad = request.recipients.find((r) => !/^[^\s@]+@[^\s@]+$/.test(r));
  if (bad) fail('invalid_input', `to: “${bad}” does not look like name@example.com`);
  const files = node!.kind === 'dir' ? [...map.entries()].filter(([p, n]) => p.startsWith(`${request.path}/`) && n.kind === 'file') : [[request.path, node!] as const];
  const bytesTotal = files.reduce((sum, [, n]) => sum + n.size, 0);
  let bytes = 0;
  for (let i = 0; i <= files.length; i++) {
    await emit('share-progress', { files_done: i, files_total: files.length, bytes_done: bytes, bytes_total: bytesTotal });
    if (i < files.length) bytes += files[i][1].size;
    await sleep(Math.max(20, (options.stepMs ?? 120) / 2));
  }
  const info: ShareInfo = {
    id: hex(32),
    state: 'active',
    created_at: Date.now(),
    expires_at: Date.now() + (request.expires_in_days ?? 7) * DAY,
    password: Boolean(request.password),
    max_downloads: request.max_downloads ?? null,
    downloads: 0,
    recipients: request.recipients,
    bytes: bytesTotal + 16 * (files.length + 1),
    removed: false,
  };
  state.shares.push(info);
  const link = `${SERVER}/s/${info.id}#${'Qm9iIHNoYXJlcyBhIGtleSB3aXRoIEFkYSBvbmNlLi4u'.slice(0, 43)}`;
  state.secretsGiven.push(link);
  return { share: info, link };
}

function connectApp(request: ConnectAppRequest) {
  requireAccount();
  if (!request.name.trim()) fail('invalid_input', 'name: give the app a name you will recognise');
  if (request.scopes.length === 0) fail('invalid_input', 'scopes: choose at least one of restore, backup and account_read');
  const app: ConnectedApp = {
    id: hex(16),
    name: request.name.trim(),
    scopes: request.scopes,
    created_at: Date.now(),
    expires_at: Date.now() + (request.expires_in_days ?? 30) * DAY,
    expired: false,
    last_used_at: null,
    last_used_ip: null,
    uses: 0,
  };
  state.apps.unshift(app);
  const token = `cfa_${hex(40)}`;
  state.secretsGiven.push(token);
  return { app, token };
}

if (options.sharingHistory) {
  const scopes = (list: AppScope[]) => list;
  state.shares = [
    { id: hex(32), state: 'active', created_at: NOW - 2 * 3_600_000, expires_at: NOW + 7 * DAY, password: true, max_downloads: 5, downloads: 1, recipients: ['bob@example.com', 'carol@example.com'], bytes: 48_300_000, removed: false },
    { id: hex(32), state: 'active', created_at: NOW - 3 * DAY, expires_at: NOW + 27 * DAY, password: false, max_downloads: null, downloads: 6, recipients: ['accountant@example.org'], bytes: 2_400_000, removed: false },
    { id: hex(32), state: 'exhausted', created_at: NOW - 6 * DAY, expires_at: NOW + DAY, password: false, max_downloads: 1, downloads: 1, recipients: ['dan@example.net'], bytes: 812_000_000, removed: false },
    { id: hex(32), state: 'expired', created_at: NOW - 12 * DAY, expires_at: NOW - 5 * DAY, password: false, max_downloads: null, downloads: 3, recipients: [], bytes: 0, removed: true },
    { id: hex(32), state: 'revoked', created_at: NOW - 20 * DAY, expires_at: NOW - 13 * DAY, password: false, max_downloads: null, downloads: 0, recipients: [], bytes: 0, removed: true },
  ];
  state.apps = [
    { id: hex(16), name: 'Photo frame (living room)', scopes: scopes(['restore']), created_at: NOW - 40 * DAY, expires_at: NOW + 325 * DAY, expired: false, last_used_at: NOW - 25 * 60_000, last_used_ip: '192.0.2.44', uses: 1_318 },
    { id: hex(16), name: 'NAS nightly copy', scopes: scopes(['backup', 'account_read']), created_at: NOW - 9 * DAY, expires_at: NOW + 21 * DAY, expired: false, last_used_at: null, last_used_ip: null, uses: 0 },
  ];
}

const calls: { cmd: string; args: unknown }[] = [];
window.__cofferMock = { calls, state };

function fail(type: ErrorKind, message: string): never {
  throw { type, message } satisfies IpcError;
}

/** Like the agent: jobs given the password confirm with it, unless two-factor sign-in also needs a code. */
function requireConfirmation() {
  if (state.profile?.totp_enabled && Date.now() >= state.confirmedUntil)
    fail('confirmation_required', 'deleting backups needs your two-factor code too: confirm it\'s you with your password and code, then try again');
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

// The files in every backed-up folder, relative to it.
const FILES: [string, number][] = [
  ['report-2024.pdf', 2_400_000],
  ['notes.txt', 12_000],
  ['Budget 2025.ods', 84_000],
  ['photos/holiday-001.jpg', 4_100_000],
  ['photos/holiday-002.jpg', 3_900_000],
  ['photos/family/birthday.jpg', 5_200_000],
  ['Taxes/2023/return.pdf', 640_000],
  ['Taxes/2024/return.pdf', 702_000],
  ['Taxes/2024/receipts.zip', 12_800_000],
];

type Node = { kind: 'file' | 'dir'; size: number; mtime: number };

/** Every path of one backup: the roots, their folders and files (sizes vary a little per backup). */
function index(snapshot: SnapshotInfo): Map<string, Node> {
  const age = state.snapshots.length - state.snapshots.findIndex((s) => s.id === snapshot.id);
  const map = new Map<string, Node>();
  for (const root of snapshot.roots) {
    map.set(root, { kind: 'dir', size: 0, mtime: snapshot.time - DAY });
    for (const [rel, size] of FILES) {
      const parts = rel.split('/');
      let current = root;
      for (let i = 0; i < parts.length - 1; i++) {
        current = `${current}/${parts[i]}`;
        if (!map.has(current)) map.set(current, { kind: 'dir', size: 0, mtime: snapshot.time - 2 * DAY });
      }
      const grows = rel.endsWith('.txt') || rel.endsWith('.ods') || rel.startsWith('report');
      map.set(`${root}/${rel}`, {
        kind: 'file',
        size: grows ? size + age * 1_337 : size,
        mtime: grows ? snapshot.time - 3_600_000 : snapshot.time - 20 * DAY,
      });
    }
  }
  return map;
}

function snapshotById(id: unknown): SnapshotInfo {
  const s = state.snapshots.find((x) => x.id === id);
  if (!s) fail('not_found', 'That backup no longer exists.');
  return s;
}

function browse(snapshotId: unknown, path: unknown): TreeEntry[] {
  const snapshot = snapshotById(snapshotId);
  const map = index(snapshot);
  const children = [...map.entries()].filter(([p]) =>
    path === null ? snapshot.roots.includes(p) : p.startsWith(`${path}/`) && !p.slice(String(path).length + 1).includes('/'),
  );
  return children.map(([p, n]) => ({ name: p.split('/').pop()!, path: p, kind: n.kind, size: n.size, mtime: n.mtime }));
}

function search(query: string, snapshotId: string | null): SearchHit[] {
  const q = query.toLowerCase();
  const hits: SearchHit[] = [];
  for (const s of state.snapshots) {
    if (snapshotId && s.id !== snapshotId) continue;
    for (const [p, n] of index(s)) {
      if (p.split('/').pop()!.toLowerCase().includes(q) && !s.roots.includes(p))
        hits.push({ snapshot_id: s.id, time: s.time, path: p, kind: n.kind, size: n.size });
    }
  }
  return hits.slice(0, 200);
}

function versions(path: string): FileVersion[] {
  const out: FileVersion[] = [];
  let lastSize = -1;
  for (const s of [...state.snapshots].reverse()) {
    const n = index(s).get(path);
    if (!n || n.kind !== 'file') continue;
    if (n.size !== lastSize) out.push({ snapshot_id: s.id, time: s.time, size: n.size, mtime: n.mtime });
    lastSize = n.size;
  }
  return out.reverse();
}

function scheduler(): SchedulerStatus {
  const paused = state.pausedIndefinitely || (state.pausedUntil !== null && state.pausedUntil > Date.now());
  const next =
    state.schedule.mode === 'hourly'
      ? Date.now() + 42 * 60_000
      : state.schedule.mode === 'daily'
        ? Date.now() + 6 * 3_600_000
        : state.schedule.mode === 'custom'
          ? Date.now() + (state.schedule.every_minutes ?? 30) * 60_000
          : null;
  return {
    settings: state.schedule,
    watch: { active: !options.watchFallback, fallback_reason: options.watchFallback ?? null },
    paused_until: paused && !state.pausedIndefinitely ? state.pausedUntil : null,
    paused_indefinitely: state.pausedIndefinitely,
    next_backup_at: paused ? null : next,
  };
}

function keyStatus(): KeyStatus {
  return { mode: state.keyMode, changed_at: state.keyChangedAt, unlocked: state.unlocked, remembered: state.remembered, switch_in_progress: state.keySwitch !== null };
}

function strength(key: string): KeyStrength {
  const words = key.trim().split(/\s+/).length;
  const score = Math.min(4, Math.floor(key.length / 6) + (words >= 3 ? 1 : 0));
  const messages = ['Far too short.', 'Add a few more words.', 'Getting there: add another word.', '', ''];
  return { score, acceptable: score >= 3, message: messages[score] };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Scanning → uploading in steps → finishing → finished, like the agent. */
async function runBackup() {
  const step = options.stepMs ?? 250;
  const base = state.folders[0]?.path ?? '/data';
  const files = [
    { path: `${base}/report-2024.pdf`, size: 2_400_000 },
    { path: `${base}/photos/holiday-001.jpg`, size: 4_100_000 },
    { path: `${base}/photos/holiday-002.jpg`, size: 3_900_000 },
    { path: `${base}/notes.txt`, size: 12_000 },
  ];
  const bytesTotal = files.reduce((n, f) => n + f.size, 0);
  const started = Date.now();
  const progress = (p: BackupProgress) => {
    state.running = p;
    return emit('backup-progress', p);
  };
  const base0 = { bytes_per_second: 0, eta_seconds: null, skipped: 0 };
  await progress({ phase: 'scanning', files_done: 0, files_total: 0, bytes_done: 0, bytes_total: 0, current_file: null, ...base0 });
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
      bytes_per_second: i === 0 ? 0 : 2_150_000 + i * 110_000,
      eta_seconds: i === 0 ? null : Math.round((bytesTotal - done) / 2_150_000) + 70,
      skipped: i >= 2 ? 1 : 0,
    });
    done += files[i].size;
    await sleep(step);
    if (state.quota.used + done > state.quota.total) {
      state.running = null;
      state.runs = [{ started_at: started, finished_at: null, status: 'failed', snapshot_id: null, files_total: files.length + 1, files_read: i, bytes_uploaded: 0, skipped: 0, error: 'the account storage quota is exceeded' }, ...state.runs];
      await emit('backup-failed', { type: 'quota_exceeded', message: 'the account storage quota is exceeded' });
      return;
    }
  }
  await progress({ phase: 'finishing', files_done: files.length, files_total: files.length + 1, bytes_done: bytesTotal, bytes_total: bytesTotal, current_file: null, bytes_per_second: 0, eta_seconds: 0, skipped: 1 });
  await sleep(step);
  const snapshot: SnapshotInfo = {
    id: `snap-${state.snapshots.length + 1}`,
    time: Date.now(),
    device_name: 'ada-laptop',
    device_id: 'dev-laptop',
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
    skipped: [{ path: `${base}/locked.db`, reason: 'Permission denied' }],
    finished_at: Date.now(),
  };
  state.runs = [
    { started_at: started, finished_at: Date.now(), status: 'done', snapshot_id: snapshot.id, files_total: report.files_total, files_read: report.files_read, bytes_uploaded: report.bytes_uploaded, skipped: 1, error: null },
    ...state.runs,
  ];
  await emit('backup-finished', report);
}

/** Which backups the retention rules keep, like the engine: every rule keeps the newest backup of each of its last N periods. */
function retentionPlan(r: RetentionSettings): { keep: SnapshotInfo[]; remove: SnapshotInfo[] } {
  const snaps = [...state.snapshots].sort((a, b) => b.time - a.time);
  const keep = new Set<string>();
  snaps.slice(0, r.keep_last).forEach((s) => keep.add(s.id));
  if (r.keep_within_days) for (const s of snaps) if (s.time >= Date.now() - r.keep_within_days * DAY) keep.add(s.id);
  const week = (d: Date) => {
    const t = new Date(d.getFullYear(), d.getMonth(), d.getDate() - ((d.getDay() + 6) % 7));
    return `${t.getFullYear()}-${t.getMonth()}-${t.getDate()}`;
  };
  const buckets: [number, (d: Date) => string][] = [
    [r.keep_hourly, (d) => `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}-${d.getHours()}`],
    [r.keep_daily, (d) => `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`],
    [r.keep_weekly, week],
    [r.keep_monthly, (d) => `${d.getFullYear()}-${d.getMonth()}`],
    [r.keep_yearly, (d) => `${d.getFullYear()}`],
  ];
  for (const [count, key] of buckets) {
    let last: string | null = null;
    let used = 0;
    for (const s of snaps) {
      if (used >= count) break;
      const k = key(new Date(s.time));
      if (k !== last) {
        keep.add(s.id);
        used += 1;
        last = k;
      }
    }
  }
  return { keep: snaps.filter((s) => keep.has(s.id)), remove: snaps.filter((s) => !keep.has(s.id)) };
}

/** Data no kept backup needs, waiting to be deleted (forget done, prune not yet). */
let unpruned = 0;

function applyRetention(preview: boolean, confirmLarge: boolean): RetentionOutcome {
  const plan = retentionPlan(state.retention);
  const outcome: RetentionOutcome = { kept: plan.keep.length, removed: plan.remove, bytes_freed: 0, bytes_waiting: 0 };
  if (preview) return outcome;
  // Like the agent: the backups are forgotten first, then the prune checks its size.
  const stored = unpruned + state.snapshots.reduce((n, s) => n + Math.round(s.bytes * UNIQUE_SHARE), 0);
  if (Date.now() >= state.confirmedUntil)
    fail('confirmation_required', "deleting backups needs you to confirm it's you: enter your password (and two-factor code, if it is on) and try again");
  state.snapshots = state.snapshots.filter((s) => !plan.remove.some((r) => r.id === s.id));
  if (plan.remove.length > 0) {
    const freed = plan.remove.reduce((n, s) => n + Math.round(s.bytes * UNIQUE_SHARE), 0);
    state.held.unshift({
      deletion: {
        id: `del-${state.held.length + 1}`,
        confirmed_at: state.confirmedUntil - 3_600_000,
        deleted_at: Date.now(),
        device_name: 'ada-laptop',
        device_id: 'dev-laptop',
        snapshots: plan.remove.length,
        other_objects: 3,
        bytes: freed,
        purge_at: Date.now() + 7 * DAY,
      },
      snapshots: plan.remove,
    });
  }
  state.cleanupWaiting = false;
  unpruned += plan.remove.reduce((n, s) => n + Math.round(s.bytes * UNIQUE_SHARE), 0);
  const total = Math.max(stored, 1);
  if (unpruned * 2 > total && !confirmLarge)
    fail('invalid_input', `prune would remove ${unpruned} of ${total} stored bytes (${Math.floor((unpruned * 100) / total)}%); if that is intended, confirm it`);
  // Packs condemned by an earlier run are deleted now; the rest waits out the 24-hour delay.
  outcome.bytes_freed = Math.round(unpruned * 0.25);
  outcome.bytes_waiting = unpruned - outcome.bytes_freed;
  state.quota = { ...state.quota, used: Math.max(0, state.quota.used - outcome.bytes_freed) };
  unpruned = 0;
  return outcome;
}

async function restore(r: RestoreRequest): Promise<RestoreSummary> {
  const snapshot = snapshotById(r.snapshot_id);
  if (r.target !== null && !r.target.startsWith('/')) fail('invalid_input', 'The folder to restore into must be a full path.');
  const map = index(snapshot);
  const chosen = [...map.entries()].filter(
    ([p, n]) => n.kind === 'file' && (r.paths.length === 0 || r.paths.some((sel) => p === sel || p.startsWith(`${sel}/`))),
  );
  const filesTotal = chosen.length;
  const bytesTotal = chosen.reduce((t, [, n]) => t + n.size, 0);
  const step = options.stepMs ?? 250;
  let bytes = 0;
  for (let i = 0; i < chosen.length; i++) {
    await emit('restore-progress', { files_done: i, files_total: filesTotal, bytes_done: bytes, bytes_total: bytesTotal, current_file: chosen[i][0] });
    bytes += chosen[i][1].size;
    await sleep(Math.min(step, 1200 / Math.max(1, chosen.length)));
  }
  const summary: RestoreSummary = {
    files: filesTotal,
    bytes: bytesTotal,
    target: r.target ?? 'the original folders',
    skipped:
      r.paths.length === 0
        ? [{ path: `${snapshot.roots[0]}/photos/holiday-002.jpg`, reason: 'A damaged piece could not be read' }]
        : [],
    // Back in the original folders, a file owned by someone else keeps its old owner and mode.
    warnings: r.target === null ? [{ path: `${chosen[0]?.[0] ?? snapshot.roots[0]}`, reason: 'Permissions not set: operation not permitted' }] : [],
  };
  await emit('restore-finished', summary);
  return summary;
}

mockIPC(
  async (cmd, args) => {
    const a = (args ?? {}) as Record<string, unknown>;
    calls.push({ cmd, args: a });
    if (options.failing?.includes(cmd)) fail('server', 'The Coffer service had a problem (error 503).');
    switch (cmd) {
      case 'app_status':
        return {
          signed_in: state.account !== null,
          account: state.account,
          server_url: SERVER,
          keychain_available: options.keychainAvailable ?? true,
          backup: state.running,
          locked: state.account !== null && state.keyMode === 'private' && !state.unlocked,
        } satisfies AppStatus;
      case 'sign_up': {
        const r = a.request as SignUpRequest;
        if (options.offline) fail('network', `Could not connect to ${r.server_url ?? SERVER}.`);
        if (!r.confirm_age) fail('age_not_confirmed', 'You must be at least 13 years old to use Coffer.');
        if (r.email === 'taken@example.com') fail('email_taken', 'An account with this email already exists.');
        if (r.key_mode === 'private' && (!r.private_key || !strength(r.private_key).acceptable)) fail('invalid_input', 'The encryption key is too weak.');
        signIn({ account_id: 'acc-1', first_name: r.first_name, last_name: r.last_name, email: r.email, server_url: r.server_url ?? SERVER }, r.password);
        state.keyMode = r.key_mode;
        state.unlocked = true;
        return { account: state.account!, recovery_code: r.key_mode === 'private' ? RECOVERY : null } satisfies SignUpResult;
      }
      case 'sign_in': {
        const r = a.request as SignInRequest;
        if (options.offline) fail('network', `Could not connect to ${r.server_url ?? SERVER}.`);
        if (r.email !== 'ada@example.com' || r.password !== 'correct horse battery')
          fail('invalid_credentials', 'The email or password is not right.');
        // Like the service: a deleted account is refused after the password, before the code.
        if (state.deletedUntil !== null) fail('account_deleted', deletedMessage(state.deletedUntil));
        if (options.totp && r.totp_code === null) fail('totp_required', 'Enter the code from your authenticator app.');
        if (options.totp && r.totp_code !== '123456') fail('totp_required', 'That code did not work. Try the next one.');
        signIn({ ...ADA, email: r.email }, r.password);
        if (options.totp) state.profile!.totp_enabled = true;
        return state.account;
      }
      case 'restore_account': {
        const r = a.request as SignInRequest;
        if (r.email !== 'ada@example.com' || r.password !== 'correct horse battery')
          fail('invalid_credentials', 'The email or password is not right.');
        state.deletedUntil = null;
        if (options.totp && r.totp_code !== '123456') fail('totp_required', 'Enter the code from your authenticator app.');
        signIn({ ...ADA, email: r.email }, r.password);
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
        if (options.autoBackup && !state.running && state.schedule.mode === 'continuous') {
          state.running = { phase: 'scanning', files_done: 0, files_total: 0, bytes_done: 0, bytes_total: 0, current_file: null, bytes_per_second: 0, eta_seconds: null, skipped: 0 };
          setTimeout(() => void runBackup(), 200);
        }
        return state.folders;
      }
      case 'remove_folder':
        requireAccount();
        state.folders = state.folders.filter((f) => f.path !== a.path);
        return state.folders;
      case 'folder_usage':
        requireAccount();
        return state.folders.map((f, i) => ({
          path: f.path,
          files: [1_020, 264, 3_811][i % 3],
          bytes: [2.1 * GB, 1.3 * GB, 420 * MB][i % 3],
          excluded: [3, 0, 1_204][i % 3],
        })) satisfies FolderUsage[];
      case 'exclusions':
        return state.exclusions;
      case 'set_exclusions':
        state.exclusions = a.settings as ExclusionSettings;
        return state.exclusions;
      case 'excluded_files': {
        const out: ExcludedFile[] = [];
        const root = state.folders[0]?.path;
        if (root) {
          if (state.exclusions.patterns.includes('*.iso')) out.push({ path: `${root}/ubuntu-24.04-desktop-amd64.iso`, reason: 'Matches your pattern *.iso' });
          if (state.exclusions.presets.includes('caches')) out.push({ path: `${root}/.cache/thumbnails`, reason: 'A cache folder (preset “Caches”)' });
          if (state.exclusions.presets.includes('node_modules')) out.push({ path: `${root}/Projects/site/node_modules`, reason: 'Installed packages (preset “node_modules”)' });
          if (state.exclusions.max_file_size !== null) out.push({ path: `${root}/Videos/wedding.mp4`, reason: 'Larger than your size limit' });
          out.push({ path: `${root}/locked.db`, reason: 'Cannot be read: permission denied' });
        }
        return out;
      }
      case 'backup_now':
        requireAccount();
        if (state.running) fail('busy', 'A backup is already running.');
        state.running = { phase: 'scanning', files_done: 0, files_total: 0, bytes_done: 0, bytes_total: 0, current_file: null, bytes_per_second: 0, eta_seconds: null, skipped: 0 };
        void runBackup();
        return null;
      case 'verify_backup':
        await sleep(options.stepMs ?? 250);
        return { ok: true, read_data: Boolean(a.readData), snapshots_checked: state.snapshots.length, packs_checked: a.readData ? 38 : 0, problems: [] } satisfies VerifyReport;
      case 'list_snapshots':
        requireAccount();
        return state.snapshots;
      case 'list_devices': {
        const map = new Map<string, DeviceInfo>();
        for (const s of state.snapshots) {
          const d = map.get(s.device_id) ?? { device_id: s.device_id, device_name: s.device_name, last_backup: s.time, snapshots: 0, this_device: s.device_id === 'dev-laptop' };
          d.snapshots += 1;
          d.last_backup = Math.max(d.last_backup ?? 0, s.time);
          map.set(s.device_id, d);
        }
        return [...map.values()];
      }
      case 'browse':
        await sleep(60);
        return browse(a.snapshotId, a.path ?? null);
      case 'search_files':
        await sleep(60);
        return search(String(a.query), (a.snapshotId as string | null) ?? null);
      case 'file_versions':
        return versions(String(a.path));
      case 'restore':
        return restore(a.request as RestoreRequest);
      case 'scheduler_status':
        return scheduler();
      case 'set_schedule':
        state.schedule = a.settings as ScheduleSettings;
        await emit('scheduler-changed', scheduler());
        return scheduler();
      case 'pause_backups':
        if (a.minutes === null) state.pausedIndefinitely = true;
        else state.pausedUntil = Date.now() + Number(a.minutes) * 60_000;
        return scheduler();
      case 'resume_backups':
        state.pausedIndefinitely = false;
        state.pausedUntil = null;
        return scheduler();
      case 'activity':
        return { backups: state.runs, sessions: state.sessions } satisfies Activity;
      case 'profile':
        requireAccount();
        return state.profile;
      case 'update_profile': {
        const u = a.update as ProfileUpdate;
        const p = state.profile!;
        state.profile = {
          ...p,
          first_name: u.first_name ?? p.first_name,
          last_name: u.last_name ?? p.last_name,
          pending_email: u.email ?? p.pending_email,
          postal_address: u.postal_address ? (Object.values(u.postal_address).some(Boolean) ? u.postal_address : null) : p.postal_address,
        };
        return state.profile;
      }
      case 'change_password': {
        const c = a.change as { current_password: string; new_password: string };
        if (c.current_password !== state.password) fail('invalid_credentials', 'The current password is not right.');
        state.password = c.new_password;
        state.sessions = state.sessions.map((s) =>
          s.current || !s.active ? s : { ...s, ended_at: Date.now(), active: false, end_reason: 'password_changed' },
        );
        return null;
      }
      case 'list_sessions':
        return state.sessions;
      case 'revoke_session':
        state.sessions = state.sessions.map((s) => (s.id === a.id ? { ...s, ended_at: Date.now(), active: false, end_reason: 'revoked' } : s));
        return state.sessions;
      case 'sign_out_everywhere':
        state.account = null;
        return null;
      case 'preferences':
        return state.prefs;
      case 'set_preferences':
        state.prefs = a.preferences as CommunicationPreferences;
        return state.prefs;
      case 'policy':
        return state.policy;
      case 'accept_policy':
        state.policy = { ...state.policy, accepted_version: String(a.version), accepted_at: Date.now() };
        return state.policy;
      case 'export_data':
        await sleep(options.stepMs ?? 250);
        return { path: String(a.path), bytes: 48_213 };
      case 'delete_account': {
        if (a.password !== state.password) fail('invalid_credentials', 'The password is not right.');
        state.account = null;
        // The service's rule: 00:00 UTC after the 10th business day.
        const purgeAt = a.purgeNow ? Date.now() : purgeDay(Date.now());
        state.deletedUntil = a.purgeNow ? null : purgeAt;
        return { purge_at: purgeAt };
      }
      case 'key_status':
        return keyStatus();
      case 'key_strength':
        return strength(String(a.key));
      case 'unlock':
        await sleep(options.stepMs ?? 250);
        if (a.key !== PRIVATE_KEY) fail('invalid_credentials', 'The key does not unlock this account.');
        state.unlocked = true;
        state.remembered = Boolean(a.remember);
        return keyStatus();
      case 'unlock_with_recovery':
        if (String(a.code).replace(/[\s-]/g, '').toUpperCase() !== RECOVERY) fail('invalid_credentials', 'The recovery code does not unlock this account.');
        state.unlocked = true;
        state.remembered = Boolean(a.remember);
        return keyStatus();
      case 'lock_now':
        state.unlocked = false;
        state.remembered = false;
        return keyStatus();
      case 'change_key':
        if (a.password !== state.password) fail('invalid_credentials', 'The account password is not right.');
        if (a.currentKey !== PRIVATE_KEY) fail('invalid_credentials', 'The current key is not right.');
        state.keyChangedAt = Date.now();
        return keyStatus();
      case 'switch_key_mode': {
        if (a.to === 'default') {
          if (a.password !== state.password) fail('invalid_credentials', 'The account password is not right.');
          state.keyMode = 'default';
          state.keyChangedAt = Date.now();
          return null;
        }
        // Like the agent: a recorded switch needs its own key (and returns the same code);
        // a new one checks the key's strength and the password before it is recorded.
        const key = String(a.key ?? '');
        if (state.keySwitch !== null) {
          if (key !== state.keySwitch) fail('wrong_key', 'a switch to another private key is in progress on this device: type that key to finish it');
        } else {
          if (!strength(key).acceptable) fail('invalid_input', 'private_key: the new encryption key is too easy to guess');
          if (a.password !== state.password) fail('invalid_credentials', 'The account password is not right.');
          requireConfirmation();
          state.keySwitch = key;
        }
        const password = a.password;
        void (async () => {
          await emit('key-progress', { stage: 'Preparing the switch', done: 0, total: 0 });
          await sleep(options.stepMs ?? 250);
          // The background run checks the password of a resumed switch.
          if (password !== state.password) {
            await emit('key-failed', { type: 'invalid_credentials', message: 'The account password is not right.' });
            return;
          }
          for (let i = 0; i <= 4; i++) {
            await emit('key-progress', { stage: i < 4 ? 'Uploading your backups again' : 'Deleting the old copies', done: i * 25, total: 100 });
            await sleep((options.stepMs ?? 250) * 2);
          }
          state.keyMode = 'private';
          state.keyChangedAt = Date.now();
          state.keySwitch = null;
          await emit('key-finished', keyStatus());
        })();
        return RECOVERY;
      }
      case 'start_over': {
        if (a.password !== state.password) fail('invalid_credentials', 'The account password is not right.');
        requireConfirmation();
        const key = (a.newKey as string | null) ?? null;
        if (key !== null && !strength(key).acceptable) fail('invalid_input', 'The new encryption key is too easy to guess.');
        await sleep(options.stepMs ?? 250);
        state.snapshots = [];
        state.quota = { ...state.quota, used: 0 };
        state.keyMode = key === null ? 'default' : 'private';
        state.keyChangedAt = Date.now();
        state.unlocked = true;
        return key === null ? null : NEW_RECOVERY;
      }
      case 'retention':
        return state.retention;
      case 'set_retention': {
        const r = a.settings as RetentionSettings;
        const counts = [r.keep_last, r.keep_hourly, r.keep_daily, r.keep_weekly, r.keep_monthly, r.keep_yearly];
        if (counts.every((n) => n === 0) && !r.keep_within_days) fail('invalid_input', 'keep_last: keep at least one backup (set any rule above zero)');
        state.retention = r;
        return state.retention;
      }
      case 'apply_retention':
        await sleep(options.stepMs ?? 250);
        return applyRetention(Boolean(a.preview), Boolean(a.confirmLarge));
      case 'cleanup_waiting': {
        if (!state.cleanupWaiting) return null;
        const waiting: CleanupWaiting = { since: NOW - DAY, snapshots: retentionPlan(state.retention).remove.length };
        return waiting.snapshots > 0 ? waiting : null;
      }
      case 'confirm_identity': {
        requireAccount();
        if (a.password !== state.password) fail('invalid_credentials', 'The email or password is wrong.');
        if (state.profile?.totp_enabled) {
          if (!a.totpCode) fail('totp_required', 'Enter the code from your authenticator app.');
          if (a.totpCode !== '123456') fail('invalid_input', 'the two-factor code is wrong or was already used');
        }
        state.confirmedUntil = Date.now() + 3_600_000 - 30_000;
        return { confirmed_until: state.confirmedUntil };
      }
      case 'held_deletions':
        requireAccount();
        return state.held.map((h) => h.deletion);
      case 'cancel_held_deletion': {
        requireAccount();
        const found = state.held.find((h) => h.deletion.id === a.id);
        if (!found) fail('not_found', 'not found');
        state.held = state.held.filter((h) => h !== found);
        state.snapshots = [...state.snapshots, ...found!.snapshots].sort((x, y) => y.time - x.time);
        return state.held.map((h) => h.deletion);
      }
      case 'request_password_reset':
        return null;
      case 'resend_verification':
        return null;
      case 'totp_setup':
        return { secret: 'JBSWY3DPEHPK3PXPJBSWY3DP', otpauth_url: 'otpauth://totp/Coffer:ada@example.com?secret=JBSWY3DPEHPK3PXPJBSWY3DP&issuer=Coffer' };
      case 'totp_enable':
        if (a.code !== '123456') fail('invalid_credentials', 'The code did not match.');
        state.profile = { ...state.profile!, totp_enabled: true };
        return ['7hq2-m4xk', 'p9ta-3wez', 'c6rn-b8vu', 'k2jd-5ysf', 'x4le-q7gm', 'w3pc-h9dn', 'f8zb-r2ka', 'm5vt-6ncq', 'd7xs-t4jw', 'g2ye-n8hr'];
      case 'totp_disable':
        if (a.password !== state.password) fail('invalid_credentials', 'The password is not right.');
        state.profile = { ...state.profile!, totp_enabled: false };
        return null;
      case 'autostart':
        return state.autostart;
      case 'set_autostart':
        state.autostart = Boolean(a.enabled);
        return state.autostart;
      case 'share':
        return share(a.request as ShareRequest);
      case 'shares':
        requireAccount();
        return shareListing();
      case 'revoke_share': {
        requireAccount();
        const found = state.shares.find((s) => s.id === a.id && (s.state === 'active' || s.state === 'uploading'));
        if (!found) fail('not_found', 'no such share');
        Object.assign(found!, { state: 'revoked', recipients: [], removed: true, bytes: 0 });
        return shareListing();
      }
      case 'connected_apps':
        requireAccount();
        return state.apps;
      case 'connect_app':
        await sleep(120);
        return connectApp(a.request as ConnectAppRequest);
      case 'revoke_app': {
        requireAccount();
        if (!state.apps.some((x) => x.id === a.id)) fail('not_found', 'no such app');
        state.apps = state.apps.filter((x) => x.id !== a.id);
        return state.apps;
      }
      case 'plugin:opener|open_url':
        if (!String(a.url).startsWith('mailto:')) fail('invalid_input', 'only mailto: is allowed');
        state.mailDrafts.push(String(a.url));
        return null;
      case 'plugin:dialog|open':
        return '/home/ada/Pictures';
      case 'plugin:dialog|save':
        return `/home/ada/${(a.options as { defaultPath?: string } | undefined)?.defaultPath ?? 'coffer-export.json'}`;
      case 'save_text_file':
        state.savedFiles[String(a.path)] = String(a.text);
        return null;
      default:
        fail('server', `The mock has no command ${cmd}.`);
    }
  },
  { shouldMockEvents: true },
);
