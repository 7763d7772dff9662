// Live updates: the WebSocket at /events/ws (Server-Sent Events as a fallback), reconnecting with backoff.
import { currentSession } from "./api";
import type { LiveEvent } from "./types";

export type EventHandler = (event: LiveEvent) => void;
export type StateHandler = (state: "live" | "connecting" | "offline") => void;

export class LiveEvents {
  private ws: WebSocket | null = null;
  private sse: EventSource | null = null;
  private stopped = false;
  private attempts = 0;
  private timer: number | undefined;

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

  private connect(): void {
    const token = currentSession()?.access_token;
    if (!token || this.stopped) return;
    this.onState("connecting");
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${proto}://${location.host}/events/ws?token=${encodeURIComponent(token)}`);
    this.ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.attempts = 0;
      this.onState("live");
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
        this.fallbackToSse(token);
        return;
      }
      this.retry();
    };
  }

  private fallbackToSse(token: string): void {
    const es = new EventSource(`/events/stream?token=${encodeURIComponent(token)}`);
    this.sse = es;
    es.onopen = () => this.onState("live");
    es.onmessage = (msg) => this.handleSse(msg);
    es.onerror = () => {
      es.close();
      this.sse = null;
      this.retry();
    };
    for (const t of ["job", "plan", "technician", "case", "message"]) {
      es.addEventListener(t, (msg) => this.handleSse(msg as MessageEvent));
    }
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
