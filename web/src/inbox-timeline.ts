// The customer's timeline in the inbox's side panel: every channel in one list (messages, our replies, private
// notes and cases), their jobs with the live ETA and technician, and links job ↔ conversation ↔ customer.
import { h } from "./dom";
import { titleCase, when } from "./format";
import type { Timeline } from "./inbox-api";
import { badge } from "./ui";

export interface TimelineLinks {
  openConversation(id: number): void;
  jobHref(id: number): string;
  /** Where to tell the customers living near an open job (agents' Listening view); absent for roles without it. */
  noticeHref?(id: number): string;
}

const OPEN_JOB = new Set(["unassigned", "assigned", "en_route", "on_site"]);

/** The timeline section (newest last, like a thread); `current` marks the conversation open in the middle pane. */
export function renderTimeline(t: Timeline, tz: string, current: number | null, links: TimelineLinks): HTMLElement {
  const convLink = (id: number, label: string) => h("button", { type: "button", class: "link", dataset: { conversationId: id },
    "aria-current": id === current ? "true" : false, onclick: () => links.openConversation(id) }, label);
  const jobLink = (id: number) => h("a", { href: links.jobHref(id), class: "job-link", dataset: { jobId: id } }, `job ${id}`);
  const jobs = t.jobs.map((j) => h("li", { class: "tl-job", dataset: { jobId: j.id } },
    jobLink(j.id), " ", j.title, " · ", badge(titleCase(j.status), `job-${j.status}`),
    j.eta_at ? h("span", { class: "eta" }, ` · ETA ${when(j.eta_at, tz)}`) : null,
    j.technician ? ` · ${j.technician}` : "",
    j.conversation_ids.length ? [" · from ", j.conversation_ids.map((c, i) => [i ? ", " : "", convLink(c, `conversation ${c}`)])] : null,
    links.noticeHref && OPEN_JOB.has(j.status)
      ? [" · ", h("a", { href: links.noticeHref(j.id), class: "notice-link", title: `Tell customers living near job ${j.id} that a crew is on it` },
        "Tell neighbours…")] : null));
  const events = t.events.slice(-60).map((e) => {
    if (e.kind === "case") {
      return h("li", { class: "tl-item tl-case" }, h("span", { class: "tl-when muted" }, when(e.at, tz)), " ",
        `Case ${e.id} opened: ${titleCase(e.category ?? "uncategorised")} · ${titleCase(e.status ?? "")}`,
        e.job_id ? [" → ", jobLink(e.job_id)] : null);
    }
    const who = e.kind === "note" ? `Private note by ${e.author_name}` : e.direction === "inbound" ? e.author_name || "Customer" : `${e.author_name} replied`;
    return h("li", { class: `tl-item tl-${e.kind === "note" ? "note" : e.direction}`, dataset: { conversationId: e.conversation_id } },
      h("span", { class: "tl-when muted" }, when(e.at, tz)), " ", badge(titleCase(e.channel ?? "")), " ",
      h("strong", null, who), ": ", h("span", { class: "tl-text" }, (e.text ?? "").slice(0, 240)),
      e.conversation_id !== current ? [" ", convLink(e.conversation_id, "open")] : null);
  });
  return h("section", { class: "timeline-360", id: "customer-timeline", "aria-label": "Customer timeline" },
    t.jobs.length ? [h("h3", null, `Jobs (${t.jobs.length})`), h("ul", { class: "plain", id: "timeline-jobs" }, jobs)] : null,
    h("h3", null, `Conversations (${t.conversations.length})`),
    h("ul", { class: "plain" }, t.conversations.map((c) => h("li", null, convLink(c.id, `${titleCase(c.channel)}: ${c.subject || `conversation ${c.id}`}`),
      " ", badge(titleCase(c.status), `st-${c.status}`)))),
    h("h3", null, "Timeline, all channels"),
    t.truncated ? h("p", { class: "muted small" }, "Older messages are not shown.") : null,
    h("ol", { class: "tl", "aria-label": "Timeline across channels" }, events));
}
