import { describe, expect, it } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import { tick } from 'svelte';
import Restore from '../src/lib/views/Restore.svelte';
import { RestoreState } from '../src/lib/state/restore.svelte';
import { Navigation } from '../src/lib/state/navigation.svelte';
import type { SnapshotInfo } from '../src/lib/ipc';
import { FakeBackend, deferred, fail } from './fake-backend';

async function setup(backend = new FakeBackend()) {
  const restore = new RestoreState(backend);
  const nav = new Navigation();
  nav.go('restore');
  const view = render(Restore, { restore, nav });
  const $ = (selector: string) => view.container.querySelector<HTMLElement>(selector);
  const load = restore.load();
  return { backend, restore, nav, $, load };
}

const options = (select: HTMLElement | null) =>
  [...(select as HTMLSelectElement).options].map((o) => [o.value, o.textContent?.trim()]);

describe('Restore', () => {
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

  it('lists backups newest first with date, device and size, and offers each root', async () => {
    const { $, load } = await setup();
    await load;
    await tick();
    const snaps = options($('#restore-snapshot'));
    expect(snaps.map(([v]) => v)).toEqual(['snap-1', 'snap-0']);
    expect(snaps[0][1]).toMatch(/^Today at .* — ada-laptop — 3.4 GB$/);
    expect(($('#restore-snapshot') as HTMLSelectElement).value).toBe('snap-1');
    expect(options($('#restore-scope')).map(([v]) => v)).toEqual(['', '/home/ada/Documents', '/home/ada/Pictures']);
    expect(options($('#restore-scope'))[0][1]).toMatch(/Everything \(2 folders\)/);
  });

  it('restores everything into a typed folder', async () => {
    const { $, load, backend } = await setup();
    await load;
    await tick();
    await fireEvent.input($('#restore-target')!, { target: { value: '/home/ada/Restored' } });
    await fireEvent.click($('#restore-submit')!);
    await waitFor(() => expect($('#restore-result')).not.toBeNull());
    expect(backend.restore).toHaveBeenCalledWith({ snapshot_id: 'snap-1', paths: [], target: '/home/ada/Restored' });
    expect($('#restore-result')?.textContent).toMatch(/1,284 files \(3.4 GB\) restored into\s+\/home\/ada\/Restored/);
  });

  it('restores one folder of an older backup into a picked folder', async () => {
    const { $, load, backend } = await setup();
    await load;
    await tick();
    await fireEvent.change($('#restore-snapshot')!, { target: { value: 'snap-0' } });
    await tick();
    expect(options($('#restore-scope')).map(([v]) => v)).toEqual(['', '/home/ada/Documents']);
    await fireEvent.change($('#restore-scope')!, { target: { value: '/home/ada/Documents' } });
    await fireEvent.click($('#restore-pick-target')!);
    await waitFor(() => expect(($('#restore-target') as HTMLInputElement).value).toBe('/home/ada/Picked'));
    await fireEvent.click($('#restore-submit')!);
    await waitFor(() => expect(backend.restore).toHaveBeenCalled());
    expect(backend.restore).toHaveBeenCalledWith({ snapshot_id: 'snap-0', paths: ['/home/ada/Documents'], target: '/home/ada/Picked' });
  });

  it('forgets a chosen folder that the newly chosen backup does not have', async () => {
    const { $, load, restore } = await setup();
    await load;
    await tick();
    await fireEvent.change($('#restore-scope')!, { target: { value: '/home/ada/Pictures' } });
    expect(restore.scope).toBe('/home/ada/Pictures');
    await fireEvent.change($('#restore-snapshot')!, { target: { value: 'snap-0' } });
    expect(restore.scope).toBe('');
  });

  it('lists files the restore had to leave out', async () => {
    const backend = new FakeBackend();
    backend.restore.mockResolvedValueOnce({
      files: 10,
      bytes: 1000,
      target: '/t',
      skipped: [{ path: '/home/ada/Pictures/broken.jpg', reason: 'A damaged piece could not be read' }],
    });
    const { $, load } = await setup(backend);
    await load;
    await tick();
    await fireEvent.input($('#restore-target')!, { target: { value: '/t' } });
    await fireEvent.click($('#restore-submit')!);
    await waitFor(() => expect($('#restore-skipped')).not.toBeNull());
    expect($('#restore-result')?.textContent).toMatch(/some files left out/);
    expect($('#restore-skipped')?.textContent).toMatch(/broken\.jpg\s+A damaged piece/);
  });

  it('asks where to restore instead of sending an empty target', async () => {
    const { $, load, backend } = await setup();
    await load;
    await tick();
    await fireEvent.click($('#restore-submit')!);
    expect($('#restore-target-error')?.textContent).toMatch(/Choose the folder/);
    expect(backend.restore).not.toHaveBeenCalled();
  });

  it('is busy while restoring and shows a failure', async () => {
    const backend = new FakeBackend();
    const pending = deferred<never>();
    backend.restore.mockReturnValueOnce(pending.promise);
    const { $, load } = await setup(backend);
    await load;
    await tick();
    await fireEvent.input($('#restore-target')!, { target: { value: '/t' } });
    await fireEvent.click($('#restore-submit')!);
    expect($('#restore-submit')?.textContent).toMatch(/Restoring/);
    expect(($('#restore-submit') as HTMLButtonElement).disabled).toBe(true);
    pending.reject(fail('integrity', 'photos/1.jpg is damaged.'));
    await waitFor(() => expect($('#error-banner')?.textContent).toMatch(/photos\/1.jpg is damaged/));
    expect($('#restore-result')).toBeNull();
  });
});
