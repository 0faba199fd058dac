import type { Backend, ConfirmationStatus } from '../ipc';
import { toBackendError } from '../ipc';

/**
 * "Confirm it's you" before deleting backups: the account password and,
 * when two-factor sign-in is on, a code. The agent keeps the proof (for
 * about an hour); the UI only learns until when it holds.
 */
export class IdentityConfirmation {
  password = $state('');
  code = $state('');
  /** The account has two-factor sign-in on (or the agent asked for a code). */
  needsCode = $state(false);
  busy = $state(false);
  passwordError = $state('');
  codeError = $state('');
  /** A failure that is not about one field (offline, too many attempts). */
  error = $state('');
  confirmed = $state<ConfirmationStatus | null>(null);

  readonly #backend: Backend;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  /** Learns whether the account has two-factor sign-in, to show the code field at once. */
  async loadTwoFactor(): Promise<void> {
    try {
      if ((await this.#backend.profile()).totp_enabled) this.needsCode = true;
    } catch {
      // The agent asks for the code if it needs one.
    }
  }

  /** Resolves to true once the agent holds the confirmation. */
  async submit(): Promise<boolean> {
    this.passwordError = '';
    this.codeError = '';
    this.error = '';
    if (this.password === '') {
      this.passwordError = 'Enter your Coffer password.';
      return false;
    }
    const code = this.code.trim();
    if (this.needsCode && code === '') {
      this.codeError = 'Enter the code from your authenticator app, or a recovery code.';
      return false;
    }
    this.busy = true;
    try {
      this.confirmed = await this.#backend.confirmIdentity(this.password, this.needsCode ? code : null);
      this.password = '';
      this.code = '';
      return true;
    } catch (reason) {
      const error = toBackendError(reason);
      if (error.is('invalid_credentials')) {
        this.passwordError = 'That is not your Coffer password.';
      } else if (error.is('totp_required')) {
        this.needsCode = true;
        this.codeError = 'Two-factor sign-in is on: enter the code from your authenticator app.';
      } else if (error.is('invalid_input') && this.needsCode) {
        this.codeError = 'That code is wrong or was already used. Wait for the next one and try again.';
      } else {
        this.error = error.message;
      }
      return false;
    } finally {
      this.busy = false;
    }
  }
}
