// Issue 6, point 7, in the real window: first run → sign up → add a folder by
// path → it is backed up (by the scheduler, without clicking) → a file changed
// on disk is backed up again without clicking → that file's version history →
// restore its OLDER version into a new folder → the bytes are the old ones.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, device, launch, listFiles, pictureOnFailure, work, writeFiles } from './lib.mjs';

let w;
after(async () => {
  if (w) await w.close();
});

test('a file changed on disk is backed up without clicking, and its older version restores', (t) => pictureOnFailure(() => w, 'continuous', async () => {
  const shots = path.join(artifacts, 'continuous');
  const folder = path.join(work, 'Continuous');
  const report = path.join(folder, 'report.txt');
  const older = Buffer.from('Quarterly report, first draft.\n');
  const newer = Buffer.from('Quarterly report, second draft: the numbers are in and they are good.\n');
  writeFiles(folder, { 'report.txt': older, 'notes/todo.txt': Buffer.from('Call the bank.\n') });
  const restoreTo = path.join(work, 'OlderVersion');

  w = await launch(device('continuous'));
  await w.signUp({ first: 'Grace', last: 'Hopper', email: 'grace@example.com', password: 'correct horse battery staple' });
  await w.click('#signup-submit');
  await w.el('#backup-now', 30000);

  // The schedule is continuous by default: adding the folder starts a backup.
  await w.addFolder(folder);
  await w.untilBackedUp();
  const first = await w.snapshotIds();
  assert.ok(first.length >= 1, 'the first backup is listed on Restore');

  // Back on the Overview, change the file on disk and do not click anything.
  await w.click('#nav-dashboard');
  const before = await w.untilText('#backup-status', 'Your files are backed up', 20000, 'the Overview shows the backup');
  assert.equal(before, 'Your files are backed up');
  const lastBefore = await w.text('#last-backup');
  const changedAt = Date.now();
  fs.writeFileSync(report, newer);

  // The agent's backup-finished event reloads the Overview: the last backup's
  // line changes (the new content has another size). Deadline 30 s.
  await w.until(
    async () => {
      const status = await (await w.browser.$('#backup-status')).getText();
      const last = await (await w.browser.$('#last-backup')).getText();
      return status === 'Your files are backed up' && last !== lastBefore;
    },
    30000,
    'no new backup appeared within 30 s of changing a file',
  );
  const seconds = (Date.now() - changedAt) / 1000;
  t.diagnostic(`a new backup showed on the Overview ${seconds.toFixed(1)} s after the file changed`);
  await w.screenshot(path.join(shots, '01-backed-up-again.png'));

  // Restore lists it: a newer backup than every one before the change.
  // Restore reloads its list when it opens: wait for that answer rather than
  // reading the options the screen drew first.
  let second = await w.snapshotIds();
  const readOptions = () => w.browser.execute(() => [...document.querySelectorAll('#restore-snapshot option')].map((o) => o.value));
  await w
    .until(async () => (second = await readOptions()).length > first.length, 20000, 'the new backup is listed')
    .catch(() => {});
  assert.ok(second.length > first.length, `a new backup is listed (${first.length} before, ${second.length} now)`);
  assert.ok(!first.includes(second[0]), 'the newest backup is a new one');
  const timeline = await w.browser.$$('#restore-timeline [data-snapshot]');
  assert.equal(timeline.length, second.length, 'the timeline shows every backup');

  // Restore keeps the backup it showed before: pick the newest on the
  // timeline, open the folder, then report.txt's version history.
  await w.click(`#restore-timeline [data-snapshot="${second[0]}"]`);
  await w.until(async () => (await w.browser.execute(() => document.querySelector('#restore-snapshot').value)) === second[0], 10000, 'the newest backup is selected');
  await w.click(`#restore-tree li[data-path="${folder}"] button.name`);
  await w.click(`#restore-tree li[data-path="${report}"] button.versions`);
  await w.el('#versions-dialog #versions-list', 20000);
  const versions = await w.browser.execute(() =>
    [...document.querySelectorAll('#versions-list li')].map((li) => ({
      snapshot: li.dataset.snapshot,
      text: li.innerText,
    })),
  );
  assert.ok(versions.length >= 2, `report.txt has at least two versions (${JSON.stringify(versions)})`);
  assert.equal(versions[0].snapshot, second[0], 'the newest version is in the newest backup');
  await w.screenshot(path.join(shots, '02-versions.png'));

  // The older version: the one in the first backup (31 bytes, the newer one 70).
  const oldest = versions[versions.length - 1];
  assert.ok(first.includes(oldest.snapshot), 'the oldest version comes from a backup made before the change');
  assert.match(oldest.text, new RegExp(`\\b${older.length} bytes\\b`), 'the older version has the old size');
  await w.click(`#versions-list li[data-snapshot="${oldest.snapshot}"] .choose-version`);
  await w.untilText('#restore-submit', 'Restore 1 item', 10000, 'only that file is chosen');
  const chosenSnapshot = await w.browser.execute(() => document.querySelector('#restore-snapshot').value);
  assert.equal(chosenSnapshot, oldest.snapshot, 'the backup of that version is selected');

  await w.type('#restore-target', restoreTo);
  await w.click('#restore-submit');
  await (await w.el('#restore-result', 60000)).scrollIntoView();
  await w.screenshot(path.join(shots, '03-older-version-restored.png'));

  const restored = listFiles(restoreTo).filter((name) => fs.statSync(path.join(restoreTo, name)).isFile());
  assert.equal(restored.length, 1, `exactly one file was restored (${restored.join(', ')})`);
  assert.equal(path.basename(restored[0]), 'report.txt');
  assert.ok(fs.readFileSync(path.join(restoreTo, restored[0])).equals(older), 'the restored file has the OLDER bytes');
  assert.ok(fs.readFileSync(report).equals(newer), 'the file on disk was not touched');
}));
