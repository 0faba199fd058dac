// Shared helpers for the WebDriver suites run by tests/e2e/run.sh.
//
// Every app session is a "device": `launch` writes a small launcher script that
// gives the real coffer-desktop binary its own HOME, XDG folders, agent config
// folder and keychain service name (and optionally GTK_THEME), then asks
// tauri-driver to start that script as the application. The app is single
// instance (one per D-Bus session), so a test closes one device before it
// launches the next.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { remote } from 'webdriverio';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run this through tests/e2e/run.sh`);
  return value;
};
export const server = env('COFFER_E2E_SERVER');
export const app = env('COFFER_E2E_APP');
export const artifacts = env('COFFER_E2E_ARTIFACTS');
export const work = env('COFFER_E2E_WORK');
const port = Number(env('COFFER_E2E_DRIVER_PORT'));

const quote = (value) => `'${String(value).replaceAll("'", `'\\''`)}'`;

/** A device: its own home, config folder and keychain entries. Not started yet. */
export function device(name) {
  const root = path.join(work, 'devices', name);
  const home = path.join(root, 'home');
  fs.mkdirSync(home, { recursive: true });
  return {
    name,
    root,
    home,
    env: {
      HOME: home,
      XDG_DATA_HOME: path.join(home, '.local/share'),
      XDG_CONFIG_HOME: path.join(home, '.config'),
      XDG_CACHE_HOME: path.join(home, '.cache'),
      COFFER_CONFIG_DIR: path.join(root, 'agent'),
      COFFER_KEYCHAIN_SERVICE: `coffer-e2e-${name}`,
      // The diagnostics commands (tray, window, notices) answer the tests.
      COFFER_DIAGNOSTICS: '1',
    },
  };
}

/** The D-Bus name the running app holds (tauri-plugin-single-instance: `<identifier>.SingleInstance`). */
const INSTANCE_NAME = 'app.coffer.desktop.SingleInstance';

/** Whether a Coffer app holds its single-instance name (null: cannot tell, no dbus-send). */
export function instanceRunning() {
  const run = spawnSync(
    'dbus-send',
    ['--session', '--print-reply', '--dest=org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus.NameHasOwner', `string:${INSTANCE_NAME}`],
    { encoding: 'utf8' },
  );
  if (run.error) return null;
  return !/boolean false/.test(run.stdout);
}

/**
 * Waits until no Coffer window runs in this test's D-Bus session. A new app
 * started while the previous one is still exiting would find that one and quit
 * (single instance), so every launch and close waits for the name to be free.
 */
export async function untilNoInstance(timeout = 20000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const running = instanceRunning();
    if (running === null) {
      // No dbus-send: give the previous app a moment instead.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      return;
    }
    if (!running) return;
    if (Date.now() > deadline) throw new Error(`an earlier Coffer window is still running after ${timeout} ms (${INSTANCE_NAME} is taken)`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Starts the real app as `dev` (a `device(...)`), with extra environment
 * (e.g. `{ GTK_THEME: 'Adwaita:dark' }`) and command-line `args` (e.g.
 * `['--minimized']`). Returns a Window wrapping the WebDriver session.
 */
export async function launch(dev, extraEnv = {}, args = []) {
  const vars = { ...dev.env, ...extraEnv };
  // GTK_THEME is inherited from run.sh's environment unless a session sets it.
  const lines = ['#!/bin/sh', 'unset GTK_THEME'];
  for (const [key, value] of Object.entries(vars)) lines.push(`export ${key}=${quote(value)}`);
  // The app's own log (and WebKit's) go to ARTIFACTS/app-<device>.log.
  lines.push(`exec ${quote(app)} "$@" 2>>${quote(path.join(artifacts, `app-${dev.name}.log`))}`, '');
  const launcher = path.join(dev.root, `launch-${crypto.randomBytes(4).toString('hex')}.sh`);
  fs.writeFileSync(launcher, lines.join('\n'), { mode: 0o755 });
  await untilNoInstance();
  const browser = await remote({
    hostname: '127.0.0.1',
    port,
    logLevel: 'warn',
    capabilities: { 'tauri:options': { application: launcher, args } },
  });
  return new Window(browser, dev);
}

export class Window {
  constructor(browser, dev) {
    this.browser = browser;
    this.device = dev;
  }

  async close() {
    await this.browser.deleteSession().catch(() => {});
    await untilNoInstance().catch(() => {});
  }

  /**
   * Calls a Tauri command the way the UI does (`__TAURI_INTERNALS__.invoke`)
   * and returns its answer; a command's error is thrown.
   */
  async invoke(command, args = {}) {
    const result = await this.browser.executeAsync(
      (command, args, done) => {
        window.__TAURI_INTERNALS__.invoke(command, args).then(
          (value) => done({ ok: true, value }),
          (error) => done({ ok: false, error }),
        );
      },
      command,
      args,
    );
    if (!result.ok) throw new Error(`${command} failed: ${JSON.stringify(result.error)}`);
    return result.value;
  }

  async el(selector, timeout = 20000) {
    const element = await this.browser.$(selector);
    await element.waitForDisplayed({ timeout, timeoutMsg: `${selector} was not shown within ${timeout} ms` });
    return element;
  }

  async click(selector, timeout) {
    const element = await this.el(selector, timeout);
    await element.click();
    return element;
  }

  async type(selector, text) {
    const element = await this.el(selector);
    await element.clearValue();
    await element.setValue(text);
    return element;
  }

  async text(selector) {
    return (await this.el(selector)).getText();
  }

  async until(condition, timeout, message) {
    await this.browser.waitUntil(condition, { timeout, interval: 250, timeoutMsg: message });
  }

  /** Waits until `selector`'s text satisfies `test` (a string to equal or a predicate). */
  async untilText(selector, test, timeout, message) {
    const ok = typeof test === 'function' ? test : (t) => t === test;
    let last = '';
    try {
      await this.until(async () => {
        const element = await this.browser.$(selector);
        last = (await element.isExisting()) ? await element.getText() : '';
        return ok(last);
      }, timeout);
    } catch {
      throw new Error(`${message} (last text of ${selector}: ${JSON.stringify(last)})`);
    }
    return last;
  }

  /** Lets the webview paint the current state (two animation frames and a breath). */
  async settle(ms = 250) {
    await this.browser.executeAsync((done) => requestAnimationFrame(() => requestAnimationFrame(() => done())));
    await this.browser.pause(ms);
  }

  async screenshot(file) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // Park the pointer in an empty corner so no hover state shows in the picture.
    await this.browser.action('pointer').move({ x: 1000, y: 6, origin: 'viewport' }).perform().catch(() => {});
    await this.settle();
    await this.browser.saveScreenshot(file);
    return file;
  }

  /** Welcome: point the app at the test service (under "Advanced"). */
  async useTestServer() {
    await this.el('#signup-first, #signin-email', 60000);
    if (!(await (await this.browser.$('#server-url')).isExisting())) await this.click('#advanced-toggle');
    await this.type('#server-url', server);
  }

  /** Welcome → sign up. With `privateKey` the Private key card is chosen and the key typed twice. */
  async signUp({ first = 'Ada', last = 'Lovelace', email, password, privateKey = null }) {
    await this.useTestServer();
    await this.type('#signup-first', first);
    await this.type('#signup-last', last);
    await this.type('#signup-email', email);
    await this.type('#signup-password', password);
    await this.click('#signup-age');
    if (privateKey) {
      await this.click('#signup-key-private');
      await this.type('#signup-private-key', privateKey);
      await this.type('#signup-private-key-repeat', privateKey);
      await this.click('#signup-key-confirm');
    }
  }

  /** Welcome → sign in to an existing account. */
  async signIn({ email, password }) {
    await this.useTestServer();
    if (await (await this.browser.$('#show-signin')).isExisting()) await this.click('#show-signin');
    await this.type('#signin-email', email);
    await this.type('#signin-password', password);
    await this.click('#signin-submit');
  }

  /** Add folder → type the path → the folder shows on the Overview. */
  async addFolder(folder) {
    await this.click('#nav-add-folder');
    await this.type('#add-folder-path', folder);
    await this.click('#add-folder-submit');
    await this.el(`#folder-list li[data-path="${folder}"]`, 20000);
  }

  /**
   * Waits until the Overview says the files are backed up. The scheduler
   * starts a backup by itself right after a folder is added, so this does not
   * click "Back up now".
   */
  async untilBackedUp(timeout = 120000) {
    await this.click('#nav-dashboard');
    await this.untilText('#backup-status', 'Your files are backed up', timeout, 'the Overview never said the files are backed up');
  }

  /** The backups listed on Restore (opening Restore reloads them), newest first. */
  async snapshotIds() {
    await this.click('#nav-dashboard');
    await this.click('#nav-restore');
    await this.el('#restore-snapshot', 20000);
    return this.browser.execute(() => [...document.querySelectorAll('#restore-snapshot option')].map((o) => o.value));
  }
}

