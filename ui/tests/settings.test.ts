import { beforeEach, describe, expect, it } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import { tick } from 'svelte';
import Settings from '../src/lib/views/Settings.svelte';
import { Navigation, type SettingsPage } from '../src/lib/state/navigation.svelte';
import { SessionState } from '../src/lib/state/session.svelte';
import { EncryptionState } from '../src/lib/state/encryption.svelte';
import { ACCOUNT, FakeBackend, NOW, PROFILE, POLICY, RECOVERY_CODE, deferred, fail, keyStatus, sessionRecord } from './fake-backend';
import type { Profile } from '../src/lib/ipc';
import { encode } from 'uqr';

async function setup(page: SettingsPage, backend = new FakeBackend()) {
  const nav = new Navigation();
  nav.settings(page);
  const session = new SessionState(backend);
  session.account = ACCOUNT;
  session.phase = 'signed_in';
  const encryption = new EncryptionState(backend);
  await encryption.attach();
  const view = render(Settings, { backend, nav, session, encryption });
  const $ = (selector: string) => document.querySelector<HTMLElement>(selector);
  const $$ = (selector: string) => [...document.querySelectorAll<HTMLElement>(selector)];
  return { backend, nav, session, encryption, view, $, $$ };
}

describe('Settings navigation', () => {
  it('has a tab per page and marks the current one', async () => {
    const { $, nav } = await setup('account');
    for (const id of ['account', 'communication', 'encryption', 'devices', 'sharing', 'apps', 'privacy', 'general']) expect($(`#settings-tab-${id}`)).not.toBeNull();
    expect($('#settings-tab-account')?.getAttribute('aria-current')).toBe('page');
    await fireEvent.click($('#settings-tab-privacy')!);
    expect(nav.settingsPage).toBe('privacy');
    expect($('#settings-tab-privacy')?.getAttribute('aria-current')).toBe('page');
  });
});

