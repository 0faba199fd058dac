import { describe, expect, it } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import { tick } from 'svelte';
import Restore from '../src/lib/views/Restore.svelte';
import { RestoreState } from '../src/lib/state/restore.svelte';
import { Navigation } from '../src/lib/state/navigation.svelte';
import type { RestoreSummary, SnapshotInfo, TreeEntry } from '../src/lib/ipc';
import { DAY, FakeBackend, HOUR, NOW, deferred, fail, snapshot } from './fake-backend';

async function setup(backend = new FakeBackend()) {
  const restore = new RestoreState(backend);
  await restore.attach();
  const nav = new Navigation();
  nav.go('restore');
  const view = render(Restore, { restore, nav });
  const $ = (selector: string) => view.container.querySelector<HTMLElement>(selector);
  const $$ = (selector: string) => [...view.container.querySelectorAll<HTMLElement>(selector)];
  const load = restore.load();
  return { backend, restore, nav, $, $$, load };
}

/** Loaded, with the tree of the newest backup open. */
async function ready(backend = new FakeBackend()) {
  const ctx = await setup(backend);
  await ctx.load;
  await waitFor(() => expect(ctx.$('#restore-tree')).not.toBeNull());
  return ctx;
}

const options = (select: HTMLElement | null) =>
  [...(select as HTMLSelectElement).options].map((o) => [o.value, o.textContent?.trim()]);
const rows = ($$: (s: string) => HTMLElement[], list = '#restore-tree') => $$(`${list} li`).map((li) => li.dataset.path);

describe('Restore: choosing a backup', () => {
  it('says it is loading', async () => {
    const backend = new FakeBackend();
    const pending = deferred<SnapshotInfo[]>();
    backend.listSnapshots.mockReturnValueOnce(pending.promise);
    const { $ } = await setup(backend);
    await tick();
    expect($('[role="status"]')?.textContent).toMatch(/Loading your backups/);
    pending.resolve([]);
  });

  it('explains that there is nothing to restore yet', async () => {
    const backend = new FakeBackend();
    backend.listSnapshots.mockResolvedValueOnce([]);
    const { $, load, nav } = await setup(backend);
    await load;
    await tick();
    expect(document.body.textContent).toMatch(/No backups to restore from yet/);
    expect($('#restore-submit')).toBeNull();
    await fireEvent.click(document.querySelector('.empty button')!);
    expect(nav.screen).toBe('dashboard');
  });

  it('shows a list error with a retry', async () => {
    const backend = new FakeBackend();
    backend.listSnapshots.mockRejectedValueOnce(fail('network', 'Offline.'));
    const { $, load } = await setup(backend);
    await load;
    await tick();
    expect($('#error-banner')?.textContent).toMatch(/Offline/);
    await fireEvent.click($('#error-banner button')!);
    await waitFor(() => expect($('#restore-snapshot')).not.toBeNull());
  });

  it('lists backups newest first with date, device and size, and a timeline oldest to newest', async () => {
    const { $, $$ } = await ready();
    const snaps = options($('#restore-snapshot'));
    expect(snaps.map(([v]) => v)).toEqual(['snap-1', 'snap-0']);
    expect(snaps[0][1]).toMatch(/^Today at .* — ada-laptop — 3.4 GB$/);
    expect(($('#restore-snapshot') as HTMLSelectElement).value).toBe('snap-1');
    const points = $$('#restore-timeline .point');
    expect(points.map((p) => p.dataset.snapshot)).toEqual(['snap-0', 'snap-1']);
    expect(points[1].getAttribute('aria-pressed')).toBe('true');
    expect($('#restore-timeline')?.textContent).toMatch(/Today/);
  });

  it('filters by device when backups come from more than one', async () => {
    const backend = new FakeBackend();
    backend.listSnapshots.mockResolvedValue([
      snapshot(),
      snapshot({ id: 'snap-d', device_id: 'dev-desktop', device_name: 'ada-desktop', time: NOW - 2 * DAY }),
    ]);
    backend.listDevices.mockResolvedValue([
      { device_id: 'dev-laptop', device_name: 'ada-laptop', last_backup: NOW, snapshots: 1, this_device: true },
      { device_id: 'dev-desktop', device_name: 'ada-desktop', last_backup: NOW - 2 * DAY, snapshots: 1, this_device: false },
    ]);
    const { $, restore } = await ready(backend);
    expect(options($('#restore-device')).map(([, t]) => t)).toEqual(['All devices', 'ada-laptop (this computer) — 1 backup', 'ada-desktop — 1 backup']);
    await fireEvent.change($('#restore-device')!, { target: { value: 'dev-desktop' } });
    expect(options($('#restore-snapshot')).map(([v]) => v)).toEqual(['snap-d']);
    expect(restore.snapshotId).toBe('snap-d');
    await waitFor(() => expect(backend.browse).toHaveBeenLastCalledWith('snap-d', null));
  });

  it('works without a device list (the backups name their devices)', async () => {
    const backend = new FakeBackend();
    backend.listDevices.mockRejectedValue(fail('server', 'unknown command'));
    const { $ } = await ready(backend);
    expect($('#restore-device')).toBeNull();
    expect($('#error-banner')).toBeNull();
  });
});

