import { describe, expect, it } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import Folders from '../src/lib/views/Folders.svelte';
import { DashboardState } from '../src/lib/state/dashboard.svelte';
import { Navigation } from '../src/lib/state/navigation.svelte';
import { FakeBackend, dashboardData, deferred, fail } from './fake-backend';
import type { ExcludedFile } from '../src/lib/ipc';

async function setup(backend = new FakeBackend()) {
  const dashboard = new DashboardState(backend);
  const nav = new Navigation();
  nav.go('folders');
  const view = render(Folders, { backend, dashboard, nav });
  const $ = (selector: string) => view.container.querySelector<HTMLElement>(selector);
  const $$ = (selector: string) => [...view.container.querySelectorAll<HTMLElement>(selector)];
  return { backend, dashboard, nav, $, $$ };
}

describe('Folders', () => {
  it('lists each folder with its size, file count and what is left out', async () => {
    const { $ } = await setup();
    await waitFor(() => expect($('#folders-usage li[data-path="/home/ada/Documents"] .bytes')).not.toBeNull());
    expect($('#folders-usage li[data-path="/home/ada/Documents"]')?.textContent).toMatch(/2.1 GB\s*1,020 files · 3 left out/);
    expect($('#folders-usage li[data-path="/home/ada/Pictures"]')?.textContent).toMatch(/1.3 GB\s*264 files/);
    expect(document.body.textContent).toMatch(/1,284 files · 3.4 GB in all/);
  });

  it('has a helpful empty state', async () => {
    const backend = new FakeBackend();
    backend.dashboard.mockResolvedValue(dashboardData({ folders: [] }));
    backend.folderUsage.mockResolvedValue([]);
    const { nav } = await setup(backend);
    await waitFor(() => expect(document.body.textContent).toMatch(/No folders yet/));
    await fireEvent.click([...document.querySelectorAll('.empty button')][0] as HTMLElement);
    expect(nav.screen).toBe('add-folder');
  });

  it('still lists folders when sizes are unavailable', async () => {
    const backend = new FakeBackend();
    backend.folderUsage.mockRejectedValue(fail('server', 'Not yet.'));
    const { $ } = await setup(backend);
    await waitFor(() => expect(document.body.textContent).toMatch(/Sizes are not available right now: Not yet\./));
    expect($('#folders-usage li[data-path="/home/ada/Documents"]')).not.toBeNull();
  });

  it('removes a folder and measures again', async () => {
    const { $, backend } = await setup();
    await waitFor(() => expect($('#folders-usage li[data-path="/home/ada/Pictures"]')).not.toBeNull());
    await fireEvent.click($('#folders-usage li[data-path="/home/ada/Pictures"] button.remove-button')!);
    await waitFor(() => expect(backend.removeFolder).toHaveBeenCalledWith('/home/ada/Pictures'));
    await waitFor(() => expect(backend.folderUsage).toHaveBeenCalledTimes(2));
  });

  it('edits exclusions: presets, patterns, size limit; saves and reloads the list', async () => {
    const { $, $$, backend } = await setup();
    await waitFor(() => expect($('#exclusions-editor')).not.toBeNull());
    expect(($('#exclude-preset-caches') as HTMLInputElement).checked).toBe(true);
    expect(($('#exclude-preset-node_modules') as HTMLInputElement).checked).toBe(false);
    expect($$('#exclude-patterns li').map((li) => li.textContent?.trim())).toEqual(['*.iso']);
    await fireEvent.click($('#exclude-preset-node_modules')!);
    await fireEvent.input($('#exclude-pattern-input')!, { target: { value: '*.iso' } });
    await fireEvent.click($('#exclude-pattern-add')!);
    expect($('#exclude-pattern-input-error')?.textContent).toMatch(/already in the list/);
    await fireEvent.input($('#exclude-pattern-input')!, { target: { value: ' *.vmdk ' } });
    await fireEvent.keyDown($('#exclude-pattern-input')!, { key: 'Enter' });
    await fireEvent.click($('#exclude-patterns button[aria-label="Remove pattern *.iso"]')!);
    await fireEvent.click($('#exclude-limit-on')!);
    await fireEvent.input($('#exclude-max-size')!, { target: { value: 'lots' } });
    await fireEvent.click($('#exclusions-save')!);
    expect($('#exclude-max-size-error')?.textContent).toMatch(/megabytes/);
    await fireEvent.input($('#exclude-max-size')!, { target: { value: '1.5' } });
    await fireEvent.click($('#exclusions-save')!);
    await waitFor(() => expect(backend.setExclusions).toHaveBeenCalled());
    expect(backend.setExclusions).toHaveBeenCalledWith({ patterns: ['*.vmdk'], max_file_size: 1_500_000, presets: ['caches', 'node_modules'] });
    await waitFor(() => expect(document.body.textContent).toMatch(/Saved\. The next backup uses these rules/));
    expect(backend.excludedFiles).toHaveBeenCalledTimes(2);
  });

  it('shows a save failure', async () => {
    const backend = new FakeBackend();
    backend.setExclusions.mockRejectedValueOnce(fail('invalid_input', 'The pattern [ is not valid.'));
    const { $ } = await setup(backend);
    await waitFor(() => expect($('#exclusions-save')).not.toBeNull());
    await fireEvent.click($('#exclusions-save')!);
    await waitFor(() => expect(document.body.textContent).toMatch(/Your changes were not saved.*The pattern \[ is not valid/s));
  });

  it('lists what will not be backed up and why; loading, empty and error states', async () => {
    const backend = new FakeBackend();
    const pending = deferred<ExcludedFile[]>();
    backend.excludedFiles.mockReturnValueOnce(pending.promise);
    const { $, $$ } = await setup(backend);
    await waitFor(() => expect(document.body.textContent).toMatch(/Looking through your folders/));
    pending.resolve([{ path: '/home/ada/Documents/ubuntu.iso', reason: 'Matches *.iso' }]);
    await waitFor(() => expect($$('#excluded-files li')).toHaveLength(1));
    expect($('#excluded-files')?.textContent).toMatch(/ubuntu\.iso\s*Matches \*\.iso/);

    backend.excludedFiles.mockResolvedValueOnce([]);
    await fireEvent.click($('#exclusions-save')!);
    await waitFor(() => expect(document.body.textContent).toMatch(/Nothing is left out/));

    backend.excludedFiles.mockRejectedValueOnce(fail('io', 'Cannot read /home/ada.'));
    await fireEvent.click($('#exclusions-save')!);
    await waitFor(() => expect(document.body.textContent).toMatch(/Could not list the files left out.*Cannot read/s));
  });
});
