import type { Backend, ShareCreated, ShareProgress, ShareRequest, SnapshotInfo, TreeEntry } from '../ipc';
import { toBackendError, type BackendError } from '../ipc';
import { baseName, formatLongDate } from '../format';

/** The share dialog's steps: the terms, the upload, then the link (shown once). */
export type ShareStep = 'form' | 'sharing' | 'shown';

export type ShareField = 'recipients' | 'days' | 'password' | 'repeat' | 'maxDownloads';

/** As the agent allows (crates/client/src/sharing.rs). */
export const MAX_RECIPIENTS = 20;
export const MAX_SHARE_DAYS = 90;
export const MAX_DOWNLOADS = 1000;
export const MIN_SHARE_PASSWORD = 8;

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Emails typed one per line or separated by commas, semicolons or spaces. */
export function splitEmails(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((e) => e.trim())
    .filter(Boolean);
}

/** A `mailto:` draft to the recipients with the full link in the body. */
export function mailtoDraft(recipients: string[], name: string, link: string, expiresAt: number, password: boolean): string {
  const subject = `Files shared with you: ${name}`;
  const lines = [
    `I shared “${name}” with you through Coffer. Open it with this link (it works until ${formatLongDate(expiresAt)}):`,
    '',
    link,
    '',
    'The files are end-to-end encrypted: the part of the link after “#” is the key, so keep the whole link to yourself.',
  ];
  if (password) lines.push('', 'It also needs a password, which I will give you separately.');
  const to = recipients.map((r) => encodeURIComponent(r).replace(/%40/g, '@')).join(',');
  return `mailto:${to}?subject=${encodeURIComponent(subject)}&body=${encodeURIComponent(lines.join('\n'))}`;
}

/**
 * Sharing one file or folder as it was in one backup: the form, the upload's
 * progress, and the full link, which only this object holds — until the
 * dialog closes (`forget`).
 */
export class ShareDraft {
  readonly backend: Backend;
  readonly entry: TreeEntry;
  readonly snapshot: SnapshotInfo;

  recipients = $state('');
  days = $state('7');
  usePassword = $state(false);
  password = $state('');
  passwordRepeat = $state('');
  showPassword = $state(false);
  limitDownloads = $state(false);
  maxDownloads = $state('5');

  errors = $state<Partial<Record<ShareField, string>>>({});
  step = $state<ShareStep>('form');
  progress = $state<ShareProgress | null>(null);
  error = $state<BackendError | null>(null);
  created = $state<ShareCreated | null>(null);
  copied = $state(false);
  actionError = $state('');

  constructor(backend: Backend, entry: TreeEntry, snapshot: SnapshotInfo) {
    this.backend = backend;
    this.entry = entry;
    this.snapshot = snapshot;
  }

  get name(): string {
    return baseName(this.entry.path);
  }

  /** The request, or null with `errors` set to what needs fixing. */
  validate(): ShareRequest | null {
    const errors: Partial<Record<ShareField, string>> = {};
    const emails = splitEmails(this.recipients);
    const bad = emails.find((e) => !EMAIL.test(e));
    if (emails.length === 0) errors.recipients = 'Enter at least one email address.';
    else if (bad) errors.recipients = `“${bad}” does not look like an email address (name@example.com).`;
    else if (emails.length > MAX_RECIPIENTS) errors.recipients = `Share with at most ${MAX_RECIPIENTS} people at once.`;
    const days = Number(this.days.trim() || NaN);
    if (!Number.isInteger(days) || days < 1 || days > MAX_SHARE_DAYS) errors.days = `Enter a number of days from 1 to ${MAX_SHARE_DAYS}.`;
    if (this.usePassword) {
      if ([...this.password].length < MIN_SHARE_PASSWORD) errors.password = `Use at least ${MIN_SHARE_PASSWORD} characters.`;
      else if (!this.showPassword && this.password !== this.passwordRepeat) errors.repeat = 'The two passwords are not the same.';
    }
    const max = Number(this.maxDownloads.trim() || NaN);
    if (this.limitDownloads && (!Number.isInteger(max) || max < 1 || max > MAX_DOWNLOADS))
      errors.maxDownloads = `Enter a number from 1 to ${MAX_DOWNLOADS}.`;
    this.errors = errors;
    if (Object.keys(errors).length > 0) return null;
    return {
      path: this.entry.path,
      snapshot_id: this.snapshot.id,
      recipients: [...new Set(emails.map((e) => e.toLowerCase()))],
      expires_in_days: days,
      password: this.usePassword ? this.password : null,
      max_downloads: this.limitDownloads ? max : null,
    };
  }

  /** Encrypts and uploads the copy; on success the link is shown once. */
  async submit(): Promise<void> {
    const request = this.validate();
    if (!request) return;
    this.error = null;
    this.progress = null;
    this.step = 'sharing';
    let unsubscribe = () => {};
    try {
      unsubscribe = await this.backend.onShareProgress((p) => (this.progress = p));
    } catch {
      // Progress is a nicety; the share itself still runs.
    }
    try {
      this.created = await this.backend.share(request);
      this.password = '';
      this.passwordRepeat = '';
      this.step = 'shown';
    } catch (reason) {
      this.#showError(toBackendError(reason));
      this.step = 'form';
    } finally {
      unsubscribe();
    }
  }

  async copy(): Promise<void> {
    if (!this.created) return;
    this.actionError = '';
    try {
      await this.backend.copyText(this.created.link);
      this.copied = true;
    } catch (reason) {
      this.actionError = toBackendError(reason).message;
    }
  }

  /** Opens a mail draft to the recipients with the full link. */
  async email(): Promise<void> {
    if (!this.created) return;
    this.actionError = '';
    const { share, link } = this.created;
    try {
      await this.backend.openMailDraft(mailtoDraft(share.recipients, this.name, link, share.expires_at, share.password));
    } catch (reason) {
      this.actionError = `${toBackendError(reason).message} Copy the link and send it yourself instead.`;
    }
  }

  /** The dialog closed: nothing keeps the link any more. */
  forget(): void {
    this.created = null;
    this.password = '';
    this.passwordRepeat = '';
    this.copied = false;
  }

  #showError(error: BackendError) {
    if (error.type === 'invalid_input') {
      const field = (
        [
          [/^to:\s*/, 'recipients'],
          [/^expires:\s*/, 'days'],
          [/^password:\s*/, 'password'],
          [/^max downloads:\s*/, 'maxDownloads'],
        ] as const
      ).find(([prefix]) => prefix.test(error.message));
      if (field) {
        this.errors = { [field[1]]: error.message.replace(field[0], '') };
        return;
      }
    }
    this.error = error;
  }
}
