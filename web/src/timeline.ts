// The schedule board: technicians × time for one day (tabs for the plan's days and the horizon's working days after
// today), a labelled bar per planned stop (job, customer, status, the arrival window the customer was told; a return
// visit and a multi-day visit's day said so), a window booked with the customer as a band behind its bar, the drive
// before it, that day's shift (weekly pattern), breaks, days off and absences shaded, locked days and pinned jobs
// marked; the horizon's tentative visits as dashed bars. Bars are dragged onto another technician or time; queue jobs
// are dropped onto a row; the drop time becomes the job's place in that technician's day (today's plan only).
import { h, mount } from "./dom";
import { clock, duration, formatter, km, localDay, localHours, parseTime, titleCase, windowWords } from "./format";
import type { Horizon, HorizonVisit, Job, Plan, Technician, TechnicianDay } from "./types";

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
    const d = parseTime(s.start_at);
    if (d) days.add(localDay(d, timeZone));
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

export function renderTimeline(el: HTMLElement, o: TimelineOptions): void {
  const now = new Date();
  const tz = o.timezone;
  const today = localDay(now, tz);
  const firm = planDays(o.plan, tz, now);
  const days = boardDays(o.plan, o.horizon, tz, now);
  const day = o.day !== null && days.includes(o.day) ? o.day : days.includes(today) ? today : days[0];
  // A day only the horizon plans: its visits are tentative (jobs are assigned on the day); no drops, no locks.
  const tentative = !firm.includes(day);
  const stops = (o.plan?.stops ?? []).filter((s) => {
    const d = parseTime(s.start_at);
    return d !== null && localDay(d, tz) === day;
  });
  const visits = day > today ? (o.horizon?.visits ?? []).filter((v) => dayNumber(v.day) === day) : [];
  const calendar = calendarOf(o.horizon);
  const hoursOfTech = new Map(o.techs.map((t) => [t.id, dayHours(t, day, today, calendar)]));
  let startH = 7;
  let endH = 19;
  for (const hrs of hoursOfTech.values()) {
    if (hrs.start === null || hrs.end === null) continue;
    startH = Math.min(startH, Math.floor(hrs.start) - 1);
    endH = Math.max(endH, Math.ceil(hrs.end) + 1);
  }
  for (const s of stops) {
    const a = parseTime(s.arrival_at);
    const e = parseTime(s.end_at);
    if (a) startH = Math.min(startH, Math.floor(localHours(a, tz) - s.travel_s / 3600));
    if (e) endH = Math.max(endH, Math.ceil(localHours(e, tz) + (localDay(e, tz) > day ? 24 : 0)));
  }
  for (const v of visits) {
    const a = parseTime(v.start_at);
    const e = parseTime(v.end_at);
    if (a) startH = Math.min(startH, Math.floor(localHours(a, tz)));
    if (e) endH = Math.max(endH, Math.ceil(localHours(e, tz)));
  }
  startH = Math.max(0, startH);
  endH = Math.min(24, Math.max(endH, startH + 4));
  const laneW = (endH - startH) * HOUR_PX;
  const px = (hours: number) => (hours - startH) * HOUR_PX;
  const jobsById = new Map(o.jobs.map((j) => [j.id, j]));
  const names = new Map(o.techs.map((t) => [t.id, t.name]));
  const nowH = day === today ? localHours(now, tz) : null;
  const hoursAt = (d: Date) => localHours(d, tz) + (localDay(d, tz) - day) * 24;
  /** A return visit and a multi-day visit's day in words, for a bar (the job's horizon part on this day, if any). */
  const visitOf = new Map(visits.map((v) => [v.job_id, v]));
  const tagsOf = (jobId: number) => visitWords(jobsById.get(jobId), { visit: visitOf.get(jobId), names, timeZone: tz });
  /** A bar's visit words: the preference left out on the preferred technician's own row (the bar says it already). */
  const barTags = (tags: string[], tech: Technician) => tags.filter((t) => t !== `${tech.name} preferred`);

  const axis = h("div", { class: "tl-lane tl-axis", "aria-hidden": "true", style: { width: `${laneW}px` } });
  for (let hh = startH; hh < endH; hh++) axis.append(h("span", { class: "tl-hour", style: { left: `${px(hh)}px` } }, `${String(hh).padStart(2, "0")}:00`));

  const rows = o.techs.map((tech) => {
    const mine = stops.filter((s) => s.technician_id === tech.id).sort((a, b) => a.sequence - b.sequence);
    const planned = visits.filter((v) => v.technician_id === tech.id).sort((a, b) => a.sequence - b.sequence);
    const locked = !tentative && o.lockedIds.has(tech.id);
    const hrs = hoursOfTech.get(tech.id)!;
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
    if (nowH !== null && nowH >= startH && nowH <= endH) lane.append(h("div", { class: "tl-now", title: `Now ${clock(now, tz)}`, style: { left: `${px(nowH)}px` } }));
    const placed: Array<{ job_id: number; startHours: number }> = [];
    for (const s of mine) {
      const start = parseTime(s.start_at);
      const end = parseTime(s.end_at);
      const arrival = parseTime(s.arrival_at);
      if (!start || !end || !arrival) continue;
      const job = jobsById.get(s.job_id);
      const aH = hoursAt(arrival);
      const sH = hoursAt(start);
      const eH = hoursAt(end);
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
      h("span", { class: "tl-bar-meta" }, visitSpan(barTags(tags, tech)), [customer, status, booked ?? `ETA ${windowText}`].filter(Boolean).join(" · ")));
      bar.addEventListener("click", (ev) => o.onSelect(s.job_id, ev.detail === 0));
      bar.addEventListener("keydown", (ev) => {
        if (ev.key === "m" || ev.key === "M") {
          ev.preventDefault();
          o.onMoveKey(s.job_id);
        }
      });
      bar.addEventListener("dragstart", (ev) => {
        ev.dataTransfer?.setData("text/x-job-id", String(s.job_id));
        ev.dataTransfer?.setData("text/plain", `job ${s.job_id}`);
        if (ev.dataTransfer) ev.dataTransfer.effectAllowed = "move";
        bar.classList.add("dragging");
      });
      bar.addEventListener("dragend", () => bar.classList.remove("dragging"));
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
      h("span", { class: "tl-bar-meta" }, visitSpan(barTags(tags, tech)), [customer, `tentative ${clock(start, tz)}–${clock(end, tz)}`].filter(Boolean).join(" · ")));
      bar.addEventListener("click", (ev) => o.onSelect(v.job_id, ev.detail === 0));
      lane.append(bar);
    }
    const marker = h("div", { class: "tl-drop-at", "aria-hidden": "true" });
    lane.append(marker);
    const atHours = (ev: DragEvent) => startH + (ev.clientX - lane.getBoundingClientRect().left) / HOUR_PX;
    lane.addEventListener("dragover", (ev) => {
      if (!ev.dataTransfer?.types.includes("text/x-job-id") || absent || tentative) return;
      ev.preventDefault();
      lane.classList.add("drop-target");
      const at = atHours(ev);
      marker.style.left = `${px(at)}px`;
      marker.textContent = hhmm(at);
    });
    lane.addEventListener("dragleave", () => lane.classList.remove("drop-target"));
    lane.addEventListener("drop", (ev) => {
      ev.preventDefault();
      lane.classList.remove("drop-target");
      if (absent || tentative) return;
      const id = Number(ev.dataTransfer?.getData("text/x-job-id"));
      if (!id) return;
      const at = atHours(ev);
      o.onDrop({ jobId: id, techId: tech.id, position: dropPosition(placed, id, at), atHours: at });
    });
    const travel = mine.reduce((acc, s) => acc + s.travel_s, 0);
    const count = mine.length + planned.length;
    const summary = absent ? offWords(hrs, day === today)
      : `${count} job${count === 1 ? "" : "s"}${tentative ? " (tentative)" : ` · ${duration(travel)} driving`} · ${hhmm(hrs.start ?? 0)}–${hhmm(hrs.end ?? 0)}`;
    return h("div", { class: "tl-row", dataset: { techId: tech.id } },
      h("div", { class: "tl-name" },
        h("span", { class: "dot", style: { background: o.colour(tech.id) } }),
        h("span", { class: "tl-who" },
          h("button", { type: "button", class: "link tl-tech", onclick: () => o.onFocusTech(tech), title: `${tech.name}: show on map` }, tech.name),
          h("span", { class: "muted small tl-shift" }, summary)),
        tentative ? null : h("button", { type: "button", class: `small lock${locked ? " on" : ""}`, "aria-pressed": locked ? "true" : "false",
          title: locked ? "Day locked: re-plans keep it. Click to unlock." : "Lock this day so re-plans keep it",
          onclick: () => o.onLock(tech, !locked) }, locked ? "Locked" : "Lock")),
      lane);
  });
  const tabs = days.length > 1
    ? h("div", { class: "board-days", role: "group", "aria-label": "Day shown" }, days.map((d) =>
      h("button", { type: "button", class: `small${firm.includes(d) ? "" : " tentative"}`, "aria-pressed": d === day ? "true" : "false",
        dataset: { day: isoDay(d) }, title: firm.includes(d) ? undefined : "Tentative: the horizon plan", onclick: () => o.onDay(d) },
      shortDay(d, tz, now))))
    : null;
  mount(el,
    h("div", { class: "board-head" }, h("h3", { class: "board-date", id: "board-date", dataset: { day, date: isoDay(day) } }, dayTitle(day, tz, now)), tabs,
      h("span", { class: "muted small" }, tentative
        ? `Tentative: the horizon plan for this day (jobs are assigned on the day). Times in ${tz}.`
        : `Times in ${tz}. Drag a bar to another row or time; or select it and press M.`)),
    h("div", { class: "board-scroll" },
      h("div", { class: "board-grid" },
        h("div", { class: "tl-row tl-head" }, h("div", { class: "tl-name muted small" }, "Technician"), axis),
        rows)));
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
