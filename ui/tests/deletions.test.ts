import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, waitFor } from '@testing-library/svelte';
import ConfirmIdentityDialog from '../src/lib/components/domain/ConfirmIdentityDialog.svelte';
import PendingDeletions from '../src/lib/views/settings/PendingDeletions.svelte';
import VersionsKept from '../src/lib/views/schedule/VersionsKept.svelte';
import { IdentityConfirmation } from '../src/lib/state/confirmation.svelte';
import { RetentionState } from '../src/lib/state/retention.svelte';
import { DAY, FakeBackend, NOW, PROFILE, deferred, fail, heldDeletion } from './fake-backend';
import type { HeldDeletion } from '../src/lib/ipc';
import { formatLongDate } from '../src/lib/format';

const $ = (selector: string) => document.querySelector<HTMLElement>(selector);

function dialog(backend = new FakeBackend()) {
  const confirmation = new IdentityConfirmation(backend);
  const onconfirmed = vi.fn();
  const onclose = vi.fn();
  render(ConfirmIdentityDialog, { confirmation, what: '2 older backups', action: 'Confirm and remove', onconfirmed, onclose });
  return { backend, confirmation, onconfirmed, onclose };
}

describe('Confirm it’s you', () => {
  it('says what is about to be deleted and sends the password to the agent', async () => {
    const { backend, onconfirmed } = dialog();
    await waitFor(() => expect(backend.profile).toHaveBeenCalled());
    expect($('#confirm-identity')?.textContent).toMatch(/2 older backups/);
    expect($('#confirm-identity')?.textContent).toMatch(/7 days/);
    expect($('#confirm-code')).toBeNull();
    await fireEvent.input($('#confirm-password')!, { target: { value: 'correct horse' } });
    await fireEvent.click($('#confirm-identity-submit')!);
    await waitFor(() => expect(onconfirmed).toHaveBeenCalledOnce());
    expect(backend.confirmIdentity).toHaveBeenCalledWith('correct horse', null);
  });

  it('asks for the password before sending anything, and says when it is wrong', async () => {
    const backend = new FakeBackend();
    backend.confirmIdentity.mockRejectedValueOnce(fail('invalid_credentials', 'The email or password is wrong.'));
    const { onconfirmed } = dialog(backend);
    await fireEvent.click($('#confirm-identity-submit')!);
    expect($('#confirm-password-error')?.textContent).toMatch(/Enter your Coffer password/);
    expect(backend.confirmIdentity).not.toHaveBeenCalled();
    await fireEvent.input($('#confirm-password')!, { target: { value: 'oops' } });
    await fireEvent.click($('#confirm-identity-submit')!);
    await waitFor(() => expect($('#confirm-password-error')?.textContent).toMatch(/not your Coffer password/));
    expect(onconfirmed).not.toHaveBeenCalled();
  });

  it('shows the two-factor field when the account has two-factor sign-in, and needs a code', async () => {
    const backend = new FakeBackend();
    backend.profile.mockResolvedValue({ ...PROFILE, totp_enabled: true });
    backend.confirmIdentity.mockRejectedValueOnce(fail('invalid_input', 'the two-factor code is wrong or was already used'));
    const { onconfirmed } = dialog(backend);
    await waitFor(() => expect($('#confirm-code')).not.toBeNull());
    await fireEvent.input($('#confirm-password')!, { target: { value: 'correct horse' } });
    await fireEvent.click($('#confirm-identity-submit')!);
    expect($('#confirm-code-error')?.textContent).toMatch(/code from your authenticator/);
    await fireEvent.input($('#confirm-code')!, { target: { value: '000000' } });
    await fireEvent.click($('#confirm-identity-submit')!);
    await waitFor(() => expect($('#confirm-code-error')?.textContent).toMatch(/wrong or was already used/));
    await fireEvent.input($('#confirm-code')!, { target: { value: ' 123456 ' } });
    await fireEvent.click($('#confirm-identity-submit')!);
    await waitFor(() => expect(onconfirmed).toHaveBeenCalledOnce());
    expect(backend.confirmIdentity).toHaveBeenLastCalledWith('correct horse', '123456');
  });

  it('reveals the code field when the agent asks for one', async () => {
    const backend = new FakeBackend();
    backend.confirmIdentity.mockRejectedValueOnce(fail('totp_required', 'Enter the code.'));
    dialog(backend);
    await fireEvent.input($('#confirm-password')!, { target: { value: 'correct horse' } });
    await fireEvent.click($('#confirm-identity-submit')!);
    await waitFor(() => expect($('#confirm-code')).not.toBeNull());
    expect($('#confirm-code-error')?.textContent).toMatch(/Two-factor sign-in is on/);
    expect(($('#confirm-password') as HTMLInputElement).value).toBe('correct horse');
  });

  it('shows other failures and can be cancelled', async () => {
    const backend = new FakeBackend();
    backend.confirmIdentity.mockRejectedValueOnce(fail('network', 'cannot reach the Coffer service: is it running?'));
    const { onclose } = dialog(backend);
    await fireEvent.input($('#confirm-password')!, { target: { value: 'correct horse' } });
    await fireEvent.click($('#confirm-identity-submit')!);
    await waitFor(() => expect($('#confirm-identity-error')?.textContent).toMatch(/cannot reach the Coffer service/));
    await fireEvent.click([...document.querySelectorAll('#confirm-identity button')].find((b) => b.textContent?.trim() === 'Cancel')!);
    expect(onclose).toHaveBeenCalled();
  });
});

