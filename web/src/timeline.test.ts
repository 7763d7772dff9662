import { describe, expect, it } from "vitest";
import { arrivalWindow, boardDays, bookedWords, calendarOf, dayHours, dayNumber, dropPosition, isoDay, isoWeekday, keepsBooking,
  offWords, planDays, shiftBand, visitWords } from "./timeline";
import { humanize } from "./format";
import type { Horizon, Plan, Technician } from "./types";

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

describe("each day's shift on the board (weekly pattern, days off, absences)", () => {
  const tech = {
    id: 7, name: "Ana Ruiz", skills: {}, home_lat: 0, home_lon: 0, shift_start: "08:00:00", shift_end: "17:00:00",
    breaks: [{ earliest: "11:30", latest: "14:00", duration_min: 30 }], availability: "on_shift",
    current_lat: null, current_lon: null, last_seen_at: null,
    weekly_shifts: { "3": { start: "12:00", end: "20:00" }, "5": { start: "07:00", end: "11:00" }, "6": "off", "7": "off" },
  } as Technician;
  // Week of Monday 7 December 2026.
  const mon = dayNumber("2026-12-07");
  const wed = mon + 2;
  const fri = mon + 4;
  const sat = mon + 5;
  const today = mon - 2; // Saturday the 5th: every day here is a later one

  it("numbers days and weekdays as the server does (ISO: Monday 1 .. Sunday 7)", () => {
    expect(isoDay(wed)).toBe("2026-12-09");
    expect([mon, wed, sat, sat + 1].map(isoWeekday)).toEqual([1, 3, 6, 7]);
  });
  it("draws Wednesday's 12:00-20:00 shift, not the everyday 08:00-17:00", () => {
    const hours = dayHours(tech, wed, today);
    expect([hours.start, hours.end, hours.off]).toEqual([12, 20, null]);
    expect(hours.breaks).toHaveLength(1); // lunch can still start in its window
    const band = shiftBand(hours, 7, 21, tech.name);
    expect(band.map((p) => [p.kind, p.from, p.to])).toEqual([["off", 7, 12], ["off", 20, 21]]);
    expect(band[0].title).toBe("Ana Ruiz starts at 12:00");
    // A weekday the pattern leaves out: the everyday shift, its breaks as always.
    const monday = dayHours(tech, mon, today);
    expect([monday.start, monday.end, monday.breaks.length]).toEqual([8, 17, 1]);
    expect(shiftBand(monday, 7, 19, tech.name).map((p) => [p.from, p.to])).toEqual([[7, 8], [17, 19]]);
  });
  it("drops a break that cannot fit a short day (as server technicians.shift_on)", () => {
    const friday = dayHours(tech, fri, today);
    expect([friday.start, friday.end, friday.breaks]).toEqual([7, 11, []]);
  });
  it("greys the whole lane on a day off, saying so", () => {
    const saturday = dayHours(tech, sat, today);
    expect([saturday.start, saturday.off]).toEqual([null, "day off"]);
    expect(shiftBand(saturday, 7, 19, tech.name)).toEqual([{ kind: "day-off", from: 7, to: 19, title: "Ana Ruiz: Day off" }]);
  });
  it("reads the server's calendar first: a recorded absence, and its reason, on a day the pattern works", () => {
    const horizon = { run_id: 1, created_at: null, days: ["2026-12-09"], visits: [], unassigned: [], shifts: [
      { technician_id: 7, day: "2026-12-09", start: null, end: null, breaks: [], off: "absence", reason: "training" },
      { technician_id: 7, day: "2026-12-07", start: "09:30", end: "15:00", breaks: [], off: null, reason: "" },
    ] } as Horizon;
    const cal = calendarOf(horizon);
    const wednesday = dayHours(tech, wed, today, cal);
    expect([wednesday.off, offWords(wednesday, false)]).toEqual(["absence", "Absent: training"]);
    expect(shiftBand(wednesday, 7, 21, tech.name)[0].kind).toBe("day-off");
    const monday = dayHours(tech, mon, today, cal);
    expect([monday.start, monday.end]).toEqual([9.5, 15]);
  });
  it("today, availability decides; a technician marked off works no later day either", () => {
    const sick = { ...tech, availability: "sick" } as Technician;
    expect(offWords(dayHours(sick, mon, mon), true)).toBe("Sick — not available today");
    expect(dayHours(sick, mon + 1, mon).start).toBe(8); // back on later days, as the horizon plans
    expect(dayHours({ ...tech, availability: "off" } as Technician, mon + 1, mon).off).toBe("off");
  });
  it("shows the plan's days and the horizon's working days after today", () => {
    const now = new Date("2026-12-07T15:00:00Z");
    const plan = { day: "2026-12-07", stops: [] } as unknown as Plan;
    const horizon = { days: ["2026-12-07", "2026-12-08", "2026-12-11"], visits: [] } as unknown as Horizon;
    expect(boardDays(plan, horizon, "UTC", now).map(isoDay)).toEqual(["2026-12-07", "2026-12-08", "2026-12-11"]);
    expect(boardDays(plan, null, "UTC", now).map(isoDay)).toEqual(["2026-12-07"]);
  });
});

describe("return visits and multi-day visits in words", () => {
  const names = new Map([[3, "Ana Ruiz"]]);
  it("says what a return visit is for and when its part arrives, and who is preferred", () => {
    const job = { follow_up_of: 12, earliest_at: "2026-12-09T05:00:00Z", parts_done: 0, preferred_technician_id: 3 };
    expect(visitWords(job, { names, timeZone: "America/New_York" }))
      .toEqual(["Return visit for job #12 (part arrives Wed 9 Dec)", "Ana Ruiz preferred"]);
  });
  it("counts a multi-day visit's days, the ones done included", () => {
    const fresh = { follow_up_of: null, earliest_at: null, parts_done: 0, preferred_technician_id: null };
    expect(visitWords(fresh, { visit: { part: 2, parts: 3 }, timeZone: "UTC" })).toEqual(["Day 2 of 3"]);
    expect(visitWords({ ...fresh, parts_done: 1 }, { visit: { part: 1, parts: 2 }, timeZone: "UTC" })).toEqual(["Day 2 of 3"]);
    expect(visitWords({ ...fresh, parts_done: 1 }, { visit: { part: 1, parts: 1 }, timeZone: "UTC" })).toEqual(["Day 2 of 2"]);
    expect(visitWords(fresh, { visit: { part: 1, parts: 1 }, timeZone: "UTC" })).toEqual([]);
  });
});
