// The one way the console talks to the server: bearer tokens, one silent refresh, and errors turned
// into sentences a dispatcher can act on.

export interface SessionInfo {
  access_token: string;
  refresh_token: string;
  role: string;
  username: string;
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public detail: string,
    public path: string,
    public method: string,
  ) {
    super(detail);
  }
  /** The endpoint does not exist on this server (yet). */
  get missing(): boolean {
    return this.status === 404 && this.detail === "Not Found";
  }
}

const KEY = "groundcrew.session";
type Listener = () => void;
const expiredListeners: Listener[] = [];

export function onSessionExpired(fn: Listener): void {
  expiredListeners.push(fn);
}

export function currentSession(): SessionInfo | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as SessionInfo) : null;
  } catch {
    return null;
  }
}

function saveSession(s: SessionInfo | null): void {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
}

/** Forget the session here and revoke it on the server (every token of this user; best effort: an expired
 * session or no network still signs out locally). */
export function signOut(): void {
  const s = currentSession();
  saveSession(null);
  if (s?.access_token) {
    fetch("/auth/logout", { method: "POST", headers: { Authorization: `Bearer ${s.access_token}` } }).catch(() => undefined);
  }
}

function detailText(body: unknown, status: number): string {
  if (body && typeof body === "object" && "detail" in body) {
    const d = (body as { detail: unknown }).detail;
    if (typeof d === "string") return d;
    if (Array.isArray(d)) return d.map((e) => (e && typeof e === "object" && "msg" in e ? String(e.msg) : String(e))).join("; ");
    return JSON.stringify(d);
  }
  return `HTTP ${status}`;
}

/** A sentence for the page: what went wrong and what to do. */
export function explain(err: unknown): string {
  if (err instanceof ApiError) {
    const what = `${err.method} ${err.path.split("?")[0]}`;
    if (err.status === 0) return `Cannot reach the server (${what}). Check the connection and try again.`;
    if (err.status === 401) return "Your session has expired. Please sign in again.";
    if (err.status === 403) return `Not allowed: ${err.detail}`;
    if (err.missing) return `This server does not offer ${what} yet.`;
    if (err.status === 409) return `Not saved — ${err.detail}. Reload to see the latest version, then try again.`;
    if (err.status === 422) return `Please check the input: ${err.detail}`;
    if (err.status >= 500) return `The server could not complete ${what} (error ${err.status}: ${err.detail}). Try again in a moment.`;
    return err.detail;
  }
  return err instanceof Error ? err.message : String(err);
}

export async function signIn(username: string, password: string): Promise<SessionInfo> {
  const form = new URLSearchParams({ username, password });
  let res: Response;
  try {
    res = await fetch("/auth/token", { method: "POST", body: form });
  } catch {
    throw new ApiError(0, "network error", "/auth/token", "POST");
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, detailText(body, res.status), "/auth/token", "POST");
  const s: SessionInfo = { access_token: body.access_token, refresh_token: body.refresh_token, role: body.role, username };
  saveSession(s);
  return s;
}

let refreshing: Promise<boolean> | null = null;

async function refresh(): Promise<boolean> {
  const s = currentSession();
  if (!s?.refresh_token) return false;
  refreshing ??= (async () => {
    try {
      const res = await fetch("/auth/refresh", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: s.refresh_token }),
      });
      if (!res.ok) return false;
      const body = await res.json();
      saveSession({ ...s, access_token: body.access_token, refresh_token: body.refresh_token, role: body.role });
      return true;
    } catch {
      return false;
    } finally {
      setTimeout(() => (refreshing = null), 0);
    }
  })();
  return refreshing;
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
}

async function send(path: string, opts: RequestOptions): Promise<Response> {
  const s = currentSession();
  const headers: Record<string, string> = { Accept: "application/json" };
  if (s) headers.Authorization = `Bearer ${s.access_token}`;
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  try {
    return await fetch(path, {
      method: opts.method ?? "GET", headers, signal: opts.signal,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, "network error", path, opts.method ?? "GET");
  }
}

/** Call the API; a 401 is retried once after refreshing the token, then the session is over. */
export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? "GET";
  let res = await send(path, opts);
  if (res.status === 401 && (await refresh())) res = await send(path, opts);
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = { detail: text.slice(0, 200) || `HTTP ${res.status}` };
  }
  if (res.status === 401) {
    saveSession(null);
    for (const fn of expiredListeners) fn();
    throw new ApiError(401, detailText(body, 401), path, method);
  }
  if (!res.ok) throw new ApiError(res.status, detailText(body, res.status), path, method);
  return body as T;
}

export interface Page<T> {
  items: T[];
  total: number;
  offset: number;
  limit: number;
}

/** Every item of a paged list (up to `max`): the first page tells the total, the rest are read four at a time. */
export async function all<T>(path: string, max = 20000): Promise<T[]> {
  const sep = path.includes("?") ? "&" : "?";
  const PAGE = 500;
  const first = await api<Page<T>>(`${path}${sep}limit=${PAGE}&offset=0`);
  const total = Math.min(first.total, max);
  const offsets: number[] = [];
  for (let offset = PAGE; offset < total && first.items.length; offset += PAGE) offsets.push(offset);
  const pages: T[][] = new Array(offsets.length);
  let next = 0;
  const worker = async () => {
    while (next < offsets.length) {
      const i = next++;
      pages[i] = (await api<Page<T>>(`${path}${sep}limit=${PAGE}&offset=${offsets[i]}`)).items;
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  return first.items.concat(...pages).slice(0, max);
}

/** `null` when the endpoint answers 404 (nothing there / not built yet), else the body. */
export async function maybe<T>(path: string, opts: RequestOptions = {}): Promise<T | null> {
  try {
    return await api<T>(path, opts);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}
