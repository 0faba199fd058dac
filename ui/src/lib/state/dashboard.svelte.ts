import type { Backend, Dashboard, FolderInfo, VerifyReport } from '../ipc';
import { toBackendError, type BackendError } from '../ipc';

/** The Overview screen's data: account, quota, last backup, folders. */
export class DashboardState {
  data = $state<Dashboard | null>(null);
  loading = $state(false);
  error = $state<BackendError | null>(null);
  /** Path of the folder being removed, to disable its button. */
  removing = $state<string | null>(null);

  verifyReport = $state<VerifyReport | null>(null);
  verifying = $state(false);
  verifyError = $state<BackendError | null>(null);

  readonly #backend: Backend;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  get folders(): FolderInfo[] {
    return this.data?.folders ?? [];
  }

  async load(): Promise<void> {
    this.loading = true;
    this.error = null;
    try {
      this.data = await this.#backend.dashboard();
    } catch (reason) {
      this.error = toBackendError(reason);
    } finally {
      this.loading = false;
    }
  }

  /** Rejects with a BackendError so the Add folder form can show it next to the field. */
  async addFolder(path: string): Promise<void> {
    const folders = await this.#backend.addFolder(path);
    if (this.data) this.data.folders = folders;
    else await this.load();
  }

  async removeFolder(path: string): Promise<void> {
    this.removing = path;
    this.error = null;
    try {
      const folders = await this.#backend.removeFolder(path);
      if (this.data) this.data.folders = folders;
    } catch (reason) {
      this.error = toBackendError(reason);
    } finally {
      this.removing = null;
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
