import { toBackendError, type BackendError } from '../ipc';

/**
 * One thing loaded from the agent: its data, whether it is loading, and the
 * error if it failed. Screens render the four states (empty, loading, error,
 * loaded) from these three fields.
 */
export class Resource<T> {
  data = $state<T | null>(null);
  loading = $state(false);
  error = $state<BackendError | null>(null);

  readonly #fetch: () => Promise<T>;
  #seq = 0;

  constructor(fetch: () => Promise<T>) {
    this.#fetch = fetch;
  }

  /** Loads (again); an older answer that arrives late is dropped. */
  async load(): Promise<void> {
    const mine = ++this.#seq;
    this.loading = true;
    this.error = null;
    try {
      const data = await this.#fetch();
      if (mine === this.#seq) this.data = data;
    } catch (reason) {
      if (mine === this.#seq) this.error = toBackendError(reason);
    } finally {
      if (mine === this.#seq) this.loading = false;
    }
  }

  /** Replaces the data with what a command returned (e.g. the list after a revoke). */
  set(data: T): void {
    this.data = data;
    this.error = null;
  }
}

/** Runs an action, keeping its busy flag and error; resolves to its result or null on failure. */
export class Action<A extends unknown[], T> {
  busy = $state(false);
  error = $state<BackendError | null>(null);

  readonly #run: (...args: A) => Promise<T>;

  constructor(run: (...args: A) => Promise<T>) {
    this.#run = run;
  }

  async run(...args: A): Promise<T | null> {
    this.busy = true;
    this.error = null;
    try {
      return await this.#run(...args);
    } catch (reason) {
      this.error = toBackendError(reason);
      return null;
    } finally {
      this.busy = false;
    }
  }
}
