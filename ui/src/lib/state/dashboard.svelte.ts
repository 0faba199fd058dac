import type { Backend, Dashboard, FolderInfo } from '../ipc';
import { toBackendError, type BackendError } from '../ipc';

/** The Overview screen's data: account, quota, last backup, folders. */
export class DashboardState {
  data = $state<Dashboard | null>(null);
  loading = $state(false);
  error = $state<BackendError | null>(null);
  /** Path of the folder being removed, to disable its button. */
  removing = $state<string | null>(null);

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
}
