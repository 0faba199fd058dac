import { toBackendError, type BackendError } from '../ipc';
import { DEFAULT_SERVER_URL, type SessionState } from './session.svelte';

export type WelcomeMode = 'signup' | 'signin';

type Field = 'first' | 'last' | 'email' | 'password' | 'age' | 'server';
export type FieldErrors = Partial<Record<Field, string>>;

export const MIN_PASSWORD_LENGTH = 10;
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

  errors = $state<FieldErrors>({});
  /** An error that belongs to no single field (network, server…). */
  banner = $state<BackendError | null>(null);
  submitting = $state(false);

  readonly #session: SessionState;

  constructor(session: SessionState) {
    this.#session = session;
    this.serverUrl = session.serverUrl || DEFAULT_SERVER_URL;
  }

  switchTo(mode: WelcomeMode): void {
    this.mode = mode;
    this.errors = {};
    this.banner = null;
    this.password = '';
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
    if (this.mode === 'signup' && !this.ageConfirmed)
      errors.age = 'You must be at least 13 years old to use Coffer.';
    errors.server = checkServerUrl(this.serverUrl);
    if (errors.server) this.advancedOpen = true;
    for (const key of Object.keys(errors) as Field[]) if (!errors[key]) delete errors[key];
    this.errors = errors;
    return Object.keys(errors).length === 0;
  }

  /** The first field with an error, to move keyboard focus there. */
  get firstInvalid(): Field | undefined {
    const order: Field[] = ['first', 'last', 'email', 'password', 'age', 'server'];
    return order.find((f) => this.errors[f]);
  }

  async submit(): Promise<boolean> {
    this.banner = null;
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
        });
      } else {
        await this.#session.signIn({ email: this.email.trim(), password: this.password, server_url: serverUrl });
      }
      this.password = '';
      return true;
    } catch (reason) {
      this.#showServerError(toBackendError(reason));
      return false;
    } finally {
      this.submitting = false;
    }
  }

  #showServerError(error: BackendError) {
    switch (error.type) {
      case 'email_taken':
        this.errors = { ...this.errors, email: EMAIL_TAKEN };
        break;
      case 'age_not_confirmed':
        this.errors = { ...this.errors, age: error.message || 'You must be at least 13 years old to use Coffer.' };
        break;
      case 'network':
        this.advancedOpen = true;
        this.banner = error;
        break;
      default:
        this.banner = error;
    }
  }
}