describe('Restore: browsing', () => {
  it('opens at the backed-up folders, then into a folder with breadcrumbs', async () => {
    const { $, $$, backend } = await ready();
    expect(backend.browse).toHaveBeenCalledWith('snap-1', null);
    expect(rows($$)).toEqual(['/home/ada/Documents', '/home/ada/Pictures']);
    await fireEvent.click($('#restore-tree li[data-path="/home/ada/Documents"] button.name')!);
    await waitFor(() => expect(rows($$)).toContain('/home/ada/Documents/Taxes'));
    // Folders first, then files by name.
    expect(rows($$)).toEqual(['/home/ada/Documents/Taxes', '/home/ada/Documents/notes.txt', '/home/ada/Documents/report.pdf']);
    await fireEvent.click($('#restore-tree li[data-path="/home/ada/Documents/Taxes"] button.name')!);
    await waitFor(() => expect(rows($$)).toEqual(['/home/ada/Documents/Taxes/2024.pdf']));
    const crumbs = $$('#restore-breadcrumbs li').map((li) => li.textContent?.trim());
    expect(crumbs).toEqual(['All folders', 'Documents', 'Taxes']);
    expect($('#restore-breadcrumbs [aria-current="location"]')?.textContent).toBe('Taxes');
    await fireEvent.click($$('#restore-breadcrumbs button')[1]);
    await waitFor(() => expect(backend.browse).toHaveBeenLastCalledWith('snap-1', '/home/ada/Documents'));
  });

  it('says when a folder was empty', async () => {
    const { $, $$ } = await ready();
    await fireEvent.click($('#restore-tree li[data-path="/home/ada/Pictures"] button.name')!);
    await waitFor(() => expect(document.body.textContent).toMatch(/This folder was empty/));
    expect(rows($$)).toEqual([]);
  });

  it('shows a browse error, keeps the whole-backup restore, and retries', async () => {
    const backend = new FakeBackend();
    backend.browse.mockRejectedValueOnce(fail('network', 'Offline.'));
    const { $, load } = await setup(backend);
    await load;
    await waitFor(() => expect(document.body.textContent).toMatch(/Could not open this folder/));
    expect($('#restore-submit')).not.toBeNull();
    await fireEvent.click([...document.querySelectorAll('button')].find((b) => b.textContent?.includes('Try again'))!);
    await waitFor(() => expect($('#restore-tree')).not.toBeNull());
  });

  it('says it is opening a backup', async () => {
    const backend = new FakeBackend();
    const pending = deferred<TreeEntry[]>();
    backend.browse.mockReturnValueOnce(pending.promise);
    const { load } = await setup(backend);
    await load;
    await tick();
    expect(document.body.textContent).toMatch(/Opening the backup/);
    pending.resolve([]);
  });

  it('keeps the open folder when another backup is chosen, if that backup has it', async () => {
    const { $, backend, restore } = await ready();
    await fireEvent.click($('#restore-tree li[data-path="/home/ada/Documents"] button.name')!);
    await waitFor(() => expect(restore.path).toBe('/home/ada/Documents'));
    await fireEvent.click($('#restore-timeline [data-snapshot="snap-0"]')!);
    await waitFor(() => expect(backend.browse).toHaveBeenLastCalledWith('snap-0', '/home/ada/Documents'));
    // snap-0 has no Pictures: going there from Pictures falls back to the top.
    await fireEvent.click($('#restore-timeline [data-snapshot="snap-1"]')!);
    await restore.open('/home/ada/Pictures');
    await fireEvent.change($('#restore-snapshot')!, { target: { value: 'snap-0' } });
    await waitFor(() => expect(backend.browse).toHaveBeenLastCalledWith('snap-0', null));
  });
});

