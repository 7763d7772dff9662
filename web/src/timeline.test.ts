import { describe, expect, it } from "vitest";
import { arrivalWindow, bookedWords, dropPosition, keepsBooking, planDays } from "./timeline";
import { humanize } from "./format";
import type { Plan } from "./types";

describe("schedule board", () => {
  it("puts a dropped job after every stop that starts before the drop time, not counting itself", () => {
    const day = [{ job_id: 1, startHours: 8.5 }, { job_id: 2, startHours: 10 }, { job_id: 3, startHours: 13 }];
    expect(dropPosition(day, 9, 7)).toBe(0);
    expect(dropPosition(day, 9, 11.5)).toBe(2);
    expect(dropPosition(day, 9, 18)).toBe(3);
    // Dragging job 1 later in its own day: it does not count itself.
    expect(dropPosition(day, 1, 11)).toBe(1);
  });
  it("shows the arrival window customers are told (server notices.arrival_window: 5-minute marks, centred)", () => {
    const [from, to] = arrivalWindow(new Date("2026-01-10T10:07:40Z"), 20);
    expect(from.toISOString()).toBe("2026-01-10T10:00:00.000Z");
    expect(to.toISOString()).toBe("2026-01-10T10:20:00.000Z");
  });
  it("lists each day the plan's stops fall on, in the service area's time zone", () => {
    const stop = (start: string) => ({ technician_id: 1, job_id: 1, sequence: 0, arrival_at: start, start_at: start, end_at: start,
      travel_s: 0, wait_s: 0, distance_m: 0 });
    const plan = { day: "2026-01-10", stops: [stop("2026-01-10T15:00:00Z"), stop("2026-01-11T03:00:00Z")] } as unknown as Plan;
    // 03:00 UTC on the 11th is still the 10th in New York: one day.
    expect(planDays(plan, "America/New_York")).toHaveLength(1);
    expect(planDays(plan, "UTC")).toHaveLength(2);
  });
});

describe("words for people", () => {
  it("turns the street network's settings into what a dispatcher can do", () => {
    const out = humanize("location cannot be reached by road: point #0 (39.300000, -76.600000) is more than 250 m from any "
      + "drivable road; move it to the nearest street or raise max_snap_distance_m", new Map());
    expect(out).not.toMatch(/max_snap_distance_m|point #0/);
    expect(out).toContain("more than 250 m from any drivable road");
  });
});

describe("booked windows on the board", () => {
  const now = new Date("2026-01-10T12:00:00Z");
  const booked = (start: string, end: string) => ({ booked_start: start, booked_end: end });
  it("labels a booking with its day when it is not today", () => {
    expect(bookedWords(booked("2026-01-10T15:00:00Z", "2026-01-10T17:00:00Z"), "America/New_York", now)).toBe("booked 10:00–12:00");
    expect(bookedWords(booked("2026-01-11T15:00:00Z", "2026-01-11T17:00:00Z"), "America/New_York", now)).toBe("booked tomorrow 10:00–12:00");
    expect(bookedWords(booked("2026-01-13T15:00:00Z", "2026-01-13T17:00:00Z"), "America/New_York", now)).toBe("booked Tue 13 Jan 10:00–12:00");
    expect(bookedWords({ booked_start: null, booked_end: null }, "UTC", now)).toBeNull();
  });
  it("keeps a booking when the technician arrives by its end (early: they wait)", () => {
    const b = booked("2026-01-10T15:00:00Z", "2026-01-10T17:00:00Z");
    expect(keepsBooking(b, new Date("2026-01-10T14:30:00Z"))).toBe(true);
    expect(keepsBooking(b, new Date("2026-01-10T17:00:00Z"))).toBe(true);
    expect(keepsBooking(b, new Date("2026-01-10T17:01:00Z"))).toBe(false);
  });
});
