// Listening and proactive notices (agents): public posts about our services in our area that were not addressed to
// us, to answer publicly or dismiss (GET /listening, POST /listening/{id}/reply|dismiss); and notices to customers
// living near a known incident that a crew is on it, once each, on their preferred channel (GET
// /jobs/{id}/affected-customers, POST /jobs/{id}/proactive-notice). Customer text is only ever text nodes.
import { all, api, explain, type Page } from "../api";
import { config } from "../config";
import { h, mount } from "../dom";
import { km, pct, titleCase, when } from "../format";
import type { Job, LiveEvent } from "../types";
import { badge, inlineError, notify } from "../ui";
import type { View } from "./view";

type MentionStatus = "new" | "answered" | "dismissed";

interface Mention {
  id: number;
  message_id: number;
  customer_id: number | null;
  category: string | null;
  confidence: number;
  priority: number;
  lat: number | null;
  lon: number | null;
  location_confidence: number | null;
  status: MentionStatus;
  reply_message_id: number | null;
  created_at: string;
  text: string;
  author_name: string;
  channel: string;
}

interface Affected {
  customer_id: number;
  display_name: string;
  address: string | null;
  distance_m: number;
  preferred_channel: string | null;
  channel: string | null;
  already_notified: boolean;
}

interface Notice {
  id: number;
  customer_id: number;
  channel: string;
}

const OPEN = new Set(["unassigned", "assigned", "en_route", "on_site"]);
const STATUS_TABS: Array<[MentionStatus, string]> = [["new", "To answer"], ["answered", "Answered"], ["dismissed", "Dismissed"]];
/** Channels by the names customers know them by. */
const CHANNEL_NAMES: Record<string, string> = { sms: "SMS", twitter: "X", facebook: "Facebook", email: "Email", webform: "web form", open311: "Open311" };
const channelName = (c: string | null | undefined): string => (c ? CHANNEL_NAMES[c] ?? titleCase(c) : "social");
/** A short distance in metres, a longer one in km. */
const distance = (m: number): string => (m < 1000 ? `${Math.round(m)} m` : km(m));
/** X allows 280 characters in a post; other channels take what the API does. */
const REPLY_MAX: Record<string, number> = { twitter: 280 };

/** The jobs worth a notice first: open ones with the most reports (an incident many people see), then priority. */
export function noticeCandidates(jobs: Job[], max = 40): Job[] {
  return jobs.filter((j) => OPEN.has(j.status))
    .sort((a, b) => (b.reporter_count ?? 0) - (a.reporter_count ?? 0) || b.priority - a.priority || a.id - b.id)
    .slice(0, max);
}

export class OutreachView implements View {
  private status: MentionStatus = "new";
  private labels = new Map<string, string>();
  private tabsEl = h("div", { class: "inbox-tabs", role: "tablist", "aria-label": "Mentions" });
  private listEl = h("ol", { class: "mention-list", id: "mention-list", "aria-label": "Public mentions" });
  private countEl = h("span", { class: "count" });
  private noticeEl = h("div", { id: "notice-body" });
  private jobs: Job[] = [];
  private reloadTimer: number | undefined;

  mount(el: HTMLElement, arg?: string): void {
    mount(el, h("div", { class: "outreach" },
      h("section", { class: "adm-pane", "aria-labelledby": "mentions-title" },
        h("h1", { class: "pane-title", id: "mentions-title" }, "Listening ", this.countEl),
        h("p", { class: "muted small" }, "Public posts about our services in our area that were not addressed to us. "
          + "Answer in public on the same network, or dismiss what needs nothing."),
        this.tabsEl, this.listEl),
      h("section", { class: "adm-pane", "aria-labelledby": "notices-title" },
        h("h2", { class: "pane-title", id: "notices-title" }, "Proactive notices"),
        h("p", { class: "muted small" }, "Tell customers who live near a known incident that a crew is on it, so they "
          + "need not report it: one notice each, on their preferred channel, never twice for the same job. Those who "
          + "reported it hear from the job itself."),
        this.noticeEl)));
    this.drawTabs();
    void this.loadLabels().then(() => this.loadMentions());
    void this.loadJobs(arg && /^\d+$/.test(arg) ? Number(arg) : null);
  }

