// The dispatcher's job queue as data: search, filters, grouping and the order of rows (unit-tested in
// queue.test.ts). Pure functions over the loaded jobs: nothing here touches the DOM.
import { riskLabel, slackMinutes, titleCase, type RiskLevel } from "./format";
import type { Job, Technician } from "./types";

export const JOB_STATUSES = ["unassigned", "assigned", "en_route", "on_site", "completed", "unable", "cancelled"] as const;
export const OPEN_STATUSES = new Set(["unassigned", "assigned", "en_route", "on_site"]);

/** The planner's reason for a job no technician can do (routing/plan.py REASON_SKILL). */
export const REASON_SKILL = "no technician with the required skill";

export interface QueueFilter {
  /** Words that must all appear in the title, address, service, technician, reporting customer or the job id. */
  text: string;
  /** A job status, "open" (any not finished) or "all". */
  status: string;
  /** A service (job category) or "" for any. */
  category: string;
  /** "", "urgent" (8–10), "normal" (5–7) or "low" (1–4). */
  priority: string;
  /** "", "at_risk" (breached or under an hour to spare), or one risk level. */
  risk: string;
  /** "", "none" (nobody assigned) or a technician id. */
  tech: string;
  /** "" (anywhere) or "map" (inside the part of the city the map shows: pan and zoom to choose the area). */
  area?: string;
}

export const DEFAULT_FILTER: QueueFilter = { text: "", status: "unassigned", category: "", priority: "", risk: "", tech: "", area: "" };

/** A map's view: degrees, south-west and north-east corners. */
export interface Bounds {
  south: number;
  west: number;
  north: number;
  east: number;
}

export type GroupBy = "none" | "status" | "technician" | "service";

export type Row =
  | { kind: "group"; key: string; label: string; count: number; deadEnd: boolean }
  | { kind: "job"; job: Job; group: string };

export interface QueueContext {
  now: Date;
  techs: Technician[];
  /** The current plan's reason for each job it left out. */
  reasons: Map<number, string>;
  /** Job ids whose reporting customer matches the search words (found on the server). */
  customerHits?: Set<number>;
  /** The map's view, for the "map" area filter (without it that filter keeps every job). */
  bounds?: Bounds | null;
}

/** Whether any technician has every skill the job needs at its level. */
export function someoneCanDo(job: Pick<Job, "required_skills">, techs: Technician[]): boolean {
  const needs = Object.entries(job.required_skills ?? {});
  if (!needs.length) return true;
  return techs.some((t) => needs.every(([skill, level]) => (t.skills?.[skill] ?? 0) >= level));
}

/** An unassigned job nobody can do: the planner said so, or no technician has the skills. Such jobs wait for a
 * decision (a contractor, a skill to add), not for a plan: they are grouped apart, after the ones a plan can take. */
export function isDeadEnd(job: Job, ctx: Pick<QueueContext, "techs" | "reasons">): boolean {
  if (job.status !== "unassigned") return false;
  if ((ctx.reasons.get(job.id) ?? "").startsWith(REASON_SKILL)) return true;
  return ctx.techs.length > 0 && !someoneCanDo(job, ctx.techs);
}

export function riskOf(job: Job, now: Date): RiskLevel {
  return riskLabel(slackMinutes(job, now)).level;
}

function techName(id: number | null, techs: Technician[]): string {
  if (id === null) return "";
  return techs.find((t) => t.id === id)?.name ?? "";
}

/** The searchable text of a job (lower case). */
export function haystack(job: Job, techs: Technician[]): string {
  return [job.title, job.address ?? "", titleCase(job.category), job.category, techName(job.assigned_technician_id, techs),
    `#${job.id}`, job.description.slice(0, 300)].join("\n").toLowerCase();
}

export function words(text: string): string[] {
  return text.toLowerCase().split(/\s+/).filter(Boolean);
}

/** Whether the job matches the search words: each word in its text, or the job id ("123", "#123"), or the search as a
 * whole matched a customer who reported it. */
