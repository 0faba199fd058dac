// Issue 6, point 1: when there are more folders than may be watched, the real
// app falls back to periodic scans, says so on the Schedule screen, and still
// backs the folder up. The watch budget is Coffer's own cap
// (COFFER_MAX_WATCHES); the machine's fs.inotify.max_user_watches is never
// touched. (The scan that backs up a later change is shown by the scheduler's
// Rust tests, with a short scan interval.)
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { artifacts, device, launch, pictureOnFailure, work, writeFiles } from './lib.mjs';

let w;
after(async () => {
  if (w) await w.close();
});

test('more folders than the watch budget: the Schedule screen says Coffer scans instead, and it backs up', (t) => pictureOnFailure(() => w, 'watch-limit', async () => {
  const folder = path.join(work, 'ManyFolders');
  const files = {};
  for (let i = 0; i < 12; i++) files[`project${i}/src/main.txt`] = Buffer.from(`project ${i}\n`);
  writeFiles(folder, files); // 25 folders

  w = await launch(device('watch-limit'), { COFFER_MAX_WATCHES: '10' });
  await w.signUp({ first: 'Linus', last: 'Limit', email: 'limit@example.com', password: 'correct horse battery staple' });
  await w.click('#signup-submit');
  await w.el('#backup-now', 30000);
  await w.addFolder(folder);
  // Falling back scans once at once: the folder is backed up without a click.
  await w.untilBackedUp();

  const status = await w.invoke('scheduler_status');
  assert.equal(status.watch.active, false, 'not watching');
  assert.equal(status.watch.fallback_reason, 'There are more folders than Coffer may watch (COFFER_MAX_WATCHES=10).');

  await w.click('#nav-schedule');
  const banner = await w.untilText(
    '#watch-status',
    (text) => text.includes('Checking for changes every few minutes instead'),
    20000,
    'the Schedule screen explains the fallback',
  );
  assert.ok(banner.includes(status.watch.fallback_reason), `the reason is shown (${JSON.stringify(banner)})`);
  assert.equal(await (await w.el('#watch-status')).getAttribute('data-active'), 'false');
  await w.screenshot(path.join(artifacts, 'watch-limit', 'schedule-fallback.png'));
  t.diagnostic(banner);
}));
