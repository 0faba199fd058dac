import { describe, expect, it } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import { tick } from 'svelte';
import Restore from '../src/lib/views/Restore.svelte';
import Settings from '../src/lib/views/Settings.svelte';
import { RestoreState } from '../src/lib/state/restore.svelte';
import { Navigation, type SettingsPage } from '../src/lib/state/navigation.svelte';
import { SessionState } from '../src/lib/state/session.svelte';
import { EncryptionState } from '../src/lib/state/encryption.svelte';
import { mailtoDraft, splitEmails } from '../src/lib/state/share.svelte';
import type { AppConnected, ConnectedApp, ShareCreated, ShareInfo } from '../src/lib/ipc';
import { ACCOUNT, APP_TOKEN, DAY, FakeBackend, NOW, SHARE_LINK, connectedApp, deferred, fail, shareInfo } from './fake-backend';

const input = (el: HTMLElement | null, value: string) => fireEvent.input(el!, { target: { value } });

/** Restore with the newest backup's folders open, and the share dialog of Documents. */
async function shareDialog(backend = new FakeBackend()) {
  const restore = new RestoreState(backend);
  await restore.attach();
  const nav = new Navigation();
  nav.go('restore');
  const view = render(Restore, { restore, nav });
  const $ = (s: string) => view.container.querySelector<HTMLElement>(s);
  await restore.load();
  await waitFor(() => expect($('#restore-tree')).not.toBeNull());
  await fireEvent.click($('[data-path="/home/ada/Documents"] .share')!);
  await waitFor(() => expect($('#share-dialog')).not.toBeNull());
  return { backend, restore, $ };
}

async function fillValid($: (s: string) => HTMLElement | null) {
  await input($('#share-recipients'), 'Bob@Example.com, carol@example.com');
}

