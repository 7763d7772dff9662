// Formatting and small pure helpers (unit-tested in format.test.ts).

export function parseTime(value: string | null | undefined): Date | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** One formatter per (options, time zone), made once: building an Intl.DateTimeFormat costs ~50 µs, and a board
 * redraw with 5,000 jobs formats ~24,000 times (`groundcrew bench console` profile: 2 s of a 2.2 s redraw). */
export function formatter(options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = JSON.stringify(options);
  let found = formatters.get(key);
  if (!found) {
    found = new Intl.DateTimeFormat("en-GB", options);
    formatters.set(key, found);
  }
  return found;
}

/** "14:05" in the service area's time zone. */
export function clock(value: string | Date | null | undefined, timeZone: string): string {
  const d = value instanceof Date ? value : parseTime(value);
  if (!d) return "—";
  return formatter({ hour: "2-digit", minute: "2-digit", timeZone }).format(d);
}

/** The calendar day of `d` in the time zone, as a count of days (for comparing days, not for display). */
export function localDay(d: Date, timeZone: string): number {
  const parts = formatter({ year: "numeric", month: "2-digit", day: "2-digit", timeZone }).formatToParts(d);
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
  return Math.round(Date.UTC(get("year"), get("month") - 1, get("day")) / 86400000);
}

/** A time with its date when the date is not today (in the service area's time zone): "14:05" today,
 * "tomorrow 09:30", "yesterday 17:10", "Tue 8 Dec 14:05" within a week, "8 Dec 14:05" this year,
 * "3 Mar 2014 14:05" another year. */
export function when(value: string | Date | null | undefined, timeZone: string, now: Date = new Date()): string {
  const d = value instanceof Date ? value : parseTime(value);
  if (!d) return "—";
  const time = clock(d, timeZone);
  const days = localDay(d, timeZone) - localDay(now, timeZone);
  if (days === 0) return time;
  if (days === 1) return `tomorrow ${time}`;
  if (days === -1) return `yesterday ${time}`;
  const year = formatter({ year: "numeric", timeZone });
  const sameYear = year.format(d) === year.format(now);
  const opts: Intl.DateTimeFormatOptions = Math.abs(days) < 7
    ? { weekday: "short", day: "numeric", month: "short", timeZone }
    : sameYear ? { day: "numeric", month: "short", timeZone } : { day: "numeric", month: "short", year: "numeric", timeZone };
  return `${formatter(opts).format(d).replace(",", "")} ${time}`;
}

/** A window in words, its date named when it is not today: "10:00–12:00", "tomorrow 10:00–12:00",
 * "Tue 8 Dec 10:00–12:00" (the end's date too when it ends on another day). */
export function windowWords(start: string | Date | null | undefined, end: string | Date | null | undefined, timeZone: string,
  now: Date = new Date()): string {
  const s = start instanceof Date ? start : parseTime(start);
  const e = end instanceof Date ? end : parseTime(end);
  if (!s || !e) return "—";
  return `${when(s, timeZone, now)}–${localDay(s, timeZone) === localDay(e, timeZone) ? clock(e, timeZone) : when(e, timeZone, now)}`;
}

/** Hours since local midnight (e.g. 13.5 for 13:30) in the given time zone. */
export function localHours(d: Date, timeZone: string): number {
  const parts = formatter({ hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone }).formatToParts(d);
  const hour = Number(parts.find((p) => p.type === "hour")?.value ?? 0);
  const minute = Number(parts.find((p) => p.type === "minute")?.value ?? 0);
  return hour + minute / 60;
}

/** "1 h 05 min", "12 min", "45 s". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  const s = Math.round(Math.abs(seconds));
  const sign = seconds < 0 ? "−" : "";
  if (s < 60) return `${sign}${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${sign}${m} min`;
  if (m >= 48 * 60) return `${sign}${Math.round(m / 1440)} days`;
  return `${sign}${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

export function signed(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "—";
  if (Math.round(seconds) === 0) return "none";
  return (seconds > 0 ? "+" : "") + duration(seconds);
}

export function km(metres: number | null | undefined): string {
  if (metres === null || metres === undefined || !Number.isFinite(metres)) return "—";
  return `${(metres / 1000).toFixed(1)} km`;
}

export function pct(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "—";
  return `${Math.round(value * 100)} %`;
}

export interface SlaJob {
  id: number;
  sla_due_at: string | null;
  duration_min: number;
  priority: number;
}

/** Minutes of slack before the SLA is breached if work started now (negative: already breached). */
export function slackMinutes(job: SlaJob, now: Date): number | null {
  const due = parseTime(job.sla_due_at);
  if (!due) return null;
  return (due.getTime() - now.getTime()) / 60000 - job.duration_min;
}

/** Most at risk first: least slack, then higher priority, then older id. Jobs without an SLA go last. */
export function bySlaRisk<T extends SlaJob>(jobs: T[], now: Date): T[] {
  return [...jobs].sort((a, b) => {
    const sa = slackMinutes(a, now);
    const sb = slackMinutes(b, now);
    if (sa === null && sb !== null) return 1;
    if (sb === null && sa !== null) return -1;
    if (sa !== null && sb !== null && sa !== sb) return sa - sb;
    if (a.priority !== b.priority) return b.priority - a.priority;
    return a.id - b.id;
  });
}

export type RiskLevel = "breached" | "high" | "medium" | "low" | "none";

/** The SLA risk of a job from its slack (minutes); with `due` and the time zone, a breach or a deadline more than
 * two days away names its date ("SLA breached — was due 3 Mar 2014 09:00", "due Tue 8 Dec 17:00") instead of a
 * count of days. */
export function riskLabel(slack: number | null, due?: string | null, timeZone?: string, now: Date = new Date()):
    { level: RiskLevel; text: string } {
  if (slack === null) return { level: "none", text: "no SLA" };
  const far = Math.abs(slack) >= 2 * 24 * 60 && due && timeZone;
  if (slack < 0) {
    return { level: "breached", text: far ? `SLA breached — was due ${when(due, timeZone, now)}` : `SLA breached by ${duration(-slack * 60)}` };
  }
  if (far) return { level: "low", text: `SLA due ${when(due, timeZone, now)}` };
  if (slack < 60) return { level: "high", text: `${duration(slack * 60)} to spare` };
  if (slack < 180) return { level: "medium", text: `${duration(slack * 60)} to spare` };
  return { level: "low", text: `${duration(slack * 60)} to spare` };
}

export function titleCase(value: string): string {
  return value.replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase());
}

/** Server sentences name technicians by id ("technician 3") and count long delays in minutes ("3576 min"): the
 * names instead, and long spans as hours or days. */
export function humanize(text: string, names: Map<number, string>): string {
  return text
    // The street network's words (geodata) are for whoever runs the server, not a dispatcher.
    .replace(/point #\d+ \([-\d.]+, [-\d.]+\) is more than (\d+) m from any drivable road; move it to the nearest street or raise max_snap_distance_m/g,
      "the job's pin is more than $1 m from any drivable road; move the pin onto a street (Edit…)")
    .replace(/point #\d+ \([-\d.]+, [-\d.]+\) is outside the service area[^;]*(\(check the coordinates, or load a map that covers them\))?/g,
      "the job's pin is outside the area this service covers")
    .replace(/\btechnician (\d+)/g, (all, id: string) => names.get(Number(id)) ?? all)
    .replace(/\b(\d{3,}) min\b/g, (all, n: string) => (Number(n) >= 120 ? duration(Number(n) * 60) : all));
}
