import { describe, expect, it } from 'vitest';
import { baseName, formatBytes, formatDateTime, formatDay, formatPercent, formatRelative, formatWhen, shortenPath } from '../src/lib/format';
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