describe('Restore: search and versions', () => {
  it('searches this backup, then every backup (one row per file), and goes back to folders', async () => {
    const { $, $$, backend } = await ready();
    await fireEvent.input($('#restore-search')!, { target: { value: 'report' } });
    await fireEvent.submit($('#restore-search')!.closest('form')!);
    await waitFor(() => expect($('#restore-hits')).not.toBeNull());
    expect(backend.searchFiles).toHaveBeenLastCalledWith('report', 'snap-1');
    expect($$('#restore-hits li')).toHaveLength(1);
    expect($('#restore-hits li')?.textContent).toMatch(/Documents/);
    expect($('#restore-hits li')?.textContent).toMatch(/In this backup/);
    await fireEvent.click($('#restore-search-all')!);
    await waitFor(() => expect(backend.searchFiles).toHaveBeenLastCalledWith('report', null));
    await waitFor(() => expect($('#restore-hits li')?.textContent).toMatch(/in 2 backups/));
    expect($$('#restore-hits li')).toHaveLength(1);
    await fireEvent.click($('#restore-hits li input')!);
    expect($('#restore-selection')?.textContent).toMatch(/1 item chosen/);
    await fireEvent.click($('#restore-search-clear')!);
    expect($('#restore-tree')).not.toBeNull();
  });

  it('says when nothing matches, and when the search fails', async () => {
    const backend = new FakeBackend();
    const { $ } = await ready(backend);
    await fireEvent.input($('#restore-search')!, { target: { value: 'zzz' } });
    await fireEvent.submit($('#restore-search')!.closest('form')!);
    await waitFor(() => expect(document.body.textContent).toMatch(/Nothing matches “zzz”/));
    backend.searchFiles.mockRejectedValueOnce(fail('server', 'Search is down.'));
    await fireEvent.submit($('#restore-search')!.closest('form')!);
    await waitFor(() => expect(document.body.textContent).toMatch(/Search is down/));
  });

  it('"Show" on a hit only in another backup switches to it and chooses the file', async () => {
    const backend = new FakeBackend();
    backend.searchFiles.mockResolvedValue([
      { snapshot_id: 'snap-0', time: NOW - 3 * DAY, path: '/home/ada/Documents/old-draft.txt', kind: 'file', size: 2_000 },
    ]);
    const { $, $$, restore } = await ready(backend);
    await fireEvent.input($('#restore-search')!, { target: { value: 'draft' } });
    restore.searchAll = true;
    await fireEvent.submit($('#restore-search')!.closest('form')!);
    await waitFor(() => expect($$('#restore-hits li')).toHaveLength(1));
    expect($('#restore-hits li input')).toBeNull();
    expect($('#restore-hits li')?.textContent).toMatch(/Backup of/);
    await fireEvent.click($('#restore-hits li button.go')!);
    await waitFor(() => expect(backend.browse).toHaveBeenLastCalledWith('snap-0', '/home/ada/Documents'));
    expect(restore.snapshotId).toBe('snap-0');
    expect([...restore.chosen]).toEqual(['/home/ada/Documents/old-draft.txt']);
    expect($('#restore-selection')?.textContent).toMatch(/1 item chosen/);
  });

  it('lists a file’s versions and restores an older one', async () => {
    const { $, $$, restore, backend } = await ready();
    await fireEvent.click($('#restore-tree li[data-path="/home/ada/Documents"] button.name')!);
    await waitFor(() => expect($('#restore-tree li[data-path="/home/ada/Documents/report.pdf"]')).not.toBeNull());
    await fireEvent.click($('#restore-tree li[data-path="/home/ada/Documents/report.pdf"] button.versions')!);
    await waitFor(() => expect($$('#versions-list li')).toHaveLength(2));
    expect(backend.fileVersions).toHaveBeenCalledWith('/home/ada/Documents/report.pdf');
    expect(document.querySelector('#versions-dialog')?.getAttribute('aria-modal')).toBe('true');
    expect($$('#versions-list li')[0].textContent).toMatch(/Newest/);
    expect($$('#versions-list li')[1].textContent).toMatch(/2.3 MB/);
    await fireEvent.click($$('#versions-list li')[1].querySelector<HTMLElement>('.choose-version')!);
    expect(document.querySelector('#versions-dialog')).toBeNull();
    expect(restore.snapshotId).toBe('snap-0');
    expect([...restore.chosen]).toEqual(['/home/ada/Documents/report.pdf']);
  });

  it('closes the versions dialog with Escape and shows its errors', async () => {
    const backend = new FakeBackend();
    backend.fileVersions.mockRejectedValueOnce(fail('network', 'Offline.'));
    const { restore } = await ready(backend);
    await restore.showVersions('/home/ada/Documents/report.pdf');
    await tick();
    expect(document.querySelector('#versions-dialog')?.textContent).toMatch(/Could not list the versions.*Offline/s);
    await fireEvent.keyDown(document.querySelector('#versions-dialog')!, { key: 'Escape' });
    expect(document.querySelector('#versions-dialog')).toBeNull();
  });
});

