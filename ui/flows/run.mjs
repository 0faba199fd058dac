// Page flows: the built UI in headless Chromium with the IPC mocked.
// Run with `npm run test:flows`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { bundleMock, ensureDist, launchBrowser, openApp, serveDist, shot } from './harness.mjs';

const harness = {};

before(async () => {
  await ensureDist();
  harness.mockScript = await bundleMock();
  harness.server = await serveDist();
  harness.url = harness.server.url;
  harness.browser = await launchBrowser();
  harness.context = harness.browser.context;
});

after(async () => {
  await harness.browser?.close();
  await harness.server?.close();
});

const H = 3_600_000;
const D = 24 * H;
const ROOTS = ['/home/ada/Documents', '/home/ada/Pictures'];
const SNAPSHOTS = [
  { id: 'snap-2', time: Date.now() - H, device_name: 'ada-laptop', device_id: 'dev-laptop', roots: ROOTS, files: 1_284, bytes: 3_400_000_000 },
  { id: 'snap-1', time: Date.now() - 3 * D, device_name: 'ada-desktop', device_id: 'dev-desktop', roots: ['/home/ada/Documents'], files: 1_020, bytes: 2_100_000_000 },
];
/** A week of backups from one laptop (hours ago), for the restore timeline. */
const HISTORY = [0.4, 3.2, 5.5, 26, 31, 50, 75, 122, 146].map((hoursAgo, i, all) => ({
  id: `snap-${all.length - i}`,
  time: Date.now() - Math.round(hoursAgo * H),
  device_name: 'ada-laptop',
  device_id: 'dev-laptop',
  roots: ROOTS,
  files: 1_284 - i * 3,
  bytes: 3_400_000_000 - i * 12_000_000,
}));
const FOLDERS = ['/home/ada/Documents', '/home/ada/Pictures', '/home/ada/Projects/coffer'];

test('sign up → add folder → back up now → restore', async () => {
  const { page, errors } = await openApp(harness, { options: { stepMs: 300 } });

  await page.waitForSelector('#signup-first');
  await shot(page, '01-welcome-signup');

  // Submitting nothing explains every field.
  await page.click('#signup-submit');
  for (const id of ['signup-first', 'signup-last', 'signup-email', 'signup-password', 'signup-age']) {
    await page.waitForSelector(`#${id}-error`);
  }
  await shot(page, '02-welcome-signup-errors');

  await page.fill('#signup-first', 'Ada');
  await page.fill('#signup-last', 'Lovelace');
  await page.fill('#signup-email', 'ada@example.com');
  await page.fill('#signup-password', 'correct horse battery');
  await page.check('#signup-age');
  await page.click('#advanced-toggle');
  assert.equal(await page.inputValue('#server-url'), 'http://127.0.0.1:8750');
  await page.click('#signup-submit');

  await page.waitForSelector('#nav-dashboard');
  await page.waitForSelector('text=No folders yet — add one to start backing up');
  assert.equal(await page.locator('#folder-list li').count(), 0);
  assert.ok(await page.isDisabled('#backup-now'));
  await shot(page, '03-dashboard-empty');

  await page.click('#nav-add-folder');
  await page.waitForSelector('#add-folder-path');
  await page.fill('#add-folder-path', '/home/ada/Documents');
  await shot(page, '04-add-folder');
  await page.click('#add-folder-submit');

  await page.waitForSelector('#folder-list li[data-path="/home/ada/Documents"]');
  await shot(page, '05-dashboard-with-folder');

  await page.click('#backup-now');
  await page.waitForSelector('#backup-progress[data-phase="uploading"]');
  await page.waitForFunction(() => document.querySelector('#backup-current-file')?.textContent?.includes('holiday'));
  await shot(page, '06-backup-progress');
  await page.waitForSelector('#backup-progress[data-phase="done"]', { timeout: 10_000 });
  await page.waitForSelector('#backup-summary');
  const summary = await page.textContent('#backup-summary');
  assert.match(summary, /1 file was skipped/);
  assert.match(summary, /locked\.db/);
  assert.match(summary, /Permission denied/);
  await page.waitForSelector('#last-backup:has-text("Last backup today")');
  await shot(page, '07-backup-done');

  await page.click('#nav-restore');
  await page.waitForSelector('#restore-snapshot option[value="snap-1"]', { state: 'attached' });
  assert.equal(await page.inputValue('#restore-snapshot'), 'snap-1');
  await page.check('#restore-tree li[data-path="/home/ada/Documents"] input');
  await page.fill('#restore-target', '/home/ada/Restored');
  await shot(page, '08-restore');
  await page.click('#restore-submit');
  await page.waitForSelector('#restore-result');
  assert.match(await page.textContent('#restore-result'), /\/home\/ada\/Restored/);
  await shot(page, '09-restore-done');

  const restoreCall = await page.evaluate(() => window.__cofferMock.calls.find((c) => c.cmd === 'restore'));
  assert.deepEqual(restoreCall.args, {
    request: { snapshot_id: 'snap-1', paths: ['/home/ada/Documents'], target: '/home/ada/Restored', conflict: 'keep_both' },
  });

  await page.click('#sign-out');
  await page.waitForSelector('#signin-email');
  await shot(page, '10-signed-out');
  assert.deepEqual(errors, []);
  await page.close();
});

test('sign-up errors from the service land where they belong', async () => {
  const { page } = await openApp(harness);
  await page.waitForSelector('#signup-first');
  await page.fill('#signup-first', 'Ada');
  await page.fill('#signup-last', 'Lovelace');
  await page.fill('#signup-email', 'taken@example.com');
  await page.fill('#signup-password', 'correct horse battery');
  await page.check('#signup-age');
  await page.click('#signup-submit');
  await page.waitForSelector('#signup-email-error');
  assert.match(await page.textContent('#signup-email-error'), /already exists/);
  assert.equal(await page.getAttribute('#signup-email', 'aria-invalid'), 'true');
  await shot(page, '11-signup-email-taken');
  await page.close();

  const offline = await openApp(harness, { colorScheme: 'dark', options: { offline: true } });
  await offline.page.waitForSelector('#signup-first');
  await offline.page.fill('#signup-first', 'Ada');
  await offline.page.fill('#signup-last', 'Lovelace');
  await offline.page.fill('#signup-email', 'ada@example.com');
  await offline.page.fill('#signup-password', 'correct horse battery');
  await offline.page.check('#signup-age');
  await offline.page.click('#signup-submit');
  await offline.page.waitForSelector('#error-banner');
  assert.match(await offline.page.textContent('#error-banner'), /reach the Coffer service/);
  // The service address is where the fix usually is: it opens by itself.
  await offline.page.waitForSelector('#server-url');
  await shot(offline.page, '12-signup-network-error-dark');
  await offline.page.close();
});

test('sign in with two-step: the code field appears, a wrong code is refused', async () => {
  const { page, errors } = await openApp(harness, { options: { totp: true } });
  await page.waitForSelector('#show-signin');
  await page.click('#show-signin');
  await page.fill('#signin-email', 'ada@example.com');
  await page.fill('#signin-password', 'correct horse battery');
  await page.click('#signin-submit');
  await page.waitForSelector('#signin-totp');
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'signin-totp');
  await page.fill('#signin-password', 'correct horse battery');
  await page.fill('#signin-totp', '000000');
  await page.click('#signin-submit');
  await page.waitForSelector('#signin-totp-error:has-text("did not work")');
  await shot(page, '13b-signin-two-step');
  await page.fill('#signin-password', 'correct horse battery');
  await page.fill('#signin-totp', '123456');
  await page.click('#signin-submit');
  await page.waitForSelector('#nav-dashboard');
  const last = await page.evaluate(() => window.__cofferMock.calls.filter((c) => c.cmd === 'sign_in').pop().args.request);
  assert.equal(last.totp_code, '123456');
  // Signed out everywhere: Welcome starts over, without the last sign-in's code field.
  await page.click('#nav-settings');
  await page.click('#settings-tab-devices');
  await page.click('#sign-out-everywhere');
  await page.click('#sign-out-everywhere-confirm');
  await page.waitForSelector('#welcome-notice');
  assert.equal(await page.locator('#signin-totp').count(), 0, 'no code field from the last sign-in');
  assert.equal(await page.inputValue('#signin-email'), 'ada@example.com');
  assert.deepEqual(errors, []);
  await page.close();
});

