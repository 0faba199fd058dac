import type { Backend, IpcError, KeyMode, KeyProgress, KeyStatus, Unsubscribe } from '../ipc';
import { toBackendError, type BackendError } from '../ipc';

/**
 * Where the window remembers that the recovery kit of the switch under way was
 * saved (the account id, never the code), so finishing an interrupted switch
 * after a restart does not show the kit again.
 */
const KIT_SAVED_KEY = 'coffer.keySwitch.kitSaved';

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;
  }
}

/** The key mode and the background work of a mode switch (`key-progress` / `key-finished` / `key-failed`). */
export class EncryptionState {
  status = $state<KeyStatus | null>(null);
  loading = $state(false);
  error = $state<BackendError | null>(null);
  progress = $state<KeyProgress | null>(null);
  switchFailed = $state<IpcError | null>(null);
  /** Set when a switch finished while the window was open. */
  switchDone = $state(false);

  readonly #backend: Backend;
  #unsubscribe: Unsubscribe[] = [];

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  get switching(): boolean {
    return this.progress !== null || (this.status?.switch_in_progress ?? false);
  }

  /**
   * A switch is recorded on this device but nothing is running it: it was
   * interrupted (quit, crash, or `key-failed`). The new key and the password
   * finish it (`switchMode('private', …)` again).
   */
  get interrupted(): boolean {
    return this.progress === null && (this.status?.switch_in_progress ?? false);
  }

  async attach(): Promise<void> {
    if (this.#unsubscribe.length > 0) return;
    this.#unsubscribe = await Promise.all([
      this.#backend.onKeyProgress((p) => {
        this.progress = p;
        this.switchFailed = null;
      }),
      this.#backend.onKeyFinished((s) => {
        this.status = s;
        this.progress = null;
        this.switchFailed = null;
        this.switchDone = true;
        storage()?.removeItem(KIT_SAVED_KEY);
      }),
      this.#backend.onKeyFailed((e) => {
        this.progress = null;
        this.switchFailed = e;
        // The switch may still be recorded (it can be finished) or have been abandoned.
        void this.refresh();
      }),
    ]);
  }

  detach(): void {
    for (const stop of this.#unsubscribe) stop();
    this.#unsubscribe = [];
  }

  async load(): Promise<void> {
    this.loading = true;
    this.error = null;
    try {
      this.status = await this.#backend.keyStatus();
    } catch (reason) {
      this.error = toBackendError(reason);
    } finally {
      this.loading = false;
    }
  }

  /** Reads the status again without a loading state; a failure keeps what is shown. */
  async refresh(): Promise<void> {
    try {
      const status = await this.#backend.keyStatus();
      // A switch that started meanwhile reports its own progress.
      if (this.progress === null || status.switch_in_progress) this.status = status;
    } catch {
      // The page keeps the last status it had.
    }
  }

  /** Rejects with a BackendError (the dialogs show it next to the field). */
  async lockNow(): Promise<KeyStatus> {
    this.status = await this.#backend.lockNow();
    return this.status;
  }

  async changeKey(currentKey: string, newKey: string, password: string): Promise<KeyStatus> {
    this.status = await this.#backend.changeKey(currentKey, newKey, password);
    return this.status;
  }

  /**
   * Resolves to the new recovery code when switching to private. Called again
   * with the same new key while a switch is `interrupted`, it finishes that
   * switch (and resolves to the same code).
   */
  async switchMode(to: KeyMode, key: string | null, password: string): Promise<string | null> {
    const resuming = this.interrupted;
    const code = await this.#backend.switchKeyMode(to, key, password);
    // A new switch makes a new recovery code: whatever was saved before is not it.
    if (!resuming) storage()?.removeItem(KIT_SAVED_KEY);
    this.switchDone = false;
    this.switchFailed = null;
    if (this.status) this.status = { ...this.status, switch_in_progress: true };
    this.progress = { stage: 'Starting', done: 0, total: 0 };
    return code;
  }

  /** Whether the person said they saved the recovery kit of the switch under way. */
  kitSaved(accountId: string): boolean {
    return storage()?.getItem(KIT_SAVED_KEY) === accountId;
  }

  markKitSaved(accountId: string): void {
    try {
      storage()?.setItem(KIT_SAVED_KEY, accountId);
    } catch {
      // Without storage the kit is shown again when a switch is finished.
    }
  }
}
