// The walking skeleton in the real Coffer window: sign up → add a folder by
// path → Back up now → progress reaches done → restore into a new folder →
// the restored files are identical. Run by tests/e2e/run.sh, which starts the
// service, Xvfb, a keychain and tauri-driver.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { remote } from 'webdriverio';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through tests/e2e/run.sh`);
  return value;
};
const server = env('COFFER_E2E_SERVER');
const app = env('COFFER_E2E_APP');
const artifacts = env('COFFER_E2E_ARTIFACTS');
const work = env('COFFER_E2E_WORK');
const port = Number(env('COFFER_E2E_DRIVER_PORT'));

let browser;
let shot = 0;

async function screenshot(name) {
  shot += 1;
  const file = path.join(artifacts, `${String(shot).padStart(2, '0')}-${name}.png`);
  await browser.saveScreenshot(file);
  return file;
}

async function el(selector, timeout = 20000) {
  const element = await browser.$(selector);
  await element.waitForDisplayed({ timeout });
  return element;
}

async function type(selector, text) {
  const element = await el(selector);
  await element.clearValue();
  await element.setValue(text);
}

/** A folder of generated files: nested, unicode, empty, and one of several MiB. */
function makeDataset(root) {
  const files = {
    'notes.txt': Buffer.from('Remember the milk.\n'),
    'empty.txt': Buffer.alloc(0),
    'Fotos/été à Paris.txt': Buffer.from('Unicode names survive.\n'),
    'Fotos/raw/scan.bin': crypto.randomBytes(3 * 1024 * 1024 + 17),
    'deep/a/b/c/leaf.json': Buffer.from(JSON.stringify({ leaf: true })),
  };
  for (const [name, bytes] of Object.entries(files)) {
    const file = path.join(root, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, bytes);
  }
  return files;
}

before(async () => {
  browser = await remote({
    hostname: '127.0.0.1',
    port,
    logLevel: 'warn',
    capabilities: { 'tauri:options': { application: app } },
  });
});

after(async () => {
  if (browser) await browser.deleteSession().catch(() => {});
});

test('sign up, add a folder, back up, restore identical files', async () => {
  const data = path.join(work, 'Documents');
  const files = makeDataset(data);
  const restoreTo = path.join(work, 'Restored');

  // Welcome: sign up against the test service (set under "Advanced").
  await el('#signup-first', 60000);
  await screenshot('welcome');
  await (await el('#advanced-toggle')).click();
  await type('#server-url', server);
  await type('#signup-first', 'Ada');
  await type('#signup-last', 'Lovelace');
  await type('#signup-email', 'ada@example.com');
  await type('#signup-password', 'correct horse battery staple');
  await (await el('#signup-age')).click();
  await screenshot('welcome-filled');
  await (await el('#signup-submit')).click();

  // Dashboard, then add the folder by typing its path.
  await el('#backup-now', 30000);
  await screenshot('dashboard-empty');
  await (await el('#nav-add-folder')).click();
  await type('#add-folder-path', data);
  await screenshot('add-folder');
  await (await el('#add-folder-submit')).click();
  await el(`#folder-list li[data-path="${data}"]`, 15000);
  await screenshot('dashboard-with-folder');

  // Back up now; progress reaches done.
  await (await el('#backup-now')).click();
  const progress = await el('#backup-progress', 15000);
  await browser.waitUntil(async () => (await progress.getAttribute('data-phase')) === 'done', {
    timeout: 120000,
    timeoutMsg: 'the backup did not finish',
  });
  await el('#backup-summary');
  // The dashboard reloads after the run: the backup is listed and storage is counted.
  const status = await el('#backup-status');
  await browser.waitUntil(async () => (await status.getText()) === 'Your files are backed up', {
    timeout: 20000,
    timeoutMsg: 'the dashboard did not show the finished backup',
  });
  await browser.pause(500); // let the progress bar's transition settle for the picture
  await screenshot('backup-done');

  // Restore everything of the latest backup into a new folder.
  await (await el('#nav-restore')).click();
  const select = await el('#restore-snapshot', 20000);
  await browser.waitUntil(async () => (await select.$$('option')).length > 0, { timeout: 20000 });
  await type('#restore-target', restoreTo);
  await screenshot('restore');
  await (await el('#restore-submit')).click();
  await el('#restore-result', 60000);
  // The page scrolls to the outcome; let that frame paint before the picture.
  await browser.pause(300);
  await screenshot('restore-done');

  for (const [name, bytes] of Object.entries(files)) {
    const restored = path.join(restoreTo, 'Documents', name);
    assert.ok(fs.existsSync(restored), `${name} was restored`);
    assert.ok(fs.readFileSync(restored).equals(bytes), `${name} is byte for byte identical`);
  }
});
