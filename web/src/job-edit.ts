// The job edit form: priority, duration and description; the place (address search with our geotagger and a
// draggable pin); required skills chosen from the catalogue's skill list; time windows (date, from, to); the SLA.
// Times are the service area's wall clock. Only what changed is sent; the server refuses a place off the map and
// windows or an SLA out of reason, naming the field, and those sentences are shown beside the field.
import { ApiError, explain } from "./api";
import { clearErrors, field, fieldErrors, fieldset, select, type Field } from "./admin-forms";
import { config } from "./config";
import { h, mount } from "./dom";
import { pct } from "./format";
import {
  fromLocalInput, localInput, rowWindow, sameSkills, sameWindows, windowRow, type TimeWindow, type WindowRow,
} from "./job-edit-model";
import { locationPicker } from "./location-picker";
import type { Job } from "./types";

/** One row of GET /technicians/skills: a skill, the catalogue's services that need it, who has it. */
export interface SkillRow {
  skill: string;
  services: string[];
  technicians: unknown;
  open_jobs: number;
}

export interface JobEditHandlers {
  /** PATCH the changed fields (the caller adds the version it edited). */
  save: (patch: Record<string, unknown>) => Promise<unknown>;
  saved: () => void;
  cancel: () => void;
  /** Another dispatcher saved first: open their version. */
  reload: () => void;
}

export interface JobEditForm {
  el: HTMLElement;
  /** Call once the form is in the page (the map measures itself). */
  start: () => void;
  remove: () => void;
}

const LEVELS: Array<[string, string]> = [["1", "1 — basic"], ["2", "2"], ["3", "3 — skilled"], ["4", "4"], ["5", "5 — expert"]];

