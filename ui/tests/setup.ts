import '@testing-library/svelte/vitest';
import { afterEach, beforeEach, vi } from 'vitest';
import { NOW } from './fake-backend';

// Views say "today" and "yesterday": pin the clock (Date only, so timers and waitFor still run).
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
});
