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

const SNAPSHOTS = [
  { id: 'snap-2', time: Date.now() - 3_600_000, device_name: 'ada-laptop', roots: ['/home/ada/Documents', '/home/ada/Pictures'], files: 1_284, bytes: 3_400_000_000 },
  { id: 'snap-1', time: Date.now() - 3 * 86_400_000, device_name: 'ada-desktop', roots: ['/home/ada/Documents'], files: 1_020, bytes: 2_100_000_000 },
];

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
  await page.selectOption('#restore-scope', '/home/ada/Documents');
  await page.fill('#restore-target', '/home/ada/Restored');
  await shot(page, '08-restore');
  await page.click('#restore-submit');
  await page.waitForSelector('#restore-result');
  assert.match(await page.textContent('#restore-result'), /\/home\/ada\/Restored/);
  await shot(page, '09-restore-done');

  const restoreCall = await page.evaluate(() => window.__cofferMock.calls.find((c) => c.cmd === 'restore'));
  assert.deepEqual(restoreCall.args, {
    request: { snapshot_id: 'snap-1', paths: ['/home/ada/Documents'], target: '/home/ada/Restored' },
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
  const scopes = await page.$$eval('#restore-scope option', (os) => os.map((o) => o.value));
  assert.deepEqual(scopes, ['', '/home/ada/Documents', '/home/ada/Pictures']);
  await page.click('#restore-submit');
  await page.waitForSelector('#restore-target-error');
  await page.click('#restore-pick-target');
  await page.waitForFunction(() => document.querySelector('#restore-target')?.value === '/home/ada/Pictures');
  await shot(page, '16-restore-dark');
  await page.click('#restore-submit');
  await page.waitForSelector('#restore-skipped li');
  assert.match(await page.textContent('#restore-result'), /damaged piece/);
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
  await page.click('#sign-out');
  await page.click('#show-signup');
  await page.waitForSelector('#signup-first');
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth), 760);
  await shot(page, '19-welcome-small');
  await page.close();
});
