// The technicians' day as a Gantt chart: one SVG row per technician, a bar per planned stop (travel before
// it in a lighter shade), the shift behind, plan-diff changes outlined. Rows accept dropped jobs.
import { h, mount, svg } from "./dom";
import { clock, duration, localHours, parseTime } from "./format";
import type { Job, Plan, PlanStop, Technician } from "./types";

export interface TimelineOptions {
  techs: Technician[];
  jobs: Job[];
  plan: Plan | null;
  highlighted: Set<number>;
  lockedIds: Set<number>;
  timezone: string;
  colour: (techId: number) => string;
  statusColours: Record<string, string>;
  onDropJob: (jobId: number, techId: number) => void;
  onStop: (stop: PlanStop) => void;
  onLock: (tech: Technician, locked: boolean) => void;
  onFocusTech: (tech: Technician) => void;
}

const ROW = 30;

function hoursOf(time: string): number {
  const [hh, mm] = time.split(":").map(Number);
  return hh + (mm || 0) / 60;
}

export function renderTimeline(el: HTMLElement, o: TimelineOptions): void {
  const stops = o.plan?.stops ?? [];
  let startH = 7;
  let endH = 19;
  for (const t of o.techs) {
    startH = Math.min(startH, Math.floor(hoursOf(t.shift_start)) - 1);
    endH = Math.max(endH, Math.ceil(hoursOf(t.shift_end)) + 1);
  }
  for (const s of stops) {
    const a = parseTime(s.arrival_at);
    const e = parseTime(s.end_at);
    if (a) startH = Math.min(startH, Math.floor(localHours(a, o.timezone) - s.travel_s / 3600));
    if (e) endH = Math.max(endH, Math.ceil(localHours(e, o.timezone)));
  }
  startH = Math.max(0, startH);
  endH = Math.min(24, Math.max(endH, startH + 4));
  const W = 1000;
  const x = (hours: number) => ((hours - startH) / (endH - startH)) * W;
  const jobsById = new Map(o.jobs.map((j) => [j.id, j]));

  const axis = svg("svg", { class: "tl-axis", viewBox: `0 0 ${W} 18`, preserveAspectRatio: "none", "aria-hidden": "true" });
  for (let hh = startH; hh <= endH; hh++) {
    axis.append(svg("text", { x: x(hh) + 2, y: 13, class: "tl-hour" }, `${String(hh).padStart(2, "0")}:00`));
  }
  const nowH = localHours(new Date(), o.timezone);

  const rows = o.techs.map((tech) => {
    const mine = stops.filter((s) => s.technician_id === tech.id).sort((a, b) => a.sequence - b.sequence);
    const chart = svg("svg", { class: "tl-chart", viewBox: `0 0 ${W} ${ROW}`, preserveAspectRatio: "none", role: "img",
      "aria-label": `${tech.name}: ${mine.length} stops` });
    chart.append(svg("rect", { x: x(hoursOf(tech.shift_start)), y: 2, width: x(hoursOf(tech.shift_end)) - x(hoursOf(tech.shift_start)),
      height: ROW - 4, class: "tl-shift" }));
    for (let hh = startH; hh <= endH; hh++) chart.append(svg("line", { x1: x(hh), x2: x(hh), y1: 0, y2: ROW, class: "tl-grid" }));
    if (nowH >= startH && nowH <= endH) chart.append(svg("line", { x1: x(nowH), x2: x(nowH), y1: 0, y2: ROW, class: "tl-now" }));
    const bars: HTMLElement[] = [];
    for (const s of mine) {
      const start = parseTime(s.start_at);
      const end = parseTime(s.end_at);
      const arrival = parseTime(s.arrival_at);
      if (!start || !end || !arrival) continue;
      const job = jobsById.get(s.job_id);
      const travelStart = localHours(arrival, o.timezone) - s.travel_s / 3600;
      chart.append(svg("rect", { x: x(travelStart), y: 11, width: Math.max(1, x(localHours(arrival, o.timezone)) - x(travelStart)),
        height: 8, class: "tl-travel", fill: o.colour(tech.id) }));
      const sx = x(localHours(start, o.timezone));
      const ex = x(localHours(end, o.timezone));
      const changed = o.highlighted.has(s.job_id);
      chart.append(svg("rect", { x: sx, y: 5, width: Math.max(2, ex - sx), height: ROW - 10, rx: 2,
        fill: o.statusColours[job?.status ?? "assigned"] ?? "#1565c0",
        class: `tl-stop${changed ? " tl-changed" : ""}${job?.pinned ? " tl-pinned" : ""}`, "data-job-id": s.job_id }));
      // The bars themselves are drawn in SVG; these overlaid buttons make each stop reachable by keyboard.
      const label = `${job?.title ?? `job ${s.job_id}`}: ${clock(start, o.timezone)}–${clock(end, o.timezone)}, travel ${duration(s.travel_s)}`
        + `${changed ? " (changed in this plan)" : ""}${job?.pinned ? " (pinned)" : ""}`;
      bars.push(h("button", { type: "button", class: `tl-hit${changed ? " changed" : ""}`, title: label, "aria-label": label,
        dataset: { jobId: s.job_id },
        style: { left: `${(sx / W) * 100}%`, width: `${Math.max(0.6, ((ex - sx) / W) * 100)}%` },
        onclick: () => o.onStop(s) }));
    }
    const locked = o.lockedIds.has(tech.id);
    const lane = h("div", { class: "tl-lane", dataset: { techId: tech.id } }, chart, bars);
    lane.addEventListener("dragover", (ev) => {
      if (ev.dataTransfer?.types.includes("text/x-job-id")) {
        ev.preventDefault();
        lane.classList.add("drop-target");
      }
    });
    lane.addEventListener("dragleave", () => lane.classList.remove("drop-target"));
    lane.addEventListener("drop", (ev) => {
      ev.preventDefault();
      lane.classList.remove("drop-target");
      const id = Number(ev.dataTransfer?.getData("text/x-job-id"));
      if (id) o.onDropJob(id, tech.id);
    });
    const travel = mine.reduce((acc, s) => acc + s.travel_s, 0);
    return h("div", { class: "tl-row", dataset: { techId: tech.id } },
      h("div", { class: "tl-name" },
        h("span", { class: "dot", style: { background: o.colour(tech.id) } }),
        h("button", { type: "button", class: "link tl-tech", onclick: () => o.onFocusTech(tech),
          title: `${tech.name}: show on map` }, tech.name),
        h("span", { class: "muted small" }, ` ${mine.length} · ${duration(travel)}`),
        h("button", { type: "button", class: `small lock${locked ? " on" : ""}`, "aria-pressed": locked ? "true" : "false",
          title: locked ? "Day locked: re-plans keep it. Click to unlock." : "Lock this day so re-plans keep it",
          onclick: () => o.onLock(tech, !locked) }, locked ? "Locked" : "Lock")),
      lane);
  });
  mount(el, h("div", { class: "tl-row tl-head" }, h("div", { class: "tl-name muted small" }, `Times in ${o.timezone}`), h("div", { class: "tl-lane" }, axis)), rows);
}
