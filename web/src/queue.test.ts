import { describe, expect, it } from "vitest";
import { bySlaRisk } from "./format";
import { DEFAULT_FILTER, deleteView, haystack, isDeadEnd, matchesText, queueRows, REASON_SKILL, saveView, savedViews,
  someoneCanDo, sortBySlaRisk } from "./queue";
import type { Job, Technician } from "./types";

const now = new Date("2026-01-10T15:00:00Z");
let next = 1;
function job(over: Partial<Job> = {}): Job {
  const id = over.id ?? next++;
  return { id, title: `Job ${id}`, description: "", category: "roads", required_skills: {}, duration_min: 30, priority: 5,
    sla_due_at: null, lat: 0, lon: 0, address: "1 Main St", location_kind: null, location_confidence: null, status: "unassigned",
    assigned_technician_id: null, pinned: false, eta_at: null, created_at: now.toISOString(), updated_at: now.toISOString(),
    version: 1, reporter_count: 1, ...over };
}
const tech = (id: number, name: string, skills: Record<string, number>): Technician => ({ id, name, skills, home_lat: 0,
  home_lon: 0, shift_start: "08:00", shift_end: "16:00", availability: "available", current_lat: null, current_lon: null,
  last_seen_at: null });
const techs = [tech(1, "Ana Ruiz", { roads: 3 }), tech(2, "Tom Kowalski", { water: 2 })];

describe("dead-end jobs", () => {
  it("knows when no technician has the skills", () => {
    expect(someoneCanDo({ required_skills: { roads: 2 } }, techs)).toBe(true);
    expect(someoneCanDo({ required_skills: { roads: 4 } }, techs)).toBe(false);
    expect(someoneCanDo({ required_skills: { roads: 1, water: 1 } }, techs)).toBe(false);
  });
  it("takes the planner's reason too, and only for unassigned jobs", () => {
    const j = job();
    expect(isDeadEnd(j, { techs, reasons: new Map([[j.id, `${REASON_SKILL} (gas)`]]) })).toBe(true);
    expect(isDeadEnd(job({ required_skills: { gas: 1 }, status: "assigned" }), { techs, reasons: new Map() })).toBe(false);
  });
  it("groups them apart, after the jobs a plan can take, however urgent they are", () => {
    const dead = job({ required_skills: { gas: 1 }, priority: 10, sla_due_at: "2026-01-10T15:05:00Z" });
    const later = job({ sla_due_at: "2026-01-10T20:00:00Z" });
    const sooner = job({ sla_due_at: "2026-01-10T16:00:00Z" });
    const ctx = { now, techs, reasons: new Map<number, string>() };
    const { rows, matched } = queueRows([dead, later, sooner], DEFAULT_FILTER, "none", ctx, (j) => haystack(j, techs));
    expect(matched.map((j) => j.id)).toEqual([sooner.id, later.id, dead.id]);
    expect(rows.map((r) => (r.kind === "group" ? `group:${r.key}` : r.job.id))).toEqual([sooner.id, later.id, "group:dead-end", dead.id]);
  });
});

describe("search and filters", () => {
  const a = job({ title: "Pothole on Elm", address: "12 Elm St", category: "roads", priority: 9 });
  const b = job({ title: "Water leak", address: "3 Oak Ave", category: "water", status: "assigned", assigned_technician_id: 2 });
  const hay = (j: Job) => haystack(j, techs);
  it("matches every word, the job id and the technician's name", () => {
    expect(matchesText(a, "elm pothole", hay(a))).toBe(true);
    expect(matchesText(a, "elm leak", hay(a))).toBe(false);
    expect(matchesText(a, `#${a.id}`, hay(a))).toBe(true);
    expect(matchesText(b, "kowalski", hay(b))).toBe(true);
    expect(matchesText(b, "someone", hay(b), new Set([b.id]))).toBe(true);
  });
  it("filters by status, service, priority and technician, and groups by technician", () => {
    const ctx = { now, techs, reasons: new Map<number, string>() };
    const run = (f: Partial<typeof DEFAULT_FILTER>, by: "none" | "technician" = "none") =>
      queueRows([a, b], { ...DEFAULT_FILTER, ...f }, by, ctx, hay);
    expect(run({}).matched.map((j) => j.id)).toEqual([a.id]);
    expect(run({ status: "open" }).matched.length).toBe(2);
    expect(run({ status: "open", category: "water" }).matched.map((j) => j.id)).toEqual([b.id]);
    expect(run({ status: "all", priority: "urgent" }).matched.map((j) => j.id)).toEqual([a.id]);
    expect(run({ status: "all", tech: "2" }).matched.map((j) => j.id)).toEqual([b.id]);
    const groups = run({ status: "open" }, "technician").rows.filter((r) => r.kind === "group").map((r) => r.kind === "group" && r.label);
    expect(groups).toEqual(["Nobody yet", "Tom Kowalski"]);
  });
});

