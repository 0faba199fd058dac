// The screenshot gallery (issue 6, point 6): every screen of the real window,
// with real data from the real service, in the light and the dark theme.
// The theme follows the OS: the app is launched with GTK_THEME=Adwaita or
// GTK_THEME=Adwaita:dark, and the test checks that the webview's
// prefers-color-scheme follows it. Pictures go to docs/screens/<theme>/ (or
// $COFFER_E2E_SCREENS) and the index to docs/screens.md beside them.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { device, launch, newestRoots, pictureOnFailure, work, writeFiles } from './lib.mjs';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const screensDir = path.resolve(process.env.COFFER_E2E_SCREENS || path.join(repo, 'docs/screens'));
const indexFile = path.join(path.dirname(screensDir), 'screens.md');

/** The gallery, in order: file name → [title, what it shows]. */
const SCREENS = [
  ['01-welcome', 'Welcome', 'First run: create an account (or sign in), with the promises on the left.'],
  ['02-welcome-private-key', 'Welcome — private key', 'Choosing a private key: typed twice, a strength meter, the confirmation.'],
  ['03-recovery-kit', 'Recovery kit', 'The recovery code of a new private key, shown once, to print or save.'],
  ['04-overview-empty', 'Overview — first run', 'Signed in with nothing backed up yet: the way to add a folder.'],
  ['05-add-folder', 'Add folder', 'Adding a folder by typing its path (or with the native picker).'],
  ['06-overview', 'Overview', 'Backed up: the last backup, its summary, the folders and storage used.'],
  ['07-folders', 'Folders', 'Size and file count per folder, exclusions and what will not be backed up.'],
  ['08-restore', 'Restore browser', 'The timeline of backups and the folder tree as it was.'],
  ['09-restore-versions', 'Restore — versions', 'One file’s version history, every version with its date and size.'],
  ['10-restore-search', 'Restore — search', 'Search by name across every backup.'],
  ['11-schedule', 'Schedule & network', 'Continuous backup, pause, schedule and bandwidth limits.'],
  ['12-activity', 'Activity', 'Every backup run with what it did.'],
  ['13-settings-account', 'Settings — Account', 'Profile, address, password and two-step sign-in.'],
  ['14-settings-communication', 'Settings — Communication', 'Which emails Coffer may send.'],
  ['15-settings-encryption', 'Settings — Encryption', 'The key mode, when it last changed, change / switch / lock now.'],
  ['16-settings-devices', 'Settings — Devices & sessions', 'Signed-in sessions and the devices with backups.'],
  ['17-settings-privacy', 'Settings — Privacy', 'A new account asked to accept the published privacy policy; export and deletion below.'],
  ['18-settings-general', 'Settings — General', 'Start at login.'],
  ['19-unlock', 'Unlock', 'A private-key account after “Lock now” (or on a new device): the key or the recovery code.'],
  ['20-share-dialog', 'Restore — share', 'Sharing a folder as it was in a backup: recipients, expiry, an optional password and download limit.'],
  ['21-share-link', 'Restore — share link', 'The shared copy is uploaded: its full link, with the key, shown once to copy or mail.'],
  ['22-settings-sharing', 'Settings — Sharing', 'Every share with its state, recipients, downloads and expiry; revoke.'],
  ['23-settings-connected-apps', 'Settings — Connected apps', 'A new app token shown once, above the apps with access, their scopes and last use.'],
];
const THEMES = [
  ['light', 'Adwaita', false],
  ['dark', 'Adwaita:dark', true],
];

let w;
after(async () => {
  if (w) await w.close();
});

/** Waits until nothing in the window shows a spinner (data loaded), then takes the picture. */
async function shoot(theme, name, { scrollTo = null, spinners = true } = {}) {
  assert.ok(SCREENS.some(([file]) => file === name), `${name} is in the index`);
  if (spinners) {
    await w
      .until(async () => !(await w.browser.execute(() => [...document.querySelectorAll('.content .spinner, .page .spinner')].some((s) => s.getClientRects().length > 0))), 20000)
      .catch(() => {}); // a spinner that stays is itself worth seeing in the picture
  }
  if (scrollTo) await (await w.el(scrollTo)).scrollIntoView({ block: 'center' });
  else await w.browser.execute(() => document.querySelector('.content')?.scrollTo?.({ top: 0 }));
  await w.screenshot(path.join(screensDir, theme, `${name}.png`));
}

