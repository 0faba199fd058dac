import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import { tick } from 'svelte';
import VersionsKept from '../src/lib/views/schedule/VersionsKept.svelte';
import { RetentionState, fieldError, largePrune } from '../src/lib/state/retention.svelte';
import { FakeBackend, RETENTION, deferred, fail, retentionOutcome } from './fake-backend';
import type { RetentionSettings } from '../src/lib/ipc';

async function setup(backend = new FakeBackend()) {
  const onApplied = vi.fn();
  const state = new RetentionState(backend, onApplied);
  const view = render(VersionsKept, { retention: state });
  const $ = (selector: string) => document.querySelector<HTMLElement>(selector);
  await waitFor(() => expect($('#retention-last')).not.toBeNull());
  return { backend, state, onApplied, view, $ };
}

const value = (el: HTMLElement | null) => (el as HTMLInputElement).value;

describe('Versions kept: the rules', () => {
  it('says it is loading, and offers a retry when loading fails', async () => {
    const backend = new FakeBackend();
    const pending = deferred<RetentionSettings>();
    backend.retention.mockReturnValueOnce(pending.promise);
    const view = render(VersionsKept, { retention: new RetentionState(backend) });
    await tick();
    expect(view.container.textContent).toMatch(/Loading/);
    pending.reject(fail('network', 'Offline.'));
    await waitFor(() => expect(view.container.querySelector('#retention-load-error')?.textContent).toMatch(/Offline/));
    await fireEvent.click(view.container.querySelector('#retention-load-error button')!);
    await waitFor(() => expect(view.container.querySelector('#retention-last')).not.toBeNull());
  });

  it('shows the six counts, the recent-days rule and automatic', async () => {
    const { $ } = await setup();
    expect(value($('#retention-last'))).toBe('10');
    expect(value($('#retention-hourly'))).toBe('24');
    expect(value($('#retention-daily'))).toBe('7');
    expect(value($('#retention-weekly'))).toBe('4');
    expect(value($('#retention-monthly'))).toBe('12');
    expect(value($('#retention-yearly'))).toBe('2');
    expect(($('#retention-within-on') as HTMLInputElement).checked).toBe(false);
    expect($('#retention-within-days')).toBeNull();
    expect(($('#retention-automatic') as HTMLInputElement).checked).toBe(true);
  });

  it('saves changed rules, with "keep everything from the last N days"', async () => {
    const { $, backend } = await setup();
    await fireEvent.input($('#retention-daily')!, { target: { value: '30' } });
    await fireEvent.click($('#retention-within-on')!);
    await fireEvent.input($('#retention-within-days')!, { target: { value: '14' } });
    await fireEvent.click($('#retention-automatic')!);
    // Unsaved rules cannot be previewed or applied: those use what is saved.
    expect($('#retention-unsaved')?.textContent).toMatch(/Save the rules/);
    expect(($('#retention-preview') as HTMLButtonElement).disabled).toBe(true);
    expect(($('#retention-apply') as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click($('#retention-save')!);
    await waitFor(() => expect($('#retention-saved')).not.toBeNull());
    expect(backend.setRetention).toHaveBeenCalledWith({ ...RETENTION, keep_daily: 30, keep_within_days: 14, automatic: false });
    expect(($('#retention-preview') as HTMLButtonElement).disabled).toBe(false);
  });

  it('checks the numbers before sending', async () => {
    const { $, backend } = await setup();
    await fireEvent.input($('#retention-weekly')!, { target: { value: 'four' } });
    await fireEvent.input($('#retention-monthly')!, { target: { value: '-1' } });
    await fireEvent.click($('#retention-within-on')!);
    await fireEvent.input($('#retention-within-days')!, { target: { value: '0' } });
    await fireEvent.click($('#retention-save')!);
    expect($('#retention-weekly-error')?.textContent).toMatch(/whole number/);
    expect($('#retention-monthly-error')?.textContent).toMatch(/whole number/);
    expect($('#retention-within-days-error')?.textContent).toMatch(/at least 1 day/);
    expect(backend.setRetention).not.toHaveBeenCalled();
  });

  it('puts the agent’s invalid_input next to the rule it is about', async () => {
    const backend = new FakeBackend();
    backend.setRetention.mockRejectedValueOnce(fail('invalid_input', 'keep_last: keep at least one backup (set any rule above zero)'));
    const { $ } = await setup(backend);
    for (const id of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly']) await fireEvent.input($(`#retention-${id}`)!, { target: { value: '0' } });
    await fireEvent.click($('#retention-save')!);
    await waitFor(() => expect($('#retention-last-error')?.textContent).toMatch(/Keep at least one backup/));
    expect($('#retention-saved')).toBeNull();
  });

  it('other save failures go to a banner', async () => {
    const backend = new FakeBackend();
    backend.setRetention.mockRejectedValueOnce(fail('network', 'Offline.'));
    const { $, view } = await setup(backend);
    await fireEvent.input($('#retention-last')!, { target: { value: '3' } });
    await fireEvent.click($('#retention-save')!);
    await waitFor(() => expect(view.container.textContent).toMatch(/The rules were not saved.*Offline\./s));
  });
});

describe('Versions kept: preview and apply', () => {
  it('previews what would be removed, with dates, and changes nothing', async () => {
    const { $, backend, onApplied } = await setup();
    await fireEvent.click($('#retention-preview')!);
    await waitFor(() => expect($('#retention-preview-result')).not.toBeNull());
    expect(backend.applyRetention).toHaveBeenCalledWith(true, false);
    const items = [...document.querySelectorAll('#retention-removed li')];
    expect(items.map((li) => li.getAttribute('data-snapshot'))).toEqual(['snap-old-1', 'snap-old-2']);
    expect(items[0].textContent).toMatch(/May.*ada-laptop · 1,284 files/);
    expect($('#retention-preview-result')?.textContent).toMatch(/would remove 2 older backups and keep\s+8 backups/);
    expect($('#retention-preview-result')?.textContent).toMatch(/Nothing has been removed yet/);
    expect(onApplied).not.toHaveBeenCalled();
  });

  it('says so when the rules remove nothing', async () => {
    const backend = new FakeBackend();
    backend.applyRetention.mockResolvedValueOnce(retentionOutcome({ removed: [], kept: 3 }));
    const { $ } = await setup(backend);
    await fireEvent.click($('#retention-preview')!);
    await waitFor(() => expect($('#retention-preview-result')?.textContent).toMatch(/Nothing to remove: these rules keep all 3 backups/));
  });

  it('applies after a confirmation, then says what was kept, removed, freed and waiting', async () => {
    const { $, backend, onApplied } = await setup();
    await fireEvent.click($('#retention-apply')!);
    await waitFor(() => expect($('#retention-apply-dialog')).not.toBeNull());
    expect(backend.applyRetention).toHaveBeenLastCalledWith(true, false);
    expect($('#retention-apply-dialog')?.textContent).toMatch(/2 older backups are removed, made\s+between/);
    expect($('#retention-apply-dialog')?.textContent).toMatch(/holds what is removed for 7 days/);
    await fireEvent.click($('#retention-apply-confirm')!);
    await waitFor(() => expect($('#retention-outcome')).not.toBeNull());
    expect(backend.applyRetention).toHaveBeenLastCalledWith(false, false);
    expect($('#retention-apply-dialog')).toBeNull();
    const outcome = $('#retention-outcome')!;
    expect(outcome.dataset).toMatchObject({ kept: '8', removed: '2', freed: '1500000000', waiting: '800000000' });
    expect(outcome.textContent).toMatch(/Removed 2 older backups; 8 backups are kept/);
    expect($('#retention-freed')?.textContent).toMatch(/1.5 GB of storage space was given back/);
    expect($('#retention-waiting')?.textContent).toMatch(/Another 800 MB will be given back in about a day.*24 hours/s);
    expect(onApplied).toHaveBeenCalledTimes(1);
  });

  it('"Apply now…" is the busy button while it works out what would go', async () => {
    const backend = new FakeBackend();
    const pending = deferred<ReturnType<typeof retentionOutcome>>();
    backend.applyRetention.mockReturnValueOnce(pending.promise);
    const { $ } = await setup(backend);
    await fireEvent.click($('#retention-apply')!);
    expect($('#retention-apply')?.getAttribute('aria-busy')).toBe('true');
    expect($('#retention-preview')?.getAttribute('aria-busy')).not.toBe('true');
    expect(($('#retention-preview') as HTMLButtonElement).disabled).toBe(true);
    pending.resolve(retentionOutcome());
    await waitFor(() => expect($('#retention-apply-dialog')).not.toBeNull());
  });

  it('Cancel changes nothing', async () => {
    const { $, backend } = await setup();
    await fireEvent.click($('#retention-apply')!);
    await waitFor(() => expect($('#retention-apply-dialog')).not.toBeNull());
    await fireEvent.click([...document.querySelectorAll<HTMLElement>('#retention-apply-dialog button')].find((b) => b.textContent?.trim() === 'Cancel')!);
    expect($('#retention-apply-dialog')).toBeNull();
    expect(backend.applyRetention).toHaveBeenCalledTimes(1);
    expect(backend.applyRetention).toHaveBeenCalledWith(true, false);
  });

  it('a large prune: explains, and "Apply anyway" confirms it', async () => {
    const backend = new FakeBackend();
    backend.applyRetention
      .mockResolvedValueOnce(retentionOutcome())
      .mockRejectedValueOnce(fail('invalid_input', 'prune would remove 600000000 of 1000000000 stored bytes (60%); if that is intended, confirm it'))
      // The first try already removed the backups; the second only gives the space back.
      .mockResolvedValueOnce(retentionOutcome({ removed: [], bytes_freed: 0, bytes_waiting: 600_000_000 }));
    const { $, onApplied } = await setup(backend);
    await fireEvent.click($('#retention-apply')!);
    await waitFor(() => expect($('#retention-apply-confirm')).not.toBeNull());
    await fireEvent.click($('#retention-apply-confirm')!);
    await waitFor(() => expect($('#retention-large')).not.toBeNull());
    expect($('#retention-apply-dialog')?.textContent).toMatch(/This would delete most of your stored data/);
    expect($('#retention-large')?.textContent).toMatch(/60% of the data you have stored\s*\(600 MB of 1 GB\)/);
    expect($('#retention-apply-confirm')).toBeNull();
    await fireEvent.click($('#retention-apply-anyway')!);
    await waitFor(() => expect($('#retention-outcome')).not.toBeNull());
    expect(backend.applyRetention).toHaveBeenLastCalledWith(false, true);
    expect($('#retention-outcome')?.dataset.removed).toBe('2');
    expect($('#retention-freed')).toBeNull();
    expect($('#retention-waiting')?.textContent).toMatch(/600 MB/);
    expect(onApplied).toHaveBeenCalled();
  });

  it('other apply failures stay in the dialog', async () => {
    const backend = new FakeBackend();
    backend.applyRetention.mockResolvedValueOnce(retentionOutcome()).mockRejectedValueOnce(fail('busy', 'A backup is running.'));
    const { $ } = await setup(backend);
    await fireEvent.click($('#retention-apply')!);
    await waitFor(() => expect($('#retention-apply-confirm')).not.toBeNull());
    await fireEvent.click($('#retention-apply-confirm')!);
    await waitFor(() => expect($('#retention-apply-dialog')?.textContent).toMatch(/A backup is running\./));
    expect($('#retention-apply-anyway')).toBeNull();
    expect($('#retention-outcome')).toBeNull();
  });

  it('says when no space came back', async () => {
    const backend = new FakeBackend();
    backend.applyRetention.mockResolvedValueOnce(retentionOutcome({ removed: [] })).mockResolvedValueOnce(retentionOutcome({ removed: [], kept: 5 }));
    const { $ } = await setup(backend);
    await fireEvent.click($('#retention-apply')!);
    await waitFor(() => expect($('#retention-apply-confirm')?.textContent).toMatch(/Apply/));
    await fireEvent.click($('#retention-apply-confirm')!);
    await waitFor(() => expect($('#retention-outcome')?.textContent).toMatch(/No backup needed removing; 5 backups are kept/));
    expect($('#retention-outcome')?.textContent).toMatch(/No space was given back/);
  });
});

describe('retention messages', () => {
  it('finds the rule an invalid_input is about', () => {
    expect(fieldError('keep_last: keep at least one backup')).toEqual({ field: 'keep_last', message: 'Keep at least one backup' });
    expect(fieldError('keep_within_days: too many')).toEqual({ field: 'keep_within_days', message: 'Too many' });
    expect(fieldError('keep_nonsense: x')).toBeNull();
    expect(fieldError('prune would remove 1 of 2 stored bytes (50%)')).toBeNull();
  });

  it('reads the figures of a large prune, when there are any', () => {
    expect(largePrune('prune would remove 600 of 1000 stored bytes (60%); if that is intended, confirm it')).toMatchObject({ bytes: 600, total: 1000, percent: 60 });
    expect(largePrune('too much')).toMatchObject({ bytes: null, total: null, percent: null, message: 'too much' });
  });
});
