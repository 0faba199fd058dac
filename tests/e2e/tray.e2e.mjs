// Issue 6, point 5: the real tray follows the agent. Each state (not signed
// in, idle, backing up n %, paused, error) is read back from what was set on
// the real TrayIcon and its menu items (the diagnostics_tray command), and the
// menu's actions (Back up now, Pause/Resume, Quit) run through the handler the
// tray menu itself uses (diagnostics_tray_menu). Notifications: a failure is
// announced once, not again for the same failure; a finished restore is. They
// are seen where the desktop gets them: Notify calls on the session bus
// (dbus-monitor; there is no notification daemon under Xvfb, the calls are
// seen all the same).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { device, instanceRunning, launch, pictureOnFailure, untilNoInstance, work, writeFiles } from './lib.mjs';

let w;
let monitor;
let busText = '';
after(async () => {
  if (w) await w.close();
  monitor?.kill();
});

/** The notifications sent to org.freedesktop.Notifications so far: [summary, body] pairs. */
function notifyCalls() {
  return busText
    .split(/^method call /m)
    .filter((call) => /member=Notify\b/.test(call))
    .map((call) => [...call.matchAll(/^\s+string "(.*)"$/gm)].map((m) => m[1]))
    .map((strings) => [strings[2], strings[3]]); // app name, icon, summary, body
}

const menu = (tray) => tray.menu.map((line) => [line.id, line.label, line.enabled]);

/** Polls the real tray until `test` holds; returns that tray state. */
async function untilTray(test, timeout, message) {
  let last = null;
  try {
    await w.until(async () => test((last = await w.invoke('diagnostics_tray'))), timeout, message);
  } catch {
    throw new Error(`${message} (the tray last showed ${JSON.stringify(last)})`);
  }
  return last;
}

const settings = (upload) => ({ mode: 'continuous', daily_at: null, every_minutes: null, upload_limit_kib: upload, download_limit_kib: null });