describe('Restore: choosing many and restoring', () => {
  it('restores everything into a typed folder, keeping both on conflict by default', async () => {
    const { $, backend } = await ready();
    expect($('#restore-selection')?.textContent).toMatch(/Everything in this backup/);
    await fireEvent.input($('#restore-target')!, { target: { value: '/home/ada/Restored' } });
    // jsdom has no scrollIntoView: record the calls while this test runs.
    const scrolled: Element[] = [];
    Element.prototype.scrollIntoView = function (this: Element) {
      scrolled.push(this);
    };
    try {
      await fireEvent.click($('#restore-submit')!);
      await waitFor(() => expect($('#restore-result')).not.toBeNull());
      expect(backend.restore).toHaveBeenCalledWith({ snapshot_id: 'snap-1', paths: [], target: '/home/ada/Restored', conflict: 'keep_both' });
      expect($('#restore-result')?.textContent).toMatch(/1,284 files \(3.4 GB\) restored into\s+\/home\/ada\/Restored/);
      // The outcome appears below the form: it is scrolled into view.
      expect(scrolled).toContain($('#restore-result'));
    } finally {
      delete (Element.prototype as Partial<Element>).scrollIntoView;
    }
  });

  it('chooses several items, restores them to their original place, overwriting', async () => {
    const { $, $$, backend } = await ready();
    await fireEvent.click($('#restore-tree li[data-path="/home/ada/Documents"] button.name')!);
    await waitFor(() => expect($('#restore-tree li[data-path="/home/ada/Documents/report.pdf"]')).not.toBeNull());
    await fireEvent.click($('#restore-tree li[data-path="/home/ada/Documents/report.pdf"] input')!);
    await fireEvent.click($('#restore-tree li[data-path="/home/ada/Documents/Taxes"] input')!);
    expect($('#restore-selection')?.textContent).toMatch(/2 items chosen/);
    expect($('#restore-submit')?.textContent).toMatch(/Restore 2 items/);
    await fireEvent.click($('#restore-where-original')!);
    expect($('#restore-target')).toBeNull();
    await fireEvent.change($('#restore-conflict')!, { target: { value: 'overwrite' } });
    await fireEvent.click($('#restore-submit')!);
    await waitFor(() => expect(backend.restore).toHaveBeenCalled());
    expect(backend.restore).toHaveBeenCalledWith({
      snapshot_id: 'snap-1',
      paths: ['/home/ada/Documents/report.pdf', '/home/ada/Documents/Taxes'],
      target: null,
      conflict: 'overwrite',
    });
    expect($$('#restore-tree li input:checked')).toHaveLength(2);
  });

  it('"choose all" ticks every row here, a second click clears them; Clear empties the selection', async () => {
    const { $, $$, restore } = await ready();
    await fireEvent.click($('#restore-choose-all')!);
    expect([...restore.chosen]).toEqual(['/home/ada/Documents', '/home/ada/Pictures']);
    await fireEvent.click($('#restore-choose-all')!);
    expect(restore.chosen.size).toBe(0);
    await fireEvent.click($$('#restore-tree li input')[0]);
    await fireEvent.click($('#restore-clear-selection')!);
    expect(restore.chosen.size).toBe(0);
  });

  it('changing the backup clears the selection', async () => {
    const { $, $$, restore } = await ready();
    await fireEvent.click($$('#restore-tree li input')[0]);
    expect(restore.chosen.size).toBe(1);
    await fireEvent.change($('#restore-snapshot')!, { target: { value: 'snap-0' } });
    expect(restore.chosen.size).toBe(0);
  });

  it('restores into a picked folder', async () => {
    const { $, backend } = await ready();
    await fireEvent.click($('#restore-pick-target')!);
    await waitFor(() => expect(($('#restore-target') as HTMLInputElement).value).toBe('/home/ada/Picked'));
    await fireEvent.change($('#restore-conflict')!, { target: { value: 'skip' } });
    await fireEvent.click($('#restore-submit')!);
    await waitFor(() => expect(backend.restore).toHaveBeenCalled());
    expect(backend.restore.mock.calls[0][0]).toMatchObject({ target: '/home/ada/Picked', conflict: 'skip' });
  });

  it('lists files the restore had to leave out', async () => {
    const backend = new FakeBackend();
    backend.restore.mockResolvedValueOnce({
      files: 10,
      bytes: 1000,
      target: '/t',
      skipped: [{ path: '/home/ada/Pictures/broken.jpg', reason: 'A damaged piece could not be read' }],
      warnings: [],
    });
    const { $ } = await ready(backend);
    await fireEvent.input($('#restore-target')!, { target: { value: '/t' } });
    await fireEvent.click($('#restore-submit')!);
    await waitFor(() => expect($('#restore-skipped')).not.toBeNull());
    expect($('#restore-result')?.textContent).toMatch(/some files left out/);
    expect($('#restore-skipped')?.textContent).toMatch(/broken\.jpg\s+A damaged piece/);
  });

  it('lists entries whose permissions or time could not be set apart from skipped ones', async () => {
    const backend = new FakeBackend();
    backend.restore.mockResolvedValueOnce({
      files: 10,
      bytes: 1000,
      target: '/t',
      skipped: [{ path: '/home/ada/Pictures/broken.jpg', reason: 'A damaged piece could not be read' }],
      warnings: [
        { path: '/t/Documents/report.pdf', reason: 'Could not set the permissions: operation not permitted' },
        { path: '/t/Documents/report.pdf', reason: 'Could not set the modification time' },
      ],
    });
    const { $ } = await ready(backend);
    await fireEvent.input($('#restore-target')!, { target: { value: '/t' } });
    await fireEvent.click($('#restore-submit')!);
    await waitFor(() => expect($('#restore-warnings')).not.toBeNull());
    expect($('#restore-skipped')?.querySelectorAll('li')).toHaveLength(1);
    expect($('#restore-skipped')?.textContent).not.toMatch(/permissions/);
    const warnings = [...$('#restore-warnings')!.querySelectorAll('li')].map((li) => li.textContent);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/report\.pdf\s+Could not set the permissions/);
    expect($('#restore-result')?.textContent).toMatch(/Not restored \(1\)/);
    expect($('#restore-result')?.textContent).toMatch(/Restored, but the permissions or modification time could not be set \(2\)/);
  });

  it('warnings alone still read as a complete restore', async () => {
    const backend = new FakeBackend();
    backend.restore.mockResolvedValueOnce({
      files: 3,
      bytes: 1000,
      target: '/t',
      skipped: [],
      warnings: [{ path: '/t/a.txt', reason: 'Could not set the modification time' }],
    });
    const { $ } = await ready(backend);
    await fireEvent.input($('#restore-target')!, { target: { value: '/t' } });
    await fireEvent.click($('#restore-submit')!);
    await waitFor(() => expect($('#restore-warnings')).not.toBeNull());
    expect($('#restore-result')?.textContent).toMatch(/Restore complete/);
    expect($('#restore-result')?.textContent).toMatch(/The contents\s+are complete/);
    expect($('#restore-skipped')).toBeNull();
  });

  it('asks where to restore instead of sending an empty target', async () => {
    const { $, backend } = await ready();
    await fireEvent.click($('#restore-submit')!);
    expect($('#restore-target-error')?.textContent).toMatch(/Choose the folder/);
    expect(backend.restore).not.toHaveBeenCalled();
  });

  it('shows progress from restore-progress events, then a failure', async () => {
    const backend = new FakeBackend();
    const pending = deferred<RestoreSummary>();
    backend.restore.mockReturnValueOnce(pending.promise);
    const { $ } = await ready(backend);
    await fireEvent.input($('#restore-target')!, { target: { value: '/t' } });
    await fireEvent.click($('#restore-submit')!);
    expect($('#restore-submit')?.textContent).toMatch(/Restoring/);
    expect(($('#restore-submit') as HTMLButtonElement).disabled).toBe(true);
    backend.emit('restore', { files_done: 3, files_total: 12, bytes_done: 250_000, bytes_total: 1_000_000, current_file: '/home/ada/Documents/notes.txt' });
    await tick();
    expect($('#restore-progress')?.textContent).toMatch(/25%/);
    expect($('#restore-progress')?.textContent).toMatch(/3 of 12 files/);
    expect($('#restore-progress')?.textContent).toMatch(/notes\.txt/);
    pending.reject(fail('integrity', 'photos/1.jpg is damaged.'));
    await waitFor(() => expect($('#error-banner')?.textContent).toMatch(/photos\/1.jpg is damaged/));
    expect($('#restore-result')).toBeNull();
    expect($('#restore-progress')).toBeNull();
  });
});

