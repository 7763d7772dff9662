// Dispatcher view: live map, unassigned queue by SLA risk, per-technician day timeline, assignment with
// cost preview, pins, locks, re-plan and the plan diff.
import { all, api, ApiError, explain, maybe } from "../api";
import { dispatchApi, type Alternative, type Override, type OverridePreview } from "../dispatch-api";
import { h, mount } from "../dom";
import { clock, duration, humanize, km, localDay, riskLabel, slackMinutes, titleCase, when } from "../format";
import { GAP_EVENT } from "../events";
import { boardChanged, isPlanDelta, patchPlan, patchRoutes, type PlanDelta, type RoutesGeo } from "../live-delta";
import { jobEditForm, type SkillRow } from "../job-edit";
import { baseMap, JobClusters, L, nodeIcon, nodeTooltip, textTip, type BaseMap } from "../map";
import { BUILT_IN_VIEWS, DEFAULT_FILTER, deleteView, haystack, isDeadEnd, JOB_STATUSES, queueRows, REASON_SKILL, saveView,
  savedViews, words, type Bounds, type GroupBy, type QueueFilter, type QueueView, type Row } from "../queue";
import { config } from "../config";
import { alternativeWords, hhmmOf, ordinal, previewFacts } from "../preview";
import { dayNumber, HOUR_PX, renderTimeline, shortDate, visitWords, type BoardDrop } from "../timeline";
import { touchDraggable } from "../touch-drag";
import type { Horizon, HorizonVisit, Job, LiveEvent, Plan, PlanStop, Technician } from "../types";
import { badge, inlineError, notify, notifyError, openDialog } from "../ui";
import type { View } from "./view";

export const STATUS_COLOURS: Record<string, string> = {
  unassigned: "#c2185b",
  assigned: "#1565c0",
  en_route: "#6a1b9a",
  on_site: "#e65100",
  completed: "#2e7d32",
  unable: "#37474f",
  cancelled: "#9e9e9e",
};

export const TECH_COLOURS = ["#0b7285", "#5f3dc4", "#c92a2a", "#2b8a3e", "#e67700", "#1864ab", "#a61e4d", "#495057"];

export function techColour(id: number): string {
  return TECH_COLOURS[(id - 1) % TECH_COLOURS.length];
}

/** The parts of the view a redraw draws: a live change names the ones it touched (README "Web console": live
 * updates as deltas). "jobs" restyles the changed jobs' markers (the whole job layer with "all-jobs"); "routes" draws
 * the changed technicians' lines (all of them with "all-routes"); "board" builds again only the board rows that changed
 * (the live change's technicians, rows whose stops or words changed: timeline.ts rowsToBuild), "all-board" all of it. */
type Part = "info" | "jobs" | "all-jobs" | "routes" | "all-routes" | "techs" | "filters" | "queue" | "board" | "all-board" | "selection";
const ALL_PARTS: Part[] = ["info", "all-jobs", "all-routes", "techs", "filters", "queue", "all-board", "selection"];

const OPEN = new Set(["unassigned", "assigned", "en_route", "on_site"]);

/** The jobs a plan moved or re-timed since the one before (outlined on the map and the board). A first plan has
 * nothing to compare with: every job would count as "moved" (issue 29), so nothing is outlined. */
function highlightsOf(plan: Plan | null): Set<number> {
  const compared = (plan?.diff as { previous_version?: number | null } | undefined)?.previous_version != null;
  return !compared ? new Set() : new Set([
    ...((plan?.diff.moved as Array<{ job_id: number }>) ?? []).map((m) => m.job_id),
    ...((plan?.diff.eta_changed as Array<{ job_id: number }>) ?? []).map((m) => m.job_id),
  ]);
}

/** Make `parent`'s children `nodes`, moving only what moved: nodes already in place stay (a queue where one card
 * changed replaces that card, it does not rebuild the list). */
function reconcile(parent: HTMLElement, nodes: Node[]): void {
  let at = parent.firstChild;
  for (const node of nodes) {
    if (node === at) {
      at = at.nextSibling;
      continue;
    }
    parent.insertBefore(node, at);
  }
  while (at) {
    const next = at.nextSibling;
    parent.removeChild(at);
    at = next;
  }
}
/** Queue rows drawn at a time; more are drawn as the list is scrolled to its end ("Show more"). */
export const QUEUE_PAGE = 100;

export class DispatchView implements View {
  private base!: BaseMap;
  private clusters!: JobClusters;
  private techLayer = L.layerGroup();
  private routeLayer = L.layerGroup();
  private jobs: Job[] = [];
  private techs: Technician[] = [];
  private plan: Plan | null = null;
  /** The horizon plan (tentative visits on the working days after today) and everyone's hours per day. */
  private horizon: Horizon | null = null;
  private horizonJobs = new Set<number>();
  private routes: RoutesGeo | null = null;
  private queueEl = h("ol", { class: "queue-list", id: "queue-list", "aria-label": "Jobs, most at risk first" });
  private queueCount = h("span", { class: "count", id: "queue-count" });
  private queueMore = h("div", { class: "queue-more", id: "queue-more" });
  private bulkBar = h("div", { class: "bulk-bar", id: "bulk-bar", role: "region", "aria-label": "Bulk actions", hidden: true });
  private filter: QueueFilter = { ...DEFAULT_FILTER };
  private groupBy: GroupBy = "none";
  private collapsed = new Set<string>();
  private selected = new Set<number>();
  private shown = QUEUE_PAGE;
  private matched: Job[] = [];
  private hay = new WeakMap<Job, string>();
  private reasons = new Map<number, string>();
  private customerHits: Set<number> | undefined;
  private customerQuery = "";
  private searchTimer: number | undefined;
  private moreObserver: IntersectionObserver | null = null;
  private filterEls: Record<string, HTMLSelectElement> = {};
  private searchEl!: HTMLInputElement;
  private viewSelect = h("select", { id: "queue-view", "aria-label": "Saved view" });
  private bulkRunning = false;
  /** The map shows only the jobs the queue's search and filters match (else every open job). */
  private mapMatching = false;
  private timelineEl = h("div", { class: "timeline", id: "timeline" });
  /** The job selected on the board or the map (shown in both), and what can be done with it. */
  private selectedJobId: number | null = null;
  private selectionEl = h("div", { class: "board-selection", id: "board-selection", "aria-live": "polite" });
  private boardDay: number | null = null;
  /** Who reported each planned job (GET /console/board): the board's bar labels. */
  private customers = new Map<number, string>();
  private planInfo = h("div", { class: "plan-info", "aria-live": "polite" });
  private diffEl = h("div", { class: "plan-diff" });
  private refreshTimer: number | undefined;
  private highlighted = new Set<number>();
  /** Lock state confirmed by the server since the plan was made (commit answers, technician.locked events);
   * there is no GET for it, so the latest plan's stats are the fallback. */
  private lockSeen = new Map<number, boolean>();
  private disposed = false;
  private renderTimer: number | undefined;
  /** What the next redraw draws, and for which jobs and technicians (one redraw for a burst of events). */
  private dirty = new Set<Part>();
  private changedJobs = new Set<number>();
  private changedRoutes = new Set<number>();
  /** Technicians whose board row a live plan change redraws (its delta's technicians). */
  private changedTechs = new Set<number>();
  /** Queue cards drawn, by job: a card is kept while its job and what it says are the same, so a redraw after a
   * live change to one job builds that one card. */
  private cards = new Map<number, { job: Job; stamp: string; el: HTMLElement }>();
  private techMarkers = new Map<number, L.Marker>();
  private routeLines = new Map<number, L.Layer>();
  /** Jobs whose board label (who reported them) was asked for. */
  private labelled = new Set<number>();
  private planStopsOf: Plan | null | undefined = undefined;
  private planStops = new Set<number>();
  private planSeq = 0;
  /** Jobs changed by an event that did not carry their new version: the Edit dialog reads them afresh. */
  private staleVersions = new Set<number>();
  private deltaCounts = new Map<string, number>();

  mount(el: HTMLElement): void {

    const mapEl = h("div", { class: "map", id: "dispatch-map" });
    const replan = h("button", { type: "button", class: "primary", id: "replan", onclick: () => this.replan(replan) }, "Re-plan");
    const legend = h("ul", { class: "legend", "aria-label": "Map legend" },
      Object.entries(STATUS_COLOURS).slice(0, 4).map(([s, c]) =>
        h("li", null, h("span", { class: "swatch", style: { background: c } }), titleCase(s))),
      h("li", null, h("span", { class: "swatch swatch-ring" }), "priority ≥ 8"),
      h("li", null, h("span", { class: "swatch swatch-count" }, "3"), "reporters"));
    mount(el,
      h("section", { class: "dispatch-grid" },
        h("section", { class: "map-pane", "aria-label": "Map" },
          h("div", { class: "toolbar" }, h("h1", { class: "visually-hidden" }, "Dispatch"), this.planInfo, replan),
          mapEl, legend),
        h("aside", { class: "queue-pane", "aria-labelledby": "queue-title" },
          h("h2", { id: "queue-title" }, "Jobs ", this.queueCount),
          this.queueControls(),
          this.bulkBar,
          h("div", { class: "queue-scroll" },
            h("p", { class: "muted small" }, "Most at risk of missing the SLA first. Drag a job onto a technician's row on the board (at the time you want), or use Assign."),
            this.queueEl, this.queueMore)),
        h("section", { class: "timeline-pane", "aria-labelledby": "timeline-title" },
          h("div", { class: "pane-head" }, h("h2", { id: "timeline-title" }, "Schedule board"), this.diffEl),
          this.selectionEl,
          this.timelineEl)));
    this.base = baseMap(mapEl, { label: "Map of jobs, technicians and routes" });
    this.routeLayer.addTo(this.base.map);
    this.clusters = new JobClusters(this.base.map, {
      style: (job) => ({
        radius: 4 + job.priority * 0.6,
        color: job.id === this.selectedJobId ? "#f59f00" : job.priority >= 8 ? "#111" : this.highlighted.has(job.id) ? "#f59f00" : "#fff",
        weight: job.id === this.selectedJobId ? 5 : job.priority >= 8 || this.highlighted.has(job.id) ? 3 : 1.5,
        fillColor: STATUS_COLOURS[job.status] ?? "#777",
        fillOpacity: 0.9,
      }),
      tooltip: (job) => this.jobSummary(job),
      onClick: (job) => this.selectJob(job.id, { from: "map" }),
    });
    this.techLayer.addTo(this.base.map);
    // "In the map's view": panning or zooming the map chooses the area the queue shows.
    this.base.map.on("moveend", () => {
      if (!this.disposed && this.filter.area === "map") this.renderSoon(["queue"]);
    });
    this.base.ready.catch((e) => notify(`The street map could not be loaded: ${explain(e)}`, "error"));
    void this.load();
  }

  unmount(): void {
    this.disposed = true;
    clearTimeout(this.refreshTimer);
    clearTimeout(this.renderTimer);
    clearTimeout(this.searchTimer);
    this.moreObserver?.disconnect();
    // The job markers, routes and technicians go before the map does (their canvas with it), and an animation the
    // map was running stops first: nothing is left to redraw on a canvas that is gone.
    this.clusters?.stop();
    this.routeLayer.clearLayers();
    this.techLayer.clearLayers();
    this.base?.map.stop();
    this.base?.map.remove();
  }

