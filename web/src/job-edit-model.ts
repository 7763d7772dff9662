// The job edit form's arithmetic, without a page: wall-clock times in the service area's time zone to and from
// aware instants, time windows as (date, from, to) rows, and which fields an edit changed. Unit-tested in
// job-edit-model.test.ts.
import { formatter } from "./format";

export interface TimeWindow {
  start: string;
  end: string;
}

/** The wall clock of `utcMs` in `timeZone`, as if that wall time were UTC (ms). */
function wallMs(utcMs: number, timeZone: string): number {
  const parts = formatter({ year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: "2-digit", hourCycle: "h23", timeZone }).formatToParts(new Date(utcMs));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
}

/** "2026-12-07" at "09:30" in `timeZone` as an aware ISO instant (UTC, "Z"). A wall time a DST change skips is read
 * with the offset before the change. Null when the date or time is not valid. */
export function zonedIso(date: string, time: string, timeZone: string): string | null {
  const d = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  const t = /^(\d{2}):(\d{2})/.exec(time);
  if (!d || !t) return null;
  const guess = Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3]), Number(t[1]), Number(t[2]));
  if (Number.isNaN(guess)) return null;
  let at = guess - (wallMs(guess, timeZone) - guess);
  const again = guess - (wallMs(at, timeZone) - at); // the offset at the answer, which a DST change may move
  if (wallMs(again, timeZone) === guess) at = again;
  return new Date(at).toISOString();
}

/** An instant as the date and time on the wall in `timeZone`: { date: "2026-12-07", time: "09:30" }. */
export function localParts(value: string | Date, timeZone: string): { date: string; time: string } {
  const wall = new Date(wallMs((value instanceof Date ? value : new Date(value)).getTime(), timeZone));
  const iso = wall.toISOString();
  return { date: iso.slice(0, 10), time: iso.slice(11, 16) };
}

/** A window as a form row: its start's date, from and to (local); `until` names the end's date when it is another. */
export interface WindowRow {
  date: string;
  from: string;
  to: string;
  until?: string;
}

export function windowRow(w: TimeWindow, timeZone: string): WindowRow {
  const s = localParts(w.start, timeZone);
  const e = localParts(w.end, timeZone);
  return { date: s.date, from: s.time, to: e.time, ...(e.date !== s.date ? { until: e.date } : {}) };
}

/** A row back to a window, or a sentence saying what is wrong with it (n: its number on the form). */
export function rowWindow(row: WindowRow, n: number, timeZone: string): TimeWindow | string {
  if (!row.date || !row.from || !row.to) return `Window ${n}: give its date, from and to.`;
  const start = zonedIso(row.date, row.from, timeZone);
  const end = zonedIso(row.until ?? row.date, row.to, timeZone);
  if (!start || !end) return `Window ${n}: not a valid date or time.`;
  if (end <= start) return `Window ${n}: ends (${row.to}) before it starts (${row.from}); a window past midnight is two windows.`;
  return { start, end };
}

/** The same windows, as instants (the server answers "…Z" or "+00:00", the form "….000Z"). */
export function sameWindows(a: TimeWindow[], b: TimeWindow[]): boolean {
  const key = (ws: TimeWindow[]) => ws.map((w) => `${Date.parse(w.start)}-${Date.parse(w.end)}`).sort().join(",");
  return key(a) === key(b);
}

/** The same skills and levels (names compared as the server stores them: lower case). */
export function sameSkills(a: Record<string, number>, b: Record<string, number>): boolean {
  const key = (s: Record<string, number>) => Object.entries(s).map(([k, v]) => `${k.trim().toLowerCase()}=${v}`).sort().join(",");
  return key(a) === key(b);
}

/** A datetime-local input's value ("2026-12-07T09:30") for an instant, in `timeZone`; "" for none. */
export function localInput(value: string | null | undefined, timeZone: string): string {
  if (!value) return "";
  const p = localParts(value, timeZone);
  return `${p.date}T${p.time}`;
}

/** A datetime-local input's value, read in `timeZone`, as an aware ISO instant; null when empty or not valid. */
export function fromLocalInput(value: string, timeZone: string): string | null {
  const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(value);
  return m ? zonedIso(m[1], m[2], timeZone) : null;
}
