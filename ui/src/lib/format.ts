// Human-readable sizes, counts and times. `now` comes in as a parameter so
// tests decide what "today" is.

const UNITS = ['bytes', 'KB', 'MB', 'GB', 'TB', 'PB'];

/** 1536 → "1.5 KB". Decimal units, as file managers on all three desktops show. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes === 1) return '1 byte';
  if (bytes < 1000) return `${bytes} bytes`;
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  // "1.50" → "1.5", "2.00" → "2"; whole numbers keep their zeros ("800").
  const text = digits > 0 ? value.toFixed(digits).replace(/\.?0+$/, '') : value.toFixed(0);
  return `${text} ${UNITS[unit]}`;
}

export function formatCount(n: number, one: string, many: string): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

/** 0..1, safe against a zero total. */
export function fraction(done: number, total: number): number {
  if (total <= 0) return 0;
  return Math.min(1, Math.max(0, done / total));
}

export function formatPercent(done: number, total: number): string {
  return `${Math.floor(fraction(done, total) * 100)}%`;
}

const timeFormat: Intl.DateTimeFormatOptions = { hour: 'numeric', minute: '2-digit' };
const timeFormatSeconds: Intl.DateTimeFormatOptions = { hour: 'numeric', minute: '2-digit', second: '2-digit' };

/** Options for the clock part of a date: `seconds` tells apart times in the same minute. */
export type TimeOptions = { seconds?: boolean };

function clock(date: Date, options: TimeOptions = {}): string {
  return date.toLocaleTimeString(undefined, options.seconds ? timeFormatSeconds : timeFormat);
}

/**
 * For a list of times shown as labels: which of them need seconds so that no
 * two different times read the same ("2:29 AM" three times). Only the times
 * that share their minute with another one get seconds; the rest stay short.
 */
export function needsSeconds(times: Iterable<number>): (ms: number) => boolean {
  const perMinute = new Map<number, Set<number>>();
  for (const ms of times) {
    const minute = Math.floor(ms / 60_000);
    const seconds = perMinute.get(minute) ?? new Set<number>();
    seconds.add(Math.floor(ms / 1000));
    perMinute.set(minute, seconds);
  }
  return (ms) => (perMinute.get(Math.floor(ms / 60_000))?.size ?? 0) > 1;
}

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** "Today at 14:05", "Yesterday at 09:12", "Mon 3 Mar at 10:00", "3 Mar 2023 at 10:00". */
export function formatDateTime(ms: number, now: number = Date.now(), timeOptions: TimeOptions = {}): string {
  const date = new Date(ms);
  const today = new Date(now);
  const yesterday = new Date(now);
  yesterday.setDate(today.getDate() - 1);
  const time = clock(date, timeOptions);
  if (sameDay(date, today)) return `Today at ${time}`;
  if (sameDay(date, yesterday)) return `Yesterday at ${time}`;
  const options: Intl.DateTimeFormatOptions =
    date.getFullYear() === today.getFullYear()
      ? { weekday: 'short', day: 'numeric', month: 'short' }
      : { day: 'numeric', month: 'short', year: 'numeric' };
  return `${date.toLocaleDateString(undefined, options)} at ${time}`;
}