  onEvent(event: LiveEvent): void {
    if (this.disposed) return;
    const d = event.data;
    if (event.type === "technician.location") {
      // A ping carries the new position: move that technician's marker; the jobs and the plan did not change
      // (an ETA it changes arrives as its own job.eta event).
      const tech = this.techs.find((t) => t.id === Number(d.technician_id));
      if (tech && typeof d.lat === "number" && typeof d.lon === "number") {
        tech.current_lat = d.lat;
        tech.current_lon = d.lon;
        tech.last_seen_at = String(d.at ?? new Date().toISOString());
        this.drawTech(tech);
        this.base.map.getContainer().dataset.pings = String(Number(this.base.map.getContainer().dataset.pings ?? 0) + 1);
      }
      return;
    }
    if (event.type === "horizon.updated") {
      // A new horizon plan (the day's roll-over, a dispatcher's re-plan): the board's later days and the jobs'
      // tentative visits change; only the horizon is read again.
      void this.reloadHorizon();
      return;
    }
    if (event.type === GAP_EVENT) {
      // Events were missed (the connection dropped, or the server dropped some for this console): read everything.
      this.scheduleRefresh();
      return;
    }
    if (this.patch(event)) {
      this.countDelta(event.type);
      return;
    }
    if (/^(job|plan|route|technician)\./.test(event.type)) this.scheduleRefresh();
  }

  /** Apply what a live event says changed to the state in memory (no download of the job list); false when the event
   * does not say enough, and the view reloads. */
  private patch(event: LiveEvent): boolean {
    const d = event.data;
    const job = typeof d.job_id === "number" ? this.jobs.find((j) => j.id === d.job_id) : undefined;
    const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
    const num = (v: unknown): number | null => (typeof v === "number" ? v : null);
    /** The job's version when the event carries it; otherwise the Edit dialog reads the job afresh. */
    const version = (j: Job) => {
      if (typeof d.version === "number") j.version = d.version;
      else this.staleVersions.add(j.id);
    };
    switch (event.type) {
      case "job.created":
      case "job.updated": {
        if (!d.job || typeof d.job !== "object") return false;
        // The event carries the job as GET /jobs shows it: its card and its marker are drawn afresh; the board only
        // when the job is on it and something the board draws of it changed.
        const fresh = d.job as unknown as Job;
        const at = this.jobs.findIndex((j) => j.id === fresh.id);
        const before = at >= 0 ? this.jobs[at] : undefined;
        const board = (this.onBoard(fresh) || (before !== undefined && this.onBoard(before))) && boardChanged(before, fresh);
        if (at >= 0) this.jobs[at] = fresh;
        else this.jobs.push(fresh);
        this.staleVersions.delete(fresh.id);
        this.changedJobs.add(fresh.id);
        const parts: Part[] = ["jobs", "queue"];
        if (before?.status !== fresh.status) parts.push("info");
        if (before?.category !== fresh.category) parts.push("filters");
        if (board) parts.push("board");
        if (this.selectedJobId === fresh.id) parts.push("selection");
        this.renderSoon(parts);
        return true;
      }
      case "job.status": {
        // A technician's step (en route, on site, done, unable) or a cancellation: status, technician and ETA.
        if (!job) return false; // a job this console has not listed yet: read everything
        job.status = (str(d.status) ?? job.status) as Job["status"];
        if ("technician_id" in d) job.assigned_technician_id = num(d.technician_id);
        if ("eta_at" in d) job.eta_at = str(d.eta_at);
        if (typeof d.pinned === "boolean") job.pinned = d.pinned;
        else if (["completed", "unable", "cancelled"].includes(job.status)) job.pinned = false; // the server drops the pin
        version(job);
        this.touched(job);
        return true;
      }
      case "job.eta": {
        if (!job) return false;
        job.eta_at = str(d.eta_at);
        this.touched(job);
        return true;
      }
      case "job.assigned": {
        // A new plan gave the job to a technician (its plan.created comes first: the board's stops are read then).
        if (!job) return false;
        job.status = "assigned";
        job.assigned_technician_id = num(d.technician_id);
        job.eta_at = str(d.eta_at) ?? job.eta_at;
        job.dispatch_hold = false;
        this.reasons.delete(job.id);
        version(job);
        this.touched(job);
        return true;
      }
      case "job.unassigned": {
        if (!job) return false;
        job.status = "unassigned";
        job.assigned_technician_id = null;
        job.eta_at = null;
        job.pinned = false;
        if (typeof d.dispatch_hold === "boolean") job.dispatch_hold = d.dispatch_hold;
        if (typeof d.reason === "string" && d.reason) this.reasons.set(job.id, d.reason);
        version(job);
        this.touched(job);
        return true;
      }
      case "appointment.broken": {
        // A re-plan cannot keep the booked window: it is no longer held (new windows will be offered to the customer).
        if (job) {
          job.booked_start = null;
          job.booked_end = null;
          this.touched(job);
        }
        return true;
      }
      case "plan.created": {
        // A live change carries what changed (the days of the technicians it touched): patched in, and only their
        // routes read. A whole day's plan, or one after a version this console missed, is read afresh (not the job
        // list: each job it moved has its own event).
        notify(`New plan v${String(d.version ?? "")} (${titleCase(String(d.trigger ?? ""))})`, "info");
        if (typeof d.version === "number" && this.plan && this.plan.version >= d.version) return true;
        if (!isPlanDelta(d.delta) || !this.applyDelta(d.delta)) void this.loadPlan();
        return true;
      }
      case "route.updated":
      case "solve.updated":
        // A technician's own copy of their day, and the solver's progress: the plan.created that follows carries it.
        return true;
      case "technician.locked": {
        this.lockSeen.set(Number(d.technician_id), Boolean(d.locked));
        this.renderTimeline([Number(d.technician_id)]);
        return true;
      }
      case "technician.status": {
        // Running late or done early changes nothing the board draws; off sick sends their waiting jobs back to the
        // pool (the server does so in the same change: the event names them, or the rule is the server's).
        if (d.status !== "off_sick") return true;
        const tid = Number(d.technician_id);
        const ids = Array.isArray(d.unassigned_job_ids) ? new Set(d.unassigned_job_ids.map(Number)) : null;
        for (const j of this.jobs) {
          if (ids ? ids.has(j.id) : j.assigned_technician_id === tid && j.status === "assigned") {
            j.status = "unassigned";
            j.assigned_technician_id = null;
            j.eta_at = null;
            j.pinned = false;
            this.staleVersions.add(j.id);
            this.touched(j);
          }
        }
        return true;
      }
      default:
        return false;
    }
  }

  /** A job changed in memory: its search text and its card are stale, and its card and marker are drawn afresh
   * (once for a burst of events); the board only when the job is on it. */
  private touched(job: Job): void {
    this.hay.delete(job);
    this.cards.delete(job.id);
    this.changedJobs.add(job.id);
    const parts: Part[] = ["info", "jobs", "queue"];
    if (this.onBoard(job)) parts.push("board");
    if (this.selectedJobId === job.id) parts.push("selection");
    this.renderSoon(parts);
  }

  /** Whether the board draws this job: assigned to a technician, booked, or a stop of the plan. Most live changes
   * are to jobs waiting in the queue, and redrawing the board is the costly part of a redraw (`groundcrew bench
   * console` at 5,000 jobs). */
  private onBoard(job: Job): boolean {
    if (job.assigned_technician_id !== null && job.assigned_technician_id !== undefined) return true;
    if (job.booked_start) return true;
    if (this.horizonJobs.has(job.id)) return true;
    if (this.planStopsOf !== this.plan) {
      this.planStopsOf = this.plan;
      this.planStops = new Set((this.plan?.stops ?? []).map((s) => s.job_id));
    }
    return this.planStops.has(job.id);
  }

  /** One redraw for the events of a burst (a re-plan sends one per job it moved), from memory, of the parts they
   * touched. */
  private renderSoon(parts: Iterable<Part> = ALL_PARTS): void {
    for (const part of parts) this.dirty.add(part);
    if (this.renderTimer !== undefined) return;
    this.renderTimer = window.setTimeout(() => {
      this.renderTimer = undefined;
      if (!this.disposed) this.draw(true);
    }, 30);
  }

  /** Live events applied as deltas, by type (the map element's data-deltas: what tests and a curious reader see). */
  private countDelta(type: string): void {
    this.deltaCounts.set(type, (this.deltaCounts.get(type) ?? 0) + 1);
    const el = this.base?.map.getContainer();
    if (el) el.dataset.deltas = [...this.deltaCounts].map(([t, n]) => `${t}:${n}`).join(" ");
  }

  /** A new plan: the plan with its stops, its routes and the board's labels; the jobs' ETAs from its stops. No job
   * list: the jobs it moved come as their own events. The latest read wins. */
  private async loadPlan(): Promise<void> {
    const seq = ++this.planSeq;
    try {
      const plan = await maybe<Plan>("/plans/current");
      if (this.disposed || seq !== this.planSeq) return;
      const [routes, board] = plan ? await Promise.all([
        maybe<RoutesGeo>("/map/routes").catch(() => null),
        maybe<{ customers: Record<string, string> }>("/console/board").catch(() => null),
      ]) : [null, null];
      if (this.disposed || seq !== this.planSeq) return;
      this.applyPlan(plan, routes, board);
      this.etasFrom(plan?.stops ?? []);
      this.cards.clear();
      this.renderSoon(["info", "all-jobs", "all-routes", "queue", "all-board", "selection"]);
    } catch (e) {
      if (!this.disposed) this.scheduleRefresh();
      void e;
    }
  }

  /** The plan's arrivals are the jobs' ETAs (the server writes them so with the plan). */
  private etasFrom(stops: PlanStop[]): void {
    const byId = new Map(this.jobs.map((j) => [j.id, j]));
    for (const s of stops) {
      const j = byId.get(s.job_id);
      if (j && (j.status === "assigned" || j.status === "en_route") && j.assigned_technician_id === s.technician_id
        && j.eta_at !== s.arrival_at) {
        j.eta_at = s.arrival_at;
        this.touched(j);
      }
    }
  }

  /** The plan's parts the view keeps: the plan, its routes, who reported each job, why jobs were left out, what moved. */
  private applyPlan(plan: Plan | null, routes: RoutesGeo | null, board: { customers: Record<string, string> } | null): void {
    this.plan = plan;
    this.routes = routes;
    this.customers = new Map(Object.entries(board?.customers ?? {}).map(([id, name]) => [Number(id), name]));
    this.labelled = new Set(this.customers.keys());
    this.reasons = new Map((plan?.unassigned ?? []).map((u) => [Number(u.job_id), String(u.reason ?? "")]));
    this.highlighted = highlightsOf(plan);
  }

