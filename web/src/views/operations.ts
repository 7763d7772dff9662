// Operations view: SLA and productivity as charts — response and resolution time, jobs by status, SLA breaches
// by category, travel per job and utilization per technician — each with a text summary for screen readers.
import { all, api, ApiError, maybe } from "../api";
import { Chart, type ChartConfiguration } from "../charts";
import { h, mount } from "../dom";
import { duration, parseTime, titleCase } from "../format";
import type { Job, LiveEvent, Plan, Technician } from "../types";
import { notifyError } from "../ui";
import { STATUS_COLOURS, techColour } from "./dispatch";
import type { View } from "./view";

type Metrics = Record<string, unknown>;

function hoursOf(time: string): number {
  const [hh, mm] = time.split(":").map(Number);
  return hh + (mm || 0) / 60;
}

export class OperationsView implements View {
  private grid = h("div", { class: "charts-grid" });
  private charts: Chart[] = [];
  private timer: number | undefined;

  mount(el: HTMLElement): void {
    // Focusable: the section scrolls, and keyboard users must be able to scroll it (axe scrollable-region-focusable).
    mount(el, h("section", { class: "ops", tabindex: "0", "aria-labelledby": "ops-title" },
      h("h1", { class: "pane-title", id: "ops-title" }, "Operations"), this.grid));
    void this.load();
  }

  unmount(): void {
    clearTimeout(this.timer);
    for (const c of this.charts) c.destroy();
  }

  onEvent(event: LiveEvent): void {
    if (/^(job|plan)\./.test(event.type)) {
      clearTimeout(this.timer);
      this.timer = window.setTimeout(() => void this.load(), 1500);
    }
  }

  private card(id: string, title: string, summary: string, config: ChartConfiguration | null, note?: string): HTMLElement {
    const canvas = h("canvas", { id: `chart-${id}`, role: "img", "aria-label": `${title}: ${summary}` });
    const card = h("figure", { class: "chart-card", id: `card-${id}` },
      h("figcaption", null, h("h2", null, title), h("p", { class: "muted small" }, summary)),
      config ? h("div", { class: "chart-box" }, canvas) : h("p", { class: "empty-note", role: "status" }, note ?? "No data."));
    if (config) {
      requestAnimationFrame(() => {
        if (canvas.isConnected) this.charts.push(new Chart(canvas, { ...config, options: { maintainAspectRatio: false, responsive: true, ...config.options } }));
      });
    }
    return card;
  }

  private async load(): Promise<void> {
    try {
      const [jobs, techs, plan, metrics] = await Promise.all([
        all<Job>("/jobs"), all<Technician>("/technicians"), maybe<Plan>("/plans/current"), this.metrics(),
      ]);
      for (const c of this.charts) c.destroy();
      this.charts = [];
      mount(this.grid,
        this.responseCard(metrics),
        this.statusCard(jobs),
        this.breachCard(jobs),
        this.travelCard(plan),
        this.utilizationCard(plan, techs, typeof metrics === "string" ? null : metrics));
    } catch (e) {
      notifyError(e);
    }
  }

  /** GET /metrics/ops of the metrics feature (response and resolution times, utilization); a message when missing. */
  private async metrics(): Promise<Metrics | string> {
    try {
      return await api<Metrics>("/metrics/ops");
    } catch (e) {
      if (e instanceof ApiError && e.status === 404) return "This server does not offer GET /metrics/ops, so response and resolution times cannot be shown.";
      throw e;
    }
  }

  private responseCard(m: Metrics | string): HTMLElement {
    if (typeof m === "string") return this.card("response", "Response and resolution time", "Not available.", null, m);
    type Summary = { count: number; mean: number | null; p50: number | null; p90: number | null };
    const resp = (m.response_min as Summary | undefined) ?? { count: 0, mean: null, p50: null, p90: null };
    const resol = (m.resolution_min as Summary | undefined) ?? { count: 0, mean: null, p50: null, p90: null };
    const f = (v: number | null) => (v === null ? "—" : duration(v * 60));
    const summary = `Response (to arrival): median ${f(resp.p50)}, 90th percentile ${f(resp.p90)} over ${resp.count} jobs. `
      + `Resolution (to completion): median ${f(resol.p50)}, 90th percentile ${f(resol.p90)} over ${resol.count} jobs.`;
    if (!resp.count && !resol.count) {
      return this.card("response", "Response and resolution time", summary, null,
        "No job has been reached or completed yet today: the times appear as technicians report arrivals and completions.");
    }
    return this.card("response", "Response and resolution time", summary, {
      type: "bar",
      data: { labels: ["Response", "Resolution"], datasets: [
        { label: "median", data: [resp.p50 ?? 0, resol.p50 ?? 0], backgroundColor: "#1864ab" },
        { label: "mean", data: [resp.mean ?? 0, resol.mean ?? 0], backgroundColor: "#74c0fc" },
        { label: "90th percentile", data: [resp.p90 ?? 0, resol.p90 ?? 0], backgroundColor: "#c92a2a" },
      ] },
      options: { indexAxis: "y", scales: { x: { beginAtZero: true, title: { display: true, text: "minutes" } } } },
    });
  }

