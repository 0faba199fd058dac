import type { Backend, CleanupWaiting, RetentionOutcome, RetentionSettings, SnapshotInfo } from '../ipc';
import { toBackendError, type BackendError } from '../ipc';
import { IdentityConfirmation } from './confirmation.svelte';

/** The rules of "Versions kept", as the form names them. */
export type RetentionField =
  | 'keep_last'
  | 'keep_hourly'
  | 'keep_daily'
  | 'keep_weekly'
  | 'keep_monthly'
  | 'keep_yearly'
  | 'keep_within_days';

const FIELDS: RetentionField[] = ['keep_last', 'keep_hourly', 'keep_daily', 'keep_weekly', 'keep_monthly', 'keep_yearly', 'keep_within_days'];

/** What the agent said when a prune would delete more than half of the stored data. */
export type LargePrune = { message: string; percent: number | null; bytes: number | null; total: number | null };

/**
 * An `invalid_input` message about one rule starts with its name
 * ("keep_last: keep at least one backup"): returns the rule and the rest.
 */
export function fieldError(message: string): { field: RetentionField; message: string } | null {
  const match = /^\s*(keep_[a-z_]+)\s*:\s*(.+)$/s.exec(message);
  if (!match || !FIELDS.includes(match[1] as RetentionField)) return null;
  const text = match[2].trim();
  return { field: match[1] as RetentionField, message: text.charAt(0).toUpperCase() + text.slice(1) };
}

/** The figures of "prune would remove 600 of 1000 stored bytes (60%)", when the message has them. */
export function largePrune(message: string): LargePrune {
  const match = /remove\s+(\d+)\s+of\s+(\d+)\s+stored bytes\s*\((\d+)%\)/.exec(message);
  return {
    message,
    bytes: match ? Number(match[1]) : null,
    total: match ? Number(match[2]) : null,
    percent: match ? Number(match[3]) : null,
  };
}

/**
 * "Versions kept": the retention rules, a preview of what they would remove,
 * and applying them (with the extra confirmation a very large prune needs).
 */
export class RetentionState {
  settings = $state<RetentionSettings | null>(null);
  loading = $state(false);
  loadError = $state<BackendError | null>(null);

  saving = $state(false);
  saveError = $state<BackendError | null>(null);
  fieldErrors = $state<Partial<Record<RetentionField, string>>>({});

  preview = $state<RetentionOutcome | null>(null);
  previewing = $state(false);
  previewError = $state<BackendError | null>(null);

  applying = $state(false);
  applyError = $state<BackendError | null>(null);
  /** Set when applying stopped because the prune is large; "Apply anyway" confirms it. */
  large = $state<LargePrune | null>(null);
  /** What the last apply did. */
  outcome = $state<RetentionOutcome | null>(null);
  /** Automatic cleanup found old versions but waits for the person to confirm. */
  waiting = $state<CleanupWaiting | null>(null);
  /** Set when applying needs the person to confirm it is them first ("Confirm it's you"). */
  confirmation = $state<IdentityConfirmation | null>(null);
  #pendingLarge = false;

  readonly #backend: Backend;
  readonly #onApplied: () => void;
  /** What the preview said would go, for the report when "Apply anyway" finds it already gone. */
  #expected: SnapshotInfo[] = [];

  /** `onApplied` runs after backups were removed (e.g. to reload the Overview). */
  constructor(backend: Backend, onApplied: () => void = () => {}) {
    this.#backend = backend;
    this.#onApplied = onApplied;
  }

  async load(): Promise<void> {
    this.loading = true;
    this.loadError = null;
    try {
      this.settings = await this.#backend.retention();
    } catch (reason) {
      this.loadError = toBackendError(reason);
    } finally {
      this.loading = false;
    }
    try {
      this.waiting = await this.#backend.cleanupWaiting();
    } catch {
      // Only a notice: the rules themselves loaded (or said why not).
      this.waiting = null;
    }
  }

  /** Resolves to whether the rules were saved; a rule the agent refuses gets its error in `fieldErrors`. */
  async save(settings: RetentionSettings): Promise<boolean> {
    this.saving = true;
    this.saveError = null;
    this.fieldErrors = {};
    try {
      this.settings = await this.#backend.setRetention(settings);
      // A preview of the old rules says nothing about the new ones.
      this.preview = null;
      this.outcome = null;
      return true;
    } catch (reason) {
      const error = toBackendError(reason);
      const field = error.type === 'invalid_input' ? fieldError(error.message) : null;
      if (field) this.fieldErrors = { [field.field]: field.message };
      else if (error.type === 'invalid_input') this.fieldErrors = { keep_last: error.message };
      else this.saveError = error;
      return false;
    } finally {
      this.saving = false;
    }
  }

  /** Asks which backups the saved rules would remove; changes nothing. */
  async runPreview(): Promise<RetentionOutcome | null> {
    this.previewing = true;
    this.previewError = null;
    this.outcome = null;
    try {
      this.preview = await this.#backend.applyRetention(true, false);
      return this.preview;
    } catch (reason) {
      this.previewError = toBackendError(reason);
      this.preview = null;
      return null;
    } finally {
      this.previewing = false;
    }
  }

  /**
   * Applies the saved rules. Resolves to true when done; false on failure,
   * with `large` set when only a confirmation of the large prune is missing.
   */
  async apply(confirmLarge = false): Promise<boolean> {
    this.applying = true;
    this.applyError = null;
    if (!confirmLarge) {
      this.large = null;
      this.#expected = this.preview?.removed ?? [];
    }
    try {
      const outcome = await this.#backend.applyRetention(false, confirmLarge);
      // The first try may already have removed the backups before it stopped at the prune.
      const removed = outcome.removed.length > 0 || !confirmLarge ? outcome.removed : this.#expected;
      this.outcome = { ...outcome, removed };
      this.large = null;
      this.preview = null;
      this.waiting = null;
      this.#onApplied();
      return true;
    } catch (reason) {
      const error = toBackendError(reason);
      if (error.is('confirmation_required')) {
        // Nothing was deleted: ask the person, then try again (`confirmed`).
        this.confirmation = new IdentityConfirmation(this.#backend);
        this.#pendingLarge = confirmLarge;
      } else if (error.type === 'invalid_input' && !confirmLarge && !fieldError(error.message)) {
        this.large = largePrune(error.message);
        // Backups may have been removed before the prune stopped.
        this.#onApplied();
      } else {
        this.applyError = error;
      }
      return false;
    } finally {
      this.applying = false;
    }
  }

  /** The person confirmed it is them: apply what was asked. */
  async confirmed(): Promise<boolean> {
    this.confirmation = null;
    return this.apply(this.#pendingLarge);
  }

  /** The person closed "Confirm it's you": nothing is deleted. */
  cancelConfirmation(): void {
    this.confirmation = null;
  }

  /** Forget what was shown (signed out). */
  reset(): void {
    this.settings = null;
    this.loadError = null;
    this.saveError = null;
    this.fieldErrors = {};
    this.preview = null;
    this.previewError = null;
    this.applyError = null;
    this.large = null;
    this.outcome = null;
    this.waiting = null;
    this.confirmation = null;
    this.#expected = [];
  }
}
