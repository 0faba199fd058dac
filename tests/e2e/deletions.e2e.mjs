// "History a stolen device cannot erase" (issue 4, point 10) in the real
// window: removing older backups asks for the password again ("Confirm it's
// you"), a wrong one deletes nothing, the right one removes them into a 7-day
// hold the service lists, the person is mailed once with the purge date, and
// Settings → Privacy → Pending deletions puts them back. Every step is checked
// through the service's API (with the app's own token from the keychain) and
// its mail outbox, not only on screen. Run by tests/e2e/run.sh.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { artifacts, device, launch, pictureOnFailure, work, writeFiles } from './lib.mjs';
import { api, appToken, mails, waitForMail } from './account-lib.mjs';

const email = 'hedy.deletions@example.com';
const password = 'frequency hopping since 1942';
const dev = device('deletions');
const shots = path.join(artifacts, 'deletions');
let w;

after(async () => {
  if (w) await w.close();
});

/** The snapshot ids the service lists for the account (through the app's session). */
async function serviceSnapshots() {
  const { status, json } = await api('GET', '/v1/repo/snapshots', { token: appToken(dev) });
  assert.equal(status, 200, 'the app session lists the snapshots');
  return json.map((s) => s.id);
}

async function untilServiceSnapshots(count, message, timeout = 60000) {
  let last = [];
  await w
    .until(async () => (last = await serviceSnapshots()).length === count, timeout)
    .catch(() => assert.fail(`${message}: the service lists ${last.length} snapshots, not ${count}`));
  return last;
}

async function deletions() {
  const { status, json } = await api('GET', '/v1/deletions', { token: appToken(dev) });
  assert.equal(status, 200, 'the app session lists the held deletions');
  return json;
}

/** Back up now on the Overview and wait until the progress says done and the service has `count` snapshots. */
async function backUpNow(count) {
  await w.click('#nav-dashboard');
  await w.untilText('#backup-status', 'Your files are backed up', 120000, 'the Overview shows the earlier backup');
  await w.click('#backup-now');
  const progress = await w.el('#backup-progress', 15000);
  await w.until(async () => (await progress.getAttribute('data-phase')) === 'done', 120000, 'the backup did not finish');
  return untilServiceSnapshots(count, `backup ${count} reached the service`);
}

