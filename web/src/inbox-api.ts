// The agents' inbox on the server: its rows, the calls that change a conversation, and how an SLA timer reads.
import { api } from "./api";
import type { Message } from "./types";

export type InboxStatus = "open" | "pending" | "snoozed" | "resolved" | "all";
export const TABS: InboxStatus[] = ["open", "pending", "snoozed", "resolved", "all"];

export interface Sla {
  due_at: string;
  breached: boolean;
  remaining_s: number;
}

export interface InboxRow {
  conversation_id: number;
  channel: string;
  subject: string;
  status: Exclude<InboxStatus, "all">;
  snoozed_until: string | null;
  last_message_at: string;
  sla: Sla | null;
  assignee: { id: number; name: string } | null;
  customer: { id: number; display_name: string };
  last_message: { text: string; direction: string; author_name: string } | null;
  case: {
    id: number; status: string; category: string | null; priority: number; category_confidence: number | null;
    sentiment: number | null; urgency: number | null; sla_due_at: string | null; job_id: number | null;
    needs_field_work: boolean; geotag_confidence: number | null; geotag_kind: string | null;
  } | null;
}

export interface InboxPage {
  items: InboxRow[];
  total: number;
  offset: number;
  limit: number;
  counts: Record<InboxStatus, number>;
}

export interface InboxQuery {
  status: InboxStatus;
  assignee: string; // "", "me", "none" or a user id
  channel: string;
  q: string;
  needsAttention: boolean;
  sort: "recent" | "sla";
  offset: number;
  limit: number;
}

export interface Agent {
  id: number;
  name: string;
  username: string;
  role: string;
}

export interface CannedFilled {
  id: number;
  short_code: string;
  text: string;
  filled: string;
}

export interface TimelineEvent {
  kind: "message" | "note" | "case";
  at: string;
  id: number;
  conversation_id: number;
  channel?: string;
  direction?: string;
  author_name?: string;
  text?: string;
  status?: string;
  category?: string | null;
  job_id?: number | null;
}

export interface Timeline {
  customer: { id: number; display_name: string; address: string | null };
  conversations: Array<{ id: number; channel: string; subject: string; status: string; last_message_at: string }>;
  jobs: Array<{ id: number; title: string; status: string; eta_at: string | null; technician: string | null;
    conversation_ids: number[] }>;
  events: TimelineEvent[];
  truncated: boolean;
}

export type InboxMessage = Omit<Message, "direction"> & { direction: "inbound" | "outbound" | "note" };

export function loadInbox(query: InboxQuery): Promise<InboxPage> {
  const params = new URLSearchParams({ status: query.status, sort: query.sort, limit: String(query.limit),
    offset: String(query.offset) });
  if (query.assignee) params.set("assignee", query.assignee);
  if (query.channel) params.set("channel", query.channel);
  if (query.q.trim()) params.set("q", query.q.trim());
  if (query.needsAttention) params.set("needs_attention", "true");
  return api<InboxPage>(`/inbox?${params}`);
}

export const loadAgents = () => api<Agent[]>("/inbox/agents");
export const loadTimeline = (customerId: number) => api<Timeline>(`/inbox/customers/${customerId}/timeline`);
export const loadCanned = (conversationId: number) => api<CannedFilled[]>(`/conversations/${conversationId}/canned-replies`);

export function setStatus(conversationId: number, status: Exclude<InboxStatus, "all">, snoozedUntil?: Date): Promise<unknown> {
  return api(`/conversations/${conversationId}/status`, { method: "POST",
    body: { status, snoozed_until: snoozedUntil ? snoozedUntil.toISOString() : null } });
}

export const assign = (conversationId: number, userId: number | null) =>
  api(`/conversations/${conversationId}/assign`, { method: "POST", body: { user_id: userId } });

export const addNote = (conversationId: number, text: string) =>
  api<InboxMessage>(`/conversations/${conversationId}/notes`, { method: "POST", body: { text } });

export const correctTriage = (conversationId: number, body: { category?: string; not_field_work?: boolean }) =>
  api(`/conversations/${conversationId}/triage`, { method: "POST", body });

/** "due in 25 min", "breached 2 h 5 min ago": the first-response timer in words. */
export function slaText(sla: Sla): string {
  const mins = Math.round(Math.abs(sla.remaining_s) / 60);
  const span = mins >= 60 ? `${Math.floor(mins / 60)} h ${mins % 60} min` : `${mins} min`;
  return sla.breached ? `reply overdue by ${span}` : `reply due in ${span}`;
}

/** When a snooze choice ends: "1h" (an hour from now), "tomorrow" (09:00 tomorrow, local clock), "week" (7 days). */
export function snoozeUntil(choice: "1h" | "tomorrow" | "week", now: Date = new Date()): Date {
  if (choice === "1h") return new Date(now.getTime() + 3600_000);
  if (choice === "week") return new Date(now.getTime() + 7 * 86400_000);
  const d = new Date(now);
  d.setDate(d.getDate() + 1);
  d.setHours(9, 0, 0, 0);
  return d;
}
