// The schedule board: technicians × time for one day (tabs when the plan spans several), a labelled bar per planned
// stop (job, customer, status, the arrival window the customer was told), a window booked with the customer as a band
// behind its bar, the drive before it, the shift, breaks and
// absences shaded, locked days and pinned jobs marked. Bars are dragged onto another technician or time; queue jobs
// are dropped onto a row; the drop time becomes the job's place in that technician's day.
import { h, mount } from "./dom";
import { clock, duration, formatter, km, localDay, localHours, parseTime, titleCase, windowWords } from "./format";
import type { Job, Plan, Technician } from "./types";

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
  const days = planDays(o.plan, tz, now);
  const today = localDay(now, tz);
  const day = o.day !== null && days.includes(o.day) ? o.day : days.includes(today) ? today : days[0];
  const stops = (o.plan?.stops ?? []).filter((s) => {
    const d = parseTime(s.start_at);
    return d !== null && localDay(d, tz) === day;
  });
  let startH = 7;
  let endH = 19;
  for (const t of o.techs) {
    startH = Math.min(startH, Math.floor(hoursOf(t.shift_start)) - 1);
    endH = Math.max(endH, Math.ceil(hoursOf(t.shift_end)) + 1);
  }
  for (const s of stops) {
    const a = parseTime(s.arrival_at);
    const e = parseTime(s.end_at);
    if (a) startH = Math.min(startH, Math.floor(localHours(a, tz) - s.travel_s / 3600));
    if (e) endH = Math.max(endH, Math.ceil(localHours(e, tz) + (localDay(e, tz) > day ? 24 : 0)));
  }
  startH = Math.max(0, startH);
  endH = Math.min(24, Math.max(endH, startH + 4));
  const laneW = (endH - startH) * HOUR_PX;
  const px = (hours: number) => (hours - startH) * HOUR_PX;
  const jobsById = new Map(o.jobs.map((j) => [j.id, j]));
  const nowH = day === today ? localHours(now, tz) : null;
  const hoursAt = (d: Date) => localHours(d, tz) + (localDay(d, tz) - day) * 24;

  const axis = h("div", { class: "tl-lane tl-axis", "aria-hidden": "true", style: { width: `${laneW}px` } });
  for (let hh = startH; hh < endH; hh++) axis.append(h("span", { class: "tl-hour", style: { left: `${px(hh)}px` } }, `${String(hh).padStart(2, "0")}:00`));

  const rows = o.techs.map((tech) => {
    const mine = stops.filter((s) => s.technician_id === tech.id).sort((a, b) => a.sequence - b.sequence);
    const locked = o.lockedIds.has(tech.id);
    const absent = tech.availability !== "on_shift";
    const lane = h("div", { class: `tl-lane${locked ? " locked" : ""}${absent ? " absent" : ""}`, dataset: { techId: tech.id },
      style: { width: `${laneW}px` } });
    const s0 = hoursOf(tech.shift_start);
    const s1 = hoursOf(tech.shift_end);
    lane.append(h("div", { class: "tl-off", title: `${tech.name} starts at ${tech.shift_start.slice(0, 5)}`, style: { left: "0", width: `${Math.max(0, px(s0))}px` } }));
    lane.append(h("div", { class: "tl-off", title: `${tech.name}'s shift ends at ${tech.shift_end.slice(0, 5)}`,
      style: { left: `${px(s1)}px`, width: `${Math.max(0, laneW - px(s1))}px` } }));
    for (const b of tech.breaks ?? []) {
      const from = hoursOf(b.earliest);
      const to = hoursOf(b.latest) + b.duration_min / 60;
      lane.append(h("div", { class: "tl-break", title: `Break of ${b.duration_min} min, starting between ${b.earliest.slice(0, 5)} and ${b.latest.slice(0, 5)}`,
        style: { left: `${px(from)}px`, width: `${px(to) - px(from)}px` } }, px(to) - px(from) > 50 ? `break ${b.duration_min} min` : ""));
    }
    if (absent) lane.append(h("div", { class: "tl-absent-label" }, `${titleCase(tech.availability)} — not available today`));
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
      const label = `Job ${s.job_id}: ${title}${customer ? `, for ${customer}` : ""}. ${status}, ${tech.name}, `
        + `working ${clock(start, tz)}–${clock(end, tz)}, customer told ${windowText}, drive ${duration(s.travel_s)} before it`
        + `${booked ? `, ${booked} with the customer${kept ? "" : " (the plan arrives after it)"}` : ""}`
        + `${pinned ? ". Pinned by a dispatcher" : ""}${locked ? ". Day locked" : ""}${changed ? ". Changed in this plan" : ""}.`;
      const bar = h("button", { type: "button",
        class: `tl-hit tl-bar${changed ? " changed" : ""}${pinned ? " pinned" : ""}${booked ? " booked" : ""}${kept ? "" : " off-booking"}`
          + `${o.selectedJobId === s.job_id ? " selected" : ""}`,
        draggable: locked || job?.status !== "assigned" ? "false" : "true", title: label, // the name is the visible label; the rest, its description
        "aria-pressed": o.selectedJobId === s.job_id ? "true" : "false", "aria-keyshortcuts": "M",
        dataset: { jobId: s.job_id, techId: tech.id },
        style: { left: `${px(sH)}px`, width: `${Math.max(6, px(eH) - px(sH))}px`,
          borderLeftColor: o.statusColours[job?.status ?? "assigned"] ?? "#1565c0" } },
      h("span", { class: "tl-bar-title" }, pinned ? h("span", { class: "tl-pin", "aria-hidden": "true" }, "PIN") : null, `#${s.job_id} ${title}`),
      h("span", { class: "tl-bar-meta" }, [customer, status, booked ?? `ETA ${windowText}`].filter(Boolean).join(" · ")));
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
    const marker = h("div", { class: "tl-drop-at", "aria-hidden": "true" });
    lane.append(marker);
    const atHours = (ev: DragEvent) => startH + (ev.clientX - lane.getBoundingClientRect().left) / HOUR_PX;
    lane.addEventListener("dragover", (ev) => {
      if (!ev.dataTransfer?.types.includes("text/x-job-id") || absent) return;
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
      const id = Number(ev.dataTransfer?.getData("text/x-job-id"));
      if (!id) return;
      const at = atHours(ev);
      o.onDrop({ jobId: id, techId: tech.id, position: dropPosition(placed, id, at), atHours: at });
    });
    const travel = mine.reduce((acc, s) => acc + s.travel_s, 0);
    return h("div", { class: "tl-row", dataset: { techId: tech.id } },
      h("div", { class: "tl-name" },
        h("span", { class: "dot", style: { background: o.colour(tech.id) } }),
        h("span", { class: "tl-who" },
          h("button", { type: "button", class: "link tl-tech", onclick: () => o.onFocusTech(tech), title: `${tech.name}: show on map` }, tech.name),
          h("span", { class: "muted small" }, absent ? titleCase(tech.availability)
            : `${mine.length} job${mine.length === 1 ? "" : "s"} · ${duration(travel)} driving · until ${tech.shift_end.slice(0, 5)}`)),
        h("button", { type: "button", class: `small lock${locked ? " on" : ""}`, "aria-pressed": locked ? "true" : "false",
          title: locked ? "Day locked: re-plans keep it. Click to unlock." : "Lock this day so re-plans keep it",
          onclick: () => o.onLock(tech, !locked) }, locked ? "Locked" : "Lock")),
      lane);
  });
  const tabs = days.length > 1
    ? h("div", { class: "board-days", role: "group", "aria-label": "Day shown" }, days.map((d) =>
      h("button", { type: "button", class: "small", "aria-pressed": d === day ? "true" : "false", onclick: () => o.onDay(d) },
        shortDay(d, tz, now))))
    : null;
  mount(el,
    h("div", { class: "board-head" }, h("h3", { class: "board-date", id: "board-date", dataset: { day } }, dayTitle(day, tz, now)), tabs,
      h("span", { class: "muted small" }, `Times in ${tz}. Drag a bar to another row or time; or select it and press M.`)),
    h("div", { class: "board-scroll" },
      h("div", { class: "board-grid" },
        h("div", { class: "tl-row tl-head" }, h("div", { class: "tl-name muted small" }, "Technician"), axis),
        rows)));
}