describe('Sharing from Restore', () => {
  it('offers "Share…" on files and folders, naming what and which backup', async () => {
    const { $ } = await shareDialog();
    expect($('#share-dialog-title')?.textContent).toBe('Share “Documents”');
    expect($('#share-dialog')?.textContent).toContain('/home/ada/Documents');
    expect($('#share-dialog-description')?.textContent).toMatch(/As it was in the backup made (today|yesterday|on) /);
    expect(($('#share-days') as HTMLInputElement).value).toBe('7');
  });

  it('checks the form before anything is shared', async () => {
    const { $, backend } = await shareDialog();
    await fireEvent.click($('#share-submit')!);
    await waitFor(() => expect($('#share-recipients-error')?.textContent).toMatch(/at least one email/));
    await input($('#share-recipients'), 'bob@example.com, nobody');
    await input($('#share-days'), '91');
    await fireEvent.click($('#share-use-password')!);
    await input($('#share-password'), 'short');
    await fireEvent.click($('#share-limit-downloads')!);
    await input($('#share-max-downloads'), '0');
    await fireEvent.click($('#share-submit')!);
    await waitFor(() => expect($('#share-recipients-error')?.textContent).toMatch(/“nobody” does not look like an email/));
    expect($('#share-days-error')?.textContent).toMatch(/1 to 90/);
    expect($('#share-password-error')?.textContent).toMatch(/at least 8/);
    expect($('#share-max-downloads-error')?.textContent).toMatch(/1 to 1000/);
    await input($('#share-recipients'), 'bob@example.com');
    await input($('#share-days'), '3');
    await input($('#share-password'), 'a long password');
    await input($('#share-password-repeat'), 'a long passwort');
    await input($('#share-max-downloads'), '2');
    await fireEvent.click($('#share-submit')!);
    await waitFor(() => expect($('#share-password-repeat-error')?.textContent).toMatch(/not the same/));
    expect(backend.share).not.toHaveBeenCalled();
  });

  it('"Show" types the password once, in the open', async () => {
    const { $, backend } = await shareDialog();
    await fillValid($);
    await fireEvent.click($('#share-use-password')!);
    await fireEvent.click($('#share-show-password')!);
    expect(($('#share-password') as HTMLInputElement).type).toBe('text');
    expect($('#share-password-repeat')).toBeNull();
    await input($('#share-password'), 'a long password');
    await fireEvent.click($('#share-submit')!);
    await waitFor(() => expect(backend.share).toHaveBeenCalled());
    expect(backend.share.mock.calls[0][0].password).toBe('a long password');
  });

  it('shows progress while encrypting and uploading, and cannot be closed meanwhile', async () => {
    const backend = new FakeBackend();
    const pending = deferred<ShareCreated>();
    backend.share.mockReturnValueOnce(pending.promise);
    const { $ } = await shareDialog(backend);
    await fillValid($);
    await fireEvent.click($('#share-submit')!);
    await waitFor(() => expect($('#share-progress')).not.toBeNull());
    expect($('#share-progress')?.textContent).toMatch(/Getting the files from the backup/);
    expect($('#share-dialog .close')).toBeNull();
    expect(($('#share-cancel') as HTMLButtonElement).disabled).toBe(true);
    backend.emit('shareProgress', { files_done: 1, files_total: 3, bytes_done: 1_000_000, bytes_total: 4_000_000 });
    await waitFor(() => expect($('#share-progress')?.textContent).toMatch(/1 of 3 files · 1 MB of 4 MB/));
    expect($('#share-progress')?.textContent).toMatch(/25/);
    pending.resolve({ share: shareInfo(), link: SHARE_LINK });
    await waitFor(() => expect($('#share-link-value')).not.toBeNull());
  });

  it('shows the link once, with Copy and Email it; closing forgets it', async () => {
    const { $, backend } = await shareDialog();
    await fillValid($);
    await input($('#share-days'), '3');
    await fireEvent.click($('#share-limit-downloads')!);
    await input($('#share-max-downloads'), '2');
    await fireEvent.click($('#share-submit')!);
    await waitFor(() => expect($('#share-link-value')?.textContent).toBe(SHARE_LINK));
    expect(backend.share).toHaveBeenCalledWith({
      path: '/home/ada/Documents',
      snapshot_id: 'snap-1',
      recipients: ['bob@example.com', 'carol@example.com'],
      expires_in_days: 3,
      password: null,
      max_downloads: 2,
    });
    expect($('#share-dialog-title')?.textContent).toBe('Send this link');
    expect($('#share-shown')?.textContent).toMatch(/without the key/);
    expect($('#share-link-note')?.textContent).toMatch(/only time Coffer shows this link/);
    expect($('#share-link-copy')?.textContent).toMatch(/Copy link/);
    await fireEvent.click($('#share-link-copy')!);
    expect(backend.copyText).toHaveBeenCalledWith(SHARE_LINK);
    await waitFor(() => expect($('#share-link-copy')?.textContent).toMatch(/Copied/));
    await fireEvent.click($('#share-email')!);
    const url = backend.openMailDraft.mock.calls[0][0];
    expect(url.startsWith('mailto:bob@example.com,carol@example.com?subject=')).toBe(true);
    const body = decodeURIComponent(url.split('&body=')[1]);
    expect(body).toContain(SHARE_LINK);
    expect(decodeURIComponent(url.split('subject=')[1].split('&')[0])).toBe('Files shared with you: Documents');

    await fireEvent.click($('#share-done')!);
    await waitFor(() => expect($('#share-dialog')).toBeNull());
    expect(document.body.textContent).not.toContain(SHARE_LINK);
    await fireEvent.click($('[data-path="/home/ada/Documents"] .share')!);
    await waitFor(() => expect($('#share-form')).not.toBeNull());
    expect($('#share-link-value')).toBeNull();
  });

  it('says when the mail app cannot be opened', async () => {
    const backend = new FakeBackend();
    backend.openMailDraft.mockRejectedValueOnce(fail('io', 'No mail app is set up.'));
    const { $ } = await shareDialog(backend);
    await fillValid($);
    await fireEvent.click($('#share-submit')!);
    await waitFor(() => expect($('#share-email')).not.toBeNull());
    await fireEvent.click($('#share-email')!);
    await waitFor(() => expect($('#share-shown')?.textContent).toMatch(/No mail app is set up\. Copy the link and send it yourself instead\./));
  });

  it('puts the agent’s refusals next to their field, other errors in a banner, and keeps the form', async () => {
    const backend = new FakeBackend();
    backend.share.mockRejectedValueOnce(fail('invalid_input', 'to: “bob@x” does not look like name@example.com'));
    backend.share.mockRejectedValueOnce(fail('quota_exceeded', 'Your storage is full.'));
    const { $ } = await shareDialog(backend);
    await fillValid($);
    await fireEvent.click($('#share-submit')!);
    await waitFor(() => expect($('#share-recipients-error')?.textContent).toMatch(/“bob@x” does not look like/));
    await fireEvent.click($('#share-submit')!);
    await waitFor(() => expect($('#share-error')?.textContent).toMatch(/Nothing was shared.*Your storage is full/s));
    expect(($('#share-recipients') as HTMLInputElement).value).toBe('Bob@Example.com, carol@example.com');
    expect($('#share-link-value')).toBeNull();
  });
});

