import type { KeyMode } from '../ipc';
import { toBackendError, type BackendError } from '../ipc';
import { DEFAULT_SERVER_URL, type SessionState } from './session.svelte';
import { KeyStrengthCheck, keyProblems } from './key-strength.svelte';

export type WelcomeMode = 'signup' | 'signin';

type Field = 'first' | 'last' | 'email' | 'password' | 'age' | 'key' | 'keyRepeat' | 'keyConfirm' | 'totp' | 'server';
export type FieldErrors = Partial<Record<Field, string>>;

export const MIN_PASSWORD_LENGTH = 8;
export const EMAIL_TAKEN = 'An account with this email already exists.';

/** The rules the service applies (docs/api.md, "Accounts"), checked before sending. */
export function checkEmail(email: string): string | undefined {
  const trimmed = email.trim();
  if (!trimmed) return 'Enter your email address.';
  const at = trimmed.indexOf('@');
  if (at <= 0 || at === trimmed.length - 1) return 'Enter an email address like name@example.com.';
  return undefined;
}

export function checkServerUrl(url: string): string | undefined {
  const trimmed = url.trim();
  if (!trimmed) return undefined; // empty means "the default"
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    return 'Enter a full address, like https://backup.example.com.';
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return 'The address must start with https://.';
  return undefined;
}

function checkName(value: string, label: string): string | undefined {
  const trimmed = value.trim();
  if (!trimmed) return `Enter your ${label}.`;
  if (trimmed.length > 100) return `Your ${label} can be at most 100 characters.`;
  return undefined;
}

/** The sign-up / sign-in form: fields, per-field errors and the server's answer. */
export class WelcomeForm {
  mode = $state<WelcomeMode>('signup');
  firstName = $state('');
  lastName = $state('');
  email = $state('');
  password = $state('');
  ageConfirmed = $state(false);
  serverUrl = $state(DEFAULT_SERVER_URL);
  advancedOpen = $state(false);

  /** Default: Coffer keeps a copy of the data key. Private: only this key opens the files. */
  keyMode = $state<KeyMode>('default');
  privateKey = $state('');
  privateKeyRepeat = $state('');
  keyConfirmed = $state(false);
  readonly strength: KeyStrengthCheck;

  /** Shown once the service asks for a two-factor code. */
  totpNeeded = $state(false);
  totpCode = $state('');
  /** "Forgot password?": the answer, whatever it is, is the same sentence. */
  resetSentTo = $state<string | null>(null);
  resetting = $state(false);

  errors = $state<FieldErrors>({});
  /** An error that belongs to no single field (network, server…). */
  banner = $state<BackendError | null>(null);
  submitting = $state(false);
  /** Signing in was refused because the account is scheduled for deletion: it can be restored. */
  accountDeleted = $state(false);
  restoring = $state(false);

  readonly #session: SessionState;

  constructor(session: SessionState) {
    this.#session = session;
    this.strength = new KeyStrengthCheck(session.backend);
    this.serverUrl = session.serverUrl || DEFAULT_SERVER_URL;
  }

  /** What happened before this screen (account deleted, signed out everywhere). */
  get notice(): string | null {
    return this.#session.notice;
  }

  dismissNotice(): void {
    this.#session.notice = null;
  }

  switchTo(mode: WelcomeMode): void {
    this.mode = mode;
    this.errors = {};
    this.banner = null;
    this.password = '';
    this.totpNeeded = false;
    this.totpCode = '';
    this.resetSentTo = null;
    this.accountDeleted = false;
  }

  /** Cancels the scheduled deletion of the account typed in, then signs in to it. */
  async restoreAccount(): Promise<boolean> {
    if (this.mode !== 'signin' || !this.validate()) return false;
    this.banner = null;
    this.restoring = true;
    try {
      await this.#session.restoreAccount(this.#signInRequest());
      this.#forgetSecrets();
      return true;
    } catch (reason) {
      const error = toBackendError(reason);
      // Restored, but the account needs a code to sign in: the code field finishes it.
      if (error.type === 'totp_required') this.accountDeleted = false;
      this.#showServerError(error);
      return false;
    } finally {
      this.restoring = false;
    }
  }

  /** Mails a password reset link to the typed address. */
  async requestReset(): Promise<void> {
    this.banner = null;
    this.resetSentTo = null;
    const problem = checkEmail(this.email);
    if (problem) {
      this.errors = { email: problem };
      return;
    }
    this.errors = {};
    this.resetting = true;
    try {
      await this.#session.backend.requestPasswordReset(this.email.trim(), this.serverUrl.trim() || null);
      this.resetSentTo = this.email.trim();
    } catch (reason) {
      this.#showServerError(toBackendError(reason));
    } finally {
      this.resetting = false;
    }
  }

