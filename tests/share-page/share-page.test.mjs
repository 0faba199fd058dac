// The share page in a real browser: headless Chromium (Debian's, driven by
// ui's playwright-core) opens share links served by a real coffer-server on
// 127.0.0.1:0, made with the real `coffer` CLI from a real backup, and
// checks that the files saved are identical to the originals (through the
// Blob fallback and through the streaming save picker), that a wrong
// password, a revoked, used-up, tampered or mistyped link each fail with a
// clear page, and that no share key is in anything the service logs or
// stores (its request log with access logging on, its database, objects and
// mail outbox): the recipients' mail has the link without its key.
//
// Needs: cargo build -p coffer-server -p coffer-cli (binaries found in
// $CARGO_TARGET_DIR/debug, or COFFER_SERVER_BIN / COFFER_BIN), ui's
// node_modules (npm ci in ui/), /usr/bin/chromium (or CHROMIUM_PATH).
// Run: node --test tests/share-page/

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(join(REPO, 'ui', 'package.json'));
const { chromium } = require('playwright-core');

const TARGET = process.env.CARGO_TARGET_DIR ?? join(REPO, 'target');
const SERVER_BIN = process.env.COFFER_SERVER_BIN ?? join(TARGET, 'debug', 'coffer-server');
const CLI_BIN = process.env.COFFER_BIN ?? join(TARGET, 'debug', 'coffer');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const PASSWORD = 'correct horse battery staple';
const SHARE_PASSWORD = 'the share password';

let work;
let server;
let serverLog = '';
let url;
let browser;
let docs;
const originals = {};
const keysUsed = new Set();

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

