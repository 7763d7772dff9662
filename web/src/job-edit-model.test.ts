import { describe, expect, it } from "vitest";
import { fromLocalInput, localInput, localParts, rowWindow, sameSkills, sameWindows, windowRow, zonedIso } from "./job-edit-model";
import { insideRing, matchDetail } from "./address-search";

describe("wall-clock times in the service area's zone", () => {
  it("reads a local date and time as the instant it is there", () => {
    expect(zonedIso("2026-12-07", "09:30", "America/New_York")).toBe("2026-12-07T14:30:00.000Z"); // EST, UTC-5
    expect(zonedIso("2026-07-07", "09:30", "America/New_York")).toBe("2026-07-07T13:30:00.000Z"); // EDT, UTC-4
    expect(zonedIso("2026-12-07", "09:30", "Etc/GMT-3")).toBe("2026-12-07T06:30:00.000Z"); // POSIX sign: UTC+3
    expect(zonedIso("2026-12-07", "", "UTC")).toBeNull();
    expect(zonedIso("7/12/2026", "09:30", "UTC")).toBeNull();
  });
  it("goes round the clock change both ways", () => {
    // 2026-03-08 02:30 does not exist in New York (clocks jump 02:00 -> 03:00): read with the offset before it.
    expect(zonedIso("2026-03-08", "02:30", "America/New_York")).toBe("2026-03-08T07:30:00.000Z");
    expect(zonedIso("2026-03-08", "03:30", "America/New_York")).toBe("2026-03-08T07:30:00.000Z");
    expect(localParts("2026-11-01T05:30:00Z", "America/New_York")).toEqual({ date: "2026-11-01", time: "01:30" });
    for (const at of ["2026-12-07T14:30:00.000Z", "2026-07-01T23:15:00.000Z"]) {
      const p = localParts(at, "Europe/Helsinki");
      expect(zonedIso(p.date, p.time, "Europe/Helsinki")).toBe(at);
    }
  });
  it("fills and reads a datetime-local input", () => {
    expect(localInput("2026-12-07T14:30:00+00:00", "America/New_York")).toBe("2026-12-07T09:30");
    expect(localInput(null, "UTC")).toBe("");
    expect(fromLocalInput("2026-12-07T09:30", "America/New_York")).toBe("2026-12-07T14:30:00.000Z");
    expect(fromLocalInput("", "UTC")).toBeNull();
  });
});

describe("time windows as rows", () => {
  const tz = "America/New_York";
  it("shows a window as its date, from and to, and reads it back", () => {
    const w = { start: "2026-12-07T14:00:00Z", end: "2026-12-07T17:00:00Z" };
    const row = windowRow(w, tz);
    expect(row).toEqual({ date: "2026-12-07", from: "09:00", to: "12:00" });
    const back = rowWindow(row, 1, tz);
    expect(typeof back === "object" && sameWindows([back], [w])).toBe(true);
  });
  it("keeps a window that ends on another day as it was", () => {
    const w = { start: "2026-12-07T14:00:00Z", end: "2026-12-09T22:00:00Z" };
    const row = windowRow(w, tz);
    expect(row.until).toBe("2026-12-09");
    const back = rowWindow(row, 1, tz);
    expect(typeof back === "object" && sameWindows([back], [w])).toBe(true);
  });
  it("says what is wrong with a row", () => {
    expect(rowWindow({ date: "2026-12-07", from: "12:00", to: "09:00" }, 2, tz)).toMatch(/^Window 2: ends \(09:00\) before it starts/);
    expect(rowWindow({ date: "", from: "12:00", to: "13:00" }, 1, tz)).toMatch(/give its date/);
  });
  it("compares windows and skills as the server stores them", () => {
    expect(sameWindows([{ start: "2026-12-07T14:00:00+00:00", end: "2026-12-07T17:00:00Z" }],
      [{ start: "2026-12-07T14:00:00.000Z", end: "2026-12-07T17:00:00.000Z" }])).toBe(true);
    expect(sameWindows([], [{ start: "2026-12-07T14:00:00Z", end: "2026-12-07T17:00:00Z" }])).toBe(false);
    expect(sameSkills({ Plumbing: 2 }, { plumbing: 2 })).toBe(true);
    expect(sameSkills({ plumbing: 2 }, { plumbing: 3 })).toBe(false);
  });
});

describe("the service area", () => {
  const square = [[-76.6, 39.25], [-76.5, 39.25], [-76.5, 39.35], [-76.6, 39.35], [-76.6, 39.25]];
  it("tells a pin inside from one outside", () => {
    expect(insideRing(39.29, -76.58, square)).toBe(true);
    expect(insideRing(39.40, -76.40, square)).toBe(false);
    expect(insideRing(39.29, -76.61, square)).toBe(false);
  });
  it("says of an address how it was found, how sure and where", () => {
    const m = { lat: 39.29, lon: -76.585, kind: "address", confidence: 0.923, radius_m: 20, label: "address point", inside_service_area: true };
    expect(matchDetail(m)).toBe("address, 92 % sure within 250 m, 39.29000, -76.58500");
    expect(matchDetail({ ...m, inside_service_area: false })).toMatch(/— outside the service area$/);
  });
});
