import { describe, expect, it } from "vitest";
import type { Job } from "./types";
import { noticeCandidates } from "./views/outreach";

const job = (id: number, status: string, reporter_count: number, priority: number) =>
  ({ id, status, reporter_count, priority, title: `Job ${id}` }) as unknown as Job;

describe("noticeCandidates", () => {
  it("offers open jobs only, the most reported first, then by priority", () => {
    const jobs = [job(1, "assigned", 1, 9), job(2, "completed", 30, 9), job(3, "unassigned", 4, 3), job(4, "on_site", 4, 7),
      job(5, "cancelled", 9, 5), job(6, "en_route", 1, 2)];
    expect(noticeCandidates(jobs).map((j) => j.id)).toEqual([4, 3, 1, 6]);
    expect(noticeCandidates(jobs, 2).map((j) => j.id)).toEqual([4, 3]);
  });
});