  /** Call when the private key changes: the meter updates a moment after typing stops. */
  keyChanged(): void {
    this.strength.update(this.privateKey);
  }

  validate(): boolean {
    const errors: FieldErrors = {};
    if (this.mode === 'signup') {
      errors.first = checkName(this.firstName, 'first name');
      errors.last = checkName(this.lastName, 'last name');
    }
    errors.email = checkEmail(this.email);
    if (!this.password) errors.password = 'Enter your password.';
    else if (this.mode === 'signup' && this.password.length < MIN_PASSWORD_LENGTH)
      errors.password = `Use at least ${MIN_PASSWORD_LENGTH} characters.`;
    if (this.mode === 'signin' && this.totpNeeded && !/^[0-9]{6}$|^[A-Za-z0-9-]{8,}$/.test(this.totpCode.trim()))
      errors.totp = 'Enter the 6-digit code from your authenticator app, or one of your recovery codes.';
    if (this.mode === 'signup' && !this.ageConfirmed)
      errors.age = 'You must be at least 13 years old to use Coffer.';
    if (this.mode === 'signup' && this.keyMode === 'private') {
      const problems = keyProblems(this.privateKey, this.privateKeyRepeat, this.strength.result, this.password);
      errors.key = problems.key;
      errors.keyRepeat = problems.repeat;
      if (!this.keyConfirmed) errors.keyConfirm = 'Tick this to show you understand: without the key or the recovery code, nobody can open your files.';
    }
    errors.server = checkServerUrl(this.serverUrl);
    if (errors.server) this.advancedOpen = true;
    for (const key of Object.keys(errors) as Field[]) if (!errors[key]) delete errors[key];
    this.errors = errors;
    return Object.keys(errors).length === 0;
  }

  /** The first field with an error, to move keyboard focus there. */
  get firstInvalid(): Field | undefined {
    const order: Field[] = ['first', 'last', 'email', 'password', 'totp', 'age', 'key', 'keyRepeat', 'keyConfirm', 'server'];
    return order.find((f) => this.errors[f]);
  }

  async submit(): Promise<boolean> {
    this.banner = null;
    this.accountDeleted = false;
    // What happened before (signed out everywhere, account deleted) is old news once the person signs in again.
    this.#session.notice = null;
    // The meter may not have answered yet for the last keystrokes: ask now.
    if (this.mode === 'signup' && this.keyMode === 'private' && this.privateKey) await this.strength.check(this.privateKey);
    if (!this.validate()) return false;
    this.submitting = true;
    const serverUrl = this.serverUrl.trim() || null;
    try {
      if (this.mode === 'signup') {
        await this.#session.signUp({
          first_name: this.firstName.trim(),
          last_name: this.lastName.trim(),
          email: this.email.trim(),
          password: this.password,
          confirm_age: this.ageConfirmed,
          server_url: serverUrl,
          key_mode: this.keyMode,
          private_key: this.keyMode === 'private' ? this.privateKey : null,
        });
      } else {
        await this.#session.signIn(this.#signInRequest());
      }
      this.#forgetSecrets();
      return true;
    } catch (reason) {
      this.#showServerError(toBackendError(reason));
      return false;
    } finally {
      this.submitting = false;
    }
  }

  #signInRequest() {
    return {
      email: this.email.trim(),
      password: this.password,
      server_url: this.serverUrl.trim() || null,
      totp_code: this.totpNeeded ? this.totpCode.trim() : null,
    };
  }

  /** After signing in: nothing typed in secret stays, and the next sign-in starts without a code field. */
  #forgetSecrets() {
    this.password = '';
    this.totpCode = '';
    this.totpNeeded = false;
    this.accountDeleted = false;
    this.errors = {};
    this.privateKey = '';
    this.privateKeyRepeat = '';
    this.strength.reset();
  }

  #showServerError(error: BackendError) {
    switch (error.type) {
      case 'email_taken':
        this.errors = { ...this.errors, email: EMAIL_TAKEN };
        break;
      case 'age_not_confirmed':
        this.errors = { ...this.errors, age: error.message || 'You must be at least 13 years old to use Coffer.' };
        break;
      case 'totp_required':
        if (this.totpNeeded) this.errors = { ...this.errors, totp: error.message || 'That code did not work. Try the next one.' };
        this.totpNeeded = true;
        break;
      case 'network':
        this.advancedOpen = true;
        this.banner = error;
        break;
      case 'account_deleted':
        // The account is scheduled for deletion: say until when, and offer to restore it.
        if (this.mode === 'signin') this.accountDeleted = true;
        this.banner = error;
        break;
      default:
        this.banner = error;
    }
  }
}