describe('share links by mail', () => {
  it('splits typed addresses and drafts a mail with the full link', () => {
    expect(splitEmails(' a@x.org,b@y.org;\nc@z.org  ')).toEqual(['a@x.org', 'b@y.org', 'c@z.org']);
    const url = mailtoDraft(['a@x.org'], 'Taxes', SHARE_LINK, NOW + DAY, true);
    expect(url.startsWith('mailto:a@x.org?subject=Files%20shared%20with%20you%3A%20Taxes&body=')).toBe(true);
    const body = decodeURIComponent(url.split('&body=')[1]);
    expect(body).toContain(`\n${SHARE_LINK}\n`);
    expect(body).toMatch(/password, which I will give you separately/);
  });
});

async function settings(page: SettingsPage, backend = new FakeBackend()) {
  const nav = new Navigation();
  nav.settings(page);
  const session = new SessionState(backend);
  session.account = ACCOUNT;
  session.phase = 'signed_in';
  const encryption = new EncryptionState(backend);
  await encryption.attach();
  render(Settings, { backend, nav, session, encryption });
  const $ = (s: string) => document.querySelector<HTMLElement>(s);
  const $$ = (s: string) => [...document.querySelectorAll<HTMLElement>(s)];
  return { backend, $, $$ };
}

describe('Settings → Sharing', () => {
  it('has its tab, says it is loading, and when nothing is shared', async () => {
    const backend = new FakeBackend();
    const pending = deferred<ShareInfo[]>();
    backend.shares.mockReturnValueOnce(pending.promise);
    const { $ } = await settings('sharing', backend);
    expect($('#settings-tab-sharing')?.getAttribute('aria-current')).toBe('page');
    await tick();
    expect(document.body.textContent).toMatch(/Loading your shares/);
    pending.resolve([]);
    await waitFor(() => expect(document.body.textContent).toMatch(/You have not shared anything/));
  });

  it('shows an error with a retry', async () => {
    const backend = new FakeBackend();
    backend.shares.mockRejectedValueOnce(fail('network', 'Offline.'));
    backend.shares.mockResolvedValueOnce([shareInfo()]);
    const { $ } = await settings('sharing', backend);
    await waitFor(() => expect($('#shares-error')?.textContent).toMatch(/Could not list your shares.*Offline/s));
    await fireEvent.click($('#shares-error button')!);
    await waitFor(() => expect($('#share-list')).not.toBeNull());
  });

  it('lists every share with its state, recipients, downloads and expiry', async () => {
    const backend = new FakeBackend();
    backend.shares.mockResolvedValueOnce([
      shareInfo({ id: 'a'.repeat(32), recipients: ['bob@example.com', 'carol@example.com', 'dan@example.com'], downloads: 1, max_downloads: 5, password: true }),
      shareInfo({ id: 'b'.repeat(32), state: 'expired', expires_at: NOW - DAY, downloads: 4 }),
      shareInfo({ id: 'c'.repeat(32), state: 'exhausted', max_downloads: 2, downloads: 2 }),
      shareInfo({ id: 'd'.repeat(32), state: 'revoked', recipients: [], removed: true, bytes: 0 }),
    ]);
    const { $$ } = await settings('sharing', backend);
    await waitFor(() => expect($$('#share-list li')).toHaveLength(4));
    const [active, expired, exhausted, revoked] = $$('#share-list li');
    expect(active.textContent).toMatch(/bob@example\.com and 2 others\s*Active/);
    expect(active.textContent).toMatch(/needs a password/);
    expect(active.textContent).toMatch(/3 recipients ·\s+1 of 5 downloads · works until/);
    expect(active.querySelector('.revoke')).not.toBeNull();
    expect(expired.textContent).toMatch(/Expired/);
    expect(expired.textContent).toMatch(/4 downloads · expired/);
    expect(expired.querySelector('.revoke')).toBeNull();
    expect(exhausted.textContent).toMatch(/Used up/);
    expect(exhausted.textContent).toMatch(/2 of 2 downloads/);
    expect(revoked.textContent).toMatch(/Recipients forgotten\s*Revoked/);
    expect(revoked.textContent).toMatch(/0 downloads · stopped/);
    expect(revoked.textContent).toMatch(/copy deleted/);
    expect(revoked.textContent).not.toMatch(/recipients? ·/);
  });

  it('revokes a share after a confirm, and says when that failed', async () => {
    const backend = new FakeBackend();
    const share = shareInfo();
    backend.shares.mockResolvedValueOnce([share]);
    backend.revokeShare.mockRejectedValueOnce(fail('network', 'Offline.'));
    backend.revokeShare.mockResolvedValueOnce([{ ...share, state: 'revoked', recipients: [], removed: true }]);
    const { $ } = await settings('sharing', backend);
    await waitFor(() => expect($('#share-list .revoke')).not.toBeNull());
    await fireEvent.click($('#share-list .revoke')!);
    expect($('#revoke-share-dialog')?.textContent).toMatch(/link stops working at once/);
    expect(backend.revokeShare).not.toHaveBeenCalled();
    await fireEvent.click($('#revoke-share-confirm')!);
    await waitFor(() => expect($('#revoke-share-dialog')?.textContent).toMatch(/Offline\. The link still works/));
    await fireEvent.click($('#revoke-share-confirm')!);
    await waitFor(() => expect($('#revoke-share-dialog')).toBeNull());
    expect(backend.revokeShare).toHaveBeenLastCalledWith(share.id);
    expect($('#share-list li')?.dataset.state).toBe('revoked');
    expect($('#share-list .revoke')).toBeNull();
  });
});

