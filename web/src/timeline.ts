// The schedule board: technicians × time for one day (tabs for the plan's days and the horizon's working days after
// today), a labelled bar per planned stop (job, customer, status, the arrival window the customer was told; a return
// visit and a multi-day visit's day said so), a window booked with the customer as a band behind its bar, the drive
// before it, that day's shift (weekly pattern), breaks, days off and absences shaded, locked days and pinned jobs
// marked; the horizon's tentative visits as dashed bars. Bars are dragged onto another technician or time; queue jobs
// are dropped onto a row; the drop time becomes the job's place in that technician's day (today's plan only).
import { h, mount } from "./dom";
import { clock, duration, formatter, km, localDay, localHours, parseTime, titleCase, windowWords } from "./format";
import { dropZone, touchDraggable } from "./touch-drag";
import type { Horizon, HorizonVisit, Job, Plan, PlanStop, Technician, TechnicianDay } from "./types";

export interface BoardDrop {
  jobId: number;
  techId: number;
  /** Place in the technician's day (0 = first), from where it was dropped; null: the planner's cheapest place. */
  position: number | null;
  /** Local hours of the drop point (e.g. 11.5 for 11:30), for the dialog's words. */
  atHours: number | null;
}

export interface TimelineOptions {
  techs: Technician[];
  jobs: Job[];
  plan: Plan | null;
  highlighted: Set<number>;
  lockedIds: Set<number>;
  timezone: string;
  colour: (techId: number) => string;
  statusColours: Record<string, string>;
  /** The customer who reported each job (the board's labels). */
  customers: Map<number, string>;
  /** Width of the arrival window customers are told (server dispatch_eta_window_min), minutes. */
  etaWindowMin: number;
  selectedJobId: number | null;
  /** The day shown (localDay number); null: today if the plan has it, else its first day. */
  day: number | null;
  /** The horizon plan (tentative visits on the working days after today) and everyone's hours per day; null: none. */
  horizon: Horizon | null;
  onDay: (day: number) => void;
  onDrop: (drop: BoardDrop) => void;
  onSelect: (jobId: number, byKeyboard: boolean) => void;
  onMoveKey: (jobId: number) => void;
  onLock: (tech: Technician, locked: boolean) => void;
  onFocusTech: (tech: Technician) => void;
}

/** Pixels per hour of the board's lanes: a 30-minute job is wide enough for its label. */
export const HOUR_PX = 120;

function hoursOf(time: string): number {
  const [hh, mm] = time.split(":").map(Number);
  return hh + (mm || 0) / 60;
}