  private statusCard(jobs: Job[]): HTMLElement {
    const order = ["unassigned", "assigned", "en_route", "on_site", "completed", "unable", "cancelled"];
    const counts = order.map((s) => jobs.filter((j) => j.status === s).length);
    const summary = order.map((s, i) => `${titleCase(s)} ${counts[i]}`).join(", ");
    return this.card("status", "Jobs by status", summary, {
      type: "bar",
      data: { labels: order.map(titleCase), datasets: [{ label: "jobs", data: counts, backgroundColor: order.map((s) => STATUS_COLOURS[s]) }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
    });
  }

  private breachCard(jobs: Job[]): HTMLElement {
    const now = Date.now();
    const byCat = new Map<string, { breached: number; ok: number }>();
    for (const j of jobs) {
      const due = parseTime(j.sla_due_at);
      if (!due || j.status === "cancelled") continue;
      const done = j.status === "completed" ? parseTime(j.updated_at)?.getTime() ?? now : now;
      const row = byCat.get(j.category) ?? { breached: 0, ok: 0 };
      if (done > due.getTime()) row.breached += 1;
      else row.ok += 1;
      byCat.set(j.category, row);
    }
    const cats = [...byCat.keys()].sort();
    const summary = cats.length ? cats.map((c) => `${titleCase(c)}: ${byCat.get(c)!.breached} breached of ${byCat.get(c)!.breached + byCat.get(c)!.ok}`).join("; ") : "No jobs with an SLA.";
    return this.card("breaches", "SLA breaches by category", summary, cats.length ? {
      type: "bar",
      data: { labels: cats.map(titleCase), datasets: [
        { label: "breached", data: cats.map((c) => byCat.get(c)!.breached), backgroundColor: "#c92a2a" },
        { label: "within SLA", data: cats.map((c) => byCat.get(c)!.ok), backgroundColor: "#74b816" },
      ] },
      options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
    } : null, "No jobs with an SLA yet.");
  }

  private travelCard(plan: Plan | null): HTMLElement {
    if (!plan || !plan.stops.length) return this.card("travel", "Travel per job", "No plan yet.", null, "No plan has been solved yet: travel per job comes from the current plan.");
    const mins = plan.stops.map((s) => s.travel_s / 60);
    const edges = [0, 5, 10, 15, 20, 30, 45, 60, Infinity];
    const labels = edges.slice(0, -1).map((e, i) => (edges[i + 1] === Infinity ? `${e}+ min` : `${e}–${edges[i + 1]} min`));
    const counts = labels.map((_, i) => mins.filter((m) => m >= edges[i] && m < edges[i + 1]).length);
    const mean = mins.reduce((a, b) => a + b, 0) / mins.length;
    return this.card("travel", "Travel per job", `Plan v${plan.version}: ${plan.stops.length} stops, mean travel ${duration(mean * 60)} per job`, {
      type: "bar",
      data: { labels, datasets: [{ label: "jobs", data: counts, backgroundColor: "#5f3dc4" }] },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: "jobs" } },
        x: { title: { display: true, text: "travel before the job" } } } },
    });
  }

  private utilizationCard(plan: Plan | null, techs: Technician[], m: Metrics | null): HTMLElement {
    const fromServer = m?.technicians as Record<string, { name: string; service_min: number; travel_min: number; utilization: number | null }> | undefined;
    if (fromServer && Object.keys(fromServer).length) {
      const rows = techs.filter((t) => fromServer[String(t.id)]).map((t) => {
        const r = fromServer[String(t.id)];
        const total = (r.utilization ?? 0) * 100;
        const busy = r.service_min + r.travel_min;
        const work = busy > 0 ? (total * r.service_min) / busy : 0;
        return { t, work, travel: total - work };
      });
      const summary = rows.map((r) => `${r.t.name} ${Math.round(r.work + r.travel)} % (${Math.round(r.work)} % on site)`).join(", ");
      return this.card("utilization", "Utilization per technician", summary, {
        type: "bar",
        data: { labels: rows.map((r) => r.t.name), datasets: [
          { label: "on site", data: rows.map((r) => r.work), backgroundColor: rows.map((r) => techColour(r.t.id)) },
          { label: "travelling", data: rows.map((r) => r.travel), backgroundColor: "#adb5bd" },
        ] },
        options: { indexAxis: "y", scales: { x: { stacked: true, max: 100, title: { display: true, text: "% of shift" } }, y: { stacked: true } } },
      });
    }
    if (!plan || !plan.stops.length) return this.card("utilization", "Utilization per technician", "No plan yet.", null, "No plan has been solved yet: utilization comes from the current plan.");
    const rows = techs.map((t) => {
      const stops = plan.stops.filter((s) => s.technician_id === t.id);
      const work = stops.reduce((acc, s) => acc + (new Date(s.end_at).getTime() - new Date(s.start_at).getTime()) / 1000, 0);
      const travel = stops.reduce((acc, s) => acc + s.travel_s, 0);
      const shift = Math.max(1, (hoursOf(t.shift_end) - hoursOf(t.shift_start)) * 3600);
      return { t, work: (work / shift) * 100, travel: (travel / shift) * 100 };
    });
    const summary = rows.map((r) => `${r.t.name} ${Math.round(r.work + r.travel)} % (${Math.round(r.work)} % on site)`).join(", ");
    return this.card("utilization", "Utilization per technician", summary, {
      type: "bar",
      data: { labels: rows.map((r) => r.t.name), datasets: [
        { label: "on site", data: rows.map((r) => r.work), backgroundColor: rows.map((r) => techColour(r.t.id)) },
        { label: "travelling", data: rows.map((r) => r.travel), backgroundColor: "#adb5bd" },
      ] },
      options: { indexAxis: "y", scales: { x: { stacked: true, max: 100, title: { display: true, text: "% of shift" } }, y: { stacked: true } } },
    });
  }
}
