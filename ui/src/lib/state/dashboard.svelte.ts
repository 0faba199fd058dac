import type { Backend, CleanupWaiting, Dashboard, FolderInfo, VerifyReport } from '../ipc';
import { toBackendError, type BackendError } from '../ipc';

/** The Overview screen's data: account, quota, last backup, folders. */
export class DashboardState {
  data = $state<Dashboard | null>(null);
  loading = $state(false);
  error = $state<BackendError | null>(null);
  /** Path of the folder being removed, to disable its button. */
  removing = $state<string | null>(null);
  /** Automatic cleanup waits for the person to confirm with their password. */
  cleanupWaiting = $state<CleanupWaiting | null>(null);

  verifyReport = $state<VerifyReport | null>(null);
  verifying = $state(false);
  verifyError = $state<BackendError | null>(null);

  readonly #backend: Backend;
  #seq = 0;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  get folders(): FolderInfo[] {
    return this.data?.folders ?? [];
  }

  /** Loads (again); an older answer that arrives after a newer one is dropped. */
  async load(): Promise<void> {
    const mine = ++this.#seq;
    this.loading = true;
    this.error = null;
    try {
      const data = await this.#backend.dashboard();
      if (mine === this.#seq) this.data = data;
    } catch (reason) {
      if (mine === this.#seq) this.error = toBackendError(reason);
    } finally {
      if (mine === this.#seq) this.loading = false;
    }
    try {
      const waiting = await this.#backend.cleanupWaiting();
      if (mine === this.#seq) this.cleanupWaiting = waiting;
    } catch {
      // Only a notice; the status above says what failed, if anything.
    }
  }

  /** Rejects with a BackendError so the Add folder form can show it next to the field. */
  async addFolder(path: string): Promise<void> {
    const folders = await this.#backend.addFolder(path);
    this.#folders(folders);
    // The agent starts a backup of the new folder by itself: pick up everything else that changed.
    void this.load();
  }

  async removeFolder(path: string): Promise<void> {
    this.removing = path;
    this.error = null;
    try {
      const folders = await this.#backend.removeFolder(path);
      this.#folders(folders);
      void this.load();
    } catch (reason) {
      this.error = toBackendError(reason);
    } finally {
      this.removing = null;
    }
  }

  /** Shows the folder list a command returned at once; a load already under way must not bring back the old one. */
  #folders(folders: FolderInfo[]) {
    if (this.data) {
      this.#seq++;
      this.loading = false;
      this.data.folders = folders;
    }
  }

  /** "Verify backup": checks every backup's structure; `readData` also reads and authenticates every stored piece. */
  async verify(readData: boolean): Promise<void> {
    this.verifying = true;
    this.verifyError = null;
    this.verifyReport = null;
    try {
      this.verifyReport = await this.#backend.verifyBackup(readData);
    } catch (reason) {
      this.verifyError = toBackendError(reason);
    } finally {
      this.verifying = false;
    }
  }
}
