// Administration › Audit and privacy: the audit log (append-only; filter by what was changed), and data-subject
// requests — export everything stored about a customer, or erase their personal data after a confirmation that
// names the customer. Records and the audit trail stay, with the personal content removed.
import { api, explain, type Page } from "./api";
import { clearErrors, field, showErrors, type Field } from "./admin-forms";
import { h, mount } from "./dom";
import { config } from "./config";
import { when } from "./format";
import { notify, openDialog } from "./ui";

interface AuditRow {
  id: number;
  at: string;
  actor: string;
  action: string;
  entity: string;
  entity_id: string;
  detail: Record<string, unknown>;
}

interface CustomerRow {
  id: number;
  name?: string | null;
  display_name?: string | null;
  address?: string | null;
}

const PAGE = 50;
const ENTITIES = ["technician", "user", "job", "customer", "case", "plan", "conversation", "appointment"];

function customerName(c: CustomerRow): string {
  return c.display_name || c.name || `customer ${c.id}`;
}

export class AuditScreen {
  private table = h("div", { class: "adm-list", "aria-live": "polite" });
  private offset = 0;
  private entity = h("input", { id: "audit-entity", name: "entity", list: "audit-entities", maxlength: 60, placeholder: "any" });
  private entityId = h("input", { id: "audit-entity-id", name: "entity_id", maxlength: 60, placeholder: "any" });

