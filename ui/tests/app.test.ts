import { describe, expect, it } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import App from '../src/App.svelte';
import { ACCOUNT, FakeBackend, fail, progress, status } from './fake-backend';

function signedIn(backend: FakeBackend, extra: { keychain_available?: boolean; backup?: ReturnType<typeof progress> | null } = {}) {
  backend.appStatus.mockResolvedValue(
    status({
      signed_in: true,
      account: ACCOUNT,
      server_url: ACCOUNT.server_url,
      keychain_available: extra.keychain_available ?? true,
      backup: extra.backup ?? null,
    }),
  );
}

function setup(backend: FakeBackend) {
  const view = render(App, { backend });
  return (selector: string) => view.container.querySelector<HTMLElement>(selector);
}

describe('App', () => {
  it('opens on Welcome when nobody is signed in', async () => {
    const $ = setup(new FakeBackend());
    await waitFor(() => expect($('#signup-first')).not.toBeNull());
    expect($('#nav-dashboard')).toBeNull();
  });

  it('opens on the Overview when signed in, and navigates', async () => {
    const backend = new FakeBackend();
    signedIn(backend);
    const $ = setup(backend);
    await waitFor(() => expect($('#folder-list')).not.toBeNull());
    expect($('#nav-dashboard')?.getAttribute('aria-current')).toBe('page');
    await fireEvent.click($('#nav-restore')!);
    await waitFor(() => expect($('#restore-snapshot')).not.toBeNull());
    expect(backend.listSnapshots).toHaveBeenCalledOnce();
    await fireEvent.click($('#nav-add-folder')!);
    expect($('#add-folder-path')).not.toBeNull();
    await fireEvent.click($('#nav-dashboard')!);
    expect($('#backup-now')).not.toBeNull();
  });

  it('picks up a backup that was already running', async () => {
    const backend = new FakeBackend();
    signedIn(backend, { backup: progress({ files_done: 7 }) });
    const $ = setup(backend);
    await waitFor(() => expect($('#backup-progress')?.dataset.phase).toBe('uploading'));
    expect($('#backup-files')?.textContent).toMatch(/7 of 10/);
  });

  it('warns when there is no keychain', async () => {
    const backend = new FakeBackend();
    signedIn(backend, { keychain_available: false });
    const $ = setup(backend);
    await waitFor(() => expect($('#folder-list')).not.toBeNull());
    expect(document.body.textContent).toMatch(/No secure storage on this computer/);
  });

  it('signs out to the sign-in form', async () => {
    const backend = new FakeBackend();
    signedIn(backend);
    const $ = setup(backend);
    await waitFor(() => expect($('#sign-out')).not.toBeNull());
    await fireEvent.click($('#sign-out')!);
    await waitFor(() => expect($('#signin-email')).not.toBeNull());
    expect(backend.signOut).toHaveBeenCalledOnce();
  });

  it('says so when the agent cannot be reached, and retries', async () => {
    const backend = new FakeBackend();
    backend.appStatus.mockRejectedValueOnce(fail('io', 'The local catalog could not be opened.'));
    const $ = setup(backend);
    await waitFor(() => expect($('#error-banner')?.textContent).toMatch(/catalog could not be opened/));
    await fireEvent.click(document.querySelector('.unavailable > button')!);
    await waitFor(() => expect($('#signup-first')).not.toBeNull());
  });
});