test('storage full: its own title and advice; a 0-byte plan reads sensibly', async () => {
  const { page, errors } = await openApp(harness, { options: { signedIn: true, folders: ['/home/ada/Documents'], snapshots: [], quotaBytes: 0, stepMs: 60 } });
  await page.waitForSelector('#quota');
  assert.equal(await page.textContent('#quota-used'), 'No storage space');
  assert.doesNotMatch(await page.textContent('#quota'), /0 bytes/);
  await page.click('#backup-now');
  await page.waitForSelector('#backup-error');
  assert.match(await page.textContent('#backup-error'), /Storage full/);
  assert.match(await page.textContent('#backup-error'), /no storage space/);
  assert.equal(await page.textContent('#backup-status'), 'Your storage is full');
  assert.doesNotMatch(await page.textContent('#last-backup'), /earlier backups|·/);
  await shot(page, '14b-storage-full');
  assert.deepEqual(errors, []);
  await page.close();
});

test('sign in, wrong password then right', async () => {
  const { page } = await openApp(harness);
  await page.waitForSelector('#show-signin');
  await page.click('#show-signin');
  await page.fill('#signin-email', 'ada@example.com');
  await page.fill('#signin-password', 'wrong password');
  await page.click('#signin-submit');
  await page.waitForSelector('#error-banner');
  assert.match(await page.textContent('#error-banner'), /Wrong email or password/);
  await shot(page, '13-signin-wrong-password');
  await page.fill('#signin-password', 'correct horse battery');
  await page.click('#signin-submit');
  await page.waitForSelector('#nav-dashboard');
  await page.click('#sign-out');
  await page.click('#show-signup');
  await page.waitForSelector('#signup-first');
  await page.close();
});

test('signed in with history: picker, remove, dark mode', async () => {
  const { page, errors } = await openApp(harness, {
    colorScheme: 'dark',
    options: { signedIn: true, folders: ['/home/ada/Documents', '/home/ada/Projects/coffer'], snapshots: SNAPSHOTS },
  });
  await page.waitForSelector('#folder-list li[data-path="/home/ada/Projects/coffer"]');
  await page.waitForSelector('#last-backup:has-text("Last backup today")');
  await shot(page, '14-dashboard-dark');

  await page.click('#nav-add-folder');
  await page.click('#pick-folder');
  await page.waitForFunction(() => document.querySelector('#add-folder-path')?.value === '/home/ada/Pictures');
  await shot(page, '15-add-folder-picked-dark');
  await page.click('#add-folder-submit');
  await page.waitForSelector('#folder-list li[data-path="/home/ada/Pictures"]');
  assert.equal(await page.locator('#folder-list li').count(), 3);

  await page.click('#folder-list li[data-path="/home/ada/Projects/coffer"] button');
  await page.waitForSelector('#folder-list li[data-path="/home/ada/Projects/coffer"]', { state: 'detached' });
  assert.equal(await page.locator('#folder-list li').count(), 2);

  await page.click('#nav-restore');
  await page.waitForSelector('#restore-snapshot');
  assert.equal(await page.inputValue('#restore-snapshot'), 'snap-2');
  const devices = await page.$$eval('#restore-device option', (os) => os.map((o) => o.value));
  assert.deepEqual(devices, ['', 'dev-laptop', 'dev-desktop']);
  await page.waitForSelector('#restore-tree li[data-path="/home/ada/Pictures"]');
  await page.click('#restore-submit');
  await page.waitForSelector('#restore-target-error');
  await page.click('#restore-pick-target');
  await page.waitForFunction(() => document.querySelector('#restore-target')?.value === '/home/ada/Pictures');
  await shot(page, '16-restore-dark');
  await page.click('#restore-submit');
  await page.waitForSelector('#restore-skipped li');
  assert.match(await page.textContent('#restore-result'), /damaged piece/);
  await page.evaluate(() => document.querySelector('#restore-result').scrollIntoView({ block: 'end' }));
  await shot(page, '16b-restore-skipped-dark');
  assert.deepEqual(errors, []);
  await page.close();
});

test('no backups yet: restore explains what to do', async () => {
  const { page } = await openApp(harness, { options: { signedIn: true, folders: [], snapshots: [] } });
  await page.waitForSelector('#nav-restore');
  await page.click('#nav-restore');
  await page.waitForSelector('text=No backups to restore from yet');
  assert.equal(await page.locator('#restore-submit').count(), 0);
  await shot(page, '17-restore-empty');
  await page.close();
});

test('the smallest window (760×560) still fits', async () => {
  const { page } = await openApp(harness, {
    options: { signedIn: true, folders: ['/home/ada/Documents', '/home/ada/Projects/coffer'], snapshots: SNAPSHOTS },
  });
  await page.setViewportSize({ width: 760, height: 560 });
  await page.waitForSelector('#folder-list li');
  // Nothing wider than the window: no sideways scrolling anywhere.
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 760);
  await shot(page, '18-dashboard-small');
  for (const [nav, landmark, name] of [
    ['#nav-folders', '#excluded-files li', '18b-folders-small'],
    ['#nav-restore', '#restore-tree li', '18c-restore-small'],
    ['#nav-schedule', '#watch-status', '18d-schedule-small'],
    ['#nav-activity', '#activity-backups', '18e-activity-small'],
    ['#nav-settings', '#profile-first', '18f-settings-small'],
  ]) {
    await page.click(nav);
    await page.waitForSelector(landmark);
    const wide = await page.evaluate(() => {
      const main = document.querySelector('main');
      return { page: document.documentElement.scrollWidth, main: main.scrollWidth - main.clientWidth };
    });
    assert.deepEqual(wide, { page: 760, main: 0 }, `${nav} fits the smallest window`);
    await shot(page, name);
  }
  await page.click('#sign-out');
  await page.click('#show-signup');
  await page.waitForSelector('#signup-first');
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 760);
  await shot(page, '19-welcome-small');
  await page.close();
});

test('sign up with a private key → recovery kit → dashboard', async () => {
  const { page, errors } = await openApp(harness);
  await page.waitForSelector('#signup-first');
  await page.fill('#signup-first', 'Ada');
  await page.fill('#signup-last', 'Lovelace');
  await page.fill('#signup-email', 'ada@example.com');
  await page.fill('#signup-password', 'correct horse battery');
  await page.check('#signup-age');
  await page.check('#signup-key-private');
  await page.waitForSelector('#signup-private-key');

  // A weak key: the meter says so, and sign-up refuses it.
  await page.fill('#signup-private-key', 'hunter2');
  await page.waitForSelector('#key-strength[data-score="1"]');
  await page.click('#signup-submit');
  await page.waitForSelector('#signup-private-key-error');
  assert.match(await page.textContent('#signup-private-key-error'), /too easy to guess/);
  assert.match(await page.textContent('#signup-key-confirm-error'), /Tick this/);
  assert.equal((await page.evaluate(() => window.__cofferMock.calls.filter((c) => c.cmd === 'sign_up'))).length, 0);
  await shot(page, '20-signup-private-key-weak');

  await page.fill('#signup-private-key', 'correct horse battery staple');
  await page.waitForSelector('#key-strength[data-score="4"]');
  await page.fill('#signup-private-key-repeat', 'correct horse battery stapel');
  await page.check('#signup-key-confirm');
  await page.click('#signup-submit');
  await page.waitForSelector('#signup-private-key-repeat-error');
  await page.fill('#signup-private-key-repeat', 'correct horse battery staple');
  await shot(page, '21-signup-private-key-ready');
  await page.click('#signup-submit');

  // The recovery kit, once; Continue needs the checkbox.
  await page.waitForSelector('#recovery-code');
  assert.equal((await page.textContent('#recovery-code')).replace(/\s+/g, ''), 'K7QM2XPA9RTB4WZC8NDF');
  const signUp = await page.evaluate(() => window.__cofferMock.calls.find((c) => c.cmd === 'sign_up').args.request);
  assert.equal(signUp.key_mode, 'private');
  assert.equal(signUp.private_key, 'correct horse battery staple');
  await shot(page, '22-recovery-kit');
  await page.click('#recovery-continue');
  await page.waitForSelector('#recovery-saved-error');
  assert.equal(await page.locator('#nav-dashboard').count(), 0);

  // Save as file: the save dialog picks the place, Rust writes the text.
  await page.click('#recovery-save');
  await page.waitForFunction(() => Object.keys(window.__cofferMock.state.savedFiles).length > 0);
  const saved = await page.evaluate(() => window.__cofferMock.state.savedFiles);
  assert.deepEqual(Object.keys(saved), ['/home/ada/coffer-recovery-kit.txt']);
  const text = saved['/home/ada/coffer-recovery-kit.txt'];
  assert.match(text, /K7QM-2XPA-9RTB-4WZC-8NDF/);
  assert.match(text, /ada@example\.com/);

  // Print shows only the kit.
  await page.emulateMedia({ media: 'print' });
  assert.equal(await page.isVisible('#recovery-continue'), false);
  assert.equal(await page.isVisible('#recovery-code'), true);
  await page.emulateMedia({ media: 'screen' });

  await page.check('#recovery-saved');
  await page.click('#recovery-continue');
  await page.waitForSelector('#nav-dashboard');
  await page.waitForSelector('text=No folders yet — add one to start backing up');
  // The code is gone from the page.
  assert.equal(await page.evaluate(() => document.body.textContent.includes('K7QM')), false);
  assert.deepEqual(errors, []);
  await page.close();
});

