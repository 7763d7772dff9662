// Online staff view: the inbox across channels with triage, the conversation with reply on the customer's
// channel, the customer 360 (identities, history, cases, jobs, merges) and hand-off to field with the
// location confirmed on a map.
import { api, ApiError } from "../api";
import { h, mount } from "../dom";
import { pct, titleCase, when } from "../format";
import { baseMap, L, nodeIcon } from "../map";
import { config } from "../config";
import type { Case, Customer, Identity, LiveEvent, Message } from "../types";
import { badge, inlineError, notify, notifyError, openDialog } from "../ui";
import type { View } from "./view";

interface InboxRow {
  conversation_id: number;
  channel: string;
  subject: string;
  status: string;
  last_message_at: string;
  customer: { id: number; display_name: string };
  last_message: { text: string; direction: string; author_name: string } | null;
  case: {
    id: number; status: string; category: string | null; priority: number; category_confidence: number | null;
    sentiment: number | null; urgency: number | null; sla_due_at: string | null; job_id: number | null;
    geotag_confidence: number | null; geotag_kind: string | null;
  } | null;
}

interface ConversationDetail {
  id: number;
  customer_id: number;
  channel: string;
  subject: string;
  status: string;
  messages: Message[];
}

const CHANNELS = ["", "twitter", "facebook", "email", "sms", "webform", "open311", "phone"];

function sentimentLabel(s: number | null | undefined): string {
  if (s === null || s === undefined) return "sentiment —";
  if (s <= -0.5) return "very negative";
  if (s < -0.05) return "negative";
  if (s > 0.3) return "positive";
  return "neutral";
}

export class InboxView implements View {
  private listEl = h("ol", { class: "inbox-list", "aria-label": "Conversations" });
  private detailEl = h("section", { class: "inbox-detail", "aria-label": "Conversation", id: "conversation" });
  private sideEl = h("aside", { class: "inbox-side", "aria-label": "Customer", id: "customer-360" });
  private countEl = h("span", { class: "count" });
  private channel = "";
  private attention = true;
  private offset = 0;
  private selected: number | null = null;
  private refreshTimer: number | undefined;

  mount(el: HTMLElement, arg?: string): void {
    const channel = h("select", { id: "inbox-channel", onchange: (e: Event) => {
      this.channel = (e.target as HTMLSelectElement).value;
      this.offset = 0;
      void this.loadList();
    } }, CHANNELS.map((c) => h("option", { value: c }, c ? titleCase(c) : "All channels")));
    const attention = h("input", { type: "checkbox", id: "inbox-attention", checked: this.attention, onchange: (e: Event) => {
      this.attention = (e.target as HTMLInputElement).checked;
      this.offset = 0;
      void this.loadList();
    } });
    const more = h("button", { type: "button", class: "small", onclick: () => { this.offset += 50; void this.loadList(true); } }, "Older…");
    mount(el, h("section", { class: "inbox-grid" },
      h("section", { class: "inbox-pane", "aria-labelledby": "inbox-title" },
        h("h1", { id: "inbox-title", class: "pane-title" }, "Inbox ", this.countEl),
        h("div", { class: "filters" },
          h("label", { for: "inbox-channel", class: "visually-hidden" }, "Channel"), channel,
          h("label", { class: "check" }, attention, " Needs attention")),
        this.listEl, more),
      this.detailEl, this.sideEl));
    mount(this.detailEl, h("p", { class: "muted pad" }, "Pick a conversation from the inbox."));
    void this.loadList();
    if (arg && /^\d+$/.test(arg)) void this.openConversation(Number(arg));
  }

  unmount(): void {
    clearTimeout(this.refreshTimer);
  }

  onEvent(event: LiveEvent): void {
    if (/^(message|case|conversation)\./.test(event.type)) {
      clearTimeout(this.refreshTimer);
      this.refreshTimer = window.setTimeout(() => {
        void this.loadList();
        if (this.selected !== null && Number(event.data.conversation_id) === this.selected) void this.openConversation(this.selected);
      }, 500);
    }
  }

