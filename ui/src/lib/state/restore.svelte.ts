import { SvelteSet } from 'svelte/reactivity';
import type {
  Backend,
  ConflictPolicy,
  DeviceInfo,
  FileVersion,
  RestoreProgress,
  RestoreSummary,
  SearchHit,
  SnapshotInfo,
  TreeEntry,
  Unsubscribe,
} from '../ipc';
import { toBackendError, type BackendError } from '../ipc';
import { baseName } from '../format';

export type RestoreWhere = 'folder' | 'original';
export type Crumb = { label: string; path: string | null };

function under(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith('/') || root.endsWith('\\') ? root : `${root}/`) || path.startsWith(`${root}\\`);
}

/**
 * The Restore screen: device → backup (timeline) → folder tree as it was →
 * search → one file's versions → a selection → where to, and what to do on a
 * conflict → progress → result.
 */
export class RestoreState {
  snapshots = $state<SnapshotInfo[] | null>(null);
  devices = $state<DeviceInfo[] | null>(null);
  loading = $state(false);
  loadError = $state<BackendError | null>(null);

  /** "" = every device. */
  deviceId = $state('');
  snapshotId = $state('');

  /** The folder shown in the tree; null = the backed-up folders themselves. */
  path = $state<string | null>(null);
  entries = $state<TreeEntry[] | null>(null);
  browsing = $state(false);
  browseError = $state<BackendError | null>(null);

  query = $state('');
  searchAll = $state(false);
  /** The query the hits answer; null = not searching. */
  searchedFor = $state<string | null>(null);
  hits = $state<SearchHit[] | null>(null);
  searching = $state(false);
  searchError = $state<BackendError | null>(null);

  /** Paths chosen in the current backup; empty = the whole backup. */
  readonly chosen = new SvelteSet<string>();

  versionsFor = $state<string | null>(null);
  versions = $state<FileVersion[] | null>(null);
  versionsLoading = $state(false);
  versionsError = $state<BackendError | null>(null);

  where = $state<RestoreWhere>('folder');
  target = $state('');
  conflict = $state<ConflictPolicy>('keep_both');
  targetError = $state('');

  restoring = $state(false);
  progress = $state<RestoreProgress | null>(null);
  result = $state<RestoreSummary | null>(null);
  error = $state<BackendError | null>(null);

  readonly #backend: Backend;
  #unsubscribe: Unsubscribe[] = [];
  /**
   * The person chose a backup themselves (select, timeline, a search hit, a
   * version, or ticked files in it) in this visit of the screen: keep it. Until
   * then the screen follows the newest backup, so a backup made meanwhile shows
   * up chosen.
   */
  #pinned = false;
  #browseSeq = 0;
  #searchSeq = 0;

  /** The agent, for dialogs opened from the browser (sharing). */
  get backend(): Backend {
    return this.#backend;
  }

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  get selected(): SnapshotInfo | null {
    return this.snapshots?.find((s) => s.id === this.snapshotId) ?? null;
  }

  /** The backups of the chosen device, newest first. */
  get visibleSnapshots(): SnapshotInfo[] {
    const all = this.snapshots ?? [];
    return this.deviceId ? all.filter((s) => s.device_id === this.deviceId) : all;
  }

  /** Devices to choose from: the agent's list, or what the backups say when it has none. */
  get deviceChoices(): { id: string; name: string; thisDevice: boolean; count: number }[] {
    if (this.devices && this.devices.length > 0)
      return this.devices.map((d) => ({ id: d.device_id, name: d.device_name, thisDevice: d.this_device, count: d.snapshots }));
    const seen = new Map<string, { id: string; name: string; thisDevice: boolean; count: number }>();
    for (const s of this.snapshots ?? []) {
      const d = seen.get(s.device_id) ?? { id: s.device_id, name: s.device_name, thisDevice: false, count: 0 };
      d.count += 1;
      seen.set(s.device_id, d);
    }
    return [...seen.values()];
  }

  get crumbs(): Crumb[] {
    const crumbs: Crumb[] = [{ label: 'All folders', path: null }];
    const path = this.path;
    if (path === null) return crumbs;
    const root = this.selected?.roots.find((r) => under(path, r));
    if (!root) return [...crumbs, { label: baseName(path), path }];
    crumbs.push({ label: baseName(root), path: root });
    const rest = path.slice(root.length).split(/[\\/]/).filter(Boolean);
    let current = root;
    for (const part of rest) {
      current = `${current.replace(/[\\/]$/, '')}/${part}`;
      crumbs.push({ label: part, path: current });
    }
    return crumbs;
  }