export function jobEditForm(job: Job & { time_windows?: TimeWindow[] }, skills: SkillRow[], on: JobEditHandlers): JobEditForm {
  const tz = config().timezone;
  const general = h("div", { id: "edit-error" });
  const prio = field("priority", "Priority (1–10)", h("input", { id: "edit-priority", type: "number", min: "1", max: "10",
    value: String(job.priority), required: true, autofocus: true }));
  const dur = field("duration_min", "Duration (minutes)", h("input", { id: "edit-duration", type: "number", min: "1",
    max: "2400", value: String(job.duration_min), required: true }));
  const descInput = h("textarea", { id: "edit-description", rows: "3", maxlength: "5000" });
  descInput.value = job.description;
  const desc = field("description", "Description", descInput);

  // Required skills: rows of (a skill from the catalogue's list, its minimum level).
  const skillRows = h("ul", { class: "adm-rows", id: "edit-skill-rows" });
  const known = skills.map((s) => s.skill);
  const addSkill = (skill = "", level = 1): void => {
    const options: Array<[string, string]> = [["", "Choose a skill…"], ...skills.map((r): [string, string] =>
      [r.skill, `${r.skill}${r.services.length ? ` — ${r.services.map((x) => x.split(" (")[0]).join(", ")}` : ""}`])];
    if (skill && !known.includes(skill)) options.push([skill, `${skill} (not in the catalogue)`]);
    const n = skillRows.childElementCount + 1;
    const li = h("li", { class: "adm-row" },
      select(options, skill, { name: "skill", "aria-label": `Required skill ${n}` }),
      select(LEVELS, String(level), { name: "level", "aria-label": `Minimum level of skill ${n}` }),
      h("button", { type: "button", class: "small", "aria-label": `Remove skill ${n}`, onclick: () => li.remove() }, "Remove"));
    skillRows.append(li);
  };
  for (const [s, l] of Object.entries(job.required_skills ?? {})) addSkill(s, l);
  const skillSet = fieldset("required_skills", "Required skills", [skillRows,
    h("button", { type: "button", class: "small", id: "edit-add-skill", onclick: () => addSkill() }, "Add a skill")],
    "Only technicians with the skill at this level or higher can take the job.");

  // Time windows: rows of (date, from, to) on the service area's clock; a row left as it was sends the window as it was.
  const windowRows = h("ul", { class: "adm-rows", id: "edit-window-rows" });
  const originals = new Map<HTMLElement, { row: WindowRow; window: TimeWindow }>();
  const addWindow = (w?: TimeWindow): void => {
    const today = localInput(new Date().toISOString(), tz).slice(0, 10);
    const row: WindowRow = w ? windowRow(w, tz) : { date: today, from: "09:00", to: "12:00" };
    const n = windowRows.childElementCount + 1;
    const li = h("li", { class: "adm-row" },
      h("input", { type: "date", name: "window_date", value: row.date, "aria-label": `Window ${n} date` }),
      h("input", { type: "time", name: "window_from", value: row.from, "aria-label": `Window ${n} from` }),
      h("span", null, "to"),
      h("input", { type: "time", name: "window_to", value: row.to, "aria-label": `Window ${n} to` }),
      row.until ? h("span", { class: "muted small" }, `(ends ${row.until})`) : null,
      h("button", { type: "button", class: "small", "aria-label": `Remove window ${n}`, onclick: () => li.remove() }, "Remove"));
    if (w) originals.set(li, { row, window: w });
    windowRows.append(li);
  };
  for (const w of job.time_windows ?? []) addWindow(w);
  const windowSet = fieldset("time_windows", "Time windows", [windowRows,
    h("button", { type: "button", class: "small", id: "edit-add-window", onclick: () => addWindow() }, "Add a window")],
    `When the work may be done (${tz} time). None: any time in a shift.`);
  const readWindows = (): TimeWindow[] | string => {
    const out: TimeWindow[] = [];
    for (const [i, li] of [...windowRows.querySelectorAll<HTMLElement>("li")].entries()) {
      const value = (name: string) => (li.querySelector(`input[name=${name}]`) as HTMLInputElement).value;
      const row: WindowRow = { date: value("window_date"), from: value("window_from"), to: value("window_to") };
      const was = originals.get(li);
      if (was && was.row.date === row.date && was.row.from === row.from && was.row.to === row.to) {
        out.push(was.window);
        continue;
      }
      const w = rowWindow(row, i + 1, tz);
      if (typeof w === "string") return w;
      out.push(w);
    }
    return out;
  };

  const slaInput = h("input", { id: "edit-sla", type: "datetime-local", value: localInput(job.sla_due_at, tz) });
  const sla = field("sla_due_at", `SLA due (${tz} time)`, slaInput, "Empty: no deadline.");

  // The place: the job's pin (moved by dragging, clicking the map or choosing an address).
  const addressText = h("input", { id: "edit-address-text", maxlength: "300", value: job.address ?? "" });
  const where = h("p", { id: "edit-where", class: "small", "aria-live": "polite" });
  const picker = locationPicker({
    id: "edit-place", start: { lat: job.lat, lon: job.lon }, searchLabel: "Find a new place", mapLabel: `Map: the place of job ${job.id}`,
    onChange: (p) => {
      if (p.query) addressText.value = p.query.slice(0, 300);
      const inside = picker.inside();
      where.className = inside === false ? "small warn-text" : "small";
      where.textContent = `${p.how === "start" ? "Now" : "New place"}: ${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}`
        + (p.match ? ` (found: ${p.match.kind}, ${pct(p.match.confidence)} sure within 250 m)` : "")
        + (inside === false ? ". Outside the service area: no technician can be sent there." : "");
    },
  });
  picker.mapEl.classList.add("edit-map");
  where.textContent = `Now: ${job.lat.toFixed(5)}, ${job.lon.toFixed(5)}`;
  const place = fieldset("location", "Place", [picker.search.el, picker.mapEl,
    h("div", { class: "adm-inline" }, picker.centreButton, where),
    h("label", { for: "edit-address-text" }, "Address (as the technician reads it)"), addressText],
    "Find an address, an intersection or a landmark; or drag the pin or click the map (arrow keys nudge a focused pin).");

  const fields: Field[] = [prio, dur, desc, skillSet, windowSet, sla, place];
  const saveBtn = h("button", { type: "submit", class: "primary", id: "edit-save" }, "Save");
  const form = h("form", { class: "adm-form job-edit", id: "job-edit-form", novalidate: true },
    h("div", { class: "job-edit-cols" },
      h("div", { class: "job-edit-col" }, h("div", { class: "adm-inline" }, prio.row, dur.row), desc.row, skillSet.row,
        windowSet.row, sla.row),
      h("div", { class: "job-edit-col" }, place.row)),
    general,
    h("div", { class: "actions" }, saveBtn, h("button", { type: "button", onclick: () => on.cancel() }, "Cancel")));

  const showError = (e: unknown): void => {
    if (e instanceof ApiError && e.status === 409) {
      mount(general, h("div", { class: "inline-error", role: "alert" },
        h("p", null, `Not saved: ${e.detail}.`),
        h("p", null, "Another dispatcher saved this job after you opened it. Your changes were NOT applied, and theirs were not overwritten."),
        h("button", { type: "button", onclick: () => on.reload() }, "Load their version")));
      return;
    }
    if (!(e instanceof ApiError) || e.status !== 422) {
      mount(general, h("p", { class: "inline-error", role: "alert" }, explain(e)));
      return;
    }
    const byName = new Map(fields.map((f) => [f.name, f]));
    const rest: string[] = [];
    let last: Field | undefined;
    // "lat/lon: …" names the place (two fields, one pin); a piece naming no field continues the one before it.
    const pieces = fieldErrors(e.detail.replace(/(^|;\s+)lat\/lon:/g, "$1location:"));
    for (const { field: name, message } of pieces) {
      const target = name ? byName.get(name === "lat" || name === "lon" || name === "address" ? "location" : name) : last;
      if (target) {
        target.error.textContent = target.error.textContent ? `${target.error.textContent}; ${message}` : message;
        target.row.classList.add("has-error");
      } else rest.push(name ? `${name}: ${message}` : message);
      last = name ? target : last;
    }
    if (rest.length) mount(general, h("p", { class: "inline-error", role: "alert" }, `Not saved: ${rest.join("; ")}`));
    fields.find((f) => f.error.textContent)?.row.scrollIntoView({ block: "nearest" });
  };

  // Changing a field clears what the server said about it.
  form.addEventListener("input", (ev) => {
    const f = fields.find((x) => x.row.contains(ev.target as Node));
    if (!f) return;
    f.error.textContent = "";
    f.row.classList.remove("has-error");
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(fields, general);
    mount(general);
    const patch: Record<string, unknown> = {
      priority: Number((prio.control as HTMLInputElement).value),
      duration_min: Number((dur.control as HTMLInputElement).value),
      description: descInput.value,
    };
    const p = picker.place();
    if (p && p.how !== "start") {
      if (picker.inside() === false) {
        place.error.textContent = "The pin is outside the service area: no technician can be sent there. Move it inside the dashed outline.";
        place.row.classList.add("has-error");
        return;
      }
      patch.lat = p.lat;
      patch.lon = p.lon;
    }
    const address = addressText.value.trim();
    if (address !== (job.address ?? "")) patch.address = address || null;
    const required = Object.fromEntries([...skillRows.querySelectorAll("li")].map((li) => [
      (li.querySelector("select[name=skill]") as HTMLSelectElement).value,
      Number((li.querySelector("select[name=level]") as HTMLSelectElement).value)]).filter(([s]) => s));
    if (!sameSkills(required, job.required_skills ?? {})) patch.required_skills = required;
    const windows = readWindows();
    if (typeof windows === "string") {
      windowSet.error.textContent = windows;
      windowSet.row.classList.add("has-error");
      return;
    }
    if (!sameWindows(windows, job.time_windows ?? [])) patch.time_windows = windows;
    if (slaInput.value !== localInput(job.sla_due_at, tz)) {
      const due = slaInput.value ? fromLocalInput(slaInput.value, tz) : null;
      if (slaInput.value && !due) {
        sla.error.textContent = "Not a valid date and time.";
        sla.row.classList.add("has-error");
        return;
      }
      patch.sla_due_at = due;
    }
    saveBtn.disabled = true;
    try {
      await on.save(patch);
      on.saved();
    } catch (e) {
      showError(e);
    } finally {
      saveBtn.disabled = false;
    }
  });

  return { el: form, start: () => picker.start(), remove: () => picker.remove() };
}
