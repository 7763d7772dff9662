import { describe, expect, it } from "vitest";
import { bookingWarnings, ordinal, previewWords } from "./preview";
import type { OverridePreview } from "./dispatch-api";
import type { Job, Plan, Technician } from "./types";

const tech = (id: number, name: string) => ({ id, name }) as Technician;
const job = (id: number, title: string, status = "assigned") => ({ id, title, status }) as Job;
const stop = (job_id: number, technician_id: number, arrival_at: string) =>
  ({ job_id, technician_id, arrival_at, start_at: arrival_at, end_at: arrival_at, sequence: 0, travel_s: 0, wait_s: 0, distance_m: 0 });

describe("cost preview in words", () => {
  // Job 10 moves from Ana (1) to Ben (2): Ana's job 11 comes 20 min earlier, Ben's job 12 30 min later and job 13
  // 5 min later (under the 10-minute notice margin: its customer is not told again).
  const plan = { stops: [stop(10, 1, "2026-01-10T14:00:00Z"), stop(11, 1, "2026-01-10T15:00:00Z"),
    stop(12, 2, "2026-01-10T16:00:00Z"), stop(13, 2, "2026-01-10T17:00:00Z")] } as unknown as Plan;
  const p = { action: "assign", feasible: true, added_travel_s: 660, added_lateness_s: 0, added_overtime_s: 0,
    sla_at_risk: [], sla_newly_at_risk: [], affected_technicians: [1, 2], notes: [], elapsed_ms: 3,
    etas: { 10: "2026-01-10T15:40:00Z", 11: "2026-01-10T14:40:00Z", 12: "2026-01-10T16:30:00Z", 13: "2026-01-10T17:05:00Z" },
  } as unknown as OverridePreview;
  const words = previewWords(p, 10, [job(10, "Pothole"), job(11, "Light"), job(12, "Sign"), job(13, "Drain")],
    [tech(1, "Ana Ruiz"), tech(2, "Ben Ode")], plan, "Ben Ode", new Map([[12, "Jo Bloggs"]]));

  it("says what changes for whom, in minutes", () => {
    expect(words.summary[0]).toMatch(/^Giving it to Ben Ode adds 11 min of driving; Ben Ode would arrive /);
    expect(words.summary).toContain("Ana Ruiz gives up this job; 1 of their other jobs moves: 1 earlier (up to 20 min).");
    expect(words.summary).toContain("Ben Ode takes this job; 2 of their other jobs move: 2 later (up to 30 min).");
    expect(words.summary.join(" ")).not.toMatch(/technician \d|cost/);
  });
  it("names the customers who will be told a new arrival time (moves over the notice margin only)", () => {
    expect(words.newEta.map((j) => j.id).sort()).toEqual([11, 12]);
    expect(words.newEtaNames).toContain("Jo Bloggs (#12 Sign)");
  });
  it("orders places in a day", () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22].map(ordinal)).toEqual(["1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd"]);
  });
});

describe("booked windows in the cost preview", () => {
  const now = new Date("2026-01-10T12:00:00Z");
  const p = { action: "assign", feasible: true, added_travel_s: 0, added_lateness_s: 0, added_overtime_s: 0, sla_at_risk: [],
    sla_newly_at_risk: [], affected_technicians: [2], notes: [], elapsed_ms: 1, etas: {},
    booked_windows: [
      { job_id: 12, start: "2026-01-13T15:00:00Z", end: "2026-01-13T17:00:00Z", eta: "2026-01-13T17:40:00Z", breaks: true, customer: "Jo Bloggs" },
      { job_id: 13, start: "2026-01-10T15:00:00Z", end: "2026-01-10T17:00:00Z", eta: "2026-01-10T15:20:00Z", breaks: false, customer: null },
      { job_id: 14, start: "2026-01-10T18:00:00Z", end: "2026-01-10T20:00:00Z", eta: "2026-01-10T20:10:00Z", breaks: true, customer: null },
    ] } as unknown as OverridePreview;
  it("names each broken window, its customer, its day when not today, and the new arrival", () => {
    const lines = bookingWarnings(p, [job(14, "Drain")], "America/New_York", now);
    expect(lines).toEqual([
      "Breaks the booked window of Jo Bloggs (Tue 13 Jan 10:00–12:00): new arrival Tue 13 Jan 12:40.",
      "Breaks the booked window of job #14 Drain (13:00–15:00): new arrival 15:10.",
    ]);
  });
  it("says nothing for windows kept, or for a server that does not report them", () => {
    expect(bookingWarnings({ ...p, booked_windows: [p.booked_windows![1]] }, [], "UTC", now)).toEqual([]);
    expect(bookingWarnings({ ...p, booked_windows: undefined }, [], "UTC", now)).toEqual([]);
  });
});