export function matchesText(job: Job, text: string, hay: string, customerHits?: Set<number>): boolean {
  const ws = words(text);
  if (!ws.length) return true;
  if (customerHits?.has(job.id)) return true;
  if (ws.length === 1 && /^#?\d+$/.test(ws[0])) return job.id === Number(ws[0].replace("#", "")) || hay.includes(ws[0]);
  return ws.every((w) => hay.includes(w));
}

export function matchesFilter(job: Job, f: QueueFilter, now: Date, bounds?: Bounds | null): boolean {
  if (f.area === "map" && bounds
    && !(job.lat >= bounds.south && job.lat <= bounds.north && job.lon >= bounds.west && job.lon <= bounds.east)) return false;
  if (f.status === "open") {
    if (!OPEN_STATUSES.has(job.status)) return false;
  } else if (f.status && f.status !== "all" && job.status !== f.status) return false;
  if (f.category && job.category !== f.category) return false;
  if (f.priority === "urgent" && job.priority < 8) return false;
  if (f.priority === "normal" && (job.priority < 5 || job.priority > 7)) return false;
  if (f.priority === "low" && job.priority > 4) return false;
  if (f.risk) {
    const level = riskOf(job, now);
    if (f.risk === "at_risk" ? level !== "breached" && level !== "high" : level !== f.risk) return false;
  }
  if (f.tech === "none" && job.assigned_technician_id !== null) return false;
  if (f.tech && f.tech !== "none" && job.assigned_technician_id !== Number(f.tech)) return false;
  return true;
}

const DEAD_END_KEY = "dead-end";

function groupOf(job: Job, by: GroupBy, techs: Technician[]): { key: string; label: string } {
  if (by === "status") return { key: job.status, label: titleCase(job.status) };
  if (by === "service") return { key: job.category, label: titleCase(job.category) };
  if (by === "technician") {
    if (job.assigned_technician_id === null) return { key: "none", label: "Nobody yet" };
    const name = techName(job.assigned_technician_id, techs);
    return { key: `t${job.assigned_technician_id}`, label: name || "A technician no longer listed" };
  }
  return { key: "all", label: "Jobs" };
}

/** The queue's rows: the matching jobs, most at risk first, in groups (by status, technician or service), with the
 * dead-end jobs in a group of their own at the end. `collapsed` groups keep their header (and count) only. */
export function queueRows(jobs: Job[], f: QueueFilter, by: GroupBy, ctx: QueueContext,
  hay: (job: Job) => string, collapsed: Set<string> = new Set()): { rows: Row[]; matched: Job[] } {
  const searching = words(f.text).length > 0; // the search text of each job is built only when searching
  const matched = jobs.filter((j) => matchesFilter(j, f, ctx.now, ctx.bounds)
    && (!searching || matchesText(j, f.text, hay(j), ctx.customerHits)));
  const groups = new Map<string, { label: string; jobs: Job[]; deadEnd: boolean }>();
  const dead: Job[] = [];
  for (const job of matched) {
    if (isDeadEnd(job, ctx)) {
      dead.push(job);
      continue;
    }
    const g = groupOf(job, by, ctx.techs);
    let entry = groups.get(g.key);
    if (!entry) groups.set(g.key, (entry = { label: g.label, jobs: [], deadEnd: false }));
    entry.jobs.push(job);
  }
  const ordered = [...groups.entries()].sort(([ka, a], [kb, b]) => {
    if (by === "status") return JOB_STATUSES.indexOf(ka as never) - JOB_STATUSES.indexOf(kb as never);
    if (by === "technician" && (ka === "none") !== (kb === "none")) return ka === "none" ? -1 : 1;
    return a.label.localeCompare(b.label);
  });
  if (dead.length) ordered.push([DEAD_END_KEY, { label: "Nobody can do these: no technician has the skills", jobs: dead, deadEnd: true }]);
  const rows: Row[] = [];
  const matchedInOrder: Job[] = [];
  for (const [key, g] of ordered) {
    const sorted = sortBySlaRisk(g.jobs, ctx.now);
    matchedInOrder.push(...sorted);
    if (by !== "none" || g.deadEnd) rows.push({ kind: "group", key, label: g.label, count: sorted.length, deadEnd: g.deadEnd });
    if (!collapsed.has(key)) for (const job of sorted) rows.push({ kind: "job", job, group: key });
  }
  return { rows, matched: matchedInOrder };
}

const dueCache = new WeakMap<Job, { due: string | null | undefined; ms: number | null }>();

/** The job's SLA due time (ms since the epoch), parsed once per job object and due time. */
function dueMs(job: Job): number | null {
  const hit = dueCache.get(job);
  if (hit && hit.due === job.sla_due_at) return hit.ms;
  const ms = job.sla_due_at ? new Date(job.sla_due_at).getTime() : NaN;
  const value = Number.isNaN(ms) ? null : ms;
  dueCache.set(job, { due: job.sla_due_at, ms: value });
  return value;
}

/** format.ts `bySlaRisk`'s order (least slack first, then higher priority, then older id; no SLA last) with each
 * job's slack computed once, not twice per comparison: the queue sorts thousands of jobs on every live change. */
export function sortBySlaRisk(jobs: Job[], now: Date): Job[] {
  const t = now.getTime();
  const keyed = jobs.map((job) => {
    const due = dueMs(job);
    return { job, slack: due === null ? null : (due - t) / 60000 - job.duration_min };
  });
  keyed.sort((a, b) => {
    if (a.slack === null && b.slack !== null) return 1;
    if (b.slack === null && a.slack !== null) return -1;
    if (a.slack !== null && b.slack !== null && a.slack !== b.slack) return a.slack - b.slack;
    if (a.job.priority !== b.job.priority) return b.job.priority - a.job.priority;
    return a.job.id - b.job.id;
  });
  return keyed.map((k) => k.job);
}

export interface QueueView {
  name: string;
  filter: QueueFilter;
  groupBy: GroupBy;
}

/** Views every dispatcher has; their own saved views come after these. */
export const BUILT_IN_VIEWS: QueueView[] = [
  { name: "Unassigned, most at risk first", filter: DEFAULT_FILTER, groupBy: "none" },
  { name: "At risk now (open jobs)", filter: { ...DEFAULT_FILTER, status: "open", risk: "at_risk" }, groupBy: "status" },
  { name: "Urgent (P8–10), by service", filter: { ...DEFAULT_FILTER, status: "open", priority: "urgent" }, groupBy: "service" },
  { name: "Open jobs by technician", filter: { ...DEFAULT_FILTER, status: "open" }, groupBy: "technician" },
];

const VIEWS_KEY = "groundcrew.queue-views";

/** The views this browser saved (newest last); nothing when storage is unavailable or holds something else. */
export function savedViews(storage: Pick<Storage, "getItem"> = localStorage): QueueView[] {
  try {
    const raw = JSON.parse(storage.getItem(VIEWS_KEY) ?? "[]") as unknown;
    if (!Array.isArray(raw)) return [];
    return raw.filter((v): v is QueueView => !!v && typeof v === "object" && typeof (v as QueueView).name === "string"
      && typeof (v as QueueView).filter === "object" && typeof (v as QueueView).groupBy === "string")
      .map((v) => ({ name: v.name.slice(0, 60), filter: { ...DEFAULT_FILTER, ...v.filter }, groupBy: v.groupBy }));
  } catch {
    return [];
  }
}

/** Save (or replace, by name) a view; at most 20 are kept. */
export function saveView(view: QueueView, storage: Pick<Storage, "getItem" | "setItem"> = localStorage): QueueView[] {
  const views = savedViews(storage).filter((v) => v.name !== view.name);
  views.push(view);
  const kept = views.slice(-20);
  storage.setItem(VIEWS_KEY, JSON.stringify(kept));
  return kept;
}

export function deleteView(name: string, storage: Pick<Storage, "getItem" | "setItem"> = localStorage): QueueView[] {
  const views = savedViews(storage).filter((v) => v.name !== name);
  storage.setItem(VIEWS_KEY, JSON.stringify(views));
  return views;
}