describe('Versions kept: removing needs the person', () => {
  async function setup(backend: FakeBackend) {
    const onApplied = vi.fn();
    const state = new RetentionState(backend, onApplied);
    render(VersionsKept, { retention: state });
    await waitFor(() => expect($('#retention-last')).not.toBeNull());
    return { state, onApplied };
  }

  it('asks “Confirm it’s you” when the agent needs it, then removes', async () => {
    const backend = new FakeBackend();
    backend.applyRetention.mockImplementation(async (preview: boolean) => {
      if (!preview && backend.confirmIdentity.mock.calls.length === 0) throw fail('confirmation_required', 'confirm it is you');
      return { kept: 8, removed: [], bytes_freed: 0, bytes_waiting: 0 };
    });
    const { onApplied } = await setup(backend);
    await fireEvent.click($('#retention-apply')!);
    await waitFor(() => expect($('#retention-apply-confirm')).not.toBeNull());
    await fireEvent.click($('#retention-apply-confirm')!);
    await waitFor(() => expect($('#confirm-identity')).not.toBeNull());
    expect(onApplied).not.toHaveBeenCalled();
    expect($('#retention-apply-dialog')).toBeNull();
    await fireEvent.input($('#confirm-password')!, { target: { value: 'correct horse' } });
    await fireEvent.click($('#confirm-identity-submit')!);
    await waitFor(() => expect($('#retention-outcome')).not.toBeNull());
    expect($('#confirm-identity')).toBeNull();
    expect(onApplied).toHaveBeenCalledOnce();
    expect(backend.applyRetention.mock.calls.filter(([preview]) => !preview)).toEqual([
      [false, false],
      [false, false],
    ]);
  });

  it('closing “Confirm it’s you” removes nothing', async () => {
    const backend = new FakeBackend();
    backend.applyRetention.mockImplementation(async (preview: boolean) => {
      if (!preview) throw fail('confirmation_required', 'confirm it is you');
      return { kept: 8, removed: [], bytes_freed: 0, bytes_waiting: 0 };
    });
    const { onApplied } = await setup(backend);
    await fireEvent.click($('#retention-apply')!);
    await waitFor(() => expect($('#retention-apply-confirm')).not.toBeNull());
    await fireEvent.click($('#retention-apply-confirm')!);
    await waitFor(() => expect($('#confirm-identity')).not.toBeNull());
    await fireEvent.keyDown($('#confirm-identity')!, { key: 'Escape' });
    await waitFor(() => expect($('#confirm-identity')).toBeNull());
    expect($('#retention-apply-dialog')).toBeNull();
    expect(backend.confirmIdentity).not.toHaveBeenCalled();
    expect(onApplied).not.toHaveBeenCalled();
  });

  it('says when automatic cleanup waits for a confirmation, and offers to clean up now', async () => {
    const backend = new FakeBackend();
    backend.cleanupWaiting.mockResolvedValue({ since: NOW - DAY, snapshots: 3 });
    await setup(backend);
    await waitFor(() => expect($('#retention-cleanup-waiting')).not.toBeNull());
    expect($('#retention-cleanup-waiting')?.textContent).toMatch(/ready to be cleaned up/);
    expect($('#retention-cleanup-waiting')?.textContent).toMatch(/3 older backups/);
    expect($('#retention-cleanup-waiting')?.textContent).toMatch(/password/);
    await fireEvent.click($('#retention-cleanup-now')!);
    await waitFor(() => expect($('#retention-apply-dialog')).not.toBeNull());
  });

  it('shows no notice when nothing waits', async () => {
    await setup(new FakeBackend());
    expect($('#retention-cleanup-waiting')).toBeNull();
  });
});

