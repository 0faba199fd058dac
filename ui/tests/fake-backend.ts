import { vi } from 'vitest';
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
  Backend,
  BackupProgress,
  BackupReport,
  BackupRun,
  CleanupWaiting,
  CommunicationPreferences,
  ConfirmationStatus,
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
  KeyProgress,
  KeyStatus,
  KeyStrength,
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
  TreeEntry,
  VerifyReport,
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

export const RECOVERY_CODE = 'K7QM2XPA9RTB4WZC';

export function folder(path: string, added_at = NOW - DAY): FolderInfo {
  return { path, added_at };
}

export function snapshot(overrides: Partial<SnapshotInfo> = {}): SnapshotInfo {
  return {
    id: 'snap-1',
    time: NOW - HOUR,
    device_name: 'ada-laptop',
    device_id: 'dev-laptop',
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
    bytes_per_second: 2_100_000,
    eta_seconds: 190,
    skipped: 0,
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

export function status(overrides: Partial<AppStatus> = {}): AppStatus {
  return {
    signed_in: false,
    account: null,
    server_url: 'http://127.0.0.1:8750',
    keychain_available: true,
    backup: null,
    locked: false,
    ...overrides,
  };
}

export function entry(path: string, kind: TreeEntry['kind'] = 'file', size = 12_000): TreeEntry {
  return { name: path.split('/').pop()!, path, kind, size: kind === 'dir' ? 0 : size, mtime: NOW - 2 * DAY };
}

/** The tree of snap-1 (and snap-0, which lacks Pictures). */
export function tree(path: string | null): TreeEntry[] {
  switch (path) {
    case null:
      return [entry('/home/ada/Documents', 'dir'), entry('/home/ada/Pictures', 'dir')];
    case '/home/ada/Documents':
      return [entry('/home/ada/Documents/report.pdf', 'file', 2_400_000), entry('/home/ada/Documents/Taxes', 'dir'), entry('/home/ada/Documents/notes.txt', 'file', 1_200)];
    case '/home/ada/Documents/Taxes':
      return [entry('/home/ada/Documents/Taxes/2024.pdf', 'file', 800_000)];
    case '/home/ada/Pictures':
      return [];
    default:
      return [];
  }
}

export function scheduler(overrides: Partial<SchedulerStatus> = {}, settings: Partial<ScheduleSettings> = {}): SchedulerStatus {
  return {
    settings: { mode: 'continuous', daily_at: null, every_minutes: null, upload_limit_kib: null, download_limit_kib: null, ...settings },
    watch: { active: true, fallback_reason: null },
    paused_until: null,
    paused_indefinitely: false,
    next_backup_at: null,
    ...overrides,
  };
}

export function keyStatus(overrides: Partial<KeyStatus> = {}): KeyStatus {
  return { mode: 'default', changed_at: null, unlocked: true, remembered: false, switch_in_progress: false, ...overrides };
}

export function sessionRecord(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: 'sess-1',
    device_name: 'ada-laptop',
    device_id: 'dev-laptop-0001',
    app_version: '0.1.0',
    ip: '127.0.0.1',
    started_at: NOW - 2 * DAY,
    last_seen_at: NOW - 60_000,
    ended_at: null,
    end_reason: null,
    active: true,
    requests: 1_204,
    bytes_up: 3_400_000_000,
    bytes_down: 12_000_000,
    transfer_ms: 184_000,
    current: true,
    ...overrides,
  };
}

export function backupRun(overrides: Partial<BackupRun> = {}): BackupRun {
  return {
    started_at: NOW - HOUR,
    finished_at: NOW - HOUR + 95_000,
    status: 'done',
    snapshot_id: 'snap-1',
    files_total: 1284,
    files_read: 12,
    bytes_uploaded: 4_200_000,
    skipped: 0,
    error: null,
    ...overrides,
  };
}

export const PROFILE: Profile = {
  first_name: 'Ada',
  last_name: 'Lovelace',
  email: 'ada@example.com',
  email_verified: true,
  pending_email: null,
  postal_address: null,
  totp_enabled: false,
};

export const PREFERENCES: CommunicationPreferences = {
  product_announcements: false,
  software_updates: false,
  surveys_research: false,
  newsletter: false,
  operational_alerts: true,
};

export const POLICY: PolicyInfo = {
  version: '2025-06-01',
  published_at: NOW - 13 * DAY,
  text: '# Privacy policy\n\nWe keep **only** what we need.\n\n## Files\n- Encrypted on your device\n- Never sold',
  accepted_version: '2025-06-01',
  accepted_at: NOW - 10 * DAY,
};

export const RETENTION: RetentionSettings = {
  keep_last: 10,
  keep_hourly: 24,
  keep_daily: 7,
  keep_weekly: 4,
  keep_monthly: 12,
  keep_yearly: 2,
  keep_within_days: null,
  automatic: true,
};

export function retentionOutcome(overrides: Partial<RetentionOutcome> = {}): RetentionOutcome {
  return {
    kept: 8,
    removed: [
      snapshot({ id: 'snap-old-1', time: NOW - 40 * DAY, bytes: 1_200_000_000 }),
      snapshot({ id: 'snap-old-2', time: NOW - 41 * DAY, bytes: 1_100_000_000 }),
    ],
    bytes_freed: 0,
    bytes_waiting: 0,
    ...overrides,
  };
}

export function heldDeletion(overrides: Partial<HeldDeletion> = {}): HeldDeletion {
  return {
    id: 'del-1',
    confirmed_at: NOW - 2 * HOUR,
    deleted_at: NOW - 2 * HOUR,
    device_name: 'ada-laptop',
    device_id: 'dev-laptop',
    snapshots: 2,
    other_objects: 5,
    bytes: 2_300_000_000,
    purge_at: NOW - 2 * HOUR + 7 * DAY,
    ...overrides,
  };
}

export function shareInfo(overrides: Partial<ShareInfo> = {}): ShareInfo {
  return {
    id: '0123456789abcdef0123456789abcdef',
    state: 'active',
    created_at: NOW - HOUR,
    expires_at: NOW + 7 * DAY,
    password: false,
    max_downloads: null,
    downloads: 0,
    recipients: ['bob@example.com'],
    bytes: 2_400_000,
    removed: false,
    ...overrides,
  };
}

export const SHARE_LINK = 'http://127.0.0.1:8750/s/0123456789abcdef0123456789abcdef#AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8';
export const APP_TOKEN = 'cfa_9f3c2b7e1d4a6085c3e2f1a0b9d8c7e6f5a4b3c2';

export function connectedApp(overrides: Partial<ConnectedApp> = {}): ConnectedApp {
  return {
    id: 'a1b2c3d4',
    name: 'Photo frame',
    scopes: ['restore'],
    created_at: NOW - 10 * DAY,
    expires_at: NOW + 20 * DAY,
    expired: false,
    last_used_at: NOW - 2 * HOUR,
    last_used_ip: '192.0.2.44',
    uses: 318,
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
  restore: ((p: RestoreProgress) => void)[];
  scheduler: ((s: SchedulerStatus) => void)[];
  keyProgress: ((p: KeyProgress) => void)[];
  keyFinished: ((s: KeyStatus) => void)[];
  keyFailed: ((e: IpcError) => void)[];
  shareProgress: ((p: ShareProgress) => void)[];
};

/** A Backend whose every method is a vi.fn with a sensible default; events are fired by the test. */
export class FakeBackend implements Backend {
  handlers: Handlers = { progress: [], finished: [], failed: [], restore: [], scheduler: [], keyProgress: [], keyFinished: [], keyFailed: [], shareProgress: [] };

  appStatus = vi.fn(async (): Promise<AppStatus> => status());
  signUp = vi.fn(
    async (request: SignUpRequest): Promise<SignUpResult> => ({
      account: ACCOUNT,
      recovery_code: request.key_mode === 'private' ? RECOVERY_CODE : null,
    }),
  );
  signIn = vi.fn(async (_request: SignInRequest) => ACCOUNT);
  restoreAccount = vi.fn(async (_request: SignInRequest) => ACCOUNT);
  signOut = vi.fn(async () => {});
  profile = vi.fn(async (): Promise<Profile> => PROFILE);
  updateProfile = vi.fn(async (update: ProfileUpdate): Promise<Profile> => ({
    ...PROFILE,
    first_name: update.first_name ?? PROFILE.first_name,
    last_name: update.last_name ?? PROFILE.last_name,
    pending_email: update.email,
    postal_address: update.postal_address && Object.values(update.postal_address).some(Boolean) ? update.postal_address : null,
  }));
  changePassword = vi.fn(async (_change: { current_password: string; new_password: string }) => {});
  listSessions = vi.fn(async (): Promise<SessionRecord[]> => [
    sessionRecord(),
    sessionRecord({ id: 'sess-2', device_name: 'ada-desktop', device_id: 'dev-desktop-0002', current: false, ip: '192.0.2.10' }),
  ]);
  revokeSession = vi.fn(async (id: string): Promise<SessionRecord[]> => [sessionRecord()].filter((s) => s.id !== id));
  signOutEverywhere = vi.fn(async () => {});
  preferences = vi.fn(async (): Promise<CommunicationPreferences> => ({ ...PREFERENCES }));
  setPreferences = vi.fn(async (p: CommunicationPreferences) => p);
  policy = vi.fn(async (): Promise<PolicyInfo> => ({ ...POLICY }));
  acceptPolicy = vi.fn(async (version: string): Promise<PolicyInfo> => ({ ...POLICY, version, accepted_version: version, accepted_at: NOW }));
  exportData = vi.fn(async (path: string) => ({ path, bytes: 48_213 }));
  deleteAccount = vi.fn(async (_password: string, purgeNow: boolean) => ({ purge_at: purgeNow ? NOW : NOW + 14 * DAY }));
  activity = vi.fn(async (): Promise<Activity> => ({
    backups: [backupRun(), backupRun({ started_at: NOW - DAY, finished_at: null, status: 'failed', error: 'The service could not be reached.', snapshot_id: null })],
    sessions: [sessionRecord(), sessionRecord({ id: 'sess-0', current: false, ended_at: NOW - 5 * DAY, active: false, end_reason: 'revoked' })],
  }));

  requestPasswordReset = vi.fn(async (_email: string, _serverUrl: string | null) => {});
  resendVerification = vi.fn(async () => {});
  totpSetup = vi.fn(async () => ({ secret: 'JBSWY3DPEHPK3PXP', otpauth_url: 'otpauth://totp/Coffer:ada@example.com?secret=JBSWY3DPEHPK3PXP&issuer=Coffer' }));
  totpEnable = vi.fn(async (_code: string) => ['a1b2-c3d4', 'e5f6-g7h8', 'i9j0-k1l2']);
  totpDisable = vi.fn(async (_password: string) => {});

  keyStatus = vi.fn(async (): Promise<KeyStatus> => keyStatus());
  keyStrength = vi.fn(async (key: string): Promise<KeyStrength> => {
    const score = Math.min(4, Math.floor(key.length / 5));
    return { score, acceptable: score >= 3, message: score >= 3 ? '' : 'Add more words.' };
  });
  unlock = vi.fn(async (_key: string, remember: boolean) => keyStatus({ mode: 'private', unlocked: true, remembered: remember }));
  unlockWithRecovery = vi.fn(async (_code: string, remember: boolean) => keyStatus({ mode: 'private', unlocked: true, remembered: remember }));
  lockNow = vi.fn(async () => keyStatus({ mode: 'private', unlocked: false }));
  changeKey = vi.fn(async (_current: string, _next: string, _password: string) => keyStatus({ mode: 'private', changed_at: NOW }));
  switchKeyMode = vi.fn(async (to: KeyMode, _key: string | null, _password: string) => (to === 'private' ? RECOVERY_CODE : null));
  startOver = vi.fn(async (newKey: string | null, _password: string): Promise<string | null> => (newKey === null ? null : RECOVERY_CODE));

  dashboard = vi.fn(async () => dashboardData());
  addFolder = vi.fn(async (path: string) => [folder('/home/ada/Documents'), folder(path, NOW)]);
  removeFolder = vi.fn(async (_path: string): Promise<FolderInfo[]> => []);
  folderUsage = vi.fn(async (): Promise<FolderUsage[]> => [
    { path: '/home/ada/Documents', files: 1_020, bytes: 2_100_000_000, excluded: 3 },
    { path: '/home/ada/Pictures', files: 264, bytes: 1_300_000_000, excluded: 0 },
  ]);
  exclusions = vi.fn(async (): Promise<ExclusionSettings> => ({ patterns: ['*.iso'], max_file_size: null, presets: ['caches'] }));
  setExclusions = vi.fn(async (s: ExclusionSettings) => s);
  excludedFiles = vi.fn(async (): Promise<ExcludedFile[]> => [
    { path: '/home/ada/Documents/ubuntu.iso', reason: 'Matches *.iso' },
    { path: '/home/ada/Documents/.cache/thumbs.db', reason: 'Cache (preset “Caches”)' },
  ]);
  backupNow = vi.fn(async () => {});
  retention = vi.fn(async (): Promise<RetentionSettings> => ({ ...RETENTION }));
  setRetention = vi.fn(async (settings: RetentionSettings) => settings);
  applyRetention = vi.fn(async (preview: boolean, _confirmLarge: boolean): Promise<RetentionOutcome> =>
    retentionOutcome(preview ? {} : { bytes_freed: 1_500_000_000, bytes_waiting: 800_000_000 }),
  );
  cleanupWaiting = vi.fn(async (): Promise<CleanupWaiting | null> => null);
  confirmIdentity = vi.fn(async (_password: string, _totpCode: string | null): Promise<ConfirmationStatus> => ({ confirmed_until: NOW + HOUR }));
  heldDeletions = vi.fn(async (): Promise<HeldDeletion[]> => []);
  cancelHeldDeletion = vi.fn(async (_id: string): Promise<HeldDeletion[]> => []);
  verifyBackup = vi.fn(async (readData: boolean): Promise<VerifyReport> => ({ ok: true, read_data: readData, snapshots_checked: 2, packs_checked: 14, problems: [] }));

  schedulerStatus = vi.fn(async () => scheduler());
  setSchedule = vi.fn(async (settings: ScheduleSettings) => scheduler({}, settings));
  pauseBackups = vi.fn(async (minutes: number | null) =>
    scheduler({ paused_until: minutes === null ? null : NOW + minutes * 60_000, paused_indefinitely: minutes === null }),
  );
  resumeBackups = vi.fn(async () => scheduler());
  autostart = vi.fn(async () => false);
  setAutostart = vi.fn(async (enabled: boolean) => enabled);

  listSnapshots = vi.fn(async () => [snapshot(), snapshot({ id: 'snap-0', time: NOW - 3 * DAY, roots: ['/home/ada/Documents'] })]);
  listDevices = vi.fn(async (): Promise<DeviceInfo[]> => [
    { device_id: 'dev-laptop', device_name: 'ada-laptop', last_backup: NOW - HOUR, snapshots: 2, this_device: true },
  ]);
  browse = vi.fn(async (_snapshotId: string, path: string | null) => tree(path));
  searchFiles = vi.fn(async (query: string, snapshotId: string | null): Promise<SearchHit[]> =>
    [
      { snapshot_id: 'snap-1', time: NOW - HOUR, path: '/home/ada/Documents/report.pdf', kind: 'file' as const, size: 2_400_000 },
      { snapshot_id: 'snap-0', time: NOW - 3 * DAY, path: '/home/ada/Documents/report.pdf', kind: 'file' as const, size: 2_300_000 },
    ].filter((h) => h.path.includes(query) && (snapshotId === null || h.snapshot_id === snapshotId)),
  );
  fileVersions = vi.fn(async (_path: string): Promise<FileVersion[]> => [
    { snapshot_id: 'snap-1', time: NOW - HOUR, size: 2_400_000, mtime: NOW - 2 * HOUR },
    { snapshot_id: 'snap-0', time: NOW - 3 * DAY, size: 2_300_000, mtime: NOW - 4 * DAY },
  ]);
  restore = vi.fn(async (request: RestoreRequest): Promise<RestoreSummary> => ({
    files: 1284,
    bytes: 3_400_000_000,
    target: request.target ?? 'the original folders',
    skipped: [],
    warnings: [],
  }));

  share = vi.fn(async (request: ShareRequest): Promise<ShareCreated> => ({
    share: shareInfo({
      recipients: request.recipients,
      password: Boolean(request.password),
      max_downloads: request.max_downloads ?? null,
      expires_at: NOW + (request.expires_in_days ?? 7) * DAY,
    }),
    link: SHARE_LINK,
  }));
  shares = vi.fn(async (): Promise<ShareInfo[]> => []);
  revokeShare = vi.fn(async (_id: string): Promise<ShareInfo[]> => []);
  connectedApps = vi.fn(async (): Promise<ConnectedApp[]> => []);
  connectApp = vi.fn(async (request: ConnectAppRequest): Promise<AppConnected> => ({
    app: connectedApp({ id: 'new-app', name: request.name, scopes: request.scopes, created_at: NOW, expires_at: NOW + (request.expires_in_days ?? 30) * DAY, last_used_at: null, last_used_ip: null, uses: 0 }),
    token: APP_TOKEN,
  }));
  revokeApp = vi.fn(async (_id: string): Promise<ConnectedApp[]> => []);

  pickFolder = vi.fn(async (): Promise<string | null> => '/home/ada/Picked');
  pickSavePath = vi.fn(async (name: string): Promise<string | null> => `/home/ada/${name}`);
  saveTextFile = vi.fn(async (_name: string, _text: string) => {});
  copyText = vi.fn(async (_text: string) => {});
  openMailDraft = vi.fn(async (_url: string) => {});

  onBackupProgress = vi.fn(async (h: (p: BackupProgress) => void) => this.#add('progress', h));
  onBackupFinished = vi.fn(async (h: (r: BackupReport) => void) => this.#add('finished', h));
  onBackupFailed = vi.fn(async (h: (e: IpcError) => void) => this.#add('failed', h));
  onRestoreProgress = vi.fn(async (h: (p: RestoreProgress) => void) => this.#add('restore', h));
  onSchedulerChanged = vi.fn(async (h: (s: SchedulerStatus) => void) => this.#add('scheduler', h));
  onKeyProgress = vi.fn(async (h: (p: KeyProgress) => void) => this.#add('keyProgress', h));
  onKeyFinished = vi.fn(async (h: (s: KeyStatus) => void) => this.#add('keyFinished', h));
  onKeyFailed = vi.fn(async (h: (e: IpcError) => void) => this.#add('keyFailed', h));
  onShareProgress = vi.fn(async (h: (p: ShareProgress) => void) => this.#add('shareProgress', h));

  emit<K extends keyof Handlers>(kind: K, payload: Parameters<Handlers[K][number]>[0]) {
    for (const h of this.handlers[kind]) (h as (p: unknown) => void)(payload);
  }
  emitProgress(p: BackupProgress) {
    this.emit('progress', p);
  }
  emitFinished(r: BackupReport) {
    this.emit('finished', r);
  }
  emitFailed(e: IpcError) {
    this.emit('failed', e);
  }

  #add<K extends keyof Handlers>(kind: K, handler: Handlers[K][number]) {
    (this.handlers[kind] as unknown[]).push(handler);
    return () => {
      this.handlers[kind] = (this.handlers[kind] as unknown[]).filter((h) => h !== handler) as Handlers[K];
    };
  }
}