function coffer(args, extraEnv = {}) {
  return execFileSync(CLI_BIN, ['--server', url, ...args], {
    env: {
      ...process.env,
      COFFER_CONFIG_DIR: join(work, 'agent'),
      COFFER_PASSWORD: PASSWORD,
      // No keychain: each command signs in from COFFER_PASSWORD.
      DBUS_SESSION_BUS_ADDRESS: 'unix:path=/nonexistent',
      ...extraEnv,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
}

function share(args, extraEnv = {}) {
  const made = JSON.parse(coffer(['share', docs, '--json', ...args], extraEnv));
  const key = made.link.split('#')[1];
  assert.equal(key.length, 43);
  keysUsed.add(key);
  return made;
}

async function startServer() {
  const dataDir = join(work, 'service');
  server = spawn(SERVER_BIN, ['--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    // Access logging on: every request's method and path.
    env: { ...process.env, RUST_LOG: 'info,tower_http=debug', NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const collect = (chunk) => (serverLog += chunk.toString());
  server.stdout.on('data', collect);
  server.stderr.on('data', collect);
  for (let i = 0; i < 200; i++) {
    const found = serverLog.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    if (found) return found[1];
    if (server.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`coffer-server did not start:\n${serverLog}`);
}

async function newPage({ streaming }) {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content.Security.Policy|Refused to/i.test(m.text())) problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(String(e)));
  if (streaming) {
    // A save picker whose writable keeps what the page streams into it.
    await page.addInitScript(() => {
      window.__saved = {};
      window.showSaveFilePicker = async ({ suggestedName }) => ({
        createWritable: async () => {
          const pieces = [];
          return {
            write: async (chunk) => void pieces.push(new Uint8Array(chunk)),
            close: async () => void (window.__saved[suggestedName] = new Blob(pieces)),
            abort: async () => {},
          };
        },
      });
    });
  } else {
    await page.addInitScript(() => {
      Object.defineProperty(window, 'showSaveFilePicker', { value: undefined, configurable: true });
    });
  }
  return { page, context, problems };
}

// A fresh load even when only the fragment differs from where the page is.
async function visit(page, link) {
  await page.goto('about:blank');
  return page.goto(link);
}

async function showFiles(page, password) {
  await page.locator('#open-button').waitFor();
  if (password !== undefined) await page.fill('#password', password);
  await page.click('#open-button');
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'coffer-share-page-'));
  url = await startServer();
  docs = join(work, 'Docs');
  await mkdir(docs, { recursive: true });
  originals['hello.txt'] = Buffer.from('Hello Bob!\nThese notes are for you.\n'.repeat(5));
  // Several 1 MiB chunks and parts, ending mid-chunk.
  originals['big.bin'] = randomBytes(9 * 1024 * 1024 + 777);
  for (const [name, bytes] of Object.entries(originals)) await writeFile(join(docs, name), bytes);
  coffer(['signup', '--first', 'Ann', '--last', 'Example', '--email', 'ann@example.com', '--confirm-age']);
  coffer(['folders', 'add', docs]);
  coffer(['backup']);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  server?.kill('SIGTERM');
  if (process.env.COFFER_KEEP_SHARE_PAGE_RUN) console.log(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
});

test('files download identical to the originals, through a Blob and streamed', async () => {
  const made = share(['--to', 'bob@example.com']);
  for (const streaming of [false, true]) {
    const { page, context, problems } = await newPage({ streaming });
    await visit(page, made.link);
    await showFiles(page);
    await page.locator('#file-list li').nth(1).waitFor();
    assert.deepEqual(await page.locator('#file-list .path').allTextContents(), ['Docs/big.bin', 'Docs/hello.txt']);
    for (const [index, name] of [[0, 'big.bin'], [1, 'hello.txt']]) {
      const row = page.locator('#file-list li').nth(index);
      if (streaming) {
        await row.locator('button.save').click();
        await row.locator('.done').waitFor();
        const hex = await page.evaluate(async (n) => {
          const digest = await crypto.subtle.digest('SHA-256', await window.__saved[n].arrayBuffer());
          return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
        }, name);
        assert.equal(hex, sha256(originals[name]), `${name} streamed`);
      } else {
        const [download] = await Promise.all([page.waitForEvent('download'), row.locator('button.save').click()]);
        assert.equal(download.suggestedFilename(), name);
        const saved = await readFile(await download.path());
        assert.equal(sha256(saved), sha256(originals[name]), `${name} as a Blob`);
      }
    }
    assert.deepEqual(problems, []);
    await context.close();
  }
});

test('a wrong password is refused and the right one opens the share', async () => {
  const made = share(['--password'], { COFFER_SHARE_PASSWORD: SHARE_PASSWORD });
  const { page, context, problems } = await newPage({ streaming: false });
  await visit(page, made.link);
  await page.locator('#password').waitFor();
  await showFiles(page, 'not the password');
  await page.locator('#open-error', { hasText: 'That password is wrong' }).waitFor();
  assert.equal(await page.locator('#files').isHidden(), true);
  await showFiles(page, SHARE_PASSWORD);
  await page.locator('#file-list li').nth(1).waitFor();
  const [download] = await Promise.all([page.waitForEvent('download'), page.locator('#file-list li').nth(1).locator('button.save').click()]);
  assert.equal(sha256(await readFile(await download.path())), sha256(originals['hello.txt']));
  assert.deepEqual(problems, []);
  await context.close();
});

test('a revoked or used-up link fails with a clear page', async () => {
  const revoked = share([]);
  const { page, context } = await newPage({ streaming: false });
  // Open while it works, revoke, then try: the page says so.
  await visit(page, revoked.link);
  await page.locator('#open-button').waitFor();
  coffer(['shares', 'revoke', revoked.id]);
  await page.click('#open-button');
  await page.locator('#error-title', { hasText: 'This share was revoked' }).waitFor();
  // Following the link afresh: the service's own page, no script needed.
  const response = await visit(page, revoked.link);
  assert.equal(response.status(), 410);
  assert.equal(await page.locator('h1').textContent(), 'This share was revoked');

  const once = share(['--max-downloads', '1']);
  await visit(page, once.link);
  await showFiles(page);
  await page.locator('#file-list li').first().waitFor();
  const again = await visit(page, once.link);
  assert.equal(again.status(), 410);
  assert.equal(await page.locator('h1').textContent(), "This share's download limit was reached");
  const listed = JSON.parse(coffer(['shares', '--json']));
  assert.equal(listed.find((s) => s.id === once.id).state, 'exhausted');
  assert.equal(listed.find((s) => s.id === revoked.id).state, 'revoked');
  await context.close();
});

test('a mistyped key, a missing key or tampered data fail with a clear page', async () => {
  const made = share([]);
  const { page, context } = await newPage({ streaming: false });
  const key = made.link.split('#')[1];
  const other = (key[0] === 'A' ? 'B' : 'A') + key.slice(1);
  await visit(page, made.link.replace(key, other));
  await showFiles(page);
  await page.locator('#error-title', { hasText: 'These files cannot be decrypted' }).waitFor();
  // The link as Coffer's mail gives it, without the key: the page says
  // where the full link comes from.
  await visit(page, made.link.split('#')[0]);
  await page.locator('#error-title', { hasText: 'This link is incomplete' }).waitFor();
  assert.match(
    await page.locator('#error-text').textContent(),
    /Open the full link the sender sent you; it ends in #…/,
  );

  // Flip one byte of the big file's first part where the service keeps it.
  const accounts = join(work, 'service', 'objects');
  let partFile;
  for (const account of await readdir(accounts)) {
    const candidate = join(accounts, account, 'shares', `${made.id}.0`);
    if (await readFile(candidate).then(() => true, () => false)) partFile = candidate;
  }
  assert.ok(partFile, 'the stored part');
  const bytes = await readFile(partFile);
  bytes[1000] ^= 0xff;
  await writeFile(partFile, bytes);
  await visit(page, made.link);
  await showFiles(page);
  await page.locator('#file-list li').first().waitFor();
  await page.locator('#file-list li').first().locator('button.save').click();
  await page.locator('#error-title', { hasText: 'These files cannot be decrypted' }).waitFor();
  await context.close();
});

test("the service's request log never contains a share key", async () => {
  assert.ok(keysUsed.size >= 5);
  // Access logging was on: the page and API requests are in the log…
  assert.match(serverLog, /uri=\/s\/[0-9a-f]{32}/);
  assert.match(serverLog, /uri=\/v1\/s\/[0-9a-f]{32}\/parts\/0/);
  // …but never a key (the fragment stays in the browser).
  for (const key of keysUsed) assert.equal(serverLog.includes(key), false, `key ${key} in the log`);
  assert.equal(serverLog.includes('#'), false, 'no fragment in the log');
});

async function filesUnder(dir) {
  const found = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await filesUnder(path)));
    else if (entry.isFile()) found.push(path);
  }
  return found;
}

