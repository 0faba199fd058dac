import type { Backend, BackupProgress, BackupReport, IpcError, Unsubscribe } from '../ipc';
import { toBackendError } from '../ipc';

/**
 * One backup run as the person sees it: starting, live progress from the
 * agent's events, then a report or a failure.
 */
export class BackupState {
  progress = $state<BackupProgress | null>(null);
  report = $state<BackupReport | null>(null);
  error = $state<IpcError | null>(null);
  starting = $state(false);

  readonly #backend: Backend;
  readonly #onSettled: () => void;
  readonly #onStarted: () => void;
  #unsubscribe: Unsubscribe[] = [];

  /**
   * `onSettled` runs after a run finishes or fails, `onStarted` when the agent
   * starts one by itself (schedule, tray, a folder just added): e.g. to reload
   * the dashboard.
   */
  constructor(backend: Backend, onSettled: () => void = () => {}, onStarted: () => void = () => {}) {
    this.#backend = backend;
    this.#onSettled = onSettled;
    this.#onStarted = onStarted;
  }

  get running(): boolean {
    return this.starting || (this.progress !== null && this.progress.phase !== 'done');
  }

  /** 0..1 of the running backup, by bytes once known, else by files. */
  get fraction(): number {
    const p = this.progress;
    if (!p) return 0;
    if (p.phase === 'done') return 1;
    if (p.bytes_total > 0) return Math.min(1, p.bytes_done / p.bytes_total);
    if (p.files_total > 0) return Math.min(1, p.files_done / p.files_total);
    return 0;
  }

  /** Starts listening to the agent's backup events; safe to call twice. */
  async attach(): Promise<void> {
    if (this.#unsubscribe.length > 0) return;
    this.#unsubscribe = await Promise.all([
      this.#backend.onBackupProgress((p) => this.#progress(p)),
      this.#backend.onBackupFinished((r) => this.#finished(r)),
      this.#backend.onBackupFailed((e) => this.#failed(e)),
    ]);
  }

  detach(): void {
    for (const stop of this.#unsubscribe) stop();
    this.#unsubscribe = [];
  }

  /** Shows a run the agent already had going when the window opened. */
  adopt(progress: BackupProgress | null): void {
    if (progress && progress.phase !== 'done' && !this.running) {
      this.progress = progress;
      this.report = null;
      this.error = null;
    }
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.starting = true;
    this.report = null;
    this.error = null;
    this.progress = {
      phase: 'scanning',
      files_done: 0,
      files_total: 0,
      bytes_done: 0,
      bytes_total: 0,
      current_file: null,
      bytes_per_second: 0,
      eta_seconds: null,
      skipped: 0,
    };
    try {
      await this.#backend.backupNow();
    } catch (reason) {
      const error = toBackendError(reason);
      if (error.type === 'busy') {
        // One is already running (started by the schedule or the tray): keep showing its progress.
        return;
      }
      this.progress = null;
      this.error = { type: error.type, message: error.message };
    } finally {
      this.starting = false;
    }
  }

  dismiss(): void {
    if (this.running) return;
    this.progress = null;
    this.report = null;
    this.error = null;
  }

  #progress(progress: BackupProgress) {
    const fresh = !this.running && progress.phase !== 'done';
    this.progress = progress;
    this.error = null;
    if (fresh) {
      this.report = null;
      this.#onStarted();
    }
  }

  #finished(report: BackupReport) {
    const last = this.progress;
    this.progress = {
      phase: 'done',
      files_done: report.files_total,
      files_total: report.files_total,
      bytes_done: last?.bytes_total ?? report.bytes_read,
      bytes_total: last?.bytes_total ?? report.bytes_read,
      current_file: null,
      bytes_per_second: 0,
      eta_seconds: 0,
      skipped: report.skipped.length,
    };
    this.report = report;
    this.error = null;
    this.starting = false;
    this.#onSettled();
  }

  #failed(error: IpcError) {
    this.progress = null;
    this.error = error;
    this.starting = false;
    this.#onSettled();
  }
}