describe("saved views", () => {
  const store = () => {
    const m = new Map<string, string>();
    return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, v) };
  };
  it("keeps views by name, replaces one saved again, and forgets a deleted one", () => {
    const s = store();
    saveView({ name: "Water", filter: { ...DEFAULT_FILTER, category: "water" }, groupBy: "none" }, s);
    saveView({ name: "Mine", filter: { ...DEFAULT_FILTER, tech: "2" }, groupBy: "status" }, s);
    saveView({ name: "Water", filter: { ...DEFAULT_FILTER, category: "water", risk: "at_risk" }, groupBy: "service" }, s);
    expect(savedViews(s).map((v) => [v.name, v.filter.risk, v.groupBy])).toEqual([["Mine", "", "status"], ["Water", "at_risk", "service"]]);
    expect(deleteView("Mine", s).map((v) => v.name)).toEqual(["Water"]);
  });
  it("ignores storage that holds something else", () => {
    const s = store();
    s.setItem("groundcrew.queue-views", "{not json");
    expect(savedViews(s)).toEqual([]);
    s.setItem("groundcrew.queue-views", JSON.stringify([{ name: 3 }, "x", { name: "ok", filter: {}, groupBy: "none" }]));
    expect(savedViews(s).map((v) => v.filter.status)).toEqual(["unassigned"]);
  });
});

describe("the queue's order at volume", () => {
  it("is format.ts bySlaRisk's order, each job's slack computed once", () => {
    const jobs = Array.from({ length: 300 }, (_, i) => job({
      priority: 1 + (i * 7) % 10, duration_min: [20, 30, 45][i % 3],
      // Some share a due time (then priority, then id decide), some have none (last), one is unreadable (none too).
      sla_due_at: i % 11 === 0 ? null : i === 5 ? "not a time" : new Date(now.getTime() + ((i * 37) % 50) * 600_000).toISOString(),
    }));
    expect(sortBySlaRisk(jobs, now).map((j) => j.id)).toEqual(bySlaRisk(jobs, now).map((j) => j.id));
  });
  it("reads a job's new due time (a live change replaces it)", () => {
    const a = job({ sla_due_at: "2026-01-10T18:00:00Z" });
    const b = job({ sla_due_at: "2026-01-10T17:00:00Z" });
    expect(sortBySlaRisk([a, b], now)).toEqual([b, a]);
    a.sla_due_at = "2026-01-10T16:00:00Z";
    expect(sortBySlaRisk([a, b], now)).toEqual([a, b]);
  });
  it("does not build a job's search text when nothing is searched", () => {
    let built = 0;
    const ctx = { now, techs, reasons: new Map<number, string>() };
    queueRows([job(), job()], DEFAULT_FILTER, "none", ctx, (j) => { built += 1; return haystack(j, techs); });
    expect(built).toBe(0);
    const { matched } = queueRows([job({ title: "Pothole" }), job()], { ...DEFAULT_FILTER, text: "pothole" }, "none", ctx,
      (j) => { built += 1; return haystack(j, techs); });
    expect(built).toBe(2);
    expect(matched.map((j) => j.title)).toEqual(["Pothole"]);
  });
});

describe("the area filter", () => {
  it("keeps the jobs inside the map's view, and every job without a view", () => {
    const inside = job({ lat: 39.29, lon: -76.6 });
    const outside = job({ lat: 39.35, lon: -76.6 });
    const ctx = { now, techs, reasons: new Map<number, string>() };
    const view = { south: 39.28, west: -76.62, north: 39.3, east: -76.58 };
    const area = { ...DEFAULT_FILTER, area: "map" };
    expect(queueRows([inside, outside], area, "none", { ...ctx, bounds: view }, (j) => haystack(j, techs)).matched)
      .toEqual([inside]);
    expect(queueRows([inside, outside], area, "none", ctx, (j) => haystack(j, techs)).matched).toHaveLength(2);
    expect(queueRows([inside, outside], DEFAULT_FILTER, "none", { ...ctx, bounds: view }, (j) => haystack(j, techs))
      .matched).toHaveLength(2);
  });
});
