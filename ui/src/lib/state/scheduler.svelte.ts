import type { Backend, ScheduleSettings, SchedulerStatus, Unsubscribe } from '../ipc';
import { toBackendError, type BackendError } from '../ipc';

/** When backups run, whether they are paused, and the bandwidth limits; live from `scheduler-changed`. */
export class SchedulerState {
  status = $state<SchedulerStatus | null>(null);
  loading = $state(false);
  error = $state<BackendError | null>(null);
  /** Which action runs now: 'save' | 'pause' | 'resume'. */
  busy = $state<string | null>(null);
  actionError = $state<BackendError | null>(null);

  readonly #backend: Backend;
  #unsubscribe: Unsubscribe[] = [];

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  get paused(): boolean {
    const s = this.status;
    if (!s) return false;
    return s.paused_indefinitely || (s.paused_until !== null && s.paused_until > Date.now());
  }

  async attach(): Promise<void> {
    if (this.#unsubscribe.length > 0) return;
    this.#unsubscribe = [await this.#backend.onSchedulerChanged((s) => (this.status = s))];
  }

  detach(): void {
    for (const stop of this.#unsubscribe) stop();
    this.#unsubscribe = [];
  }

  async load(): Promise<void> {
    this.loading = true;
    this.error = null;
    try {
      this.status = await this.#backend.schedulerStatus();
    } catch (reason) {
      this.error = toBackendError(reason);
    } finally {
      this.loading = false;
    }
  }

  save(settings: ScheduleSettings): Promise<boolean> {
    return this.#run('save', () => this.#backend.setSchedule(settings));
  }

  /** null = until resumed. */
  pause(minutes: number | null): Promise<boolean> {
    return this.#run('pause', () => this.#backend.pauseBackups(minutes));
  }

  resume(): Promise<boolean> {
    return this.#run('resume', () => this.#backend.resumeBackups());
  }

  async #run(name: string, action: () => Promise<SchedulerStatus>): Promise<boolean> {
    this.busy = name;
    this.actionError = null;
    try {
      this.status = await action();
      return true;
    } catch (reason) {
      this.actionError = toBackendError(reason);
      return false;
    } finally {
      this.busy = null;
    }
  }
}