test('locked on a new device: wrong key, then the recovery code', async () => {
  const { page, errors } = await openApp(harness, { options: { locked: true, folders: FOLDERS.slice(0, 2), snapshots: SNAPSHOTS } });
  await page.waitForSelector('#unlock-key');
  await shot(page, '23-unlock');
  await page.click('#unlock-submit');
  assert.match(await page.textContent('#unlock-key-error'), /Enter your encryption key/);
  await page.fill('#unlock-key', 'not my key');
  await page.click('#unlock-submit');
  await page.waitForSelector('#unlock-key-error:has-text("does not unlock")');
  await page.click('#unlock-use-recovery');
  await page.waitForSelector('#unlock-recovery-code');
  await page.click('#unlock-lost summary');
  await shot(page, '24-unlock-recovery-lost');
  await page.fill('#unlock-recovery-code', 'k7qm-2xpa-9rtb-4wzc-8ndf');
  await page.check('#unlock-remember');
  await page.click('#unlock-submit');
  await page.waitForSelector('#nav-dashboard');
  const call = await page.evaluate(() => window.__cofferMock.calls.find((c) => c.cmd === 'unlock_with_recovery').args);
  assert.deepEqual(call, { code: 'k7qm-2xpa-9rtb-4wzc-8ndf', remember: true });

  // Settings → Encryption → Lock now brings the Unlock screen back; the key opens it again.
  await page.click('#nav-settings');
  await page.click('#settings-tab-encryption');
  await page.waitForSelector('#key-mode[data-mode="private"]');
  await page.click('#key-lock');
  await page.waitForSelector('#unlock-key');
  await page.fill('#unlock-key', 'correct horse battery staple');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#nav-dashboard');
  assert.deepEqual(errors, []);
  await page.close();
});

test('restore browser: timeline, tree, search, versions, select many → restore', async () => {
  const { page, errors } = await openApp(harness, { options: { signedIn: true, folders: FOLDERS.slice(0, 2), snapshots: HISTORY, stepMs: 120 } });
  await page.waitForSelector('#nav-restore');
  await page.click('#nav-restore');
  await page.waitForSelector('#restore-tree li[data-path="/home/ada/Documents"]');
  assert.equal(await page.inputValue('#restore-snapshot'), HISTORY[0].id);
  assert.equal(await page.locator('#restore-timeline .point').count(), HISTORY.length);

  // An older point in time from the timeline; into Documents, then Taxes, back by breadcrumb.
  await page.click(`#restore-timeline [data-snapshot="${HISTORY[3].id}"]`);
  assert.equal(await page.inputValue('#restore-snapshot'), HISTORY[3].id);
  await page.click('#restore-tree li[data-path="/home/ada/Documents"] button.name');
  await page.waitForSelector('#restore-tree li[data-path="/home/ada/Documents/Taxes"]');
  await page.click('#restore-tree li[data-path="/home/ada/Documents/Taxes"] button.name');
  await page.waitForSelector('#restore-tree li[data-path="/home/ada/Documents/Taxes/2024"]');
  assert.deepEqual(await page.$$eval('#restore-breadcrumbs li', (ls) => ls.map((l) => l.textContent.trim())), ['All folders', 'Documents', 'Taxes']);
  await page.click('#restore-breadcrumbs button:has-text("Documents")');
  await page.waitForSelector('#restore-tree li[data-path="/home/ada/Documents/report-2024.pdf"]');

  // Tick several.
  await page.check('#restore-tree li[data-path="/home/ada/Documents/report-2024.pdf"] input');
  await page.check('#restore-tree li[data-path="/home/ada/Documents/notes.txt"] input');
  await page.check('#restore-tree li[data-path="/home/ada/Documents/photos"] input');
  assert.match(await page.textContent('#restore-selection'), /3 items chosen/);
  await shot(page, '25-restore-browser');

  // Versions of one file.
  await page.click('#restore-tree li[data-path="/home/ada/Documents/notes.txt"] button.versions');
  await page.waitForSelector('#versions-list li');
  assert.ok((await page.locator('#versions-list li').count()) >= 3);
  await shot(page, '26-restore-versions');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#versions-dialog', { state: 'detached' });

  // Search by name across every backup.
  await page.fill('#restore-search', 'holiday');
  await page.check('#restore-search-all');
  await page.click('#restore-search-submit');
  await page.waitForSelector('#restore-hits li');
  assert.ok((await page.locator('#restore-hits li').count()) > 2);
  await shot(page, '27-restore-search');
  await page.click('#restore-search-clear');
  await page.waitForSelector('#restore-tree');
  assert.match(await page.textContent('#restore-selection'), /3 items chosen/);

  // Back where they were, overwriting; progress, then done.
  await page.check('#restore-where-original');
  await page.selectOption('#restore-conflict', 'overwrite');
  await page.click('#restore-submit');
  await page.waitForSelector('#restore-progress');
  await shot(page, '28-restore-progress');
  await page.waitForSelector('#restore-result');
  assert.match(await page.textContent('#restore-result'), /restored into\s+the original folders/);
  // Restored, but a permission could not be set: listed apart from files left out.
  await page.waitForSelector('#restore-warnings li');
  assert.match(await page.textContent('#restore-result'), /Restored, but the permissions or modification time could not be set \(1\)/);
  await page.evaluate(() => document.querySelector('#restore-result').scrollIntoView({ block: 'end' }));
  await shot(page, '29-restore-done');
  const call = await page.evaluate(() => window.__cofferMock.calls.find((c) => c.cmd === 'restore').args.request);
  assert.deepEqual(call, {
    snapshot_id: HISTORY[3].id,
    paths: ['/home/ada/Documents/report-2024.pdf', '/home/ada/Documents/notes.txt', '/home/ada/Documents/photos'],
    target: null,
    conflict: 'overwrite',
  });
  assert.deepEqual(errors, []);
  await page.close();
});

/** Records what the app puts on the clipboard (headless Chromium has no clipboard to read back). */
async function recordClipboard(page) {
  await page.evaluate(() => {
    window.__copied = [];
    Object.defineProperty(navigator, 'clipboard', { configurable: true, value: { writeText: async (t) => void window.__copied.push(t) } });
  });
}