test('no share key is in anything the service stores, its outbox included', async () => {
  // The recipients' mail names the sender and the terms and has the link
  // without its key, saying the sender sends the full link.
  const outbox = join(work, 'service', 'outbox');
  const mails = await Promise.all((await readdir(outbox)).map((n) => readFile(join(outbox, n), 'utf8')));
  const toBob = mails.filter((m) => /^To: .*bob@example\.com/m.test(m) && /shared files with you/.test(m));
  assert.equal(toBob.length, 1, 'one share notice to bob');
  const unfolded = toBob[0].replace(/=\r?\n/g, '');
  assert.match(unfolded, /Ann Example/);
  assert.match(unfolded, /use the full link Ann sends you directly/);
  assert.match(unfolded, /\/s\/[0-9a-f]{32}\r?\n/, 'the link without its key');
  assert.ok(unfolded.includes(`${url}/s/`));
  assert.doesNotMatch(unfolded, /\/s\/[0-9a-f]{32}#/);

  // Every file the service keeps (database and its journal, objects, mail):
  // neither a key's text nor its 32 bytes.
  const keyBytes = [...keysUsed].map((k) => Buffer.from(k, 'base64url'));
  const files = await filesUnder(join(work, 'service'));
  assert.ok(files.some((f) => f.includes('outbox')) && files.some((f) => /\.(db|sqlite)/.test(f)), files.join('\n'));
  for (const file of files) {
    const bytes = await readFile(file);
    for (const key of keysUsed) assert.equal(bytes.includes(key), false, `key ${key} in ${file}`);
    for (const raw of keyBytes) assert.equal(bytes.includes(raw), false, `a key's bytes in ${file}`);
  }
});
