import { describe, expect, it } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import { tick } from 'svelte';
import Schedule from '../src/lib/views/Schedule.svelte';
import StatusSummary from '../src/lib/components/domain/StatusSummary.svelte';
import { SchedulerState } from '../src/lib/state/scheduler.svelte';
import { BackupState } from '../src/lib/state/backup.svelte';
import { RetentionState } from '../src/lib/state/retention.svelte';
import { FakeBackend, HOUR, NOW, deferred, fail, progress, report, scheduler } from './fake-backend';
import type { SchedulerStatus } from '../src/lib/ipc';

async function setup(backend = new FakeBackend()) {
  const state = new SchedulerState(backend);
  await state.attach();
  const view = render(Schedule, { scheduler: state, retention: new RetentionState(backend) });
  const $ = (selector: string) => view.container.querySelector<HTMLElement>(selector);
  await state.load();
  await tick();
  return { backend, state, $ };
}

describe('Schedule & network', () => {
  it('says it is loading, and shows a load error with a retry', async () => {
    const backend = new FakeBackend();
    const pending = deferred<SchedulerStatus>();
    backend.schedulerStatus.mockReturnValueOnce(pending.promise);
    const state = new SchedulerState(backend);
    const view = render(Schedule, { scheduler: state, retention: new RetentionState(backend) });
    const load = state.load();
    await tick();
    expect(view.container.textContent).toMatch(/Loading the schedule/);
    pending.reject(fail('network', 'Offline.'));
    await load;
    await tick();
    expect(view.container.querySelector('#error-banner')?.textContent).toMatch(/Offline/);
    await fireEvent.click(view.container.querySelector('#error-banner button')!);
    await waitFor(() => expect(view.container.querySelector('#schedule-continuous')).not.toBeNull());
  });

  it('shows the current mode, the watcher, and saves a daily schedule with limits', async () => {
    const { $, backend } = await setup();
    expect(($('#schedule-continuous') as HTMLInputElement).checked).toBe(true);
    expect($('#watch-status')?.textContent).toMatch(/Watching your folders for changes/);
    await fireEvent.click($('#schedule-daily')!);
    await fireEvent.input($('#schedule-daily-at')!, { target: { value: '21:30' } });
    await fireEvent.click($('#limit-upload-on')!);
    await fireEvent.input($('#limit-upload')!, { target: { value: '0,5' } });
    await fireEvent.click($('#limit-download-on')!);
    await fireEvent.input($('#limit-download')!, { target: { value: 'fast' } });
    await fireEvent.click($('#schedule-save')!);
    expect($('#limit-download-error')?.textContent).toMatch(/MB\/s/);
    expect(backend.setSchedule).not.toHaveBeenCalled();
    await fireEvent.input($('#limit-download')!, { target: { value: '10' } });
    await fireEvent.click($('#schedule-save')!);
    await waitFor(() => expect(backend.setSchedule).toHaveBeenCalled());
    expect(backend.setSchedule).toHaveBeenCalledWith({ mode: 'daily', daily_at: '21:30', every_minutes: null, upload_limit_kib: 488, download_limit_kib: 9766 });
    await waitFor(() => expect(document.body.textContent).toMatch(/Saved\./));
  });

  it('checks a custom interval', async () => {
    const { $, backend } = await setup();
    await fireEvent.click($('#schedule-custom')!);
    await fireEvent.input($('#schedule-every')!, { target: { value: '2' } });
    await fireEvent.click($('#schedule-save')!);
    expect($('#schedule-every-error')?.textContent).toMatch(/between 5 and 10080/);
    await fireEvent.input($('#schedule-every')!, { target: { value: '45' } });
    await fireEvent.click($('#schedule-save')!);
    await waitFor(() => expect(backend.setSchedule.mock.calls[0][0]).toMatchObject({ mode: 'custom', every_minutes: 45 }));
  });

  it('shows saved limits in MB/s', async () => {
    const backend = new FakeBackend();
    backend.schedulerStatus.mockResolvedValue(scheduler({}, { mode: 'hourly', upload_limit_kib: 1953 }));
    const { $ } = await setup(backend);
    expect(($('#schedule-hourly') as HTMLInputElement).checked).toBe(true);
    expect(($('#limit-upload') as HTMLInputElement).value).toBe('2');
    expect($('#limit-download')).toBeNull();
  });

  it('pauses for an hour, until resumed, and resumes', async () => {
    const { $, backend } = await setup();
    await fireEvent.click($('#pause-hour')!);
    await waitFor(() => expect($('#pause-status')?.dataset.paused).toBe('true'));
    expect(backend.pauseBackups).toHaveBeenCalledWith(60);
    expect($('#pause-status')?.textContent).toMatch(/paused until/);
    await fireEvent.click($('#resume-backups')!);
    await waitFor(() => expect($('#pause-status')?.dataset.paused).toBe('false'));
    await fireEvent.click($('#pause-indefinite')!);
    await waitFor(() => expect($('#pause-status')?.textContent).toMatch(/paused until you resume them/));
    expect(backend.pauseBackups).toHaveBeenLastCalledWith(null);
  });

  it('explains the watcher fallback, and follows scheduler-changed events', async () => {
    const { $, backend } = await setup();
    backend.emit('scheduler', scheduler({ watch: { active: false, fallback_reason: 'Too many folders to watch (limit 8192).' } }));
    await tick();
    expect($('#watch-status')?.textContent).toMatch(/Checking for changes every few minutes instead.*limit 8192/s);
  });

  it('shows an action failure', async () => {
    const backend = new FakeBackend();
    backend.pauseBackups.mockRejectedValueOnce(fail('server', 'Nope.'));
    const { $ } = await setup(backend);
    await fireEvent.click($('#pause-hour')!);
    await waitFor(() => expect(document.body.textContent).toMatch(/That did not work.*Nope\./s));
  });
});

