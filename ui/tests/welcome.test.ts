import { describe, expect, it } from 'vitest';
import { fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import Welcome from '../src/lib/views/Welcome.svelte';
import { SessionState } from '../src/lib/state/session.svelte';
import { WelcomeForm } from '../src/lib/state/welcome.svelte';
import { FakeBackend, deferred, fail, ACCOUNT } from './fake-backend';
import type { SignUpResult } from '../src/lib/ipc';

function setup() {
  const backend = new FakeBackend();
  const session = new SessionState(backend);
  session.phase = 'signed_out';
  const form = new WelcomeForm(session);
  const view = render(Welcome, { form });
  const $ = (selector: string) => view.container.querySelector<HTMLElement>(selector);
  return { backend, session, form, $ };
}

async function fillSignUp($: (s: string) => HTMLElement | null, email = 'ada@example.com') {
  await fireEvent.input($('#signup-first')!, { target: { value: ' Ada ' } });
  await fireEvent.input($('#signup-last')!, { target: { value: 'Lovelace' } });
  await fireEvent.input($('#signup-email')!, { target: { value: email } });
  await fireEvent.input($('#signup-password')!, { target: { value: 'correct horse battery' } });
  await fireEvent.click($('#signup-age')!);
}

describe('Welcome: sign up', () => {
  it('starts empty, with every field labelled', () => {
    const { $ } = setup();
    for (const id of ['signup-first', 'signup-last', 'signup-email', 'signup-password', 'signup-age']) {
      const input = $(`#${id}`) as HTMLInputElement;
      expect(input.value === '' || input.checked === false).toBe(true);
      expect(document.querySelector(`label[for="${id}"]`)).not.toBeNull();
    }
    expect($('#error-banner')).toBeNull();
    expect($('#server-url')).toBeNull();
  });

  it('explains every missing field and sends nothing', async () => {
    const { $, backend } = setup();
    await fireEvent.click($('#signup-submit')!);
    expect($('#signup-first-error')?.textContent).toMatch(/first name/);
    expect($('#signup-last-error')?.textContent).toMatch(/last name/);
    expect($('#signup-email-error')?.textContent).toMatch(/email/);
    expect($('#signup-password-error')?.textContent).toMatch(/password/i);
    expect($('#signup-age-error')?.textContent).toMatch(/at least 13/);
    expect($('#signup-email')?.getAttribute('aria-invalid')).toBe('true');
    expect(backend.signUp).not.toHaveBeenCalled();
    await waitFor(() => expect(document.activeElement).toBe($('#signup-first')));
  });

  it('checks the email shape and the password length', async () => {
    const { $, backend } = setup();
    await fillSignUp($, 'ada-at-example.com');
    await fireEvent.input($('#signup-password')!, { target: { value: 'short' } });
    await fireEvent.click($('#signup-submit')!);
    expect($('#signup-email-error')?.textContent).toMatch(/name@example\.com/);
    expect($('#signup-password-error')?.textContent).toMatch(/at least 8/);
    expect(backend.signUp).not.toHaveBeenCalled();
  });

  it('sends a trimmed request with the age confirmation and signs in', async () => {
    const { $, backend, session } = setup();
    await fillSignUp($);
    await fireEvent.click($('#signup-submit')!);
    await waitFor(() => expect(session.phase).toBe('signed_in'));
    expect(backend.signUp).toHaveBeenCalledWith({
      first_name: 'Ada',
      last_name: 'Lovelace',
      email: 'ada@example.com',
      password: 'correct horse battery',
      confirm_age: true,
      server_url: 'http://127.0.0.1:8750',
      key_mode: 'default',
      private_key: null,
    });
    expect(session.account).toEqual(ACCOUNT);
  });

  it('shows that it is working while the request runs', async () => {
    const { $, backend } = setup();
    const pending = deferred<SignUpResult>();
    backend.signUp.mockReturnValueOnce(pending.promise);
    await fillSignUp($);
    await fireEvent.click($('#signup-submit')!);
    const button = $('#signup-submit') as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    expect(button.textContent).toMatch(/Creating your account/);
    pending.resolve({ account: ACCOUNT, recovery_code: null });
    await waitFor(() => expect(button.disabled).toBe(false));
  });

  it('puts email_taken next to the email, with a way to sign in', async () => {
    const { $, backend, form } = setup();
    backend.signUp.mockRejectedValueOnce(fail('email_taken'));
    await fillSignUp($);
    await fireEvent.click($('#signup-submit')!);
    await waitFor(() => expect($('#signup-email-error')?.textContent).toMatch(/already exists/));
    expect($('#error-banner')).toBeNull();
    const signIn = $('#signup-email-error button')!;
    await fireEvent.click(signIn);
    expect(form.mode).toBe('signin');
  });

  it('puts age_not_confirmed next to the checkbox', async () => {
    const { $, backend } = setup();
    backend.signUp.mockRejectedValueOnce(fail('age_not_confirmed', 'You must be at least 13 years old to use Coffer.'));
    await fillSignUp($);
    await fireEvent.click($('#signup-submit')!);
    await waitFor(() => expect($('#signup-age-error')?.textContent).toMatch(/at least 13/));
  });

  it('shows a network failure in the banner and opens the service address', async () => {
    const { $, backend } = setup();
    backend.signUp.mockRejectedValueOnce(fail('network', 'Could not connect to http://127.0.0.1:8750.'));
    await fillSignUp($);
    await fireEvent.click($('#signup-submit')!);
    await waitFor(() => expect($('#error-banner')?.textContent).toMatch(/reach the Coffer service/));
    expect($('#error-banner')?.textContent).toMatch(/Could not connect/);
    expect(($('#server-url') as HTMLInputElement).value).toBe('http://127.0.0.1:8750');
  });

  it('sends the service address typed under Advanced, and refuses a malformed one', async () => {
    const { $, backend } = setup();
    await fireEvent.click($('#advanced-toggle')!);
    expect($('#advanced-toggle')?.getAttribute('aria-expanded')).toBe('true');
    await fireEvent.input($('#server-url')!, { target: { value: 'not a url' } });
    await fillSignUp($);
    await fireEvent.click($('#signup-submit')!);
    expect($('#server-url-error')).not.toBeNull();
    expect(backend.signUp).not.toHaveBeenCalled();
    await fireEvent.input($('#server-url')!, { target: { value: 'https://backup.example.com' } });
    await fireEvent.click($('#signup-submit')!);
    await waitFor(() => expect(backend.signUp).toHaveBeenCalled());
    expect(backend.signUp.mock.calls[0][0]).toMatchObject({ server_url: 'https://backup.example.com' });
  });
});

describe('Welcome: sign in', () => {
  it('switches to sign in and back', async () => {
    const { $ } = setup();
    await fireEvent.click($('#show-signin')!);
    expect($('#signin-email')).not.toBeNull();
    expect($('#signup-first')).toBeNull();
    await fireEvent.click($('#show-signup')!);
    expect($('#signup-first')).not.toBeNull();
  });

  it('shows wrong credentials in the banner and keeps the email', async () => {
    const { $, backend } = setup();
    backend.signIn.mockRejectedValueOnce(fail('invalid_credentials', 'The email or password is not right.'));
    await fireEvent.click($('#show-signin')!);
    await fireEvent.input($('#signin-email')!, { target: { value: 'ada@example.com' } });
    await fireEvent.input($('#signin-password')!, { target: { value: 'nope' } });
    await fireEvent.click($('#signin-submit')!);
    await waitFor(() => expect($('#error-banner')?.textContent).toMatch(/Wrong email or password/));
    expect(($('#signin-email') as HTMLInputElement).value).toBe('ada@example.com');
  });

  it('signs in with the typed email and password', async () => {
    const { $, backend, session } = setup();
    await fireEvent.click($('#show-signin')!);
    await fireEvent.input($('#signin-email')!, { target: { value: 'ada@example.com ' } });
    await fireEvent.input($('#signin-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#signin-submit')!);
    await waitFor(() => expect(session.phase).toBe('signed_in'));
    expect(backend.signIn).toHaveBeenCalledWith({ email: 'ada@example.com', password: 'pw', server_url: 'http://127.0.0.1:8750', totp_code: null });
    expect(screen.queryByText(/at least 10/)).toBeNull();
  });
});

describe('Welcome: two-step sign-in and forgotten password', () => {
  it('asks for the authenticator code when the service needs one, then sends it', async () => {
    const { $, backend, session } = setup();
    backend.signIn.mockRejectedValueOnce(fail('totp_required', 'Enter the code.'));
    await fireEvent.click($('#show-signin')!);
    await fireEvent.input($('#signin-email')!, { target: { value: 'ada@example.com' } });
    await fireEvent.input($('#signin-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#signin-submit')!);
    await waitFor(() => expect($('#signin-totp')).not.toBeNull());
    expect($('#error-banner')).toBeNull();
    await waitFor(() => expect(document.activeElement).toBe($('#signin-totp')));
    await fireEvent.input($('#signin-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#signin-submit')!);
    expect($('#signin-totp-error')?.textContent).toMatch(/6-digit code/);
    await fireEvent.input($('#signin-totp')!, { target: { value: ' 123456 ' } });
    await fireEvent.click($('#signin-submit')!);
    await waitFor(() => expect(session.phase).toBe('signed_in'));
    expect(backend.signIn).toHaveBeenLastCalledWith({ email: 'ada@example.com', password: 'pw', server_url: 'http://127.0.0.1:8750', totp_code: '123456' });
  });

  it('a deleted account: its own message (no leftover notice), and Restore signs in with the same details', async () => {
    const { $, backend, session } = setup();
    session.notice = 'Your account is deleted. Your stored files will be purged on June 28, 2025.';
    const message = 'This account is scheduled for deletion: it and its stored files will be deleted for good on June 28, 2025. Until then you can restore it.';
    backend.signIn.mockRejectedValueOnce(fail('account_deleted', message));
    await fireEvent.click($('#show-signin')!);
    await waitFor(() => expect($('#welcome-notice')).not.toBeNull());
    await fireEvent.input($('#signin-email')!, { target: { value: 'ada@example.com' } });
    await fireEvent.input($('#signin-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#signin-submit')!);
    await waitFor(() => expect($('#account-deleted')?.textContent).toBe(message));
    expect($('#welcome-notice')).toBeNull();
    expect($('#error-banner .title')?.textContent).toBe('Restore your account?');
    await fireEvent.click($('#restore-account')!);
    await waitFor(() => expect(session.phase).toBe('signed_in'));
    expect(backend.restoreAccount).toHaveBeenCalledWith({ email: 'ada@example.com', password: 'pw', server_url: 'http://127.0.0.1:8750', totp_code: null });
  });

  it('a refused session at sign-in is not taken for a deleted account', async () => {
    const { $, backend, form } = setup();
    backend.signIn.mockRejectedValueOnce(fail('unauthorized', 'The service refused the session.'));
    await fireEvent.click($('#show-signin')!);
    await fireEvent.input($('#signin-email')!, { target: { value: 'ada@example.com' } });
    await fireEvent.input($('#signin-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#signin-submit')!);
    await waitFor(() => expect($('#error-banner')?.textContent).toContain('The service refused the session.'));
    expect(form.accountDeleted).toBe(false);
    expect($('#restore-account')).toBeNull();
  });

  it('restoring an account with two-step sign-in asks for the code, then signs in', async () => {
    const { $, backend, session, form } = setup();
    backend.signIn.mockRejectedValueOnce(fail('account_deleted', 'This account is scheduled for deletion.'));
    backend.restoreAccount.mockRejectedValueOnce(fail('totp_required', 'Enter the code.'));
    await fireEvent.click($('#show-signin')!);
    await fireEvent.input($('#signin-email')!, { target: { value: 'ada@example.com' } });
    await fireEvent.input($('#signin-password')!, { target: { value: 'pw' } });
    await fireEvent.click($('#signin-submit')!);
    await waitFor(() => expect($('#restore-account')).not.toBeNull());
    await fireEvent.click($('#restore-account')!);
    await waitFor(() => expect($('#signin-totp')).not.toBeNull());
    expect($('#restore-account')).toBeNull();
    expect(form.accountDeleted).toBe(false);
    await fireEvent.input($('#signin-totp')!, { target: { value: '123456' } });
    await fireEvent.click($('#signin-submit')!);
    await waitFor(() => expect(session.phase).toBe('signed_in'));
    expect(backend.signIn).toHaveBeenLastCalledWith(expect.objectContaining({ totp_code: '123456' }));
  });

  it('sends a reset link and says the same thing whether or not the account exists', async () => {
    const { $, backend } = setup();
    await fireEvent.click($('#show-signin')!);
    await fireEvent.click($('#forgot-password')!);
    expect($('#signin-email-error')?.textContent).toMatch(/email/);
    expect(backend.requestPasswordReset).not.toHaveBeenCalled();
    await fireEvent.input($('#signin-email')!, { target: { value: 'ada@example.com' } });
    await fireEvent.click($('#forgot-password')!);
    await waitFor(() => expect($('#reset-sent')?.textContent).toMatch(/If ada@example\.com has a Coffer account/));
    expect($('#reset-sent')?.textContent).toMatch(/never replaces a private encryption key/);
    expect(backend.requestPasswordReset).toHaveBeenCalledWith('ada@example.com', 'http://127.0.0.1:8750');
  });
});