function hhmm(hours: number): string {
  const m = Math.round(hours * 60);
  return `${String(Math.floor(m / 60) % 24).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
}

/** The arrival window the customer is told (server notices.arrival_window): the ETA rounded to 5 minutes, with
 * half the window either side. */
export function arrivalWindow(arrival: Date, windowMin: number): [Date, Date] {
  const rounded = new Date(Math.floor((arrival.getTime() + 150_000) / 300_000) * 300_000);
  const start = new Date(rounded.getTime() - Math.floor(windowMin / 2) * 60_000);
  return [start, new Date(start.getTime() + windowMin * 60_000)];
}

/** A booked window in words: "booked 10:00–12:00" today, "booked Tue 8 Dec 10:00–12:00" (or "tomorrow …") on
 * another day; null when the job has no booking. */
export function bookedWords(job: Pick<Job, "booked_start" | "booked_end"> | undefined, timeZone: string, now: Date = new Date()): string | null {
  if (!job?.booked_start || !job.booked_end) return null;
  return `booked ${windowWords(job.booked_start, job.booked_end, timeZone, now)}`;
}

/** Whether an arrival keeps the booked window: by its end (arriving before the start, the technician waits). */
export function keepsBooking(job: Pick<Job, "booked_start" | "booked_end">, arrival: Date): boolean {
  const end = parseTime(job.booked_end);
  return !end || arrival.getTime() <= end.getTime();
}

/** Where a job dropped at `atHours` goes in a day: after every stop (other than itself) that starts before. */
export function dropPosition(stops: Array<{ job_id: number; startHours: number }>, jobId: number, atHours: number): number {
  return stops.filter((s) => s.job_id !== jobId && s.startHours < atHours).length;
}

/** The days the plan's stops fall on (localDay numbers, ascending); the plan's own day when it has no stops. */
export function planDays(plan: Plan | null, timeZone: string, now: Date = new Date()): number[] {
  const days = new Set<number>();
  for (const s of plan?.stops ?? []) {
    const start = stopTimes(s, timeZone).start;
    if (start) days.add(start.day);
  }
  if (!days.size) days.add(plan?.day ? Math.round(Date.parse(`${plan.day}T00:00:00Z`) / 86400000) : localDay(now, timeZone));
  return [...days].sort((a, b) => a - b);
}

type Break = NonNullable<Technician["breaks"]>[number];

/** A technician's hours on one board day: local hours (e.g. 12.5), the breaks that fit, or why the day is not
 * worked (`off`: "absence", "day off", "off", "sick"; `reason`: an absence's). */
export interface DayHours {
  start: number | null;
  end: number | null;
  breaks: Break[];
  off: string | null;
  reason: string;
}

/** A localDay number as its ISO date ("2026-12-09"), and back. */
export function isoDay(day: number): string {
  return new Date(day * 86400000).toISOString().slice(0, 10);
}

export function dayNumber(iso: string): number {
  return Math.round(Date.parse(`${iso.slice(0, 10)}T00:00:00Z`) / 86400000);
}

/** ISO weekday (1 = Monday .. 7 = Sunday) of a localDay number. */
export function isoWeekday(day: number): number {
  return ((new Date(day * 86400000).getUTCDay() + 6) % 7) + 1;
}

/** Everyone's hours per day from GET /horizon's `shifts`, by "technician_id@YYYY-MM-DD". */
export function calendarOf(horizon: Horizon | null): Map<string, TechnicianDay> {
  return new Map((horizon?.shifts ?? []).map((r) => [`${r.technician_id}@${r.day}`, r]));
}

/** A technician's hours on `day`: the server's calendar when it has the day (weekly pattern, absences and
 * availability read there); else their weekly pattern (as server technicians.shift_on: a weekday left out works
 * shift_start..shift_end; on a day with its own hours, breaks that cannot fit are dropped) and their availability
 * (today: anything but on shift; later: marked off). */
export function dayHours(tech: Technician, day: number, today: number, calendar?: Map<string, TechnicianDay>): DayHours {
  const known = calendar?.get(`${tech.id}@${isoDay(day)}`);
  if (known) {
    return { start: known.start ? hoursOf(known.start) : null, end: known.end ? hoursOf(known.end) : null,
      breaks: known.breaks ?? [], off: known.start && known.end ? null : (known.off ?? "day off"), reason: known.reason ?? "" };
  }
  if (tech.availability !== "on_shift" && (day === today || tech.availability === "off")) {
    return { start: null, end: null, breaks: [], off: tech.availability, reason: "" };
  }
  const entry = tech.weekly_shifts?.[String(isoWeekday(day))];
  if (entry === "off") return { start: null, end: null, breaks: [], off: "day off", reason: "" };
  const start = hoursOf(entry ? entry.start : tech.shift_start);
  const end = hoursOf(entry ? entry.end : tech.shift_end);
  const everyday = start === hoursOf(tech.shift_start) && end === hoursOf(tech.shift_end);
  const fits = (b: Break) => {
    const first = Math.max(hoursOf(b.earliest), start);
    return first <= hoursOf(b.latest) && first + b.duration_min / 60 <= end;
  };
  return { start, end, breaks: (tech.breaks ?? []).filter((b) => everyday || fits(b)), off: null, reason: "" };
}

/** Why a day is not worked, in words for the lane ("Day off", "Absent: training", "Sick — not available today"). */
export function offWords(hours: DayHours, isToday: boolean): string {
  if (hours.off === "absence") return `Absent${hours.reason ? `: ${hours.reason}` : ""}`;
  if (hours.off === "day off" || !hours.off) return "Day off";
  return `${titleCase(hours.off)} — not available ${isToday ? "today" : "that day"}`;
}

export interface BandPart {
  kind: "off" | "day-off";
  from: number;
  to: number;
  title: string;
}

/** The shaded parts of a lane from `startH` to `endH` for a technician's hours that day: before the shift starts and
 * after it ends, or the whole lane on a day not worked. */
export function shiftBand(hours: DayHours, startH: number, endH: number, name: string, isToday = false): BandPart[] {
  if (hours.off || hours.start === null || hours.end === null) {
    return [{ kind: "day-off", from: startH, to: endH, title: `${name}: ${offWords(hours, isToday)}` }];
  }
  const parts: BandPart[] = [];
  if (hours.start > startH) parts.push({ kind: "off", from: startH, to: hours.start, title: `${name} starts at ${hhmm(hours.start)}` });
  if (hours.end < endH) parts.push({ kind: "off", from: hours.end, to: endH, title: `${name}'s shift ends at ${hhmm(hours.end)}` });
  return parts;
}

/** A day in short words: "Wed 9 Dec" (the local date of an aware ISO time, or of a localDay number). */
export function shortDate(value: string | number, timeZone: string): string {
  const day = typeof value === "number" ? value : localDay(new Date(value), timeZone);
  return formatter({ weekday: "short", day: "numeric", month: "short", timeZone: "UTC" })
    .format(new Date(day * 86400000 + 12 * 3600000)).replace(",", "");
}

