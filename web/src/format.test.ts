import { describe, expect, it } from "vitest";
import { bySlaRisk, duration, localHours, riskLabel, slackMinutes } from "./format";

const now = new Date("2026-01-10T15:00:00Z");
const job = (id: number, due: string | null, priority = 5, duration_min = 30) => ({ id, sla_due_at: due, priority, duration_min });

describe("SLA risk", () => {
  it("computes slack as time to the SLA minus the work", () => {
    expect(slackMinutes(job(1, "2026-01-10T16:00:00Z"), now)).toBe(30);
    expect(slackMinutes(job(1, null), now)).toBeNull();
  });
  it("sorts least slack first, then priority, and puts jobs without SLA last", () => {
    const sorted = bySlaRisk([job(1, null, 9), job(2, "2026-01-10T18:00:00Z"), job(3, "2026-01-10T15:10:00Z"),
      job(4, "2026-01-10T18:00:00Z", 8)], now);
    expect(sorted.map((j) => j.id)).toEqual([3, 4, 2, 1]);
  });
  it("labels breaches", () => {
    expect(riskLabel(-20).level).toBe("breached");
    expect(riskLabel(30).level).toBe("high");
    expect(riskLabel(null).level).toBe("none");
  });
});

describe("formatting", () => {
  it("formats durations", () => {
    expect(duration(45)).toBe("45 s");
    expect(duration(720)).toBe("12 min");
    expect(duration(3900)).toBe("1 h 05 min");
    expect(duration(3 * 86400)).toBe("3 days");
  });
  it("reads local hours in a time zone", () => {
    expect(localHours(new Date("2026-01-10T15:30:00Z"), "America/New_York")).toBe(10.5);
  });
});