  unmount(): void {
    clearTimeout(this.reloadTimer);
  }

  onEvent(event: LiveEvent): void {
    if (event.type.startsWith("message.") || event.type.startsWith("listening.")) {
      clearTimeout(this.reloadTimer);
      this.reloadTimer = window.setTimeout(() => void this.loadMentions(), 1000);
    }
  }

  private drawTabs(): void {
    const choose = (s: MentionStatus) => {
      this.status = s;
      this.drawTabs();
      document.getElementById(`mentions-tab-${s}`)?.focus();
      void this.loadMentions();
    };
    mount(this.tabsEl, STATUS_TABS.map(([s, label], i) => h("button", {
      type: "button", role: "tab", class: "inbox-tab", id: `mentions-tab-${s}`, "aria-controls": "mention-list",
      "aria-selected": s === this.status ? "true" : "false", tabindex: s === this.status ? "0" : "-1",
      onclick: () => choose(s),
      onkeydown: (ev: KeyboardEvent) => { // arrow keys move between tabs (the ARIA tabs pattern)
        if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
        ev.preventDefault();
        choose(STATUS_TABS[(i + (ev.key === "ArrowRight" ? 1 : STATUS_TABS.length - 1)) % STATUS_TABS.length][0]);
      },
    }, label)));
  }

  private async loadLabels(): Promise<void> {
    try {
      const rows = await api<Array<{ name: string; label: string }>>("/technicians/catalogue");
      for (const r of rows) this.labels.set(r.name, r.label);
    } catch {
      // Without the catalogue the service's code name is shown; the mentions still load.
    }
  }

  private async loadMentions(): Promise<void> {
    try {
      const page = await api<Page<Mention>>(`/listening?status=${this.status}&limit=100`);
      this.countEl.textContent = this.status === "new" ? `(${page.total} to answer)` : "";
      if (!page.items.length) {
        mount(this.listEl, h("li", { class: "empty-note" },
          this.status === "new" ? "Nothing to answer: no unaddressed public post about our services." : "None."));
        return;
      }
      mount(this.listEl, page.items.map((m) => this.mentionItem(m)));
    } catch (e) {
      mount(this.listEl, h("li", null, h("p", { class: "inline-error", role: "alert" }, explain(e))));
    }
  }

  private mentionItem(m: Mention): HTMLElement {
    const tz = config().timezone;
    const service = m.category ? (this.labels.get(m.category) ?? titleCase(m.category.replace(/_/g, " "))) : null;
    const place = m.lat !== null && m.lon !== null
      ? `Place found${m.location_confidence !== null ? `, ${pct(m.location_confidence)} sure` : ""} (${m.lat.toFixed(5)}, ${m.lon.toFixed(5)})`
      : "No place found in the post";
    const actions = h("div", { class: "qi-actions" });
    const slot = h("div", { class: "mention-reply" });
    const item = h("li", { class: "mention", dataset: { mentionId: m.id } },
      h("div", { class: "mention-head" },
        h("strong", null, m.author_name || "Someone"), " ", badge(channelName(m.channel)), " ",
        h("span", { class: "muted small" }, when(m.created_at, tz)), " ",
        service ? badge(`${service} · ${pct(m.confidence)}`) : badge("no service"), " ",
        h("span", { class: "muted small" }, `priority ${m.priority}`)),
      h("p", { class: "mention-text" }, m.text),
      h("p", { class: "muted small" }, place),
      actions, slot);
    if (m.status === "new") {
      mount(actions,
        h("button", { type: "button", class: "primary small", onclick: () => this.replyForm(m, slot) }, "Reply publicly…"),
        h("button", { type: "button", class: "small", onclick: () => void this.dismiss(m, item) }, "Dismiss"));
    } else {
      mount(actions, h("span", { class: "muted small" }, m.status === "answered" ? "Answered in public." : "Dismissed."));
    }
    return item;
  }

