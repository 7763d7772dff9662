import { describe, expect, it } from "vitest";
import { slaText, snoozeUntil } from "./inbox-api";

describe("inbox SLA timer words", () => {
  it("says how long is left, in hours and minutes past the hour", () => {
    expect(slaText({ due_at: "", breached: false, remaining_s: 25 * 60 })).toBe("reply due in 25 min");
    expect(slaText({ due_at: "", breached: false, remaining_s: 125 * 60 })).toBe("reply due in 2 h 5 min");
  });
  it("says how overdue a breached one is", () => {
    expect(slaText({ due_at: "", breached: true, remaining_s: -61 * 60 })).toBe("reply overdue by 1 h 1 min");
  });
});

describe("snooze choices", () => {
  const now = new Date(2026, 11, 5, 16, 20, 0);
  it("an hour is 3,600 s from now", () => {
    expect(snoozeUntil("1h", now).getTime() - now.getTime()).toBe(3600_000);
  });
  it("tomorrow is 09:00 on the next local day", () => {
    const t = snoozeUntil("tomorrow", now);
    expect([t.getDate(), t.getHours(), t.getMinutes()]).toEqual([6, 9, 0]);
  });
  it("a week is seven days", () => {
    expect(snoozeUntil("week", now).getTime() - now.getTime()).toBe(7 * 86400_000);
  });
});
