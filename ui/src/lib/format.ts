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
  const text = value.toFixed(digits).replace(/\.?0+$/, '');
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

function sameDay(a: Date, b: Date): boolean {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

/** "Today at 14:05", "Yesterday at 09:12", "Mon 3 Mar at 10:00", "3 Mar 2023 at 10:00". */
export function formatDateTime(ms: number, now: number = Date.now()): string {
  const date = new Date(ms);
  const today = new Date(now);
  const yesterday = new Date(now);
  yesterday.setDate(today.getDate() - 1);
  const time = date.toLocaleTimeString(undefined, timeFormat);
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