  private replyForm(m: Mention, slot: HTMLElement): void {
    const max = REPLY_MAX[m.channel] ?? 2000;
    const id = `mention-reply-${m.id}`;
    const text = h("textarea", { id, rows: "3", maxlength: String(max), required: true });
    const counter = h("span", { class: "muted small", "aria-live": "polite" }, `0 / ${max}`);
    text.addEventListener("input", () => { counter.textContent = `${text.value.length} / ${max}`; });
    const error = h("div");
    const send = h("button", { type: "submit", class: "primary small" }, "Send reply");
    const form = h("form", { class: "adm-form", "aria-label": `Reply to ${m.author_name || "the post"}` },
      h("label", { for: id }, `Public reply on ${channelName(m.channel)}`), text, counter, error,
      h("div", { class: "qi-actions" }, send,
        h("button", { type: "button", class: "small", onclick: () => mount(slot) }, "Cancel")));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!text.value.trim()) return;
      send.disabled = true;
      api<Mention>(`/listening/${m.id}/reply`, { method: "POST", body: { text: text.value.trim() } }).then(() => {
        notify(`Reply to ${m.author_name || "the post"} queued for ${channelName(m.channel)}.`, "ok");
        void this.loadMentions();
      }, (e: unknown) => {
        send.disabled = false;
        inlineError(error, e);
      });
    });
    mount(slot, form);
    text.focus();
  }

  private async dismiss(m: Mention, item: HTMLElement): Promise<void> {
    try {
      await api<Mention>(`/listening/${m.id}/dismiss`, { method: "POST" });
      item.remove();
      notify(`Dismissed the post by ${m.author_name || "someone"}.`, "ok");
      void this.loadMentions();
    } catch (e) {
      inlineError(item.querySelector<HTMLElement>(".mention-reply") ?? item, e);
    }
  }

  // ---- proactive notices -----------------------------------------------------------------------------------------
  private async loadJobs(chosen: number | null): Promise<void> {
    mount(this.noticeEl, h("p", { class: "muted", role: "status" }, "Loading jobs…"));
    try {
      this.jobs = noticeCandidates(await all<Job>("/jobs"));
    } catch (e) {
      inlineError(this.noticeEl, e);
      return;
    }
    const select = h("select", { id: "notice-job" },
      h("option", { value: "" }, this.jobs.length ? "Choose an open job…" : "No open jobs"),
      this.jobs.map((j) => h("option", { value: String(j.id) },
        `#${j.id} ${j.title}${j.reporter_count > 1 ? ` · ${j.reporter_count} reports` : ""}`)));
    const number = h("input", { id: "notice-job-number", type: "number", min: "1", inputmode: "numeric", placeholder: "e.g. 123" });
    const result = h("div", { id: "notice-customers" });
    const find = () => {
      const id = Number(number.value || select.value);
      if (!id) {
        mount(result, h("p", { class: "inline-error", role: "alert" }, "Choose a job, or type its number."));
        return;
      }
      void this.showAffected(id, result);
    };
    const form = h("form", { class: "adm-form", role: "search", "aria-label": "Find customers near a job" },
      h("div", { class: "adm-inline" },
        h("div", { class: "field" }, h("label", { for: "notice-job" }, "Open job (most reported first)"), select),
        h("div", { class: "field" }, h("label", { for: "notice-job-number" }, "or job number"), number)),
      h("div", null, h("button", { type: "submit", class: "small", id: "notice-find" }, "Find customers nearby")));
    form.addEventListener("submit", (ev) => { ev.preventDefault(); find(); });
    mount(this.noticeEl, form, result);
    if (chosen) {
      number.value = String(chosen);
      find();
    }
  }

  private async showAffected(jobId: number, out: HTMLElement): Promise<void> {
    mount(out, h("p", { class: "muted", role: "status" }, "Looking for customers nearby…"));
    let rows: Affected[];
    try {
      rows = await api<Affected[]>(`/jobs/${jobId}/affected-customers`);
    } catch (e) {
      inlineError(out, e);
      return;
    }
    const job = this.jobs.find((j) => j.id === jobId);
    const heading = h("h3", { class: "small" }, `Near #${jobId}${job ? ` ${job.title}` : ""}`);
    if (!rows.length) {
      mount(out, heading, h("p", { class: "empty-note", role: "status" },
        "No customer on record lives near this job (other than those who reported it)."));
      return;
    }
    const boxes = new Map<number, HTMLInputElement>();
    const sendable = rows.filter((r) => !r.already_notified && r.channel);
    const table = h("table", { class: "adm-table", id: "notice-table" },
      h("caption", { class: "visually-hidden" }, "Customers near the job"),
      h("thead", null, h("tr", null, ["Tell", "Customer", "Distance", "Channel"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", null, rows.map((r) => {
        const can = !r.already_notified && !!r.channel;
        const box = h("input", { type: "checkbox", id: `notice-${r.customer_id}`, checked: can, disabled: !can,
          "aria-label": `Tell ${r.display_name}` });
        if (can) boxes.set(r.customer_id, box);
        return h("tr", { dataset: { customerId: r.customer_id } },
          h("td", null, box),
          h("th", { scope: "row" }, r.display_name, r.address ? h("div", { class: "small muted" }, r.address) : null),
          h("td", null, distance(r.distance_m)),
          h("td", null, r.already_notified ? "already told" : r.channel ? channelName(r.channel) : "no channel to reach them"));
      })));
    const message = h("textarea", { id: "notice-text", rows: "3", maxlength: "2000",
      placeholder: `Heads-up from Groundcrew: we know about the ${job ? job.title.toLowerCase() : "problem"} near you and a crew is on it. No need to report it.` });
    const error = h("div");
    const send = h("button", { type: "submit", class: "primary small", id: "notice-send", disabled: !sendable.length },
      sendable.length ? `Send ${sendable.length} notice${sendable.length === 1 ? "" : "s"}` : "Nobody left to tell");
    const count = () => {
      const n = [...boxes.values()].filter((b) => b.checked).length;
      send.textContent = `Send ${n} notice${n === 1 ? "" : "s"}`;
      send.disabled = n === 0;
    };
    for (const b of boxes.values()) b.addEventListener("change", count);
    const form = h("form", { class: "adm-form", "aria-label": "Send notices" },
      h("label", { for: "notice-text" }, "Message (leave empty for the text shown)"), message, error, h("div", null, send));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      const ids = [...boxes.entries()].filter(([, b]) => b.checked).map(([id]) => id);
      if (!ids.length) return;
      send.disabled = true;
      api<Notice[]>(`/jobs/${jobId}/proactive-notice`, { method: "POST",
        body: { customer_ids: ids, ...(message.value.trim() ? { text: message.value.trim() } : {}) } }).then((sent) => {
        const names = new Map(rows.map((r) => [r.customer_id, r.display_name]));
        const words = sent.map((n) => `${names.get(n.customer_id) ?? "a customer"} (${channelName(n.channel)})`).join(", ");
        notify(sent.length ? `Notice queued for ${words}.` : "Nobody new to tell: each had been told already.", "ok");
        void this.showAffected(jobId, out);
      }, (e: unknown) => {
        send.disabled = false;
        inlineError(error, e);
      });
    });
    mount(out, heading, h("div", { class: "adm-list" }, table), form);
  }
}