/** What the board and the job's details say of a return visit and of a multi-day visit: "Return visit for job #12
 * (part arrives Wed 9 Dec)", "Day 2 of 3", "Ana Ruiz preferred". `visit`: the job's horizon part shown, if any. */
export function visitWords(job: Pick<Job, "follow_up_of" | "earliest_at" | "parts_done" | "preferred_technician_id"> | undefined,
  opts: { visit?: Pick<HorizonVisit, "part" | "parts">; names?: Map<number, string>; timeZone: string }): string[] {
  if (!job) return [];
  const out: string[] = [];
  const after = job.earliest_at ? shortDate(job.earliest_at, opts.timeZone) : null;
  if (job.follow_up_of) out.push(`Return visit for job #${job.follow_up_of}${after ? ` (part arrives ${after})` : ""}`);
  else if (after) out.push(`Not before ${after}`);
  const done = job.parts_done ?? 0;
  if (opts.visit && opts.visit.parts > 1) out.push(`Day ${done + opts.visit.part} of ${done + opts.visit.parts}`);
  else if (done > 0) out.push(`Day ${done + 1}${opts.visit ? ` of ${done + 1}` : ""}`);
  const preferred = job.preferred_technician_id ? opts.names?.get(job.preferred_technician_id) : undefined;
  if (preferred) out.push(`${preferred} preferred`);
  return out;
}

/** The board's days: the plan's days and the horizon's working days after today (localDay numbers, ascending). */
export function boardDays(plan: Plan | null, horizon: Horizon | null, timeZone: string, now: Date = new Date()): number[] {
  const today = localDay(now, timeZone);
  const days = new Set(planDays(plan, timeZone, now));
  for (const d of horizon?.days ?? []) if (dayNumber(d) > today) days.add(dayNumber(d));
  return [...days].sort((a, b) => a - b);
}

function dayTitle(day: number, timeZone: string, now: Date): string {
  const date = new Date(day * 86400000 + 12 * 3600000); // noon UTC of that calendar day: the right date anywhere
  const long = formatter({ weekday: "long", day: "numeric", month: "long", year: "numeric", timeZone: "UTC" }).format(date);
  const diff = day - localDay(now, timeZone);
  return diff === 0 ? `Today, ${long}` : diff === 1 ? `Tomorrow, ${long}` : diff === -1 ? `Yesterday, ${long}` : long;
}

function shortDay(day: number, timeZone: string, now: Date): string {
  const diff = day - localDay(now, timeZone);
  if (diff === 0) return "Today";
  if (diff === 1) return "Tomorrow";
  return formatter({ weekday: "short", day: "numeric", month: "short", timeZone: "UTC" })
    .format(new Date(day * 86400000 + 12 * 3600000)).replace(",", "");
}

/** A time of a stop on the service area's clock: its local date (localDay number) and local hours (e.g. 13.5). */
export interface LocalTime {
  at: Date;
  day: number;
  hours: number;
}

/** A stop's times, parsed and put on the local clock once (the board's redraws read them many times). */
export interface StopTimes {
  timeZone: string;
  arrival: LocalTime | null;
  start: LocalTime | null;
  end: LocalTime | null;
}

const stopTimesCache = new WeakMap<PlanStop, StopTimes>();

function localTime(value: string, timeZone: string): LocalTime | null {
  const at = parseTime(value);
  return at ? { at, day: localDay(at, timeZone), hours: localHours(at, timeZone) } : null;
}

/** A stop's arrival, start and end on the local clock, kept by stop object: a live plan change keeps the stop
 * objects of the technicians it did not touch (live-delta.ts patchPlan), whose times are then not parsed again. */
export function stopTimes(stop: PlanStop, timeZone: string): StopTimes {
  const held = stopTimesCache.get(stop);
  if (held && held.timeZone === timeZone) return held;
  const times = { timeZone, arrival: localTime(stop.arrival_at, timeZone), start: localTime(stop.start_at, timeZone),
    end: localTime(stop.end_at, timeZone) };
  stopTimesCache.set(stop, times);
  return times;
}

/** Hours of a local time on the board's day: 25.5 is 01:30 the next day. */
function hoursOn(t: LocalTime, day: number): number {
  return t.hours + (t.day - day) * 24;
}

/** What a board row draws beyond its stops' and visits' own objects, as one string: a row whose stops are the same
 * objects and whose words are the same is kept as it is (the technician, their lock and hours, and per bar the job's
 * fields drawn, its customer, whether it changed in this plan and whether it is selected). */