  private async loadList(append = false): Promise<void> {
    const params = new URLSearchParams({ limit: "50", offset: String(this.offset) });
    if (this.channel) params.set("channel", this.channel);
    if (this.attention) params.set("needs_attention", "true");
    try {
      const page = await api<{ items: InboxRow[]; total: number }>(`/console/inbox?${params}`);
      this.countEl.textContent = `(${page.total})`;
      const rows = page.items.map((row) => this.row(row));
      if (append) this.listEl.append(...rows);
      else mount(this.listEl, rows.length ? rows : h("li", { class: "muted pad" }, "No conversations match."));
    } catch (e) {
      notifyError(e);
    }
  }

  private row(r: InboxRow): HTMLElement {
    const c = r.case;
    const triage = c ? [
      badge(titleCase(c.category ?? "uncategorised"), "cat"),
      badge(`P${c.priority}`, c.priority >= 8 ? "hot" : ""),
      badge(sentimentLabel(c.sentiment), c.sentiment !== null && c.sentiment < -0.05 ? "neg" : ""),
      badge(`location ${pct(c.geotag_confidence)}`, c.geotag_confidence !== null && c.geotag_confidence < 0.5 ? "warn" : ""),
      badge(titleCase(c.status), `case-${c.status}`),
    ] : [badge("not triaged")];
    return h("li", null, h("button", { type: "button", class: `inbox-row${this.selected === r.conversation_id ? " selected" : ""}`,
      dataset: { conversationId: r.conversation_id }, "aria-current": this.selected === r.conversation_id ? "true" : false,
      onclick: (ev: Event) => {
        this.listEl.querySelectorAll(".inbox-row.selected").forEach((b) => b.classList.remove("selected"));
        (ev.currentTarget as HTMLElement).classList.add("selected");
        void this.openConversation(r.conversation_id);
      } },
      h("span", { class: "row-top" },
        h("span", { class: `chan chan-${r.channel}` }, titleCase(r.channel)),
        h("strong", { class: "who" }, r.customer.display_name || `customer ${r.customer.id}`),
        h("span", { class: "when muted" }, when(r.last_message_at, config().timezone))),
      h("span", { class: "snippet" }, r.last_message?.text ?? r.subject),
      h("span", { class: "triage" }, triage)));
  }

