// Form pieces shared by the administration screens: a labelled control with its own error line, and the server's
// 422 sentences ("shift_end: must be after shift_start; skills: ...") put beside the fields they name.
import { ApiError, explain } from "./api";
import { h, type Child } from "./dom";

/** A labelled control with a hint and an error line tied to it (aria-describedby), so a screen reader hears both. */
export interface Field {
  name: string;
  row: HTMLElement;
  error: HTMLElement;
  control: HTMLElement;
}

let seq = 0;

/** `control` gets an id (kept when it has one) and is described by the hint and the error line. */
export function field(name: string, label: string, control: HTMLElement, hint?: string): Field {
  const id = control.id || `adm-${name.replace(/\W+/g, "-")}-${++seq}`;
  control.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, "data-field": name, role: "alert" });
  const hintEl = hint ? h("p", { class: "field-hint muted small", id: `${id}-hint` }, hint) : null;
  control.setAttribute("aria-describedby", [hintEl ? `${id}-hint` : "", `${id}-error`].filter(Boolean).join(" "));
  const row = h("div", { class: "field", "data-field": name }, h("label", { for: id }, label), control, hintEl, error);
  return { name, row, error, control };
}

/** A group of controls (skills, breaks) under one legend, with one error line for the whole group. */
export function fieldset(name: string, legend: string, body: Child, hint?: string): Field {
  const error = h("p", { class: "field-error", id: `adm-${name}-error-${++seq}`, "data-field": name, role: "alert" });
  const set = h("fieldset", { class: "field group", "data-field": name, "aria-describedby": error.id },
    h("legend", null, legend), hint ? h("p", { class: "field-hint muted small" }, hint) : null, body, error);
  return { name, row: set, error, control: set };
}

/** Pieces of a server 422: "field: message" parts, the field being the first word before a colon ("body." and
 * list positions dropped: "body.breaks.0.latest" → "breaks"). */
export function fieldErrors(detail: string): Array<{ field: string; message: string }> {
  const text = detail.replace(/^invalid request\s*[—-]\s*/i, "");
  const out: Array<{ field: string; message: string }> = [];
  for (const part of text.split(/;\s+/)) {
    const m = /^\s*(?:Value error,\s*)?([A-Za-z_][\w.]*)\s*:\s*(.+)$/s.exec(part);
    if (!m) {
      out.push({ field: "", message: part.trim() });
      continue;
    }
    const path = m[1].split(".").filter((p) => p !== "body" && !/^\d+$/.test(p));
    let message = m[2].trim().replace(/^Value error,\s*/, "");
    // A model-level check names its own field inside the message ("Value error, shift_end: must be after ...").
    const inner = /^([A-Za-z_]\w*)\s*:\s*(.+)$/s.exec(message);
    let name = path[0] ?? "";
    if ((!name || name === "body") && inner) {
      name = inner[1];
      message = inner[2];
    } else if (inner && inner[1] === name) {
      message = inner[2];
    }
    out.push({ field: name, message });
  }
  return out;
}

/** Show an API error beside the fields it names (`aliases` maps server names to a field: home_lat → home); what
 * names no field on the form goes to `general`. True when the error was a 422 shown on the form. */
export function showErrors(err: unknown, fields: Field[], general: HTMLElement,
                           aliases: Record<string, string> = {}): boolean {
  clearErrors(fields, general);
  if (!(err instanceof ApiError) || err.status !== 422) {
    general.textContent = explain(err);
    return false;
  }
  const byName = new Map(fields.map((f) => [f.name, f]));
  const rest: string[] = [];
  for (const { field: name, message } of fieldErrors(err.detail)) {
    const target = byName.get(aliases[name] ?? name);
    if (target) {
      target.error.textContent = target.error.textContent ? `${target.error.textContent}; ${message}` : message;
      target.row.classList.add("has-error");
      target.control.setAttribute("aria-invalid", "true");
    } else {
      rest.push(name ? `${name}: ${message}` : message);
    }
  }
  general.textContent = rest.length ? `Please check: ${rest.join("; ")}` : "";
  const first = fields.find((f) => f.error.textContent);
  const focusable = first?.control.matches("input, select, textarea, button")
    ? first.control : first?.control.querySelector<HTMLElement>("input, select, textarea, button");
  focusable?.focus();
  return true;
}

export function clearErrors(fields: Field[], general: HTMLElement): void {
  general.textContent = "";
  for (const f of fields) {
    f.error.textContent = "";
    f.row.classList.remove("has-error");
    f.control.removeAttribute("aria-invalid");
  }
}

/** A local time "HH:MM[:SS]" as the time input's "HH:MM". */
export function hhmm(value: string | null | undefined): string {
  return (value ?? "").slice(0, 5);
}

/** A select with (value, text) options and the current value chosen. */
export function select(options: Array<[string, string]>, value: string, attrs: Record<string, unknown> = {}):
  HTMLSelectElement {
  // `selected` as an attribute, not just the value: a form's reset() goes back to it (not to the first option).
  const el = h("select", attrs, options.map(([v, t]) => h("option", { value: v, selected: v === value }, t)));
  el.value = value;
  return el;
}