export function rowWords(tech: Technician, parts: { colour: string; locked: boolean; hours: DayHours;
  bars: Array<{ jobId: number; job: Job | undefined; customer: string | undefined; changed: boolean; selected: boolean }> }): string {
  const hrs = parts.hours;
  const out = [tech.name, parts.colour, parts.locked ? "L" : "", `${hrs.start}-${hrs.end}-${hrs.off}-${hrs.reason}`,
    JSON.stringify(hrs.breaks)];
  for (const b of parts.bars) {
    const j = b.job;
    out.push(j ? [b.jobId, j.title, j.status, j.pinned, j.booked_start, j.booked_end, j.follow_up_of, j.earliest_at, j.parts_done,
      j.preferred_technician_id].join("\u0001") : `${b.jobId}`, b.customer ?? "", b.changed ? "C" : "", b.selected ? "S" : "");
  }
  return out.join("\u0002");
}

/** Which rows a redraw builds again: those of `changed` (a live plan change's technicians), those whose stops or
 * visits are not the same objects as last drawn, those whose words differ (rowWords), and rows not drawn yet. */
export function rowsToBuild<K>(held: Map<K, { items: readonly object[]; words: string }>,
  next: Map<K, { items: readonly object[]; words: string }>, changed: Iterable<K>): Set<K> {
  const out = new Set<K>(changed);
  for (const [key, row] of next) {
    const was = held.get(key);
    if (!was || was.words !== row.words || was.items.length !== row.items.length || was.items.some((x, i) => x !== row.items[i])) out.add(key);
  }
  for (const key of out) if (!next.has(key)) out.delete(key);
  return out;
}

interface RowHeld {
  el: HTMLElement;
  items: readonly object[];
  words: string;
  now: HTMLElement | null;
}

/** What was drawn into a board element: a redraw with the same frame (day, hours shown, technicians) keeps the rows
 * that did not change. `live.o`: the options of the latest redraw, which kept rows' handlers call. */
interface BoardHeld {
  frame: string;
  techs: Technician[];
  horizon: Horizon | null;
  colour: TimelineOptions["colour"];
  statusColours: Record<string, string>;
  head: HTMLElement;
  grid: HTMLElement;
  rows: Map<number, RowHeld>;
  live: { o: TimelineOptions };
}

const boards = new WeakMap<HTMLElement, BoardHeld>();

/** Draw the board into `el`. `changed` (a live change's technicians): the board as drawn is kept but for the rows
 * of those technicians and rows whose stops or words changed (rowsToBuild), unless its frame changed (another day,
 * other hours shown, other technicians, the horizon read afresh): then, and without `changed`, all is drawn afresh. */
