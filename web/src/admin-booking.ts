// Administration › Appointments: how arrival windows are offered to customers whose visit needs them there — the
// window length, windows at once, working days ahead and lead time (empty = the server's setting), which services
// offer windows (a switch per field-work service over the catalogue's "customer present"), and blackout days with no
// windows. One Save writes it all (PUT /appointments/policy); the server's 422 is shown beside the part it names.
import { ApiError, api, explain } from "./api";
import { clearErrors, field, fieldset, showErrors, type Field } from "./admin-forms";
import { config } from "./config";
import { h, mount } from "./dom";
import { when } from "./format";
import { notify } from "./ui";

interface Numbers {
  window_min: number;
  offer_count: number;
  days: number;
  lead_min: number;
}

interface ServiceRow {
  name: string;
  label: string;
  field_work: boolean;
  customer_present: boolean;
  override: boolean | null;
  offers_slots: boolean;
}

interface Blackout {
  first_day: string;
  last_day: string | null;
  reason: string;
}

interface Policy {
  window_min: number | null;
  offer_count: number | null;
  days: number | null;
  lead_min: number | null;
  defaults: Numbers;
  effective: Numbers;
  services: ServiceRow[];
  blackouts: Blackout[];
  version: number;
  updated_at: string | null;
  updated_by: string | null;
  warnings: string[];
}

const NUMBERS: Array<{ name: keyof Numbers; label: string; min: number; max: number; step: number; unit: string }> = [
  { name: "window_min", label: "Window length (minutes)", min: 30, max: 480, step: 15, unit: "min" },
  { name: "offer_count", label: "Windows offered at once", min: 1, max: 5, step: 1, unit: "" },
  { name: "days", label: "Working days ahead (today included)", min: 1, max: 14, step: 1, unit: "" },
  { name: "lead_min", label: "Lead time (minutes)", min: 0, max: 1440, step: 15, unit: "min" },
];

/** "24 Dec 2026" for an ISO date, read as a calendar day (no time zone shift). */
function dayText(iso: string): string {
  const [y, m, d] = iso.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
}

function rangeText(b: Blackout): string {
  return !b.last_day || b.last_day === b.first_day ? dayText(b.first_day) : `${dayText(b.first_day)} – ${dayText(b.last_day)}`;
}

export class BookingScreen {
  private root = h("div", { class: "adm-list", id: "booking-root" });

  mount(el: HTMLElement): void {
    mount(el, this.root);
    mount(this.root, h("p", { class: "muted small", role: "status" }, "Loading…"));
    void this.load();
  }

  private async load(focusSave = false): Promise<void> {
    try {
      this.render(await api<Policy>("/appointments/policy"), focusSave);
    } catch (e) {
      mount(this.root, h("p", { class: "inline-error", role: "alert" }, explain(e)));
    }
  }