describe('Settings → Account', () => {
  it('loads the profile; loading and error states', async () => {
    const backend = new FakeBackend();
    const pending = deferred<Profile>();
    backend.profile.mockReturnValueOnce(pending.promise);
    const { $ } = await setup('account', backend);
    await tick();
    expect(document.body.textContent).toMatch(/Loading your profile/);
    pending.reject(fail('network', 'Offline.'));
    await waitFor(() => expect($('#error-banner')?.textContent).toMatch(/Offline/));
    await fireEvent.click($('#error-banner button')!);
    await waitFor(() => expect(($('#profile-first') as HTMLInputElement).value).toBe('Ada'));
    expect($('#profile-form')?.textContent).toMatch(/Confirmed/);
  });

  it('the email state has a stable hook: confirmed, unconfirmed, pending', async () => {
    const backend = new FakeBackend();
    backend.profile.mockResolvedValueOnce({ ...PROFILE, email_verified: false });
    const { $ } = await setup('account', backend);
    await waitFor(() => expect($('#profile-email-state')?.dataset.state).toBe('unconfirmed'));
    expect($('#profile-email-state')?.textContent).toMatch(/Not confirmed/);
    await fireEvent.input($('#profile-email')!, { target: { value: 'ada@new.example' } });
    await fireEvent.click($('#profile-save')!);
    await waitFor(() => expect($('#profile-email-state')?.dataset.state).toBe('pending'));
    expect($('#profile-email-state')?.textContent).toMatch(/Waiting for confirmation/);
  });

  it('a saved name, or an email confirmed meanwhile, reaches the signed-in account (the sidebar)', async () => {
    const backend = new FakeBackend();
    backend.profile.mockResolvedValueOnce({ ...PROFILE, email: 'ada@confirmed.example' });
    const { $, session } = await setup('account', backend);
    await waitFor(() => expect(session.account?.email).toBe('ada@confirmed.example'));
    expect($('#profile-email-state')?.dataset.state).toBe('confirmed');
    await fireEvent.input($('#profile-last')!, { target: { value: 'King' } });
    await fireEvent.click($('#profile-save')!);
    await waitFor(() => expect(session.account?.last_name).toBe('King'));
    expect(session.displayName).toBe('Ada King');
  });

  it('sends only what changed, including a new postal address', async () => {
    const { $, backend } = await setup('account');
    await waitFor(() => expect($('#profile-first')).not.toBeNull());
    await fireEvent.click($('#profile-save')!);
    expect(document.body.textContent).toMatch(/Nothing to save/);
    await fireEvent.input($('#profile-last')!, { target: { value: 'King' } });
    await fireEvent.input($('#profile-line1')!, { target: { value: ' 12 St James’s Square ' } });
    await fireEvent.input($('#profile-city')!, { target: { value: 'London' } });
    await fireEvent.click($('#profile-save')!);
    await waitFor(() => expect(backend.updateProfile).toHaveBeenCalled());
    expect(backend.updateProfile).toHaveBeenCalledWith({
      first_name: null,
      last_name: 'King',
      email: null,
      postal_address: { line1: '12 St James’s Square', line2: '', city: 'London', region: '', postal_code: '', country: '' },
    });
    await waitFor(() => expect($('#profile-saved')?.textContent).toBe('Saved.'));
  });

  it('a new email waits for its link; a taken one is refused by the field', async () => {
    const backend = new FakeBackend();
    const { $ } = await setup('account', backend);
    await waitFor(() => expect($('#profile-email')).not.toBeNull());
    await fireEvent.input($('#profile-email')!, { target: { value: 'nope' } });
    await fireEvent.click($('#profile-save')!);
    expect($('#profile-email-error')?.textContent).toMatch(/name@example\.com/);
    backend.updateProfile.mockRejectedValueOnce(fail('email_taken'));
    await fireEvent.input($('#profile-email')!, { target: { value: 'grace@example.com' } });
    await fireEvent.click($('#profile-save')!);
    await waitFor(() => expect($('#profile-email-error')?.textContent).toMatch(/Another account/));
    await fireEvent.click($('#profile-save')!);
    await waitFor(() => expect($('#profile-saved')?.textContent).toMatch(/We sent a link to grace@example\.com/));
    expect(document.body.textContent).toMatch(/Waiting for confirmation/);
  });

  it('removes a saved address', async () => {
    const backend = new FakeBackend();
    backend.profile.mockResolvedValue({ ...PROFILE, postal_address: { line1: 'a', line2: '', city: 'b', region: '', postal_code: '1', country: 'UK' } });
    const { $ } = await setup('account', backend);
    await waitFor(() => expect($('#profile-remove-address')).not.toBeNull());
    await fireEvent.click($('#profile-remove-address')!);
    await fireEvent.click($('#profile-save')!);
    await waitFor(() => expect(backend.updateProfile).toHaveBeenCalled());
    expect(backend.updateProfile.mock.calls[0][0].postal_address).toEqual({ line1: '', line2: '', city: '', region: '', postal_code: '', country: '' });
  });

  it('changes the password: checks, wrong current password, success', async () => {
    const backend = new FakeBackend();
    const { $ } = await setup('account', backend);
    await fireEvent.click($('#password-submit')!);
    expect($('#password-current-error')).not.toBeNull();
    expect($('#password-new-error')?.textContent).toMatch(/at least 8/);
    await fireEvent.input($('#password-current')!, { target: { value: 'old password!' } });
    await fireEvent.input($('#password-new')!, { target: { value: 'a new long password' } });
    await fireEvent.input($('#password-repeat')!, { target: { value: 'a new long passwort' } });
    await fireEvent.click($('#password-submit')!);
    expect($('#password-repeat-error')?.textContent).toMatch(/not the same/);
    await fireEvent.input($('#password-repeat')!, { target: { value: 'a new long password' } });
    backend.changePassword.mockRejectedValueOnce(fail('invalid_credentials'));
    await fireEvent.click($('#password-submit')!);
    await waitFor(() => expect($('#password-current-error')?.textContent).toMatch(/not your current password/));
    await fireEvent.input($('#password-current')!, { target: { value: 'old password!' } });
    await fireEvent.input($('#password-new')!, { target: { value: 'a new long password' } });
    await fireEvent.input($('#password-repeat')!, { target: { value: 'a new long password' } });
    await fireEvent.click($('#password-submit')!);
    await waitFor(() => expect($('#password-changed')?.textContent).toMatch(/Other devices must sign in again/));
    expect(backend.changePassword).toHaveBeenLastCalledWith({ current_password: 'old password!', new_password: 'a new long password' });
  });
});

describe('Settings → Communication', () => {
  it('shows five categories: alerts on, the rest off; a toggle saves at once', async () => {
    const { $, backend } = await setup('communication');
    await waitFor(() => expect($('#pref-operational-alerts')).not.toBeNull());
    expect(($('#pref-operational-alerts') as HTMLInputElement).checked).toBe(true);
    for (const id of ['product-announcements', 'software-updates', 'surveys-research', 'newsletter'])
      expect(($(`#pref-${id}`) as HTMLInputElement).checked).toBe(false);
    expect($('#pref-newsletter')?.getAttribute('role')).toBe('switch');
    await fireEvent.click($('#pref-newsletter')!);
    await waitFor(() => expect(backend.setPreferences).toHaveBeenCalled());
    expect(backend.setPreferences.mock.calls[0][0]).toMatchObject({ newsletter: true, operational_alerts: true, software_updates: false });
    expect(document.body.textContent).toMatch(/privacy policy are always emailed/);
  });

  it('puts a toggle back when saving fails', async () => {
    const backend = new FakeBackend();
    backend.setPreferences.mockRejectedValueOnce(fail('network', 'Offline.'));
    const { $ } = await setup('communication', backend);
    await waitFor(() => expect($('#pref-newsletter')).not.toBeNull());
    await fireEvent.click($('#pref-newsletter')!);
    await waitFor(() => expect(document.body.textContent).toMatch(/Offline\. Your choice was not saved/));
    expect(($('#pref-newsletter') as HTMLInputElement).checked).toBe(false);
  });

  it('shows a load error', async () => {
    const backend = new FakeBackend();
    backend.preferences.mockRejectedValueOnce(fail('server', 'Down.'));
    const { $ } = await setup('communication', backend);
    await waitFor(() => expect($('#error-banner')?.textContent).toMatch(/Down/));
  });
});

