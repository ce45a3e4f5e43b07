// Numbers, durations and times, formatted for people.

const integer = new Intl.NumberFormat();

export function count(value: number): string {
  return integer.format(value);
}

/** "45 s", "3 min", "2 h 5 min", "3 d 4 h". */
export function age(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds <= 0) return "—";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return minutes % 60 ? `${hours} h ${minutes % 60} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  return hours % 24 ? `${days} d ${hours % 24} h` : `${days} d`;
}

/** Until (positive) or since (negative) a time, relative to now. */
export function relative(iso: string | null, now = Date.now()): string {
  if (!iso) return "—";
  const seconds = (Date.parse(iso) - now) / 1000;
  if (Math.abs(seconds) < 1) return "now";
  return seconds > 0 ? `in ${age(seconds)}` : `${age(-seconds)} ago`;
}

const sameDay = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const otherDay = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });

/** Local time of day for today, date and time otherwise. */
export function time(iso: string | null): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toDateString() === new Date().toDateString() ? sameDay.format(date) : otherDay.format(date);
}

/** A task id shortened for tables: its random tail (the head of a UUIDv7 is a timestamp). */
export function shortId(id: string): string {
  return `…${id.slice(-12)}`;
}

export function json(value: unknown): string {
  return value === undefined ? "" : JSON.stringify(value, null, 2);
}
