// Number and time formatting shared by the pages.

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });
const decimals = new Map<number, Intl.NumberFormat>();

/** `1234567` → `1,234,567`; `null` → `—`. */
export function fmtNum(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (digits === 0) return integer.format(value);
  let f = decimals.get(digits);
  if (!f) {
    f = new Intl.NumberFormat('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
    decimals.set(digits, f);
  }
  return f.format(value);
}

const pad = (n: number) => String(n).padStart(2, '0');

// The API's times are China Standard Time without a zone. Arithmetic on them goes
// through a Date whose UTC fields hold the wall-clock time, so the browser's own zone
// never enters.

/** Parses `YYYY-MM-DD HH:MM:SS` (or a bare date) into epoch-ms of the wall-clock fields. */
export function parseWall(text: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?$/.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0'] = m;
  return Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
}

export function formatWall(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
  );
}

/** Shifts a `YYYY-MM-DD HH:MM:SS` time by some seconds. */
export function shiftWall(text: string, seconds: number): string {
  const ms = parseWall(text);
  return ms === null ? text : formatWall(ms + seconds * 1000);
}

/** The day before a `YYYY-MM-DD` date. */
export function previousDay(date: string): string {
  const ms = parseWall(date);
  return ms === null ? date : formatWall(ms - 86_400_000).slice(0, 10);
}

/** China Standard Time is UTC+8, all year. */
export const CST_OFFSET_MS = 8 * 3_600_000;

/** Epoch ms (UTC) → China Standard Time as `YYYY-MM-DD HH:MM:SS`. */
export function formatEpoch(ms: number): string {
  return formatWall(ms + CST_OFFSET_MS);
}

/** The current China Standard Time as `YYYY-MM-DD HH:MM:SS`. */
export function chinaNow(): string {
  return formatEpoch(Date.now());
}

/** `<input type="datetime-local">` value → the API's `YYYY-MM-DD HH:MM:SS`. */
export function fromDatetimeLocal(value: string): string {
  if (!value) return '';
  const [date, time = '00:00'] = value.split('T');
  return `${date} ${time.length === 5 ? `${time}:00` : time.slice(0, 8)}`;
}

/** The API's `YYYY-MM-DD HH:MM:SS` (or a bare date) → an `<input type="datetime-local">` value. */
export function toDatetimeLocal(value: string | null): string {
  if (!value) return '';
  const ms = parseWall(value);
  return ms === null ? '' : formatWall(ms).replace(' ', 'T');
}

/** Seconds → `3 s`, `6 min 43 s`, `2 h 05 min`, `3 d 4 h` (units from the caller's language). */
export function fmtInterval(seconds: number, units: { d: string; h: string; min: string; s: string }): string {
  const s = Math.abs(seconds);
  if (s < 60) return `${s} ${units.s}`;
  if (s < 3600) return `${Math.floor(s / 60)} ${units.min} ${pad(s % 60)} ${units.s}`;
  if (s < 86_400) return `${Math.floor(s / 3600)} ${units.h} ${pad(Math.floor((s % 3600) / 60))} ${units.min}`;
  return `${Math.floor(s / 86_400)} ${units.d} ${Math.floor((s % 86_400) / 3600)} ${units.h}`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
