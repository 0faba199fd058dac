// Shared plumbing for the page flows: build ui/dist when stale, bundle the IPC
// mock, serve dist on 127.0.0.1:0, drive Debian's Chromium with playwright-core.
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm, stat, readdir, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { chromium } from 'playwright-core';

export const UI_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DIST = join(UI_DIR, 'dist');
export const ARTIFACTS = resolve(UI_DIR, '..', 'test-artifacts', 'ui');
const MOCK_OUT = join(UI_DIR, 'flows', '.build');

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

async function newestMtime(path) {
  const info = await stat(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of await readdir(path)) newest = Math.max(newest, await newestMtime(join(path, entry)));
  return newest;
}

/** Builds ui/dist unless it is newer than every source file. */
export async function ensureDist() {
  const sources = await Promise.all(
    ['src', 'public', 'index.html', 'vite.config.ts'].map((p) => newestMtime(join(UI_DIR, p)).catch(() => 0)),
  );
  const built = await stat(join(DIST, 'index.html')).then((s) => s.mtimeMs, () => 0);
  if (built > Math.max(...sources)) return;
  await build({ root: UI_DIR, logLevel: 'warn' });
}

/** The IPC mock as one classic script for page.addInitScript. */
export async function bundleMock() {
  await build({
    root: UI_DIR,
    configFile: false,
    logLevel: 'warn',
    build: {
      outDir: MOCK_OUT,
      emptyOutDir: true,
      minify: false,
      lib: { entry: join(UI_DIR, 'flows', 'mock-ipc.ts'), formats: ['iife'], name: 'CofferMock', fileName: () => 'mock-ipc.js' },
    },
  });
  return join(MOCK_OUT, 'mock-ipc.js');
}

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
};

/** A tiny static server for ui/dist on a free loopback port. */
export async function serveDist() {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const rel = normalize(decodeURIComponent(url.pathname)).replace(/^([/\\])+/, '');
    const file = resolve(DIST, rel || 'index.html');
    if (file !== DIST && !file.startsWith(DIST + sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((ok) => server.close(ok)) };
}

/** Chromium with a fresh profile; each flow gets its own page (and its own mock). */
export async function launchBrowser() {
  const profile = await mkdtemp(join(tmpdir(), 'coffer-flows-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 960, height: 640 },
    colorScheme: 'light',
    reducedMotion: 'reduce',
    acceptDownloads: true,
  });
  return {
    context,
    async close() {
      await context.close();
      await rm(profile, { recursive: true, force: true });
    },
  };
}

export async function openApp(harness, { options = {}, colorScheme = 'light' } = {}) {
  const page = await harness.context.newPage();
  page.setDefaultTimeout(10_000);
  await page.emulateMedia({ colorScheme });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e));
  await page.addInitScript((o) => {
    window.__cofferMockOptions = o;
  }, options);
  await page.addInitScript({ path: harness.mockScript });
  await page.goto(harness.url);
  return { page, errors };
}

export async function shot(page, name) {
  await mkdir(dirname(join(ARTIFACTS, `${name}.png`)), { recursive: true });
  // Let transitions and the next frame settle so the picture shows the new state.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
}
