// Administration › Channels and Catalogue: read-only. Channels: what `groundcrew channels check` reports (provider
// configured or not, what is missing) with what really happened to the newest outbound message on each channel.
// Catalogue: the services the server loaded — code, name, skill, duration, SLA, field work or not.
import { api, explain } from "./api";
import { h, mount } from "./dom";
import { config } from "./config";
import { when } from "./format";

interface ChannelRow {
  channel: string;
  inbound: boolean;
  outbound: string;
  outbound_configured: boolean;
  register: string[];
  missing: string[];
  last: { message_id: number; status: string; at: string; detail: string; attempts: number } | null;
  counts: Record<string, number>;
}

interface CatalogueRow {
  name: string;
  label: string;
  service_code: string;
  group: string;
  skill: string;
  duration_min: number;
  priority: number;
  sla_hours: number;
  field_work: boolean;
  customer_present: boolean;
  description: string;
}

const CHANNEL_NAMES: Record<string, string> = { sms: "SMS", facebook: "Facebook / Messenger", twitter: "X", email: "Email" };
const OUTCOME: Record<string, string> = {
  delivered: "delivered", sent: "sent (provider accepted)", failed: "failed", queued: "waiting (retry due)",
  recorded: "recorded only (not sent)",
};

export class ChannelsScreen {
  private body = h("div", { class: "adm-list", "aria-live": "polite" });

  mount(el: HTMLElement): void {
    mount(el, h("section", { class: "adm-pane wide", "aria-labelledby": "channels-title" },
      h("h2", { id: "channels-title" }, "Channels"),
      h("p", { class: "muted small" }, "Read-only: set providers with the server's environment variables (see `groundcrew channels check`)."),
      this.body));
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      const data = await api<{ channels: ChannelRow[]; relay: { url: string | null; signed: boolean } }>("/notify/channels");
      const tz = config().timezone;
      mount(this.body,
        h("table", { class: "adm-table", id: "channels-table" },
          h("caption", { class: "visually-hidden" }, "Channel status"),
          h("thead", null, h("tr", null, ["Channel", "Receiving", "Sending through", "Last delivery", "Last 24 hours", "Missing"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", null, data.channels.map((c) => {
            const counts = Object.entries(c.counts).map(([k, n]) => `${n} ${OUTCOME[k] ?? k}`).join(", ") || "nothing sent";
            const last = c.last
              ? [h("span", { class: `badge out-${c.last.status}` }, OUTCOME[c.last.status] ?? c.last.status), ` ${when(c.last.at, tz)}`,
                c.last.detail ? h("div", { class: "small muted" }, c.last.detail) : null]
              : "nothing sent yet";
            return h("tr", { "data-channel": c.channel },
              h("th", { scope: "row" }, CHANNEL_NAMES[c.channel] ?? c.channel),
              h("td", null, c.inbound ? "configured" : h("span", { class: "warn-text" }, "not configured")),
              h("td", null, c.outbound_configured ? c.outbound : h("span", { class: "warn-text" }, c.outbound)),
              h("td", null, last),
              h("td", { class: "small" }, counts),
              h("td", { class: "small" }, c.missing.length ? h("ul", { class: "plain" }, c.missing.map((m) => h("li", null, m))) : "nothing"));
          }))),
        h("p", { class: "small", id: "relay-status" }, "Other channels (web form, Open311): ",
          data.relay.url ? `replies go through the webhook relay ${data.relay.url}${data.relay.signed ? " (signed)." : " (unsigned: set GROUNDCREW_OUTBOUND_WEBHOOK_SECRET)."}`
            : "no webhook relay is set, so replies are recorded, not sent."));
    } catch (e) {
      mount(this.body, h("p", { class: "inline-error", role: "alert" }, explain(e)));
    }
  }
}

export class CatalogueScreen {
  private body = h("div", { class: "adm-list" });

  mount(el: HTMLElement): void {
    mount(el, h("section", { class: "adm-pane wide", "aria-labelledby": "catalogue-title" },
      h("h2", { id: "catalogue-title" }, "Service catalogue"),
      h("p", { class: "muted small" }, "Read-only: the catalogue the server loaded (GROUNDCREW_TAXONOMY_PATH). Field work needs a technician with the skill."),
      h("p", { class: "small", id: "catalogue-booking-link" }, "“Customer present” is the catalogue's default for booking an arrival window with the customer; which services offer windows, the window length, days ahead and blackout days are set under ",
        h("a", { href: "#/admin/appointments" }, "Appointments"), "."),
      this.body));
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      const rows = await api<CatalogueRow[]>("/technicians/catalogue");
      mount(this.body,
        h("p", { class: "small", role: "status" }, `${rows.length} services, ${rows.filter((r) => r.field_work).length} of them field work.`),
        h("table", { class: "adm-table", id: "catalogue-table" },
          h("caption", { class: "visually-hidden" }, "Service catalogue"),
          h("thead", null, h("tr", null, ["Code", "Service", "Group", "Field work", "Skill", "On site", "SLA", "Priority"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", null, rows.map((r) => h("tr", { "data-service": r.name },
            h("td", { class: "mono" }, r.service_code),
            h("th", { scope: "row" }, r.label, h("div", { class: "small muted" }, r.name, r.description ? ` — ${r.description}` : "")),
            h("td", null, r.group),
            h("td", null, r.field_work ? (r.customer_present ? "yes, customer present" : "yes") : "no (desk)"),
            h("td", null, r.skill || "—"),
            h("td", null, r.field_work ? `${r.duration_min} min` : "—"),
            h("td", null, r.sla_hours ? `${r.sla_hours} h` : "—"),
            h("td", null, String(r.priority)))))));
    } catch (e) {
      mount(this.body, h("p", { class: "inline-error", role: "alert" }, explain(e)));
    }
  }
}