describe('Settings → Encryption', () => {
  beforeEach(() => localStorage.clear());

  it('default key: the mode, when it changed, and a switch to private with a new recovery code and progress', async () => {
    const { $, backend, encryption } = await setup('encryption');
    await waitFor(() => expect($('#key-mode')?.dataset.mode).toBe('default'));
    expect($('#key-changed-at')?.textContent).toMatch(/Not changed since you signed up/);
    expect($('#key-lock')).toBeNull();
    await fireEvent.click($('#key-switch')!);
    expect($('#key-dialog')).not.toBeNull();
    await fireEvent.click($('#key-submit')!);
    await waitFor(() => expect($('#key-new-error')?.textContent).toMatch(/Choose your encryption key/));
    expect($('#key-password-error')?.textContent).toMatch(/account password/);
    expect($('#key-confirm-error')).not.toBeNull();
    await fireEvent.input($('#key-new')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#key-repeat')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#key-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#key-confirm')!);
    await fireEvent.click($('#key-submit')!);
    await waitFor(() => expect($('#recovery-dialog')).not.toBeNull());
    expect(backend.switchKeyMode).toHaveBeenCalledWith('private', 'purple elephant quietly dances', 'pw');
    expect($('#recovery-code')?.textContent?.replace(/\s/g, '')).toBe(RECOVERY_CODE);
    // Escape does not throw away an unsaved code.
    await fireEvent.keyDown($('#recovery-dialog')!, { key: 'Escape' });
    expect($('#recovery-dialog')).not.toBeNull();
    await fireEvent.click($('#recovery-saved')!);
    await fireEvent.click($('#recovery-continue')!);
    expect($('#recovery-dialog')).toBeNull();
    expect($('#key-progress')).not.toBeNull();
    backend.emit('keyProgress', { stage: 'Uploading your backups again', done: 30, total: 120 });
    await tick();
    expect($('#key-progress')?.textContent).toMatch(/Uploading your backups again….*30 of 120 · 25%/s);
    backend.emit('keyFinished', keyStatus({ mode: 'private', changed_at: NOW }));
    await tick();
    expect($('#key-progress')).toBeNull();
    expect($('#key-mode')?.dataset.mode).toBe('private');
    expect(encryption.switchDone).toBe(true);
  });

  it('with two-factor sign-in, a switch asks “Confirm it’s you” (the old copies are deleted) and then goes on', async () => {
    const backend = new FakeBackend();
    backend.profile.mockResolvedValue({ ...PROFILE, totp_enabled: true });
    backend.switchKeyMode.mockRejectedValueOnce(fail('confirmation_required', 'deleting backups needs your two-factor code too'));
    const { $ } = await setup('encryption', backend);
    await waitFor(() => expect($('#key-switch')).not.toBeNull());
    await fireEvent.click($('#key-switch')!);
    await fireEvent.input($('#key-new')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#key-repeat')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#key-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#key-confirm')!);
    await fireEvent.click($('#key-submit')!);
    await waitFor(() => expect($('#confirm-identity')).not.toBeNull());
    expect($('#key-dialog')).toBeNull();
    await waitFor(() => expect($('#confirm-code')).not.toBeNull());
    await fireEvent.input($('#confirm-password')!, { target: { value: 'pw' } });
    await fireEvent.input($('#confirm-code')!, { target: { value: '123456' } });
    await fireEvent.click($('#confirm-identity-submit')!);
    await waitFor(() => expect($('#recovery-dialog')).not.toBeNull());
    expect(backend.confirmIdentity).toHaveBeenCalledWith('pw', '123456');
    expect(backend.switchKeyMode).toHaveBeenCalledTimes(2);
    expect(backend.switchKeyMode).toHaveBeenLastCalledWith('private', 'purple elephant quietly dances', 'pw');
  });

  it('a switch that stops while running says how to finish it', async () => {
    const backend = new FakeBackend();
    const { $ } = await setup('encryption', backend);
    await waitFor(() => expect($('#key-switch')).not.toBeNull());
    await fireEvent.click($('#key-switch')!);
    await fireEvent.input($('#key-new')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#key-repeat')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#key-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#key-confirm')!);
    await fireEvent.click($('#key-submit')!);
    await waitFor(() => expect($('#recovery-dialog')).not.toBeNull());
    await fireEvent.click($('#recovery-saved')!);
    await fireEvent.click($('#recovery-continue')!);
    expect($('#key-progress')).not.toBeNull();
    backend.keyStatus.mockResolvedValue(keyStatus({ switch_in_progress: true }));
    backend.emit('keyFailed', { type: 'network', message: 'Connection lost.' });
    await waitFor(() => expect($('#key-switch-interrupted')).not.toBeNull());
    expect($('#key-progress')).toBeNull();
    expect($('#key-switch-failed')?.textContent).toMatch(/The key switch stopped.*Connection lost\..*enter your new key and your password below to finish it/s);
  });

  it('an interrupted switch: the notice, then finish → progress → done (the saved kit is not shown again)', async () => {
    const backend = new FakeBackend();
    backend.keyStatus.mockResolvedValue(keyStatus({ switch_in_progress: true }));
    const { $, encryption } = await setup('encryption', backend);
    await waitFor(() => expect($('#key-switch-interrupted')).not.toBeNull());
    expect($('#key-switch-interrupted')?.textContent).toMatch(
      /A switch to your private key was interrupted\. Enter your new key and your password to finish it\./,
    );
    expect($('#key-progress')).toBeNull();
    expect(($('#key-switch') as HTMLButtonElement).disabled).toBe(true);
    expect($('#key-switch-reason')?.textContent).toMatch(/Finish the interrupted switch/);
    // Nothing typed: each field says what it needs.
    await fireEvent.click($('#key-finish')!);
    await waitFor(() => expect($('#key-finish-key-error')?.textContent).toMatch(/new key you chose/));
    expect($('#key-finish-password-error')?.textContent).toMatch(/account password/);
    expect(backend.switchKeyMode).not.toHaveBeenCalled();

    encryption.markKitSaved(ACCOUNT.account_id);
    await fireEvent.input($('#key-finish-key')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#key-finish-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#key-finish')!);
    await waitFor(() => expect(backend.switchKeyMode).toHaveBeenCalledWith('private', 'purple elephant quietly dances', 'pw'));
    await waitFor(() => expect($('#key-progress')).not.toBeNull());
    expect($('#recovery-dialog')).toBeNull();
    expect($('#key-switch-interrupted')).toBeNull();
    backend.emit('keyProgress', { stage: 'Uploading your backups again', done: 90, total: 120 });
    await tick();
    expect($('#key-progress')?.textContent).toMatch(/Uploading your backups again….*90 of 120 · 75%/s);
    backend.emit('keyFinished', keyStatus({ mode: 'private', changed_at: NOW }));
    await tick();
    expect($('#key-progress')).toBeNull();
    expect($('#key-switch-interrupted')).toBeNull();
    expect($('#key-mode')?.dataset.mode).toBe('private');
    expect($('#key-switch-done')?.textContent).toMatch(/The switch is finished/);
    expect(encryption.kitSaved(ACCOUNT.account_id)).toBe(false);
  });

  it('finishing an interrupted switch shows the recovery kit again when it was not saved', async () => {
    const backend = new FakeBackend();
    backend.keyStatus.mockResolvedValue(keyStatus({ switch_in_progress: true }));
    const { $, encryption } = await setup('encryption', backend);
    await waitFor(() => expect($('#key-finish')).not.toBeNull());
    expect(encryption.kitSaved(ACCOUNT.account_id)).toBe(false);
    await fireEvent.input($('#key-finish-key')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#key-finish-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#key-finish')!);
    await waitFor(() => expect($('#key-progress')).not.toBeNull());
    // Shown when the run is done: the resumed run is what checks the password.
    expect($('#recovery-dialog')).toBeNull();
    backend.emit('keyFinished', keyStatus({ mode: 'private', changed_at: NOW }));
    await tick();
    expect($('#recovery-dialog')).not.toBeNull();
    expect($('#recovery-code')?.textContent?.replace(/\s/g, '')).toBe(RECOVERY_CODE);
    expect($('#key-switch-done')).not.toBeNull();
    await fireEvent.click($('#recovery-saved')!);
    await fireEvent.click($('#recovery-continue')!);
    expect($('#recovery-dialog')).toBeNull();
    expect(encryption.kitSaved(ACCOUNT.account_id)).toBe(false);
  });

  it('finishing: a wrong password, a wrong key and a refused key are shown under their field', async () => {
    const backend = new FakeBackend();
    backend.keyStatus.mockResolvedValue(keyStatus({ switch_in_progress: true }));
    const { $ } = await setup('encryption', backend);
    await waitFor(() => expect($('#key-finish')).not.toBeNull());
    const attempt = async (key: string, password: string) => {
      await fireEvent.input($('#key-finish-key')!, { target: { value: key } });
      await fireEvent.input($('#key-finish-password')!, { target: { value: password } });
      await fireEvent.click($('#key-finish')!);
    };

    // Refused at once.
    backend.switchKeyMode.mockRejectedValueOnce(fail('invalid_credentials', 'The account password is not right.'));
    await attempt('purple elephant quietly dances', 'not it');
    await waitFor(() => expect($('#key-finish-password-error')?.textContent).toMatch(/not your account password/));
    expect($('#key-finish-key-error')).toBeNull();

    backend.switchKeyMode.mockRejectedValueOnce(fail('wrong_key', 'a switch to another private key is in progress on this device: type that key to finish it'));
    await attempt('another key entirely here', 'pw');
    await waitFor(() => expect($('#key-finish-key-error')?.textContent).toMatch(/not the new key you chose/));
    expect($('#key-finish-password-error')).toBeNull();

    backend.switchKeyMode.mockRejectedValueOnce(fail('invalid_input', 'private_key: add another word or two'));
    await attempt('short', 'pw');
    await waitFor(() => expect($('#key-finish-key-error')?.textContent).toMatch(/^\s*Add another word or two\./));

    // The key opens the switch, the password is checked by the background run.
    await attempt('purple elephant quietly dances', 'not it either');
    await waitFor(() => expect($('#key-progress')).not.toBeNull());
    backend.emit('keyFailed', { type: 'invalid_credentials', message: 'wrong password' });
    await waitFor(() => expect($('#key-finish-password-error')?.textContent).toMatch(/not your account password/));
    expect($('#key-progress')).toBeNull();
    expect($('#key-switch-failed')).toBeNull();
    expect($('#recovery-dialog')).toBeNull();
    expect(($('#key-finish-key') as HTMLInputElement).value).toBe('');

    // Right this time.
    await attempt('purple elephant quietly dances', 'pw');
    await waitFor(() => expect($('#key-progress')).not.toBeNull());
    expect($('#key-finish-password-error')).toBeNull();
    expect(backend.switchKeyMode).toHaveBeenLastCalledWith('private', 'purple elephant quietly dances', 'pw');
  });

  it('private key: change it (password and current key checked), lock now', async () => {
    const backend = new FakeBackend();
    backend.keyStatus.mockResolvedValue(keyStatus({ mode: 'private', changed_at: NOW - 86_400_000 }));
    const { $, session } = await setup('encryption', backend);
    await waitFor(() => expect($('#key-change')).not.toBeNull());
    expect($('#key-changed-at')?.textContent).toMatch(/Last changed Yesterday/);
    await fireEvent.click($('#key-change')!);
    await fireEvent.input($('#key-current')!, { target: { value: 'old key words here' } });
    await fireEvent.input($('#key-new')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#key-repeat')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#key-password')!, { target: { value: 'pw' } });
    backend.changeKey.mockRejectedValueOnce(fail('invalid_credentials', 'The current key is not right.'));
    await fireEvent.click($('#key-submit')!);
    await waitFor(() => expect($('#key-current-error')?.textContent).toMatch(/not your current key/));
    await fireEvent.input($('#key-current')!, { target: { value: 'old key words here' } });
    await fireEvent.input($('#key-new')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#key-repeat')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#key-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#key-submit')!);
    await waitFor(() => expect($('#key-dialog')).toBeNull());
    expect(backend.changeKey).toHaveBeenLastCalledWith('old key words here', 'purple elephant quietly dances', 'pw');
    expect(document.body.textContent).toMatch(/Your encryption key was changed/);
    await fireEvent.click($('#key-lock')!);
    await waitFor(() => expect(session.phase).toBe('locked'));
  });

  it('switching to default needs the current key, the password and a confirmation', async () => {
    const backend = new FakeBackend();
    backend.keyStatus.mockResolvedValue(keyStatus({ mode: 'private' }));
    const { $ } = await setup('encryption', backend);
    await waitFor(() => expect($('#key-switch')).not.toBeNull());
    await fireEvent.click($('#key-switch')!);
    expect($('#key-dialog')?.textContent).toMatch(/could open your files/);
    expect($('#key-new')).toBeNull();
    await fireEvent.input($('#key-current')!, { target: { value: 'my key' } });
    await fireEvent.input($('#key-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#key-confirm')!);
    await fireEvent.click($('#key-submit')!);
    await waitFor(() => expect(backend.switchKeyMode).toHaveBeenCalledWith('default', 'my key', 'pw'));
  });

  it('Escape closes the key dialog', async () => {
    const { $ } = await setup('encryption');
    await waitFor(() => expect($('#key-switch')).not.toBeNull());
    await fireEvent.click($('#key-switch')!);
    await fireEvent.keyDown($('#key-dialog')!, { key: 'Escape' });
    expect($('#key-dialog')).toBeNull();
  });
});

describe('Settings → Devices & sessions', () => {
  it('lists active sessions and devices; signs one session out', async () => {
    const { $, $$, backend } = await setup('devices');
    await waitFor(() => expect($$('#session-list li')).toHaveLength(2));
    expect($('#session-list li[data-session="sess-1"]')?.textContent).toMatch(/This device/);
    expect($('#session-list li[data-session="sess-1"] button')).toBeNull();
    await waitFor(() => expect($('#device-list li')?.textContent).toMatch(/ada-laptop.*This computer.*2 backups/s));
    await fireEvent.click($('#session-list li[data-session="sess-2"] button')!);
    await waitFor(() => expect(backend.revokeSession).toHaveBeenCalledWith('sess-2'));
    await waitFor(() => expect($$('#session-list li')).toHaveLength(1));
  });

  it('lists this device first, and gives every other session a revoke button to find', async () => {
    const backend = new FakeBackend();
    backend.listSessions.mockResolvedValueOnce([
      sessionRecord({ id: 'sess-2', device_name: 'ada-desktop', current: false }),
      sessionRecord({ id: 'sess-3', device_name: 'ada-phone', current: false }),
      sessionRecord(),
    ]);
    const { $$ } = await setup('devices', backend);
    await waitFor(() => expect($$('#session-list li')).toHaveLength(3));
    expect($$('#session-list li').map((li) => li.dataset.session)).toEqual(['sess-1', 'sess-2', 'sess-3']);
    expect($$('#session-list button[data-action="revoke"]').map((b) => b.closest('li')?.dataset.session)).toEqual(['sess-2', 'sess-3']);
  });

  it('says when a revoke failed', async () => {
    const backend = new FakeBackend();
    backend.revokeSession.mockRejectedValueOnce(fail('network', 'Offline.'));
    const { $ } = await setup('devices', backend);
    await waitFor(() => expect($('#session-list li[data-session="sess-2"] button')).not.toBeNull());
    await fireEvent.click($('#session-list li[data-session="sess-2"] button')!);
    await waitFor(() => expect(document.body.textContent).toMatch(/Offline\. The session is still active/));
  });

  it('signs out everywhere after a confirmation', async () => {
    const { $, backend, session } = await setup('devices');
    await fireEvent.click($('#sign-out-everywhere')!);
    expect($('#sign-out-everywhere-dialog')?.textContent).toMatch(/this one too/);
    await fireEvent.click($('#sign-out-everywhere-confirm')!);
    await waitFor(() => expect(session.phase).toBe('signed_out'));
    expect(backend.signOutEverywhere).toHaveBeenCalledOnce();
    expect(session.notice).toMatch(/signed out on every device/);
  });

  it('shows empty and error states', async () => {
    const backend = new FakeBackend();
    backend.listSessions.mockRejectedValueOnce(fail('server', 'Sessions down.'));
    backend.listDevices.mockResolvedValueOnce([]);
    const { $ } = await setup('devices', backend);
    await waitFor(() => expect($('#error-banner')?.textContent).toMatch(/Sessions down/));
    expect(document.body.textContent).toMatch(/No device has backed up yet/);
  });
});

describe('Settings → Privacy', () => {
  it('shows the policy text and when it was accepted', async () => {
    const { $ } = await setup('privacy');
    await waitFor(() => expect($('#policy-text')).not.toBeNull());
    expect($('#policy-text h3')?.textContent).toBe('Privacy policy');
    expect($('#policy-text')?.textContent).toMatch(/We keep only what we need\./);
    expect([...document.querySelectorAll('#policy-text li')].map((li) => li.textContent)).toEqual(['Encrypted on your device', 'Never sold']);
    expect($('#policy-status')?.textContent).toMatch(/You accepted it on/);
    expect($('#policy-accept')).toBeNull();
  });

  it('asks to accept a newer policy', async () => {
    const backend = new FakeBackend();
    backend.policy.mockResolvedValue({ ...POLICY, version: '2025-07-01', accepted_version: '2025-06-01' });
    const { $ } = await setup('privacy', backend);
    await waitFor(() => expect($('#policy-accept')).not.toBeNull());
    expect(document.body.textContent).toMatch(/changed since you last accepted it/);
    await fireEvent.click($('#policy-accept')!);
    await waitFor(() => expect($('#policy-accept')).toBeNull());
    expect(backend.acceptPolicy).toHaveBeenCalledWith('2025-07-01');
  });

  it('asks a new account, which accepted no version yet, to accept the policy without saying it changed', async () => {
    const backend = new FakeBackend();
    backend.policy.mockResolvedValue({ ...POLICY, accepted_version: null, accepted_at: null });
    const { $ } = await setup('privacy', backend);
    await waitFor(() => expect($('#policy-accept')).not.toBeNull());
    expect(document.body.textContent).toMatch(/Please read and accept this policy/);
    expect(document.body.textContent).not.toMatch(/changed since/);
  });

  it('exports to a typed path, no native dialog needed; the result shows in the export row', async () => {
    const { $, backend } = await setup('privacy');
    const field = $('#export-path') as HTMLInputElement;
    expect(field.value).toMatch(/^~\/coffer-export-2025-06-14\.json$/);
    await fireEvent.input(field, { target: { value: ' /home/ada/exports/mine.json ' } });
    await fireEvent.click($('#export-data')!);
    await waitFor(() => expect($('#export-result')?.textContent).toMatch(/Saved 48.2 KB to \/home\/ada\/exports\/mine\.json/));
    expect(backend.exportData).toHaveBeenCalledWith('/home/ada/exports/mine.json');
    expect(backend.pickSavePath).not.toHaveBeenCalled();
    // The message belongs to the export, not to "Delete my account" below it.
    expect($('#export-row')?.contains($('#export-result'))).toBe(true);
    const rows = [...document.querySelectorAll('#settings-privacy .actions-list > li')];
    expect(rows.findIndex((li) => li.contains($('#export-result')))).toBeLessThan(rows.findIndex((li) => li.contains($('#delete-account'))));
  });

  it('"Choose…" fills the path from the save dialog; cancelling it keeps the typed one', async () => {
    const { $, backend } = await setup('privacy');
    backend.pickSavePath.mockResolvedValueOnce(null);
    await fireEvent.click($('#export-choose')!);
    await tick();
    expect(($('#export-path') as HTMLInputElement).value).toMatch(/^~\/coffer-export-/);
    await fireEvent.click($('#export-choose')!);
    await waitFor(() => expect(($('#export-path') as HTMLInputElement).value).toBe('/home/ada/coffer-export-2025-06-14.json'));
    expect(backend.pickSavePath).toHaveBeenLastCalledWith('coffer-export-2025-06-14.json');
    expect(backend.exportData).not.toHaveBeenCalled();
    await fireEvent.click($('#export-data')!);
    await waitFor(() => expect(backend.exportData).toHaveBeenCalledWith('/home/ada/coffer-export-2025-06-14.json'));
  });

  it('an empty or relative path is explained at the field and nothing is exported', async () => {
    const { $, backend } = await setup('privacy');
    await fireEvent.input($('#export-path')!, { target: { value: '  ' } });
    await fireEvent.click($('#export-data')!);
    expect($('#export-path-error')?.textContent).toMatch(/Choose where to save the file/);
    await fireEvent.input($('#export-path')!, { target: { value: 'mine.json' } });
    await fireEvent.click($('#export-data')!);
    expect($('#export-path-error')?.textContent).toMatch(/full path/);
    expect(document.activeElement).toBe($('#export-path'));
    expect(backend.exportData).not.toHaveBeenCalled();
  });

  it('says what to do when the export fails', async () => {
    const backend = new FakeBackend();
    backend.exportData.mockRejectedValueOnce(fail('io', 'cannot save /root/x.json: Permission denied'));
    backend.exportData.mockRejectedValueOnce(fail('network', 'Offline.'));
    const { $ } = await setup('privacy', backend);
    await fireEvent.click($('#export-data')!);
    await waitFor(() => expect($('#export-path-error')?.textContent).toMatch(/Cannot save \/root\/x\.json: Permission denied\. Choose another place/));
    await fireEvent.click($('#export-data')!);
    await waitFor(() => expect($('#export-row #export-error')?.textContent).toMatch(/Offline\. Try again/));
  });

  it('deletes the account: explains 10 business days, needs the password, signs out with the date', async () => {
    const { $, backend, session } = await setup('privacy');
    await fireEvent.click($('#delete-account')!);
    expect($('#delete-dialog')?.textContent).toMatch(/10 business days/);
    // The service's rule (00:00 UTC after the 10th business day): asked on Saturday June 14 → June 28, never earlier.
    expect($('#delete-purge-date')?.textContent).toBe('June 28, 2025');
    expect($('#delete-dialog')?.textContent).toMatch(/June 28, 2025\s+at the earliest/);
    await fireEvent.click($('#delete-confirm')!);
    expect($('#delete-password-error')).not.toBeNull();
    backend.deleteAccount.mockRejectedValueOnce(fail('invalid_credentials'));
    backend.deleteAccount.mockResolvedValueOnce({ purge_at: Date.UTC(2025, 5, 30) });
    await fireEvent.input($('#delete-password')!, { target: { value: 'wrong' } });
    await fireEvent.click($('#delete-confirm')!);
    await waitFor(() => expect($('#delete-password-error')?.textContent).toMatch(/not right/));
    await fireEvent.input($('#delete-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#delete-confirm')!);
    await waitFor(() => expect(session.phase).toBe('signed_out'));
    expect(backend.deleteAccount).toHaveBeenLastCalledWith('pw', false);
    // The service's day (a holiday moved it to June 30), shown as the service's calendar has it.
    expect(session.notice).toMatch(/will be purged on June 30, 2025\. Until then you can restore your account by signing in/);
  });

  it('"purge now" is passed through', async () => {
    const { $, backend, session } = await setup('privacy');
    await fireEvent.click($('#delete-account')!);
    await fireEvent.click($('#delete-purge-now')!);
    await fireEvent.input($('#delete-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#delete-confirm')!);
    await waitFor(() => expect(backend.deleteAccount).toHaveBeenCalledWith('pw', true));
    expect(session.notice).toMatch(/being purged now/);
  });
});

describe('Settings → General', () => {
  it('turns start at login on, and puts it back when that fails', async () => {
    const backend = new FakeBackend();
    const { $ } = await setup('general', backend);
    await waitFor(() => expect($('#autostart')).not.toBeNull());
    expect(($('#autostart') as HTMLInputElement).checked).toBe(false);
    await fireEvent.click($('#autostart')!);
    await waitFor(() => expect(backend.setAutostart).toHaveBeenCalledWith(true));
    expect(($('#autostart') as HTMLInputElement).checked).toBe(true);
    backend.setAutostart.mockRejectedValueOnce(fail('io', 'No autostart folder.'));
    await fireEvent.click($('#autostart')!);
    await waitFor(() => expect(document.body.textContent).toMatch(/No autostart folder\. The setting was not changed/));
    expect(($('#autostart') as HTMLInputElement).checked).toBe(true);
  });
});

describe('Settings → Account: email confirmation and two-step sign-in', () => {
  it('resends the confirmation link for an unconfirmed address', async () => {
    const backend = new FakeBackend();
    backend.profile.mockResolvedValue({ ...PROFILE, email_verified: false });
    const { $ } = await setup('account', backend);
    await waitFor(() => expect($('#resend-verification')).not.toBeNull());
    expect(document.body.textContent).toMatch(/Not confirmed/);
    await fireEvent.click($('#resend-verification')!);
    await waitFor(() => expect(document.body.textContent).toMatch(/Sent\. Open the link/));
    expect(backend.resendVerification).toHaveBeenCalledOnce();
  });

  it('turns two-step sign-in on: secret, code, recovery codes once', async () => {
    const { $, $$, backend } = await setup('account');
    await waitFor(() => expect($('#totp-start')).not.toBeNull());
    expect($('#totp-state')?.textContent).toMatch(/Off/);
    await fireEvent.click($('#totp-start')!);
    await waitFor(() => expect($('#totp-secret')).not.toBeNull());
    expect($('#totp-secret')?.textContent).toBe('JBSWY3DPEHPK3PXP');
    await fireEvent.input($('#totp-code')!, { target: { value: '12' } });
    await fireEvent.click($('#totp-enable')!);
    expect($('#totp-code-error')?.textContent).toMatch(/6-digit/);
    await fireEvent.input($('#totp-code')!, { target: { value: '123456' } });
    await fireEvent.click($('#totp-enable')!);
    await waitFor(() => expect($$('#totp-recovery-codes li')).toHaveLength(3));
    expect(backend.totpEnable).toHaveBeenCalledWith('123456');
    await fireEvent.click($('#totp-done')!);
    expect($('#totp-codes-saved-error')).not.toBeNull();
    await fireEvent.click($('#totp-codes-saved')!);
    backend.profile.mockResolvedValue({ ...PROFILE, totp_enabled: true });
    await fireEvent.click($('#totp-done')!);
    await waitFor(() => expect($('#totp-state')?.textContent).toMatch(/On/));
    expect($('#totp-recovery-codes')).toBeNull();
  });

  it('setup shows a QR code of the otpauth link, drawn here, beside the key; Cancel has a hook and goes back', async () => {
    const { $, backend } = await setup('account');
    await waitFor(() => expect($('#totp-start')).not.toBeNull());
    await fireEvent.click($('#totp-start')!);
    await waitFor(() => expect($('#totp-qr')).not.toBeNull());
    const { otpauth_url } = await backend.totpSetup.mock.results[0].value;
    expect($('#totp-url')?.getAttribute('href')).toBe(otpauth_url);
    // The drawn modules are exactly the QR code of that link (quiet zone of 4 included).
    const qr = encode(otpauth_url, { ecc: 'M', border: 4 });
    const drawn = qr.data.map((row) => row.map(() => false));
    for (const [, x, y] of ($('#totp-qr path')?.getAttribute('d') ?? '').matchAll(/M(\d+) (\d+)h1v1h-1z/g)) drawn[Number(y)][Number(x)] = true;
    expect(drawn).toEqual(qr.data);
    expect($('#totp-qr')?.getAttribute('viewBox')).toBe(`0 0 ${qr.size} ${qr.size}`);
    expect($('#totp-qr')?.getAttribute('aria-label')).toMatch(/QR code/);
    expect($('#totp-secret')?.textContent).toBe('JBSWY3DPEHPK3PXP');
    await fireEvent.click($('#totp-cancel')!);
    expect($('#totp-qr')).toBeNull();
    expect($('#totp-start')).not.toBeNull();
    expect(backend.totpEnable).not.toHaveBeenCalled();
  });

  it('turns it off with the password', async () => {
    const backend = new FakeBackend();
    backend.profile.mockResolvedValue({ ...PROFILE, totp_enabled: true });
    const { $ } = await setup('account', backend);
    await waitFor(() => expect($('#totp-disable')).not.toBeNull());
    await fireEvent.click($('#totp-disable')!);
    await fireEvent.click($('#totp-disable-confirm')!);
    expect($('#totp-disable-password-error')).not.toBeNull();
    await fireEvent.input($('#totp-disable-password')!, { target: { value: 'pw' } });
    backend.profile.mockResolvedValue({ ...PROFILE, totp_enabled: false });
    await fireEvent.click($('#totp-disable-confirm')!);
    await waitFor(() => expect(backend.totpDisable).toHaveBeenCalledWith('pw'));
    await waitFor(() => expect($('#totp-state')?.textContent).toMatch(/Off/));
  });
});
