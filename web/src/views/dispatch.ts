// Dispatcher view: live map, unassigned queue by SLA risk, per-technician day timeline, assignment with
// cost preview, pins, locks, re-plan and the plan diff.
import { all, api, ApiError, explain, maybe } from "../api";
import { dispatchApi, type Alternative, type Override, type OverridePreview } from "../dispatch-api";
import { h, mount } from "../dom";
import { bySlaRisk, clock, duration, km, riskLabel, signed, slackMinutes, titleCase } from "../format";
import { baseMap, L, nodeIcon, nodeTooltip, textTip, type BaseMap } from "../map";
import { config } from "../config";
import { renderTimeline } from "../timeline";
import type { Job, LiveEvent, Plan, PlanStop, Technician } from "../types";
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

interface RoutesGeo {
  type: "FeatureCollection";
  plan_version: number;
  features: Array<{ geometry: { type: "MultiLineString"; coordinates: number[][][] }; properties: { technician_id: number } }>;
}

const OPEN = new Set(["unassigned", "assigned", "en_route", "on_site"]);

export class DispatchView implements View {
  private base!: BaseMap;
  private jobLayer = L.layerGroup();
  private techLayer = L.layerGroup();
  private routeLayer = L.layerGroup();
  private jobs: Job[] = [];
  private techs: Technician[] = [];
  private plan: Plan | null = null;
  private routes: RoutesGeo | null = null;
  private queueEl = h("ol", { class: "queue-list", "aria-label": "Unassigned jobs, most at risk first" });
  private queueCount = h("span", { class: "count" });
  private timelineEl = h("div", { class: "timeline", id: "timeline" });
  private planInfo = h("div", { class: "plan-info", "aria-live": "polite" });
  private diffEl = h("div", { class: "plan-diff" });
  private markers = new Map<number, L.CircleMarker>();
  private refreshTimer: number | undefined;
  private highlighted = new Set<number>();
  /** Lock state confirmed by the server since the plan was made (commit answers, technician.locked events);
   * there is no GET for it, so the latest plan's stats are the fallback. */
  private lockSeen = new Map<number, boolean>();
  private disposed = false;

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
          h("h2", { id: "queue-title" }, "Unassigned ", this.queueCount),
          h("p", { class: "muted small" }, "Most at risk of missing the SLA first. Drag a job onto a technician's row, or use Assign."),
          this.queueEl),
        h("section", { class: "timeline-pane", "aria-labelledby": "timeline-title" },
          h("div", { class: "pane-head" }, h("h2", { id: "timeline-title" }, "Technicians' day"), this.diffEl),
          this.timelineEl)));
    this.base = baseMap(mapEl, { label: "Map of jobs, technicians and routes" });
    this.routeLayer.addTo(this.base.map);
    this.jobLayer.addTo(this.base.map);
    this.techLayer.addTo(this.base.map);
    this.base.ready.catch((e) => notify(`The street map could not be loaded: ${explain(e)}`, "error"));
    void this.load();
  }

  unmount(): void {
    this.disposed = true;
    clearTimeout(this.refreshTimer);
    this.base?.map.remove();
  }

  onEvent(event: LiveEvent): void {
    if (event.type === "technician.locked") this.lockSeen.set(Number(event.data.technician_id), Boolean(event.data.locked));
    if (/^(job|plan|route|technician)\./.test(event.type)) {
      if (event.type === "plan.created") notify(`New plan v${String(event.data.version ?? "")} (${String(event.data.trigger ?? "")})`, "info");
      this.scheduleRefresh();
    }
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = window.setTimeout(() => void this.load(), 400);
  }

  async load(): Promise<void> {
    try {
      const [jobs, techs, plan] = await Promise.all([
        all<Job>("/jobs"), all<Technician>("/technicians"), maybe<Plan>("/plans/current"),
      ]);
      if (this.disposed) return;
      this.jobs = jobs;
      this.techs = techs;
      this.plan = plan;
      this.routes = plan ? await maybe<RoutesGeo>("/map/routes").catch(() => null) : null;
      if (this.disposed) return;
      this.highlighted = new Set([
        ...((plan?.diff.moved as Array<{ job_id: number }>) ?? []).map((m) => m.job_id),
        ...((plan?.diff.eta_changed as Array<{ job_id: number }>) ?? []).map((m) => m.job_id),
      ]);
      this.render();
    } catch (e) {
      notifyError(e);
      mount(this.queueEl, h("li", null, h("p", { class: "inline-error", role: "alert" }, explain(e)),
        h("button", { type: "button", onclick: () => void this.load() }, "Try again")));
    }
  }

  private render(): void {
    this.renderPlanInfo();
    this.renderMap();
    this.renderQueue();
    this.renderTimeline();
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
      tech ? [h("br"), `${tech.name}${job.eta_at ? `, ETA ${clock(job.eta_at, config().timezone)}` : ""}`] : null);
  }

  private renderMap(): void {
    this.jobLayer.clearLayers();
    this.techLayer.clearLayers();
    this.routeLayer.clearLayers();
    this.markers.clear();
    for (const job of this.jobs) {
      if (!OPEN.has(job.status)) continue;
      const marker = L.circleMarker([job.lat, job.lon], {
        radius: 4 + job.priority * 0.6,
        color: job.priority >= 8 ? "#111" : this.highlighted.has(job.id) ? "#f59f00" : "#fff",
        weight: job.priority >= 8 || this.highlighted.has(job.id) ? 3 : 1.5,
        fillColor: STATUS_COLOURS[job.status] ?? "#777",
        fillOpacity: 0.9,
      });
      nodeTooltip(marker, this.jobSummary(job));
      marker.on("click", () => this.openJob(job));
      marker.addTo(this.jobLayer);
      this.markers.set(job.id, marker);
      if (job.reporter_count > 1) {
        L.marker([job.lat, job.lon], {
          icon: nodeIcon(h("span", null, String(job.reporter_count)), { className: "count-icon", iconSize: [18, 18], iconAnchor: [-2, 18] }),
          keyboard: false, interactive: false,
        }).addTo(this.jobLayer);
      }
    }
    for (const tech of this.techs) {
      const live = tech.current_lat !== null && tech.current_lon !== null;
      const pos: [number, number] = live ? [tech.current_lat!, tech.current_lon!] : [tech.home_lat, tech.home_lon];
      const initials = tech.name.split(/\s+/).map((p) => p[0] ?? "").join("").slice(0, 2).toUpperCase();
      const icon = nodeIcon(h("span", { style: { background: techColour(tech.id) } }, initials), {
        className: `tech-icon${live ? "" : " tech-home"}`, iconSize: [26, 26], iconAnchor: [13, 13],
      });
      const techMarker = L.marker(pos, { icon, title: `${tech.name} — ${live ? "live position" : "home base (no live position yet)"}`, keyboard: true });
      nodeTooltip(techMarker, h("div", { class: "tip", dataset: { techId: tech.id } }, h("strong", null, tech.name), h("br"),
        live ? `live position, seen ${clock(tech.last_seen_at, config().timezone)}` : "home base (no live position yet)"))
        .addTo(this.techLayer);
    }
    if (this.routes) {
      for (const f of this.routes.features) {
        const tid = f.properties.technician_id;
        const lines = f.geometry.coordinates.map((line) => line.map(([lon, lat]) => [lat, lon] as [number, number]));
        // The name is text: a string given to Leaflet's bindTooltip would be parsed as HTML (issue 25).
        nodeTooltip(L.polyline(lines, { color: techColour(tid), weight: 4, opacity: 0.75, className: `route route-tech-${tid}` }),
          textTip(this.techs.find((t) => t.id === tid)?.name ?? `technician ${tid}`), { sticky: true })
          .addTo(this.routeLayer);
      }
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
    this.base.map.getContainer().dataset.jobs = String(this.markers.size);
  }

  private reasonFor(job: Job): string {
    const item = this.plan?.unassigned.find((u) => Number(u.job_id) === job.id);
    if (item?.reason) return String(item.reason);
    if (!this.plan) return "Not planned yet: no plan has been solved.";
    const created = new Date(job.created_at).getTime();
    if (created > new Date(this.plan.created_at).getTime()) return `New since plan v${this.plan.version}: not planned yet.`;
    return "Left out of the current plan (the planner gave no reason).";
  }

  private renderQueue(): void {
    const now = new Date();
    const queue = bySlaRisk(this.jobs.filter((j) => j.status === "unassigned"), now);
    this.queueCount.textContent = `(${queue.length})`;
    mount(this.queueEl, queue.map((job) => {
      const risk = riskLabel(slackMinutes(job, now));
      const item = h("li", { class: `queue-item risk-${risk.level}`, draggable: "true", dataset: { jobId: job.id }, tabindex: "-1" },
        h("div", { class: "qi-head" },
          h("span", { class: "prio", title: "priority", "aria-label": `priority ${job.priority}` }, `P${job.priority}`),
          h("strong", { class: "qi-title" }, job.title),
          job.reporter_count > 1 ? badge(`${job.reporter_count} reporters`) : null),
        h("div", { class: "qi-meta" }, job.address ?? `${job.lat.toFixed(4)}, ${job.lon.toFixed(4)}`, " · ", titleCase(job.category),
          " · ", `${job.duration_min} min`),
        h("div", { class: `qi-risk risk-${risk.level}` }, risk.text),
        h("div", { class: "qi-why" }, h("span", { class: "muted" }, "Why unassigned: "), this.reasonFor(job)),
        h("div", { class: "qi-actions" },
          h("button", { type: "button", class: "primary small", onclick: () => this.assignDialog(job) }, "Assign…"),
          h("button", { type: "button", class: "small", onclick: () => this.focusJob(job) }, "Show on map"),
          h("button", { type: "button", class: "small", onclick: () => this.editDialog(job) }, "Edit…")));
      item.addEventListener("dragstart", (ev) => {
        ev.dataTransfer?.setData("text/x-job-id", String(job.id));
        ev.dataTransfer?.setData("text/plain", `job ${job.id}`);
        if (ev.dataTransfer) ev.dataTransfer.effectAllowed = "move";
        item.classList.add("dragging");
      });
      item.addEventListener("dragend", () => item.classList.remove("dragging"));
      return item;
    }));
    if (!queue.length) mount(this.queueEl, h("li", { class: "muted" }, "Nothing waiting. Every open job is planned."));
  }

  private renderTimeline(): void {
    renderTimeline(this.timelineEl, {
      techs: this.techs, jobs: this.jobs, plan: this.plan, highlighted: this.highlighted,
      timezone: config().timezone, colour: techColour, statusColours: STATUS_COLOURS,
      onDropJob: (jobId, techId) => {
        const job = this.jobs.find((j) => j.id === jobId);
        if (job) void this.assignDialog(job, techId);
      },
      onStop: (stop) => {
        const job = this.jobs.find((j) => j.id === stop.job_id);
        if (job) this.openJob(job, stop);
      },
      onLock: (tech, locked) => void this.lock(tech, locked),
      onFocusTech: (tech) => {
        const live = tech.current_lat !== null && tech.current_lon !== null;
        this.base.map.setView(live ? [tech.current_lat!, tech.current_lon!] : [tech.home_lat, tech.home_lon], 15);
      },
      lockedIds: this.lockedIds(),
    });
  }

  private lockedIds(): Set<number> {
    const ids = new Set<number>((this.plan?.stats.locked_technicians as number[]) ?? []);
    for (const [id, locked] of this.lockSeen) {
      if (locked) ids.add(id);
      else ids.delete(id);
    }
    return ids;
  }

  private focusJob(job: Job): void {
    this.base.map.setView([job.lat, job.lon], 16);
    this.markers.get(job.id)?.openTooltip();
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
          h("dt", null, "Status"), h("dd", null, titleCase(job.status), job.pinned ? " · pinned" : ""),
          h("dt", null, "Priority"), h("dd", null, String(job.priority)),
          h("dt", null, "Reporters"), h("dd", null, String(job.reporter_count)),
          h("dt", null, "Technician"), h("dd", null, tech?.name ?? "—"),
          stop ? [h("dt", null, "Planned"), h("dd", null, `${clock(stop.start_at, config().timezone)}–${clock(stop.end_at, config().timezone)}, `
            + `travel ${duration(stop.travel_s)}, ${km(stop.distance_m)}`)] : null,
          h("dt", null, "Description"), h("dd", { class: "pre" }, job.description)),
        h("div", { class: "actions" },
          job.status === "unassigned" ? h("button", { type: "button", class: "primary", onclick: () => { close(); void this.assignDialog(job); } }, "Assign…") : null,
          tech && !job.pinned ? act("Pin to " + tech.name, () => dispatchApi.commit({ action: "pin", job_id: job.id, technician_id: tech.id }), `Job ${job.id} pinned to ${tech.name}`) : null,
          job.pinned ? act("Unpin", () => dispatchApi.commit({ action: "unpin", job_id: job.id }), `Job ${job.id} unpinned`) : null,
          job.status === "assigned" ? act("Unassign", () => dispatchApi.commit({ action: "unassign", job_id: job.id }), `Job ${job.id} unassigned`) : null,
          job.status === "assigned" ? h("button", { type: "button", onclick: () => { close(); void this.assignDialog(job); } }, "Reassign…") : null,
          h("button", { type: "button", onclick: () => { close(); void this.editDialog(job); } }, "Edit…")),
        result, reporters);
      void api<Array<{ channel: string | null; customer_name: string; text: string; sent_at: string | null }>>(`/jobs/${job.id}/reporters`)
        .then((rows) => mount(reporters, h("h3", null, `Reported by (${rows.length})`), h("ul", { class: "plain reporters" }, rows.map((r) =>
          h("li", null, h("strong", null, r.customer_name || "someone"), ` · ${titleCase(r.channel ?? "unknown")}`,
            r.sent_at ? ` · ${clock(r.sent_at, config().timezone)}` : "", h("div", { class: "muted small pre" }, r.text))))))
        .catch((e) => inlineError(reporters, e));
    });
  }

  /** Assign: recommended technicians (or the one it was dropped on), the cost preview, then confirm. */
  async assignDialog(job: Job, technicianId?: number): Promise<void> {
    await openDialog(`Assign job ${job.id}: ${job.title}`, (body, close) => {
      const list = h("div", { class: "recommend", id: "recommendations" }, h("p", { class: "muted" }, "Finding the best technicians…"));
      const preview = h("div", { class: "preview", id: "assign-preview", "aria-live": "polite" });
      mount(body, h("p", { class: "muted" }, job.address ?? "", ` · priority ${job.priority} · ${job.duration_min} min`), list, preview);
      const showPreview = async (techId: number) => {
        const tech = this.techs.find((t) => t.id === techId);
        const name = tech?.name ?? `technician ${techId}`;
        const override: Override = { action: "assign", job_id: job.id, technician_id: techId };
        mount(preview, h("p", { class: "muted" }, `Computing the cost of giving it to ${name}…`));
        let p: OverridePreview;
        try {
          p = await dispatchApi.preview(override);
        } catch (e) {
          inlineError(preview, e);
          return;
        }
        const confirm = h("button", { type: "button", class: "primary", id: "confirm-assign" }, `Confirm: assign to ${name}`);
        const err = h("div");
        confirm.addEventListener("click", async () => {
          confirm.disabled = true;
          try {
            const done = await dispatchApi.commit(override);
            notify(`Job ${job.id} assigned to ${name}: new plan made${done.replan_solve_id ? ", re-optimizing the rest" : ""}`, "ok");
            close();
            void this.load();
          } catch (e) {
            inlineError(err, e);
            confirm.disabled = false;
          }
        });
        mount(preview, h("h3", null, `Cost preview: ${name}`), previewFacts(p, job.id, this.jobs),
          h("div", { class: "actions" }, confirm, h("button", { type: "button", onclick: close }, "Cancel")), err);
        confirm.focus();
      };
      if (technicianId !== undefined) {
        mount(list, h("p", null, `Dropped on ${this.techs.find((t) => t.id === technicianId)?.name ?? technicianId}.`));
        void showPreview(technicianId);
        return;
      }
      void (async () => {
        try {
          const ex = await dispatchApi.explain(job.id);
          const alts: Alternative[] = ex.alternatives ?? [];
          mount(list,
            ex.explanation ? h("p", { class: "why", id: "why-unassigned" }, h("strong", null, "Why unassigned: "), ex.explanation) : null,
            h("h3", null, "Recommended technicians"),
            alts.length ? h("ol", { class: "rec-list" }, alts.map((a) => {
              const tech = this.techs.find((t) => t.id === a.technician_id);
              return h("li", null, h("button", { type: "button", class: "rec", dataset: { techId: a.technician_id }, onclick: () => void showPreview(a.technician_id) },
                h("strong", null, tech?.name ?? `technician ${a.technician_id}`), " ",
                h("span", { class: "muted" }, `starts ${clock(a.start_at, config().timezone)} · ${signed(a.added_travel_s)} travel`
                  + `${a.added_lateness_s ? ` · ${duration(a.added_lateness_s)} added lateness` : ""}`
                  + `${a.added_overtime_s ? ` · ${duration(a.added_overtime_s)} overtime` : ""} · cost +${a.added_cost}`)));
            })) : h("p", null, "No technician can fit this job into today's plan."),
            h("details", null, h("summary", null, "Another technician…"), h("ul", { class: "plain" }, this.techs.map((t) =>
              h("li", null, h("button", { type: "button", class: "link", onclick: () => void showPreview(t.id) }, t.name))))));
        } catch (e) {
          inlineError(list, e);
          list.append(h("h3", null, "All technicians"), h("ol", { class: "rec-list" }, this.techs.map((t) =>
            h("li", null, h("button", { type: "button", class: "rec", onclick: () => void showPreview(t.id) }, t.name)))));
        }
      })();
    });
  }

  /** Edit a job's details; a stale version is refused by the server (someone else saved first). */
  async editDialog(job: Job): Promise<void> {
    await openDialog(`Edit job ${job.id}`, (body, close) => {
      const prio = h("input", { id: "edit-priority", type: "number", min: "1", max: "10", value: String(job.priority), required: true });
      const dur = h("input", { id: "edit-duration", type: "number", min: "1", max: "480", value: String(job.duration_min), required: true });
      const desc = h("textarea", { id: "edit-description", rows: "3" });
      desc.value = job.description;
      const err = h("div", { id: "edit-error" });
      const form = h("form", { class: "form" },
        h("label", { for: "edit-priority" }, "Priority (1–10)"), prio,
        h("label", { for: "edit-duration" }, "Duration (minutes)"), dur,
        h("label", { for: "edit-description" }, "Description"), desc,
        err,
        h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Save"),
          h("button", { type: "button", onclick: close }, "Cancel")));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        try {
          await api(`/jobs/${job.id}`, { method: "PATCH", body: {
            priority: Number(prio.value), duration_min: Number(dur.value), description: desc.value, version: job.version,
          } });
          notify(`Job ${job.id} saved`, "ok");
          close();
          void this.load();
        } catch (e) {
          if (e instanceof ApiError && e.status === 409) {
            mount(err, h("div", { class: "inline-error", role: "alert" },
              h("p", null, `Not saved: ${e.detail}.`),
              h("p", null, "Another dispatcher saved this job after you opened it. Your changes were NOT applied, and theirs were not overwritten."),
              h("button", { type: "button", onclick: async () => {
                close();
                const fresh = await api<Job>(`/jobs/${job.id}`);
                void this.editDialog(fresh);
              } }, "Load their version")));
          } else {
            inlineError(err, e);
          }
        }
      });
      mount(body, form);
      prio.focus();
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