test('the tray shows idle, backing up n %, paused and error, and its menu acts', (t) => pictureOnFailure(() => w, 'tray', async () => {
  const folder = path.join(work, 'TrayFolder');
  // Incompressible, so a 256 KiB/s upload limit makes the backup last ~10 s.
  writeFiles(folder, { 'video.bin': crypto.randomBytes(3 * 1024 * 1024), 'notes.txt': Buffer.from('tray test\n') });

  monitor = spawn('dbus-monitor', ['--session', "interface='org.freedesktop.Notifications',member='Notify'"], { stdio: ['ignore', 'pipe', 'ignore'] });
  monitor.stdout.on('data', (chunk) => (busText += chunk));
  w = await launch(device('tray'));
  await w.el('#signup-first, #signin-email', 60000);
  let tray = await w.invoke('diagnostics_tray');
  assert.equal(tray.icon, 'idle');
  assert.equal(tray.tooltip, 'Coffer — Not signed in');
  assert.deepEqual(menu(tray), [
    ['status', 'Not signed in', false],
    ['backup-now', 'Back up now', false],
    ['pause', 'Pause backups', false],
    ['open', 'Open Coffer', true],
    ['quit', 'Quit Coffer', true],
  ]);

  await w.signUp({ first: 'Tray', last: 'Tester', email: 'tray@example.com', password: 'correct horse battery staple' });
  await w.click('#signup-submit');
  await w.el('#backup-now', 30000);
  tray = await untilTray((s) => s.tooltip === 'Coffer — Idle', 10000, 'signing in shows idle');
  assert.equal(tray.icon, 'idle');
  assert.deepEqual(menu(tray).slice(1, 3), [['backup-now', 'Back up now', true], ['pause', 'Pause backups', true]]);

  // Backing up n %: the tray shows the running backup the agent reports.
  await w.invoke('set_schedule', { settings: settings(256) });
  await w.addFolder(folder);
  tray = await untilTray((s) => s.icon === 'backing-up' && / \d+ %$/.test(s.tooltip), 30000, 'the tray shows the backup with a percentage');
  const agent = await w.invoke('app_status');
  assert.ok(agent.backup, 'the agent reports the backup the tray shows');
  assert.match(tray.tooltip, /^Coffer — Backing up… \d+ %$/);
  assert.match(tray.title, /^\d+ %$/, 'the percentage beside the icon');
  assert.equal(tray.menu[0].label, tray.tooltip.replace('Coffer — ', ''), 'the status line says the same');
  assert.deepEqual(menu(tray)[1], ['backup-now', 'Back up now', false], 'a second backup cannot be started');
  const seen = new Set([tray.title]);
  await untilTray((s) => {
    if (s.title) seen.add(s.title);
    return s.icon === 'idle';
  }, 120000, 'the tray is idle again after the backup');
  t.diagnostic(`percentages seen in the tray: ${[...seen].join(', ')}`);
  await w.invoke('set_schedule', { settings: settings(null) });
  await w.untilBackedUp();

  // Pause from the tray menu, then Resume.
  await w.invoke('diagnostics_tray_menu', { id: 'pause' });
  assert.equal((await w.invoke('scheduler_status')).paused_indefinitely, true, 'the agent is paused');
  tray = await untilTray((s) => s.icon === 'paused', 10000, 'the tray shows paused');
  assert.equal(tray.tooltip, 'Coffer — Backups are paused');
  assert.deepEqual(menu(tray)[2], ['pause', 'Resume backups', true]);
  await w.invoke('diagnostics_tray_menu', { id: 'pause' });
  assert.equal((await w.invoke('scheduler_status')).paused_indefinitely, false, 'the agent resumed');
  tray = await untilTray((s) => s.icon === 'idle', 10000, 'the tray shows idle after resuming');
  assert.deepEqual(menu(tray)[2], ['pause', 'Pause backups', true]);

  // Back up now from the tray menu makes a new backup.
  const before = (await w.invoke('list_snapshots')).length;
  await w.invoke('diagnostics_tray_menu', { id: 'backup-now' });
  await w.until(async () => (await w.invoke('list_snapshots')).length > before, 60000, 'Back up now in the tray made a new backup');

  // Error: with no folder left, Back up now fails; the tray says why and one notification goes out.
  await untilTray((s) => s.icon === 'idle', 60000, 'that backup finished');
  await w.invoke('remove_folder', { path: folder });
  await w.invoke('diagnostics_tray_menu', { id: 'backup-now' });
  tray = await untilTray((s) => s.icon === 'error', 30000, 'the tray shows the failure');
  assert.equal(tray.tooltip, 'Coffer — Backup failed: choose a folder to back up first');
  assert.deepEqual(menu(tray)[1], ['backup-now', 'Back up now', true], 'trying again is offered');
  let notices = await w.invoke('diagnostics_notices');
  const failures = notices.filter((n) => n.title === 'Backup failed');
  assert.equal(failures.length, 1, `one failure notice (${JSON.stringify(notices)})`);
  assert.equal(failures[0].body, 'choose a folder to back up first');
  assert.equal(failures[0].accepted, true, 'the notification plugin took it');
  const failed = ['Backup failed', 'choose a folder to back up first'];
  await w.until(async () => notifyCalls().some((c) => c.join() === failed.join()), 20000, 'the failure notification reached the session bus');
  // The same failure again (as a scheduled retry would): no second notice.
  const updates = tray.updates;
  await w.invoke('diagnostics_tray_menu', { id: 'backup-now' });
  await untilTray((s) => s.updates >= updates + 2 && s.icon === 'error', 30000, 'the second attempt failed too');
  notices = await w.invoke('diagnostics_notices');
  assert.equal(notices.filter((n) => n.title === 'Backup failed').length, 1, 'the repeated failure is not announced again');

  // A finished restore is announced with what and where.
  const [latest] = await w.invoke('list_snapshots');
  const target = path.join(work, 'TrayRestore');
  const summary = await w.invoke('restore', { request: { snapshot_id: latest.id, paths: [], target, conflict: 'keep_both' } });
  notices = await w.invoke('diagnostics_notices');
  assert.deepEqual(
    { title: notices.at(-1).title, body: notices.at(-1).body },
    { title: 'Restore finished', body: `${summary.files} files restored into ${summary.target}` },
  );
  const restored = ['Restore finished', `${summary.files} files restored into ${summary.target}`];
  await w.until(async () => notifyCalls().some((c) => c.join() === restored.join()), 20000, 'the restore notification reached the session bus');
  // Sent after the second failure, so that one would have been on the bus by now.
  assert.equal(notifyCalls().filter((c) => c[0] === 'Backup failed').length, 1, `one failure on the bus (${JSON.stringify(notifyCalls())})`);

  // Quit from the tray menu ends the app.
  assert.equal(instanceRunning(), true, 'Coffer is running before Quit');
  // Sent a moment after this script returns: the app is gone before it could answer.
  await w.browser.execute(() => {
    setTimeout(() => window.__TAURI_INTERNALS__.invoke('diagnostics_tray_menu', { id: 'quit' }).catch(() => {}), 300);
  });
  await untilNoInstance(20000);
  assert.equal(instanceRunning(), false, 'Quit in the tray menu ended Coffer');
}));
