import type { Backend, IpcError, KeyMode, KeyProgress, KeyStatus, Unsubscribe } from '../ipc';
import { toBackendError, type BackendError } from '../ipc';

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
        this.switchDone = true;
      }),
      this.#backend.onKeyFailed((e) => {
        this.progress = null;
        this.switchFailed = e;
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

  /** Rejects with a BackendError (the dialogs show it next to the field). */
  async lockNow(): Promise<KeyStatus> {
    this.status = await this.#backend.lockNow();
    return this.status;
  }

  async changeKey(currentKey: string, newKey: string, password: string): Promise<KeyStatus> {
    this.status = await this.#backend.changeKey(currentKey, newKey, password);
    return this.status;
  }

  /** Resolves to the new recovery code when switching to private. */
  async switchMode(to: KeyMode, key: string | null, password: string): Promise<string | null> {
    const code = await this.#backend.switchKeyMode(to, key, password);
    this.switchDone = false;
    this.switchFailed = null;
    if (this.status) this.status = { ...this.status, switch_in_progress: true };
    this.progress = { stage: 'Starting', done: 0, total: 0 };
    return code;
  }
}