  private render(policy: Policy, focusSave = false): void {
    const general = h("p", { class: "inline-error", role: "alert", id: "booking-error" });
    const status = h("p", { class: "muted small", role: "status", id: "booking-status" }, savedText(policy));
    const dirty = (): void => {
      status.textContent = "Unsaved changes — Save to apply them to the next offers.";
    };

    // The numbers: empty = the server's setting, shown as the placeholder and in the hint.
    const numbers = NUMBERS.map((n) => {
      const input = h("input", {
        type: "number", name: n.name, min: n.min, max: n.max, step: n.step, inputmode: "numeric", class: "num-wide",
        value: policy[n.name] === null ? "" : String(policy[n.name]), placeholder: String(policy.defaults[n.name]),
        oninput: dirty,
      });
      const unit = n.unit ? ` ${n.unit}` : "";
      return field(n.name, n.label, input, `${n.min}–${n.max}; empty: the server's setting (${policy.defaults[n.name]}${unit}).`);
    });

    // Services: a switch per field-work service; the catalogue's flag beside it.
    // Those that offer windows first (catalogue order within each), so what is on is seen at a glance.
    const fieldWork = policy.services.filter((s) => s.field_work)
      .sort((a, b) => Number(b.offers_slots) - Number(a.offers_slots));
    const desk = policy.services.length - fieldWork.length;
    const switches = new Map<string, HTMLInputElement>();
    const serviceRows = fieldWork.map((s) => {
      const note = h("span", { class: "small muted booking-changed" });
      const face = h("span", { "aria-hidden": "true", class: "booking-face" });
      const box = h("input", { type: "checkbox", role: "switch", name: "offers_slots", checked: s.offers_slots,
        "aria-label": `Offer arrival windows for ${s.label}`, "data-service": s.name });
      const sync = (): void => {
        face.textContent = box.checked ? "On" : "Off";
        note.textContent = box.checked === s.customer_present ? "" : "changed from the catalogue";
      };
      box.addEventListener("change", () => {
        sync();
        dirty();
      });
      sync();
      switches.set(s.name, box);
      return h("tr", { "data-service": s.name },
        h("th", { scope: "row" }, s.label,
          h("div", { class: "small muted" }, s.name, s.customer_present ? " · catalogue: customer present" : "")),
        h("td", null, h("label", { class: "booking-switch" }, box, face), h("div", null, note)));
    });
    const servicesError = h("p", { class: "field-error", id: "booking-services-error", "data-field": "services", role: "alert" });
    const servicesTable = h("table", { class: "adm-table", id: "booking-services", "aria-describedby": "booking-services-error" },
      h("caption", { class: "visually-hidden" }, "Services and whether they offer arrival windows"),
      h("thead", null, h("tr", null, ["Service", "Offers windows"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", null, serviceRows));
    const servicesPane = h("section", { class: "adm-editor", "aria-labelledby": "booking-services-title", "data-field": "services" },
      h("h2", { id: "booking-services-title" }, "Services"),
      h("p", { class: "muted small" }, "Switched on, a new job of the service is offered arrival windows in the customer's own conversation; "
        + `off, it is planned whenever it fits. The catalogue's “customer present” is the default. ${desk} desk services (no visit) are not listed.`),
      servicesError, h("div", { class: "adm-list" }, servicesTable));
    const services: Field = { name: "services", row: servicesPane, error: servicesError, control: servicesTable };

    // Blackout days: a list with Remove, and a row to add a day or a range with a reason.
    const blackouts: Blackout[] = policy.blackouts.map((b) => ({ ...b }));
    const list = h("ul", { class: "plain adm-absences", id: "blackout-list", "aria-live": "polite" });
    const first = h("input", { type: "date", name: "first_day", id: "blackout-first", "aria-describedby": "blackout-add-hint" });
    const last = h("input", { type: "date", name: "last_day", id: "blackout-last", "aria-describedby": "blackout-add-hint" });
    const reason = h("input", { name: "reason", id: "blackout-reason", maxlength: 200, placeholder: "e.g. holidays" });
    const addError = h("p", { class: "field-error", id: "blackout-add-error", role: "alert" });
    const renderList = (): void => {
      mount(list, blackouts.length ? blackouts.map((b, i) => h("li", { class: "adm-row", "data-first-day": b.first_day },
        h("span", null, rangeText(b), b.reason ? h("span", { class: "muted" }, ` — ${b.reason}`) : null),
        h("button", { type: "button", class: "small", "aria-label": `Remove blackout ${rangeText(b)}`, onclick: () => {
          blackouts.splice(i, 1);
          renderList();
          dirty();
          (list.querySelectorAll<HTMLButtonElement>("button")[Math.min(i, blackouts.length - 1)] ?? first).focus();
        } }, "Remove"))) : h("li", { class: "muted small" }, "No blackout days: windows are offered on every working day."));
    };
    const add = (): void => {
      addError.textContent = "";
      if (!first.value) {
        addError.textContent = "Choose the first day (and a last day for a range).";
        first.focus();
        return;
      }
      blackouts.push({ first_day: first.value, last_day: last.value || null, reason: reason.value.trim() });
      blackouts.sort((a, b) => a.first_day.localeCompare(b.first_day));
      first.value = last.value = reason.value = "";
      renderList();
      dirty();
      first.focus();
    };
    for (const input of [first, last, reason]) {
      input.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter") { // Enter in the add row adds the day; it does not save the whole form
          ev.preventDefault();
          add();
        }
      });
    }
    renderList();
    const blackoutSet = fieldset("blackouts", "Blackout days", [list,
      h("div", { class: "adm-inline booking-add" },
        h("span", { class: "adm-pair" }, h("label", { for: "blackout-first" }, "First day"), first),
        h("span", { class: "adm-pair" }, h("label", { for: "blackout-last" }, "Last day (optional)"), last),
        h("span", { class: "adm-pair booking-reason" }, h("label", { for: "blackout-reason" }, "Reason (optional)"), reason),
        h("button", { type: "button", id: "add-blackout", onclick: add }, "Add")),
      h("p", { class: "field-hint muted small", id: "blackout-add-hint" }, "No window is offered on these days (first and last included); bookings already made stand."),
      addError]);

    const warnings = policy.warnings.length
      ? h("div", { class: "booking-warnings", id: "booking-warnings", role: "status" },
        h("p", { class: "warn-text small" }, "Booked windows on blackout days:"),
        h("ul", { class: "plain small" }, policy.warnings.map((w) => h("li", null, w))))
      : null;

    const fields: Field[] = [...numbers, services, blackoutSet];
    const save = h("button", { type: "submit", class: "primary", id: "save-booking" }, "Save");
    const form = h("form", { class: "adm-split", id: "booking-form", novalidate: true, "aria-labelledby": "booking-title" },
      h("section", { class: "adm-pane adm-form", "aria-labelledby": "booking-title" },
        h("h2", { id: "booking-title" }, "Appointments"),
        h("p", { class: "muted small" }, "How arrival windows are offered to customers whose visit needs them there (by SMS, X, Messenger or email, in their own conversation). Changes apply to the next offers and re-offers; windows already offered or booked stand."),
        h("div", { class: "adm-inline booking-numbers" }, numbers.map((n) => n.row)),
        blackoutSet.row, warnings, general,
        h("div", { class: "adm-actions" }, save,
          h("button", { type: "button", id: "reset-booking", onclick: () => void this.load() }, "Undo changes")),
        status),
      servicesPane);

    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(fields, general);
      const number = (f: Field): number | null => {
        const v = (f.control as HTMLInputElement).value.trim();
        return v === "" ? null : Number(v);
      };
      const body = {
        window_min: number(numbers[0]), offer_count: number(numbers[1]), days: number(numbers[2]), lead_min: number(numbers[3]),
        services: Object.fromEntries(fieldWork.filter((s) => switches.get(s.name)?.checked !== s.customer_present)
          .map((s) => [s.name, Boolean(switches.get(s.name)?.checked)])),
        blackouts,
        version: policy.version,
      };
      save.disabled = true;
      status.textContent = "Saving…";
      try {
        const saved = await api<Policy>("/appointments/policy", { method: "PUT", body });
        notify("Booking policy saved: the next offers follow it.", "ok");
        this.render(saved, true);
      } catch (e) {
        status.textContent = "Not saved.";
        if (e instanceof ApiError && e.status === 409) general.textContent = explain(e);
        else showErrors(e, fields, general);
        // The blackout rows the 422 names ("blackouts.1: ..."), marked in the list as well as beside the group.
        const bad = new Set(e instanceof ApiError ? [...e.detail.matchAll(/blackouts\.(\d+)/g)].map((m) => Number(m[1])) : []);
        list.querySelectorAll("li").forEach((li, i) => li.classList.toggle("has-error", bad.has(i)));
      } finally {
        save.disabled = false;
      }
    });
    mount(this.root, form);
    if (focusSave) save.focus();
  }
}

function savedText(p: Policy): string {
  if (!p.updated_at) return "Nothing saved yet: offers follow the server's settings and the catalogue.";
  return `Saved ${when(p.updated_at, config().timezone)}${p.updated_by ? ` by ${p.updated_by}` : ""} (version ${p.version}).`;
}