test('deleting backups needs the password, is held 7 days, mailed, and can be put back', { timeout: 600000 }, async (t) => {
  const folder = path.join(work, 'Letters');
  const letter = path.join(folder, 'letter.txt');
  writeFiles(folder, { 'letter.txt': Buffer.from('Dear George, version one.\n') });

  await pictureOnFailure(() => w, 'deletions', async () => {
    // 1. Sign up, add the folder, three backups of a changing file.
    w = await launch(dev);
    await w.signUp({ first: 'Hedy', last: 'Lamarr', email, password });
    await w.click('#signup-submit');
    await w.el('#backup-now', 30000);
    await w.addFolder(folder);
    await w.untilBackedUp();
    await untilServiceSnapshots(1, 'the first backup reached the service');
    // Only when I ask: the versions below come from "Back up now" alone (the
    // continuous schedule would add its own backups of each change).
    await w.click('#nav-schedule');
    const manual = await w.browser.$('#schedule-manual');
    await manual.waitForExist({ timeout: 20000 });
    await w.browser.execute(() => document.querySelector('#schedule-manual').click());
    await w.click('#schedule-save');
    await w.until(
      async () => w.browser.execute(() => [...document.querySelectorAll('.saved[role="status"]')].some((e) => e.id !== 'retention-saved' && /Saved/.test(e.textContent))),
      20000,
      'the schedule was not saved',
    );
    assert.equal(await manual.isSelected(), true, 'the schedule is "Only when I ask"');
    fs.writeFileSync(letter, 'Dear George, version two, with the piano roll idea.\n');
    await backUpNow(2);
    fs.writeFileSync(letter, 'Dear George, version three: the patent is filed, 2,292,387.\n');
    const three = await backUpNow(3);
    assert.deepEqual(await deletions(), [], 'nothing is held before the cleanup');
    const mailsBefore = new Set(mails().map((m) => m.file));

    // 2. Schedule → Versions kept: only the most recent backup.
    await w.click('#nav-schedule');
    await w.el('#retention-form', 20000);
    for (const id of ['retention-last', 'retention-hourly', 'retention-daily', 'retention-weekly', 'retention-monthly', 'retention-yearly']) {
      await w.type(`#${id}`, id === 'retention-last' ? '1' : '0');
    }
    if (await (await w.browser.$('#retention-within-on')).isSelected()) await w.click('#retention-within-on');
    await w.click('#retention-save');
    await w.el('#retention-saved', 20000);

    // "Clean up now…" shows when the automatic cleanup waits for the person;
    // otherwise "Apply now…" is the same action.
    const cleanup = await w.browser.$('#retention-cleanup-now');
    await w.click((await cleanup.isDisplayed().catch(() => false)) ? '#retention-cleanup-now' : '#retention-apply');
    await w.el('#retention-apply-dialog', 30000);
    await w.click('#retention-apply-confirm');
    // The agent asks the service to delete, is refused without a grant, and the app asks the person.
    await w.el('#confirm-identity', 30000);
    const dialogText = await w.text('#confirm-identity');
    assert.match(dialogText, /Confirm it's you/, 'the dialog says what it is');
    assert.match(dialogText, /2 older backups/, `the dialog says what is about to go (${dialogText})`);

    // A wrong password: refused, said next to the field, nothing deleted.
    await w.type('#confirm-password', 'not the password');
    await w.click('#confirm-identity-submit');
    const refused = await w.untilText('#confirm-password-error', (s) => s.length > 0, 20000, 'a wrong password shows no message');
    assert.match(refused, /not your Coffer password/i, `the refusal is clear (${refused})`);
    await w.screenshot(path.join(shots, '01-confirm-wrong-password.png'));
    assert.deepEqual((await serviceSnapshots()).sort(), [...three].sort(), 'a wrong password deleted no snapshot');
    assert.deepEqual(await deletions(), [], 'a wrong password made no held batch');

    // The right password: the cleanup runs.
    await w.type('#confirm-password', password);
    await w.click('#confirm-identity-submit');
    const large = await w.browser.$('#retention-apply-anyway');
    await w.until(
      async () => (await (await w.browser.$('#retention-outcome')).isExisting()) || (await large.isExisting()),
      120000,
      'the cleanup neither finished nor stopped at the large-prune question',
    );
    if (await large.isExisting()) {
      t.diagnostic('the prune asked "Apply anyway" (most stored data goes)');
      await large.click();
    }
    const outcome = await w.el('#retention-outcome', 120000);
    assert.equal(await outcome.getAttribute('data-removed'), '2', 'the app says 2 backups were removed');
    assert.equal(await outcome.getAttribute('data-kept'), '1', 'the app says 1 backup is kept');
    assert.equal(await (await w.browser.$('#confirm-identity')).isExisting(), false, 'the dialog closed');

    const kept = await untilServiceSnapshots(1, 'the cleanup removed 2 snapshots on the service');
    assert.ok(three.includes(kept[0]), 'the kept snapshot is one of the three');
    const held = await deletions();
    assert.equal(held.length, 1, `one held batch (${JSON.stringify(held)})`);
    const batch = held[0];
    assert.equal(batch.snapshots, 2, 'the batch holds the 2 removed snapshots');
    const week = 7 * 24 * 60 * 60 * 1000;
    assert.ok(batch.purge_at - batch.deleted_at >= week - 60000 && batch.purge_at - batch.deleted_at <= week + 60000, 'purged 7 days after the deletion');

    // The person is mailed once (after a quiet minute and the service's next job run).
    const seen = new Set(mailsBefore);
    const mail = await waitForMail({ to: email, subject: /deleted from your Coffer account/i, seen, timeout: 420000 });
    const purgeDay = new Date(batch.purge_at).toISOString().slice(0, 10);
    assert.ok(mail.body.includes(purgeDay), `the mail names the purge date ${purgeDay}:\n${mail.body}`);
    assert.match(mail.body, /2 backups/, 'the mail says how many backups');
    const deletionMails = mails().filter((m) => !mailsBefore.has(m.file) && /deleted from your Coffer account/i.test(m.subject));
    assert.equal(deletionMails.length, 1, 'exactly one deletion mail');
    assert.ok(deletionMails[0].to.toLowerCase().includes(email), 'to the account');
    const mailed = await deletions();
    assert.equal(mailed[0].mailed, true, 'the service records the batch as mailed');

    // 3. Settings → Privacy → Pending deletions lists it with its purge date.
    await w.click('#nav-settings');
    await w.click('#settings-tab-general');
    await w.click('#settings-tab-privacy');
    const row = `#pending-deletions-list li[data-deletion="${batch.id}"]`;
    await w.el(row, 20000);
    const rows = await w.browser.$$('#pending-deletions-list li[data-deletion]');
    assert.equal(rows.length, 1, 'one pending deletion is listed');
    const rowText = await w.text(row);
    assert.match(rowText, /2 backups/, `the row says what is held (${rowText})`);
    const shownPurge = await w.text(`${row} .purge`);
    const expectedPurge = await w.browser.execute(
      (ms) => new Date(ms).toLocaleDateString(undefined, { day: 'numeric', month: 'long', year: 'numeric' }),
      batch.purge_at,
    );
    assert.equal(shownPurge, expectedPurge, 'the row shows the purge date the service holds');
    await (await w.el(row)).scrollIntoView({ block: 'center' });
    await w.screenshot(path.join(shots, '02-pending-deletions.png'));

    // "Put back": the service lists the three snapshots again, the batch is gone.
    await w.click(`${row} button`);
    await w.el('#pending-deletions-restored', 30000);
    const back = await untilServiceSnapshots(3, 'Put back restored the snapshots on the service');
    assert.deepEqual([...back].sort(), [...three].sort(), 'the same three snapshots are back');
    assert.deepEqual(await deletions(), [], 'nothing is held any more');
    await w.until(async () => !(await (await w.browser.$(row)).isExisting()), 20000, 'the row left the list');
    await w.screenshot(path.join(shots, '03-put-back.png'));

    // The app's Restore screen shows them again.
    let listed = [];
    await w
      .until(async () => (listed = await w.snapshotIds()).length === 3, 30000)
      .catch(() => assert.fail(`Restore lists ${listed.length} backups, not 3`));
    assert.deepEqual([...listed].sort(), [...three].sort(), 'Restore lists the three backups');
    await w.screenshot(path.join(shots, '04-restore-after-put-back.png'));
  });
});