describe('Restore: backups made in the same minute', () => {
  const minute = NOW - HOUR; // 14:30:00
  const sameMinute = [
    snapshot({ id: 'snap-c', time: minute + 41_000 }),
    snapshot({ id: 'snap-b', time: minute + 17_000 }),
    snapshot({ id: 'snap-a', time: minute + 2_000 }),
    snapshot({ id: 'snap-0', time: NOW - 3 * DAY, roots: ['/home/ada/Documents'] }),
  ];

  it('tells them apart by their seconds, in the list and the timeline; other backups stay short', async () => {
    const backend = new FakeBackend();
    backend.listSnapshots.mockResolvedValue(sameMinute);
    const { $, $$ } = await ready(backend);
    const labels = options($('#restore-snapshot')).map(([, text]) => text);
    expect(new Set(labels).size).toBe(4);
    expect(labels[0]).toMatch(/^Today at 2:30:41\sPM — ada-laptop/);
    expect(labels[1]).toMatch(/2:30:17/);
    expect(labels[2]).toMatch(/2:30:02/);
    expect(labels[3]).not.toMatch(/\d:\d\d:\d\d/);
    const points = $$('#restore-timeline .point').map((p) => p.textContent?.trim());
    expect(points.slice(1)).toEqual([expect.stringMatching(/2:30:02/), expect.stringMatching(/2:30:17/), expect.stringMatching(/2:30:41/)]);
    expect(points[0]).not.toMatch(/\d:\d\d:\d\d/);
    expect($('#restore-timeline [data-snapshot="snap-b"]')?.getAttribute('aria-label')).toMatch(/Backup of Today at 2:30:17/);
  });

  it('and in a file’s versions', async () => {
    const backend = new FakeBackend();
    backend.listSnapshots.mockResolvedValue(sameMinute);
    backend.fileVersions.mockResolvedValueOnce([
      { snapshot_id: 'snap-c', time: minute + 41_000, size: 40, mtime: minute + 39_000 },
      { snapshot_id: 'snap-a', time: minute + 2_000, size: 28, mtime: minute - 50_000 },
    ]);
    const { $$, restore } = await ready(backend);
    await restore.showVersions('/home/ada/Documents/report.pdf');
    await waitFor(() => expect($$('#versions-list li')).toHaveLength(2));
    const [newest, older] = $$('#versions-list li').map((li) => li.querySelector('.name')?.textContent ?? '');
    expect(newest).toMatch(/Today at 2:30:41/);
    expect(older).toMatch(/Today at 2:30:02/);
    // Their file times are in different minutes: no seconds needed there.
    expect($$('#versions-list li')[0].querySelector('.sub')?.textContent).toMatch(/changed Today at 2:30\sPM/);
  });
});

