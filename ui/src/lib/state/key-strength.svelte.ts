import type { Backend, KeyStrength } from '../ipc';
import { toBackendError, type BackendError } from '../ipc';

/**
 * The strength meter under a new encryption key: asks the agent
 * (`key_strength`) a moment after typing stops, and keeps only the answer for
 * the latest key.
 */
export class KeyStrengthCheck {
  result = $state<KeyStrength | null>(null);
  checking = $state(false);
  error = $state<BackendError | null>(null);

  readonly #backend: Backend;
  readonly #delay: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #seq = 0;
  #checkedKey = '';

  constructor(backend: Backend, delay = 250) {
    this.#backend = backend;
    this.#delay = delay;
  }

  /** Call on every keystroke. */
  update(key: string): void {
    clearTimeout(this.#timer);
    if (!key) {
      this.reset();
      return;
    }
    if (key === this.#checkedKey && this.result) return;
    this.#timer = setTimeout(() => void this.check(key), this.#delay);
  }

  /** Checks now (e.g. on submit); resolves to null when the agent could not say. */
  async check(key: string): Promise<KeyStrength | null> {
    clearTimeout(this.#timer);
    if (key === this.#checkedKey && this.result) return this.result;
    const mine = ++this.#seq;
    this.checking = true;
    this.error = null;
    try {
      const result = await this.#backend.keyStrength(key);
      if (mine === this.#seq) {
        this.result = result;
        this.#checkedKey = key;
      }
      return result;
    } catch (reason) {
      if (mine === this.#seq) {
        this.error = toBackendError(reason);
        this.result = null;
      }
      return null;
    } finally {
      if (mine === this.#seq) this.checking = false;
    }
  }

  reset(): void {
    clearTimeout(this.#timer);
    this.#seq++;
    this.result = null;
    this.error = null;
    this.checking = false;
    this.#checkedKey = '';
  }
}

/**
 * The checks every new private key goes through, in the order a person fixes
 * them; returns the first problem or undefined.
 */
export function keyProblems(
  key: string,
  repeat: string,
  strength: KeyStrength | null,
  password?: string,
): { key?: string; repeat?: string } {
  if (!key) return { key: 'Choose your encryption key.' };
  if (password && key === password) return { key: 'Use a key that is different from your password.' };
  if (!strength) return { key: 'Coffer could not check how strong this key is. Try again in a moment.' };
  if (!strength.acceptable)
    return { key: strength.message ? 'This key is too easy to guess.' : 'This key is too easy to guess. Make it longer, for example a few unrelated words.' };
  if (repeat !== key) return { repeat: repeat ? 'The two keys are not the same.' : 'Type the key again.' };
  return {};
}