/**
 * Runs `body`; if it throws, saves a picture of the window as
 * ARTIFACTS/failure-<name>.png before rethrowing.
 */
export async function pictureOnFailure(getWindow, name, body) {
  try {
    return await body();
  } catch (error) {
    const w = getWindow();
    if (w) await w.browser.saveScreenshot(path.join(artifacts, `failure-${name}.png`)).catch(() => {});
    throw error;
  }
}

/** Restore: the newest backup's folders (picks it on the timeline). */
export async function newestRoots(w) {
  const ids = await w.snapshotIds();
  if (ids.length === 0) return { ids, roots: [] };
  await w.click(`#restore-timeline [data-snapshot="${ids[0]}"]`);
  await w.until(async () => (await w.browser.execute(() => document.querySelector('#restore-snapshot').value)) === ids[0], 10000, 'the newest backup is selected');
  await w.el('#restore-tree li', 20000);
  const roots = await w.browser.execute(() => [...document.querySelectorAll('#restore-tree li[data-path]')].map((li) => li.dataset.path));
  return { ids, roots };
}

/** Writes `files` ({ relative name: Buffer }) under `root`. */
export function writeFiles(root, files) {
  for (const [name, bytes] of Object.entries(files)) {
    const file = path.join(root, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, bytes);
  }
  return files;
}

/** Asserts every file of `files` exists under `root` with the same bytes. */
export function sameFiles(assert, root, files) {
  for (const [name, bytes] of Object.entries(files)) {
    const restored = path.join(root, name);
    assert.ok(fs.existsSync(restored), `${name} was restored under ${root}`);
    assert.ok(fs.readFileSync(restored).equals(bytes), `${name} is byte for byte identical`);
  }
}

/** Every file under `root` (relative names), for "nothing was written" checks. */
export function listFiles(root) {
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { recursive: true }).map(String).sort();
}
