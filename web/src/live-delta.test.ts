import { describe, expect, it } from "vitest";
import { boardChanged, isPlanDelta, markerMoved, patchPlan, patchRoutes, type PlanDelta, type RoutesGeo } from "./live-delta";
import type { Job, Plan, PlanStop } from "./types";

const stop = (technician_id: number, job_id: number, sequence: number, arrival = "2026-01-10T09:00:00Z"): PlanStop => ({
  technician_id, job_id, sequence, arrival_at: arrival, start_at: arrival, end_at: arrival, travel_s: 60, wait_s: 0,
  distance_m: 500,
});

function plan(version: number, stops: PlanStop[], unassigned: Array<Record<string, unknown>> = []): Plan {
  return { id: version, version, status: "active", trigger: "solve", day: "2026-01-10", created_at: "2026-01-10T08:00:00Z",
    objective: {}, stats: {}, diff: {}, unassigned, stops };
}

/** Tech 1 does jobs 10, 11; tech 2 does 20; tech 3 does 30. Jobs 40 and 41 wait. */
const held = () => plan(4, [stop(1, 10, 0), stop(1, 11, 1), stop(2, 20, 0), stop(3, 30, 0)],
  [{ job_id: 40, reason: "not assigned yet" }, { job_id: 41, reason: "no technician with the required skill" }]);

/** Job 11 moves from tech 1 to tech 2 (after 20), job 40 goes to tech 3, job 30 waits again. */
function delta(over: Partial<PlanDelta> = {}): PlanDelta {
  return {
    previous_version: 4, technicians: [1, 2, 3],
    stops: [stop(1, 10, 0, "2026-01-10T08:30:00Z"), stop(2, 20, 0), stop(2, 11, 1), stop(3, 40, 0)],
    unassigned_added: [{ job_id: 30, reason: "not assigned yet" }], unassigned_removed: [40],
    stops_total: 4, unassigned_total: 2,
    plan: { id: 5, version: 5, status: "active", trigger: "override: assign", day: "2026-01-10",
      created_at: "2026-01-10T10:00:00Z", objective: { cost: 1 }, stats: { changed_technicians: [2, 3] },
      diff: { previous_version: 4, moved: [{ job_id: 11, from: 1, to: 2 }], eta_changed: [] } },
    ...over,
  };
}

describe("a live plan change patched into the plan held", () => {
  it("replaces the named technicians' days, the unassigned jobs' changes and the plan's own fields", () => {
    const was = held();
    const now = patchPlan(was, delta())!;
    expect(now.version).toBe(5);
    expect(now.trigger).toBe("override: assign");
    expect(now.diff).toEqual(delta().plan.diff);
    expect(now.stops.map((s) => [s.technician_id, s.job_id, s.sequence])).toEqual([[1, 10, 0], [2, 20, 0], [2, 11, 1], [3, 40, 0]]);
    expect(now.stops[0].arrival_at).toBe("2026-01-10T08:30:00Z");
    expect(now.unassigned.map((u) => u.job_id).sort()).toEqual([30, 41]);
    // The plan held is not changed (a render still drawing it sees it whole).
    expect(was.version).toBe(4);
    expect(was.stops).toHaveLength(4);
  });

  it("keeps the days of technicians it does not name as they were", () => {
    const was = plan(4, [stop(1, 10, 0), stop(2, 20, 0), stop(2, 21, 1), stop(3, 30, 0)]);
    const now = patchPlan(was, delta({ technicians: [1], stops: [stop(1, 10, 0), stop(1, 12, 1)], unassigned_added: [],
      unassigned_removed: [], stops_total: 5, unassigned_total: 0 }))!;
    expect(now.stops.filter((s) => s.technician_id !== 1)).toEqual(was.stops.filter((s) => s.technician_id !== 1));
  });

  it("does not apply after a missed version: the plan is read afresh", () => {
    expect(patchPlan(plan(3, held().stops, held().unassigned), delta())).toBeNull();
    expect(patchPlan(plan(5, held().stops, held().unassigned), delta())).toBeNull();
    expect(patchPlan(null, delta())).toBeNull();
  });

  it("does not apply when the patched copy's counts are not the server's", () => {
    expect(patchPlan(held(), delta({ stops_total: 5 }))).toBeNull(); // e.g. a finished job's stop the server dropped
    expect(patchPlan(held(), delta({ unassigned_total: 3 }))).toBeNull();
  });

  it("takes a job's new reason for waiting in place of the old one", () => {
    const now = patchPlan(held(), delta({ technicians: [], stops: [], stops_total: 4, unassigned_removed: [],
      unassigned_added: [{ job_id: 40, reason: "no technician with the required skill" }], unassigned_total: 2 }))!;
    expect(now.unassigned.filter((u) => u.job_id === 40)).toEqual([{ job_id: 40, reason: "no technician with the required skill" }]);
  });

  it("recognises a delta, and nothing else, as one", () => {
    expect(isPlanDelta(delta())).toBe(true);
    expect(isPlanDelta(null)).toBe(false);
    expect(isPlanDelta({ ...delta(), stops: null })).toBe(false);
    expect(isPlanDelta({ ...delta(), previous_version: "4" })).toBe(false);
  });
});

