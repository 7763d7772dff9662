// The dispatch feature's endpoints (server/dispatch/router.py): solve jobs, overrides with a cost preview
// (assign, unassign, pin, unpin, lock, unlock) and explanations ("why unassigned", the alternatives).
import { api } from "./api";

export interface SolveJob {
  id: string;
  status: "queued" | "running" | "succeeded" | "failed" | "cancelled";
  plan_id: number | null;
  error: string | null;
  best_cost: number | null;
}

export type OverrideAction = "assign" | "unassign" | "pin" | "unpin" | "reorder" | "lock" | "unlock";

export interface Override {
  action: OverrideAction;
  job_id?: number;
  technician_id?: number;
  position?: number;
  /** The dispatcher confirmed a second time that the change may break these customers' booked windows. */
  break_booked_windows?: boolean;
}

/** A job with a window booked with its customer, among the jobs the change moves: does the new arrival keep it? */
export interface BookedWindowCheck {
  job_id: number;
  start: string;
  end: string;
  /** The new arrival (aware ISO); null when it could not be timed. */
  eta: string | null;
  /** True: the technician would arrive after the window's end. */
  breaks: boolean;
  customer: string | null;
}

export interface OverridePreview {
  action: OverrideAction;
  feasible: boolean;
  added_travel_s: number;
  added_lateness_s: number;
  added_overtime_s: number;
  sla_at_risk: number[];
  sla_newly_at_risk: number[];
  affected_technicians: number[];
  etas: Record<string, string>;
  notes: string[];
  elapsed_ms: number;
  /** Older servers leave it out. */
  booked_windows?: BookedWindowCheck[];
}

export interface Alternative {
  technician_id: number;
  position: number;
  start_at: string;
  added_travel_s: number;
  job_late_s: number;
  added_lateness_s: number;
  added_overtime_s: number;
  added_cost: number;
}

export interface Explanation {
  job_id: number;
  status: string;
  explanation?: string;
  capable_technicians?: number[];
  alternatives?: Alternative[];
  technician_id?: number;
}

export const dispatchApi = {
  solve: (trigger = "console re-plan") => api<SolveJob>("/dispatch/solves", { method: "POST", body: { trigger } }),
  solveStatus: (id: string) => api<SolveJob>(`/dispatch/solves/${encodeURIComponent(id)}`),
  explain: (jobId: number) => api<Explanation>(`/dispatch/jobs/${jobId}/explain`),
  preview: (o: Override) => api<OverridePreview>("/dispatch/overrides/preview", { method: "POST", body: o }),
  commit: (o: Override) =>
    api<{ preview: OverridePreview; plan_id: number | null; replan_solve_id: string | null }>(
      "/dispatch/overrides/commit", { method: "POST", body: o }),
};
