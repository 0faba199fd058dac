import { describe, expect, it } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import { tick } from 'svelte';
import Dashboard from '../src/lib/views/Dashboard.svelte';
import { DashboardState } from '../src/lib/state/dashboard.svelte';
import { BackupState } from '../src/lib/state/backup.svelte';
import { Navigation } from '../src/lib/state/navigation.svelte';
import { FakeBackend, dashboardData, deferred, fail, folder, progress, report } from './fake-backend';

async function setup(backend = new FakeBackend()) {
  const dashboard = new DashboardState(backend);
  const backup = new BackupState(backend, () => dashboard.load());
  const nav = new Navigation();
  await backup.attach();
  const view = render(Dashboard, { dashboard, backup, nav });
  const $ = (selector: string) => view.container.querySelector<HTMLElement>(selector);
  const load = dashboard.load();
  return { backend, dashboard, backup, nav, $, load };
}

describe('Dashboard', () => {
  it('says it is loading until the status arrives', async () => {
    const backend = new FakeBackend();
    const pending = deferred<ReturnType<typeof dashboardData>>();
    backend.dashboard.mockReturnValueOnce(pending.promise);
    const { $ } = await setup(backend);
    await tick();
    expect($('[role="status"]')?.textContent).toMatch(/Loading/);
    expect($('#backup-now')).toBeNull();
    pending.resolve(dashboardData());
    await waitFor(() => expect($('#backup-now')).not.toBeNull());
  });

  it('shows the account, storage, last backup and folders', async () => {
    const { $, load } = await setup();
    await load;
    await tick();
    expect($('#account-name')?.textContent).toBe('Ada Lovelace');
    expect($('#account-email')?.textContent).toBe('ada@example.com');
    expect($('#quota-used')?.textContent).toBe('3.4 GB');
    expect($('#quota-total')?.textContent).toMatch(/50 GB/);
    expect($('#last-backup')?.textContent).toMatch(/Last backup today at .* · 1,284 files · 3.4 GB/);
    const items = [...document.querySelectorAll('#folder-list li')].map((li) => li.getAttribute('data-path'));
    expect(items).toEqual(['/home/ada/Documents', '/home/ada/Pictures']);
    expect(($('#backup-now') as HTMLButtonElement).disabled).toBe(false);
    expect($('#backup-now-reason')).toBeNull();
  });

  it('guides a new account to add its first folder', async () => {
    const backend = new FakeBackend();
    backend.dashboard.mockResolvedValueOnce(dashboardData({ folders: [], last_backup: null, quota: { used: 0, total: 5e10 } }));
    const { $, load, nav } = await setup(backend);
    await load;
    await tick();
    expect(document.body.textContent).toMatch(/No folders yet — add one to start backing up/);
    expect(document.querySelectorAll('#folder-list li')).toHaveLength(0);
    expect(($('#backup-now') as HTMLButtonElement).disabled).toBe(true);
    // Why it cannot be clicked is written out, not only in a tooltip.
    expect($('#backup-now-reason')?.textContent).toMatch(/Add a folder first/);
    expect($('#backup-now')?.getAttribute('aria-describedby')).toBe('backup-now-reason');
    await fireEvent.click($('#empty-add-folder')!);
    expect(nav.screen).toBe('add-folder');
  });

  it('shows a load error with a way to retry', async () => {
    const backend = new FakeBackend();
    backend.dashboard.mockRejectedValueOnce(fail('network', 'Could not reach the service.'));
    const { $, load } = await setup(backend);
    await load;
    await tick();
    expect($('#error-banner')?.textContent).toMatch(/Could not reach the service/);
    await fireEvent.click($('#error-banner button')!);
    await waitFor(() => expect($('#folder-list')).not.toBeNull());
    expect($('#error-banner')).toBeNull();
  });

  it('removes a folder', async () => {
    const backend = new FakeBackend();
    backend.removeFolder.mockResolvedValueOnce([folder('/home/ada/Documents')]);
    const { $, load } = await setup(backend);
    await load;
    await tick();
    backend.dashboard.mockResolvedValue(dashboardData({ folders: [folder('/home/ada/Documents')] }));
    await fireEvent.click($('#folder-list li[data-path="/home/ada/Pictures"] button')!);
    expect(backend.removeFolder).toHaveBeenCalledWith('/home/ada/Pictures');
    await waitFor(() => expect(document.querySelectorAll('#folder-list li')).toHaveLength(1));
    // Everything else that changed with it is reloaded too.
    await waitFor(() => expect(backend.dashboard).toHaveBeenCalledTimes(2));
  });

  it('the list a folder command returns wins over a load that was already under way', async () => {
    const backend = new FakeBackend();
    backend.removeFolder.mockResolvedValueOnce([folder('/home/ada/Documents')]);
    const { $, load, dashboard } = await setup(backend);
    await load;
    await tick();
    const stale = deferred<ReturnType<typeof dashboardData>>();
    backend.dashboard.mockReturnValueOnce(stale.promise);
    backend.dashboard.mockResolvedValue(dashboardData({ folders: [folder('/home/ada/Documents')] }));
    const early = dashboard.load();
    await fireEvent.click($('#folder-list li[data-path="/home/ada/Pictures"] button')!);
    await waitFor(() => expect(document.querySelectorAll('#folder-list li')).toHaveLength(1));
    stale.resolve(dashboardData());
    await early;
    await tick();
    expect(document.querySelectorAll('#folder-list li')).toHaveLength(1);
  });

  it('follows a backup from start to finish, with skipped files', async () => {
    const { $, load, backend } = await setup();
    await load;
    await tick();
    await fireEvent.click($('#backup-now')!);
    expect(backend.backupNow).toHaveBeenCalledOnce();
    await tick();
    expect($('#backup-progress')?.dataset.phase).toBe('scanning');
    expect(($('#backup-now') as HTMLButtonElement).disabled).toBe(true);

    backend.emitProgress(progress());
    await tick();
    expect($('#backup-progress')?.dataset.phase).toBe('uploading');
    expect($('#backup-files')?.textContent).toMatch(/3 of 10 files/);
    expect($('#backup-bytes')?.textContent).toMatch(/2 MB of 8 MB/);
    expect($('#backup-current-file')?.textContent).toBe('/home/ada/Documents/report.pdf');
    expect($('[role="progressbar"][aria-label="Backup progress"]')?.getAttribute('aria-valuenow')).toBe('25');

    backend.emitFinished(report({ skipped: [{ path: '/home/ada/Documents/locked.db', reason: 'Permission denied' }] }));
    await tick();
    expect($('#backup-progress')?.dataset.phase).toBe('done');
    const summary = $('#backup-summary')!.textContent!;
    expect(summary).toMatch(/1 file was skipped/);
    expect(summary).toMatch(/locked\.db/);
    expect(summary).toMatch(/Permission denied/);
    expect(summary).toMatch(/5 MB/);
    expect(($('#backup-now') as HTMLButtonElement).disabled).toBe(false);
    // The finished backup changes the last-backup line and the quota: reloaded.
    expect(backend.dashboard).toHaveBeenCalledTimes(2);
  });

  it('shows a failed backup as a sentence and lets it be dismissed', async () => {
    const { $, load, backend } = await setup();
    await load;
    await tick();
    await fireEvent.click($('#backup-now')!);
    backend.emitFailed({ type: 'network', message: 'cannot reach the Coffer service at http://127.0.0.1:8750: is it running?' });
    await tick();
    expect($('#backup-progress')).toBeNull();
    expect($('#backup-error .title')?.textContent).toBe('Backup failed');
    expect($('#backup-error')?.textContent).toMatch(/Cannot reach the Coffer service at http:\/\/127\.0\.0\.1:8750: is it running\?/);
    expect($('#backup-status')?.textContent).toMatch(/did not finish/);
    // One sentence: no separator left dangling at the end of a line.
    expect($('#last-backup')?.textContent?.trim()).toBe('Your earlier backups are safe. Try again when the problem is fixed.');
    await fireEvent.click($('#backup-error button[aria-label="Dismiss"]')!);
    expect($('#backup-error')).toBeNull();
  });

  it('a full storage has its own title and advice; with no backup yet it does not promise earlier ones', async () => {
    const backend = new FakeBackend();
    backend.dashboard.mockResolvedValue(dashboardData({ last_backup: null }));
    const { $, load } = await setup(backend);
    await load;
    await tick();
    await fireEvent.click($('#backup-now')!);
    backend.emitFailed({ type: 'quota_exceeded', message: 'the account storage quota is exceeded' });
    await tick();
    expect($('#backup-error .title')?.textContent).toBe('Storage full');
    expect($('#backup-error')?.textContent).toMatch(/Free space by removing old\s+versions/);
    expect($('#backup-error')?.textContent).not.toMatch(/quota is exceeded/);
    expect($('#backup-status')?.textContent).toBe('Your storage is full');
    expect($('#last-backup')?.textContent).not.toMatch(/earlier backups|·/);
  });

  it('an account with no storage at all says so instead of "0 bytes used of 0 bytes"', async () => {
    const backend = new FakeBackend();
    backend.dashboard.mockResolvedValue(dashboardData({ last_backup: null, quota: { used: 0, total: 0 } }));
    const { $, load } = await setup(backend);
    await load;
    await tick();
    expect($('#quota')?.dataset.state).toBe('none');
    expect($('#quota')?.textContent).not.toMatch(/0 bytes/);
    expect($('#quota-used')?.textContent).toBe('No storage space');
    expect($('#quota')?.textContent).toMatch(/no storage plan yet/);
    await fireEvent.click($('#backup-now')!);
    backend.emitFailed({ type: 'quota_exceeded', message: 'the account storage quota is exceeded' });
    await tick();
    expect($('#backup-error')?.textContent).toMatch(/Your account has no storage space/);
  });

  it('keeps showing progress when a backup is already running (busy)', async () => {
    const backend = new FakeBackend();
    backend.backupNow.mockRejectedValueOnce(fail('busy', 'A backup is already running.'));
    const { $, load } = await setup(backend);
    await load;
    await tick();
    await fireEvent.click($('#backup-now')!);
    await tick();
    expect($('#backup-error')).toBeNull();
    expect($('#backup-progress')).not.toBeNull();
  });

  it('reports a backup that could not start', async () => {
    const backend = new FakeBackend();
    backend.backupNow.mockRejectedValueOnce(fail('not_signed_in', 'Sign in again.'));
    const { $, load } = await setup(backend);
    await load;
    await tick();
    await fireEvent.click($('#backup-now')!);
    await waitFor(() => expect($('#backup-error')?.textContent).toMatch(/Sign in again/));
    expect($('#backup-progress')).toBeNull();
  });

  it('shows speed, time left and files skipped so far while backing up', async () => {
    const { $, load, backend } = await setup();
    await load;
    await tick();
    backend.emitProgress(progress({ bytes_per_second: 2_100_000, eta_seconds: 190, skipped: 2 }));
    await tick();
    expect($('#backup-speed')?.textContent).toBe('2.1 MB/s');
    expect($('#backup-eta')?.textContent).toBe('about 3 minutes left');
    expect($('#backup-skipped-count')?.textContent).toMatch(/2 files skipped so far/);
    backend.emitProgress(progress({ bytes_per_second: 0, eta_seconds: null, skipped: 0 }));
    await tick();
    expect($('#backup-speed')).toBeNull();
    expect($('#backup-eta')).toBeNull();
  });

  it('verifies the backup, with or without reading all data, and lists problems', async () => {
    const { $, load, backend } = await setup();
    await load;
    await tick();
    await fireEvent.click($('#verify-backup')!);
    await waitFor(() => expect($('#verify-result')?.textContent).toMatch(/All good: 2 backups\./));
    expect(backend.verifyBackup).toHaveBeenCalledWith(false);
    await fireEvent.click($('#verify-read-data')!);
    backend.verifyBackup.mockResolvedValueOnce({
      ok: false,
      read_data: true,
      snapshots_checked: 2,
      packs_checked: 14,
      problems: [{ path: '/home/ada/Pictures/cat.jpg', message: 'A stored piece is damaged.' }],
    });
    await fireEvent.click($('#verify-backup')!);
    await waitFor(() => expect($('#verify-result')?.textContent).toMatch(/1 problem found/));
    expect(backend.verifyBackup).toHaveBeenLastCalledWith(true);
    expect($('#verify-result')?.textContent).toMatch(/cat\.jpg: A stored piece is damaged\./);
    expect($('#verify-result')?.textContent).toMatch(/Back up now to store damaged files again/);
  });

  it('shows a verify failure, and cannot verify before the first backup', async () => {
    const backend = new FakeBackend();
    backend.verifyBackup.mockRejectedValueOnce(fail('network', 'Offline.'));
    const { $, load, dashboard } = await setup(backend);
    await load;
    await tick();
    await fireEvent.click($('#verify-backup')!);
    await waitFor(() => expect(document.querySelector('#verify-card [role="alert"]')?.textContent).toMatch(/Offline/));
    dashboard.data = dashboardData({ last_backup: null });
    await tick();
    expect(($('#verify-backup') as HTMLButtonElement).disabled).toBe(true);
  });

  it('says when automatic cleanup waits for the person, and leads to it', async () => {
    const backend = new FakeBackend();
    backend.cleanupWaiting.mockResolvedValue({ since: 0, snapshots: 3 });
    const { $, nav, load } = await setup(backend);
    await load;
    await waitFor(() => expect($('#cleanup-waiting')).not.toBeNull());
    expect($('#cleanup-waiting')?.textContent).toMatch(/ready to be cleaned up — confirm with your password/);
    expect($('#cleanup-waiting')?.textContent).toMatch(/3 older backups are/);
    await fireEvent.click($('#cleanup-review')!);
    expect(nav.screen).toBe('schedule');
  });

  it('shows no cleanup notice when nothing waits', async () => {
    const { $, load } = await setup();
    await load;
    await tick();
    expect($('#cleanup-waiting')).toBeNull();
  });
});
