import { describe, expect, it } from 'vitest';
import {
  earliestAccountPurge,
  formatServiceDay,
  baseName,
  formatBytes,
  formatDateTime,
  formatDay,
  formatDuration,
  formatEta,
  formatPercent,
  formatRelative,
  formatShortDate,
  formatSpeed,
  formatTime,
  formatWhen,
  needsSeconds,
  parentPath,
  shortenPath,
} from '../src/lib/format';
import { parseMarkdown } from '../src/lib/markdown';
import { DAY, HOUR, NOW } from './fake-backend';

describe('formatBytes', () => {
  it.each([
    [0, '0 bytes'],
    [1, '1 byte'],
    [999, '999 bytes'],
    [1000, '1 KB'],
    [1536, '1.54 KB'],
    [10_400_000, '10.4 MB'],
    [3_400_000_000, '3.4 GB'],
    [50_000_000_000, '50 GB'],
    [123_456_000_000_000, '123 TB'],
    [800_000_000, '800 MB'],
    [120_000_000_000, '120 GB'],
    [20_000_000, '20 MB'],
    [100_000, '100 KB'],
  ])('%d → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });

  it('refuses nonsense', () => {
    expect(formatBytes(-1)).toBe('—');
    expect(formatBytes(Number.NaN)).toBe('—');
  });
});

describe('dates', () => {
  it('names today and yesterday', () => {
    expect(formatDateTime(NOW - HOUR, NOW)).toMatch(/^Today at /);
    expect(formatDateTime(NOW - DAY, NOW)).toMatch(/^Yesterday at /);
    expect(formatWhen(NOW - HOUR, NOW)).toMatch(/^today at /);
    expect(formatDay(NOW - DAY, NOW)).toBe('yesterday');
  });

  it('gives older dates a day and month, and a year when it is not this one', () => {
    expect(formatDateTime(NOW - 10 * DAY, NOW)).not.toMatch(/Today|Yesterday|\d{4}/);
    expect(formatDateTime(new Date(2023, 2, 3, 10, 0).getTime(), NOW)).toMatch(/2023/);
    expect(formatWhen(NOW - 10 * DAY, NOW)).toMatch(/^on /);
  });

  it('says how long ago', () => {
    expect(formatRelative(NOW - 10_000, NOW)).toBe('just now');
    expect(formatRelative(NOW - 5 * 60_000, NOW)).toBe('5 minutes ago');
    expect(formatRelative(NOW - 3 * HOUR, NOW)).toBe('3 hours ago');
    expect(formatRelative(NOW - 2 * DAY, NOW)).toBe('2 days ago');
  });
});

describe('paths and percentages', () => {
  it('keeps the file name when shortening a path', () => {
    const long = '/home/ada/Documents/projects/2024/clients/acme/reports/quarterly/final-report.pdf';
    const short = shortenPath(long, 50);
    expect(short.length).toBeLessThanOrEqual(50);
    expect(short.endsWith('/final-report.pdf')).toBe(true);
    expect(short).toContain('…');
    expect(shortenPath('/short/path.txt', 50)).toBe('/short/path.txt');
  });

  it('names folders by their last part', () => {
    expect(baseName('/home/ada/Documents/')).toBe('Documents');
    expect(baseName('C:\\Users\\ada\\Pictures')).toBe('Pictures');
  });

  it('never divides by zero', () => {
    expect(formatPercent(5, 0)).toBe('0%');
    expect(formatPercent(1, 3)).toBe('33%');
    expect(formatPercent(9, 3)).toBe('100%');
  });
});

describe('progress words', () => {
  it('speed and time left', () => {
    expect(formatSpeed(0)).toBe('');
    expect(formatSpeed(2_150_000)).toBe('2.15 MB/s');
    expect(formatEta(null)).toBe('');
    expect(formatEta(20)).toBe('less than a minute left');
    expect(formatEta(190)).toBe('about 3 minutes left');
    expect(formatEta(7_800)).toBe('about 2 hours 10 minutes left');
    expect(formatEta(3 * 86_400)).toBe('about 3 days left');
  });

  it('durations', () => {
    expect(formatDuration(900)).toBe('0.9 s');
    expect(formatDuration(75_000)).toBe('1 min 15 s');
    expect(formatDuration(7_200_000)).toBe('2 h 0 min');
  });

  it('a very fast run is "under 0.1 s", never "0.0 s"; rounding never shows "60 s"', () => {
    expect(formatDuration(0)).toBe('under 0.1 s');
    expect(formatDuration(12)).toBe('under 0.1 s');
    expect(formatDuration(49)).toBe('under 0.1 s');
    expect(formatDuration(50)).toBe('0.1 s');
    expect(formatDuration(9_960)).toBe('10 s');
    expect(formatDuration(59_700)).toBe('1 min 0 s');
    expect(formatDuration(119_700)).toBe('2 min 0 s');
    expect(formatDuration(-1)).toBe('—');
  });

  it('seconds only where times of the same minute would read alike', () => {
    const minute = new Date(2025, 5, 14, 2, 29).getTime();
    const times = [minute + 5_000, minute + 21_000, minute + 48_000, minute - 60_000];
    const seconds = needsSeconds(times);
    expect(times.map(seconds)).toEqual([true, true, true, false]);
    const labels = times.map((t) => formatDateTime(t, NOW, { seconds: seconds(t) }));
    expect(new Set(labels).size).toBe(4);
    expect(labels[0]).toMatch(/2:29:05/);
    expect(labels[3]).toMatch(/2:28(?!:)/);
    expect(formatTime(minute + 48_000, { seconds: true })).toMatch(/2:29:48/);
    expect(formatTime(minute + 48_000)).not.toMatch(/:48/);
    // The same moment twice is not a collision.
    expect([minute, minute].map(needsSeconds([minute, minute]))).toEqual([false, false]);
  });

  it('short dates for narrow columns', () => {
    expect(formatShortDate(NOW - HOUR, NOW)).toMatch(/2:30/);
    expect(formatShortDate(NOW - 3 * DAY, NOW)).toMatch(/Jun/);
    expect(formatShortDate(NOW - 400 * DAY, NOW)).toMatch(/2024/);
  });

  it('parent folders', () => {
    expect(parentPath('/a/b/c.txt')).toBe('/a/b');
    expect(parentPath('/a')).toBe('/');
  });

  it('an account purge date follows the service rule: 00:00 UTC after the 10th business day', () => {
    // crates/server/src/calendar.rs: asked on Monday 2025-01-06 → purged 2025-01-21 00:00 UTC.
    expect(earliestAccountPurge(Date.UTC(2025, 0, 6, 12), 10)).toBe(Date.UTC(2025, 0, 21));
    // Late on a Saturday (UTC) counts from that Saturday, whatever this computer's zone.
    expect(earliestAccountPurge(Date.UTC(2025, 5, 14, 23, 59), 10)).toBe(Date.UTC(2025, 5, 28));
    // Monday 2026-11-23: the dialog once said "December 7" while the service said December 8.
    expect(formatServiceDay(earliestAccountPurge(Date.UTC(2026, 10, 23, 4, 21), 10))).toBe('December 8, 2026');
    expect(formatServiceDay(Date.UTC(2026, 11, 8))).toBe('December 8, 2026');
  });
});

describe('policy Markdown', () => {
  it('reads headings, paragraphs and lists, and drops inline marks', () => {
    const blocks = parseMarkdown('# Title\n\nWe keep **only** what [we need](https://x).\nSecond line.\n\n- one\n  continued\n* two\n\n1. first');
    expect(blocks).toEqual([
      { kind: 'heading', level: 1, text: 'Title' },
      { kind: 'paragraph', text: 'We keep only what we need. Second line.' },
      { kind: 'list', items: ['one continued', 'two'] },
      { kind: 'list', items: ['first'] },
    ]);
  });

  it('never produces markup from the text', () => {
    const blocks = parseMarkdown('<script>alert(1)</script>');
    expect(blocks).toEqual([{ kind: 'paragraph', text: '<script>alert(1)</script>' }]);
  });
});