export function renderTimeline(el: HTMLElement, o: TimelineOptions, changed?: Iterable<number>): void {
  const now = new Date();
  const tz = o.timezone;
  const today = localDay(now, tz);
  const firm = planDays(o.plan, tz, now);
  const days = boardDays(o.plan, o.horizon, tz, now);
  const day = o.day !== null && days.includes(o.day) ? o.day : days.includes(today) ? today : days[0];
  // A day only the horizon plans: its visits are tentative (jobs are assigned on the day); no drops, no locks.
  const tentative = !firm.includes(day);
  const stopsOf = new Map<number, PlanStop[]>();
  let startH = 7;
  let endH = 19;
  for (const s of o.plan?.stops ?? []) {
    const t = stopTimes(s, tz);
    if (!t.start || t.start.day !== day) continue;
    const mine = stopsOf.get(s.technician_id);
    if (mine) mine.push(s);
    else stopsOf.set(s.technician_id, [s]);
    if (t.arrival) startH = Math.min(startH, Math.floor(t.arrival.hours - s.travel_s / 3600));
    if (t.end) endH = Math.max(endH, Math.ceil(t.end.hours + (t.end.day > day ? 24 : 0)));
  }
  const visits = day > today ? (o.horizon?.visits ?? []).filter((v) => dayNumber(v.day) === day) : [];
  const calendar = calendarOf(o.horizon);
  const hoursOfTech = new Map(o.techs.map((t) => [t.id, dayHours(t, day, today, calendar)]));
  for (const hrs of hoursOfTech.values()) {
    if (hrs.start === null || hrs.end === null) continue;
    startH = Math.min(startH, Math.floor(hrs.start) - 1);
    endH = Math.max(endH, Math.ceil(hrs.end) + 1);
  }
  for (const v of visits) {
    const a = parseTime(v.start_at);
    const e = parseTime(v.end_at);
    if (a) startH = Math.min(startH, Math.floor(localHours(a, tz)));
    if (e) endH = Math.max(endH, Math.ceil(localHours(e, tz)));
  }
  startH = Math.max(0, startH);
  endH = Math.min(24, Math.max(endH, startH + 4));
  const nowH = day === today ? localHours(now, tz) : null;
  const nowShown = nowH !== null && nowH >= startH && nowH <= endH;
  const frame = [tz, day, today, tentative, startH, endH, nowShown, o.etaWindowMin].join("|");
  const held = boards.get(el);
  const keep = changed !== undefined && held !== undefined && held.frame === frame && held.techs === o.techs
    && held.horizon === o.horizon && held.colour === o.colour && held.statusColours === o.statusColours && el.contains(held.grid);
  const live = keep ? held.live : { o };
  live.o = o;

  const laneW = (endH - startH) * HOUR_PX;
  const px = (hours: number) => (hours - startH) * HOUR_PX;
  const jobsById = new Map(o.jobs.map((j) => [j.id, j]));
  const names = new Map(o.techs.map((t) => [t.id, t.name]));
  /** A return visit and a multi-day visit's day in words, for a bar (the job's horizon part on this day, if any). */
  const visitOf = new Map(visits.map((v) => [v.job_id, v]));
  const tagsOf = (jobId: number) => visitWords(jobsById.get(jobId), { visit: visitOf.get(jobId), names, timeZone: tz });
  const visitsOf = new Map<number, HorizonVisit[]>();
  for (const v of visits) visitsOf.set(v.technician_id, [...(visitsOf.get(v.technician_id) ?? []), v]);
  const frameOf: RowFrame = { o: live, day, today, tentative, startH, endH, laneW, px, now, nowH: nowShown ? nowH : null, jobsById, tagsOf };

  const next = new Map<number, { items: readonly object[]; words: string; mine: PlanStop[]; planned: HorizonVisit[]; locked: boolean }>();
  for (const tech of o.techs) {
    const mine = (stopsOf.get(tech.id) ?? []).sort((a, b) => a.sequence - b.sequence);
    const planned = (visitsOf.get(tech.id) ?? []).sort((a, b) => a.sequence - b.sequence);
    const locked = !tentative && o.lockedIds.has(tech.id);
    const bars = [...mine, ...planned].map((s) => ({ jobId: s.job_id, job: jobsById.get(s.job_id), customer: o.customers.get(s.job_id),
      changed: o.highlighted.has(s.job_id), selected: o.selectedJobId === s.job_id }));
    const words = rowWords(tech, { colour: o.colour(tech.id), locked, hours: hoursOfTech.get(tech.id)!, bars });
    next.set(tech.id, { items: [...mine, ...planned], words, mine, planned, locked });
  }
  const head = boardHead(o, { day, days, firm, tentative, tz, now });

  if (keep) {
    const build = rowsToBuild(held.rows, next, changed);
    held.head.replaceWith(head);
    held.head = head;
    for (const tech of o.techs) {
      const row = next.get(tech.id)!;
      const was = held.rows.get(tech.id)!;
      if (build.has(tech.id)) {
        const made = boardRow(tech, row.mine, row.planned, row.locked, hoursOfTech.get(tech.id)!, frameOf);
        was.el.replaceWith(made.el);
        held.rows.set(tech.id, { el: made.el, items: row.items, words: row.words, now: made.now });
      } else if (was.now && nowH !== null) {
        was.now.style.left = `${px(nowH)}px`;
        was.now.title = `Now ${clock(now, tz)}`;
      }
    }
    return;
  }

  const axis = h("div", { class: "tl-lane tl-axis", "aria-hidden": "true", style: { width: `${laneW}px` } });
  for (let hh = startH; hh < endH; hh++) axis.append(h("span", { class: "tl-hour", style: { left: `${px(hh)}px` } }, `${String(hh).padStart(2, "0")}:00`));
  const rows = new Map<number, RowHeld>();
  for (const tech of o.techs) {
    const row = next.get(tech.id)!;
    const made = boardRow(tech, row.mine, row.planned, row.locked, hoursOfTech.get(tech.id)!, frameOf);
    rows.set(tech.id, { el: made.el, items: row.items, words: row.words, now: made.now });
  }
  const grid = h("div", { class: "board-grid" },
    h("div", { class: "tl-row tl-head" }, h("div", { class: "tl-name muted small" }, "Technician"), axis),
    [...rows.values()].map((r) => r.el));
  mount(el, head, h("div", { class: "board-scroll" }, grid));
  boards.set(el, { frame, techs: o.techs, horizon: o.horizon, colour: o.colour, statusColours: o.statusColours, head, grid, rows, live });
}

/** The board's heading: the day shown, the day tabs, and how to use it. */
function boardHead(o: TimelineOptions, f: { day: number; days: number[]; firm: number[]; tentative: boolean; tz: string; now: Date }): HTMLElement {
  const { day, days, firm, tz, now } = f;
  const tabs = days.length > 1
    ? h("div", { class: "board-days", role: "group", "aria-label": "Day shown" }, days.map((d) =>
      h("button", { type: "button", class: `small${firm.includes(d) ? "" : " tentative"}`, "aria-pressed": d === day ? "true" : "false",
        dataset: { day: isoDay(d) }, title: firm.includes(d) ? undefined : "Tentative: the horizon plan", onclick: () => o.onDay(d) },
      shortDay(d, tz, now))))
    : null;
  return h("div", { class: "board-head" }, h("h3", { class: "board-date", id: "board-date", dataset: { day, date: isoDay(day) } }, dayTitle(day, tz, now)), tabs,
    h("span", { class: "muted small" }, f.tentative
      ? `Tentative: the horizon plan for this day (jobs are assigned on the day). Times in ${tz}.`
      : `Times in ${tz}. Drag a bar to another row or time; or select it and press M.`));
}

