// Live changes applied to the console's copy of the day (unit-tested in live-delta.test.ts): a live plan change's
// `plan.created` carries its delta (server/plans/writer.py `_plan_delta`): the whole days of the technicians whose day
// differs, and the unassigned list's changes. Pure functions over the data: nothing here touches the DOM or the network.
import type { Job, Plan, PlanStop } from "./types";

/** `plan.created`'s `delta` (absent for a whole day's solve: that plan is read afresh). */
export interface PlanDelta {
  /** The version this delta applies to: a console holding any other reads the plan afresh. */
  previous_version: number;
  /** The technicians whose day differs: their stops are `stops`; every other technician's are unchanged. */
  technicians: number[];
  stops: PlanStop[];
  /** Jobs now unassigned, or unassigned for another reason. */
  unassigned_added: Array<Record<string, unknown>>;
  /** Jobs no longer unassigned. */
  unassigned_removed: number[];
  /** The new version's counts: a patched copy with other counts is not the server's, and is read afresh. */
  stops_total: number;
  unassigned_total: number;
  /** The plan's own fields (version, trigger, created_at, stats, diff, ...). */
  plan: Omit<Plan, "stops" | "unassigned">;
}

export function isPlanDelta(value: unknown): value is PlanDelta {
  const d = value as PlanDelta | null | undefined;
  return !!d && typeof d === "object" && typeof d.previous_version === "number" && Array.isArray(d.technicians)
    && Array.isArray(d.stops) && Array.isArray(d.unassigned_added) && Array.isArray(d.unassigned_removed)
    && typeof d.stops_total === "number" && typeof d.unassigned_total === "number" && !!d.plan
    && typeof d.plan.version === "number";
}

/** The plan after a live change, from the one held and the change's delta; null when the delta does not apply to it
 * (a version was missed, or the patched copy's counts are not the server's): then the plan is read afresh. The plan
 * held is not changed. Stops stay ordered by technician, then sequence (as GET /plans/current orders them). */
export function patchPlan(plan: Plan | null, delta: PlanDelta): Plan | null {
  if (!plan || plan.version !== delta.previous_version) return null;
  const techs = new Set(delta.technicians);
  const moved = new Set(delta.stops.map((s) => s.job_id));
  const stops = plan.stops.filter((s) => !techs.has(s.technician_id) && !moved.has(s.job_id)).concat(delta.stops)
    .sort((a, b) => a.technician_id - b.technician_id || a.sequence - b.sequence);
  if (stops.length !== delta.stops_total) return null;
  const replaced = new Set<number>([...delta.unassigned_removed, ...delta.unassigned_added.map((u) => Number(u.job_id))]);
  const unassigned = plan.unassigned.filter((u) => !replaced.has(Number(u.job_id))).concat(delta.unassigned_added);
  if (unassigned.length !== delta.unassigned_total) return null;
  return { ...plan, ...delta.plan, stops, unassigned };
}

/** One technician's route on the streets (GET /map/routes). */
export interface RouteFeature {
  geometry: { type: "MultiLineString"; coordinates: number[][][] };
  properties: { technician_id: number; plan_version?: number };
}

export interface RoutesGeo {
  type: "FeatureCollection";
  plan_version: number;
  features: RouteFeature[];
}

/** The routes with those of `technicians` replaced by `fresh` (GET /map/routes?technicians=…: a technician with no
 * stop left has no feature there, and loses theirs). An answer older than the routes held changes nothing (two live
 * changes in a row can be answered out of order). Returns the technicians whose line changed. */
export function patchRoutes(routes: RoutesGeo, technicians: number[], fresh: RoutesGeo): Set<number> {
  const changed = new Set<number>();
  if (fresh.plan_version < routes.plan_version) return changed;
  const asked = new Set(technicians);
  const kept = routes.features.filter((f) => !asked.has(f.properties.technician_id));
  for (const f of routes.features) if (asked.has(f.properties.technician_id)) changed.add(f.properties.technician_id);
  for (const f of fresh.features) {
    if (!asked.has(f.properties.technician_id)) continue;
    kept.push(f);
    changed.add(f.properties.technician_id);
  }
  routes.features = kept;
  routes.plan_version = fresh.plan_version;
  return changed;
}

/** What the schedule board draws of a job (timeline.ts: the bar's title, status colour, pin, booked band; the row it
 * is on): a change to anything else (priority, duration, description, SLA) leaves the board as it is. */
const BOARD_FIELDS = ["title", "status", "pinned", "booked_start", "booked_end", "assigned_technician_id"] as const;

export function boardChanged(before: Job | undefined, after: Job): boolean {
  if (!before) return true;
  return BOARD_FIELDS.some((k) => (before[k] ?? null) !== (after[k] ?? null));
}

/** What a map marker shows of a job beside its style: where it is, and whether it counts as urgent in a cluster. */
export function markerMoved(before: Job, after: Job): boolean {
  return before.lat !== after.lat || before.lon !== after.lon || (before.priority >= 8) !== (after.priority >= 8);
}