test('share a folder from a backup: terms → progress → the link once, copied and mailed; Settings → Sharing revokes it', async () => {
  const { page, errors } = await openApp(harness, { options: { signedIn: true, folders: FOLDERS.slice(0, 2), snapshots: HISTORY, stepMs: 160 } });
  await page.waitForSelector('#nav-restore');
  await recordClipboard(page);
  await page.click('#nav-restore');
  await page.click(`#restore-timeline [data-snapshot="${HISTORY[3].id}"]`);
  await page.click('#restore-tree li[data-path="/home/ada/Documents"] button.name');
  await page.waitForSelector('#restore-tree li[data-path="/home/ada/Documents/Taxes"]');
  await page.click('#restore-tree li[data-path="/home/ada/Documents/Taxes"] .share');
  await page.waitForSelector('#share-dialog');
  assert.equal(await page.textContent('#share-dialog-title'), 'Share “Taxes”');

  // A typo is caught before anything is made.
  await page.fill('#share-recipients', 'bob@example.com, carol@');
  await page.click('#share-submit');
  await page.waitForSelector('#share-recipients-error');
  assert.match(await page.textContent('#share-recipients-error'), /“carol@” does not look like an email/);
  await page.fill('#share-recipients', 'bob@example.com, Carol@Example.com');
  await page.fill('#share-days', '14');
  await page.check('#share-use-password');
  await page.fill('#share-password', 'taxes for bob 2024');
  await page.fill('#share-password-repeat', 'taxes for bob 2024');
  await page.check('#share-limit-downloads');
  await page.fill('#share-max-downloads', '3');
  await page.click('#share-submit');
  await page.waitForSelector('#share-progress');
  assert.equal(await page.locator('#share-dialog .close').count(), 0, 'no closing while uploading');
  await page.waitForSelector('#share-link-value');
  const request = await page.evaluate(() => window.__cofferMock.calls.find((c) => c.cmd === 'share').args.request);
  assert.deepEqual(request, {
    path: '/home/ada/Documents/Taxes',
    snapshot_id: HISTORY[3].id,
    recipients: ['bob@example.com', 'carol@example.com'],
    expires_in_days: 14,
    password: 'taxes for bob 2024',
    max_downloads: 3,
  });
  const link = await page.textContent('#share-link-value');
  assert.match(link, /^http:\/\/127\.0\.0\.1:8750\/s\/[0-9a-f]{32}#[A-Za-z0-9_-]{43}$/);
  assert.match(await page.textContent('#share-shown'), /without the key/);
  await page.click('#share-link-copy');
  await page.waitForSelector('#share-link-copy:has-text("Copied")');
  assert.deepEqual(await page.evaluate(() => window.__copied), [link]);
  await page.click('#share-email');
  const draft = await page.evaluate(() => window.__cofferMock.state.mailDrafts[0]);
  assert.ok(draft.startsWith('mailto:bob@example.com,carol@example.com?subject='), draft);
  assert.ok(decodeURIComponent(draft).includes(link), 'the full link is in the mail body');
  await page.click('#share-done');
  await page.waitForSelector('#share-dialog', { state: 'detached' });
  assert.equal((await page.content()).includes(link), false, 'the link is gone once the dialog closes');

  await page.click('#nav-settings');
  await page.click('#settings-tab-sharing');
  await page.waitForSelector('#share-list li[data-state="active"]');
  const row = page.locator('#share-list li').first();
  assert.match(await row.textContent(), /bob@example\.com and 1 other\s*Active/);
  assert.match(await row.textContent(), /needs a password/);
  assert.match(await row.textContent(), /0 of 3 downloads/);
  await row.locator('.revoke').click();
  await page.waitForSelector('#revoke-share-dialog');
  await page.click('#revoke-share-confirm');
  await page.waitForSelector('#share-list li[data-state="revoked"]');
  assert.equal(await page.locator('#share-list .revoke').count(), 0);
  assert.deepEqual(errors, []);
  await page.close();
});

test('connect an app: scopes in plain words → the token once → listed → revoked', async () => {
  const { page, errors } = await openApp(harness, { options: { signedIn: true, folders: FOLDERS, snapshots: SNAPSHOTS } });
  await page.waitForSelector('#nav-settings');
  await recordClipboard(page);
  await page.click('#nav-settings');
  await page.click('#settings-tab-apps');
  await page.waitForSelector('text=No connected apps');
  await page.click('#app-create');
  await page.click('#app-submit');
  await page.waitForSelector('#app-name-error');
  await page.waitForSelector('#app-scopes-error');
  await page.fill('#app-name', 'NAS nightly copy');
  await page.check('#app-scope-backup');
  assert.match(await page.textContent('#app-form'), /It can neither read nor delete what is stored/);
  await page.selectOption('#app-expiry', '90');
  await page.click('#app-submit');
  await page.waitForSelector('#app-token-value');
  const token = await page.textContent('#app-token-value');
  assert.match(token, /^cfa_[0-9a-f]{40}$/);
  assert.match(await page.textContent('#app-token-note'), /you won’t see it again/);
  const created = await page.evaluate(() => window.__cofferMock.calls.find((c) => c.cmd === 'connect_app').args.request);
  assert.deepEqual(created, { name: 'NAS nightly copy', scopes: ['backup'], expires_in_days: 90 });
  await page.click('#app-token-copy');
  await page.waitForSelector('#app-token-copy:has-text("Copied")');
  assert.deepEqual(await page.evaluate(() => window.__copied), [token]);
  await page.click('#app-token-done');
  await page.waitForSelector('#app-token', { state: 'detached' });
  assert.equal((await page.content()).includes(token), false, 'the token is not shown again');
  assert.match(await page.textContent('#app-list li'), /NAS nightly copy\s*Back up/);
  assert.match(await page.textContent('#app-list li .last-use'), /never used/);
  await page.click('#app-list li .revoke');
  await page.click('#revoke-app-confirm');
  await page.waitForSelector('#app-list', { state: 'detached' });
  await page.waitForSelector('text=No connected apps');
  assert.deepEqual(errors, []);
  await page.close();
});

test('folders, schedule and activity', async () => {
  const { page, errors } = await openApp(harness, { options: { signedIn: true, folders: FOLDERS, snapshots: SNAPSHOTS, watchFallback: 'This computer allows watching 8,192 folders; yours have 21,400.' } });
  await page.waitForSelector('#nav-folders');
  await page.click('#nav-folders');
  await page.waitForSelector('#folders-usage li[data-path="/home/ada/Documents"] .bytes');
  assert.match(await page.textContent('#folders-usage li[data-path="/home/ada/Documents"]'), /2.1 GB.*1,020 files/s);
  await page.waitForSelector('#excluded-files li');
  await page.check('#exclude-preset-temporary');
  await page.fill('#exclude-pattern-input', '*.vmdk');
  await page.press('#exclude-pattern-input', 'Enter');
  await page.check('#exclude-limit-on');
  await page.fill('#exclude-max-size', '500');
  await page.click('#exclusions-save');
  await page.waitForSelector('text=Saved. The next backup uses these rules.');
  const saved = await page.evaluate(() => window.__cofferMock.calls.find((c) => c.cmd === 'set_exclusions').args.settings);
  assert.deepEqual(saved, { patterns: ['*.iso', '*.vmdk'], max_file_size: 500_000_000, presets: ['caches', 'node_modules', 'temporary'] });
  await page.waitForSelector('#excluded-files li:has-text("Larger than your size limit")');

  await page.click('#nav-schedule');
  await page.waitForSelector('#watch-status');
  assert.match(await page.textContent('#watch-status'), /21,400/);
  await page.check('#schedule-daily');
  await page.fill('#schedule-daily-at', '21:30');
  await page.check('#limit-upload-on');
  await page.fill('#limit-upload', '2');
  await page.click('#schedule-save');
  await page.waitForSelector('.saved:has-text("Saved.")');
  const schedule = await page.evaluate(() => window.__cofferMock.calls.find((c) => c.cmd === 'set_schedule').args.settings);
  assert.deepEqual(schedule, { mode: 'daily', daily_at: '21:30', every_minutes: null, upload_limit_kib: 1953, download_limit_kib: null });
  await page.click('#pause-hour');
  await page.waitForSelector('#pause-status[data-paused="true"]');
  await page.waitForSelector('#status-summary[data-state="paused"]');
  await page.click('#resume-backups');
  await page.waitForSelector('#pause-status[data-paused="false"]');

  await page.click('#nav-activity');
  await page.waitForSelector('#activity-backups tr[data-status="failed"]');
  await page.click('#activity-tab-sessions');
  await page.waitForSelector('#activity-sessions li');
  assert.match(await page.textContent('#activity-sessions'), /192\.0\.2\.44/);
  assert.deepEqual(errors, []);
  await page.close();
});

test('settings: account, communication, devices, privacy, encryption switch, delete', async () => {
  const { page, errors } = await openApp(harness, { options: { signedIn: true, folders: FOLDERS, snapshots: SNAPSHOTS, policyOutdated: true, stepMs: 80 } });
  await page.waitForSelector('#policy-banner');
  await page.click('#nav-settings');

  // Devices & sessions: this device first; sign another device out.
  await page.click('#settings-tab-devices');
  await page.waitForSelector('#session-list li[data-session="sess-2"]');
  assert.equal(await page.getAttribute('#session-list li:first-child', 'data-session'), 'sess-1', 'this device is listed first');
  assert.equal(await page.locator('#session-list li[data-session="sess-1"] [data-action="revoke"]').count(), 0);
  await page.click('#session-list li[data-session="sess-2"] [data-action="revoke"]');
  await page.waitForSelector('#session-list li[data-session="sess-2"]', { state: 'detached' });

  // Account: add a postal address, change the password (which ends the other sessions).
  await page.click('#settings-tab-account');
  await page.waitForSelector('#profile-first');
  assert.equal(await page.getAttribute('#profile-email-state', 'data-state'), 'confirmed');
  // Two-step setup: a QR code of the otpauth link beside the key; Cancel goes back.
  await page.click('#totp-start');
  await page.waitForSelector('#totp-qr');
  assert.ok((await page.getAttribute('#totp-url', 'href')).startsWith('otpauth://totp/'));
  const qr = await page.locator('#totp-qr').boundingBox();
  assert.ok(qr.width >= 150 && qr.width === qr.height, `a square QR code big enough to scan (${qr.width}×${qr.height})`);
  await page.click('#totp-cancel');
  await page.waitForSelector('#totp-start');
  // A new name reaches the sidebar at once.
  await page.fill('#profile-first', 'Augusta');
  await page.click('#profile-save');
  await page.waitForSelector('#sidebar-name:has-text("Augusta Lovelace")');
  await page.fill('#profile-line1', '12 St James’s Square');
  await page.fill('#profile-city', 'London');
  await page.fill('#profile-postal-code', 'SW1Y 4JH');
  await page.fill('#profile-country', 'United Kingdom');
  await page.click('#profile-save');
  await page.waitForSelector('#profile-saved');
  const update = await page.evaluate(() => window.__cofferMock.calls.filter((c) => c.cmd === 'update_profile').pop().args.update);
  assert.deepEqual(update, {
    first_name: null,
    last_name: null,
    email: null,
    postal_address: { line1: '12 St James’s Square', line2: '', city: 'London', region: '', postal_code: 'SW1Y 4JH', country: 'United Kingdom' },
  });
  await page.fill('#password-current', 'wrong');
  await page.fill('#password-new', 'a much longer passphrase');
  await page.fill('#password-repeat', 'a much longer passphrase');
  await page.click('#password-submit');
  await page.waitForSelector('#password-current-error');
  await page.fill('#password-current', 'correct horse battery');
  await page.click('#password-submit');
  await page.waitForSelector('#password-changed');

  // Communication: alerts on, the rest off until turned on.
  await page.click('#settings-tab-communication');
  await page.waitForSelector('#pref-operational-alerts');
  assert.equal(await page.isChecked('#pref-operational-alerts'), true);
  for (const id of ['product-announcements', 'software-updates', 'surveys-research', 'newsletter']) assert.equal(await page.isChecked(`#pref-${id}`), false);
  await page.click('#pref-software-updates');
  await page.waitForFunction(() => window.__cofferMock.calls.some((c) => c.cmd === 'set_preferences'));
  assert.equal(await page.isChecked('#pref-software-updates'), true);

  // Privacy: accept the newer policy; export.
  await page.click('#settings-tab-privacy');
  await page.waitForSelector('#policy-accept');
  assert.equal(await page.locator('#policy-banner').count(), 0);
  await page.click('#policy-accept');
  await page.waitForSelector('#policy-status:has-text("You accepted it on")');
  // Export to a typed path (no native dialog), then to one chosen with "Choose…"; the result stays in the export row.
  await page.fill('#export-path', '/home/ada/exports/mine.json');
  await page.click('#export-data');
  await page.waitForSelector('#export-row #export-result');
  assert.match(await page.textContent('#export-result'), /48.2 KB to \/home\/ada\/exports\/mine\.json/);
  // The save dialog suggests the typed file name.
  await page.click('#export-choose');
  await page.waitForFunction(() => document.querySelector('#export-path').value === '/home/ada/mine.json');
  await page.click('#export-data');
  await page.waitForSelector('#export-result:has-text("/home/ada/mine.json")');

  // Encryption: default → private, with the new recovery code and progress.
  await page.click('#settings-tab-encryption');
  await page.waitForSelector('#key-mode[data-mode="default"]');
  await page.click('#key-switch');
  await page.waitForSelector('#key-dialog');
  await page.fill('#key-new', 'purple elephant quietly dances');
  await page.fill('#key-repeat', 'purple elephant quietly dances');
  await page.check('#key-confirm');
  await page.fill('#key-password', 'not it');
  await page.click('#key-submit');
  await page.waitForSelector('#key-password-error');
  await page.fill('#key-new', 'purple elephant quietly dances');
  await page.fill('#key-repeat', 'purple elephant quietly dances');
  await page.fill('#key-password', 'a much longer passphrase');
  await page.click('#key-submit');
  await page.waitForSelector('#recovery-dialog #recovery-code');
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('#recovery-dialog').count(), 1, 'Escape does not lose an unsaved recovery code');
  await page.check('#recovery-saved');
  await page.click('#recovery-continue');
  await page.waitForSelector('#key-progress');
  await page.waitForSelector('#key-mode[data-mode="private"]');
  await page.waitForSelector('#key-progress', { state: 'detached', timeout: 10_000 });

  // Delete: explains, needs the password, signs out with the purge date.
  await page.click('#settings-tab-privacy');
  await page.click('#delete-account');
  await page.waitForSelector('#delete-dialog');
  assert.match(await page.textContent('#delete-dialog'), /10 business days/);
  const earliest = await page.textContent('#delete-purge-date');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#delete-dialog', { state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement?.id), 'delete-account', 'focus returns to the button');
  await page.click('#delete-account');
  await page.click('#delete-confirm');
  await page.waitForSelector('#delete-password-error');
  await page.fill('#delete-password', 'a much longer passphrase');
  await page.click('#delete-confirm');
  await page.waitForSelector('#welcome-notice');
  // The dialog's date and the service's agree (no holidays here).
  assert.match(await page.textContent('#welcome-notice'), new RegExp(`purged on ${earliest}\\.`));

  // Signing in again: its own message, the notice gone, and a way to restore the account.
  await page.fill('#signin-email', 'ada@example.com');
  await page.fill('#signin-password', 'correct horse battery');
  await page.click('#signin-submit');
  await page.waitForSelector('#restore-account');
  assert.equal(await page.locator('#welcome-notice').count(), 0, 'the earlier notice does not stay above the answer');
  const said = await page.textContent('#error-banner');
  assert.match(said, new RegExp(`deleted for good on ${earliest}\\.`));
  assert.doesNotMatch(said, /\/v1\/|\d{4}-\d\d-\d\d/);
  await shot(page, '29-signin-deleted-account');
  await page.click('#restore-account');
  await page.waitForSelector('#nav-dashboard');
  assert.equal(await page.evaluate(() => window.__cofferMock.calls.filter((c) => c.cmd === 'restore_account').length), 1);
  assert.deepEqual(errors, []);
  await page.close();
});

