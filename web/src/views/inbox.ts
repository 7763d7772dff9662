// Online staff view: the agents' inbox across channels. Status tabs (open / pending / snoozed / resolved), search,
// assignee and channel filters, first-response SLA timers; the conversation with assign, resolve, snooze, replies on
// the customer's channel (canned replies with the customer's name) and private notes; triage correction; the customer
// 360 with a timeline across channels and the jobs' live ETA; hand-off to field with the location confirmed on a map.
// Keyboard: j/k or ↓/↑ move between conversations, r reply, n private note, e resolve, z snooze an hour, a assign to
// me, / search, Esc back to the list.
import { api, ApiError, currentSession } from "../api";
import { h, mount } from "../dom";
import { pct, titleCase, when } from "../format";
import { locationPicker } from "../location-picker";
import { config } from "../config";
import {
  addNote, assign, correctTriage, loadAgents, loadCanned, loadInbox, loadTimeline, setStatus, slaText, snoozeUntil, TABS,
  type Agent, type InboxMessage, type InboxQuery, type InboxRow, type InboxStatus, type Sla,
} from "../inbox-api";
import { renderTimeline } from "../inbox-timeline";
import type { Case, Customer, Identity, LiveEvent, Message } from "../types";
import { badge, inlineError, notify, notifyError, openDialog } from "../ui";
import type { View } from "./view";

interface ConversationDetail {
  id: number;
  customer_id: number;
  channel: string;
  subject: string;
  status: Exclude<InboxStatus, "all">;
  assignee_user_id: number | null;
  snoozed_until: string | null;
  awaiting_since: string | null;
  messages: InboxMessage[];
}

const CHANNELS = ["", "twitter", "facebook", "email", "sms", "webform", "open311", "phone"];
const PAGE = 50;

function sentimentLabel(s: number | null | undefined): string {
  if (s === null || s === undefined) return "sentiment —";
  if (s <= -0.5) return "very negative";
  if (s < -0.05) return "negative";
  if (s > 0.3) return "positive";
  return "neutral";
}

function slaBadge(sla: Sla | null): HTMLElement | null {
  if (!sla) return null;
  return h("span", { class: `badge sla-badge ${sla.breached ? "hot" : sla.remaining_s < 900 ? "warn" : ""}`,
    dataset: { breached: String(sla.breached) }, title: `First response due ${when(sla.due_at, config().timezone)}` }, slaText(sla));
}

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  return !!el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
}

export class InboxView implements View {
  private listEl = h("ol", { class: "inbox-list", "aria-label": "Conversations" });
  private detailEl = h("section", { class: "inbox-detail", "aria-label": "Conversation", id: "conversation" });
  private sideEl = h("aside", { class: "inbox-side", "aria-label": "Customer", id: "customer-360" });
  private timelineEl = h("div", { id: "timeline-slot" });
  private countEl = h("span", { class: "count" });
  private tabsEl = h("div", { class: "inbox-tabs", role: "tablist", "aria-label": "Status" });
  private query: InboxQuery = { status: "open", assignee: "", channel: "", q: "", needsAttention: true, sort: "recent", offset: 0, limit: PAGE };
  private rows: InboxRow[] = [];
  private selected: number | null = null;
  private agents: Agent[] = [];
  private me: Agent | null = null;
  private categories: Array<{ name: string; label: string; field_work: boolean }> = [];
  private categoriesReady: Promise<void> = Promise.resolve();
  private refreshTimer: number | undefined;
  // What the agent has typed or picked, per conversation: a live event re-draws the conversation, which must not
  // lose a half-written reply or a chosen category.
  private drafts = new Map<number, { text: string; note: boolean }>();
  private triagePicks = new Map<number, string>();
  private openSeq = 0; // the latest openConversation wins: an older answer arriving later must not draw stale state
  private searchTimer: number | undefined;
  private keyHandler = (ev: KeyboardEvent) => this.onKey(ev);
  private searchEl = h("input", { type: "search", id: "inbox-search", placeholder: "Search name, handle or text  ( / )",
    autocomplete: "off", maxlength: "200" });
  private assigneeEl = h("select", { id: "inbox-assignee" });

