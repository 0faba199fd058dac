// Issue 5, point 6, in the real window: sign up with a private key (typed
// twice, confirmed, recovery kit) → back up → a NEW device (its own HOME,
// config folder and keychain entries) signs in → Unlock → a wrong key is
// refused clearly and writes nothing → the right key unlocks → restore →
// identical files; a third new device unlocks with the recovery code.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { artifacts, device, launch, listFiles, pictureOnFailure, sameFiles, work, writeFiles } from './lib.mjs';

const account = { first: 'Hedy', last: 'Lamarr', email: 'hedy@example.com', password: 'frequency hopping 1942' };
const KEY = 'torpedo piano rolls eighty-eight keys';
const shots = path.join(artifacts, 'private-key');
const data = path.join(work, 'Private');
const files = writeFiles(data, {
  'patent.txt': Buffer.from('Secret Communication System, US 2,292,387.\n'),
  'drawings/sheet-1.bin': crypto.randomBytes(256 * 1024 + 3),
  'Ünïcode naïve.txt': Buffer.from('Names stay private too.\n'),
  'empty.txt': Buffer.alloc(0),
});

let w;
/** One device at a time: the app is single instance. */
async function closeWindow() {
  if (w) await w.close();
  w = null;
}
after(closeWindow);

/**
 * The names of the device's keychain entries (Secret Service items of its
 * service name, e.g. "refresh-token", "data-key"), or null without secret-tool.
 * secret-tool prints attributes on stderr and the secrets on stdout, which is
 * thrown away.
 */
function keychainNames(dev) {
  const run = spawnSync('secret-tool', ['search', '--all', 'service', dev.env.COFFER_KEYCHAIN_SERVICE], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (run.error) return null;
  return [...run.stderr.matchAll(/^attribute\.username = (.*)$/gm)].map((m) => m[1].split('/').pop());
}

/** Restore → everything of the newest backup into `target` → the files are identical. */
async function restoreEverything(target) {
  const ids = await w.snapshotIds();
  assert.ok(ids.length >= 1, 'the backup made on the first device is listed');
  await w.type('#restore-target', target);
  await w.click('#restore-submit');
  await (await w.el('#restore-result', 60000)).scrollIntoView();
  sameFiles(assert, path.join(target, path.basename(data)), files);
}

let recoveryCode = '';

test('sign up with a private key, save the recovery kit, back up', () => pictureOnFailure(() => w, 'private-key-1', async () => {
  w = await launch(device('pk-first'));
  await w.signUp({ ...account, privateKey: KEY });
  const meter = await w.el('#key-strength');
  await w.until(async () => (await meter.getAttribute('data-score')) !== null, 20000, 'the strength meter rates the key');
  const score = Number(await meter.getAttribute('data-score'));
  assert.ok(score >= 3, `the key is rated strong enough (score ${score})`);
  await (await w.el('#signup-key-confirm')).scrollIntoView();
  await w.screenshot(path.join(shots, '01-private-key-chosen.png'));
  await w.click('#signup-submit');

  // The recovery kit: the code is shown once; continuing needs "I saved it".
  // Noted as the kit shows it: groups of four (typed back with dashes).
  await w.el('#recovery-code', 60000);
  const groups = await w.browser.execute(() => [...document.querySelectorAll('#recovery-code span')].map((s) => s.textContent.trim()));
  recoveryCode = groups.join('-');
  assert.match(recoveryCode, /^[A-Z0-9]{4}(-[A-Z0-9]{4})+$/i, `the recovery code is groups of four (${recoveryCode})`);
  await w.screenshot(path.join(shots, '02-recovery-kit.png'));
  await w.click('#recovery-continue');
  await w.untilText('#recovery-saved-error', (t) => t.length > 0, 5000, 'continuing without ticking "I saved it" is refused');
  await w.click('#recovery-saved');
  await w.click('#recovery-continue');

  await w.el('#backup-now', 30000);
  await w.addFolder(data);
  await w.untilBackedUp();
  await w.click('#nav-settings');
  await w.click('#settings-tab-encryption');
  const mode = await (await w.el('#key-mode')).getAttribute('data-mode');
  assert.equal(mode, 'private', 'Settings → Encryption says the key is private');
  await closeWindow();
}));

test('a new device: a wrong key is refused and writes nothing; the right key unlocks and restores', (t) => pictureOnFailure(() => w, 'private-key-2', async () => {
  await closeWindow();
  assert.ok(recoveryCode, 'the first test ran');
  const dev = device('pk-second');
  const target = path.join(work, 'RestoredOnSecondDevice');
  w = await launch(dev);
  await w.signIn(account);

  // Signed in, but the files stay locked until the key is typed.
  await w.el('#unlock-key', 30000);
  assert.equal(await (await w.browser.$('#nav-restore')).isExisting(), false, 'nothing to restore from before unlocking');
  await w.screenshot(path.join(shots, '03-unlock.png'));

  await w.type('#unlock-key', 'torpedo piano rolls eighty-eight key');
  await w.click('#unlock-submit');
  const error = await w.untilText('#unlock-key-error', (t) => t.length > 0, 60000, 'a wrong key shows an error');
  assert.match(error, /does not unlock your files/, 'the error says the key is wrong');
  await w.screenshot(path.join(shots, '04-wrong-key.png'));
  assert.ok(await (await w.browser.$('#unlock-key')).isDisplayed(), 'still on Unlock');
  assert.deepEqual(listFiles(target), [], 'nothing was written to the target folder');
  const afterWrong = keychainNames(dev);
  if (afterWrong === null) t.diagnostic('secret-tool is missing: the keychain is not checked');
  else assert.ok(afterWrong.includes('refresh-token'), `the sign-in is kept in the keychain (${afterWrong.join(', ')})`);
  if (afterWrong) assert.ok(!afterWrong.includes('data-key'), `no data key in the keychain (${afterWrong.join(', ')})`);

  // The right key, remembered on this device.
  await w.type('#unlock-key', KEY);
  await w.click('#unlock-remember');
  await w.click('#unlock-submit');
  await w.el('#backup-now', 60000);
  const afterRight = keychainNames(dev);
  if (afterRight) assert.ok(afterRight.includes('data-key'), `"Remember on this device" keeps the key in the keychain (${afterRight.join(', ')})`);

  await restoreEverything(target);
  await w.screenshot(path.join(shots, '05-restored-with-key.png'));
  await closeWindow();
}));

test('a third new device unlocks with the recovery code and restores', () => pictureOnFailure(() => w, 'private-key-3', async () => {
  await closeWindow();
  assert.ok(recoveryCode, 'the first test ran');
  const target = path.join(work, 'RestoredWithRecoveryCode');
  w = await launch(device('pk-third'));
  await w.signIn(account);
  await w.el('#unlock-key', 30000);
  await w.click('#unlock-use-recovery');
  await w.type('#unlock-recovery-code', 'AAAA-BBBB-CCCC-DDDD');
  await w.click('#unlock-submit');
  const error = await w.untilText('#unlock-recovery-code-error', (t) => t.length > 0, 60000, 'a wrong code shows an error');
  assert.match(error, /does not unlock your files/);
  assert.deepEqual(listFiles(target), [], 'nothing was written to the target folder');

  await w.type('#unlock-recovery-code', recoveryCode);
  await w.screenshot(path.join(shots, '06-recovery-code.png'));
  await w.click('#unlock-submit');
  await w.el('#backup-now', 60000);
  await restoreEverything(target);
  await w.screenshot(path.join(shots, '07-restored-with-code.png'));
}));