describe('Settings → Connected apps', () => {
  it('says it is loading, then that no app is connected', async () => {
    const backend = new FakeBackend();
    const pending = deferred<ConnectedApp[]>();
    backend.connectedApps.mockReturnValueOnce(pending.promise);
    const { $ } = await settings('apps', backend);
    expect($('#settings-tab-apps')?.getAttribute('aria-current')).toBe('page');
    await tick();
    expect(document.body.textContent).toMatch(/Loading your connected apps/);
    pending.resolve([]);
    await waitFor(() => expect(document.body.textContent).toMatch(/No connected apps/));
  });

  it('shows an error with a retry', async () => {
    const backend = new FakeBackend();
    backend.connectedApps.mockRejectedValueOnce(fail('server', 'The service failed.'));
    backend.connectedApps.mockResolvedValueOnce([connectedApp()]);
    const { $ } = await settings('apps', backend);
    await waitFor(() => expect($('#apps-error')?.textContent).toMatch(/The service failed/));
    await fireEvent.click($('#apps-error button')!);
    await waitFor(() => expect($('#app-list')).not.toBeNull());
  });

  it('lists apps with their scopes, expiry and last use', async () => {
    const backend = new FakeBackend();
    backend.connectedApps.mockResolvedValueOnce([
      connectedApp({ scopes: ['restore', 'account_read'] }),
      connectedApp({ id: 'b2', name: 'Old script', scopes: ['backup'], expired: true, expires_at: NOW - DAY, last_used_at: null, last_used_ip: null, uses: 0 }),
    ]);
    const { $$ } = await settings('apps', backend);
    await waitFor(() => expect($$('#app-list li')).toHaveLength(2));
    const [frame, old] = $$('#app-list li');
    expect(frame.textContent).toMatch(/Photo frame\s*Restore\s*Read account/);
    expect(frame.querySelector('.last-use')?.textContent).toMatch(/last used .* from 192\.0\.2\.44 · 318 requests/);
    expect(old.textContent).toMatch(/Old script\s*Back up\s*Expired/);
    expect(old.querySelector('.last-use')?.textContent).toBe('never used');
  });

  it('checks the form, shows Connect busy, then the token once with Copy and a warning', async () => {
    const backend = new FakeBackend();
    const pending = deferred<AppConnected>();
    backend.connectApp.mockReturnValueOnce(pending.promise);
    const { $, $$ } = await settings('apps', backend);
    await waitFor(() => expect($('#app-create')).not.toBeNull());
    await fireEvent.click($('#app-create')!);
    expect($('#app-form')?.textContent).toMatch(/It can neither read nor delete what is stored/);
    await fireEvent.click($('#app-submit')!);
    await waitFor(() => expect($('#app-name-error')?.textContent).toMatch(/a name you will recognise/));
    expect($('#app-scopes-error')?.textContent).toMatch(/at least one/);
    expect(backend.connectApp).not.toHaveBeenCalled();
    await input($('#app-name'), '  Photo frame ');
    await fireEvent.click($('#app-scope-account_read')!);
    await fireEvent.click($('#app-scope-restore')!);
    await fireEvent.change($('#app-expiry')!, { target: { value: '90' } });
    await fireEvent.click($('#app-submit')!);
    await waitFor(() => expect($('#app-submit')?.getAttribute('aria-busy')).toBe('true'));
    expect(backend.connectApp).toHaveBeenCalledWith({ name: 'Photo frame', scopes: ['restore', 'account_read'], expires_in_days: 90 });
    pending.resolve({ app: connectedApp({ id: 'new', last_used_at: null, last_used_ip: null, uses: 0 }), token: APP_TOKEN });
    await waitFor(() => expect($('#app-token-value')?.textContent).toBe(APP_TOKEN));
    expect($('#app-token-note')?.textContent).toMatch(/you won’t see it again/);
    expect($('#app-form')).toBeNull();
    expect($$('#app-list li')).toHaveLength(1);
    await fireEvent.click($('#app-token-copy')!);
    expect(backend.copyText).toHaveBeenCalledWith(APP_TOKEN);
    await waitFor(() => expect($('#app-token-copy')?.textContent).toMatch(/Copied/));
    await fireEvent.click($('#app-token-done')!);
    await waitFor(() => expect($('#app-token')).toBeNull());
    expect(document.body.textContent).not.toContain(APP_TOKEN);
  });

  it('says when the app was not connected', async () => {
    const backend = new FakeBackend();
    backend.connectApp.mockRejectedValueOnce(fail('network', 'Offline.'));
    const { $ } = await settings('apps', backend);
    await waitFor(() => expect($('#app-create')).not.toBeNull());
    await fireEvent.click($('#app-create')!);
    await input($('#app-name'), 'Script');
    await fireEvent.click($('#app-scope-backup')!);
    await fireEvent.click($('#app-submit')!);
    await waitFor(() => expect($('#app-create-error')?.textContent).toMatch(/not connected.*Offline/s));
    expect($('#app-token')).toBeNull();
  });

  it('revokes an app after a confirm', async () => {
    const backend = new FakeBackend();
    backend.connectedApps.mockResolvedValueOnce([connectedApp()]);
    const { $, $$ } = await settings('apps', backend);
    await waitFor(() => expect($('#app-list .revoke')).not.toBeNull());
    await fireEvent.click($('#app-list .revoke')!);
    expect($('#revoke-app-dialog-title')?.textContent).toBe('Revoke “Photo frame”?');
    await fireEvent.click($('#revoke-app-confirm')!);
    await waitFor(() => expect($('#revoke-app-dialog')).toBeNull());
    expect(backend.revokeApp).toHaveBeenCalledWith('a1b2c3d4');
    expect($$('#app-list li')).toHaveLength(0);
    expect(document.body.textContent).toMatch(/No connected apps/);
  });
});