test('keyboard: visible focus, tab order through the sidebar, Escape closes dialogs', async () => {
  const { page } = await openApp(harness, { options: { signedIn: true, folders: FOLDERS, snapshots: SNAPSHOTS } });
  await page.waitForSelector('#nav-dashboard');
  await page.focus('#nav-dashboard');
  const order = [];
  for (let i = 0; i < 6; i++) {
    await page.keyboard.press('Tab');
    order.push(await page.evaluate(() => document.activeElement?.id));
  }
  assert.deepEqual(order, ['nav-folders', 'nav-add-folder', 'nav-restore', 'nav-schedule', 'nav-activity', 'nav-settings']);
  const ring = await page.evaluate(() => getComputedStyle(document.activeElement).boxShadow);
  assert.notEqual(ring, 'none', 'the focused item shows a focus ring');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#settings-tab-devices');
  await page.click('#settings-tab-devices');
  await page.click('#sign-out-everywhere');
  await page.waitForSelector('#sign-out-everywhere-dialog');
  assert.equal(await page.evaluate(() => document.activeElement?.closest('[role="dialog"]')?.id), 'sign-out-everywhere-dialog');
  // Tab stays inside the dialog.
  for (let i = 0; i < 5; i++) await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.closest('[role="dialog"]')?.id), 'sign-out-everywhere-dialog');
  await page.keyboard.press('Escape');
  await page.waitForSelector('#sign-out-everywhere-dialog', { state: 'detached' });
  await page.close();
});