  /** Where a path lives, for search results: "Documents › Taxes › 2023". */
  folderLabel(path: string): string {
    const parent = path.replace(/[\\/][^\\/]*$/, '');
    const roots = new Set((this.snapshots ?? []).flatMap((s) => s.roots));
    const root = [...roots].filter((r) => under(parent, r)).sort((a, b) => b.length - a.length)[0];
    if (!root) return parent;
    const rest = parent.slice(root.length).split(/[\\/]/).filter(Boolean);
    return [baseName(root), ...rest].join(' › ');
  }

  async attach(): Promise<void> {
    if (this.#unsubscribe.length > 0) return;
    this.#unsubscribe = [await this.#backend.onRestoreProgress((p) => (this.progress = p))];
  }

  detach(): void {
    for (const stop of this.#unsubscribe) stop();
    this.#unsubscribe = [];
  }

  /** True once the person chose a backup themselves in this visit. */
  get pinned(): boolean {
    return this.#pinned;
  }

  /**
   * The screen opens (again): a new visit. Follows the newest backup until the
   * person chooses one; the folder and files they had chosen carry over when
   * the newest backup is the one they were looking at.
   */
  async visit(): Promise<void> {
    this.#pinned = false;
    await this.load();
  }

  /**
   * Lists backups and devices. Keeps the backup the person chose in this visit
   * while it exists; otherwise shows the newest one (of the chosen device).
   */
  async load(): Promise<void> {
    this.loading = true;
    this.loadError = null;
    try {
      const [snapshots, devices] = await Promise.all([
        this.#backend.listSnapshots(),
        // The device list only refines the choice: without it the backups still name their devices.
        this.#backend.listDevices().catch(() => null),
      ]);
      this.snapshots = snapshots;
      this.devices = devices;
      if (this.deviceId && !snapshots.some((s) => s.device_id === this.deviceId)) this.deviceId = '';
      // A restore under way also holds its backup: its result belongs to it.
      const kept = (this.#pinned || this.restoring) && this.visibleSnapshots.some((s) => s.id === this.snapshotId);
      if (!kept) {
        this.#pinned = false;
        const newest = this.#newest()?.id ?? '';
        if (newest !== this.snapshotId || !this.selected) this.#show(newest);
      }
    } catch (reason) {
      this.loadError = toBackendError(reason);
    } finally {
      this.loading = false;
    }
  }

  /** The newest of the visible backups (the list comes newest first, but do not rely on it). */
  #newest(): SnapshotInfo | null {
    return this.visibleSnapshots.reduce<SnapshotInfo | null>((best, s) => (!best || s.time > best.time ? s : best), null);
  }

  /** Narrows to one device ("" = all): keeps the chosen backup if it is that device's, else its newest. */
  selectDevice(id: string): void {
    this.deviceId = id;
    if (!this.visibleSnapshots.some((s) => s.id === this.snapshotId)) {
      this.#pinned = false;
      this.#show(this.#newest()?.id ?? '');
    }
  }

  /**
   * The person chooses a backup: it stays chosen for this visit, even when a
   * newer one appears. The tree opens at the same folder if that backup has it.
   */
  select(id: string, path: string | null = this.path): void {
    this.#pinned = true;
    this.#show(id, path);
  }

  /** Shows a backup without counting it as the person's choice. */
  #show(id: string, path: string | null = this.path): void {
    const changed = id !== this.snapshotId;
    this.snapshotId = id;
    this.result = null;
    if (changed) this.chosen.clear();
    const snapshot = this.selected;
    if (!snapshot) {
      this.entries = null;
      this.path = null;
      return;
    }
    const keep = path !== null && snapshot.roots.some((r) => under(path, r)) ? path : null;
    if (changed || this.entries === null || keep !== this.path) void this.open(keep);
  }

  async open(path: string | null): Promise<void> {
    const snapshot = this.selected;
    if (!snapshot) return;
    const mine = ++this.#browseSeq;
    this.path = path;
    this.browsing = true;
    this.browseError = null;
    try {
      const entries = await this.#backend.browse(snapshot.id, path);
      if (mine === this.#browseSeq) this.entries = sortEntries(entries);
    } catch (reason) {
      if (mine === this.#browseSeq) {
        this.browseError = toBackendError(reason);
        this.entries = null;
      }
    } finally {
      if (mine === this.#browseSeq) this.browsing = false;
    }
  }

  async search(): Promise<void> {
    const query = this.query.trim();
    if (!query) {
      this.clearSearch();
      return;
    }
    const mine = ++this.#searchSeq;
    this.searchedFor = query;
    this.searching = true;
    this.searchError = null;
    try {
      const hits = await this.#backend.searchFiles(query, this.searchAll ? null : this.snapshotId || null);
      if (mine === this.#searchSeq) this.hits = hits;
    } catch (reason) {
      if (mine === this.#searchSeq) {
        this.searchError = toBackendError(reason);
        this.hits = null;
      }
    } finally {
      if (mine === this.#searchSeq) this.searching = false;
    }
  }

  clearSearch(): void {
    this.#searchSeq++;
    this.query = '';
    this.searchedFor = null;
    this.hits = null;
    this.searching = false;
    this.searchError = null;
  }

  /** A hit (maybe from another backup): switch to that backup, open its folder, choose it. */
  goToHit(hit: SearchHit): void {
    const parent = hit.path.replace(/[\\/][^\\/]*$/, '') || null;
    this.clearSearch();
    if (this.deviceId && !this.snapshots?.some((s) => s.id === hit.snapshot_id && s.device_id === this.deviceId)) this.deviceId = '';
    this.select(hit.snapshot_id, parent);
    if (this.snapshotId === hit.snapshot_id) this.chosen.add(hit.path);
  }

  /** Ticking files in a backup chooses that backup too. */
  toggle(path: string): void {
    this.#pinned = true;
    if (this.chosen.has(path)) this.chosen.delete(path);
    else this.chosen.add(path);
  }

  /** Chooses (or un-chooses) everything listed in the tree or the search. */
  toggleAll(paths: string[]): void {
    this.#pinned = true;
    const all = paths.length > 0 && paths.every((p) => this.chosen.has(p));
    for (const p of paths) {
      if (all) this.chosen.delete(p);
      else this.chosen.add(p);
    }
  }

  async showVersions(path: string): Promise<void> {
    this.versionsFor = path;
    this.versions = null;
    this.versionsError = null;
    this.versionsLoading = true;
    try {
      const versions = await this.#backend.fileVersions(path);
      if (this.versionsFor === path) this.versions = versions;
    } catch (reason) {
      if (this.versionsFor === path) this.versionsError = toBackendError(reason);
    } finally {
      if (this.versionsFor === path) this.versionsLoading = false;
    }
  }

  closeVersions(): void {
    this.versionsFor = null;
    this.versions = null;
    this.versionsError = null;
  }

  /** "Restore this version": its backup, its folder, and only it chosen. */
  chooseVersion(version: FileVersion): void {
    const path = this.versionsFor;
    if (!path) return;
    this.closeVersions();
    this.clearSearch();
    if (this.deviceId && !this.snapshots?.some((s) => s.id === version.snapshot_id && s.device_id === this.deviceId)) this.deviceId = '';
    const parent = path.replace(/[\\/][^\\/]*$/, '') || null;
    this.select(version.snapshot_id, parent);
    this.chosen.clear();
    this.chosen.add(path);
  }

  async pickTarget(): Promise<void> {
    try {
      const picked = await this.#backend.pickFolder();
      if (picked) {
        this.target = picked;
        this.where = 'folder';
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
    if (this.where === 'folder' && !target) {
      this.targetError = 'Choose the folder to restore into.';
      return;
    }
    this.targetError = '';
    if (!this.selected) return;
    this.restoring = true;
    this.progress = null;
    try {
      this.result = await this.#backend.restore({
        snapshot_id: this.selected.id,
        paths: [...this.chosen],
        target: this.where === 'folder' ? target : null,
        conflict: this.conflict,
      });
    } catch (reason) {
      this.error = toBackendError(reason);
    } finally {
      this.restoring = false;
      this.progress = null;
    }
  }

  /** Forgets everything (sign out). */
  reset(): void {
    this.snapshots = null;
    this.devices = null;
    this.deviceId = '';
    this.snapshotId = '';
    this.#pinned = false;
    this.path = null;
    this.entries = null;
    this.chosen.clear();
    this.clearSearch();
    this.result = null;
    this.target = '';
    this.where = 'folder';
  }
}

/** Folders first, then by name, like a file manager. */
export function sortEntries(entries: TreeEntry[]): TreeEntry[] {
  return [...entries].sort((a, b) => {
    const dirA = a.kind === 'dir' ? 0 : 1;
    const dirB = b.kind === 'dir' ? 0 : 1;
    return dirA - dirB || a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: 'base' });
  });
}
