import type { ErrorKind, IpcError } from './bindings';

/** Every error kind the Rust side can reject with (docs/ipc.md, "Errors"). */
export const ERROR_KINDS: readonly ErrorKind[] = [
  'network',
  'unauthorized',
  'account_deleted',
  'not_signed_in',
  'invalid_input',
  'age_not_confirmed',
  'email_taken',
  'invalid_credentials',
  'totp_required',
  'confirmation_required',
  'quota_exceeded',
  'no_keychain',
  'busy',
  'not_found',
  'io',
  'integrity',
  'locked',
  'wrong_key',
  'server',
];

/** Thrown by every Backend method; the UI switches on `type`, shows `message`. */
export class BackendError extends Error implements IpcError {
  readonly type: ErrorKind;

  constructor(type: ErrorKind, message: string) {
    super(message);
    this.name = 'BackendError';
    this.type = type;
  }

  is(kind: ErrorKind): boolean {
    return this.type === kind;
  }
}

function isErrorKind(value: unknown): value is ErrorKind {
  return typeof value === 'string' && (ERROR_KINDS as readonly string[]).includes(value);
}

function isTagged(value: unknown): value is { type: unknown; message: string } {
  return (
    typeof value === 'object' &&
    value !== null &&
    'type' in value &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}

/**
 * Turns whatever a rejected promise carried into a BackendError. Tauri itself
 * rejects with a bare string when a command is missing or its arguments do not
 * parse; those, and kinds this UI does not know yet, become `server` errors so
 * the UI always has a kind to switch on.
 */
export function toBackendError(reason: unknown): BackendError {
  if (reason instanceof BackendError) return reason;
  if (isTagged(reason)) return new BackendError(isErrorKind(reason.type) ? reason.type : 'server', reason.message);
  if (typeof reason === 'string') return new BackendError('server', reason);
  if (reason instanceof Error) return new BackendError('server', reason.message);
  return new BackendError('server', 'Something went wrong.');
}
