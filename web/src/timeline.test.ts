import { describe, expect, it } from "vitest";
import { arrivalWindow, boardDays, bookedWords, calendarOf, dayHours, dayNumber, dropPosition, isoDay, isoWeekday, keepsBooking,
  offWords, planDays, rowsToBuild, rowWords, shiftBand, stopTimes, visitWords } from "./timeline";
import { humanize } from "./format";
import type { Horizon, Job, Plan, Technician } from "./types";

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

describe("a live plan change redraws only the rows that changed", () => {
  const stop = (tech: number, job: number, start: string, end: string) => ({ technician_id: tech, job_id: job, sequence: 0,
    arrival_at: start, start_at: start, end_at: end, travel_s: 0, wait_s: 0, distance_m: 0 });
  const tech = { id: 1, name: "Ana Ruiz", shift_start: "08:00", shift_end: "17:00", availability: "on_shift" } as unknown as Technician;
  const hours = { start: 8, end: 17, breaks: [], off: null, reason: "" };
  const job = { id: 5, title: "Leak", status: "assigned", pinned: false, booked_start: null, booked_end: null } as unknown as Job;

  it("reads a stop's times once per stop object, on the service area's clock", () => {
    const s = stop(1, 5, "2026-01-10T15:30:00Z", "2026-01-11T01:15:00Z");
    const t = stopTimes(s, "America/New_York");
    expect(t.start).toMatchObject({ day: dayNumber("2026-01-10"), hours: 10.5 });
    expect(t.end).toMatchObject({ day: dayNumber("2026-01-10"), hours: 20.25 });
    expect(stopTimes(s, "America/New_York")).toBe(t); // the same object: not parsed again
    // The same times in another time zone are read again: 01:15 UTC is the next day in UTC.
    const utc = stopTimes(s, "UTC");
    expect(utc).not.toBe(t);
    expect(utc.end).toMatchObject({ day: dayNumber("2026-01-11"), hours: 1.25 });
    // An equal stop that is another object (a live change's new stop) is read for itself.
    expect(stopTimes({ ...s }, "UTC")).not.toBe(utc);
  });

  it("builds the rows of the change's technicians and rows whose stops are other objects, keeps the rest", () => {
    const a = stop(1, 5, "2026-01-10T15:30:00Z", "2026-01-10T16:00:00Z");
    const b = stop(2, 6, "2026-01-10T15:30:00Z", "2026-01-10T16:00:00Z");
    const c = stop(3, 7, "2026-01-10T15:30:00Z", "2026-01-10T16:00:00Z");
    const held = new Map([[1, { items: [a], words: "w1" }], [2, { items: [b], words: "w2" }], [3, { items: [c], words: "w3" }]]);
    // Nothing changed: nothing is built.
    expect([...rowsToBuild(held, new Map(held), [])]).toEqual([]);
    // The delta names technician 2 (its stops are new objects); technician 3's stop is a new object with equal fields.
    const next = new Map([[1, { items: [a], words: "w1" }], [2, { items: [{ ...b, sequence: 1 }], words: "w2" }],
      [3, { items: [{ ...c }], words: "w3" }]]);
    expect([...rowsToBuild(held, next, [2])].sort()).toEqual([2, 3]);
    // Named but not different (a technician whose day emptied and stays empty): built all the same.
    expect([...rowsToBuild(held, new Map(held), [1])]).toEqual([1]);
    // A stop more or fewer, other words, a row not drawn yet; a named technician not on the board is ignored.
    const more = new Map([[1, { items: [a, b], words: "w1" }], [2, { items: [b], words: "other" }], [3, { items: [c], words: "w3" }],
      [4, { items: [], words: "w4" }]]);
    expect([...rowsToBuild(held, more, [99])].sort()).toEqual([1, 2, 4]);
  });

  it("says in a row's words what its bars draw of their jobs, so a job event or a selection rebuilds that row", () => {
    const words = (j: Job, opts: { customer?: string; changed?: boolean; selected?: boolean; locked?: boolean } = {}) =>
      rowWords(tech, { colour: "#0b7285", locked: opts.locked ?? false, hours,
        bars: [{ jobId: 5, job: j, customer: opts.customer, changed: opts.changed ?? false, selected: opts.selected ?? false }] });
    const base = words(job);
    expect(words({ ...job })).toBe(base); // the same fields: the row is kept
    for (const other of [words({ ...job, status: "en_route" }), words({ ...job, pinned: true }), words({ ...job, title: "Burst pipe" }),
      words({ ...job, booked_start: "2026-01-10T15:00:00Z", booked_end: "2026-01-10T17:00:00Z" }), words(job, { customer: "Bo Li" }),
      words(job, { changed: true }), words(job, { selected: true }), words(job, { locked: true }),
      words({ ...job, follow_up_of: 3 } as Job)]) {
      expect(other).not.toBe(base);
    }
    // The technician's hours that day (a day off, another shift) are in it too.
    expect(rowWords(tech, { colour: "#0b7285", locked: false, hours: { ...hours, off: "day off" }, bars: [] }))
      .not.toBe(rowWords(tech, { colour: "#0b7285", locked: false, hours, bars: [] }));
  });
});
