import { describe, expect, it } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import AddFolder from '../src/lib/views/AddFolder.svelte';
import { DashboardState } from '../src/lib/state/dashboard.svelte';
import { Navigation } from '../src/lib/state/navigation.svelte';
import { FakeBackend, dashboardData, deferred, fail, folder } from './fake-backend';

async function setup(backend = new FakeBackend()) {
  const dashboard = new DashboardState(backend);
  await dashboard.load();
  const nav = new Navigation();
  nav.go('add-folder');
  const view = render(AddFolder, { backend, dashboard, nav });
  const $ = (selector: string) => view.container.querySelector<HTMLElement>(selector);
  return { backend, dashboard, nav, $ };
}

describe('Add folder', () => {
  it('starts with an empty path, a picker and the folders already backed up', async () => {
    const { $ } = await setup();
    expect(($('#add-folder-path') as HTMLInputElement).value).toBe('');
    expect($('#pick-folder')).not.toBeNull();
    expect(document.body.textContent).toMatch(/Already backed up/);
  });

  it('asks for a path instead of sending an empty one', async () => {
    const { $, backend } = await setup();
    await fireEvent.click($('#add-folder-submit')!);
    expect($('#add-folder-path-error')?.textContent).toMatch(/Choose a folder/);
    expect(backend.addFolder).not.toHaveBeenCalled();
  });

  it('refuses a folder that is already backed up', async () => {
    const { $, backend } = await setup();
    await fireEvent.input($('#add-folder-path')!, { target: { value: '/home/ada/Documents' } });
    await fireEvent.click($('#add-folder-submit')!);
    expect($('#add-folder-path-error')?.textContent).toMatch(/already backed up/);
    expect(backend.addFolder).not.toHaveBeenCalled();
  });

  it('adds a typed path and returns to the Overview with a confirmation', async () => {
    const { $, backend, dashboard, nav } = await setup();
    backend.addFolder.mockImplementationOnce(async (path: string) => {
      const folders = [...dashboardData().folders, folder(path)];
      backend.dashboard.mockResolvedValue(dashboardData({ folders }));
      return folders;
    });
    await fireEvent.input($('#add-folder-path')!, { target: { value: ' /home/ada/Music ' } });
    await fireEvent.click($('#add-folder-submit')!);
    await waitFor(() => expect(nav.screen).toBe('dashboard'));
    expect(backend.addFolder).toHaveBeenCalledWith('/home/ada/Music');
    expect(dashboard.folders.map((f) => f.path)).toContain('/home/ada/Music');
    expect(nav.notice).toMatch(/Music/);
    // The rest of the Overview is reloaded: the agent starts backing the new folder up by itself.
    await waitFor(() => expect(backend.dashboard).toHaveBeenCalledTimes(2));
    expect(dashboard.folders.map((f) => f.path)).toContain('/home/ada/Music');
  });

  it('fills the path from the native picker, and leaves it alone on cancel', async () => {
    const { $, backend } = await setup();
    await fireEvent.click($('#pick-folder')!);
    await waitFor(() => expect(($('#add-folder-path') as HTMLInputElement).value).toBe('/home/ada/Picked'));
    backend.pickFolder.mockResolvedValueOnce(null);
    await fireEvent.click($('#pick-folder')!);
    await waitFor(() => expect(($('#pick-folder') as HTMLButtonElement).disabled).toBe(false));
    expect(($('#add-folder-path') as HTMLInputElement).value).toBe('/home/ada/Picked');
  });

  it('is busy while adding', async () => {
    const backend = new FakeBackend();
    const pending = deferred<ReturnType<typeof folder>[]>();
    backend.addFolder.mockReturnValueOnce(pending.promise);
    const { $ } = await setup(backend);
    await fireEvent.input($('#add-folder-path')!, { target: { value: '/home/ada/Music' } });
    await fireEvent.click($('#add-folder-submit')!);
    expect(($('#add-folder-submit') as HTMLButtonElement).disabled).toBe(true);
    pending.resolve([folder('/home/ada/Music')]);
  });

  it('puts a bad path error next to the field', async () => {
    const backend = new FakeBackend();
    backend.addFolder.mockRejectedValueOnce(fail('not_found', 'There is no folder at /nope.'));
    const { $, nav } = await setup(backend);
    await fireEvent.input($('#add-folder-path')!, { target: { value: '/nope' } });
    await fireEvent.click($('#add-folder-submit')!);
    await waitFor(() => expect($('#add-folder-path-error')?.textContent).toMatch(/no folder at \/nope/));
    expect(nav.screen).toBe('add-folder');
  });

  it('shows other failures in the banner', async () => {
    const backend = new FakeBackend();
    backend.addFolder.mockRejectedValueOnce(fail('network', 'The service is unreachable.'));
    const { $ } = await setup(backend);
    await fireEvent.input($('#add-folder-path')!, { target: { value: '/home/ada/Music' } });
    await fireEvent.click($('#add-folder-submit')!);
    await waitFor(() => expect($('#error-banner')?.textContent).toMatch(/unreachable/));
  });

  it('works before the dashboard has loaded', async () => {
    const backend = new FakeBackend();
    backend.dashboard.mockRejectedValueOnce(fail('network'));
    backend.dashboard.mockResolvedValueOnce(dashboardData());
    const { $, nav } = await setup(backend);
    await fireEvent.input($('#add-folder-path')!, { target: { value: '/home/ada/Music' } });
    await fireEvent.click($('#add-folder-submit')!);
    await waitFor(() => expect(nav.screen).toBe('dashboard'));
  });
});
