import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import Welcome from '../src/lib/views/Welcome.svelte';
import RecoveryKitScreen from '../src/lib/views/RecoveryKitScreen.svelte';
import { SessionState } from '../src/lib/state/session.svelte';
import { WelcomeForm } from '../src/lib/state/welcome.svelte';
import { ACCOUNT, FakeBackend, RECOVERY_CODE, deferred, fail } from './fake-backend';
import type { KeyStrength } from '../src/lib/ipc';

function setup(backend = new FakeBackend()) {
  const session = new SessionState(backend);
  session.phase = 'signed_out';
  const form = new WelcomeForm(session);
  const view = render(Welcome, { form });
  const $ = (selector: string) => view.container.querySelector<HTMLElement>(selector);
  return { backend, session, form, $ };
}

async function fillAccount($: (s: string) => HTMLElement | null) {
  await fireEvent.input($('#signup-first')!, { target: { value: 'Ada' } });
  await fireEvent.input($('#signup-last')!, { target: { value: 'Lovelace' } });
  await fireEvent.input($('#signup-email')!, { target: { value: 'ada@example.com' } });
  await fireEvent.input($('#signup-password')!, { target: { value: 'correct horse battery' } });
  await fireEvent.click($('#signup-age')!);
}

describe('Sign-up: choosing the key', () => {
  it('offers Default (chosen) and Private, with the consequences in words', () => {
    const { $ } = setup();
    expect(($('#signup-key-default') as HTMLInputElement).checked).toBe(true);
    expect(($('#signup-key-private') as HTMLInputElement).checked).toBe(false);
    const text = document.body.textContent!;
    expect(text).toMatch(/Coffer keeps a locked copy of your key/);
    expect(text).toMatch(/Coffer can never open your files/);
    expect($('#signup-private-key')).toBeNull();
  });

  it('private: asks for the key twice, shows the meter (debounced), and the confirmation', async () => {
    const { $, backend } = setup();
    await fireEvent.click($('#signup-key-private')!);
    expect($('#signup-private-key')).not.toBeNull();
    expect($('#signup-private-key-repeat')).not.toBeNull();
    expect(document.querySelector('label[for="signup-key-confirm"]')?.textContent).toMatch(/Coffer cannot recover my files without this key/);
    for (const partial of ['c', 'co', 'cor', 'correct horse']) await fireEvent.input($('#signup-private-key')!, { target: { value: partial } });
    expect(backend.keyStrength).not.toHaveBeenCalled();
    await waitFor(() => expect(backend.keyStrength).toHaveBeenCalledOnce());
    expect(backend.keyStrength).toHaveBeenCalledWith('correct horse');
    await waitFor(() => expect($('#key-strength')?.dataset.score).toBe('2'));
    expect($('#key-strength')?.textContent).toMatch(/Fair/);
    expect($('#key-strength')?.textContent).toMatch(/will not accept/);
  });

  it('refuses a weak key, a mismatch, the password as key, and a missing confirmation', async () => {
    const { $, backend } = setup();
    await fillAccount($);
    await fireEvent.click($('#signup-key-private')!);
    await fireEvent.input($('#signup-private-key')!, { target: { value: 'short' } });
    await fireEvent.click($('#signup-submit')!);
    await waitFor(() => expect($('#signup-private-key-error')?.textContent).toMatch(/too easy to guess/));
    expect($('#signup-key-confirm-error')?.textContent).toMatch(/Tick this/);
    await fireEvent.input($('#signup-private-key')!, { target: { value: 'correct horse battery' } });
    await fireEvent.click($('#signup-submit')!);
    await waitFor(() => expect($('#signup-private-key-error')?.textContent).toMatch(/different from your password/));
    await fireEvent.input($('#signup-private-key')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#signup-private-key-repeat')!, { target: { value: 'purple elephant quietly dance' } });
    await fireEvent.click($('#signup-submit')!);
    await waitFor(() => expect($('#signup-private-key-repeat-error')?.textContent).toMatch(/not the same/));
    expect(backend.signUp).not.toHaveBeenCalled();
  });

  it('says so when the strength cannot be checked, and does not send', async () => {
    const backend = new FakeBackend();
    backend.keyStrength.mockRejectedValue(fail('network', 'Offline.'));
    const { $ } = setup(backend);
    await fillAccount($);
    await fireEvent.click($('#signup-key-private')!);
    await fireEvent.input($('#signup-private-key')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.click($('#signup-submit')!);
    await waitFor(() => expect($('#signup-private-key-error')?.textContent).toMatch(/could not check/));
    expect($('#key-strength')?.textContent).toMatch(/Offline/);
    expect(backend.signUp).not.toHaveBeenCalled();
  });

  it('keeps only the answer for the latest key', async () => {
    const backend = new FakeBackend();
    const slow = deferred<KeyStrength>();
    backend.keyStrength.mockReturnValueOnce(slow.promise);
    const { form } = setup(backend);
    const first = form.strength.check('weak');
    const second = form.strength.check('purple elephant quietly dances');
    await second;
    slow.resolve({ score: 0, acceptable: false, message: 'old' });
    await first;
    expect(form.strength.result?.acceptable).toBe(true);
  });

  it('sends key_mode private with the key, then shows the recovery kit', async () => {
    const { $, backend, session } = setup();
    await fillAccount($);
    await fireEvent.click($('#signup-key-private')!);
    await fireEvent.input($('#signup-private-key')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.input($('#signup-private-key-repeat')!, { target: { value: 'purple elephant quietly dances' } });
    await fireEvent.click($('#signup-key-confirm')!);
    await fireEvent.click($('#signup-submit')!);
    await waitFor(() => expect(session.phase).toBe('recovery_kit'));
    expect(backend.signUp.mock.calls[0][0]).toMatchObject({ key_mode: 'private', private_key: 'purple elephant quietly dances' });
    expect(session.recoveryCode).toBe(RECOVERY_CODE);
  });

  it('default key: no key sent and straight in', async () => {
    const { $, backend, session } = setup();
    await fillAccount($);
    await fireEvent.click($('#signup-submit')!);
    await waitFor(() => expect(session.phase).toBe('signed_in'));
    expect(backend.signUp.mock.calls[0][0]).toMatchObject({ key_mode: 'default', private_key: null });
    expect(backend.keyStrength).not.toHaveBeenCalled();
  });
});

describe('Recovery kit', () => {
  function kit() {
    const backend = new FakeBackend();
    const session = new SessionState(backend);
    session.account = ACCOUNT;
    session.recoveryCode = RECOVERY_CODE;
    session.phase = 'recovery_kit';
    const view = render(RecoveryKitScreen, { session });
    const $ = (selector: string) => view.container.querySelector<HTMLElement>(selector);
    return { backend, session, $ };
  }

  it('shows the code in groups of four, for this account', () => {
    const { $ } = kit();
    expect([...$('#recovery-code')!.querySelectorAll('span')].map((s) => s.textContent)).toEqual(['K7QM', '2XPA', '9RTB', '4WZC']);
    expect(document.body.textContent).toMatch(/ada@example\.com/);
    expect(document.body.textContent).toMatch(/Coffer does not keep a copy/);
  });

  it('prints with window.print and saves a text file with the code', async () => {
    const { $, backend } = kit();
    const print = (window.print = vi.fn());
    await fireEvent.click($('#recovery-print')!);
    expect(print).toHaveBeenCalledOnce();
    await fireEvent.click($('#recovery-save')!);
    await waitFor(() => expect(backend.saveTextFile).toHaveBeenCalledOnce());
    const [name, text] = backend.saveTextFile.mock.calls[0];
    expect(name).toBe('coffer-recovery-kit.txt');
    expect(text).toMatch(/K7QM-2XPA-9RTB-4WZC/);
    expect(text).toMatch(/ada@example\.com/);
    await waitFor(() => expect(document.body.textContent).toMatch(/Saved as coffer-recovery-kit\.txt/));
  });

  it('says what to do when saving fails', async () => {
    const { $, backend } = kit();
    backend.saveTextFile.mockRejectedValueOnce(fail('io', 'Disk full.'));
    await fireEvent.click($('#recovery-save')!);
    await waitFor(() => expect(document.body.textContent).toMatch(/Disk full\. Print the code instead/));
  });

  it('continues only after "I saved my recovery code", and forgets the code', async () => {
    const { $, session } = kit();
    await fireEvent.click($('#recovery-continue')!);
    expect($('#recovery-saved-error')?.textContent).toMatch(/Print or save the code first/);
    expect(session.phase).toBe('recovery_kit');
    await fireEvent.click($('#recovery-saved')!);
    await fireEvent.click($('#recovery-continue')!);
    expect(session.phase).toBe('signed_in');
    expect(session.recoveryCode).toBeNull();
  });
});
