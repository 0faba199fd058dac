import type { AccountInfo, Backend, BackupProgress, SignInRequest, SignUpRequest } from '../ipc';
import { toBackendError, type BackendError } from '../ipc';

export const DEFAULT_SERVER_URL = 'http://127.0.0.1:8750';

export type SessionPhase = 'loading' | 'signed_out' | 'signed_in' | 'unavailable';

/** Who is signed in, as the agent reports it. Views read it; only it changes it. */
export class SessionState {
  phase = $state<SessionPhase>('loading');
  account = $state<AccountInfo | null>(null);
  serverUrl = $state(DEFAULT_SERVER_URL);
  keychainAvailable = $state(true);
  /** A backup already running when the app opened (the agent outlives the window). */
  runningBackup = $state<BackupProgress | null>(null);
  loadError = $state<BackendError | null>(null);
  signingOut = $state(false);

  readonly #backend: Backend;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  get displayName(): string {
    if (!this.account) return '';
    return `${this.account.first_name} ${this.account.last_name}`.trim();
  }

  async load(): Promise<void> {
    this.phase = 'loading';
    this.loadError = null;
    try {
      const status = await this.#backend.appStatus();
      this.serverUrl = status.server_url || DEFAULT_SERVER_URL;
      this.keychainAvailable = status.keychain_available;
      this.runningBackup = status.backup;
      this.account = status.signed_in ? status.account : null;
      this.phase = status.signed_in && status.account ? 'signed_in' : 'signed_out';
    } catch (reason) {
      this.loadError = toBackendError(reason);
      this.phase = 'unavailable';
    }
  }

  /** Rejects with a BackendError; the form decides where to show it. */
  async signUp(request: SignUpRequest): Promise<void> {
    this.#signedIn(await this.#backend.signUp(request));
  }

  async signIn(request: SignInRequest): Promise<void> {
    this.#signedIn(await this.#backend.signIn(request));
  }

  async signOut(): Promise<void> {
    this.signingOut = true;
    try {
      await this.#backend.signOut();
      this.account = null;
      this.runningBackup = null;
      this.phase = 'signed_out';
    } finally {
      this.signingOut = false;
    }
  }

  #signedIn(account: AccountInfo) {
    this.account = account;
    this.serverUrl = account.server_url || this.serverUrl;
    this.phase = 'signed_in';
  }
}