/** What every row of one redraw shares. `o.o`: the latest options (a kept row's handlers call the newest ones). */
interface RowFrame {
  o: { o: TimelineOptions };
  day: number;
  today: number;
  tentative: boolean;
  startH: number;
  endH: number;
  laneW: number;
  px: (hours: number) => number;
  now: Date;
  nowH: number | null;
  jobsById: Map<number, Job>;
  tagsOf: (jobId: number) => string[];
}

/** One technician's row: name, lock and summary; the lane with shift, breaks, drives, booked windows and bars. */
function boardRow(tech: Technician, mine: PlanStop[], planned: HorizonVisit[], locked: boolean, hrs: DayHours,
  f: RowFrame): { el: HTMLElement; now: HTMLElement | null } {
  const { day, today, tentative, startH, endH, laneW, px, now, nowH, jobsById, tagsOf } = f;
  const o = f.o.o;
  const tz = o.timezone;
  const hoursAt = (d: Date) => localHours(d, tz) + (localDay(d, tz) - day) * 24;
  /** A bar's visit words: the preference left out on the preferred technician's own row (the bar says it already). */
  const barTags = (tags: string[]) => tags.filter((t) => t !== `${tech.name} preferred`);
  const absent = hrs.off !== null;
  const lane = h("div", { class: `tl-lane${locked ? " locked" : ""}${absent ? " absent" : ""}${tentative ? " tentative" : ""}`,
    dataset: { techId: tech.id, shift: absent ? (hrs.off ?? "") : `${hhmm(hrs.start ?? 0)}-${hhmm(hrs.end ?? 0)}` },
    style: { width: `${laneW}px` } });
  for (const part of shiftBand(hrs, startH, endH, tech.name, day === today)) {
    if (part.kind === "day-off") continue; // the lane itself is shaded, with the words on it
    lane.append(h("div", { class: "tl-off", title: part.title, style: { left: `${px(part.from)}px`, width: `${Math.max(0, px(part.to) - px(part.from))}px` } }));
  }
  for (const b of absent ? [] : hrs.breaks) { // where the break can fall: its window, inside that day's shift
    const from = Math.max(hoursOf(b.earliest), hrs.start ?? 0);
    const to = Math.min(hoursOf(b.latest) + b.duration_min / 60, hrs.end ?? 24);
    if (to <= from) continue;
    lane.append(h("div", { class: "tl-break", title: `Break of ${b.duration_min} min, starting between ${b.earliest.slice(0, 5)} and ${b.latest.slice(0, 5)}`,
      style: { left: `${px(from)}px`, width: `${px(to) - px(from)}px` } }, px(to) - px(from) > 50 ? `break ${b.duration_min} min` : ""));
  }
  if (absent) lane.append(h("div", { class: "tl-absent-label", title: `${tech.name}: ${offWords(hrs, day === today)}` }, offWords(hrs, day === today)));
  for (let hh = startH + 1; hh < endH; hh++) lane.append(h("div", { class: "tl-grid", style: { left: `${px(hh)}px` } }));
  const nowEl = nowH !== null ? h("div", { class: "tl-now", title: `Now ${clock(now, tz)}`, style: { left: `${px(nowH)}px` } }) : null;
  if (nowEl) lane.append(nowEl);
  const placed: Array<{ job_id: number; startHours: number }> = [];
  for (const s of mine) {
    const times = stopTimes(s, tz);
    if (!times.start || !times.end || !times.arrival) continue;
    const start = times.start.at;
    const end = times.end.at;
    const arrival = times.arrival.at;
    const job = jobsById.get(s.job_id);
    const aH = hoursOn(times.arrival, day);
    const sH = hoursOn(times.start, day);
    const eH = hoursOn(times.end, day);
    placed.push({ job_id: s.job_id, startHours: sH });
    if (s.travel_s > 0) {
      const w = Math.max(2, (s.travel_s / 3600) * HOUR_PX);
      lane.append(h("div", { class: "tl-travel", title: `Drive ${duration(s.travel_s)}, ${km(s.distance_m)}`,
        style: { left: `${px(aH) - w}px`, width: `${w}px`, background: o.colour(tech.id) } },
      w >= 40 ? h("span", null, duration(s.travel_s)) : null));
    }
    if (sH - aH > 1 / 60) {
      lane.append(h("div", { class: "tl-wait", title: `Waits ${duration(s.wait_s || (sH - aH) * 3600)} for the job's time window`,
        style: { left: `${px(aH)}px`, width: `${px(sH) - px(aH)}px` } }));
    }
    // The window booked with the customer: a band behind the bar (the part of it on this day), labelled.
    const booked = bookedWords(job, tz, now);
    const kept = !job || keepsBooking(job, arrival);
    const b0 = parseTime(job?.booked_start);
    const b1 = parseTime(job?.booked_end);
    if (booked && b0 && b1) {
      const from = Math.max(startH, hoursAt(b0));
      const to = Math.min(endH, hoursAt(b1));
      if (to > from) {
        lane.append(h("div", { class: `tl-booked${kept ? "" : " broken"}`, dataset: { jobId: s.job_id },
          title: `#${s.job_id}: ${booked} with the customer${kept ? "" : `; the plan arrives ${clock(arrival, tz)}, after it`}`,
          style: { left: `${px(from)}px`, width: `${px(to) - px(from)}px` } },
        h("span", { class: "tl-booked-label" }, booked)));
      }
    }
    const changed = o.highlighted.has(s.job_id);
    const pinned = job?.pinned ?? false;
    const status = titleCase(job?.status ?? "assigned");
    const customer = o.customers.get(s.job_id);
    const [w0, w1] = arrivalWindow(arrival, o.etaWindowMin);
    const windowText = `${clock(w0, tz)}–${clock(w1, tz)}`;
    const title = job?.title ?? `Job ${s.job_id}`;
    const tags = tagsOf(s.job_id);
    const label = `Job ${s.job_id}: ${title}${customer ? `, for ${customer}` : ""}. ${tags.length ? `${tags.join(". ")}. ` : ""}${status}, ${tech.name}, `
      + `working ${clock(start, tz)}–${clock(end, tz)}, customer told ${windowText}, drive ${duration(s.travel_s)} before it`
      + `${booked ? `, ${booked} with the customer${kept ? "" : " (the plan arrives after it)"}` : ""}`
      + `${pinned ? ". Pinned by a dispatcher" : ""}${locked ? ". Day locked" : ""}${changed ? ". Changed in this plan" : ""}.`;
    const bar = h("button", { type: "button",
      class: `tl-hit tl-bar${changed ? " changed" : ""}${pinned ? " pinned" : ""}${booked ? " booked" : ""}${kept ? "" : " off-booking"}`
        + `${tags.length ? " follow" : ""}${o.selectedJobId === s.job_id ? " selected" : ""}`,
      draggable: locked || job?.status !== "assigned" ? "false" : "true", title: label, // the name is the visible label; the rest, its description
      "aria-pressed": o.selectedJobId === s.job_id ? "true" : "false", "aria-keyshortcuts": "M",
      dataset: { jobId: s.job_id, techId: tech.id },
      style: { left: `${px(sH)}px`, width: `${Math.max(6, px(eH) - px(sH))}px`,
        borderLeftColor: o.statusColours[job?.status ?? "assigned"] ?? "#1565c0" } },
    h("span", { class: "tl-bar-title" }, pinned ? h("span", { class: "tl-pin", "aria-hidden": "true" }, "PIN") : null, `#${s.job_id} ${title}`),
    h("span", { class: "tl-bar-meta" }, visitSpan(barTags(tags)), [customer, status, booked ?? `ETA ${windowText}`].filter(Boolean).join(" · ")));
    bar.addEventListener("click", (ev) => f.o.o.onSelect(s.job_id, ev.detail === 0));
    bar.addEventListener("keydown", (ev) => {
      if (ev.key === "m" || ev.key === "M") {
        ev.preventDefault();
        f.o.o.onMoveKey(s.job_id);
      }
    });
    bar.addEventListener("dragstart", (ev) => {
      ev.dataTransfer?.setData("text/x-job-id", String(s.job_id));
      ev.dataTransfer?.setData("text/plain", `job ${s.job_id}`);
      if (ev.dataTransfer) ev.dataTransfer.effectAllowed = "move";
      bar.classList.add("dragging");
    });
    bar.addEventListener("dragend", () => bar.classList.remove("dragging"));
    touchDraggable(bar, s.job_id, () => bar.draggable);
    lane.append(bar);
  }
  // The horizon's tentative visits: where the job is expected that day; selected like a stop, never dragged.
  for (const v of planned) {
    const start = parseTime(v.start_at);
    const end = parseTime(v.end_at);
    if (!start || !end) continue;
    const job = jobsById.get(v.job_id);
    const sH = hoursAt(start);
    const eH = hoursAt(end);
    const title = job?.title ?? v.job_title;
    const customer = o.customers.get(v.job_id);
    const tags = tagsOf(v.job_id);
    const label = `Job ${v.job_id}: ${title}${customer ? `, for ${customer}` : ""}. ${tags.length ? `${tags.join(". ")}. ` : ""}`
      + `Tentative (horizon plan): ${tech.name}, ${shortDate(day, tz)} ${clock(start, tz)}–${clock(end, tz)}; assigned on the day.`;
    const bar = h("button", { type: "button",
      class: `tl-hit tl-bar tentative${tags.length ? " follow" : ""}${o.selectedJobId === v.job_id ? " selected" : ""}`,
      draggable: "false", title: label, "aria-pressed": o.selectedJobId === v.job_id ? "true" : "false",
      dataset: { jobId: v.job_id, techId: tech.id, part: v.part, parts: v.parts },
      style: { left: `${px(sH)}px`, width: `${Math.max(6, px(eH) - px(sH))}px` } },
    h("span", { class: "tl-bar-title" }, `#${v.job_id} ${title}`),
    h("span", { class: "tl-bar-meta" }, visitSpan(barTags(tags)), [customer, `tentative ${clock(start, tz)}–${clock(end, tz)}`].filter(Boolean).join(" · ")));
    bar.addEventListener("click", (ev) => f.o.o.onSelect(v.job_id, ev.detail === 0));
    lane.append(bar);
  }
  const marker = h("div", { class: "tl-drop-at", "aria-hidden": "true" });
  lane.append(marker);
  const atHours = (clientX: number) => startH + (clientX - lane.getBoundingClientRect().left) / HOUR_PX;
  /** Show where a job carried over the lane at ``clientX`` would land; false on a day it cannot go to. */
  const hover = (clientX: number): boolean => {
    if (absent || tentative) return false;
    lane.classList.add("drop-target");
    const at = atHours(clientX);
    marker.style.left = `${px(at)}px`;
    marker.textContent = hhmm(at);
    return true;
  };
  const dropAt = (id: number, clientX: number) => {
    lane.classList.remove("drop-target");
    if (absent || tentative || !id) return;
    const at = atHours(clientX);
    f.o.o.onDrop({ jobId: id, techId: tech.id, position: dropPosition(placed, id, at), atHours: at });
  };
  lane.addEventListener("dragover", (ev) => {
    if (!ev.dataTransfer?.types.includes("text/x-job-id") || !hover(ev.clientX)) return;
    ev.preventDefault();
  });
  lane.addEventListener("dragleave", () => lane.classList.remove("drop-target"));
  lane.addEventListener("drop", (ev) => {
    ev.preventDefault();
    dropAt(Number(ev.dataTransfer?.getData("text/x-job-id")), ev.clientX);
  });
  // A finger carries jobs too (touch-drag.ts): the same hint and the same drop.
  dropZone(lane, { over: hover, leave: () => lane.classList.remove("drop-target"), drop: dropAt });
  const travel = mine.reduce((acc, s) => acc + s.travel_s, 0);
  const count = mine.length + planned.length;
  const summary = absent ? offWords(hrs, day === today)
    : `${count} job${count === 1 ? "" : "s"}${tentative ? " (tentative)" : ` · ${duration(travel)} driving`} · ${hhmm(hrs.start ?? 0)}–${hhmm(hrs.end ?? 0)}`;
  const el = h("div", { class: "tl-row", dataset: { techId: tech.id } },
    h("div", { class: "tl-name" },
      h("span", { class: "dot", style: { background: o.colour(tech.id) } }),
      h("span", { class: "tl-who" },
        h("button", { type: "button", class: "link tl-tech", onclick: () => f.o.o.onFocusTech(tech), title: `${tech.name}: show on map` }, tech.name),
        h("span", { class: "muted small tl-shift" }, summary)),
      tentative ? null : h("button", { type: "button", class: `small lock${locked ? " on" : ""}`, "aria-pressed": locked ? "true" : "false",
        title: locked ? "Day locked: re-plans keep it. Click to unlock." : "Lock this day so re-plans keep it",
        onclick: () => f.o.o.onLock(tech, !locked) }, locked ? "Locked" : "Lock")),
    lane);
  return { el, now: nowEl };
}

/** A bar's visit words, short, before the rest of its second line ("↩ Return for #12 · Day 2 of 3 · "). */
function visitSpan(tags: string[]): HTMLElement | null {
  return tags.length ? h("span", { class: "tl-visit" }, `${tags.map(shortTag).join(" · ")} · `) : null;
}

/** A bar's short form of a visit word: "Return visit for job #12 (part arrives Wed 9 Dec)" -> "↩ Return #12". */
function shortTag(tag: string): string {
  const back = /^Return visit for job #(\d+)/.exec(tag);
  if (back) return `↩ Return #${back[1]}`;
  return tag.replace(/ preferred$/, " pref.");
}
