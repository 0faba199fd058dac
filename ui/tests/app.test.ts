import { describe, expect, it } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import App from '../src/App.svelte';
import { ACCOUNT, FakeBackend, PROFILE, dashboardData, deferred, fail, folder, progress, report, snapshot, status } from './fake-backend';

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
    // The sidebar's email wraps rather than being cut, and the whole of it is in the tooltip.
    expect($('#sidebar-email')?.textContent).toBe(ACCOUNT.email);
    expect($('#sidebar-email')?.closest('[title]')?.getAttribute('title')).toContain(ACCOUNT.email);
    await fireEvent.click($('#nav-restore')!);
    await waitFor(() => expect($('#restore-snapshot')).not.toBeNull());
    expect(backend.listSnapshots).toHaveBeenCalledOnce();
    await fireEvent.click($('#nav-add-folder')!);
    expect($('#add-folder-path')).not.toBeNull();
    await fireEvent.click($('#nav-dashboard')!);
    expect($('#backup-now')).not.toBeNull();
  });

  it('Restore follows a backup that finishes while it is open, unless the person chose one', async () => {
    const backend = new FakeBackend();
    signedIn(backend);
    const $ = setup(backend);
    await waitFor(() => expect($('#folder-list')).not.toBeNull());
    await fireEvent.click($('#nav-restore')!);
    await waitFor(() => expect(($('#restore-snapshot') as HTMLSelectElement | null)?.value).toBe('snap-1'));
    const newer = snapshot({ id: 'snap-new', time: Date.now() });
    backend.listSnapshots.mockResolvedValue([newer, snapshot()]);
    backend.emitFinished(report({ finished_at: newer.time }));
    await waitFor(() => expect(($('#restore-snapshot') as HTMLSelectElement).value).toBe('snap-new'));

    // Chosen by hand: the next backup is listed but does not take its place…
    await fireEvent.change($('#restore-snapshot')!, { target: { value: 'snap-1' } });
    backend.listSnapshots.mockResolvedValue([snapshot({ id: 'snap-newer', time: Date.now() + 1 }), newer, snapshot()]);
    backend.emitFinished(report({ finished_at: Date.now() }));
    await waitFor(() => expect($('#restore-snapshot option[value="snap-newer"]')).not.toBeNull());
    expect(($('#restore-snapshot') as HTMLSelectElement).value).toBe('snap-1');

    // …until Restore is opened again.
    await fireEvent.click($('#nav-dashboard')!);
    await fireEvent.click($('#nav-restore')!);
    await waitFor(() => expect(($('#restore-snapshot') as HTMLSelectElement).value).toBe('snap-newer'));
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

  it('after signing in with a code and being signed out everywhere, Welcome starts without the code field', async () => {
    const backend = new FakeBackend();
    backend.signIn.mockRejectedValueOnce(fail('totp_required', 'Enter the code.'));
    const $ = setup(backend);
    await waitFor(() => expect($('#show-signin')).not.toBeNull());
    await fireEvent.click($('#show-signin')!);
    await fireEvent.input($('#signin-email')!, { target: { value: 'ada@example.com' } });
    await fireEvent.input($('#signin-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#signin-submit')!);
    await waitFor(() => expect($('#signin-totp')).not.toBeNull());
    await fireEvent.input($('#signin-password')!, { target: { value: 'pw' } });
    await fireEvent.input($('#signin-totp')!, { target: { value: '123456' } });
    await fireEvent.click($('#signin-submit')!);
    await waitFor(() => expect($('#sign-out')).not.toBeNull());
    await fireEvent.click($('#nav-settings')!);
    await fireEvent.click($('#settings-tab-devices')!);
    await fireEvent.click($('#sign-out-everywhere')!);
    await fireEvent.click($('#sign-out-everywhere-confirm')!);
    await waitFor(() => expect($('#welcome-notice')).not.toBeNull());
    expect($('#signin-email')).not.toBeNull();
    expect($('#signin-totp')).toBeNull();
    expect(($('#signin-password') as HTMLInputElement).value).toBe('');
  });

  it('the sidebar follows a profile save and an email confirmed meanwhile, without a restart', async () => {
    const backend = new FakeBackend();
    signedIn(backend);
    backend.profile.mockResolvedValueOnce({ ...PROFILE, email: 'ada@new.example' });
    const $ = setup(backend);
    await waitFor(() => expect($('#sidebar-email')?.textContent).toBe('ada@example.com'));
    await fireEvent.click($('#nav-settings')!);
    await fireEvent.click($('#settings-tab-account')!);
    await waitFor(() => expect($('#sidebar-email')?.textContent).toBe('ada@new.example'));
    await fireEvent.input($('#profile-first')!, { target: { value: 'Augusta' } });
    await fireEvent.click($('#profile-save')!);
    await waitFor(() => expect(document.querySelector('#sidebar-name')?.textContent).toBe('Augusta Lovelace'));
  });

  it('an account deleted from another device ends the running session; an ordinary refusal does not', async () => {
    const refused = new FakeBackend();
    signedIn(refused);
    refused.dashboard.mockRejectedValueOnce(fail('unauthorized', 'The session was refused.'));
    const first = render(App, { backend: refused });
    await waitFor(() => expect(first.container.textContent).toContain('The session was refused.'));
    expect(first.container.querySelector('#nav-dashboard')).not.toBeNull();
    first.unmount();

    const backend = new FakeBackend();
    signedIn(backend);
    const message = 'This account is scheduled for deletion: it and its stored files will be deleted for good on June 28, 2025. Until then you can restore it.';
    backend.dashboard.mockRejectedValueOnce(fail('account_deleted', message));
    const $ = setup(backend);
    await waitFor(() => expect($('#welcome-notice')?.textContent ?? '').toContain(message));
    expect($('#nav-dashboard')).toBeNull();
  });

  it('says so when the agent cannot be reached, and retries', async () => {
    const backend = new FakeBackend();
    backend.appStatus.mockRejectedValueOnce(fail('io', 'The local catalog could not be opened.'));
    const $ = setup(backend);
    await waitFor(() => expect($('#error-banner')?.textContent).toMatch(/catalog could not be opened/));
    await fireEvent.click(document.querySelector('.unavailable > button')!);
    await waitFor(() => expect($('#signup-first')).not.toBeNull());
  });

  it('right after adding the first folder the summary stops asking for one, and follows the backup the agent starts by itself', async () => {
    const backend = new FakeBackend();
    signedIn(backend);
    const docs = folder('/home/ada/Documents');
    backend.dashboard.mockResolvedValue(dashboardData({ folders: [], last_backup: null }));
    backend.addFolder.mockImplementation(async () => {
      backend.dashboard.mockResolvedValue(dashboardData({ folders: [docs], last_backup: null }));
      return [docs];
    });
    const $ = setup(backend);
    await waitFor(() => expect($('#status-summary')?.textContent).toMatch(/Add a folder to begin/));

    await fireEvent.click($('#nav-add-folder')!);
    await fireEvent.input($('#add-folder-path')!, { target: { value: '/home/ada/Documents' } });
    await fireEvent.click($('#add-folder-submit')!);
    await waitFor(() => expect($('#folder-list li[data-path="/home/ada/Documents"]')).not.toBeNull());
    expect($('#status-summary')?.textContent).toMatch(/Not backed up yet/);
    expect($('#status-summary')?.textContent).not.toMatch(/Add a folder/);

    // The agent's scheduler backs the new folder up by itself: the UI only hears the events.
    const calls = backend.dashboard.mock.calls.length;
    backend.emitProgress(progress());
    await waitFor(() => expect($('#status-summary')?.dataset.state).toBe('backing-up'));
    expect($('#backup-progress')).not.toBeNull();
    const at = Date.now();
    const done = snapshot({ id: 'snap-new', time: at, roots: [docs.path] });
    backend.dashboard.mockResolvedValue(dashboardData({ folders: [docs], last_backup: done }));
    backend.emitFinished(report({ finished_at: at }));
    await waitFor(() => expect($('#status-summary')?.textContent).toMatch(/Up to date\s*Last backup today at/));
    await waitFor(() => expect($('#backup-status')?.textContent).toMatch(/Your files are backed up/));
    // The sidebar and the Overview name the same backup the same way.
    const sidebar = $('#status-summary .detail')?.textContent ?? '';
    expect(sidebar).toMatch(/^Last backup today at \d/);
    expect($('#last-backup')?.textContent?.startsWith(sidebar)).toBe(true);
    expect(backend.dashboard.mock.calls.length).toBeGreaterThan(calls);
  });

  it('an older dashboard answer that arrives late does not bring back the old state', async () => {
    const backend = new FakeBackend();
    signedIn(backend);
    const slow = deferred<ReturnType<typeof dashboardData>>();
    backend.dashboard.mockReturnValueOnce(slow.promise);
    backend.dashboard.mockResolvedValue(dashboardData({ last_backup: snapshot({ time: Date.now() }) }));
    const $ = setup(backend);
    await waitFor(() => expect($('#nav-dashboard')).not.toBeNull());
    backend.emitFinished(report({ finished_at: Date.now() }));
    await waitFor(() => expect($('#backup-status')?.textContent).toMatch(/Your files are backed up/));
    slow.resolve(dashboardData({ folders: [], last_backup: null }));
    await new Promise((r) => setTimeout(r, 0));
    expect($('#backup-status')?.textContent).toMatch(/Your files are backed up/);
    expect($('#folder-list li')).not.toBeNull();
  });

  it('Schedule shows "Versions kept"; applying reloads the Overview', async () => {
    const backend = new FakeBackend();
    signedIn(backend);
    const $ = setup(backend);
    await waitFor(() => expect($('#nav-schedule')).not.toBeNull());
    await fireEvent.click($('#nav-schedule')!);
    await waitFor(() => expect($('#retention-last')).not.toBeNull());
    const calls = backend.dashboard.mock.calls.length;
    await fireEvent.click($('#retention-apply')!);
    await waitFor(() => expect(document.querySelector('#retention-apply-confirm')).not.toBeNull());
    await fireEvent.click(document.querySelector('#retention-apply-confirm')!);
    await waitFor(() => expect($('#retention-outcome')).not.toBeNull());
    await waitFor(() => expect(backend.dashboard.mock.calls.length).toBe(calls + 1));
  });
});
