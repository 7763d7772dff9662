// Live updates: the WebSocket at /events/ws (Server-Sent Events as a fallback), reconnecting with backoff.
// Each connection is opened with a single-use ticket from POST /events/ticket (valid ~30 s), never with the
// access token: a URL ends up in access logs, so it must not carry a credential that outlives it.
import { api, currentSession } from "./api";
import type { LiveEvent } from "./types";

/** Every event type the server publishes (tests/console/test_bundle.py checks this against server/). */
export const EVENT_TYPES = [
  "appointment.broken", "conversation.updated", "horizon.updated", "job.assigned", "job.created", "job.eta", "job.status",
  "job.unassigned", "job.updated",
  "message.queued", "message.status", "plan.created", "route.updated", "solve.updated", "stream.gap",
  "technician.location", "technician.locked", "technician.status",
];

/** What a view hears when events may have been missed: the server dropped some for this connection (it was too slow
 * to read them), or the connection was lost and opened again. A view that patches its state from events reads it
 * afresh on this. */
export const GAP_EVENT = "stream.gap";

export type EventHandler = (event: LiveEvent) => void;
export type StateHandler = (state: "live" | "connecting" | "offline") => void;

export class LiveEvents {
  private ws: WebSocket | null = null;
  private sse: EventSource | null = null;
  private stopped = false;
  private attempts = 0;
  private timer: number | undefined;
  /** A connection was open before: the next one to open follows a time without events. */
  private wasLive = false;

  constructor(private onEvent: EventHandler, private onState: StateHandler) {}

  start(): void {
    this.stopped = false;
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.ws?.close();
    this.sse?.close();
    this.ws = null;
    this.sse = null;
  }

  /** A fresh single-use ticket for one connection (null when signed out or the server cannot be reached). */
  private async ticket(): Promise<string | null> {
    if (!currentSession() || this.stopped) return null;
    try {
      const body = await api<{ ticket: string }>("/events/ticket", { method: "POST" });
      return this.stopped ? null : body.ticket;
    } catch {
      return null;
    }
  }

  private connect(): void {
    if (!currentSession() || this.stopped) return;
    this.onState("connecting");
    void this.ticket().then((ticket) => {
      if (ticket) this.openSocket(ticket);
      else if (currentSession() && !this.stopped) this.retry();
    });
  }

  private openSocket(ticket: string): void {
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}/events/ws?ticket=${encodeURIComponent(ticket)}`);
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.attempts = 0;
      this.onState("live");
      this.opened();
    };
    ws.onmessage = (msg) => {
      try {
        const event = JSON.parse(String(msg.data)) as LiveEvent;
        if (event.type !== "heartbeat" && event.type !== "hello") this.onEvent(event);
      } catch {
        /* ignore a malformed frame */
      }
    };
    ws.onclose = () => {
      this.ws = null;
      if (this.stopped) return;
      if (!opened && this.attempts >= 2) {
        void this.ticket().then((t) => (t ? this.fallbackToSse(t) : this.retry()));
        return;
      }
      this.retry();
    };
  }

  private fallbackToSse(ticket: string): void {
    if (this.stopped) return;
    const es = new EventSource(`/events/stream?ticket=${encodeURIComponent(ticket)}`);
    this.sse = es;
    es.onopen = () => {
      this.onState("live");
      this.opened(); // EventSource also reconnects by itself: each open after the first follows a gap
    };
    es.onmessage = (msg) => this.handleSse(msg);
    es.onerror = () => {
      es.close();
      this.sse = null;
      this.retry();
    };
    // The stream names each event by its full type ("job.status"); EventSource hears only the names it listens for.
    for (const t of EVENT_TYPES) {
      es.addEventListener(t, (msg) => this.handleSse(msg as MessageEvent));
    }
  }

  /** A connection opened: after an earlier one, the events sent in between were missed. */
  private opened(): void {
    if (this.wasLive) this.onEvent({ type: GAP_EVENT, id: "", at: new Date().toISOString(), data: { reconnected: true } });
    this.wasLive = true;
  }

  private handleSse(msg: MessageEvent): void {
    try {
      this.onEvent(JSON.parse(String(msg.data)) as LiveEvent);
    } catch {
      /* ignore */
    }
  }

  private retry(): void {
    this.onState("offline");
    this.attempts += 1;
    const delay = Math.min(30000, 1000 * 2 ** Math.min(this.attempts, 5));
    this.timer = window.setTimeout(() => this.connect(), delay);
  }
}