describe("routes patched for the technicians of a live change", () => {
  const line = (tid: number, version: number, x = 0) => ({ geometry: { type: "MultiLineString" as const, coordinates: [[[x, 0], [x, 1]]] },
    properties: { technician_id: tid, plan_version: version } });
  const routes = (): RoutesGeo => ({ type: "FeatureCollection", plan_version: 4, features: [line(1, 4), line(2, 4), line(3, 4)] });

  it("replaces the lines of the technicians asked for, drops those with no day left, keeps the others", () => {
    const held = routes();
    const changed = patchRoutes(held, [2, 3], { type: "FeatureCollection", plan_version: 5, features: [line(2, 5, 9)] });
    expect([...changed].sort()).toEqual([2, 3]);
    expect(held.plan_version).toBe(5);
    expect(held.features.map((f) => [f.properties.technician_id, f.properties.plan_version])).toEqual([[1, 4], [2, 5]]);
    expect(held.features[1].geometry.coordinates[0][0][0]).toBe(9);
  });

  it("ignores an answer older than the routes held", () => {
    const held = routes();
    held.plan_version = 6;
    expect(patchRoutes(held, [2], { type: "FeatureCollection", plan_version: 5, features: [line(2, 5, 9)] }).size).toBe(0);
    expect(held.features.map((f) => f.properties.plan_version)).toEqual([4, 4, 4]);
  });
});

describe("what a job change redraws", () => {
  const base = { id: 1, title: "Pothole", status: "assigned", pinned: false, booked_start: null, booked_end: null,
    assigned_technician_id: 2, priority: 5, lat: 1, lon: 2, duration_min: 30 } as unknown as Job;

  it("the board only for what the board draws of it", () => {
    expect(boardChanged(base, { ...base, priority: 9, duration_min: 45, description: "deeper" })).toBe(false);
    expect(boardChanged(base, { ...base, title: "Deep pothole" })).toBe(true);
    expect(boardChanged(base, { ...base, status: "en_route" })).toBe(true);
    expect(boardChanged(base, { ...base, booked_start: "2026-01-10T09:00:00Z" })).toBe(true);
    expect(boardChanged(undefined, base)).toBe(true);
  });

  it("the map's clusters only when it moved or became (or stopped being) urgent", () => {
    expect(markerMoved(base, { ...base, priority: 7 })).toBe(false);
    expect(markerMoved(base, { ...base, priority: 8 })).toBe(true);
    expect(markerMoved(base, { ...base, lat: 1.001 })).toBe(true);
  });
});