/** The preview's figures: feasibility, added travel, lateness, overtime, SLA risk, the new ETA, and notes. */
export function previewFacts(p: OverridePreview, jobId: number, jobs: Job[]): HTMLElement {
  const tz = config().timezone;
  const eta = p.etas[String(jobId)];
  const title = (id: number) => jobs.find((j) => j.id === id)?.title ?? `job ${id}`;
  return h("div", { class: "preview-facts" },
    h("dl", { class: "facts" },
      h("dt", null, "Feasible"), h("dd", { class: p.feasible ? "ok" : "bad" }, p.feasible ? "yes" : "no — breaks a hard rule"),
      eta ? [h("dt", null, "ETA"), h("dd", null, clock(eta, tz))] : null,
      h("dt", null, "Added travel"), h("dd", { id: "preview-travel" }, signed(p.added_travel_s)),
      h("dt", null, "Added lateness"), h("dd", null, signed(p.added_lateness_s)),
      h("dt", null, "Added overtime"), h("dd", null, signed(p.added_overtime_s)),
      h("dt", null, "SLA newly at risk"), h("dd", null, p.sla_newly_at_risk.length ? p.sla_newly_at_risk.map(title).join(", ") : "none"),
      h("dt", null, "Technicians affected"), h("dd", null, String(p.affected_technicians.length))),
    p.notes.length ? h("ul", { class: "plain notes" }, p.notes.map((n) => h("li", null, n))) : null);
}