describe('Settings → Privacy: pending deletions', () => {
  it('lists what is held, from which device, until when, and puts it back', async () => {
    const backend = new FakeBackend();
    backend.heldDeletions.mockResolvedValue([
      heldDeletion(),
      heldDeletion({ id: 'del-2', snapshots: 0, other_objects: 4, bytes: 5_000_000, device_name: 'ada-desktop' }),
    ]);
    const cancelled = deferred<HeldDeletion[]>();
    backend.cancelHeldDeletion.mockReturnValueOnce(cancelled.promise);
    render(PendingDeletions, { backend });
    await waitFor(() => expect(document.querySelectorAll('#pending-deletions-list li')).toHaveLength(2));
    const first = $('[data-deletion="del-1"]')!;
    expect(first.textContent).toMatch(/2 backups/);
    expect(first.textContent).toMatch(/ada-laptop/);
    expect(first.querySelector('.purge')?.textContent).toBe(formatLongDate(heldDeletion().purge_at));
    expect($('[data-deletion="del-2"]')?.textContent).toMatch(/Stored data no backup needed/);
    await fireEvent.click(first.querySelector('button')!);
    expect(backend.cancelHeldDeletion).toHaveBeenCalledWith('del-1');
    // The other row waits while one is being put back.
    expect(($('[data-deletion="del-2"] button') as HTMLButtonElement).disabled).toBe(true);
    cancelled.resolve([heldDeletion({ id: 'del-2', snapshots: 0 })]);
    await waitFor(() => expect($('#pending-deletions-restored')).not.toBeNull());
    expect(document.querySelectorAll('#pending-deletions-list li')).toHaveLength(1);
  });

  it('says when nothing is held, and when putting back failed', async () => {
    const backend = new FakeBackend();
    render(PendingDeletions, { backend });
    await waitFor(() => expect($('#pending-deletions-empty')).not.toBeNull());

    document.body.innerHTML = '';
    const failing = new FakeBackend();
    failing.heldDeletions.mockResolvedValue([heldDeletion()]);
    failing.cancelHeldDeletion.mockRejectedValueOnce(fail('not_found', 'not found'));
    render(PendingDeletions, { backend: failing });
    await waitFor(() => expect($('[data-deletion="del-1"] button')).not.toBeNull());
    await fireEvent.click($('[data-deletion="del-1"] button')!);
    await waitFor(() => expect(document.body.textContent).toMatch(/Nothing was put back/));
    expect($('[data-deletion="del-1"]')).not.toBeNull();
  });

  it('offers a retry when the list cannot be loaded', async () => {
    const backend = new FakeBackend();
    backend.heldDeletions.mockRejectedValueOnce(fail('network', 'Offline.'));
    render(PendingDeletions, { backend });
    await waitFor(() => expect($('#pending-deletions-error')?.textContent).toMatch(/Offline/));
    await fireEvent.click($('#pending-deletions-error button')!);
    await waitFor(() => expect($('#pending-deletions-empty')).not.toBeNull());
  });
});