  /** A live change's delta patched into the plan held (false when it does not apply: the plan is read afresh). The
   * jobs it touched are drawn afresh; the routes and board labels of its technicians are read, nothing else. */
  private applyDelta(delta: PlanDelta): boolean {
    const plan = patchPlan(this.plan, delta);
    if (!plan) return false;
    this.planSeq += 1; // a read of an older plan still on its way is not applied over this one
    this.plan = plan;
    for (const id of delta.unassigned_removed) this.reasons.delete(id);
    for (const u of delta.unassigned_added) this.reasons.set(Number(u.job_id), String(u.reason ?? ""));
    const was = this.highlighted;
    this.highlighted = highlightsOf(plan);
    const touched = new Set<number>([...delta.unassigned_removed, ...delta.unassigned_added.map((u) => Number(u.job_id)),
      ...[...was].filter((id) => !this.highlighted.has(id)), ...[...this.highlighted].filter((id) => !was.has(id))]);
    const byId = new Map(this.jobs.map((j) => [j.id, j]));
    for (const id of touched) {
      const job = byId.get(id);
      if (job) this.touched(job);
    }
    this.etasFrom(delta.stops);
    for (const tid of delta.technicians) this.changedTechs.add(tid);
    const labels = delta.stops.some((s) => !this.labelled.has(s.job_id));
    this.renderSoon(["info", "jobs", "queue", "board", "selection"]);
    if (labels) this.dirty.delete("board"); // the board waits for the labels it needs (one redraw, not two)
    void this.readDeltaParts(delta, plan.version, labels);
    this.countDelta("plan.delta");
    return true;
  }

  /** The routes of a live change's technicians (all routes when none are held yet), and the board labels of its
   * jobs when some are not known yet. */
  private async readDeltaParts(delta: PlanDelta, version: number, labels: boolean): Promise<void> {
    const ids = delta.technicians;
    const some = ids.length > 0 && ids.length <= 200;
    const held = this.routes;
    const [routes, board] = await Promise.all([
      !held || ids.length > 200 ? maybe<RoutesGeo>("/map/routes").catch(() => null)
        : some ? maybe<RoutesGeo>(`/map/routes?technicians=${ids.join(",")}`).catch(() => null) : null,
      labels && some ? maybe<{ customers: Record<string, string> }>(`/console/board?technicians=${ids.join(",")}`).catch(() => null) : null,
    ]);
    if (this.disposed) return;
    for (const s of delta.stops) this.labelled.add(s.job_id);
    for (const [id, name] of Object.entries(board?.customers ?? {})) this.customers.set(Number(id), name);
    if (routes && held && held === this.routes && ids.length <= 200) {
      for (const tid of patchRoutes(held, ids, routes)) this.changedRoutes.add(tid);
      this.renderSoon(["routes"]);
    } else if (routes && (!this.routes || routes.plan_version >= this.routes.plan_version)) {
      this.routes = routes;
      this.renderSoon(["all-routes"]);
    }
    if (labels && this.plan?.version === version) this.renderSoon(["board"]);
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    if (this.bulkRunning) return; // one reload when the bulk change ends, not one per job it changed
    this.refreshTimer = window.setTimeout(() => void this.load(), 400);
  }

  private async reloadHorizon(): Promise<void> {
    const horizon = await maybe<Horizon>("/horizon").catch(() => null);
    if (this.disposed || horizon === null) return;
    this.horizon = horizon;
    this.horizonJobs = new Set(horizon.visits.map((v) => v.job_id));
    this.renderSoon(["all-board", "selection"]); // the board's days and a selected job's visits
  }

  async load(): Promise<void> {
    try {
      const [jobs, techs, plan, horizon] = await Promise.all([
        all<Job>("/jobs"), all<Technician>("/technicians"), maybe<Plan>("/plans/current"),
        maybe<Horizon>("/horizon").catch(() => null), // the board's later days; today's board without it
      ]);
      if (this.disposed) return;
      this.horizon = horizon;
      this.horizonJobs = new Set((horizon?.visits ?? []).map((v) => v.job_id));
      // Pages read in parallel while jobs change can overlap: one row per job.
      const seen = new Set<number>();
      this.jobs = jobs.filter((j) => !seen.has(j.id) && seen.add(j.id) !== undefined);
      this.techs = techs;
      this.planSeq += 1; // a plan read for an event before this load is older than this one
      const [routes, board] = plan ? await Promise.all([
        maybe<RoutesGeo>("/map/routes").catch(() => null),
        maybe<{ customers: Record<string, string> }>("/console/board").catch(() => null),
      ]) : [null, null];
      if (this.disposed) return;
      this.applyPlan(plan, routes, board);
      this.staleVersions.clear();
      this.hay = new WeakMap();
      this.cards.clear();
      const known = seen;
      for (const id of [...this.selected]) if (!known.has(id)) this.selected.delete(id);
      if (this.selectedJobId !== null && !known.has(this.selectedJobId)) this.selectedJobId = null;
      this.render();
    } catch (e) {
      notifyError(e);
      mount(this.queueEl, h("li", null, h("p", { class: "inline-error", role: "alert" }, explain(e)),
        h("button", { type: "button", onclick: () => void this.load() }, "Try again")));
    }
  }

  private render(): void {
    this.renderSoon(ALL_PARTS);
    clearTimeout(this.renderTimer);
    this.renderTimer = undefined;
    this.draw();
  }

  /** Draw the parts a live change or a load asked for (`renderSoon`), and only those. `split`: the queue, the map's
   * jobs, its routes and the board each in a task of their own, so that the page answers a click in between
   * (the Long Tasks API's 50 ms: `groundcrew bench console`). */
  private draw(split = false): void {
    const parts = this.dirty;
    const jobs = this.changedJobs;
    const routes = this.changedRoutes;
    this.dirty = new Set();
    this.changedJobs = new Set();
    this.changedRoutes = new Set();
    const techs = this.changedTechs;
    if (parts.has("board") || parts.has("all-board")) this.changedTechs = new Set();
    const steps: Array<() => void> = [() => {
      if (parts.has("info")) this.renderPlanInfo();
      if (parts.has("filters")) this.refreshFilterOptions();
      if (parts.has("queue")) this.renderQueue();
      if (parts.has("selection")) this.renderSelection();
    }, () => {
      if (parts.has("all-jobs")) this.clusters.setJobs(this.mapJobs());
      else if (parts.has("jobs")) this.clusters.patch(this.mapJobs(), jobs);
      if (parts.has("techs")) this.renderTechs();
    }, () => {
      if (parts.has("all-routes")) this.renderRoutes();
      else if (parts.has("routes")) this.renderRoutes(routes);
    }, () => {
      if (parts.has("all-board")) this.renderTimeline();
      else if (parts.has("board")) this.renderTimeline(techs);
    }];
    if (!split) {
      for (const step of steps) step();
      return;
    }
    const next = (i: number): void => {
      if (this.disposed || i >= steps.length) return;
      steps[i]();
      window.setTimeout(() => next(i + 1), 0);
    };
    next(0);
  }

  private renderPlanInfo(): void {
    const open = this.jobs.filter((j) => OPEN.has(j.status));
    mount(this.planInfo,
      this.plan
        ? h("span", { id: "plan-version", "data-version": this.plan.version },
          `Plan v${this.plan.version} · ${titleCase(this.plan.trigger)} · ${this.plan.stops.length} stop${this.plan.stops.length === 1 ? "" : "s"}`)
        : h("span", { id: "plan-version", "data-version": "0" }, "No plan yet — press Re-plan to solve one"),
      h("span", { class: "muted" }, ` · ${open.length} open jobs · ${this.techs.length} technicians`));
    const diff = this.plan?.diff as { previous_version?: number | null; moved?: Array<{ job_id: number; from: number | null; to: number | null }>; eta_changed?: unknown[] } | undefined;
    // A first plan has nothing to compare with: every job would count as "moved".
    if (diff && diff.previous_version != null && (diff.moved?.length || diff.eta_changed?.length)) {
      mount(this.diffEl, h("span", { class: "diff-summary", id: "plan-diff" },
        badge(`${diff.moved?.length ?? 0} moved`, "diff"), " ", badge(`${diff.eta_changed?.length ?? 0} ETA changed`, "diff"),
        h("span", { class: "muted" }, " since the previous plan (outlined)")));
    } else {
      mount(this.diffEl);
    }
  }

  private jobSummary(job: Job): HTMLElement {
    const tech = this.techs.find((t) => t.id === job.assigned_technician_id);
    return h("div", { class: "tip" },
      h("strong", null, job.title), h("br"),
      job.address ?? "", h("br"),
      `${titleCase(job.status)} · priority ${job.priority} · ${job.category}`, h("br"),
      `${job.reporter_count} reporter${job.reporter_count === 1 ? "" : "s"}`,
      tech ? [h("br"), `${tech.name}${job.eta_at ? `, ETA ${when(job.eta_at, config().timezone)}` : ""}`] : null);
  }

  /** The technicians' markers. */
  private renderTechs(): void {
    this.techLayer.clearLayers();
    this.techMarkers.clear();
    for (const tech of this.techs) this.drawTech(tech);
  }

  /** One technician's marker, drawn afresh: what a position ping changes (one marker, no jobs, no reload). */
  private drawTech(tech: Technician): void {
    const old = this.techMarkers.get(tech.id);
    if (old) this.techLayer.removeLayer(old);
    const live = tech.current_lat !== null && tech.current_lon !== null;
    const pos: [number, number] = live ? [tech.current_lat!, tech.current_lon!] : [tech.home_lat, tech.home_lon];
    const initials = tech.name.split(/\s+/).map((p) => p[0] ?? "").join("").slice(0, 2).toUpperCase();
    const icon = nodeIcon(h("span", { style: { background: techColour(tech.id) } }, initials), {
      className: `tech-icon${live ? "" : " tech-home"}`, iconSize: [26, 26], iconAnchor: [13, 13],
    });
    // Above the job clusters (same marker pane): a technician is never hidden under a count.
    const techMarker = L.marker(pos, { icon, title: `${tech.name} — ${live ? "live position" : "home base (no live position yet)"}`, keyboard: true,
      zIndexOffset: 1000 });
    nodeTooltip(techMarker, h("div", { class: "tip", dataset: { techId: tech.id } }, h("strong", null, tech.name), h("br"),
      live ? `live position, seen ${when(tech.last_seen_at, config().timezone)}` : "home base (no live position yet)"))
      .addTo(this.techLayer);
    this.techMarkers.set(tech.id, techMarker);
  }

  /** The routes on the map: every technician's, or (a live change) those of `only`. */
  private renderRoutes(only?: Set<number>): void {
    if (this.routes && only) {
      for (const tid of only) {
        const line = this.routeLines.get(tid);
        if (line) this.routeLayer.removeLayer(line);
        this.routeLines.delete(tid);
      }
      for (const f of this.routes.features) if (only.has(f.properties.technician_id)) this.drawRoute(f);
    } else if (this.routes) {
      this.routeLayer.clearLayers();
      this.routeLines.clear();
      for (const f of this.routes.features) this.drawRoute(f);
    } else {
      this.routeLayer.clearLayers();
      this.routeLines.clear();
    }
    if (this.routes) {
      this.base.map.getContainer().dataset.routes = String(this.routes.features.length);
      this.base.map.getContainer().dataset.planVersion = String(this.routes.plan_version);
    } else if (this.plan) {
      // Straight legs when the street routes are unavailable.
      for (const tech of this.techs) {
        const stops = this.plan.stops.filter((s) => s.technician_id === tech.id);
        if (!stops.length) continue;
        const pts: [number, number][] = [[tech.home_lat, tech.home_lon]];
        for (const s of stops) {
          const j = this.jobs.find((x) => x.id === s.job_id);
          if (j) pts.push([j.lat, j.lon]);
        }
        L.polyline(pts, { color: techColour(tech.id), weight: 3, dashArray: "6 6", className: `route route-tech-${tech.id}` }).addTo(this.routeLayer);
      }
    }
  }

