import { describe, expect, it } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import Unlock from '../src/lib/views/Unlock.svelte';
import App from '../src/App.svelte';
import { SessionState } from '../src/lib/state/session.svelte';
import { ACCOUNT, FakeBackend, deferred, fail, keyStatus, status } from './fake-backend';
import type { KeyStatus } from '../src/lib/ipc';

function setup(backend = new FakeBackend()) {
  const session = new SessionState(backend);
  session.account = ACCOUNT;
  session.phase = 'locked';
  const view = render(Unlock, { session });
  const $ = (selector: string) => view.container.querySelector<HTMLElement>(selector);
  return { backend, session, $ };
}

describe('Unlock', () => {
  it('asks for the key, for this account', () => {
    const { $ } = setup();
    expect(document.body.textContent).toMatch(/ada@example\.com uses a private encryption key/);
    expect(($('#unlock-key') as HTMLInputElement).type).toBe('password');
    expect(($('#unlock-remember') as HTMLInputElement).checked).toBe(false);
  });

  it('needs a key before sending', async () => {
    const { $, backend } = setup();
    await fireEvent.click($('#unlock-submit')!);
    expect($('#unlock-key-error')?.textContent).toMatch(/Enter your encryption key/);
    expect(backend.unlock).not.toHaveBeenCalled();
  });

  it('unlocks with the key, remembering it when asked', async () => {
    const { $, backend, session } = setup();
    await fireEvent.input($('#unlock-key')!, { target: { value: 'purple elephant' } });
    await fireEvent.click($('#unlock-remember')!);
    await fireEvent.click($('#unlock-submit')!);
    await waitFor(() => expect(session.phase).toBe('signed_in'));
    expect(backend.unlock).toHaveBeenCalledWith('purple elephant', true);
  });

  it('is busy while checking, and says plainly when the key is wrong', async () => {
    const backend = new FakeBackend();
    const pending = deferred<KeyStatus>();
    backend.unlock.mockReturnValueOnce(pending.promise);
    const { $, session } = setup(backend);
    await fireEvent.input($('#unlock-key')!, { target: { value: 'nope' } });
    await fireEvent.click($('#unlock-submit')!);
    expect($('#unlock-submit')?.textContent).toMatch(/Unlocking/);
    pending.reject(fail('invalid_credentials', 'Wrong key.'));
    await waitFor(() => expect($('#unlock-key-error')?.textContent).toMatch(/does not unlock your files/));
    expect(session.phase).toBe('locked');
  });

  it('clears "does not unlock" as soon as the person retypes, key or recovery code', async () => {
    const backend = new FakeBackend();
    backend.unlock.mockRejectedValueOnce(fail('wrong_key', 'Wrong key.'));
    backend.unlockWithRecovery.mockRejectedValueOnce(fail('wrong_key', 'Wrong code.'));
    const { $ } = setup(backend);
    await fireEvent.input($('#unlock-key')!, { target: { value: 'purple elefant' } });
    await fireEvent.click($('#unlock-submit')!);
    await waitFor(() => expect($('#unlock-key-error')?.textContent).toMatch(/does not unlock your files/));
    expect($('#unlock-key')?.getAttribute('aria-invalid')).toBe('true');
    await fireEvent.input($('#unlock-key')!, { target: { value: 'purple elefan' } });
    expect($('#unlock-key-error')).toBeNull();
    expect($('#unlock-key')?.getAttribute('aria-invalid')).toBeNull();

    await fireEvent.click($('#unlock-use-recovery')!);
    await fireEvent.input($('#unlock-recovery-code')!, { target: { value: 'K7QM-2XPB' } });
    await fireEvent.click($('#unlock-submit')!);
    await waitFor(() => expect($('#unlock-recovery-code-error')?.textContent).toMatch(/does not unlock your files/));
    await fireEvent.input($('#unlock-recovery-code')!, { target: { value: 'K7QM-2XPA' } });
    expect($('#unlock-recovery-code-error')).toBeNull();
    // The hint comes back in its place.
    expect($('#unlock-recovery-code-hint')?.textContent).toMatch(/groups of four/);
  });

  it('other failures go to a banner', async () => {
    const backend = new FakeBackend();
    backend.unlock.mockRejectedValueOnce(fail('network', 'Offline.'));
    const { $ } = setup(backend);
    await fireEvent.input($('#unlock-key')!, { target: { value: 'k' } });
    await fireEvent.click($('#unlock-submit')!);
    await waitFor(() => expect($('#error-banner')?.textContent).toMatch(/Offline\..*Check your connection/));
  });

  it('uses the recovery code instead', async () => {
    const { $, backend, session } = setup();
    await fireEvent.click($('#unlock-use-recovery')!);
    expect($('#unlock-key')).toBeNull();
    await waitFor(() => expect(document.activeElement).toBe($('#unlock-recovery-code')));
    await fireEvent.input($('#unlock-recovery-code')!, { target: { value: ' K7QM-2XPA ' } });
    await fireEvent.click($('#unlock-submit')!);
    await waitFor(() => expect(session.phase).toBe('signed_in'));
    expect(backend.unlockWithRecovery).toHaveBeenCalledWith('K7QM-2XPA', false);
  });

  it('explains "lost both": the old backups cannot be opened and are deleted, the account stays', async () => {
    const { $ } = setup();
    expect($('#unlock-lost')?.textContent).toMatch(/nobody can open the files backed up so far/);
    expect($('#unlock-lost')?.textContent).toMatch(/Your\s+account stays/);
    await fireEvent.click($('#unlock-start-over')!);
    expect($('#unlock-key')).toBeNull();
    const text = $('#start-over')?.textContent ?? '';
    expect(text).toMatch(/nobody can open the files backed up so far/);
    expect(text).toMatch(/deletes those backups/);
    expect(text).toMatch(/Your account, your folders and the files on this computer stay/);
    expect(($('#start-over-key-default') as HTMLInputElement).checked).toBe(true);
    await fireEvent.click($('#start-over-back')!);
    expect($('#unlock-key')).not.toBeNull();
  });

  it('start over: needs the password and the checkbox, never deletes the account', async () => {
    const { $, backend, session } = setup();
    await fireEvent.click($('#unlock-start-over')!);
    await fireEvent.click($('#start-over-submit')!);
    await waitFor(() => expect($('#start-over-password-error')?.textContent).toMatch(/account password/));
    expect($('#start-over-understood-error')?.textContent).toMatch(/Tick this/);
    expect(backend.startOver).not.toHaveBeenCalled();
    await fireEvent.input($('#start-over-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#start-over-understood')!);
    await fireEvent.click($('#start-over-submit')!);
    await waitFor(() => expect(session.phase).toBe('signed_in'));
    expect(backend.startOver).toHaveBeenCalledWith(null, 'pw');
    expect(backend.deleteAccount).not.toHaveBeenCalled();
    expect(session.recoveryCode).toBeNull();
  });

  it('start over with two-factor sign-in: “Confirm it’s you” first, then the backups are deleted', async () => {
    const backend = new FakeBackend();
    backend.startOver.mockRejectedValueOnce(fail('confirmation_required', 'deleting backups needs your two-factor code too'));
    backend.confirmIdentity.mockRejectedValueOnce(fail('totp_required', 'Enter the code.'));
    const { $, session } = setup(backend);
    await fireEvent.click($('#unlock-start-over')!);
    await fireEvent.input($('#start-over-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#start-over-understood')!);
    await fireEvent.click($('#start-over-submit')!);
    await waitFor(() => expect($('#confirm-identity')).not.toBeNull());
    expect(session.phase).toBe('locked');
    await fireEvent.input($('#confirm-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#confirm-identity-submit')!);
    await waitFor(() => expect($('#confirm-code')).not.toBeNull());
    await fireEvent.input($('#confirm-code')!, { target: { value: '123456' } });
    await fireEvent.click($('#confirm-identity-submit')!);
    await waitFor(() => expect(session.phase).toBe('signed_in'));
    expect(backend.startOver).toHaveBeenCalledTimes(2);
    expect(backend.startOver).toHaveBeenLastCalledWith(null, 'pw');
  });

  it('start over with a private key: typed twice, strength checked, then the recovery kit', async () => {
    const { $, backend, session } = setup();
    await fireEvent.click($('#unlock-start-over')!);
    await fireEvent.click($('#start-over-key-private')!);
    await waitFor(() => expect($('#start-over-private-key')).not.toBeNull());
    await fireEvent.input($('#start-over-private-key')!, { target: { value: 'weak' } });
    await waitFor(() => expect($('#start-over-key-strength')?.dataset.score).toBe('0'));
    await fireEvent.input($('#start-over-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#start-over-understood')!);
    await fireEvent.click($('#start-over-submit')!);
    await waitFor(() => expect($('#start-over-private-key-error')?.textContent).toMatch(/too easy to guess/));
    await fireEvent.input($('#start-over-private-key')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#start-over-private-key-repeat')!, { target: { value: 'purple elephant quietly dance' } });
    await fireEvent.input($('#start-over-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#start-over-submit')!);
    await waitFor(() => expect($('#start-over-private-key-repeat-error')?.textContent).toMatch(/not the same/));
    expect(backend.startOver).not.toHaveBeenCalled();
    await fireEvent.input($('#start-over-private-key-repeat')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#start-over-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#start-over-submit')!);
    await waitFor(() => expect(session.phase).toBe('recovery_kit'));
    expect(backend.startOver).toHaveBeenCalledWith('purple elephant quietly dances', 'pw');
    expect(session.recoveryCode).toBe('K7QM2XPA9RTB4WZC');
  });

  it('start over: a wrong password deletes nothing and says so; other failures go to a banner', async () => {
    const backend = new FakeBackend();
    backend.startOver.mockRejectedValueOnce(fail('invalid_credentials', 'Wrong password.')).mockRejectedValueOnce(fail('network', 'Offline.'));
    const { $, session } = setup(backend);
    await fireEvent.click($('#unlock-start-over')!);
    await fireEvent.input($('#start-over-password')!, { target: { value: 'nope' } });
    await fireEvent.click($('#start-over-understood')!);
    await fireEvent.click($('#start-over-submit')!);
    await waitFor(() => expect($('#start-over-password-error')?.textContent).toMatch(/not your account password\. Nothing was deleted/));
    expect(($('#start-over-password') as HTMLInputElement).value).toBe('');
    await fireEvent.input($('#start-over-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#start-over-submit')!);
    await waitFor(() => expect($('#start-over-error')?.textContent).toMatch(/Offline\..*Nothing was deleted/));
    expect(session.phase).toBe('locked');
  });

  it('signs out', async () => {
    const { $, backend, session } = setup();
    await fireEvent.click($('#unlock-sign-out')!);
    await waitFor(() => expect(session.phase).toBe('signed_out'));
    expect(backend.signOut).toHaveBeenCalled();
  });
});

describe('App gates', () => {
  const render$ = (backend: FakeBackend) => {
    const view = render(App, { backend });
    return (s: string) => view.container.querySelector<HTMLElement>(s);
  };

  it('opens on Unlock when the agent says locked, then on the Overview', async () => {
    const backend = new FakeBackend();
    backend.appStatus.mockResolvedValue(status({ signed_in: true, account: ACCOUNT, locked: true }));
    const $ = render$(backend);
    await waitFor(() => expect($('#unlock-key')).not.toBeNull());
    expect($('#nav-dashboard')).toBeNull();
    await fireEvent.input($('#unlock-key')!, { target: { value: 'k' } });
    await fireEvent.click($('#unlock-submit')!);
    await waitFor(() => expect($('#backup-now')).not.toBeNull());
  });

  it('start over with a private key: Unlock → recovery kit → Overview', async () => {
    const backend = new FakeBackend();
    backend.appStatus.mockResolvedValue(status({ signed_in: true, account: ACCOUNT, locked: true }));
    const $ = render$(backend);
    await waitFor(() => expect($('#unlock-start-over')).not.toBeNull());
    await fireEvent.click($('#unlock-start-over')!);
    await fireEvent.click($('#start-over-key-private')!);
    await waitFor(() => expect($('#start-over-private-key')).not.toBeNull());
    await fireEvent.input($('#start-over-private-key')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#start-over-private-key-repeat')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#start-over-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#start-over-understood')!);
    await fireEvent.click($('#start-over-submit')!);
    await waitFor(() => expect($('#recovery-code')).not.toBeNull());
    expect($('#recovery-code')?.textContent?.replace(/\s+/g, '')).toBe('K7QM2XPA9RTB4WZC');
    await fireEvent.click($('#recovery-saved')!);
    await fireEvent.click($('#recovery-continue')!);
    await waitFor(() => expect($('#backup-now')).not.toBeNull());
  });

  it('asks for the key after signing in to a locked account', async () => {
    const backend = new FakeBackend();
    const $ = render$(backend);
    await waitFor(() => expect($('#show-signin')).not.toBeNull());
    backend.appStatus.mockResolvedValue(status({ signed_in: true, account: ACCOUNT, locked: true }));
    await fireEvent.click($('#show-signin')!);
    await fireEvent.input($('#signin-email')!, { target: { value: 'ada@example.com' } });
    await fireEvent.input($('#signin-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#signin-submit')!);
    await waitFor(() => expect($('#unlock-key')).not.toBeNull());
  });

  it('Lock now in Settings → Encryption returns to Unlock', async () => {
    const backend = new FakeBackend();
    backend.appStatus.mockResolvedValue(status({ signed_in: true, account: ACCOUNT }));
    backend.keyStatus.mockResolvedValue(keyStatus({ mode: 'private', remembered: true }));
    const $ = render$(backend);
    await waitFor(() => expect($('#nav-settings')).not.toBeNull());
    await fireEvent.click($('#nav-settings')!);
    await fireEvent.click($('#settings-tab-encryption')!);
    await waitFor(() => expect($('#key-lock')).not.toBeNull());
    expect($('#key-mode')?.textContent).toMatch(/Unlocked · remembered/);
    await fireEvent.click($('#key-lock')!);
    await waitFor(() => expect($('#unlock-key')).not.toBeNull());
  });

  it('asks to read a newer privacy policy, and stops asking once accepted', async () => {
    const backend = new FakeBackend();
    backend.appStatus.mockResolvedValue(status({ signed_in: true, account: ACCOUNT }));
    backend.policy.mockResolvedValue({
      version: '2025-06-01',
      published_at: Date.now(),
      text: 'New.',
      accepted_version: '2024-01-01',
      accepted_at: Date.now() - 1e10,
    });
    const $ = render$(backend);
    await waitFor(() => expect($('#policy-banner')).not.toBeNull());
    await fireEvent.click($('#policy-review')!);
    await waitFor(() => expect($('#policy-accept')).not.toBeNull());
    expect($('#policy-banner')).toBeNull();
    await fireEvent.click($('#policy-accept')!);
    await waitFor(() => expect(backend.acceptPolicy).toHaveBeenCalledWith('2025-06-01'));
    await fireEvent.click($('#nav-dashboard')!);
    expect($('#policy-banner')).toBeNull();
  });

  it('a policy that cannot be checked does not get in the way', async () => {
    const backend = new FakeBackend();
    backend.appStatus.mockResolvedValue(status({ signed_in: true, account: ACCOUNT }));
    backend.policy.mockRejectedValue(fail('server', 'unknown command policy'));
    const $ = render$(backend);
    await waitFor(() => expect($('#backup-now')).not.toBeNull());
    expect($('#policy-banner')).toBeNull();
    expect($('#error-banner')).toBeNull();
  });

  it('every screen has a sidebar entry with a stable id', async () => {
    const backend = new FakeBackend();
    backend.appStatus.mockResolvedValue(status({ signed_in: true, account: ACCOUNT }));
    const $ = render$(backend);
    await waitFor(() => expect($('#nav-dashboard')).not.toBeNull());
    const expectations: [string, string][] = [
      ['#nav-folders', '#folders-usage'],
      ['#nav-add-folder', '#add-folder-path'],
      ['#nav-restore', '#restore-snapshot'],
      ['#nav-schedule', '#watch-status'],
      ['#nav-activity', '#activity-backups'],
      ['#nav-settings', '#profile-first'],
      ['#nav-dashboard', '#backup-now'],
    ];
    for (const [nav, landmark] of expectations) {
      await fireEvent.click($(nav)!);
      await waitFor(() => expect($(landmark)).not.toBeNull());
      expect($(nav)?.getAttribute('aria-current')).toBe('page');
    }
  });
});
