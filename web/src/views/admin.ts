// Administration (admin role only): set up an organisation without the raw API — technicians, users and roles,
// channel status, the audit log with privacy requests, the service catalogue, and how appointments are offered. One
// screen at a time, addressed as #/admin/<screen> so each can be linked to and the browser's back button works.
// The screens are loaded on first use: only administrators need them, so the others' bundle stays as it was.
import { explain } from "../api";
import { h, mount } from "../dom";
import type { View } from "./view";

interface Screen {
  mount(el: HTMLElement): void;
}

const SCREENS: Array<{ id: string; label: string; make: () => Promise<Screen> }> = [
  { id: "technicians", label: "Technicians", make: async () => new (await import("../admin-technicians")).TechniciansScreen() },
  { id: "users", label: "Users and roles", make: async () => new (await import("../admin-users")).UsersScreen() },
  { id: "channels", label: "Channels", make: async () => new (await import("../admin-status")).ChannelsScreen() },
  { id: "audit", label: "Audit and privacy", make: async () => new (await import("../admin-audit")).AuditScreen() },
  { id: "catalogue", label: "Service catalogue", make: async () => new (await import("../admin-status")).CatalogueScreen() },
  { id: "appointments", label: "Appointments", make: async () => new (await import("../admin-booking")).BookingScreen() },
];

export class AdminView implements View {
  mount(el: HTMLElement, arg?: string): void {
    const screen = SCREENS.find((s) => s.id === arg) ?? SCREENS[0];
    const body = h("div", { class: "admin-body", id: `admin-${screen.id}` });
    mount(el, h("div", { class: "admin" },
      h("nav", { class: "admin-nav", "aria-label": "Administration" },
        h("h1", { class: "pane-title" }, "Administration"),
        h("ul", null, SCREENS.map((s) => h("li", null,
          h("a", { href: `#/admin/${s.id}`, "aria-current": s.id === screen.id ? "page" : false }, s.label))))),
      body));
    mount(body, h("p", { class: "muted", role: "status" }, "Loading…"));
    screen.make().then((s) => {
      if (body.isConnected) s.mount(body);
    }, (e: unknown) => mount(body, h("p", { class: "inline-error", role: "alert" }, explain(e))));
  }

  unmount(): void {
    // Nothing to stop: the screens hold no timers or live subscriptions.
  }
}
