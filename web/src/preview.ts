// The cost preview and recommendations in words: what a dispatcher's change does, for whom, in minutes (never solver
// units), and which customers will be told a new arrival time. Pure but for previewFacts (DOM); unit-tested.
import type { Alternative, OverridePreview } from "./dispatch-api";
import { config } from "./config";
import { h } from "./dom";
import { duration, humanize, signed, when, windowWords } from "./format";
import type { Job, Plan, Technician } from "./types";

/** Customers are told a new arrival time when it moves by more than this, minutes (server dispatch_eta_margin_min). */
const etaMarginMin = (): number => config().eta_margin_min ?? 10;

/** One recommended technician in words: when they would start, and what it adds (minutes, never solver units). */
export function alternativeWords(a: Alternative, tz: string): string {
  const parts = [`could start ${when(a.start_at, tz)}`, a.added_travel_s > 30 ? `${duration(a.added_travel_s)} more driving`
    : a.added_travel_s < -30 ? `${duration(-a.added_travel_s)} less driving` : "no extra driving"];
  if (a.job_late_s > 0) parts.push(`this job ${duration(a.job_late_s)} past its SLA`);
  // The added lateness counts this job's own too.
  const others = a.added_lateness_s - Math.max(0, a.job_late_s);
  if (others > 30) parts.push(`other jobs ${duration(others)} later past their SLA`);
  if (a.added_overtime_s > 0) parts.push(`${duration(a.added_overtime_s)} overtime`);
  return parts.join(" · ");
}

