import { afterEach, describe, expect, it } from 'vitest';
import { clearMocks, mockIPC } from '@tauri-apps/api/mocks';
import { emit } from '@tauri-apps/api/event';
import { BackendError, TauriBackend, toBackendError } from '../src/lib/ipc';
import type { BackupProgress, IpcError } from '../src/lib/ipc';

afterEach(() => clearMocks());

describe('toBackendError', () => {
  it('keeps the kind and message of a tagged error', () => {
    const error = toBackendError({ type: 'email_taken', message: 'Taken.' });
    expect(error).toBeInstanceOf(BackendError);
    expect(error.type).toBe('email_taken');
    expect(error.message).toBe('Taken.');
    expect(error.is('email_taken')).toBe(true);
  });

  it('treats a bare string or anything else as a server error', () => {
    expect(toBackendError('command sign_up not found')).toMatchObject({ type: 'server', message: 'command sign_up not found' });
    expect(toBackendError(new Error('boom'))).toMatchObject({ type: 'server', message: 'boom' });
    expect(toBackendError(42)).toMatchObject({ type: 'server' });
    expect(toBackendError({ type: 'from_the_future', message: 'New.' })).toMatchObject({ type: 'server', message: 'New.' });
  });
});

describe('TauriBackend', () => {
  it('sends each command with the argument names of docs/ipc.md', async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      seen.push([cmd, args]);
      if (cmd === 'add_folder' || cmd === 'remove_folder') return [];
      return null;
    });
    const backend = new TauriBackend();
    const signUp = {
      first_name: 'Ada',
      last_name: 'L',
      email: 'a@b.c',
      password: 'x'.repeat(10),
      confirm_age: true,
      server_url: null,
      key_mode: 'default' as const,
      private_key: null,
    };
    await backend.signUp(signUp);
    await backend.signIn({ email: 'a@b.c', password: 'pw', server_url: 'http://127.0.0.1:1', totp_code: null });
    await backend.addFolder('/data');
    await backend.removeFolder('/data');
    await backend.backupNow();
    await backend.restore({ snapshot_id: 's', paths: [], target: '/t', conflict: 'keep_both' });
    await backend.signOut();
    expect(seen.map(([cmd]) => cmd)).toEqual(['sign_up', 'sign_in', 'add_folder', 'remove_folder', 'backup_now', 'restore', 'sign_out']);
    expect(seen[0][1]).toEqual({ request: signUp });
    expect(seen[2][1]).toEqual({ path: '/data' });
    expect(seen[5][1]).toEqual({ request: { snapshot_id: 's', paths: [], target: '/t', conflict: 'keep_both' } });
  });

  it('sends the new commands with the argument names of docs/ipc.md', async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      seen.push([cmd, args]);
      return null;
    });
    const b = new TauriBackend();
    await b.browse('s1', null);
    await b.searchFiles('report', null);
    await b.fileVersions('/a/b.txt');
    await b.verifyBackup(true);
    await b.pauseBackups(null);
    await b.deleteAccount('pw', true);
    await b.changeKey('old', 'new', 'pw');
    await b.switchKeyMode('private', 'new', 'pw');
    await b.unlock('k', true);
    await b.unlockWithRecovery('c', false);
    await b.acceptPolicy('v2');
    await b.exportData('/tmp/x.json');
    await b.revokeSession('s-9');
    await b.setAutostart(true);
    await b.setExclusions({ patterns: [], max_file_size: null, presets: ['caches'] });
    await b.setSchedule({ mode: 'manual', daily_at: null, every_minutes: null, upload_limit_kib: null, download_limit_kib: null });
    await b.updateProfile({ first_name: 'A', last_name: null, email: null, postal_address: null });
    await b.changePassword({ current_password: 'a', new_password: 'b' });
    await b.setPreferences({ product_announcements: false, software_updates: true, surveys_research: false, newsletter: false, operational_alerts: true });
    expect(seen).toEqual([
      ['browse', { snapshotId: 's1', path: null }],
      ['search_files', { query: 'report', snapshotId: null }],
      ['file_versions', { path: '/a/b.txt' }],
      ['verify_backup', { readData: true }],
      ['pause_backups', { minutes: null }],
      ['delete_account', { password: 'pw', purgeNow: true }],
      ['change_key', { currentKey: 'old', newKey: 'new', password: 'pw' }],
      ['switch_key_mode', { to: 'private', key: 'new', password: 'pw' }],
      ['unlock', { key: 'k', remember: true }],
      ['unlock_with_recovery', { code: 'c', remember: false }],
      ['accept_policy', { version: 'v2' }],
      ['export_data', { path: '/tmp/x.json' }],
      ['revoke_session', { id: 's-9' }],
      ['set_autostart', { enabled: true }],
      ['set_exclusions', { settings: { patterns: [], max_file_size: null, presets: ['caches'] } }],
      ['set_schedule', { settings: { mode: 'manual', daily_at: null, every_minutes: null, upload_limit_kib: null, download_limit_kib: null } }],
      ['update_profile', { update: { first_name: 'A', last_name: null, email: null, postal_address: null } }],
      ['change_password', { change: { current_password: 'a', new_password: 'b' } }],
      ['set_preferences', { preferences: { product_announcements: false, software_updates: true, surveys_research: false, newsletter: false, operational_alerts: true } }],
    ]);
  });

  it('sends retention and start-over commands with the argument names of docs/ipc.md', async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      seen.push([cmd, args]);
      return cmd === 'start_over' ? 'CODE' : null;
    });
    const b = new TauriBackend();
    const settings = { keep_last: 5, keep_hourly: 24, keep_daily: 7, keep_weekly: 4, keep_monthly: 12, keep_yearly: 3, keep_within_days: 2, automatic: true };
    await b.retention();
    await b.setRetention(settings);
    await b.applyRetention(true, false);
    await b.applyRetention(false, true);
    expect(await b.startOver('new key', 'pw')).toBe('CODE');
    await b.startOver(null, 'pw');
    expect(seen).toEqual([
      ['retention', {}],
      ['set_retention', { settings }],
      ['apply_retention', { preview: true, confirmLarge: false }],
      ['apply_retention', { preview: false, confirmLarge: true }],
      ['start_over', { newKey: 'new key', password: 'pw' }],
      ['start_over', { newKey: null, password: 'pw' }],
    ]);
  });

  it('sends the confirmation and held-deletion commands with the argument names of docs/ipc.md', async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      seen.push([cmd, args]);
      if (cmd === 'confirm_identity') return { confirmed_until: 1 };
      return cmd === 'cleanup_waiting' ? null : [];
    });
    const b = new TauriBackend();
    expect(await b.confirmIdentity('pw', null)).toEqual({ confirmed_until: 1 });
    await b.confirmIdentity('pw', '123456');
    expect(await b.heldDeletions()).toEqual([]);
    await b.cancelHeldDeletion('del-1');
    expect(await b.cleanupWaiting()).toBeNull();
    expect(seen).toEqual([
      ['confirm_identity', { password: 'pw', totpCode: null }],
      ['confirm_identity', { password: 'pw', totpCode: '123456' }],
      ['held_deletions', {}],
      ['cancel_held_deletion', { id: 'del-1' }],
      ['cleanup_waiting', {}],
    ]);
  });

  it('sends the sharing and connected-app commands with the argument names of docs/ipc.md', async () => {
    const seen: [string, unknown][] = [];
    mockIPC((cmd, args) => {
      seen.push([cmd, args]);
      if (cmd === 'share') return { share: { id: 's1' }, link: 'http://x/s/s1#k' };
      if (cmd === 'connect_app') return { app: { id: 'a1' }, token: 't' };
      return cmd === 'plugin:opener|open_url' ? null : [];
    });
    const b = new TauriBackend();
    const request = { path: '/a', snapshot_id: 'snap', recipients: ['b@example.com'], expires_in_days: 7, password: null, max_downloads: null };
    expect((await b.share(request)).link).toBe('http://x/s/s1#k');
    await b.shares();
    await b.revokeShare('s1');
    await b.connectedApps();
    expect((await b.connectApp({ name: 'App', scopes: ['backup'], expires_in_days: 30 })).token).toBe('t');
    await b.revokeApp('a1');
    await b.openMailDraft('mailto:b@example.com?subject=Hi');
    expect(seen).toEqual([
      ['share', { request }],
      ['shares', {}],
      ['revoke_share', { id: 's1' }],
      ['connected_apps', {}],
      ['connect_app', { request: { name: 'App', scopes: ['backup'], expires_in_days: 30 } }],
      ['revoke_app', { id: 'a1' }],
      ['plugin:opener|open_url', { url: 'mailto:b@example.com?subject=Hi' }],
    ]);
  });

  it('opens only mail drafts, never another kind of URL', async () => {
    const seen: string[] = [];
    mockIPC((cmd) => void seen.push(cmd));
    const error = await new TauriBackend().openMailDraft('https://example.com').catch((e) => e);
    expect(error).toMatchObject({ type: 'invalid_input' });
    expect(seen).toEqual([]);
  });

  it('passes share progress events on', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const got: unknown[] = [];
    const stop = await new TauriBackend().onShareProgress((p) => got.push(p));
    await emit('share-progress', { files_done: 1, files_total: 2, bytes_done: 5, bytes_total: 9 });
    stop();
    expect(got).toEqual([{ files_done: 1, files_total: 2, bytes_done: 5, bytes_total: 9 }]);
  });

  it('opens the save dialog with a suggested name', async () => {
    let options: unknown;
    mockIPC((cmd, args) => {
      if (cmd === 'plugin:dialog|save') {
        options = (args as { options: unknown }).options;
        return '/home/ada/out.json';
      }
    });
    expect(await new TauriBackend().pickSavePath('coffer-export.json')).toBe('/home/ada/out.json');
    expect(options).toMatchObject({ defaultPath: 'coffer-export.json' });
  });

  it('rejects with a BackendError carrying the kind', async () => {
    mockIPC(() => {
      throw { type: 'invalid_credentials', message: 'Wrong email or password.' } satisfies IpcError;
    });
    const error = await new TauriBackend().signIn({ email: 'a@b.c', password: 'x', server_url: null, totp_code: null }).catch((e) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect(error.type).toBe('invalid_credentials');
  });

  it('opens the folder picker for one directory and passes cancel through as null', async () => {
    let options: unknown;
    let answer: string | null = '/home/ada/Music';
    mockIPC((cmd, args) => {
      if (cmd === 'plugin:dialog|open') {
        options = (args as { options: unknown }).options;
        return answer;
      }
    });
    const backend = new TauriBackend();
    expect(await backend.pickFolder()).toBe('/home/ada/Music');
    expect(options).toMatchObject({ directory: true, multiple: false });
    answer = null;
    expect(await backend.pickFolder()).toBeNull();
  });

  it('delivers backup events until unsubscribed', async () => {
    mockIPC(() => null, { shouldMockEvents: true });
    const backend = new TauriBackend();
    const seen: BackupProgress[] = [];
    const stop = await backend.onBackupProgress((p) => seen.push(p));
    const p: BackupProgress = {
      phase: 'uploading',
      files_done: 1,
      files_total: 2,
      bytes_done: 3,
      bytes_total: 4,
      current_file: '/a',
      bytes_per_second: 5,
      eta_seconds: 6,
      skipped: 0,
    };
    await emit('backup-progress', p);
    stop();
    await emit('backup-progress', { ...p, files_done: 2 });
    expect(seen).toEqual([p]);
  });
});