  mount(el: HTMLElement): void {
    const filters = h("form", { class: "adm-filters", id: "audit-filters", role: "search", "aria-label": "Filter the audit log" },
      h("label", { for: "audit-entity" }, "What"), this.entity,
      h("datalist", { id: "audit-entities" }, ENTITIES.map((e) => h("option", { value: e }))),
      h("label", { for: "audit-entity-id" }, "Id"), this.entityId,
      h("button", { type: "submit" }, "Filter"),
      h("button", { type: "button", class: "link", onclick: () => { this.entity.value = ""; this.entityId.value = ""; this.offset = 0; void this.load(); } }, "Clear"));
    filters.addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.offset = 0;
      void this.load();
    });
    mount(el, h("div", { class: "adm-split" },
      h("section", { class: "adm-pane", "aria-labelledby": "audit-title" },
        h("h2", { id: "audit-title" }, "Audit log"),
        h("p", { class: "muted small" }, "Every change, newest first. Entries cannot be changed or deleted."),
        filters, this.table),
      h("section", { class: "adm-editor", "aria-labelledby": "privacy-title" }, new PrivacyPanel().element())));
    void this.load();
  }

  private async load(): Promise<void> {
    const q = new URLSearchParams({ limit: String(PAGE), offset: String(this.offset) });
    if (this.entity.value.trim()) q.set("entity", this.entity.value.trim());
    if (this.entityId.value.trim()) q.set("entity_id", this.entityId.value.trim());
    try {
      const page = await api<Page<AuditRow>>(`/audit?${q}`);
      const tz = config().timezone;
      const prev = h("button", { type: "button", class: "small", disabled: this.offset === 0, onclick: () => { this.offset = Math.max(0, this.offset - PAGE); void this.load(); } }, "Newer");
      const next = h("button", { type: "button", class: "small", disabled: this.offset + PAGE >= page.total, onclick: () => { this.offset += PAGE; void this.load(); } }, "Older");
      mount(this.table,
        h("p", { class: "small", role: "status", id: "audit-count" },
          page.total ? `${page.offset + 1}–${page.offset + page.items.length} of ${page.total} entries` : "No entries match."),
        page.items.length ? h("table", { class: "adm-table", id: "audit-table" },
          h("caption", { class: "visually-hidden" }, "Audit entries"),
          h("thead", null, h("tr", null, ["When", "Who", "Did", "What", "Detail"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", null, page.items.map((r) => h("tr", { "data-audit-id": r.id },
            h("td", { class: "nowrap" }, when(r.at, tz)),
            h("td", null, r.actor),
            h("td", null, r.action),
            h("th", { scope: "row" }, `${r.entity} ${r.entity_id}`),
            h("td", { class: "small detail" }, Object.entries(r.detail ?? {}).map(([k, v]) =>
              `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join("; ")))))) : null,
        h("div", { class: "adm-actions" }, prev, next));
    } catch (e) {
      mount(this.table, h("p", { class: "inline-error", role: "alert" }, explain(e)));
    }
  }
}

/** Find a customer, then export or erase. */
class PrivacyPanel {
  private result = h("div", { class: "adm-found", id: "privacy-result", "aria-live": "polite" });
  /** What an export or erasure did (kept apart from the list so the customer's buttons stay). */
  private outcome = h("div", { class: "adm-found", id: "privacy-outcome", "aria-live": "polite" });
  private download: string | null = null;

  element(): HTMLElement {
    const general = h("p", { class: "inline-error", role: "alert" });
    const query = field("q", "Customer name, address or id", h("input", { name: "q", type: "search", id: "privacy-q", maxlength: 100, autocomplete: "off" }));
    const form = h("form", { class: "adm-form", id: "privacy-form", role: "search", "aria-label": "Find a customer" },
      h("h2", { id: "privacy-title" }, "Privacy requests"),
      h("p", { class: "muted small" }, "Export everything stored about a customer, or erase their personal data (cases, jobs and the audit trail stay, without it)."),
      query.row, general, h("div", { class: "adm-actions" }, h("button", { type: "submit" }, "Find customer")), this.result,
      this.outcome);
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors([query], general);
      this.outcome.replaceChildren();
      const q = (query.control as HTMLInputElement).value.trim();
      if (!q) {
        query.error.textContent = "Type a name, an address or a customer id.";
        return;
      }
      try {
        const found: CustomerRow[] = /^\d+$/.test(q)
          ? [await api<CustomerRow>(`/customers/${q}`)]
          : (await api<Page<CustomerRow>>(`/customers?q=${encodeURIComponent(q)}&limit=10`)).items;
        if (!found.length) {
          mount(this.result, h("p", { role: "status" }, `No customer matches “${q}”.`));
          return;
        }
        mount(this.result, h("ul", { class: "plain adm-customers" }, found.map((c) => h("li", { "data-customer-id": c.id },
          h("strong", null, customerName(c)), ` (id ${c.id})`, c.address ? h("span", { class: "muted small" }, ` — ${c.address}`) : null,
          h("div", { class: "adm-actions" },
            h("button", { type: "button", class: "small", "aria-label": `Export ${customerName(c)}`, onclick: () => void this.exportCustomer(c) }, "Export"),
            h("button", { type: "button", class: "small danger", "aria-label": `Erase ${customerName(c)}`, onclick: () => void this.erase(c) }, "Erase…"))))));
      } catch (e) {
        showErrors(e, [query], general);
      }
    });
    return form;
  }

  private async exportCustomer(c: CustomerRow): Promise<void> {
    try {
      const data = await api<Record<string, unknown>>(`/customers/${c.id}/export`);
      const blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
      if (this.download) URL.revokeObjectURL(this.download);
      const url = (this.download = URL.createObjectURL(blob));
      const counts = Object.entries(data).filter(([, v]) => Array.isArray(v)).map(([k, v]) => `${(v as unknown[]).length} ${k}`).join(", ");
      mount(this.outcome, h("p", { role: "status", id: "export-summary" }, `Export of ${customerName(c)}: ${counts}. `,
        h("a", { href: url, download: `customer-${c.id}-export.json` }, "Download the JSON file")));
    } catch (e) {
      notify(explain(e), "error");
    }
  }

  /** Erasure cannot be undone: the dialog asks why (audited) and for the customer's id typed again. */
  private async erase(c: CustomerRow): Promise<void> {
    await openDialog(`Erase ${customerName(c)}?`, (body, close) => {
      const general = h("p", { class: "inline-error", role: "alert" });
      const reason = field("reason", "Reason (kept in the audit log)", h("input", { name: "reason", id: "erase-reason", maxlength: 300, placeholder: "e.g. request #2026-114 by email" }));
      const confirmId = field("confirm", `Type the customer id (${c.id}) to confirm`, h("input", { name: "confirm", id: "erase-confirm", inputmode: "numeric", autocomplete: "off" }));
      const fields: Field[] = [reason, confirmId];
      const go = h("button", { type: "submit", class: "primary danger", id: "confirm-erase" }, "Erase personal data");
      const form = h("form", { class: "adm-form", novalidate: true },
        h("p", null, "Names, handles, addresses and message texts of this customer (and records merged into it) are replaced; this cannot be undone."),
        reason.row, confirmId.row, general, h("div", { class: "adm-actions" }, go, h("button", { type: "button", onclick: close }, "Cancel")));
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        clearErrors(fields, general);
        if ((confirmId.control as HTMLInputElement).value.trim() !== String(c.id)) {
          confirmId.error.textContent = `Type ${c.id} to confirm which customer is erased.`;
          (confirmId.control as HTMLInputElement).focus();
          return;
        }
        go.disabled = true;
        try {
          const done = await api<Record<string, number>>(`/customers/${c.id}/erase`, { method: "POST", body: { reason: (reason.control as HTMLInputElement).value } });
          close();
          mount(this.outcome, h("p", { role: "status", id: "erase-summary" },
            `Customer ${c.id} erased: ${done.messages ?? 0} messages, ${done.identities ?? 0} identities, ${done.cases ?? 0} cases cleared; ${done.audit_entries_redacted ?? 0} audit entries redacted.`));
          notify(`Customer ${c.id}'s personal data is erased.`, "ok");
        } catch (e) {
          showErrors(e, fields, general);
          go.disabled = false;
        }
      });
      mount(body, form);
      (reason.control as HTMLInputElement).focus();
    });
  }
}