/** "11:30" from local hours (11.5). */
export function hhmmOf(hours: number): string {
  const m = Math.round(hours * 60);
  return `${String(Math.floor(m / 60) % 24).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
}

/** "1st", "2nd", "3rd", "4th"… */
export function ordinal(n: number): string {
  const t = n % 100;
  return `${n}${t >= 11 && t <= 13 ? "th" : ["th", "st", "nd", "rd"][n % 10] ?? "th"}`;
}

/** What the change does, for whom, in a sentence or three: driving, lateness, overtime, what moves in each affected
 * technician's day, and which customers will be told a new arrival time. */
export function previewWords(p: OverridePreview, jobId: number, jobs: Job[], techs: Technician[], plan: Plan | null,
  name: string, customers: Map<number, string> = new Map()): { summary: string[]; newEta: Job[]; newEtaNames: string[] } {
  const tz = config().timezone;
  const byId = new Map(jobs.map((j) => [j.id, j]));
  const stops = new Map((plan?.stops ?? []).map((s) => [s.job_id, s]));
  const techName = (id: number) => techs.find((t) => t.id === id)?.name ?? "a technician no longer listed";
  const summary: string[] = [];
  const eta = p.etas[String(jobId)];
  const drive = p.added_travel_s > 30 ? `adds ${duration(p.added_travel_s)} of driving`
    : p.added_travel_s < -30 ? `saves ${duration(-p.added_travel_s)} of driving` : "changes no driving";
  summary.push(`Giving it to ${name} ${drive}${eta ? `; ${name} would arrive ${when(eta, tz)}` : ""}.`);
  const late = p.added_lateness_s > 0 ? `SLA lateness grows by ${duration(p.added_lateness_s)} in all (this job included)`
    : p.added_lateness_s < 0 ? `SLA lateness shrinks by ${duration(-p.added_lateness_s)} in all` : "no job is later past its SLA";
  const over = p.added_overtime_s > 0 ? `${duration(p.added_overtime_s)} of overtime` : "no overtime";
  summary.push(`${late[0].toUpperCase()}${late.slice(1)}; ${over}.`);
  // Each affected technician's other jobs: how many move, and by how much (the preview's new arrivals against the plan).
  const margin = etaMarginMin() * 60000;
  const newEta: Job[] = [];
  for (const tid of p.affected_technicians) {
    const shifts: number[] = [];
    for (const [id, at] of Object.entries(p.etas)) {
      const before = stops.get(Number(id));
      if (Number(id) === jobId || !before || before.technician_id !== tid) continue;
      const delta = new Date(at).getTime() - new Date(before.arrival_at).getTime();
      if (Math.abs(delta) >= 60000) shifts.push(delta);
      const job = byId.get(Number(id));
      // Customers of assigned jobs are told again when their arrival moves by more than the notice margin.
      if (job && job.status !== "unassigned" && Math.abs(delta) > margin) newEta.push(job);
    }
    const who = techName(tid);
    const owner = stops.get(jobId)?.technician_id;
    const role = tid !== owner ? "takes this job" : p.affected_technicians.length > 1 ? "gives up this job" : "keeps this job, in its new place";
    if (!shifts.length) summary.push(`${who} ${role}; none of their other jobs moves.`);
    else {
      const later = shifts.filter((d) => d > 0);
      const earlier = shifts.filter((d) => d < 0);
      const parts = [later.length ? `${later.length} later (up to ${duration(Math.max(...later) / 1000)})` : "",
        earlier.length ? `${earlier.length} earlier (up to ${duration(-Math.min(...earlier) / 1000)})` : ""].filter(Boolean);
      summary.push(`${who} ${role}; ${shifts.length} of their other jobs move${shifts.length === 1 ? "s" : ""}: ${parts.join(", ")}.`);
    }
  }
  const newEtaNames = newEta.map((j) => customers.get(j.id) ? `${customers.get(j.id)} (#${j.id} ${j.title})` : `#${j.id} ${j.title}`);
  return { summary, newEta, newEtaNames };
}

/** The booked windows the change breaks, in words: "Breaks the booked window of Ana Lopez (Tue 8 Dec 10:00–12:00): new
 * arrival 12:40." (the customer's name, else the job). */
export function bookingWarnings(p: OverridePreview, jobs: Job[], tz: string, now: Date = new Date()): string[] {
  const byId = new Map(jobs.map((j) => [j.id, j]));
  return (p.booked_windows ?? []).filter((b) => b.breaks).map((b) => {
    const job = byId.get(b.job_id);
    const who = b.customer ? b.customer : job ? `job #${b.job_id} ${job.title}` : `job #${b.job_id}`;
    return `Breaks the booked window of ${who} (${windowWords(b.start, b.end, tz, now)}): new arrival ${b.eta ? when(b.eta, tz, now) : "unknown"}.`;
  });
}

/** The preview's figures: feasibility, added travel, lateness, overtime, SLA risk, the new ETA, and notes. */
export function previewFacts(p: OverridePreview, jobId: number, jobs: Job[], techs: Technician[] = [], plan: Plan | null = null,
  name = "this technician", customers: Map<number, string> = new Map()): HTMLElement {
  const tz = config().timezone;
  const eta = p.etas[String(jobId)];
  const title = (id: number) => jobs.find((j) => j.id === id)?.title ?? `job #${id}`;
  const words = previewWords(p, jobId, jobs, techs, plan, name, customers);
  const n = words.newEta.length;
  const breaks = bookingWarnings(p, jobs, tz);
  const kept = (p.booked_windows ?? []).filter((b) => !b.breaks);
  return h("div", { class: "preview-facts" },
    breaks.length ? h("div", { class: "booking-warning", id: "preview-booked", role: "alert", dataset: { breaks: breaks.length } },
      breaks.map((line) => h("p", { class: "bad" }, line)),
      h("p", null, `The customer${breaks.length === 1 ? " was" : "s were"} promised ${breaks.length === 1 ? "this window" : "these windows"}; `
        + "confirming sends them new windows to choose from.")) : null,
    h("div", { class: "preview-words", id: "preview-words" }, words.summary.map((line) => h("p", null, line)),
      kept.length ? h("p", { id: "preview-booked-kept", class: "muted" }, `Keeps ${kept.length === 1 ? "the booked window" : `${kept.length} booked windows`}: `,
        kept.map((b) => `${b.customer ?? `job #${b.job_id}`} (${windowWords(b.start, b.end, tz)}, arrival ${b.eta ? when(b.eta, tz) : "—"})`).join("; "), ".") : null,
      n ? h("p", { id: "preview-new-eta", dataset: { count: n } }, `${n} customer${n === 1 ? "" : "s"} will get a new arrival time message: `,
        words.newEtaNames.slice(0, 6).join(", "), n > 6 ? ` and ${n - 6} more` : "", ".")
        : h("p", { id: "preview-new-eta", class: "muted", dataset: { count: 0 } }, "No other customer gets a new arrival time message."),
      p.feasible ? null : h("p", { class: "bad" }, "This change breaks a hard rule (a time window, a shift or a skill): it cannot be confirmed.")),
    h("dl", { class: "facts" },
      h("dt", null, "Feasible"), h("dd", { class: p.feasible ? "ok" : "bad" }, p.feasible ? "yes" : "no — breaks a hard rule"),
      eta ? [h("dt", null, "ETA"), h("dd", null, when(eta, tz))] : null,
      h("dt", null, "Added travel"), h("dd", { id: "preview-travel" }, signed(p.added_travel_s)),
      h("dt", null, "Added lateness"), h("dd", null, signed(p.added_lateness_s)),
      h("dt", null, "Added overtime"), h("dd", null, signed(p.added_overtime_s)),
      h("dt", null, "SLA newly at risk"), h("dd", null, p.sla_newly_at_risk.length ? p.sla_newly_at_risk.map(title).join(", ") : "none"),
      h("dt", null, "Technicians affected"), h("dd", null, p.affected_technicians.map((id) => techs.find((t) => t.id === id)?.name ?? "a technician no longer listed").join(", ") || "none")),
    p.notes.length ? h("ul", { class: "plain notes" }, p.notes.map((n) => h("li", null, humanize(n, new Map(techs.map((t) => [t.id, t.name])))))) : null);
}