/** "just now", "5 minutes ago", "3 hours ago", "2 days ago"; older falls back to the date. */
export function formatRelative(ms: number, now: number = Date.now()): string {
  const seconds = Math.round((now - ms) / 1000);
  if (seconds < 45) return 'just now';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${formatCount(minutes, 'minute', 'minutes')} ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${formatCount(hours, 'hour', 'hours')} ago`;
  const days = Math.round(hours / 24);
  if (days < 7) return `${formatCount(days, 'day', 'days')} ago`;
  return formatDateTime(ms, now);
}

/** Last path component, for compact lists; keeps the full path for a title. */
export function baseName(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, '');
  const parts = trimmed.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/** For the middle of a sentence: "today at 14:05", "yesterday at 9:12", "on Mon 3 Mar at 10:00". */
export function formatWhen(ms: number, now: number = Date.now()): string {
  const text = formatDateTime(ms, now);
  if (text.startsWith('Today') || text.startsWith('Yesterday')) return text[0].toLowerCase() + text.slice(1);
  return `on ${text}`;
}

/**
 * Shortens a long path in the middle, keeping its start and the file name:
 * "/home/ada/Documents/…/photos/holiday-001.jpg".
 */
export function shortenPath(path: string, max = 64): string {
  if (path.length <= max) return path;
  const sepIndex = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  const tail = sepIndex >= 0 ? path.slice(sepIndex) : path;
  if (tail.length + 2 >= max) return `…${path.slice(path.length - max + 1)}`;
  const head = path.slice(0, max - tail.length - 1);
  return `${head}…${tail}`;
}

/** Day only, mid-sentence: "today", "yesterday", "on 21 Nov", "on 21 Nov 2023". */
export function formatDay(ms: number, now: number = Date.now()): string {
  const date = new Date(ms);
  const today = new Date(now);
  const yesterday = new Date(now);
  yesterday.setDate(today.getDate() - 1);
  if (sameDay(date, today)) return 'today';
  if (sameDay(date, yesterday)) return 'yesterday';
  const options: Intl.DateTimeFormatOptions =
    date.getFullYear() === today.getFullYear()
      ? { day: 'numeric', month: 'short' }
      : { day: 'numeric', month: 'short', year: 'numeric' };
  return `on ${date.toLocaleDateString(undefined, options)}`;
}

/** 2_100_000 → "2.1 MB/s"; 0 (not measured yet) → "". */
export function formatSpeed(bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond <= 0) return '';
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

/** Time left, mid-sentence: "less than a minute left", "about 5 minutes left", "about 2 hours 10 minutes left". */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '';
  if (seconds < 60) return 'less than a minute left';
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `about ${formatCount(minutes, 'minute', 'minutes')} left`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  if (hours >= 24) return `about ${formatCount(Math.round(hours / 24), 'day', 'days')} left`;
  return `about ${formatCount(hours, 'hour', 'hours')}${rest ? ` ${formatCount(rest, 'minute', 'minutes')}` : ''} left`;
}

/** A clock time: "15:30" or "3:30 PM" as the system formats it; with `seconds`, "3:30:12 PM". */
export function formatTime(ms: number, options: TimeOptions = {}): string {
  return clock(new Date(ms), options);
}

/**
 * A short span: 30 → "under 0.1 s", 850 → "0.9 s", 75_000 → "1 min 15 s",
 * 7_200_000 → "2 h 0 min". Rounds once, so 59.6 s reads "1 min 0 s", never "60 s".
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  const tenths = Math.round(ms / 100);
  if (tenths === 0) return 'under 0.1 s';
  if (tenths < 100) return `${(tenths / 10).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** The day a timeline groups backups under: "Today", "Yesterday", "Mon 3 Mar", "3 Mar 2023". */
export function formatDayHeading(ms: number, now: number = Date.now()): string {
  const day = formatDay(ms, now);
  if (day === 'today') return 'Today';
  if (day === 'yesterday') return 'Yesterday';
  const date = new Date(ms);
  const options: Intl.DateTimeFormatOptions =
    date.getFullYear() === new Date(now).getFullYear()
      ? { weekday: 'short', day: 'numeric', month: 'short' }
      : { day: 'numeric', month: 'short', year: 'numeric' };
  return date.toLocaleDateString(undefined, options);
}

/** Parent folder of a path ("/a/b/c.txt" → "/a/b"); a root stays itself. */
export function parentPath(path: string): string {
  const trimmed = path.replace(/[\\/]+$/, '');
  const index = Math.max(trimmed.lastIndexOf('/'), trimmed.lastIndexOf('\\'));
  if (index <= 0) return trimmed.slice(0, index + 1) || trimmed;
  return trimmed.slice(0, index);
}

/**
 * When the service purges an account whose deletion is asked for at `requested`, by its rule
 * (crates/server/src/calendar.rs): 00:00 UTC after the `days`th business day (Monday–Friday of
 * the UTC calendar) that follows. The operator's holidays can only push it later, so this is the
 * earliest it can be.
 */
export function earliestAccountPurge(requested: number, days: number): number {
  const date = new Date(requested);
  date.setUTCHours(0, 0, 0, 0);
  let left = days;
  while (left > 0) {
    date.setUTCDate(date.getUTCDate() + 1);
    const weekday = date.getUTCDay();
    if (weekday !== 0 && weekday !== 6) left -= 1;
  }
  date.setUTCDate(date.getUTCDate() + 1);
  return date.getTime();
}

/**
 * A day of the service's calendar (an account's purge is at 00:00 UTC), "December 8, 2026", the
 * same day the service's mail names whatever this computer's time zone.
 */
export function formatServiceDay(ms: number): string {
  return new Date(ms).toLocaleDateString(undefined, { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });
}

/** "14 June 2025". */
export function formatLongDate(ms: number): string {
  return new Date(ms).toLocaleDateString(undefined, { day: 'numeric', month: 'long', year: 'numeric' });
}

/** For narrow columns: "14:05" today, "21 Nov" this year, "21 Nov 2023" before. */
export function formatShortDate(ms: number, now: number = Date.now()): string {
  const date = new Date(ms);
  const today = new Date(now);
  if (sameDay(date, today)) return date.toLocaleTimeString(undefined, timeFormat);
  const options: Intl.DateTimeFormatOptions =
    date.getFullYear() === today.getFullYear() ? { day: 'numeric', month: 'short' } : { day: 'numeric', month: 'short', year: 'numeric' };
  return date.toLocaleDateString(undefined, options);
}
