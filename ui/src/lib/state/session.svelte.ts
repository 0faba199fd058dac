import type { AccountInfo, Backend, BackupProgress, Profile, SignInRequest, SignUpRequest } from '../ipc';
import { toBackendError, type BackendError } from '../ipc';

export const DEFAULT_SERVER_URL = 'http://127.0.0.1:8750';

/**
 * - `recovery_kit`: just signed up with a private key; the recovery code is shown once.
 * - `locked`: signed in to a private-key account whose key is not entered on this device.
 */
export type SessionPhase = 'loading' | 'signed_out' | 'recovery_kit' | 'locked' | 'signed_in' | 'unavailable';

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
  /** The new private key's recovery code, only while the recovery kit shows. */
  recoveryCode = $state<string | null>(null);
  /** Said on the Welcome screen after leaving (account deleted, signed out everywhere). */
  notice = $state<string | null>(null);

  readonly backend: Backend;

  constructor(backend: Backend) {
    this.backend = backend;
  }

  get displayName(): string {
    if (!this.account) return '';
    return `${this.account.first_name} ${this.account.last_name}`.trim();
  }

  async load(): Promise<void> {
    this.phase = 'loading';
    this.loadError = null;
    try {
      const status = await this.backend.appStatus();
      this.serverUrl = status.server_url || DEFAULT_SERVER_URL;
      this.keychainAvailable = status.keychain_available;
      this.runningBackup = status.backup;
      this.account = status.signed_in ? status.account : null;
      if (!status.signed_in || !status.account) this.phase = 'signed_out';
      else this.phase = status.locked ? 'locked' : 'signed_in';
    } catch (reason) {
      this.loadError = toBackendError(reason);
      this.phase = 'unavailable';
    }
  }

  /** Rejects with a BackendError; the form decides where to show it. */
  async signUp(request: SignUpRequest): Promise<void> {
    const result = await this.backend.signUp(request);
    this.#remember(result.account);
    this.notice = null;
    if (result.recovery_code) {
      this.recoveryCode = result.recovery_code;
      this.phase = 'recovery_kit';
    } else {
      this.phase = 'signed_in';
    }
  }

  async signIn(request: SignInRequest): Promise<void> {
    const account = await this.backend.signIn(request);
    this.#remember(account);
    this.notice = null;
    // A private-key account signs in locked on a new device: ask the agent.
    let locked = false;
    try {
      locked = (await this.backend.appStatus()).locked;
    } catch {
      // The agent answered the sign-in; if it cannot say more, carry on and let the screens report.
    }
    this.phase = locked ? 'locked' : 'signed_in';
  }

  /**
   * Cancels the account's scheduled deletion and signs in with the same
   * request. Rejects with a BackendError, like signIn.
   */
  async restoreAccount(request: SignInRequest): Promise<void> {
    const account = await this.backend.restoreAccount(request);
    this.#remember(account);
    this.notice = null;
    let locked = false;
    try {
      locked = (await this.backend.appStatus()).locked;
    } catch {
      // As after signing in: the screens report what is wrong.
    }
    this.phase = locked ? 'locked' : 'signed_in';
  }

  /** The profile as the service has it now (saved, or a new email confirmed): the name and email follow. */
  profileChanged(profile: Profile): void {
    if (!this.account) return;
    const { first_name, last_name, email } = profile;
    const a = this.account;
    if (a.first_name !== first_name || a.last_name !== last_name || a.email !== email) this.account = { ...a, first_name, last_name, email };
  }

  /** The recovery kit was saved: on to the app. Forgets the code. */
  finishRecoveryKit(): void {
    this.recoveryCode = null;
    if (this.phase === 'recovery_kit') this.phase = 'signed_in';
  }

  /**
   * Started over with a new key (the old backups are gone): a private key's
   * recovery code is shown once, as after sign-up; then the app.
   */
  startedOver(recoveryCode: string | null): void {
    if (this.phase !== 'locked') return;
    this.runningBackup = null;
    if (recoveryCode) {
      this.recoveryCode = recoveryCode;
      this.phase = 'recovery_kit';
    } else {
      this.phase = 'signed_in';
    }
  }

  unlocked(): void {
    if (this.phase === 'locked') this.phase = 'signed_in';
  }

  locked(): void {
    if (this.phase === 'signed_in') this.phase = 'locked';
  }

  async signOut(): Promise<void> {
    this.signingOut = true;
    try {
      await this.backend.signOut();
      this.signedOut();
    } finally {
      this.signingOut = false;
    }
  }

  /** The agent already signed this device out (sign out everywhere, account deleted). */
  signedOut(notice: string | null = null): void {
    this.account = null;
    this.runningBackup = null;
    this.recoveryCode = null;
    this.notice = notice;
    this.phase = 'signed_out';
  }

  #remember(account: AccountInfo) {
    this.account = account;
    this.serverUrl = account.server_url || this.serverUrl;
  }
}
