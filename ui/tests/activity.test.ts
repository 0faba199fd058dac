import { describe, expect, it } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import { tick } from 'svelte';
import Activity from '../src/lib/views/Activity.svelte';
import { FakeBackend, HOUR, NOW, backupRun, deferred, fail } from './fake-backend';
import type { Activity as ActivityData } from '../src/lib/ipc';

function setup(backend = new FakeBackend()) {
  const view = render(Activity, { backend });
  const $ = (selector: string) => view.container.querySelector<HTMLElement>(selector);
  const $$ = (selector: string) => [...view.container.querySelectorAll<HTMLElement>(selector)];
  return { backend, $, $$ };
}

describe('Activity', () => {
  it('says it is loading', async () => {
    const backend = new FakeBackend();
    const pending = deferred<ActivityData>();
    backend.activity.mockReturnValueOnce(pending.promise);
    setup(backend);
    await tick();
    expect(document.body.textContent).toMatch(/Loading your activity/);
    pending.resolve({ backups: [], sessions: [] });
  });

  it('lists backups newest first, with result, files, upload, time and errors', async () => {
    const { $$ } = setup();
    await waitFor(() => expect($$('#activity-backups tbody tr')).toHaveLength(2));
    const [done, failed] = $$('#activity-backups tbody tr');
    expect(done.dataset.status).toBe('done');
    expect(done.textContent).toMatch(/Finished.*12 of 1,284.*4.2 MB.*1 min 35 s/s);
    expect(failed.dataset.status).toBe('failed');
    expect(failed.textContent).toMatch(/Failed/);
    expect(failed.textContent).toMatch(/The service could not be reached/);
  });

  it('a very fast run took "under 0.1 s", and runs of the same minute show seconds', async () => {
    const backend = new FakeBackend();
    const at = NOW - HOUR;
    backend.activity.mockResolvedValue({
      backups: [
        backupRun({ started_at: at + 1_000, finished_at: at + 1_030 }),
        backupRun({ started_at: at + 31_000, finished_at: at + 31_600 }),
      ],
      sessions: [],
    });
    const { $$ } = setup(backend);
    await waitFor(() => expect($$('#activity-backups tbody tr')).toHaveLength(2));
    const [later, first] = $$('#activity-backups tbody tr');
    expect(first.textContent).toMatch(/under 0\.1 s/);
    expect(first.textContent).not.toMatch(/0\.0 s/);
    expect(later.textContent).toMatch(/0\.6 s/);
    expect((first as HTMLTableRowElement).cells[0].textContent).toMatch(/:30:01/);
    expect((later as HTMLTableRowElement).cells[0].textContent).toMatch(/:30:31/);
  });

  it('lists session records with everything the service keeps', async () => {
    const { $, $$ } = setup();
    await waitFor(() => expect($('#activity-tab-sessions')?.textContent).toMatch(/2/));
    await fireEvent.click($('#activity-tab-sessions')!);
    expect($('#activity-tab-sessions')?.getAttribute('aria-selected')).toBe('true');
    const items = $$('#activity-sessions li');
    expect(items).toHaveLength(2);
    expect(items[0].textContent).toMatch(/This device.*Active/s);
    for (const field of ['Started', 'Last seen', 'IP address', 'App version', 'Requests', 'Sent / received', 'Transfer time', 'Device id'])
      expect(items[0].textContent).toContain(field);
    expect(items[0].textContent).toMatch(/1,204/);
    expect(items[0].textContent).toMatch(/3.4 GB \/ 12 MB/);
    expect(items[1].textContent).toMatch(/Ended · signed out from another device/);
  });

  it('moves between tabs with the arrow keys', async () => {
    const { $ } = setup();
    $('#activity-tab-backups')!.focus();
    await fireEvent.keyDown($('#activity-tab-backups')!, { key: 'ArrowRight' });
    expect($('#activity-tab-sessions')?.getAttribute('aria-selected')).toBe('true');
    expect(document.activeElement).toBe($('#activity-tab-sessions'));
  });

  it('has empty states', async () => {
    const backend = new FakeBackend();
    backend.activity.mockResolvedValue({ backups: [], sessions: [] });
    const { $ } = setup(backend);
    await waitFor(() => expect(document.body.textContent).toMatch(/No backups yet/));
    await fireEvent.click($('#activity-tab-sessions')!);
    expect(document.body.textContent).toMatch(/No session records/);
  });

  it('shows an error with a retry', async () => {
    const backend = new FakeBackend();
    backend.activity.mockRejectedValueOnce(fail('network', 'Offline.'));
    const { $ } = setup(backend);
    await waitFor(() => expect($('#error-banner')?.textContent).toMatch(/Offline\. Check your connection/));
    await fireEvent.click($('#error-banner button')!);
    await waitFor(() => expect($('#activity-backups')).not.toBeNull());
  });
});