function dataset(root) {
  const documents = path.join(root, 'Documents');
  const pictures = path.join(root, 'Pictures');
  writeFiles(documents, {
    'Budget 2026.txt': Buffer.from('Rent 1200\nFood 450\nTrain 90\n'),
    'Letters/To grandma.txt': Buffer.from('Dear grandma, the garden is in bloom.\n'),
    'Letters/Landlord.txt': Buffer.from('About the heating…\n'),
    'Taxes/2025 return.pdf': crypto.randomBytes(180 * 1024),
    'Taxes/receipts.zip': crypto.randomBytes(420 * 1024),
    'project/node_modules/left-pad/index.js': Buffer.from('module.exports = (s) => s;\n'),
    'project/notes.md': Buffer.from('# Ideas\n'),
    'Letters/draft.tmp': Buffer.from('unsaved\n'),
  });
  writeFiles(pictures, {
    'holiday-001.jpg': crypto.randomBytes(900 * 1024),
    'holiday-002.jpg': crypto.randomBytes(750 * 1024),
    'Family/birthday.png': crypto.randomBytes(300 * 1024),
    '.cache/thumbnails.bin': crypto.randomBytes(64 * 1024),
  });
  return { documents, pictures };
}

for (const [theme, gtkTheme, dark] of THEMES) {
  test(`every screen in the ${theme} theme`, (t) => pictureOnFailure(() => w, `screens-${theme}`, async () => {
    if (w) await w.close();
    const { documents, pictures } = dataset(path.join(work, `gallery-${theme}`));
    const budget = path.join(documents, 'Budget 2026.txt');
    w = await launch(device(`screens-${theme}`), { GTK_THEME: gtkTheme });

    // Welcome; the webview follows the GTK theme.
    await w.el('#signup-first', 60000);
    const prefersDark = await w.browser.execute(() => matchMedia('(prefers-color-scheme: dark)').matches);
    assert.equal(prefersDark, dark, `GTK_THEME=${gtkTheme} gives prefers-color-scheme: ${dark ? 'dark' : 'light'}`);
    await shoot(theme, '01-welcome');
    await w.signUp({
      first: 'Ada',
      last: 'Lovelace',
      email: `ada.${theme}@example.com`,
      password: 'correct horse battery staple',
      privateKey: 'analytical engine punched cards bernoulli',
    });
    const meter = await w.el('#key-strength');
    await w.until(async () => (await meter.getAttribute('data-score')) !== null, 20000, 'the key is rated');
    await shoot(theme, '02-welcome-private-key', { scrollTo: '#private-key-panel' });
    await w.click('#signup-submit');

    // Recovery kit.
    await w.el('#recovery-code', 60000);
    await shoot(theme, '03-recovery-kit');
    await w.click('#recovery-saved');
    await w.click('#recovery-continue');

    // Overview, empty.
    await w.untilText('#backup-status', 'Nothing is backed up yet', 30000, 'the first-run Overview');
    await shoot(theme, '04-overview-empty');

    // A new account is asked to accept the published policy: Settings → Privacy.
    await w.click('#policy-review');
    await w.el('#policy-text', 20000);
    await w.el('#policy-accept');
    await shoot(theme, '17-settings-privacy');
    await w.click('#policy-accept');
    await w.browser.$('#policy-accept').waitForExist({ reverse: true, timeout: 20000, timeoutMsg: 'the policy was accepted' });

    // Add folder (by path), twice.
    await w.click('#nav-add-folder');
    await w.type('#add-folder-path', documents);
    await shoot(theme, '05-add-folder');
    await w.click('#add-folder-submit');
    await w.el(`#folder-list li[data-path="${documents}"]`, 20000);
    await w.addFolder(pictures);
    await w.untilBackedUp();

    // A second backup, made by the watcher after an edit: the timeline and versions have something to show.
    // (The Pictures folder may have gone into a backup of its own: wait for one with both.)
    let before = 0;
    await w.until(
      async () => {
        const { ids, roots } = await newestRoots(w);
        before = ids.length;
        return roots.includes(documents) && roots.includes(pictures);
      },
      60000,
      'a backup has both folders',
    );
    fs.appendFileSync(budget, 'Holiday 600\n');
    await w.until(async () => (await w.snapshotIds()).length > before, 60000, 'the edit was backed up');
    const newest = (await w.snapshotIds())[0];

    // Overview, backed up (with the folders and storage).
    await w.untilBackedUp();
    await shoot(theme, '06-overview');

    // Folders.
    await w.click('#nav-folders');
    await w.el(`#folders-usage li[data-path="${documents}"]`, 20000);
    await shoot(theme, '07-folders');

    // Restore: the newest backup, inside Documents.
    await w.click('#nav-restore');
    await w.click(`#restore-timeline [data-snapshot="${newest}"]`);
    await w.click(`#restore-tree li[data-path="${documents}"] button.name`);
    await w.el(`#restore-tree li[data-path="${budget}"]`, 20000);
    await shoot(theme, '08-restore', { scrollTo: '#restore-tree' });

    // Share the Taxes folder of this backup: the terms, then the link, shown once.
    await w.click(`#restore-tree li[data-path="${path.join(documents, 'Taxes')}"] .share`);
    await w.el('#share-form', 20000);
    await w.type('#share-recipients', 'bob@example.com, carol@example.com');
    await w.type('#share-days', '14');
    await w.click('#share-use-password');
    await w.type('#share-password', 'receipts for bob');
    await w.type('#share-password-repeat', 'receipts for bob');
    await shoot(theme, '20-share-dialog', { spinners: false });
    await w.click('#share-submit');
    await w.el('#share-link-value', 60000);
    await shoot(theme, '21-share-link', { spinners: false });
    await w.click('#share-done');
    await w.browser.$('#share-dialog').waitForExist({ reverse: true, timeout: 5000 });
    await w.click(`#restore-tree li[data-path="${budget}"] button.versions`);
    await w.untilText('#versions-dialog', (text) => /\b([2-9]|\d\d+) versions\b/.test(text), 20000, 'the versions of the budget');
    await shoot(theme, '09-restore-versions');
    await w.browser.keys('Escape');
    await w.browser.$('#versions-dialog').waitForExist({ reverse: true, timeout: 5000 }).catch(async () => {
      await w.click('#versions-dialog .footer button, #versions-dialog button[aria-label="Close"]');
    });
    await w.type('#restore-search', 'holiday');
    await w.click('#restore-search-all');
    await w.click('#restore-search-submit');
    await w.el('#restore-hits li', 20000);
    await shoot(theme, '10-restore-search', { scrollTo: '#restore-hits' });

    // Schedule, Activity.
    await w.click('#nav-schedule');
    await w.el('#pause-status', 20000);
    await shoot(theme, '11-schedule');
    await w.click('#nav-activity');
    await w.el('#activity-backups', 20000);
    await shoot(theme, '12-activity');

    // Settings, page by page.
    const pages = [
      ['account', '#profile-first', '13-settings-account'],
      ['communication', '#preferences', '14-settings-communication'],
      ['encryption', '#key-mode', '15-settings-encryption'],
      ['devices', '#session-list', '16-settings-devices'],
      ['general', '#autostart', '18-settings-general'],
    ];
    await w.click('#nav-settings');
    for (const [page, landmark, name] of pages) {
      await w.click(`#settings-tab-${page}`);
      await w.browser.$(landmark).waitForExist({ timeout: 20000, timeoutMsg: `Settings → ${page} shows ${landmark}` });
      await shoot(theme, name);
    }

    // Sharing lists the share just made; Connected apps shows a new token once above the list.
    await w.click('#settings-tab-sharing');
    await w.el('#share-list li', 20000);
    await shoot(theme, '22-settings-sharing');
    await w.click('#settings-tab-apps');
    await w.el('#app-create', 20000);
    await w.click('#app-create');
    await w.type('#app-name', 'Photo frame (living room)');
    await w.click('#app-scope-restore');
    await w.click('#app-submit');
    await w.el('#app-token-value', 20000);
    await w.el('#app-list li', 20000);
    await shoot(theme, '23-settings-connected-apps');
    await w.click('#app-token-done');

    // Lock now → Unlock.
    await w.click('#settings-tab-encryption');
    await w.click('#key-lock');
    await w.el('#unlock-key', 20000);
    await shoot(theme, '19-unlock');
    t.diagnostic(`${SCREENS.length} screens in ${path.join(screensDir, theme)}`);
    await w.close();
    w = null;
  }));
}

test('docs/screens.md indexes every picture', () => {
  const rel = (theme, name) => path.relative(path.dirname(indexFile), path.join(screensDir, theme, `${name}.png`)).split(path.sep).join('/');
  const lines = [
    '# Screens',
    '',
    'Every screen of the Coffer window, in the light and the dark theme, taken by',
    'the WebDriver suite (`tests/e2e/screens.e2e.mjs`, run by `tests/e2e/run.sh`)',
    'from the real app against a real service on this machine. The theme follows',
    'the OS: the app was started with `GTK_THEME=Adwaita` and `GTK_THEME=Adwaita:dark`.',
    'Window 1040×720.',
    '',
    '| Screen | Light | Dark | What it shows |',
    '|---|---|---|---|',
  ];
  for (const [name, title, what] of SCREENS) {
    for (const [theme] of THEMES) assert.ok(fs.existsSync(path.join(screensDir, theme, `${name}.png`)), `${theme}/${name}.png exists`);
    lines.push(`| ${title} | [light](${rel('light', name)}) | [dark](${rel('dark', name)}) | ${what} |`);
  }
  fs.writeFileSync(indexFile, `${lines.join('\n')}\n`);
});