describe('Status summary (the tray, in the sidebar)', () => {
  function summary(backend = new FakeBackend(), lastBackup: number | null = NOW - HOUR, hasFolders = true) {
    const backup = new BackupState(backend);
    const state = new SchedulerState(backend);
    const view = render(StatusSummary, { backup, scheduler: state, lastBackup, hasFolders, onopen: () => {} });
    const el = () => view.container.querySelector<HTMLElement>('#status-summary')!;
    return { backup, state, el };
  }

  it('idle: up to date', () => {
    const { el } = summary();
    expect(el().textContent).toMatch(/Up to date\s*Last backup today at 2:30\sPM/);
  });

  it('idle: not backed up yet, and no folder', () => {
    const { el } = summary(new FakeBackend(), null, false);
    expect(el().textContent).toMatch(/Not backed up yet\s*Add a folder to begin/);
  });

  it('a folder but no backup yet: does not ask for a folder, says what comes next', async () => {
    const { el, state } = summary(new FakeBackend(), null, true);
    expect(el().textContent).toMatch(/Not backed up yet\s*The first backup starts soon/);
    expect(el().textContent).not.toMatch(/Add a folder/);
    state.status = scheduler({}, { mode: 'manual' });
    await tick();
    expect(el().textContent).toMatch(/Click “Back up now” to start/);
  });

  it('a run the agent started by itself: backing up, then up to date from the finished event alone', async () => {
    const backend = new FakeBackend();
    const { backup, el } = summary(backend, null, true);
    await backup.attach();
    backend.emitProgress(progress({ phase: 'scanning', bytes_total: 0, files_total: 0 }));
    await tick();
    expect(el().dataset.state).toBe('backing-up');
    expect(el().textContent).toMatch(/Looking for changes/);
    backend.emitFinished(report({ finished_at: Date.now() - 5_000 }));
    await tick();
    expect(el().dataset.state).toBe('idle');
    expect(el().textContent).toMatch(/Up to date\s*Last backup (today|yesterday) at/);
  });

  it('backing up: percent, speed, time left, skipped', async () => {
    const { backup, el } = summary();
    backup.adopt(progress({ skipped: 2 }));
    await tick();
    expect(el().dataset.state).toBe('backing-up');
    expect(el().textContent).toMatch(/Backing up · 25%/);
    expect(el().textContent).toMatch(/2.1 MB\/s · about 3 minutes left/);
    expect(el().textContent).toMatch(/2 skipped/);
  });

  it('paused, and failed', async () => {
    const { state, backup, el } = summary();
    state.status = scheduler({ paused_indefinitely: true });
    await tick();
    expect(el().textContent).toMatch(/Backups paused\s*Until you resume/);
    backup.error = { type: 'network', message: 'x' };
    await tick();
    expect(el().dataset.state).toBe('error');
  });
});
