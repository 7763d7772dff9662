import { describe, expect, it } from "vitest";
import { bySlaRisk, clock, duration, formatter, humanize, localHours, riskLabel, slackMinutes, when } from "./format";

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

describe("dates with times", () => {
  const tz = "America/New_York";
  const at = new Date("2026-01-10T15:00:00Z"); // 10:00 in New York, Saturday 10 January
  it("shows only the time today, in the service area's zone", () => {
    expect(when("2026-01-10T19:32:00Z", tz, at)).toBe("14:32");
    expect(when("2026-01-11T04:30:00Z", tz, at)).toBe("23:30"); // still the 10th in New York
  });
  it("names the day when it is not today", () => {
    expect(when("2026-01-11T14:32:00Z", tz, at)).toBe("tomorrow 09:32");
    expect(when("2026-01-09T22:00:00Z", tz, at)).toBe("yesterday 17:00");
    expect(when("2026-01-12T05:32:00Z", tz, at)).toBe("Mon 12 Jan 00:32"); // the "SLA 00:32" two days away
    expect(when("2026-03-03T14:00:00Z", tz, at)).toBe("3 Mar 09:00");
    expect(when("2014-03-03T14:00:00Z", tz, at)).toBe("3 Mar 2014 09:00");
    expect(when(null, tz, at)).toBe("—");
  });
  it("says when a long-breached or far SLA was due, not a count of days", () => {
    const old = "2014-03-03T14:00:00Z";
    const slack = slackMinutes({ id: 1, sla_due_at: old, duration_min: 30, priority: 5 }, at)!;
    expect(riskLabel(slack, old, tz, at).text).toBe("SLA breached — was due 3 Mar 2014 09:00");
    expect(riskLabel(-120, "2026-01-10T13:30:00Z", tz, at).text).toBe("SLA breached by 2 h 00 min");
    expect(riskLabel(4 * 24 * 60, "2026-01-14T15:30:00Z", tz, at)).toEqual({ level: "low", text: "SLA due Wed 14 Jan 10:30" });
  });
});

describe("server sentences in people's words", () => {
  it("names technicians and turns long minute counts into hours or days", () => {
    const names = new Map([[3, "Priya Shah"]]);
    expect(humanize("the cheapest option is technician 3 (+9 min travel, 3576 min added lateness)", names))
      .toBe("the cheapest option is Priya Shah (+9 min travel, 2 days added lateness)");
    expect(humanize("technician 7's day is locked; 150 min", names)).toBe("technician 7's day is locked; 2 h 30 min");
  });
});

describe("formatter", () => {
  it("makes one Intl.DateTimeFormat per options and time zone, and reuses it", () => {
    const a = formatter({ hour: "2-digit", minute: "2-digit", timeZone: "America/New_York" });
    expect(formatter({ hour: "2-digit", minute: "2-digit", timeZone: "America/New_York" })).toBe(a);
    expect(formatter({ hour: "2-digit", minute: "2-digit", timeZone: "Europe/Helsinki" })).not.toBe(a);
    expect(clock("2026-12-05T15:04:00Z", "Europe/Helsinki")).toBe("17:04");
    expect(clock("2026-12-05T15:04:00Z", "America/New_York")).toBe("10:04");
  });
});