describe('Restore: following the newest backup', () => {
  const older = snapshot({ id: 'snap-0', time: NOW - 3 * DAY, roots: ['/home/ada/Documents'] });

  it('shows a backup made since, until the person chooses one themselves in this visit', async () => {
    const backend = new FakeBackend();
    const { $, restore } = await ready(backend);
    expect(restore.snapshotId).toBe('snap-1');
    expect(restore.pinned).toBe(false);

    // A backup finishes while Restore is open: it is listed and shown.
    backend.listSnapshots.mockResolvedValue([snapshot({ id: 'snap-2', time: NOW - 60_000 }), snapshot(), older]);
    await restore.load();
    expect(restore.snapshotId).toBe('snap-2');
    await waitFor(() => expect(backend.browse).toHaveBeenLastCalledWith('snap-2', null));
    await tick();
    expect(($('#restore-snapshot') as HTMLSelectElement).value).toBe('snap-2');

    // The person picks an older backup: a newer one does not take its place in this visit…
    await fireEvent.click($('#restore-timeline [data-snapshot="snap-0"]')!);
    expect(restore.pinned).toBe(true);
    backend.listSnapshots.mockResolvedValue([snapshot({ id: 'snap-3', time: NOW }), snapshot({ id: 'snap-2', time: NOW - 60_000 }), snapshot(), older]);
    await restore.load();
    expect(restore.snapshotId).toBe('snap-0');

    // …but the next visit starts from the newest again.
    await restore.visit();
    expect(restore.snapshotId).toBe('snap-3');
    expect(restore.pinned).toBe(false);
  });

  it('choosing in the select counts too; a chosen backup that is gone falls back to the newest', async () => {
    const backend = new FakeBackend();
    const { $, restore } = await ready(backend);
    await fireEvent.change($('#restore-snapshot')!, { target: { value: 'snap-0' } });
    expect(restore.pinned).toBe(true);
    backend.listSnapshots.mockResolvedValue([snapshot({ id: 'snap-2', time: NOW }), snapshot()]);
    await restore.load();
    expect(restore.snapshotId).toBe('snap-2');
    expect(restore.pinned).toBe(false);
  });

  it('ticking files in the newest backup holds it; a new visit with no newer backup keeps folder and ticks', async () => {
    const backend = new FakeBackend();
    const { $, restore } = await ready(backend);
    await fireEvent.click($('#restore-tree li[data-path="/home/ada/Documents"] button.name')!);
    await waitFor(() => expect(restore.path).toBe('/home/ada/Documents'));
    expect(restore.pinned).toBe(false);
    await fireEvent.click($('#restore-tree li[data-path="/home/ada/Documents/notes.txt"] input')!);
    expect(restore.pinned).toBe(true);

    // Nothing newer: the next visit shows the same backup, folder and ticks.
    await restore.visit();
    expect(restore.snapshotId).toBe('snap-1');
    expect(restore.path).toBe('/home/ada/Documents');
    expect([...restore.chosen]).toEqual(['/home/ada/Documents/notes.txt']);

    // Ticked in this visit: a backup finishing meanwhile does not take the ticks away.
    await fireEvent.click($('#restore-tree li[data-path="/home/ada/Documents/notes.txt"] input')!);
    backend.listSnapshots.mockResolvedValue([snapshot({ id: 'snap-2', time: NOW }), snapshot()]);
    await restore.load();
    expect(restore.snapshotId).toBe('snap-1');
  });

  it('a restore under way holds its backup, and the result stays on a reload', async () => {
    const backend = new FakeBackend();
    const pending = deferred<RestoreSummary>();
    backend.restore.mockReturnValueOnce(pending.promise);
    const { restore } = await ready(backend);
    restore.target = '/home/ada/Restored';
    const running = restore.restore();
    backend.listSnapshots.mockResolvedValue([snapshot({ id: 'snap-2', time: NOW }), snapshot()]);
    await restore.load();
    expect(restore.snapshotId).toBe('snap-1');
    pending.resolve({ files: 3, bytes: 10, target: '/home/ada/Restored', skipped: [], warnings: [] });
    await running;
    expect(restore.result?.files).toBe(3);
    // Same newest backup on the next reload: nothing changes, the result stays.
    backend.listSnapshots.mockResolvedValue([snapshot()]);
    await restore.load();
    expect(restore.snapshotId).toBe('snap-1');
    expect(restore.result?.files).toBe(3);
  });
});