  private drawRoute(f: RoutesGeo["features"][number]): void {
    const tid = f.properties.technician_id;
    const lines = f.geometry.coordinates.map((line) => line.map(([lon, lat]) => [lat, lon] as [number, number]));
    // The name is text: a string given to Leaflet's bindTooltip would be parsed as HTML (issue 25).
    const line = nodeTooltip(L.polyline(lines, { color: techColour(tid), weight: 4, opacity: 0.75, className: `route route-tech-${tid}` }),
      textTip(this.techs.find((t) => t.id === tid)?.name ?? "a technician no longer listed"), { sticky: true });
    line.addTo(this.routeLayer);
    this.routeLines.set(tid, line);
  }

  private techNames(): Map<number, string> {
    return new Map(this.techs.map((t) => [t.id, t.name]));
  }

  private reasonFor(job: Job): string {
    if (job.dispatch_hold) return "Held by a dispatcher (unassigned by hand): assign it, or release it to the planner.";
    if (isDeadEnd(job, { techs: this.techs, reasons: this.reasons })) {
      // Which skill is missing, whatever the plan's wording (it may say only "not assigned yet").
      const needs = Object.entries(job.required_skills).map(([k, v]) => `${titleCase(k)} level ${v}`).join(", ");
      return needs ? `${REASON_SKILL} (needs ${needs}).` : humanize(this.reasons.get(job.id) ?? REASON_SKILL, this.techNames());
    }
    const reason = this.reasons.get(job.id);
    if (reason) return humanize(reason, this.techNames());
    if (!this.plan) return "Not planned yet: no plan has been solved.";
    const created = new Date(job.created_at).getTime();
    if (created > new Date(this.plan.created_at).getTime()) return `New since plan v${this.plan.version}: not planned yet.`;
    return "Left out of the current plan (the planner gave no reason).";
  }