  async openConversation(id: number): Promise<void> {
    this.selected = id;
    if (location.hash !== `#/inbox/${id}`) history.replaceState(null, "", `#/inbox/${id}`);
    mount(this.detailEl, h("p", { class: "muted pad" }, "Loading…"));
    let conv: ConversationDetail;
    try {
      conv = await api<ConversationDetail>(`/conversations/${id}`);
    } catch (e) {
      inlineError(this.detailEl, e);
      return;
    }
    const cases = await api<{ items: Case[] }>(`/cases?customer_id=${conv.customer_id}&limit=50`).catch(() => ({ items: [] as Case[] }));
    const myCase = cases.items.filter((c) => c.conversation_id === id).sort((a, b) => b.id - a.id)[0] ?? null;
    const tz = config().timezone;
    const msgs = conv.messages.map((m) => h("li", { class: `msg msg-${m.direction}` },
      h("div", { class: "msg-meta" }, h("strong", null, m.author_name || titleCase(m.author_kind)), " · ", titleCase(m.channel),
        " · ", when(m.sent_at, tz), m.direction === "outbound" ? ` · ${m.delivery_status}` : "",
        m.visibility === "public" ? " · public" : ""),
      h("p", { class: "msg-text" }, m.text),
      m.place_name || m.lat !== null ? h("div", { class: "msg-place muted small" }, "Location: ", m.place_name ?? "",
        m.lat !== null ? ` (${m.lat.toFixed(5)}, ${m.lon?.toFixed(5)})` : "") : null));
    const lastIn = [...conv.messages].reverse().find((m) => m.direction === "inbound");
    const text = h("textarea", { id: "reply-text", rows: "3", required: true, maxlength: "10000" });
    const send = h("button", { type: "submit", class: "primary" }, `Send on ${titleCase(conv.channel)}`);
    const err = h("div");
    const reply = h("form", { class: "reply", "aria-label": "Reply" },
      h("label", { for: "reply-text" }, `Reply to ${lastIn?.author_name || "the customer"} on ${titleCase(conv.channel)}`),
      text, err, h("div", { class: "actions" }, send));
    reply.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!text.value.trim()) return;
      send.disabled = true;
      try {
        await api(`/conversations/${id}/messages`, { method: "POST", body: { text: text.value, visibility: lastIn?.visibility ?? "private" } });
        notify("Reply queued for delivery on the customer's channel", "ok");
        await this.openConversation(id);
      } catch (e) {
        inlineError(err, e);
        send.disabled = false;
      }
    });
    mount(this.detailEl,
      h("header", { class: "conv-head" },
        h("h2", null, conv.subject || `Conversation ${conv.id}`),
        h("span", { class: "muted" }, `${titleCase(conv.channel)} · ${titleCase(conv.status)}`)),
      myCase ? this.casePanel(myCase) : h("p", { class: "muted" }, "No case for this conversation."),
      h("ol", { class: "messages", "aria-label": "Messages" }, msgs),
      reply);
    void this.showCustomer(conv.customer_id);
  }

  private casePanel(c: Case): HTMLElement {
    const t = c.triage as Record<string, unknown>;
    const g = c.geotag as Record<string, unknown>;
    const expl = (v: unknown) => (typeof v === "string" ? v : Array.isArray(v) ? v.map(String).join("; ") : "");
    return h("section", { class: "case-panel", "aria-label": `Case ${c.id}`, id: "case-panel", dataset: { caseId: c.id } },
      h("div", { class: "case-head" },
        h("strong", null, `Case ${c.id}`), " ", badge(titleCase(c.status), `case-${c.status}`),
        c.job_id ? [" ", badge(`job ${c.job_id}`)] : null),
      h("dl", { class: "facts triage-facts" },
        h("dt", null, "Category"), h("dd", null, titleCase(c.category ?? "—"), c.category_confidence !== null ? ` (${pct(c.category_confidence)})` : ""),
        h("dt", null, "Priority"), h("dd", null, String(c.priority), c.sla_due_at ? ` · SLA ${when(c.sla_due_at, config().timezone)}` : ""),
        h("dt", null, "Sentiment"), h("dd", null, sentimentLabel(c.sentiment), c.sentiment !== null ? ` (${c.sentiment.toFixed(2)})` : ""),
        h("dt", null, "Location"), h("dd", null, c.location_text ?? "—", ` · ${titleCase(String(g.kind ?? "unknown"))}`,
          typeof g.confidence === "number" ? ` · confidence ${pct(g.confidence)}` : ""),
        expl(t.explanation ?? t.explanations) ? [h("dt", null, "Why"), h("dd", null, expl(t.explanation ?? t.explanations))] : null),
      h("div", { class: "actions" },
        c.status !== "handed_off" && c.status !== "closed"
          ? h("button", { type: "button", class: "primary", id: "handoff", onclick: () => void this.handoff(c) }, "Hand off to field…")
          : h("span", { class: "muted" }, c.job_id ? `Handed off as job ${c.job_id}.` : "")));
  }

  /** Confirm the location on the map (drag the pin to correct it), then hand the case to the field. */
  private async handoff(c: Case): Promise<void> {
    const area = await api<{ properties: { bbox: number[] } }>("/map/service-area").catch(() => null);
    const [w, s, e, n] = area?.properties.bbox ?? [-76.62, 39.25, -76.51, 39.32];
    let lat = c.lat ?? (s + n) / 2;
    let lon = c.lon ?? (w + e) / 2;
    await openDialog(`Hand off case ${c.id} to field`, (body, close) => {
      const mapEl = h("div", { class: "map handoff-map", id: "handoff-map" });
      const where = h("p", { id: "handoff-where", "aria-live": "polite" });
      const showWhere = () => (where.textContent = `Pin at ${lat.toFixed(5)}, ${lon.toFixed(5)}${c.location_text ? ` — reported as “${c.location_text}”` : ""}`);
      showWhere();
      const err = h("div", { id: "handoff-error" });
      const confirm = h("button", { type: "button", class: "primary", id: "confirm-handoff" }, "Confirm location and hand off");
      const g = c.geotag as Record<string, unknown>;
      mount(body,
        h("p", null, c.lat === null ? "No location was found in the messages: place the pin where the work is."
          : `Geotag: ${titleCase(String(g.kind ?? "unknown"))}${typeof g.confidence === "number" ? `, confidence ${pct(g.confidence)}` : ""}. Drag the pin (or use the arrow keys after focusing it) if it is wrong.`),
        mapEl, where, err, h("div", { class: "actions" }, confirm, h("button", { type: "button", onclick: close }, "Cancel")));
      const bm = baseMap(mapEl, { label: "Map: drag the pin to the work location" });
      bm.map.setView([lat, lon], 16);
      void bm.ready.then(() => bm.map.setView([lat, lon], 16)).catch(() => undefined);
      const pin = L.marker([lat, lon], {
        draggable: true, keyboard: true, title: "Work location (drag to correct)", alt: "Work location pin",
        icon: nodeIcon(h("span", { "aria-hidden": "true" }), { className: "pin-icon", iconSize: [30, 30], iconAnchor: [15, 30] }),
      }).addTo(bm.map);
      pin.on("dragend", () => {
        const p = pin.getLatLng();
        lat = p.lat;
        lon = p.lng;
        mapEl.dataset.lat = String(lat);
        mapEl.dataset.lon = String(lon);
        showWhere();
      });
      // Keyboard: arrow keys nudge the pin by about 10 m when it has focus.
      pin.on("keydown", (ev: L.LeafletKeyboardEvent) => {
        const k = ev.originalEvent.key;
        const step = 0.0001;
        if (!["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"].includes(k)) return;
        ev.originalEvent.preventDefault();
        if (k === "ArrowUp") lat += step;
        if (k === "ArrowDown") lat -= step;
        if (k === "ArrowLeft") lon -= step;
        if (k === "ArrowRight") lon += step;
        pin.setLatLng([lat, lon]);
        showWhere();
      });
      setTimeout(() => bm.map.invalidateSize(), 50);
      confirm.addEventListener("click", async () => {
        confirm.disabled = true;
        try {
          const res = await api<{ job_id?: number; job?: { id: number } }>(`/cases/${c.id}/handoff`, { method: "POST", body: { lat, lon } });
          const jobId = res?.job_id ?? res?.job?.id;
          notify(`Case ${c.id} handed off to field${jobId ? ` as job ${jobId}` : ""}`, "ok");
          close();
          if (this.selected !== null) void this.openConversation(this.selected);
          void this.loadList();
        } catch (ex) {
          inlineError(err, ex);
          confirm.disabled = false;
        }
      });
      const dlg = body.closest("dialog");
      dlg?.addEventListener("close", () => bm.map.remove());
    });
  }

  /** Customer 360: the server's /customers/{id}/360 when it exists, else the customer with identities. */
  private async showCustomer(customerId: number): Promise<void> {
    mount(this.sideEl, h("p", { class: "muted pad" }, "Loading customer…"));
    try {
      const full = await api<Record<string, unknown>>(`/customers/${customerId}/360`).catch((e) => {
        if (e instanceof ApiError && e.missing) return null;
        throw e;
      });
      if (full) {
        // Pending merge suggestions that involve this customer (agents only; others get 403 and see none).
        const sugg = await api<{ items: Array<{ customer_a_id: number; customer_b_id: number }> }>("/customers/merge-suggestions?limit=500")
          .catch(() => ({ items: [] }));
        const id = (full.customer as Customer).id;
        full.merge_suggestions = sugg.items.filter((s) => s.customer_a_id === id || s.customer_b_id === id);
        return this.render360(full, customerId);
      }
      const cust = await api<Customer>(`/customers/${customerId}`);
      const cases = await api<{ items: Case[] }>(`/cases?customer_id=${customerId}&limit=100`);
      this.render360({ customer: cust, identities: cust.identities ?? [], cases: cases.items, jobs: [], conversations: [], merges: [],
        _partial: `This server has no GET /customers/${customerId}/360 yet: identities and cases only.` }, customerId);
    } catch (e) {
      inlineError(this.sideEl, e);
    }
  }

  private render360(data: Record<string, unknown>, requestedId: number): void {
    const cust = data.customer as Customer;
    const ids = (data.identities as Identity[]) ?? [];
    const convs = (data.conversations as Array<{ id: number; channel: string; subject: string; messages?: Message[] }>) ?? [];
    const cases = (data.cases as Case[]) ?? [];
    const jobs = (data.jobs as Array<{ id: number; title: string; status: string }>) ?? [];
    const merges = (data.merges as Array<Record<string, unknown>>) ?? [];
    const suggestions = (data.merge_suggestions as Array<{ id: number; customer_a_id: number; customer_b_id: number; reasons: string[]; score: number }>) ?? [];
    const act = (label: string, method: string, path: string, ok: string) => h("button", { type: "button", class: "small", onclick: async () => {
      try {
        await api(path, { method });
        notify(ok, "ok");
        void this.showCustomer(requestedId);
      } catch (e) {
        notifyError(e);
      }
    } }, label);
    mount(this.sideEl,
      h("h2", { class: "pane-title" }, cust.display_name || `Customer ${cust.id}`),
      cust.id !== requestedId ? h("p", { class: "muted small" }, `Merged: customer ${requestedId} is now part of ${cust.id}.`) : null,
      data._partial ? h("p", { class: "muted small" }, String(data._partial)) : null,
      cust.address ? h("p", null, cust.address) : null,
      h("h3", null, "Identities"),
      h("ul", { class: "plain" }, ids.map((i) => h("li", null, badge(titleCase(i.channel)), " ", i.handle, i.verified ? " ✓" : ""))),
      suggestions.length ? [h("h3", null, "Possible duplicates"), h("ul", { class: "plain", id: "merge-suggestions" }, suggestions.map((s) =>
        h("li", null, `customer ${s.customer_a_id === cust.id ? s.customer_b_id : s.customer_a_id}: ${s.reasons.join("; ")} (score ${s.score.toFixed(2)})`, " ",
          act("Merge", "POST", `/customers/merge-suggestions/${s.id}`, "Customers merged"), " ",
          act("Not the same person", "DELETE", `/customers/merge-suggestions/${s.id}`, "Suggestion rejected"))))] : null,
      merges.length ? [h("h3", null, "Merged records"), h("ul", { class: "plain" }, merges.map((m) =>
        h("li", null, `customer ${String(m.merged_id ?? "?")} merged (${String(m.reason ?? "")})`, " ",
          m.undone_at ? "(undone)" : act("Unmerge", "POST", `/customers/${String(m.survivor_id ?? cust.id)}/unmerge/${String(m.id)}`, "Unmerged: both customers have their own history again"))))] : null,
      h("h3", null, `Cases (${cases.length})`),
      h("ul", { class: "plain" }, cases.map((c) => h("li", null, `#${c.id} `, titleCase(c.category ?? "—"), " · ", titleCase(c.status),
        c.job_id ? ` · job ${c.job_id}` : ""))),
      jobs.length ? [h("h3", null, `Jobs (${jobs.length})`), h("ul", { class: "plain" }, jobs.map((j) =>
        h("li", null, `#${j.id} ${j.title} · ${titleCase(j.status)}`)))] : null,
      convs.length ? [h("h3", null, `History (${convs.length} conversations)`), h("ul", { class: "plain" }, convs.map((c) =>
        h("li", null, h("button", { type: "button", class: "link", onclick: () => void this.openConversation(c.id) },
          `${titleCase(c.channel)}: ${c.subject || `conversation ${c.id}`}`), c.messages ? ` (${c.messages.length})` : "")))] : null);
  }
}

