import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(__dirname, '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe('IPC boundary', () => {
  it('only src/lib/ipc imports @tauri-apps packages', () => {
    const offenders = files(SRC)
      .filter((f) => /\.(ts|svelte)$/.test(f))
      .filter((f) => !relative(SRC, f).startsWith(['lib', 'ipc', ''].join(sep)))
      .filter((f) => /from\s+['"]@tauri-apps\//.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    // main.ts wires the real backend in through lib/ipc, never @tauri-apps directly.
    expect(offenders).toEqual([]);
  });
});