  /** Search, filters and grouping above the queue. */
  private queueControls(): HTMLElement {
    const search = h("input", { type: "search", id: "queue-search", placeholder: "Title, address, customer, job #",
      "aria-label": "Search jobs", autocomplete: "off" });
    this.searchEl = search;
    search.addEventListener("input", () => {
      this.filter.text = search.value;
      this.viewSelect.value = "";
      this.shown = QUEUE_PAGE;
      clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => {
        this.renderQueue();
        void this.searchCustomers(search.value);
      }, 150);
    });
    const select = (id: string, label: string, options: Array<[string, string]>, value: string, onChange: (v: string) => void) => {
      const el = h("select", { id, "aria-label": id === "group-by" ? label : `Filter by ${label.startsWith("SLA") ? label : label.toLowerCase()}` }, options.map(([v, text]) => h("option", { value: v }, text)));
      el.value = value;
      el.addEventListener("change", () => {
        onChange(el.value);
        this.viewSelect.value = "";
        this.shown = QUEUE_PAGE;
        this.renderQueue();
      });
      this.filterEls[id] = el;
      return h("label", { class: "filter" }, h("span", null, label), el);
    };
    const f = this.filter; // initial values only: a view replaces this.filter, so handlers write to this.filter
    this.fillViews();
    this.viewSelect.addEventListener("change", () => {
      const [kind, index] = this.viewSelect.value.split(":");
      const view = (kind === "b" ? BUILT_IN_VIEWS : savedViews())[Number(index)];
      if (view) this.applyView(view);
    });
    return h("div", { class: "queue-controls", role: "search", "aria-label": "Find jobs" },
      h("div", { class: "view-row" }, this.viewSelect,
        h("button", { type: "button", class: "small", id: "save-view", onclick: () => void this.saveViewDialog() }, "Add to views…")),
      search,
      h("div", { class: "filter-grid" },
        select("filter-status", "Status", [["unassigned", "Unassigned"], ["open", "Open (not finished)"],
          ...JOB_STATUSES.filter((x) => x !== "unassigned").map((x): [string, string] => [x, titleCase(x)]), ["all", "All"]],
        f.status, (v) => (this.filter.status = v)),
        select("filter-category", "Service", [["", "Any service"]], f.category, (v) => (this.filter.category = v)),
        select("filter-priority", "Priority", [["", "Any priority"], ["urgent", "Urgent (8–10)"], ["normal", "Normal (5–7)"],
          ["low", "Low (1–4)"]], f.priority, (v) => (this.filter.priority = v)),
        select("filter-risk", "SLA risk", [["", "Any SLA"], ["at_risk", "At risk (under 1 h or breached)"],
          ["breached", "Breached"], ["high", "Under 1 h to spare"], ["medium", "1–3 h to spare"], ["low", "Over 3 h to spare"],
          ["none", "No SLA"]], f.risk, (v) => (this.filter.risk = v)),
        select("filter-tech", "Technician", [["", "Anyone"], ["none", "Nobody yet"]], f.tech, (v) => (this.filter.tech = v)),
        select("filter-area", "Area", [["", "Anywhere"], ["map", "In the map's view"]], f.area ?? "", (v) => (this.filter.area = v)),
        select("group-by", "Group by", [["none", "No grouping"], ["status", "Status"], ["technician", "Technician"],
          ["service", "Service"]], this.groupBy, (v) => {
          this.groupBy = v as GroupBy;
          this.collapsed.clear();
        })),
      h("label", { class: "check small" }, h("input", { type: "checkbox", id: "map-matching", onchange: (ev: Event) => {
        this.mapMatching = (ev.currentTarget as HTMLInputElement).checked;
        this.clusters.setJobs(this.mapJobs());
      } }), " Map shows only the matching jobs"));
  }

  private fillViews(selected = ""): void {
    mount(this.viewSelect, h("option", { value: "" }, "Views…"),
      h("optgroup", { label: "Everyone's" }, BUILT_IN_VIEWS.map((v, i) => h("option", { value: `b:${i}` }, v.name))),
      savedViews().length ? h("optgroup", { label: "Saved in this browser" }, savedViews().map((v, i) => h("option", { value: `s:${i}` }, v.name))) : null);
    this.viewSelect.value = selected;
  }

  /** Put a view's search, filters and grouping on the queue (and its controls). */
  private applyView(view: QueueView): void {
    this.filter = { ...DEFAULT_FILTER, ...view.filter };
    this.groupBy = view.groupBy;
    this.collapsed.clear();
    this.shown = QUEUE_PAGE;
    this.searchEl.value = this.filter.text;
    const values: Record<string, string> = { "filter-status": this.filter.status, "filter-category": this.filter.category,
      "filter-priority": this.filter.priority, "filter-risk": this.filter.risk, "filter-tech": this.filter.tech, "filter-area": this.filter.area ?? "", "group-by": this.groupBy };
    for (const [id, value] of Object.entries(values)) {
      const el = this.filterEls[id];
      if (!el) continue;
      el.value = value;
      if (el.value !== value) {
        // A service or technician the jobs no longer have: the view still asks for it.
        el.append(h("option", { value }, id === "filter-tech" ? "A technician no longer listed" : titleCase(value)));
        el.value = value;
      }
    }
    this.renderQueue();
    void this.searchCustomers(this.filter.text);
  }

  private async saveViewDialog(): Promise<void> {
    await openDialog("Add this view to the list", (body, close) => {
      const name = h("input", { id: "view-name", maxlength: "60", required: true });
      const mine = savedViews();
      const form = h("form", { class: "form" },
        h("label", { for: "view-name" }, "Name"), name,
        h("p", { class: "muted small" }, "Saved in this browser: the search, the filters and the grouping."),
        h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save"),
          h("button", { type: "button", onclick: close }, "Cancel")),
        mine.length ? [h("h3", null, "Your saved views"), h("ul", { class: "plain" }, mine.map((v) =>
          h("li", null, v.name, " ", h("button", { type: "button", class: "link", onclick: () => {
            deleteView(v.name);
            this.fillViews();
            close();
            notify(`View “${v.name}” deleted`, "ok");
          } }, "Delete"))))] : null);
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const label = name.value.trim();
        if (!label) return;
        const views = saveView({ name: label, filter: { ...this.filter }, groupBy: this.groupBy });
        this.fillViews(`s:${views.findIndex((v) => v.name === label)}`);
        close();
        notify(`View “${label}” saved`, "ok");
      });
      mount(body, form);
      name.focus();
    });
  }

  /** The options that depend on the data: the services seen in the jobs and the technicians. */
  private refreshFilterOptions(): void {
    const fill = (el: HTMLSelectElement | undefined, fixed: number, options: Array<[string, string]>) => {
      if (!el) return;
      const value = el.value;
      while (el.options.length > fixed) el.remove(fixed);
      for (const [v, text] of options) el.append(h("option", { value: v }, text));
      el.value = options.some(([v]) => v === value) || [...el.options].some((o) => o.value === value) ? value : "";
    };
    const categories = [...new Set(this.jobs.map((j) => j.category))].sort();
    fill(this.filterEls["filter-category"], 1, categories.map((c) => [c, titleCase(c)]));
    fill(this.filterEls["filter-tech"], 2, [...this.techs].sort((a, b) => a.name.localeCompare(b.name)).map((t) => [String(t.id), t.name]));
    this.filter.category = this.filterEls["filter-category"]?.value ?? "";
    this.filter.tech = this.filterEls["filter-tech"]?.value ?? "";
  }

  /** Jobs reported by a customer whose name or address matches the search (asked of the server: names live with
   * the customers, not the jobs). At most 20 customers, each read with its cases. */
  private async searchCustomers(text: string): Promise<void> {
    const q = text.trim();
    this.customerQuery = q;
    if (q.length < 3 || /^#?\d+$/.test(q)) {
      if (this.customerHits) {
        this.customerHits = undefined;
        this.renderQueue();
      }
      return;
    }
    try {
      const found = await api<{ items: Array<{ id: number }> }>(`/customers?q=${encodeURIComponent(q)}&limit=20`);
      const cases = await Promise.all(found.items.map((c) =>
        api<{ items: Array<{ job_id: number | null }> }>(`/cases?customer_id=${c.id}&limit=100`).catch(() => ({ items: [] }))));
      if (this.disposed || this.customerQuery !== q) return;
      this.customerHits = new Set(cases.flatMap((p) => p.items.map((c) => c.job_id).filter((id): id is number => id !== null)));
      this.renderQueue();
    } catch {
      /* the search by title and address still works */
    }
  }

  private haystack(job: Job): string {
    let text = this.hay.get(job);
    if (text === undefined) this.hay.set(job, (text = haystack(job, this.techs)));
    return text;
  }

  /** The part of the city the map shows (for the "in the map's view" area filter); null before the map is drawn. */
  private viewBounds(): Bounds | null {
    const map = this.base?.map;
    if (!map) return null;
    const b = map.getBounds();
    const view = { south: b.getSouth(), west: b.getWest(), north: b.getNorth(), east: b.getEast() };
    map.getContainer().dataset.view = [view.south, view.west, view.north, view.east].join(","); // what was filtered by
    return view;
  }

  private mapJobs(): Job[] {
    return this.mapMatching ? this.matched : this.jobs.filter((j) => OPEN.has(j.status));
  }

  private renderQueue(): void {
    const now = new Date();
    const hits = this.customerQuery === this.filter.text.trim() ? this.customerHits : undefined;
    const { rows, matched } = queueRows(this.jobs, this.filter, this.groupBy,
      { now, techs: this.techs, reasons: this.reasons, customerHits: hits, bounds: this.viewBounds() }, (j) => this.haystack(j),
      this.collapsed);
    const changed = matched.length !== this.matched.length || matched.some((j, i) => j !== this.matched[i]);
    this.matched = matched;
    if (this.mapMatching && changed && this.clusters) this.clusters.setJobs(this.mapJobs());
    this.queueCount.textContent = `(${matched.length}${matched.length === this.jobs.length ? "" : ` of ${this.jobs.length}`})`;
    this.queueCount.dataset.matched = String(matched.length);
    let jobsDrawn = 0;
    const visible: Row[] = [];
    for (const row of rows) {
      if (row.kind === "job") {
        if (jobsDrawn >= this.shown) break;
        jobsDrawn += 1;
      }
      visible.push(row);
    }
    const drawn = new Set<number>();
    reconcile(this.queueEl, visible.map((row) => {
      if (row.kind === "group") return this.groupHeader(row);
      drawn.add(row.job.id);
      return this.queueItem(row.job, now);
    }));
    for (const id of this.cards.keys()) if (!drawn.has(id)) this.cards.delete(id);
    if (!matched.length) {
      const none = this.jobs.length ? "No job matches the search and filters." : "No jobs yet.";
      mount(this.queueEl, h("li", { class: "muted empty-note" }, this.filter.status === "unassigned" && !words(this.filter.text).length
        && !this.filter.category && !this.filter.priority && !this.filter.risk && !this.filter.tech
        ? "Nothing waiting. Every open job is planned." : none));
    }
    const rest = rows.filter((r) => r.kind === "job").length - jobsDrawn;
    this.queueEl.dataset.drawn = String(jobsDrawn);
    this.moreObserver?.disconnect();
    if (rest > 0) {
      const more = h("button", { type: "button", class: "small", id: "show-more", onclick: () => this.showMore() },
        `Show ${Math.min(rest, QUEUE_PAGE)} more`);
      mount(this.queueMore, h("span", { class: "muted small" }, `Showing ${jobsDrawn} of ${jobsDrawn + rest} · `), more);
      // Scrolling to the end of the list draws the next page by itself.
      this.moreObserver ??= new IntersectionObserver((entries) => {
        if (entries.some((e) => e.isIntersecting)) this.showMore();
      }, { root: this.queueEl.closest(".queue-scroll"), rootMargin: "200px" });
      this.moreObserver.observe(more);
    } else {
      mount(this.queueMore);
    }
    this.renderBulkBar();
  }

  private showMore(): void {
    this.shown += QUEUE_PAGE;
    this.renderQueue();
  }

  private groupHeader(row: Extract<Row, { kind: "group" }>): HTMLElement {
    const open = !this.collapsed.has(row.key);
    return h("li", { class: `queue-group${row.deadEnd ? " dead-end" : ""}`, dataset: { group: row.key } },
      h("button", { type: "button", class: "group-toggle", "aria-expanded": open ? "true" : "false", onclick: () => {
        if (open) this.collapsed.add(row.key);
        else this.collapsed.delete(row.key);
        this.renderQueue();
      } }, open ? "▾ " : "▸ ", row.label, " ", h("span", { class: "count" }, `(${row.count})`)),
      row.deadEnd ? h("p", { class: "muted small" }, "A plan cannot take these: add the skill to a technician, change the job's skills, or close it.") : null);
  }

  /** A job's card in the queue: the one drawn before when the job and all it says are the same. */
  private queueItem(job: Job, now: Date): HTMLElement {
    const tz = config().timezone;
    const risk = riskLabel(slackMinutes(job, now), job.sla_due_at, tz, now);
    const tech = this.techs.find((t) => t.id === job.assigned_technician_id);
    const due = job.sla_due_at && risk.level !== "none" && !risk.text.includes("due") ? when(job.sla_due_at, tz, now) : "";
    const why = job.status === "unassigned" ? this.reasonFor(job) : "";
    const eta = job.eta_at ? when(job.eta_at, tz, now) : "";
    const selected = this.selected.has(job.id);
    const stamp = [risk.level, risk.text, due, why, eta, tech?.name ?? "", selected].join("\u0000");
    const kept = this.cards.get(job.id);
    if (kept && kept.job === job && kept.stamp === stamp) return kept.el;
    const el = this.buildQueueItem(job, risk, tech, due, why, eta, selected);
    this.cards.set(job.id, { job, stamp, el });
    return el;
  }

  private buildQueueItem(job: Job, risk: { level: string; text: string }, tech: Technician | undefined, due: string,
    why: string, eta: string, selected: boolean): HTMLElement {
    const check = h("input", { type: "checkbox", class: "qi-select", "aria-label": `Select job ${job.id}: ${job.title}` });
    check.checked = selected;
    check.addEventListener("change", () => {
      if (check.checked) this.selected.add(job.id);
      else this.selected.delete(job.id);
      item.classList.toggle("selected", check.checked);
      this.cards.delete(job.id); // its stamp says "not selected"
      this.renderBulkBar();
    });
    const dead = isDeadEnd(job, { techs: this.techs, reasons: this.reasons });
    const item = h("li", { class: `queue-item risk-${risk.level}${check.checked ? " selected" : ""}${dead ? " dead-end" : ""}`, draggable: job.status === "unassigned" ? "true" : "false",
      dataset: { jobId: job.id, status: job.status }, tabindex: "-1" },
      h("div", { class: "qi-head" }, check,
        h("span", { class: "prio", title: "priority", "aria-label": `priority ${job.priority}` }, `P${job.priority}`),
        h("strong", { class: "qi-title" }, job.title),
        job.reporter_count > 1 ? badge(`${job.reporter_count} reporters`) : null, this.visitTag(job)),
      h("div", { class: "qi-meta" }, job.address ?? `${job.lat.toFixed(4)}, ${job.lon.toFixed(4)}`, " · ", titleCase(job.category),
        " · ", `${job.duration_min} min`, " · ", h("span", { class: "job-no" }, `#${job.id}`)),
      h("div", { class: `qi-risk risk-${risk.level}` }, risk.text, due ? h("span", { class: "muted" }, ` · due ${due}`) : null),
      job.status === "unassigned"
        ? h("div", { class: "qi-why" }, h("span", { class: "muted" }, "Why unassigned: "), why)
        : h("div", { class: "qi-why" }, titleCase(job.status), tech ? ` · ${tech.name}` : "", eta ? ` · ETA ${eta}` : ""),
      h("div", { class: "qi-actions" },
        job.status === "unassigned" ? h("button", { type: "button", class: "primary small", onclick: () => this.assignDialog(job) }, "Assign…")
          : h("button", { type: "button", class: "small", onclick: () => this.openJob(job) }, "Details…"),
        job.dispatch_hold && job.status === "unassigned"
          ? h("button", { type: "button", class: "small qi-release", onclick: (ev: Event) => void this.release(job, ev.currentTarget as HTMLButtonElement) },
            "Release to planner")
          : null,
        h("button", { type: "button", class: "small", onclick: () => this.focusJob(job) }, "Show on map"),
        h("button", { type: "button", class: "small", onclick: () => this.editDialog(job) }, "Edit…")));
    item.addEventListener("dragstart", (ev) => {
      ev.dataTransfer?.setData("text/x-job-id", String(job.id));
      ev.dataTransfer?.setData("text/plain", `job ${job.id}`);
      if (ev.dataTransfer) ev.dataTransfer.effectAllowed = "move";
      item.classList.add("dragging");
    });
    item.addEventListener("dragend", () => item.classList.remove("dragging"));
    touchDraggable(item, job.id, () => item.draggable);
    return item;
  }

  /** What the selection is and what can be done to it: assign to a technician, re-prioritise, cancel. */
  private renderBulkBar(): void {
    const n = this.selected.size;
    const matchedIds = this.matched.map((j) => j.id);
    const allMatched = matchedIds.length > 0 && matchedIds.every((id) => this.selected.has(id));
    const selectAll = h("button", { type: "button", class: "link", id: "select-all", onclick: () => {
      if (allMatched) for (const id of matchedIds) this.selected.delete(id);
      else for (const id of matchedIds) this.selected.add(id);
      this.renderQueue();
    } }, allMatched ? `Unselect the ${matchedIds.length} matching` : `Select all ${matchedIds.length} matching`);
    this.bulkBar.hidden = false;
    if (!n) {
      mount(this.bulkBar, matchedIds.length ? selectAll : null);
      return;
    }
    const prio = h("select", { id: "bulk-priority", "aria-label": "New priority" },
      h("option", { value: "" }, "Priority…"), Array.from({ length: 10 }, (_, i) => h("option", { value: String(10 - i) }, `P${10 - i}`)));
    const apply = h("button", { type: "button", class: "small primary", id: "bulk-apply-priority", onclick: () => {
      if (prio.value) void this.bulkPriority(Number(prio.value));
      else prio.focus();
    } }, "Set");
    const techSel = h("select", { id: "bulk-tech", "aria-label": "Technician to assign the selected jobs to" },
      h("option", { value: "" }, "Assign to…"),
      [...this.techs].sort((a, b) => a.name.localeCompare(b.name)).map((t) => h("option", { value: String(t.id) }, t.name)));
    const assign = h("button", { type: "button", class: "small primary", id: "bulk-assign", onclick: () => {
      const tech = this.techs.find((t) => t.id === Number(techSel.value));
      if (tech) void this.bulkAssignDialog(tech);
      else techSel.focus();
    } }, "Assign…");
    mount(this.bulkBar,
      h("strong", { id: "selected-count", dataset: { count: n } }, `${n} selected`), " ",
      selectAll, " ",
      h("button", { type: "button", class: "link", id: "clear-selection", onclick: () => {
        this.selected.clear();
        this.renderQueue();
      } }, "Clear"),
      h("div", { class: "bulk-actions" }, techSel, assign),
      h("div", { class: "bulk-actions" }, prio, apply,
        h("button", { type: "button", class: "small danger", id: "bulk-cancel", onclick: () => void this.bulkCancel() }, "Cancel jobs…")));
  }

  private selectedJobs(): Job[] {
    return this.jobs.filter((j) => this.selected.has(j.id));
  }

  /** The same request for each selected job, four at a time; what failed is said job by job (a bulk change keeps the
   * per-job rules: the version check, the allowed status steps, the audit trail). */
  private async runBulk(label: string, jobs: Job[], one: (job: Job) => Promise<unknown>, workers = 4): Promise<void> {
    const failed: Array<[Job, unknown]> = [];
    let done = 0;
    let next = 0;
    const progress = notify(`${label}: 0 of ${jobs.length}…`, "info");
    this.bulkRunning = true;
    const text = progress.querySelector(".notice-text");
    const worker = async () => {
      while (next < jobs.length) {
        const job = jobs[next++];
        try {
          await one(job);
          done += 1;
          this.selected.delete(job.id);
        } catch (e) {
          failed.push([job, e]);
        }
        if (text) text.textContent = `${label}: ${done + failed.length} of ${jobs.length}…`;
      }
    };
    try {
      await Promise.all(Array.from({ length: workers }, worker));
    } finally {
      this.bulkRunning = false;
      progress.remove();
    }
    if (done) notify(`${label}: ${done} job${done === 1 ? "" : "s"} done`, "ok");
    if (failed.length) {
      const list = failed.slice(0, 5).map(([j, e]) => `“${j.title}” (#${j.id}): ${explain(e)}`).join("; ");
      notify(`${label}: ${failed.length} not done — ${list}${failed.length > 5 ? `; and ${failed.length - 5} more (still selected)` : ""}`, "error");
    }
    await this.load();
  }

  private async bulkPriority(priority: number): Promise<void> {
    const jobs = this.selectedJobs().filter((j) => j.priority !== priority);
    if (!jobs.length) {
      notify(`Every selected job already has priority ${priority}.`, "info");
      return;
    }
    await this.runBulk(`Priority ${priority}`, jobs, (job) =>
      api(`/jobs/${job.id}`, { method: "PATCH", body: { priority, version: job.version } }));
  }

  /** Give the selected jobs to one technician: each job's cost is previewed first (against today's plan, one job at a
   * time: the jobs that cannot go to them are named, with the reason), then the assignments are made one after
   * another (each is a new plan version, so they never race each other). */
  private async bulkAssignDialog(tech: Technician): Promise<void> {
    const jobs = this.selectedJobs();
    const movable = jobs.filter((j) => j.status === "unassigned" || (j.status === "assigned" && j.assigned_technician_id !== tech.id));
    const skipped = jobs.length - movable.length;
    await openDialog(`Assign ${movable.length} job${movable.length === 1 ? "" : "s"} to ${tech.name}?`, (body, close) => {
      const rows = new Map<number, HTMLElement>();
      const list = h("ul", { class: "plain bulk-list", id: "bulk-assign-list" }, movable.map((j) => {
        const li = h("li", { dataset: { jobId: j.id } }, h("strong", null, `#${j.id} ${j.title}`), " ", h("span", { class: "muted bulk-cost" }, "checking…"));
        rows.set(j.id, li);
        return li;
      }));
      const summary = h("p", { id: "bulk-assign-summary", "aria-live": "polite" }, "Checking what each job would cost…");
      const ok: Job[] = [];
      const confirm = h("button", { type: "button", class: "primary", id: "confirm-bulk-assign", disabled: true, onclick: () => {
        close();
        void this.runBulk(`Assign to ${tech.name}`, ok, async (job) => {
          try {
            return await dispatchApi.commit({ action: "assign", job_id: job.id, technician_id: tech.id });
          } catch (e) {
            // Each preview was against the day as it was; the jobs assigned before this one may have filled it.
            if (e instanceof ApiError && e.status === 409) {
              throw new Error(`no longer fits ${tech.name}'s day after the jobs before it (${humanize(e.detail.replace(/^override breaks a hard constraint: /, ""), this.techNames())})`);
            }
            throw e;
          }
        }, 1);
      } }, "Assign");
      mount(body,
        h("p", null, `Each job is checked on its own against today's plan, so together they may not all fit: they are assigned one after another, and any that no longer fits is named and stays selected. Assigned jobs are pinned to ${tech.name}.`),
        skipped ? h("p", { class: "muted" }, `${skipped} selected job${skipped === 1 ? " is" : "s are"} already ${tech.name}'s, started or finished: left as ${skipped === 1 ? "it is" : "they are"}.`) : null,
        list, summary,
        h("div", { class: "actions" }, confirm, h("button", { type: "button", onclick: close }, "Cancel")));
      void (async () => {
        let travel = 0;
        for (const job of movable) {
          const cost = rows.get(job.id)?.querySelector(".bulk-cost");
          try {
            const p = await dispatchApi.preview({ action: "assign", job_id: job.id, technician_id: tech.id });
            if (!p.feasible) throw new Error(`breaks a hard rule${p.notes.length ? `: ${humanize(p.notes.join("; "), this.techNames())}` : ""}`);
            ok.push(job);
            travel += p.added_travel_s;
            if (cost) cost.textContent = (Math.abs(p.added_travel_s) < 30 ? "no extra driving"
              : `${p.added_travel_s > 0 ? "adds" : "saves"} ${duration(Math.abs(p.added_travel_s))} of driving`)
              + `${p.added_lateness_s > 0 ? `, ${duration(p.added_lateness_s)} later past SLAs` : ""}`;
          } catch (e) {
            rows.get(job.id)?.classList.add("bad");
            if (cost) cost.textContent = `cannot go to ${tech.name}: ${humanize(explain(e), this.techNames())}`;
          }
        }
        summary.textContent = `${ok.length} of ${movable.length} can go to ${tech.name}`
          + (ok.length ? ` (about ${duration(Math.abs(travel))} ${travel >= 0 ? "more" : "less"} driving, counted job by job).` : ".");
        confirm.textContent = `Assign ${ok.length} job${ok.length === 1 ? "" : "s"} to ${tech.name}`;
        confirm.disabled = !ok.length;
        if (ok.length) confirm.focus();
      })();
    });
  }

  private async bulkCancel(): Promise<void> {
    const jobs = this.selectedJobs();
    const cancellable = jobs.filter((j) => ["unassigned", "assigned", "en_route"].includes(j.status));
    const skipped = jobs.length - cancellable.length;
    await openDialog(`Cancel ${cancellable.length} job${cancellable.length === 1 ? "" : "s"}?`, (body, close) => {
      const reason = h("input", { id: "bulk-cancel-reason", maxlength: "500", placeholder: "e.g. duplicate, resolved by the caller" });
      const confirm = h("button", { type: "button", class: "primary danger", id: "confirm-bulk-cancel", disabled: !cancellable.length,
        onclick: () => {
          close();
          void this.runBulk("Cancel", cancellable, (job) => api(`/jobs/${job.id}/status`, { method: "POST", body: {
            status: "cancelled", reason: reason.value.trim() || null, idempotency_key: `console-cancel-${job.id}-${job.version}` } }));
        } }, `Cancel ${cancellable.length} job${cancellable.length === 1 ? "" : "s"}`);
      mount(body,
        h("p", null, "Their reporters get the closing message; the plan is re-made without them. This cannot be undone."),
        skipped ? h("p", { class: "muted" }, `${skipped} selected job${skipped === 1 ? " is" : "s are"} on site or finished and cannot be cancelled: left as they are.`) : null,
        h("ul", { class: "plain bulk-list" }, cancellable.slice(0, 8).map((j) => h("li", null, `#${j.id} ${j.title}`)),
          cancellable.length > 8 ? h("li", { class: "muted" }, `and ${cancellable.length - 8} more`) : null),
        h("label", { for: "bulk-cancel-reason" }, "Reason (kept in each job's history)"), reason,
        h("div", { class: "actions" }, confirm, h("button", { type: "button", onclick: close }, "Keep them")));
      reason.focus();
    });
  }

  /** The board; `changed`: only the rows of these technicians and rows that changed are built again (a live change,
   * a selection, a lock); without it, all of it (a load, another day). */
  private renderTimeline(changed?: Iterable<number>): void {
    renderTimeline(this.timelineEl, {
      techs: this.techs, jobs: this.jobs, plan: this.plan, highlighted: this.highlighted,
      timezone: config().timezone, colour: techColour, statusColours: STATUS_COLOURS,
      customers: this.customers, etaWindowMin: config().eta_window_min ?? 20,
      selectedJobId: this.selectedJobId, day: this.boardDay, horizon: this.horizon,
      onDay: (day) => {
        this.boardDay = day;
        this.renderTimeline();
      },
      onDrop: (drop) => {
        const job = this.jobs.find((j) => j.id === drop.jobId);
        if (job) void this.assignDialog(job, drop);
      },
      onSelect: (jobId, byKeyboard) => this.selectJob(jobId, { from: "board", byKeyboard }),
      onMoveKey: (jobId) => {
        const job = this.jobs.find((j) => j.id === jobId);
        if (job) void this.moveDialog(job);
      },
      onLock: (tech, locked) => void this.lock(tech, locked),
      onFocusTech: (tech) => {
        const live = tech.current_lat !== null && tech.current_lon !== null;
        this.base.map.setView(live ? [tech.current_lat!, tech.current_lon!] : [tech.home_lat, tech.home_lon], 15);
      },
      lockedIds: this.lockedIds(),
    }, changed);
  }

  /** Select a job on the board or the map, and show it in the other: the map centres on it with its tooltip; the
   * board shows its day, outlines its bar and scrolls to it. From the keyboard, focus goes to the selection's actions. */
  selectJob(jobId: number | null, opts: { from: "board" | "map" | "queue"; byKeyboard?: boolean }): void {
    this.selectedJobId = jobId;
    const job = jobId === null ? undefined : this.jobs.find((j) => j.id === jobId);
    const stop = this.plan?.stops.find((s) => s.job_id === jobId);
    const mapEl = this.base.map.getContainer();
    if (jobId === null) delete mapEl.dataset.selectedJob;
    else mapEl.dataset.selectedJob = String(jobId);
    const tentative = this.visitsOf(jobId)[0];
    if (stop) {
      this.boardDay = localDay(new Date(stop.start_at), config().timezone);
    } else if (tentative) {
      this.boardDay = dayNumber(tentative.day);
    }
    this.renderTimeline([]); // the rows of the bars selected and unselected (another day: all of it)
    this.renderSelection();
    if (job && opts.from !== "map") this.clusters.focus(job);
    else if (job) this.clusters.setJobs(this.mapJobs()); // redraw: the selected job's ring
    else this.clusters.unfocus();
    if (jobId !== null && opts.from !== "board") {
      const bar = this.timelineEl.querySelector<HTMLElement>(`.tl-bar[data-job-id="${jobId}"]`);
      if (bar) {
        const scroller = this.timelineEl.querySelector<HTMLElement>(".board-scroll");
        if (scroller) scroller.scrollLeft = Math.max(0, bar.offsetLeft - 260 - HOUR_PX);
        bar.scrollIntoView({ block: "nearest" });
      }
    }
    if (opts.byKeyboard) this.selectionEl.querySelector<HTMLButtonElement>("#move-selected")?.focus();
  }

  /** The selected job in words, with Details, Move and (when planned) Show on the board. */
  private renderSelection(): void {
    const job = this.selectedJobId === null ? undefined : this.jobs.find((j) => j.id === this.selectedJobId);
    if (!job) {
      mount(this.selectionEl);
      return;
    }
    const tz = config().timezone;
    const stop = this.plan?.stops.find((s) => s.job_id === job.id);
    const tech = this.techs.find((t) => t.id === (stop?.technician_id ?? job.assigned_technician_id));
    const customer = this.customers.get(job.id);
    const movable = job.status === "unassigned" || job.status === "assigned";
    const parts = stop ? [] : this.visitsOf(job.id);
    const shownPart = parts.find((v) => dayNumber(v.day) === this.boardDay) ?? parts[0];
    const tags = visitWords(job, { visit: shownPart, names: this.techNames(), timeZone: tz });
    mount(this.selectionEl, h("span", { class: "sel-text", id: "selection-text", dataset: { jobId: job.id } },
      h("strong", null, `Selected: #${job.id} ${job.title}`),
      customer ? ` · ${customer}` : "", ` · ${titleCase(job.status)}`, tech ? ` · ${tech.name}` : "",
      stop ? ` · ${when(stop.start_at, tz)}–${clock(stop.end_at, tz)}` : "",
      shownPart ? ` · tentative ${shortDate(shownPart.start_at, tz)} ${clock(shownPart.start_at, tz)}–${clock(shownPart.end_at, tz)}, ${shownPart.technician_name}` : "",
      tags.length ? ` · ${tags.join(" · ")}` : ""),
    h("button", { type: "button", class: "small", id: "details-selected", onclick: () => this.openJob(job, stop) }, "Details…"),
    movable ? h("button", { type: "button", class: "small primary", id: "move-selected", onclick: () => void this.moveDialog(job) },
      job.status === "unassigned" ? "Schedule…" : "Move…") : null,
    h("button", { type: "button", class: "small link", onclick: () => this.selectJob(null, { from: "board" }) }, "Clear selection"));
  }

  private lockedIds(): Set<number> {
    const ids = new Set<number>((this.plan?.stats.locked_technicians as number[]) ?? []);
    for (const [id, locked] of this.lockSeen) {
      if (locked) ids.add(id);
      else ids.delete(id);
    }
    return ids;
  }

  /** A queue card's small tag for a return visit ("↩ Return #12") or a multi-day visit ("Multi-day · 3 days"),
   * its words in full as the tag's title; null for any other job. */
  private visitTag(job: Job): HTMLElement | null {
    const parts = this.visitsOf(job.id);
    const done = job.parts_done ?? 0;
    const days = done + Math.max(0, ...parts.map((v) => v.parts));
    const words = visitWords(job, { visit: parts[0], names: this.techNames(), timeZone: config().timezone });
    const text = job.follow_up_of ? `↩ Return #${job.follow_up_of}` : days > 1 || done ? `Multi-day${days > 1 ? ` · ${days} days` : ""}` : null;
    if (!text) return null;
    const tag = badge(text, "visit-tag");
    tag.title = words.join(" · ");
    return tag;
  }

  /** The job's tentative visits in the horizon plan (its daily parts, in order; one for a one-visit job). */
  private visitsOf(jobId: number | null): HorizonVisit[] {
    if (jobId === null) return [];
    return (this.horizon?.visits ?? []).filter((v) => v.job_id === jobId).sort((a, b) => a.part - b.part);
  }

  /** A job's details by id (a linked original or return visit): from memory, else read from the server. */
  private openJobById(jobId: number): void {
    const known = this.jobs.find((j) => j.id === jobId);
    if (known) {
      this.openJob(known, this.plan?.stops.find((s) => s.job_id === jobId));
      return;
    }
    api<Job>(`/jobs/${jobId}`).then((job) => this.openJob(job)).catch(notifyError);
  }

  /** The details' lines for a return visit, its original's return visits, the technician preferred and the horizon's
   * tentative days (a multi-day visit's parts), with links between a return visit and its original job. */
  private visitFacts(job: Job, close: () => void): HTMLElement[] {
    const tz = config().timezone;
    const names = this.techNames();
    const link = (id: number) => {
      const other = this.jobs.find((j) => j.id === id);
      return h("button", { type: "button", class: "link job-link", dataset: { jobId: id },
        onclick: () => { close(); this.openJobById(id); } },
      `#${id}${other ? ` ${other.title}` : ""}${other ? ` (${titleCase(other.status).toLowerCase()})` : ""}`);
    };
    const out: HTMLElement[] = [];
    const arrives = job.earliest_at ? shortDate(job.earliest_at, tz) : null;
    if (job.follow_up_of) {
      out.push(h("dt", null, "Return visit for"),
        h("dd", { id: "detail-follow-up-of" }, "Return visit for job ", link(job.follow_up_of), arrives ? ` (part arrives ${arrives})` : ""));
    } else if (arrives) {
      out.push(h("dt", null, "Not before"), h("dd", null, arrives));
    }
    if (job.follow_ups?.length) {
      out.push(h("dt", null, "Return visits"),
        h("dd", { id: "detail-follow-ups" }, job.follow_ups.flatMap((id, i) => (i ? [", ", link(id)] : [link(id)]))));
    }
    const preferred = job.preferred_technician_id ? names.get(job.preferred_technician_id) : undefined;
    if (preferred) out.push(h("dt", null, "Preferred technician"), h("dd", { id: "detail-preferred" }, preferred));
    const parts = this.visitsOf(job.id);
    const done = job.parts_done ?? 0;
    if (parts.length || done) {
      const multi = parts.some((v) => v.parts > 1) || done > 0;
      out.push(h("dt", null, multi ? "Multi-day visit" : "Horizon plan"),
        h("dd", { id: "detail-visits" }, done ? h("div", null, `${done} day${done === 1 ? "" : "s"} done`) : null,
          parts.map((v) => h("div", null,
            `${multi ? `${visitWords({ parts_done: done }, { visit: v, timeZone: tz })[0]}: ` : ""}`
            + `${shortDate(v.start_at, tz)} ${clock(v.start_at, tz)}–${clock(v.end_at, tz)}, ${v.technician_name} (tentative)`))));
    }
    return out;
  }

  private focusJob(job: Job): void {
    this.selectJob(job.id, { from: "queue" });
  }

  /** Details of one job, with the actions that fit its state. */
  private openJob(job: Job, stop?: PlanStop): void {
    const tech = this.techs.find((t) => t.id === job.assigned_technician_id);
    void openDialog(`Job ${job.id}: ${job.title}`, (body, close) => {
      const result = h("div", { class: "dialog-result" });
      const reporters = h("section", { class: "reporters-box", "aria-live": "polite" });
      const act = (label: string, fn: () => Promise<unknown>, ok: string, cls = "") =>
        h("button", { type: "button", class: cls, onclick: async (ev: Event) => {
          const b = ev.currentTarget as HTMLButtonElement;
          b.disabled = true;
          try {
            await fn();
            notify(ok, "ok");
            close();
            void this.load();
          } catch (e) {
            inlineError(result, e);
            b.disabled = false;
          }
        } }, label);
      mount(body,
        h("dl", { class: "facts" },
          h("dt", null, "Where"), h("dd", null, job.address ?? `${job.lat}, ${job.lon}`),
          h("dt", null, "Status"), h("dd", null, titleCase(job.status), job.pinned ? " · pinned" : "",
            job.dispatch_hold ? " · held off the plan" : ""),
          h("dt", null, "Priority"), h("dd", null, String(job.priority)),
          h("dt", null, "Reporters"), h("dd", null, String(job.reporter_count)),
          h("dt", null, "Technician"), h("dd", null, tech?.name ?? "—"),
          this.visitFacts(job, close),
          stop ? [h("dt", null, "Planned"), h("dd", null, `${when(stop.start_at, config().timezone)}–${clock(stop.end_at, config().timezone)}, `
            + `travel ${duration(stop.travel_s)}, ${km(stop.distance_m)}`)] : null,
          h("dt", null, "Description"), h("dd", { class: "pre" }, job.description)),
        h("div", { class: "actions" },
          job.status === "unassigned" ? h("button", { type: "button", class: "primary", onclick: () => { close(); void this.assignDialog(job); } }, "Assign…") : null,
          job.status === "unassigned" || job.status === "assigned" ? h("button", { type: "button", onclick: () => { close(); void this.moveDialog(job); } },
            job.status === "unassigned" ? "Schedule at a time…" : "Move to a technician and time…") : null,
          tech && !job.pinned ? act("Pin to " + tech.name, () => dispatchApi.commit({ action: "pin", job_id: job.id, technician_id: tech.id }), `Job ${job.id} pinned to ${tech.name}`) : null,
          job.pinned ? act("Unpin", () => dispatchApi.commit({ action: "unpin", job_id: job.id }), `Job ${job.id} unpinned`) : null,
          job.dispatch_hold ? act("Release to the planner", () => dispatchApi.commit({ action: "unpin", job_id: job.id }),
            `Job ${job.id} released: the next plan may place it`) : null,
          job.status === "assigned" ? act("Unassign", () => dispatchApi.commit({ action: "unassign", job_id: job.id }),
            `Job ${job.id} unassigned: held off the plan until assigned or released`) : null,
          job.status === "assigned" ? h("button", { type: "button", onclick: () => { close(); void this.assignDialog(job); } }, "Reassign…") : null,
          h("button", { type: "button", onclick: () => { close(); void this.editDialog(job); } }, "Edit…")),
        result, reporters);
      void api<Array<{ channel: string | null; customer_name: string; text: string; sent_at: string | null }>>(`/jobs/${job.id}/reporters`)
        .then((rows) => mount(reporters, h("h3", null, `Reported by (${rows.length})`), h("ul", { class: "plain reporters" }, rows.map((r) =>
          h("li", null, h("strong", null, r.customer_name || "someone"), ` · ${titleCase(r.channel ?? "unknown")}`,
            r.sent_at ? ` · ${when(r.sent_at, config().timezone)}` : "", h("div", { class: "muted small pre" }, r.text))))))
        .catch((e) => inlineError(reporters, e));
    });
  }

  /** Preview an override in `target` (the server's cost, in words: what changes for whom, which customers get a new
   * arrival time) with Confirm and Cancel; Confirm commits it. */
  private async previewInto(target: HTMLElement, job: Job, override: Override, close: () => void, lead: string[] = []): Promise<void> {
    const tech = this.techs.find((t) => t.id === override.technician_id);
    const name = tech?.name ?? "this technician";
    mount(target, h("p", { class: "muted" }, `Computing the cost of giving it to ${name}…`));
    let p: OverridePreview;
    try {
      p = await dispatchApi.preview(override);
    } catch (e) {
      inlineError(target, e);
      return;
    }
    const confirm = h("button", { type: "button", class: "primary", id: "confirm-assign", disabled: !p.feasible },
      `Confirm: ${job.status === "unassigned" ? "assign" : "move"} to ${name}`);
    const err = h("div");
    // A change that breaks a window booked with a customer is confirmed twice: the first press says so and asks again.
    const breaks = (p.booked_windows ?? []).filter((b) => b.breaks).length;
    let asked = false;
    confirm.addEventListener("click", async () => {
      if (breaks && !asked) {
        asked = true;
        confirm.textContent = `Yes, break ${breaks === 1 ? "the booked window" : `${breaks} booked windows`} and ${job.status === "unassigned" ? "assign" : "move"} it`;
        confirm.classList.add("danger");
        confirm.dataset.asked = "true";
        mount(err, h("p", { class: "bad", id: "confirm-again", role: "alert" },
          `Are you sure? ${breaks === 1 ? "A customer" : `${breaks} customers`} booked ${breaks === 1 ? "a window" : "windows"} this change misses. Press again to confirm.`));
        confirm.focus();
        return;
      }
      confirm.disabled = true;
      try {
        const done = await dispatchApi.commit(breaks ? { ...override, break_booked_windows: true } : override);
        notify(`Job ${job.id} ${job.status === "unassigned" ? "assigned" : "moved"} to ${name}: new plan made${done.replan_solve_id ? ", re-optimizing the rest" : ""}`, "ok");
        close();
        void this.load();
      } catch (e) {
        inlineError(err, e);
        confirm.disabled = false;
      }
    });
    mount(target, h("h3", null, `Cost preview: ${name}`), lead.map((line) => h("p", { class: "preview-lead" }, line)),
      previewFacts(p, job.id, this.jobs, this.techs, this.plan, name, this.customers),
      h("div", { class: "actions" }, confirm, h("button", { type: "button", onclick: close }, "Cancel")), err);
    if (p.feasible) confirm.focus();
  }

  /** Assign: recommended technicians (or the one and the time it was dropped on), the cost preview, then confirm. */
  async assignDialog(job: Job, drop?: BoardDrop): Promise<void> {
    const verb = job.status === "unassigned" ? "Assign" : "Move";
    await openDialog(`${verb} job ${job.id}: ${job.title}`, (body, close) => {
      const list = h("div", { class: "recommend", id: "recommendations" }, h("p", { class: "muted" }, "Finding the best technicians…"));
      const preview = h("div", { class: "preview", id: "assign-preview", "aria-live": "polite" });
      mount(body, h("p", { class: "muted" }, job.address ?? "", ` · priority ${job.priority} · ${job.duration_min} min`), list, preview);
      const showPreview = (techId: number) =>
        void this.previewInto(preview, job, { action: "assign", job_id: job.id, technician_id: techId }, close);
      if (drop !== undefined) {
        const tech = this.techs.find((t) => t.id === drop.techId);
        const name = tech?.name ?? "a technician no longer listed";
        const from = this.techs.find((t) => t.id === job.assigned_technician_id);
        const at = drop.atHours === null ? "" : ` at about ${hhmmOf(drop.atHours)}`;
        const place = drop.position === null ? "" : drop.position === 0 ? ": first job of the day" : `: after their ${ordinal(drop.position)} job`;
        mount(list, h("p", { id: "drop-words" }, `Dropped on ${name}${at}${place}.`,
          from && from.id !== drop.techId ? ` Taken from ${from.name}.` : ""));
        void this.previewInto(preview, job, { action: "assign", job_id: job.id, technician_id: drop.techId,
          position: drop.position ?? undefined }, close);
        return;
      }
      void (async () => {
        try {
          const ex = await dispatchApi.explain(job.id);
          const alts: Alternative[] = ex.alternatives ?? [];
          mount(list,
            ex.explanation ? h("p", { class: "why", id: "why-unassigned" }, h("strong", null, job.status === "unassigned" ? "Why unassigned: " : "Why this technician: "),
              humanize(ex.explanation, this.techNames())) : null,
            h("h3", null, "Recommended technicians"),
            alts.length ? h("ol", { class: "rec-list" }, alts.map((a) => {
              const tech = this.techs.find((t) => t.id === a.technician_id);
              return h("li", null, h("button", { type: "button", class: "rec", dataset: { techId: a.technician_id }, onclick: () => showPreview(a.technician_id) },
                h("strong", null, tech?.name ?? "A technician no longer listed"), " ",
                h("span", { class: "muted" }, alternativeWords(a, config().timezone))));
            })) : h("p", null, "No technician can fit this job into today's plan."),
            h("details", null, h("summary", null, "Another technician…"), h("ul", { class: "plain" }, this.techs.map((t) =>
              h("li", null, h("button", { type: "button", class: "link", onclick: () => showPreview(t.id) }, t.name))))),
            h("p", null, h("button", { type: "button", class: "link", id: "choose-time", onclick: () => { close(); void this.moveDialog(job); } },
              "Choose the technician and the time yourself…")));
        } catch (e) {
          inlineError(list, e);
          list.append(h("h3", null, "All technicians"), h("ol", { class: "rec-list" }, this.techs.map((t) =>
            h("li", null, h("button", { type: "button", class: "rec", onclick: () => showPreview(t.id) }, t.name)))));
        }
      })();
    });
  }

  /** The keyboard path for what a drag does: choose a technician and a place in their day (listed by time), see
   * the cost, confirm. */
  async moveDialog(job: Job): Promise<void> {
    const tz = config().timezone;
    const verb = job.status === "unassigned" ? "Schedule" : "Move";
    await openDialog(`${verb} job ${job.id}: ${job.title}`, (body, close) => {
      // autofocus: showModal() focuses it (a focus() before the dialog opens is lost to the close button).
      const techSel = h("select", { id: "move-tech", autofocus: true }, this.techs.map((t) => {
        const missing = Object.entries(job.required_skills).filter(([k, v]) => (t.skills[k] ?? 0) < v).map(([k]) => titleCase(k));
        const off = t.availability !== "on_shift";
        return h("option", { value: String(t.id) }, `${t.name}${t.id === job.assigned_technician_id ? " (has it now)" : ""}`
          + `${missing.length ? ` — lacks ${missing.join(", ")}` : ""}${off ? ` — ${titleCase(t.availability)}` : ""}`);
      }));
      const capable = this.techs.find((t) => t.id !== job.assigned_technician_id && t.availability === "on_shift"
        && Object.entries(job.required_skills).every(([k, v]) => (t.skills[k] ?? 0) >= v));
      techSel.value = String(capable?.id ?? job.assigned_technician_id ?? this.techs[0]?.id ?? "");
      const whenSel = h("select", { id: "move-when" });
      const fillWhen = () => {
        const tid = Number(techSel.value);
        const theirs = (this.plan?.stops ?? []).filter((s) => s.technician_id === tid && s.job_id !== job.id)
          .sort((a, b) => a.sequence - b.sequence);
        const title = (id: number) => this.jobs.find((j) => j.id === id)?.title ?? `job ${id}`;
        mount(whenSel, h("option", { value: "" }, "Where it costs least (the planner chooses)"),
          theirs.map((s, i) => h("option", { value: String(i) }, `Before ${clock(s.start_at, tz)} — #${s.job_id} ${title(s.job_id)}`)),
          theirs.length ? h("option", { value: String(theirs.length) },
            `After the last job (ends ${clock(theirs[theirs.length - 1].end_at, tz)})`) : null);
      };
      fillWhen();
      techSel.addEventListener("change", fillWhen);
      const preview = h("div", { class: "preview", id: "assign-preview", "aria-live": "polite" });
      const form = h("form", { class: "form", id: "move-form" },
        h("label", { for: "move-tech" }, "Technician"), techSel,
        h("label", { for: "move-when" }, "When in their day"), whenSel,
        h("div", { class: "actions" }, h("button", { type: "submit", class: "primary", id: "move-preview" }, "Show the cost"),
          h("button", { type: "button", onclick: close }, "Cancel")));
      form.addEventListener("submit", (ev) => {
        ev.preventDefault();
        const override: Override = { action: "assign", job_id: job.id, technician_id: Number(techSel.value) };
        if (whenSel.value !== "") override.position = Number(whenSel.value);
        void this.previewInto(preview, job, override, close, [whenSel.selectedOptions[0]?.textContent ?? ""]);
      });
      mount(body, h("p", { class: "muted" }, job.address ?? "", ` · priority ${job.priority} · ${job.duration_min} min`), form, preview);
    });
  }

  /** Edit a job: priority, duration, description, place (address search and pin), required skills, time windows and
   * SLA (web/src/job-edit.ts). The job is read afresh first (a live event may have changed it without saying its
   * new version); a stale version is still refused by the server (someone else saved first). */
  async editDialog(job: Job): Promise<void> {
    let skills: SkillRow[] = [];
    try {
      [job, skills] = await Promise.all([api<Job>(`/jobs/${job.id}`),
        api<SkillRow[]>("/technicians/skills").catch(() => [] as SkillRow[])]);
      this.staleVersions.delete(job.id);
    } catch (e) {
      notifyError(e);
      return;
    }
    await openDialog(`Edit job ${job.id}`, (body, close) => {
      const form = jobEditForm(job, skills, {
        save: (patch) => api(`/jobs/${job.id}`, { method: "PATCH", body: { ...patch, version: job.version } }),
        saved: () => {
          notify(`Job ${job.id} saved`, "ok");
          close();
          void this.load();
        },
        cancel: close,
        reload: () => {
          close();
          void this.editDialog(job);
        },
      });
      mount(body, form.el);
      const dlg = body.closest("dialog");
      dlg?.classList.add("dialog-wide");
      dlg?.addEventListener("close", () => form.remove());
      form.start();
    });
  }

  private async lock(tech: Technician, locked: boolean): Promise<void> {
    try {
      await dispatchApi.commit({ action: locked ? "lock" : "unlock", technician_id: tech.id });
      this.lockSeen.set(tech.id, locked);
      notify(`${tech.name}'s day ${locked ? "locked: re-plans keep it as it is" : "unlocked"}`, "ok");
      void this.load();
    } catch (e) {
      notifyError(e);
    }
  }

  /** A job a dispatcher unassigned by hand goes back to the planner (the server's "unpin" lifts the hold; the re-plan
   * it asks for may place it). */
  private async release(job: Job, button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    try {
      await dispatchApi.commit({ action: "unpin", job_id: job.id });
      job.dispatch_hold = false;
      this.reasons.delete(job.id);
      this.touched(job);
      notify(`Job ${job.id} released: the next plan may place it`, "ok");
    } catch (e) {
      notifyError(e);
      button.disabled = false;
    }
  }

  private async replan(button: HTMLButtonElement): Promise<void> {
    button.disabled = true;
    const label = button.textContent;
    button.textContent = "Planning…";
    try {
      let job = await dispatchApi.solve();
      for (let i = 0; i < 90 && (job.status === "queued" || job.status === "running"); i++) {
        await new Promise((r) => setTimeout(r, 1000));
        job = await dispatchApi.solveStatus(job.id);
        button.textContent = `Planning… (${job.status})`;
      }
      if (job.status === "succeeded") notify("Re-planned: the new plan is on the map.", "ok");
      else if (job.status === "queued" || job.status === "running") {
        notify(`Re-planning is still ${job.status} after 90 s (solve ${job.id}); the map will update by itself when it finishes.`, "info");
      } else if (job.status === "cancelled" && (job.error ?? "").startsWith("superseded")) {
        // The day changed while it ran (a dispatcher's move, an urgent job): the re-plan that change queued plans it.
        notify("The day changed while planning; the re-plan after that change is planning it as it is now.", "info");
      } else notify(`Re-planning ${job.status}${job.error ? `: ${job.error}` : ""}`, "error");
      await this.load();
    } catch (e) {
      notifyError(e);
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }
}
