// Issue 6, point 5, desktop habits in the real app:
// - start at login is off by default; the Settings → General switch writes
//   and removes the XDG autostart entry, whose Exec starts Coffer minimized;
// - closing the window keeps Coffer running in the tray;
// - a second launch (same D-Bus session) exits at once and brings the first
//   window back;
// - started with --minimized (as at login), Coffer runs with its window
//   hidden until the tray's Open Coffer.
// Window visibility is GTK's own answer (the diagnostics_window command).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { app, artifacts, device, instanceRunning, launch, pictureOnFailure } from './lib.mjs';

let w;
after(async () => {
  if (w) await w.close();
});

const dev = device('desktop');
// Not ~/.config: the entry must go where this session reads autostart entries.
const env = { XDG_CONFIG_HOME: path.join(dev.home, 'xdg-config') };
const autostartDir = path.join(env.XDG_CONFIG_HOME, 'autostart');
const desktopFiles = (dir) => (fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.desktop')) : []);
const entries = () => desktopFiles(autostartDir);
const elsewhere = () => desktopFiles(path.join(dev.home, '.config', 'autostart'));

async function untilWindow(visible, message) {
  let last = null;
  try {
    await w.until(async () => (last = await w.invoke('diagnostics_window')).visible === visible, 20000, message);
  } catch {
    throw new Error(`${message} (the window last reported ${JSON.stringify(last)})`);
  }
  return last;
}

/** Starts the binary again as a plain process with the device's environment; resolves with its exit. */
function secondLaunch() {
  return new Promise((resolve, reject) => {
    const log = fs.openSync(path.join(artifacts, 'app-desktop-second.log'), 'a');
    const child = spawn(app, [], { env: { ...process.env, ...dev.env, ...env }, stdio: ['ignore', log, log] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('the second Coffer did not exit within 30 s'));
    }, 30000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

test('start at login is opt-in and starts Coffer minimized; close hides; a second launch brings the window back', (t) => pictureOnFailure(() => w, 'desktop', async () => {
  w = await launch(dev, env);
  await w.signUp({ first: 'Desk', last: 'Top', email: 'desktop@example.com', password: 'correct horse battery staple' });
  await w.click('#signup-submit');
  await w.el('#backup-now', 30000);

  // Off by default: no entry, the switch is off.
  await w.click('#nav-settings');
  await w.click('#settings-tab-general');
  const toggle = await w.el('#autostart');
  assert.equal(await toggle.isSelected(), false, 'start at login is off by default');
  assert.deepEqual(entries(), [], 'no autostart entry before opting in');

  await toggle.click();
  await w.until(async () => entries().length === 1, 10000, 'the switch wrote an autostart entry');
  const [entry] = entries();
  const text = fs.readFileSync(path.join(autostartDir, entry), 'utf8');
  t.diagnostic(`${entry}:\n${text}`);
  const exec = text.match(/^Exec=(.*)$/m)?.[1] ?? '';
  const [program, ...execArgs] = exec.trim().split(/\s+/);
  assert.equal(fs.realpathSync(program), fs.realpathSync(app), 'Exec starts this Coffer binary');
  assert.deepEqual(execArgs, ['--minimized'], 'Exec starts Coffer minimized');
  assert.match(text, /^Type=Application$/m);
  assert.deepEqual(elsewhere(), [], 'nothing in ~/.config/autostart, which this session does not read');
  assert.equal(await w.invoke('autostart'), true, 'the app reads the setting back');
  assert.equal(await toggle.isSelected(), true);

  await toggle.click();
  await w.until(async () => entries().length === 0, 10000, 'switching off removed the entry');
  assert.equal(await w.invoke('autostart'), false);
  assert.equal(await toggle.isSelected(), false);

  // Closing the window keeps Coffer running, in the tray.
  await untilWindow(true, 'the window is visible');
  await w.invoke('diagnostics_close_window');
  await untilWindow(false, 'closing hid the window');
  assert.equal(instanceRunning(), true, 'Coffer still runs after its window closed');
  assert.equal((await w.invoke('app_status')).signed_in, true, 'and still answers');

  // A second launch exits at once and shows the first window again.
  const second = await secondLaunch();
  assert.deepEqual(second, { code: 0, signal: null }, 'the second Coffer exits cleanly');
  await untilWindow(true, 'the second launch brought the first window back');
  assert.equal(instanceRunning(), true, 'the first Coffer is still running');
  await w.close();
  w = null;

  // Started with the entry's arguments, as at login: running, window hidden, tray ready.
  w = await launch(dev, env, execArgs);
  const hidden = await untilWindow(false, 'started with --minimized, the window is hidden');
  t.diagnostic(`window with --minimized: ${JSON.stringify(hidden)}`);
  assert.equal((await w.invoke('diagnostics_tray')).tooltip, 'Coffer — Idle', 'the tray is there and signed in');
  await w.invoke('diagnostics_tray_menu', { id: 'open' });
  await untilWindow(true, "the tray's Open Coffer shows the window");
  await w.el('#backup-now', 30000);
}));
