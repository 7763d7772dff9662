// The console shell: sign-in, navigation between the three views, live-event fan-out.
import "./style.css";
import { api, currentSession, onSessionExpired, signIn, signOut, explain, type SessionInfo } from "./api";
import { h, mount } from "./dom";
import { LiveEvents } from "./events";
import { loadConfig } from "./config";
import { clearNotices, noticeRegion, notify } from "./ui";
import type { LiveEvent } from "./types";
import type { View } from "./views/view";
import { DispatchView } from "./views/dispatch";
import { InboxView } from "./views/inbox";
import { OperationsView } from "./views/operations";
import { OutreachView } from "./views/outreach";
import { AdminView } from "./views/admin";

interface Route {
  id: string;
  label: string;
  roles: string[];
  make: () => View;
}

const ROUTES: Route[] = [
  { id: "dispatch", label: "Dispatch", roles: ["dispatcher", "admin"], make: () => new DispatchView() },
  { id: "inbox", label: "Inbox", roles: ["agent", "dispatcher", "admin"], make: () => new InboxView() },
  { id: "listening", label: "Listening", roles: ["agent", "admin"], make: () => new OutreachView() },
  { id: "operations", label: "Operations", roles: ["agent", "dispatcher", "admin"], make: () => new OperationsView() },
  { id: "admin", label: "Admin", roles: ["admin"], make: () => new AdminView() },
];

const app = document.getElementById("app")!;
let view: View | null = null;
let live: LiveEvents | null = null;
let liveState = h("span", { class: "live-state", "data-state": "connecting", role: "status" }, "connecting…");
let lastLive: "live" | "connecting" | "offline" = "connecting";

function showLive(state: "live" | "connecting" | "offline"): void {
  lastLive = state;
  liveState.dataset.state = state;
  liveState.textContent = state === "live" ? "● live" : state === "connecting" ? "connecting…" : "○ offline — retrying";
}

function showSignIn(message?: string): void {
  view?.unmount();
  view = null;
  live?.stop();
  live = null;
  const user = h("input", { id: "username", name: "username", autocomplete: "username", required: true });
  const pass = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const error = h("p", { class: "inline-error", role: "alert", id: "signin-error" });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Groundcrew"),
    h("p", { class: "muted" }, "Dispatch console — sign in with your staff account."),
    message ? h("p", { class: "notice notice-error", role: "alert", id: "signin-reason" }, message) : null,
    h("label", { for: "username" }, "Username"), user,
    h("label", { for: "password" }, "Password"), pass,
    error, button);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    error.textContent = "";
    try {
      const s = await signIn(user.value.trim(), pass.value);
      if (s.role === "technician") {
        signOut();
        throw new Error("Technicians use the Groundcrew mobile app; the console is for staff.");
      }
      await start(s);
    } catch (e) {
      error.textContent = e instanceof Error && !("status" in e) ? e.message
        : (e as { status?: number }).status === 401 ? "Wrong username or password." : explain(e);
      button.disabled = false;
    }
  });
  mount(app, h("main", { id: "main", class: "signin-page" }, noticeRegion(), form));
  user.focus();
}

function routeFor(session: SessionInfo): { route: Route; arg: string | undefined } {
  const [wanted, arg] = location.hash.replace(/^#\/?/, "").split("/");
  const allowed = ROUTES.filter((r) => r.roles.includes(session.role));
  const route = allowed.find((r) => r.id === wanted);
  return route ? { route, arg } : { route: allowed[0] ?? ROUTES[1], arg: undefined };
}

/** The deployment's warnings from /health (e.g. channels that accept unsigned deliveries) as a banner; nothing
 * when the server reports none or cannot be asked. */
async function showHealthWarnings(el: HTMLElement): Promise<void> {
  let warnings: unknown;
  try {
    const res = await fetch("/health", { headers: { Accept: "application/json" } });
    warnings = ((await res.json()) as { warnings?: unknown }).warnings;
  } catch {
    return;
  }
  if (!Array.isArray(warnings) || warnings.length === 0) return;
  mount(el, h("section", { class: "health-banner", role: "alert", "aria-labelledby": "health-title" },
    h("strong", { id: "health-title" }, "This server is not safe for real use:"),
    h("ul", null, warnings.map((w) => h("li", null, String(w))))));
}

async function start(session: SessionInfo): Promise<void> {
  clearNotices();
  try {
    await loadConfig();
  } catch (e) {
    if (!currentSession()) return;
    notify(explain(e), "error");
  }
  const { route, arg } = routeFor(session);
  const hash = arg ? `#/${route.id}/${arg}` : `#/${route.id}`;
  if (location.hash !== hash) history.replaceState(null, "", hash);
  const nav = h("nav", { "aria-label": "Views" },
    ROUTES.filter((r) => r.roles.includes(session.role)).map((r) =>
      h("a", { href: `#/${r.id}`, class: "tab", "aria-current": r.id === route.id ? "page" : false }, r.label)));
  const out = h("button", { type: "button", class: "link", onclick: () => { signOut(); showSignIn(); } }, "Sign out");
  liveState = h("span", { class: "live-state", role: "status", title: "Live updates" });
  showLive(lastLive);
  const header = h("header", { class: "topbar" },
    h("span", { class: "brand" }, "Groundcrew"), nav,
    h("span", { class: "spacer" }), liveState,
    h("span", { class: "who" }, `${session.username} (${session.role})`), out);
  const main = h("main", { id: "main", class: `view view-${route.id}`, tabindex: "-1" });
  const warnings = h("div", { id: "health-warnings" });
  mount(app, header, warnings, noticeRegion(), main);
  void showHealthWarnings(warnings);
  view?.unmount();
  view = route.make();
  view.mount(main, arg);
  if (!live) {
    live = new LiveEvents((e: LiveEvent) => view?.onEvent?.(e), showLive);
    live.start();
  }
}

onSessionExpired(() => {
  if (view) showSignIn("Your session has expired. Please sign in again.");
});

window.addEventListener("hashchange", () => {
  const s = currentSession();
  if (s && view) void start(s);
});

window.addEventListener("unhandledrejection", (ev) => {
  notify(explain(ev.reason), "error");
});

async function boot(): Promise<void> {
  const s = currentSession();
  if (!s) return showSignIn();
  try {
    await api("/auth/me");
    await start(currentSession() ?? s);
  } catch (e) {
    if (!currentSession()) showSignIn("Your session has expired. Please sign in again.");
    else showSignIn(explain(e));
  }
}

void boot();