test('versions kept: save rules → preview → apply, then a large prune applied anyway', async () => {
  const { page, errors } = await openApp(harness, { options: { signedIn: true, folders: FOLDERS.slice(0, 2), snapshots: HISTORY, stepMs: 120 } });
  await page.waitForSelector('#nav-schedule');
  await page.click('#nav-schedule');
  await page.waitForSelector('#retention-last');
  assert.equal(await page.inputValue('#retention-last'), '10');
  assert.equal(await page.inputValue('#retention-daily'), '30');

  // Rules that keep nothing are refused next to the first rule.
  for (const id of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly']) await page.fill(`#retention-${id}`, '0');
  assert.equal(await page.isDisabled('#retention-preview'), true, 'unsaved rules cannot be previewed');
  await page.click('#retention-save');
  await page.waitForSelector('#retention-last-error:has-text("Keep at least one backup")');

  // Keep the 5 newest: the 4 older ones go.
  await page.fill('#retention-last', '5');
  await page.click('#retention-save');
  await page.waitForSelector('#retention-saved');
  const saved = await page.evaluate(() => window.__cofferMock.calls.filter((c) => c.cmd === 'set_retention').pop().args.settings);
  assert.deepEqual(saved, { keep_last: 5, keep_hourly: 0, keep_daily: 0, keep_weekly: 0, keep_monthly: 0, keep_yearly: 0, keep_within_days: null, automatic: true });

  await page.click('#retention-preview');
  await page.waitForSelector('#retention-removed li');
  const removed = await page.$$eval('#retention-removed li', (ls) => ls.map((l) => l.dataset.snapshot));
  assert.deepEqual(removed, HISTORY.slice(5).map((h) => h.id), 'the preview lists the 4 oldest');
  assert.equal(await page.evaluate(() => window.__cofferMock.state.snapshots.length), HISTORY.length, 'a preview changes nothing');
  await page.evaluate(() => document.querySelector('#retention').scrollIntoView({ block: 'start' }));
  await shot(page, '30-versions-kept-preview');

  await page.click('#retention-apply');
  await page.waitForSelector('#retention-apply-dialog');
  assert.match(await page.textContent('#retention-apply-dialog'), new RegExp(`${removed.length} older backups are removed`));
  await shot(page, '31-versions-kept-confirm');
  await page.click('#retention-apply-confirm');
  // Removing backups needs the password: the device's session alone cannot.
  await page.waitForSelector('#confirm-identity');
  assert.match(await page.textContent('#confirm-identity'), new RegExp(`${removed.length} older backups`));
  await page.fill('#confirm-password', 'not my password');
  await page.click('#confirm-identity-submit');
  await page.waitForSelector('#confirm-password-error');
  assert.equal(await page.evaluate(() => window.__cofferMock.state.snapshots.length), HISTORY.length, 'a wrong password deletes nothing');
  await page.fill('#confirm-password', 'correct horse battery');
  await shot(page, '31b-versions-kept-confirm-identity');
  await page.click('#confirm-identity-submit');
  await page.waitForSelector('#retention-outcome');
  const outcome = await page.$eval('#retention-outcome', (el) => ({ ...el.dataset, text: el.textContent }));
  assert.equal(Number(outcome.removed), removed.length);
  assert.equal(Number(outcome.kept), HISTORY.length - removed.length);
  assert.match(outcome.text, /of storage space was given back/);
  assert.match(outcome.text, /will be given back in about a day/);
  await page.evaluate(() => document.querySelector('#retention-outcome').scrollIntoView({ block: 'end' }));
  await shot(page, '32-versions-kept-applied');

  // Keeping only the newest backup deletes most of the data: Coffer asks first.
  await page.fill('#retention-last', '1');
  await page.click('#retention-save');
  await page.waitForSelector('#retention-saved');
  await page.click('#retention-apply');
  await page.click('#retention-apply-confirm');
  await page.waitForSelector('#retention-large');
  assert.match(await page.textContent('#retention-large'), /\d+% of the data you have stored/);
  await shot(page, '33-versions-kept-large-prune');
  await page.click('#retention-apply-anyway');
  await page.waitForSelector('#retention-apply-dialog', { state: 'detached' });
  await page.waitForSelector('#retention-outcome');
  assert.equal(Number(await page.getAttribute('#retention-outcome', 'data-kept')), 1);
  const applies = await page.evaluate(() => window.__cofferMock.calls.filter((c) => c.cmd === 'apply_retention').map((c) => c.args));
  // Confirmed once, the next cleanup does not ask again.
  assert.deepEqual(applies.slice(-3), [
    { preview: true, confirmLarge: false },
    { preview: false, confirmLarge: false },
    { preview: false, confirmLarge: true },
  ]);
  assert.equal(await page.evaluate(() => window.__cofferMock.calls.filter((c) => c.cmd === 'confirm_identity').length), 2);
  assert.deepEqual(errors, []);
  await page.close();
});

test('automatic cleanup waits for the person; a removal can be put back from Settings → Privacy', async () => {
  const { page, errors } = await openApp(harness, { options: { signedIn: true, folders: FOLDERS.slice(0, 2), snapshots: HISTORY, stepMs: 80, cleanupWaiting: true } });
  // The Overview says so, and leads to the rules.
  await page.waitForSelector('#cleanup-waiting');
  assert.match(await page.textContent('#cleanup-waiting'), /confirm with your password/);
  await shot(page, '29-overview-cleanup-waiting');
  await page.click('#cleanup-review');
  await page.waitForSelector('#retention-cleanup-waiting');
  assert.match(await page.textContent('#retention-cleanup-waiting'), /ready to be cleaned up/);
  await page.click('#retention-cleanup-now');
  await page.waitForSelector('#retention-apply-dialog');
  await page.click('#retention-apply-confirm');
  await page.waitForSelector('#confirm-identity');
  await page.fill('#confirm-password', 'correct horse battery');
  await page.click('#confirm-identity-submit');
  await page.waitForSelector('#retention-outcome');
  assert.equal(await page.$('#retention-cleanup-waiting'), null, 'the notice is gone once cleaned up');
  const left = await page.evaluate(() => window.__cofferMock.state.snapshots.length);
  assert.ok(left < HISTORY.length);

  await page.click('#nav-settings');
  await page.waitForSelector('#settings-tab-privacy');
  await page.click('#settings-tab-privacy');
  await page.waitForSelector('#pending-deletions-list li');
  const text = await page.textContent('#pending-deletions-list');
  assert.match(text, new RegExp(`${HISTORY.length - left} backups`));
  assert.match(text, /Deleted for good on/);
  await page.evaluate(() => document.querySelector('#pending-deletions').scrollIntoView({ block: 'start' }));
  await shot(page, '34-settings-pending-deletions');
  await page.click('#pending-deletions-list li button');
  await page.waitForSelector('#pending-deletions-restored');
  await page.waitForSelector('#pending-deletions-empty');
  assert.equal(await page.evaluate(() => window.__cofferMock.state.snapshots.length), HISTORY.length, 'the backups are back');
  assert.deepEqual(errors, []);
  await page.close();
});

test('lost both key and recovery code: start over with a new private key', async () => {
  const { page, errors } = await openApp(harness, { options: { locked: true, folders: FOLDERS.slice(0, 2), snapshots: SNAPSHOTS } });
  await page.waitForSelector('#unlock-key');
  await page.click('#unlock-lost summary');
  await page.click('#unlock-start-over');
  await page.waitForSelector('#start-over');
  assert.match(await page.textContent('#start-over'), /nobody can open the files backed up so far/);
  await shot(page, '34-start-over');

  await page.check('#start-over-key-private');
  await page.fill('#start-over-private-key', 'hunter2');
  await page.waitForSelector('#start-over-key-strength[data-score="1"]');
  await page.click('#start-over-submit');
  await page.waitForSelector('#start-over-private-key-error:has-text("too easy to guess")');
  assert.match(await page.textContent('#start-over-password-error'), /account password/);
  assert.match(await page.textContent('#start-over-understood-error'), /Tick this/);
  await page.fill('#start-over-private-key', 'purple elephant quietly dances');
  await page.fill('#start-over-private-key-repeat', 'purple elephant quietly dances');
  await page.waitForSelector('#start-over-key-strength[data-score="4"]');
  await page.fill('#start-over-password', 'wrong password');
  await page.check('#start-over-understood');
  await page.click('#start-over-submit');
  await page.waitForSelector('#start-over-password-error:has-text("Nothing was deleted")');
  assert.equal(await page.evaluate(() => window.__cofferMock.state.snapshots.length), SNAPSHOTS.length);
  await page.fill('#start-over-password', 'correct horse battery');
  await shot(page, '35-start-over-private-key');
  await page.click('#start-over-submit');

  // The new recovery kit, then the Overview with nothing backed up yet; the account and folders stay.
  await page.waitForSelector('#recovery-code');
  assert.equal((await page.textContent('#recovery-code')).replace(/\s+/g, ''), 'R4WB7MXT2QKP9CZD3HNA');
  const call = await page.evaluate(() => window.__cofferMock.calls.filter((c) => c.cmd === 'start_over').pop().args);
  assert.deepEqual(call, { newKey: 'purple elephant quietly dances', password: 'correct horse battery' });
  assert.equal((await page.evaluate(() => window.__cofferMock.calls.filter((c) => c.cmd === 'delete_account'))).length, 0);
  await shot(page, '36-start-over-recovery-kit');
  await page.check('#recovery-saved');
  await page.click('#recovery-continue');
  await page.waitForSelector('#folder-list li[data-path="/home/ada/Documents"]');
  assert.match(await page.textContent('#backup-status'), /Not backed up yet/);
  assert.match(await page.textContent('#status-summary'), /Not backed up yet/);
  assert.doesNotMatch(await page.textContent('#status-summary'), /Add a folder/);
  await shot(page, '37-start-over-dashboard');
  assert.deepEqual(errors, []);
  await page.close();
});

test('an interrupted switch to a private key is finished from Settings → Encryption', async () => {
  const { page, errors } = await openApp(harness, { options: { signedIn: true, folders: FOLDERS, snapshots: SNAPSHOTS, keySwitchInterrupted: true, stepMs: 80 } });
  // Another flow's window may have noted its saved kit: this one starts without.
  await page.evaluate(() => localStorage.clear());
  await page.click('#nav-settings');
  await page.click('#settings-tab-encryption');
  await page.waitForSelector('#key-switch-interrupted');
  assert.match(await page.textContent('#key-switch-interrupted'), /A switch to your private key was interrupted\. Enter your new key and your password to finish it\./);
  assert.ok(await page.isDisabled('#key-switch'));
  assert.equal(await page.locator('#key-progress').count(), 0);
  await shot(page, '40-key-switch-interrupted');

  // Another key is refused at once; a wrong password by the resumed run.
  await page.fill('#key-finish-key', 'purple elephant loudly dances');
  await page.fill('#key-finish-password', 'correct horse battery');
  await page.click('#key-finish');
  await page.waitForSelector('#key-finish-key-error:has-text("not the new key you chose")');
  await page.fill('#key-finish-key', 'purple elephant quietly dances');
  await page.fill('#key-finish-password', 'not it');
  await page.click('#key-finish');
  await page.waitForSelector('#key-finish-password-error:has-text("not your account password")');
  await shot(page, '41-key-switch-finish-wrong-password');

  // Right: progress, then done; the kit was never saved, so it comes back (the same code).
  await page.fill('#key-finish-key', 'purple elephant quietly dances');
  await page.fill('#key-finish-password', 'correct horse battery');
  await page.click('#key-finish');
  await page.waitForSelector('#key-progress');
  await page.waitForSelector('#recovery-dialog #recovery-code', { timeout: 10_000 });
  assert.equal((await page.textContent('#recovery-code')).replace(/\s/g, ''), 'K7QM2XPA9RTB4WZC8NDF');
  await page.check('#recovery-saved');
  await page.click('#recovery-continue');
  await page.waitForSelector('#recovery-dialog', { state: 'detached' });
  await page.waitForSelector('#key-mode[data-mode="private"]');
  await page.waitForSelector('#key-switch-done');
  assert.equal(await page.locator('#key-switch-interrupted').count(), 0);
  assert.equal(await page.locator('#key-progress').count(), 0);
  await shot(page, '42-key-switch-finished');
  assert.deepEqual(errors, []);
  await page.close();
});

test('a folder just added is backed up by the agent itself, and the sidebar summary follows', async () => {
  const { page, errors } = await openApp(harness, { options: { signedIn: true, folders: [], snapshots: [], autoBackup: true, stepMs: 200 } });
  await page.waitForSelector('#status-summary:has-text("Add a folder to begin")');
  await page.click('#nav-add-folder');
  await page.fill('#add-folder-path', '/home/ada/Documents');
  await page.click('#add-folder-submit');
  await page.waitForSelector('#folder-list li[data-path="/home/ada/Documents"]');
  assert.doesNotMatch(await page.textContent('#status-summary'), /Add a folder/);
  await page.waitForSelector('#status-summary[data-state="backing-up"]');
  await page.waitForSelector('#backup-progress');
  await shot(page, '38-auto-backup-after-add');
  await page.waitForSelector('#status-summary:has-text("Up to date")', { timeout: 10_000 });
  await page.waitForSelector('#backup-status:has-text("Your files are backed up")');
  assert.equal((await page.evaluate(() => window.__cofferMock.calls.filter((c) => c.cmd === 'backup_now'))).length, 0, 'nobody clicked Back up now');
  await shot(page, '39-auto-backup-done');
  assert.deepEqual(errors, []);
  await page.close();
});

/** Every screen, in one colour scheme. */
async function gallery(scheme) {
  const p = (name) => `${scheme}/${name}`;
  const opts = { signedIn: true, folders: FOLDERS, snapshots: HISTORY, stepMs: 150 };

  // Welcome, with the private key chosen.
  {
    const { page } = await openApp(harness, { colorScheme: scheme });
    await page.waitForSelector('#signup-first');
    await shot(page, p('01-welcome'));
    await page.fill('#signup-first', 'Ada');
    await page.fill('#signup-last', 'Lovelace');
    await page.fill('#signup-email', 'ada@example.com');
    await page.fill('#signup-password', 'correct horse battery');
    await page.check('#signup-age');
    await page.check('#signup-key-private');
    await page.fill('#signup-private-key', 'correct horse battery');
    await page.waitForSelector('#key-strength[data-score]');
    await page.evaluate(() => document.querySelector('#private-key-panel').scrollIntoView({ block: 'center' }));
    await shot(page, p('02-welcome-private-key'));
    await page.fill('#signup-private-key', 'correct horse battery staple');
    await page.fill('#signup-private-key-repeat', 'correct horse battery staple');
    await page.check('#signup-key-confirm');
    await page.click('#signup-submit');
    await page.waitForSelector('#recovery-code');
    await shot(page, p('03-recovery-kit'));
    await page.close();
  }
  {
    const { page } = await openApp(harness, { colorScheme: scheme, options: { ...opts, locked: true } });
    await page.waitForSelector('#unlock-key');
    await shot(page, p('04-unlock'));
    await page.close();
  }

  const { page, errors } = await openApp(harness, { colorScheme: scheme, options: { ...opts, backupRunning: true } });
  await page.waitForSelector('#backup-progress[data-phase="uploading"]');
  await shot(page, p('05-dashboard-backing-up'));
  await page.close();

  const main = await openApp(harness, { colorScheme: scheme, options: opts });
  const pg = main.page;
  await pg.waitForSelector('#folder-list li');
  await pg.click('#verify-backup');
  await pg.waitForSelector('#verify-result');
  await shot(pg, p('06-dashboard'));
  await pg.click('#nav-folders');
  await pg.waitForSelector('#excluded-files li');
  await pg.waitForSelector('#folders-usage .bytes');
  await shot(pg, p('07-folders'));
  await pg.click('#nav-add-folder');
  await pg.waitForSelector('#add-folder-path');
  await shot(pg, p('08-add-folder'));
  await pg.click('#nav-restore');
  await pg.waitForSelector('#restore-tree li');
  await pg.click('#restore-tree li[data-path="/home/ada/Documents"] button.name');
  await pg.waitForSelector('#restore-tree li[data-path="/home/ada/Documents/notes.txt"]');
  await pg.check('#restore-tree li[data-path="/home/ada/Documents/notes.txt"] input');
  await pg.check('#restore-tree li[data-path="/home/ada/Documents/photos"] input');
  await shot(pg, p('09-restore'));
  await pg.click('#restore-tree li[data-path="/home/ada/Documents/notes.txt"] button.versions');
  await pg.waitForSelector('#versions-list li');
  await shot(pg, p('10-restore-versions'));
  await pg.keyboard.press('Escape');
  await pg.fill('#restore-search', 'return');
  await pg.check('#restore-search-all');
  await pg.click('#restore-search-submit');
  await pg.waitForSelector('#restore-hits li');
  await shot(pg, p('11-restore-search'));
  await pg.click('#restore-search-clear');
  await pg.fill('#restore-target', '/home/ada/Restored');
  await pg.click('#restore-submit');
  await pg.waitForSelector('#restore-result');
  await pg.evaluate(() => document.querySelector('#restore-result').scrollIntoView({ block: 'end' }));
  await shot(pg, p('12-restore-done'));
  await pg.click('#nav-schedule');
  await pg.waitForSelector('#watch-status');
  await shot(pg, p('13-schedule'));
  await pg.click('#retention-preview');
  await pg.waitForSelector('#retention-preview-result');
  await pg.evaluate(() => document.querySelector('#retention').scrollIntoView({ block: 'start' }));
  await shot(pg, p('13b-schedule-versions-kept'));
  await pg.click('#nav-activity');
  await pg.waitForSelector('#activity-backups');
  await shot(pg, p('14-activity-backups'));
  await pg.click('#activity-tab-sessions');
  await pg.waitForSelector('#activity-sessions');
  await shot(pg, p('15-activity-sessions'));
  await pg.click('#nav-settings');
  await pg.waitForSelector('#profile-first');
  await shot(pg, p('16-settings-account'));
  await pg.click('#totp-start');
  await pg.waitForSelector('#totp-secret');
  await pg.evaluate(() => document.querySelector('#totp').scrollIntoView({ block: 'center' }));
  await shot(pg, p('16b-settings-two-step'));
  await pg.fill('#totp-code', '123456');
  await pg.click('#totp-enable');
  await pg.waitForSelector('#totp-recovery-codes li');
  await pg.evaluate(() => document.querySelector('#totp').scrollIntoView({ block: 'center' }));
  await shot(pg, p('16c-settings-two-step-codes'));
  await pg.check('#totp-codes-saved');
  await pg.click('#totp-done');
  await pg.waitForSelector('#totp-state:has-text("On")');
  await pg.click('#settings-tab-communication');
  await pg.waitForSelector('#pref-newsletter');
  await shot(pg, p('17-settings-communication'));
  await pg.click('#settings-tab-encryption');
  await pg.waitForSelector('#key-mode');
  await shot(pg, p('18-settings-encryption'));
  await pg.click('#key-switch');
  await pg.waitForSelector('#key-dialog');
  await pg.fill('#key-new', 'purple elephant');
  await pg.waitForSelector('#key-new-strength[data-score]');
  await shot(pg, p('19-settings-encryption-switch'));
  await pg.keyboard.press('Escape');
  await pg.click('#settings-tab-devices');
  await pg.waitForSelector('#session-list li');
  await pg.waitForSelector('#device-list li');
  await shot(pg, p('20-settings-devices'));
  await pg.click('#settings-tab-privacy');
  await pg.waitForSelector('#policy-text');
  await shot(pg, p('21-settings-privacy'));
  await pg.click('#export-data');
  await pg.waitForSelector('#export-result');
  await pg.evaluate(() => document.querySelector('#export-row').scrollIntoView({ block: 'center' }));
  await shot(pg, p('21b-settings-privacy-export'));
  await pg.click('#delete-account');
  await pg.waitForSelector('#delete-dialog');
  await shot(pg, p('22-settings-delete'));
  await pg.keyboard.press('Escape');
  await pg.click('#settings-tab-general');
  await pg.waitForSelector('#autostart');
  await shot(pg, p('23-settings-general'));
  assert.deepEqual(main.errors, []);
  assert.deepEqual(errors, []);
  await pg.close();

  // Sharing: the dialog while it uploads, and the two Settings lists with every state.
  {
    const shared = await openApp(harness, { colorScheme: scheme, options: { ...opts, sharingHistory: true, stepMs: 900 } });
    const sp = shared.page;
    await sp.click('#nav-restore');
    await sp.click('#restore-tree li[data-path="/home/ada/Documents"] button.name');
    await sp.click('#restore-tree li[data-path="/home/ada/Documents/Taxes"] .share');
    await sp.fill('#share-recipients', 'bob@example.com');
    await sp.click('#share-submit');
    await sp.waitForSelector('#share-progress p:has-text("files ·")');
    await shot(sp, p('29-share-uploading'));
    await sp.waitForSelector('#share-link-value', { timeout: 20_000 });
    await sp.click('#share-done');
    await sp.click('#nav-settings');
    await sp.click('#settings-tab-sharing');
    await sp.waitForSelector('#share-list li[data-state="revoked"]');
    await shot(sp, p('30-settings-sharing'));
    await sp.click('#settings-tab-apps');
    await sp.waitForSelector('#app-list li');
    await shot(sp, p('31-settings-connected-apps'));
    await sp.click('#app-create');
    await shot(sp, p('32-settings-connect-app'));
    assert.deepEqual(shared.errors, []);
    await sp.close();
  }

  // Empty and error states.
  const empty = await openApp(harness, { colorScheme: scheme, options: { signedIn: true, folders: [], snapshots: [] } });
  await empty.page.waitForSelector('#nav-folders');
  await empty.page.click('#nav-folders');
  await empty.page.waitForSelector('text=No folders yet');
  await shot(empty.page, p('24-folders-empty'));
  await empty.page.click('#nav-activity');
  await empty.page.waitForSelector('text=No backups yet');
  await shot(empty.page, p('25-activity-empty'));
  await empty.page.close();

  const broken = await openApp(harness, {
    colorScheme: scheme,
    options: { ...opts, failing: ['browse', 'activity', 'scheduler_status'], policyOutdated: true, watchFallback: 'Too many folders to watch.' },
  });
  await broken.page.waitForSelector('#policy-banner');
  await shot(broken.page, p('26-policy-banner'));
  await broken.page.click('#nav-restore');
  await broken.page.waitForSelector('text=Could not open this folder');
  await broken.page.evaluate(() => document.querySelector('#restore-breadcrumbs').scrollIntoView({ block: 'start' }));
  await shot(broken.page, p('27-restore-browse-error'));
  await broken.page.click('#nav-schedule');
  await broken.page.waitForSelector('#error-banner');
  await shot(broken.page, p('28-schedule-error'));
  await broken.page.close();
}

test('screenshots of every screen, light', () => gallery('light'));
test('screenshots of every screen, dark', () => gallery('dark'));
