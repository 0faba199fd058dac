import type { Backend, RestoreSummary, SnapshotInfo } from '../ipc';
import { toBackendError, type BackendError } from '../ipc';

/** The Restore screen: which backup, what part of it, where to. */
export class RestoreState {
  snapshots = $state<SnapshotInfo[] | null>(null);
  loading = $state(false);
  loadError = $state<BackendError | null>(null);

  snapshotId = $state('');
  /** "" restores everything; otherwise one of the snapshot's roots. */
  scope = $state('');
  target = $state('');

  restoring = $state(false);
  result = $state<RestoreSummary | null>(null);
  error = $state<BackendError | null>(null);
  targetError = $state('');

  readonly #backend: Backend;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  get selected(): SnapshotInfo | null {
    return this.snapshots?.find((s) => s.id === this.snapshotId) ?? null;
  }

  async load(): Promise<void> {
    this.loading = true;
    this.loadError = null;
    try {
      const snapshots = await this.#backend.listSnapshots();
      this.snapshots = snapshots;
      if (!snapshots.some((s) => s.id === this.snapshotId)) {
        this.select(snapshots[0]?.id ?? '');
      }
    } catch (reason) {
      this.loadError = toBackendError(reason);
    } finally {
      this.loading = false;
    }
  }

  select(id: string): void {
    this.snapshotId = id;
    // A folder from another backup may not exist in this one.
    if (!this.selected?.roots.includes(this.scope)) this.scope = '';
    this.result = null;
  }

  async pickTarget(): Promise<void> {
    try {
      const picked = await this.#backend.pickFolder();
      if (picked) {
        this.target = picked;
        this.targetError = '';
      }
    } catch (reason) {
      this.error = toBackendError(reason);
    }
  }

  async restore(): Promise<void> {
    this.error = null;
    this.result = null;
    const target = this.target.trim();
    if (!target) {
      this.targetError = 'Choose the folder to restore into.';
      return;
    }
    this.targetError = '';
    if (!this.selected) return;
    this.restoring = true;
    try {
      this.result = await this.#backend.restore({
        snapshot_id: this.selected.id,
        paths: this.scope ? [this.scope] : [],
        target,
      });
    } catch (reason) {
      this.error = toBackendError(reason);
    } finally {
      this.restoring = false;
    }
  }
}