  mount(el: HTMLElement, arg?: string): void {
    const channel = h("select", { id: "inbox-channel", onchange: (e: Event) => {
      this.query.channel = (e.target as HTMLSelectElement).value;
      void this.reload();
    } }, CHANNELS.map((c) => h("option", { value: c }, c ? titleCase(c) : "All channels")));
    const attention = h("input", { type: "checkbox", id: "inbox-attention", checked: this.query.needsAttention, onchange: (e: Event) => {
      this.query.needsAttention = (e.target as HTMLInputElement).checked;
      void this.reload();
    } });
    const sort = h("select", { id: "inbox-sort", onchange: (e: Event) => {
      this.query.sort = (e.target as HTMLSelectElement).value as InboxQuery["sort"];
      void this.reload();
    } }, h("option", { value: "recent" }, "Latest first"), h("option", { value: "sla" }, "Longest waiting first"));
    this.searchEl.addEventListener("input", () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = window.setTimeout(() => { this.query.q = this.searchEl.value; void this.reload(); }, 250);
    });
    this.searchEl.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter") { clearTimeout(this.searchTimer); this.query.q = this.searchEl.value; void this.reload(); }
      if (ev.key === "Escape") this.focusRow();
    });
    this.assigneeEl.addEventListener("change", () => { this.query.assignee = this.assigneeEl.value; void this.reload(); });
    this.fillAssigneeFilter();
    const more = h("button", { type: "button", class: "small", id: "inbox-more", onclick: () => {
      this.query.offset += PAGE;
      void this.loadList(true);
    } }, "Older…");
    mount(el, h("section", { class: "inbox-grid" },
      h("section", { class: "inbox-pane", "aria-labelledby": "inbox-title" },
        h("h1", { id: "inbox-title", class: "pane-title" }, "Inbox ", this.countEl),
        this.tabsEl,
        h("div", { class: "inbox-search" }, h("label", { for: "inbox-search", class: "visually-hidden" }, "Search conversations"), this.searchEl),
        h("div", { class: "filters" },
          h("label", { for: "inbox-assignee", class: "visually-hidden" }, "Assignee"), this.assigneeEl,
          h("label", { for: "inbox-channel", class: "visually-hidden" }, "Channel"), channel,
          h("label", { for: "inbox-sort", class: "visually-hidden" }, "Order"), sort),
        h("div", { class: "filters" }, h("label", { class: "check" }, attention, " Needs attention (open tab)")),
        this.listEl, more,
        h("p", { class: "muted small keys-hint", id: "inbox-keys" }, "Keys: j/k move · r reply · n note · e resolve · z snooze 1 h · a assign to me · / search")),
      this.detailEl, this.sideEl));
    this.renderTabs({ open: 0, pending: 0, snoozed: 0, resolved: 0, all: 0 });
    mount(this.detailEl, h("p", { class: "muted pad" }, "Pick a conversation from the inbox."));
    document.addEventListener("keydown", this.keyHandler);
    void this.loadList();
    void loadAgents().then((a) => {
      this.agents = a;
      this.me = a.find((x) => x.username === currentSession()?.username) ?? null;
      this.fillAssigneeFilter();
    }).catch(() => undefined);
    this.categoriesReady = api<Array<{ name: string; label: string; field_work: boolean }>>("/inbox/categories")
      .then((c) => { this.categories = c; }).catch(() => undefined);
    if (arg && /^\d+$/.test(arg)) void this.openConversation(Number(arg));
  }

  unmount(): void {
    clearTimeout(this.refreshTimer);
    clearTimeout(this.searchTimer);
    document.removeEventListener("keydown", this.keyHandler);
  }

  onEvent(event: LiveEvent): void {
    if (/^(message|case|conversation)\./.test(event.type)) {
      clearTimeout(this.refreshTimer);
      this.refreshTimer = window.setTimeout(() => {
        void this.loadList();
        if (this.selected !== null && Number(event.data.conversation_id) === this.selected) void this.openConversation(this.selected, false);
      }, 500);
    }
  }

  private fillAssigneeFilter(): void {
    const value = this.query.assignee;
    mount(this.assigneeEl, h("option", { value: "" }, "Anyone"), h("option", { value: "me" }, "Assigned to me"),
      h("option", { value: "none" }, "Unassigned"),
      this.agents.filter((a) => a.id !== this.me?.id).map((a) => h("option", { value: String(a.id) }, a.name)));
    this.assigneeEl.value = value;
  }

  private renderTabs(counts: Record<InboxStatus, number>): void {
    const attention = document.getElementById("inbox-attention") as HTMLInputElement | null;
    if (attention) attention.disabled = this.query.status !== "open"; // it narrows the Open tab only
    mount(this.tabsEl, TABS.map((t) => h("button", { type: "button", role: "tab", id: `inbox-tab-${t}`, class: "inbox-tab",
      "aria-selected": this.query.status === t ? "true" : "false", tabindex: this.query.status === t ? "0" : "-1",
      onclick: () => { this.query.status = t; void this.reload(); },
      onkeydown: (ev: KeyboardEvent) => {
        if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
        ev.preventDefault();
        const i = (TABS.indexOf(t) + (ev.key === "ArrowRight" ? 1 : TABS.length - 1)) % TABS.length;
        this.query.status = TABS[i];
        void this.reload().then(() => document.getElementById(`inbox-tab-${TABS[i]}`)?.focus());
      } }, titleCase(t), " ", h("span", { class: "tab-count" }, String(counts[t] ?? 0)))));
  }

  private reload(): Promise<void> {
    this.query.offset = 0;
    return this.loadList();
  }

  private async loadList(append = false): Promise<void> {
    try {
      const page = await loadInbox(this.query);
      this.countEl.textContent = `(${page.total})`;
      this.renderTabs(page.counts);
      this.rows = append ? this.rows.concat(page.items) : page.items;
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
    const tz = config().timezone;
    const isSel = this.selected === r.conversation_id;
    return h("li", null, h("button", { type: "button", class: `inbox-row${isSel ? " selected" : ""}`,
      dataset: { conversationId: r.conversation_id, status: r.status }, "aria-current": isSel ? "true" : false,
      tabindex: isSel || (this.selected === null && r === this.rows[0]) ? "0" : "-1",
      onclick: () => void this.openConversation(r.conversation_id) },
      h("span", { class: "row-top" },
        h("span", { class: `chan chan-${r.channel}` }, titleCase(r.channel)),
        h("strong", { class: "who" }, r.customer.display_name || `customer ${r.customer.id}`),
        h("span", { class: "when muted" }, when(r.last_message_at, tz))),
      h("span", { class: "snippet" }, r.last_message?.text ?? r.subject),
      h("span", { class: "triage" },
        r.status !== "open" ? badge(r.status === "snoozed" && r.snoozed_until ? `snoozed until ${when(r.snoozed_until, tz)}` : titleCase(r.status), `st-${r.status}`) : null,
        slaBadge(r.sla),
        badge(r.assignee ? `→ ${r.assignee.name}` : "unassigned", r.assignee ? "assignee" : "muted-badge"),
        triage)));
  }

  private markSelected(): void {
    this.listEl.querySelectorAll<HTMLElement>(".inbox-row").forEach((b) => {
      const on = Number(b.dataset.conversationId) === this.selected;
      b.classList.toggle("selected", on);
      if (on) b.setAttribute("aria-current", "true");
      else b.removeAttribute("aria-current");
      b.tabIndex = on ? 0 : -1;
    });
  }

  private focusRow(): void {
    const rows = [...this.listEl.querySelectorAll<HTMLElement>(".inbox-row")];
    (rows.find((b) => Number(b.dataset.conversationId) === this.selected) ?? rows[0])?.focus();
  }

  /** j/k and arrows move (and open); r reply, n note, e resolve, z snooze 1 h, a assign to me, / search. */
  private onKey(ev: KeyboardEvent): void {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || document.querySelector("dialog[open]")) return;
    if (typing(ev.target)) {
      if (ev.key === "Escape" && ev.target instanceof HTMLTextAreaElement) { ev.preventDefault(); this.focusRow(); }
      return;
    }
    if ((ev.target as HTMLElement | null)?.getAttribute?.("role") === "tab" && ev.key.startsWith("Arrow")) return;
    const rows = [...this.listEl.querySelectorAll<HTMLElement>(".inbox-row")];
    const at = rows.findIndex((b) => Number(b.dataset.conversationId) === this.selected);
    const move = (d: number) => {
      const next = rows[Math.max(0, Math.min(rows.length - 1, at + d))];
      if (!next) return;
      next.focus();
      void this.openConversation(Number(next.dataset.conversationId));
    };
    const id = this.selected;
    switch (ev.key) {
      case "j": case "ArrowDown": ev.preventDefault(); move(at < 0 ? 0 : 1); break;
      case "k": case "ArrowUp": ev.preventDefault(); move(at < 0 ? 0 : -1); break;
      case "/": ev.preventDefault(); this.searchEl.focus(); break;
      case "r": case "n":
        if (id === null) return;
        ev.preventDefault();
        (document.getElementById(ev.key === "r" ? "mode-reply" : "mode-note") as HTMLInputElement | null)?.click();
        document.getElementById("reply-text")?.focus();
        break;
      case "e": if (id !== null) { ev.preventDefault(); void this.changeStatus(id, "resolved"); } break;
      case "z": if (id !== null) { ev.preventDefault(); void this.changeStatus(id, "snoozed", snoozeUntil("1h")); } break;
      case "a": if (id !== null && this.me) { ev.preventDefault(); void this.changeAssignee(id, this.me.id); } break;
      default:
    }
  }

  private async changeStatus(id: number, status: Exclude<InboxStatus, "all">, until?: Date): Promise<void> {
    try {
      await setStatus(id, status, until);
      notify(status === "snoozed" && until ? `Snoozed until ${when(until, config().timezone)}` : `Conversation ${titleCase(status).toLowerCase()}`, "ok");
      await Promise.all([this.loadList(), this.openConversation(id, false)]);
    } catch (e) {
      notifyError(e);
    }
  }

  private async changeAssignee(id: number, userId: number | null): Promise<void> {
    try {
      await assign(id, userId);
      const who = userId === null ? "nobody" : userId === this.me?.id ? "you" : this.agents.find((a) => a.id === userId)?.name ?? `user ${userId}`;
      notify(`Assigned to ${who}`, "ok");
      await Promise.all([this.loadList(), this.openConversation(id, false)]);
    } catch (e) {
      notifyError(e);
    }
  }

  private toolbar(conv: ConversationDetail): HTMLElement {
    const tz = config().timezone;
    const who = h("select", { id: "assign-select", "aria-label": "Assignee" },
      h("option", { value: "" }, "Unassigned"),
      this.agents.map((a) => h("option", { value: String(a.id) }, a.id === this.me?.id ? `${a.name} (me)` : a.name)));
    who.value = conv.assignee_user_id ? String(conv.assignee_user_id) : "";
    who.addEventListener("change", () => void this.changeAssignee(conv.id, who.value ? Number(who.value) : null));
    const snooze = h("select", { id: "snooze-select", "aria-label": "Snooze" },
      h("option", { value: "" }, "Snooze…"), h("option", { value: "1h" }, "for an hour"),
      h("option", { value: "tomorrow" }, "until tomorrow 09:00"), h("option", { value: "week" }, "for a week"));
    snooze.addEventListener("change", () => {
      if (snooze.value) void this.changeStatus(conv.id, "snoozed", snoozeUntil(snooze.value as "1h" | "tomorrow" | "week"));
    });
    const resolved = conv.status === "resolved";
    return h("div", { class: "conv-actions", role: "toolbar", "aria-label": "Conversation actions" },
      h("label", { for: "assign-select", class: "visually-hidden" }, "Assignee"), who,
      this.me && conv.assignee_user_id !== this.me.id
        ? h("button", { type: "button", id: "assign-me", class: "small", onclick: () => void this.changeAssignee(conv.id, this.me!.id) }, "Assign to me (a)") : null,
      resolved || conv.status === "snoozed" || conv.status === "pending"
        ? h("button", { type: "button", id: "reopen", class: "small", onclick: () => void this.changeStatus(conv.id, "open") }, "Reopen") : null,
      conv.status === "open" ? h("button", { type: "button", id: "pending", class: "small", onclick: () => void this.changeStatus(conv.id, "pending") }, "Mark pending") : null,
      resolved ? null : snooze,
      resolved ? null : h("button", { type: "button", id: "resolve", class: "small primary", onclick: () => void this.changeStatus(conv.id, "resolved") }, "Resolve (e)"),
      conv.status === "snoozed" && conv.snoozed_until ? h("span", { class: "muted small" }, `snoozed until ${when(conv.snoozed_until, tz)}`) : null);
  }

  async openConversation(id: number, scroll = true): Promise<void> {
    this.selected = id;
    const seq = ++this.openSeq;
    this.markSelected();
    if (location.hash !== `#/inbox/${id}`) history.replaceState(null, "", `#/inbox/${id}`);
    if (scroll) mount(this.detailEl, h("p", { class: "muted pad" }, "Loading…"));
    let conv: ConversationDetail;
    try {
      conv = await api<ConversationDetail>(`/conversations/${id}`);
    } catch (e) {
      inlineError(this.detailEl, e);
      return;
    }
    if (seq !== this.openSeq) return; // opened again (or another one) meanwhile
    const [cases] = await Promise.all([
      api<{ items: Case[] }>(`/cases?customer_id=${conv.customer_id}&limit=50`).catch(() => ({ items: [] as Case[] })),
      this.categoriesReady]);
    if (seq !== this.openSeq) return;
    const myCase = cases.items.filter((c) => c.conversation_id === id).sort((a, b) => b.id - a.id)[0] ?? null;
    const tz = config().timezone;
    const row = this.rows.find((r) => r.conversation_id === id);
    const msgs = conv.messages.map((m) => h("li", { class: `msg msg-${m.direction}`, dataset: { messageId: m.id } },
      h("div", { class: "msg-meta" }, m.direction === "note" ? h("strong", { class: "note-label" }, "Private note · ") : null,
        h("strong", null, m.author_name || titleCase(m.author_kind)), " · ", titleCase(m.channel),
        " · ", when(m.sent_at, tz), m.direction === "outbound" ? ` · ${m.delivery_status}` : "",
        m.direction !== "note" && m.visibility === "public" ? " · public" : "", m.direction === "note" ? " · not sent to the customer" : ""),
      h("p", { class: "msg-text" }, m.text),
      m.place_name || m.lat !== null ? h("div", { class: "msg-place muted small" }, "Location: ", m.place_name ?? "",
        m.lat !== null ? ` (${m.lat.toFixed(5)}, ${m.lon?.toFixed(5)})` : "") : null));
    const focusedId = this.detailEl.contains(document.activeElement) ? document.activeElement?.id : undefined;
    mount(this.detailEl,
      h("header", { class: "conv-head" },
        h("h2", null, conv.subject || `Conversation ${conv.id}`),
        h("span", { class: "muted" }, `${titleCase(conv.channel)} · `, badge(titleCase(conv.status), `st-${conv.status}`, ), " "),
        slaBadge(row?.sla ?? null),
        this.toolbar(conv)),
      myCase ? this.casePanel(myCase) : h("p", { class: "muted" }, "No case for this conversation."),
      h("ol", { class: "messages", "aria-label": "Messages" }, msgs),
      this.replyForm(conv));
    if (focusedId) document.getElementById(focusedId)?.focus();
    if (scroll) void this.showCustomer(conv.customer_id);
    else void this.showTimeline(conv.customer_id);
  }

  private replyForm(conv: ConversationDetail): HTMLElement {
    const id = conv.id;
    const lastIn = [...conv.messages].reverse().find((m) => m.direction === "inbound");
    const text = h("textarea", { id: "reply-text", rows: "3", required: true, maxlength: "10000" });
    const label = h("label", { for: "reply-text" }, "");
    const send = h("button", { type: "submit", class: "primary", id: "reply-send" }, "");
    const err = h("div");
    let note = false;
    const draft = this.drafts.get(id);
    const keep = () => this.drafts.set(id, { text: text.value, note });
    text.addEventListener("input", keep);
    const setMode = (isNote: boolean) => {
      note = isNote;
      keep();
      form.classList.toggle("note-mode", isNote);
      label.textContent = isNote ? "Private note (staff only, never sent to the customer)" : `Reply to ${lastIn?.author_name || "the customer"} on ${titleCase(conv.channel)}`;
      send.textContent = isNote ? "Add private note" : `Send on ${titleCase(conv.channel)}`;
    };
    const mode = (value: "reply" | "note", caption: string) => h("label", { class: "check mode" },
      h("input", { type: "radio", name: "reply-mode", id: `mode-${value}`, value, checked: value === "reply",
        onchange: () => setMode(value === "note") }), ` ${caption}`);
    // Long canned texts must not widen the form past a tablet's screen.
    const canned = h("select", { id: "canned-picker", "aria-label": "Insert a canned reply", style: { maxWidth: "100%", minWidth: "0", flex: "1 1 12rem" } },
      h("option", { value: "" }, "Canned reply…"));
    void loadCanned(id).then((list) => {
      canned.append(...list.map((c) => h("option", { value: String(c.id), title: c.filled }, `/${c.short_code} — ${c.filled.slice(0, 60)}`)));
      canned.addEventListener("change", () => {
        const pick = list.find((c) => String(c.id) === canned.value);
        if (!pick) return;
        const at = text.selectionStart ?? text.value.length;
        text.value = text.value.slice(0, at) + pick.filled + text.value.slice(text.selectionEnd ?? at);
        canned.value = "";
        text.dispatchEvent(new Event("input"));
        text.focus();
      });
    }).catch(() => canned.setAttribute("disabled", ""));
    const form = h("form", { class: "reply", "aria-label": "Reply" },
      h("div", { class: "reply-modes", role: "radiogroup", "aria-label": "Reply or private note" }, mode("reply", "Reply"), mode("note", "Private note (n)"),
        h("span", { class: "spacer" }), canned),
      label, text, err, h("div", { class: "actions" }, send));
    text.value = draft?.text ?? "";
    setMode(draft?.note ?? false);
    (form.querySelector(`#mode-${note ? "note" : "reply"}`) as HTMLInputElement).checked = true;
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      if (!text.value.trim()) return;
      send.disabled = true;
      try {
        if (note) {
          await addNote(id, text.value);
          notify("Private note added (not sent to the customer)", "ok");
        } else {
          await api(`/conversations/${id}/messages`, { method: "POST", body: { text: text.value, visibility: lastIn?.visibility ?? "private" } });
          notify("Reply queued for delivery on the customer's channel", "ok");
        }
        this.drafts.delete(id);
        await Promise.all([this.openConversation(id, false), this.loadList()]);
      } catch (e) {
        inlineError(err, e);
        send.disabled = false;
      }
    });
    return form;
  }

  private triageControl(c: Case): HTMLElement {
    const pick = h("select", { id: "triage-category", "aria-label": "Correct category" },
      h("option", { value: "" }, "Category…"),
      this.categories.map((k) => h("option", { value: k.name }, `${k.label}${k.field_work ? "" : " (no field work)"}`)));
    const conv = this.selected;
    pick.value = (conv !== null ? this.triagePicks.get(conv) : undefined)
      ?? (c.category && this.categories.some((k) => k.name === c.category) ? c.category : "");
    pick.addEventListener("change", () => { if (conv !== null) this.triagePicks.set(conv, pick.value); });
    const fix = async (body: { category?: string; not_field_work?: boolean }, what: string) => {
      const id = this.selected;
      if (id === null) return;
      try {
        await correctTriage(id, body);
        this.triagePicks.delete(id);
        notify(`Triage corrected: ${what}. Triage learns from it.`, "ok");
        await Promise.all([this.openConversation(id, false), this.loadList()]);
      } catch (e) {
        notifyError(e);
      }
    };
    return h("div", { class: "triage-fix", role: "group", "aria-label": "Correct triage" },
      h("label", { for: "triage-category" }, "Correct triage: "), pick,
      h("button", { type: "button", class: "small", id: "triage-save", onclick: () => {
        if (pick.value) void fix({ category: pick.value }, titleCase(pick.value));
      } }, "Set category"),
      h("button", { type: "button", class: "small", id: "triage-not-field", onclick: () => void fix({ not_field_work: true }, "not field work") },
        "Not field work"));
  }

  private casePanel(c: Case): HTMLElement {
    const t = c.triage as Record<string, unknown>;
    const g = c.geotag as Record<string, unknown>;
    const expl = (v: unknown) => (typeof v === "string" ? v : Array.isArray(v) ? v.map(String).join("; ") : "");
    return h("section", { class: "case-panel", "aria-label": `Case ${c.id}`, id: "case-panel", dataset: { caseId: c.id } },
      h("div", { class: "case-head" },
        h("strong", null, `Case ${c.id}`), " ", badge(titleCase(c.status), `case-${c.status}`),
        c.job_id ? [" ", h("a", { href: `#/dispatch/${c.job_id}`, class: "job-link", dataset: { jobId: c.job_id } }, `job ${c.job_id}`)] : null,
        c.needs_field_work ? null : [" ", badge("no field work")]),
      h("dl", { class: "facts triage-facts" },
        h("dt", null, "Category"), h("dd", null, titleCase(c.category ?? "—"), c.category_confidence !== null ? ` (${pct(c.category_confidence)})` : ""),
        h("dt", null, "Priority"), h("dd", null, String(c.priority), c.sla_due_at ? ` · SLA ${when(c.sla_due_at, config().timezone)}` : ""),
        h("dt", null, "Sentiment"), h("dd", null, sentimentLabel(c.sentiment), c.sentiment !== null ? ` (${c.sentiment.toFixed(2)})` : ""),
        h("dt", null, "Location"), h("dd", null, c.location_text ?? "—", ` · ${titleCase(String(g.kind ?? "unknown"))}`,
          typeof g.confidence === "number" ? ` · confidence ${pct(g.confidence)}` : ""),
        expl(t.explanation ?? t.explanations) ? [h("dt", null, "Why"), h("dd", null, expl(t.explanation ?? t.explanations))] : null),
      this.triageControl(c),
      h("div", { class: "actions" },
        c.status !== "handed_off" && c.status !== "closed"
          ? h("button", { type: "button", class: "primary", id: "handoff", onclick: () => void this.handoff(c) }, "Hand off to field…")
          : h("span", { class: "muted" }, c.job_id ? `Handed off as job ${c.job_id}.` : "")));
  }

  /** Hand the case to the field at a place the agent placed or confirmed: the geotagger's place (if any) is shown as
   * a pin to confirm (or move); with none there is no pin, and nothing can be handed off, until the agent places one
   * (click the map, choose an address found by the geotagger, or pin the map's centre). */
  private async handoff(c: Case): Promise<void> {
    await openDialog(`Hand off case ${c.id} to field`, (body, close) => {
      const g = c.geotag as Record<string, unknown>;
      const known = c.lat !== null && c.lon !== null ? { lat: c.lat, lon: c.lon } : null;
      const where = h("p", { id: "handoff-where", "aria-live": "polite" });
      const err = h("div", { id: "handoff-error" });
      const confirm = h("button", { type: "button", class: "primary", id: "confirm-handoff", "aria-describedby": "handoff-where" });
      const picker = locationPicker({
        id: "handoff", start: known, query: c.location_text ?? "", mapLabel: "Map: the work location pin",
        onChange: () => showWhere(),
      });
      picker.mapEl.classList.add("handoff-map");
      const showWhere = (): void => {
        const p = picker.place();
        const inside = picker.inside();
        confirm.disabled = !p || inside === false;
        if (!p) {
          confirm.textContent = "Hand off to field";
          where.className = "warn-text";
          where.textContent = "No pin yet: click the map where the work is, or find the address above and choose it. Nothing is handed off until the pin is placed.";
          return;
        }
        confirm.textContent = p.how === "start" ? "Confirm this location and hand off" : "Hand off at the pin";
        where.className = inside === false ? "warn-text" : "";
        const said = p.match ? ` — found: ${p.match.kind}, ${pct(p.match.confidence)} sure within 250 m`
          : p.how === "start" && c.location_text ? ` — reported as “${c.location_text}”` : "";
        where.textContent = `${p.how === "start" ? "Suggested by the geotagger" : "Pin"} at ${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}${said}`
          + (inside === false ? ". This is outside the service area: no technician can be sent there; move the pin." : "");
      };
      showWhere();
      mount(body,
        h("p", null, known
          ? `The geotagger suggests this place (${titleCase(String(g.kind ?? "unknown"))}${typeof g.confidence === "number" ? `, ${pct(g.confidence)} sure` : ""}). Confirm it, or move the pin (drag it, click the map, or find the address).`
          : "No location was found in the messages: place the pin where the work is (click the map or find the address)."),
        picker.search.el, picker.mapEl, h("div", { class: "actions" }, picker.centreButton), where, err,
        h("div", { class: "actions" }, confirm, h("button", { type: "button", onclick: close }, "Cancel")));
      picker.start();
      confirm.addEventListener("click", async () => {
        const p = picker.place();
        if (!p) return;
        confirm.disabled = true;
        try {
          const res = await api<{ job_id?: number; job?: { id: number } }>(`/cases/${c.id}/handoff`, { method: "POST",
            body: { lat: p.lat, lon: p.lon, ...(p.query ? { address: p.query.slice(0, 300) } : {}) } });
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
      dlg?.classList.add("dialog-wide");
      dlg?.addEventListener("close", () => picker.remove());
      if (!known) picker.search.input.autofocus = true; // the dialog focuses it when it opens
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

  /** The customer's timeline across channels under the 360 (re-read on its own after an action). */
  private async showTimeline(customerId: number): Promise<void> {
    try {
      const t = await loadTimeline(customerId);
      mount(this.timelineEl, renderTimeline(t, config().timezone, this.selected, {
        openConversation: (id) => void this.openConversation(id),
        jobHref: (id) => `#/dispatch/${id}`,
        ...(["agent", "admin"].includes(currentSession()?.role ?? "") ? { noticeHref: (id: number) => `#/listening/${id}` } : {}),
      }));
    } catch (e) {
      inlineError(this.timelineEl, e);
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
        h("li", null, h("a", { href: `#/dispatch/${j.id}`, class: "job-link", dataset: { jobId: j.id } }, `job ${j.id}`), ` ${j.title} · ${titleCase(j.status)}`)))] : null,
      convs.length ? [h("h3", null, `History (${convs.length} conversations)`), h("ul", { class: "plain" }, convs.map((c) =>
        h("li", null, h("button", { type: "button", class: "link", onclick: () => void this.openConversation(c.id) },
          `${titleCase(c.channel)}: ${c.subject || `conversation ${c.id}`}`), c.messages ? ` (${c.messages.length})` : "")))] : null,
      this.timelineEl);
    void this.showTimeline(cust.id);
  }
}

