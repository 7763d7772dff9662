// Administration › Technicians: the workforce as a list, and one form to add or change a technician — skills with
// levels chosen from the catalogue's skill list, shift, the week (hours or off per weekday), breaks, home base found with the geotagger (the resolved
// place and its coordinates shown to confirm), on shift / off / sick. The planner reads these records as they are.
import { all, api, ApiError, explain } from "./api";
import { addressSearch } from "./address-search";
import { clearErrors, field, fieldset, hhmm, select, showErrors, type Field } from "./admin-forms";
import { h, mount } from "./dom";
import type { Technician } from "./types";
import { notify } from "./ui";

interface SkillRow {
  skill: string;
  services: string[];
  technicians: number;
  open_jobs: number;
}

interface Break {
  earliest: string;
  latest: string;
  duration_min: number;
}

/** A weekday's own hours, or "off"; a weekday left out works the everyday shift. Keys are ISO weekdays "1".."7". */
type WeekDay = { start: string; end: string } | "off";

interface TechnicianFull extends Technician {
  phone: string | null;
  overtime_allowed_min: number;
  breaks: Break[];
  weekly_shifts?: Record<string, WeekDay>;
}

const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

const AVAILABILITY: Array<[string, string]> = [
  ["on_shift", "Active — on shift (planned)"], ["off", "Inactive — off (not planned)"], ["sick", "Sick (not planned)"],
];
const LEVELS: Array<[string, string]> = [["1", "1 — basic"], ["2", "2"], ["3", "3 — skilled"], ["4", "4"], ["5", "5 — expert"]];

function skillsText(skills: Record<string, number>): string {
  return Object.entries(skills).sort().map(([s, l]) => `${s} ${l}`).join(", ") || "—";
}

function breaksText(breaks: Break[] | undefined): string {
  return (breaks ?? []).map((b) => `${b.duration_min} min between ${hhmm(b.earliest)} and ${hhmm(b.latest)}`).join("; ") || "none";
}

/** The week in short: runs of weekdays with the same hours, off days left out ("Mon–Thu 07:00–17:30, Fri 07:00–12:00"). */
export function weekText(t: Pick<TechnicianFull, "shift_start" | "shift_end" | "weekly_shifts">): string {
  const usual = `${hhmm(t.shift_start)}–${hhmm(t.shift_end)}`;
  const week = t.weekly_shifts ?? {};
  if (!Object.keys(week).length) return usual;
  const label = (d: number): string | null => {
    const e = week[String(d)];
    return e === "off" ? null : e ? `${hhmm(e.start)}–${hhmm(e.end)}` : usual;
  };
  const parts: string[] = [];
  for (let d = 1; d <= 7;) {
    const here = label(d);
    let last = d;
    while (last < 7 && label(last + 1) === here) last++;
    const names = last === d ? WEEKDAYS[d - 1].slice(0, 3) : `${WEEKDAYS[d - 1].slice(0, 3)}–${WEEKDAYS[last - 1].slice(0, 3)}`;
    if (here !== null) parts.push(`${names} ${here}`);
    d = last + 1;
  }
  return parts.join(", ") || "off every day";
}

export class TechniciansScreen {
  private list = h("div", { class: "adm-list", "aria-live": "polite" });
  private editor = h("section", { class: "adm-editor", "aria-labelledby": "tech-form-title" });
  private skills: SkillRow[] = [];
  private techs: TechnicianFull[] = [];

  mount(el: HTMLElement): void {
    const add = h("button", { type: "button", class: "primary", id: "add-technician", onclick: () => this.edit(null) }, "Add technician");
    mount(el, h("div", { class: "adm-split" },
      h("section", { class: "adm-pane", "aria-labelledby": "techs-title" },
        h("div", { class: "pane-head" }, h("h2", { id: "techs-title" }, "Technicians"), add),
        h("p", { class: "muted small" }, "Everyone the planner can send. Inactive and sick technicians are kept but not planned."),
        this.list),
      this.editor));
    void this.load();
  }

  private async load(selectId?: number): Promise<void> {
    try {
      const [techs, skills] = await Promise.all([
        all<TechnicianFull>("/technicians"), api<SkillRow[]>("/technicians/skills"),
      ]);
      this.techs = techs;
      this.skills = skills;
      this.renderList();
      const chosen = selectId !== undefined ? techs.find((t) => t.id === selectId) : undefined;
      if (chosen) this.edit(chosen);
      else if (!this.editor.childElementCount) this.edit(null);
    } catch (e) {
      mount(this.list, h("p", { class: "inline-error", role: "alert" }, String((e as Error).message ?? e)));
    }
  }

  private renderList(): void {
    if (!this.techs.length) {
      mount(this.list, h("p", { class: "empty-note" }, "No technicians yet: add the first one with the form."));
      return;
    }
    mount(this.list, h("table", { class: "adm-table", id: "technicians-table" },
      h("caption", { class: "visually-hidden" }, "Technicians"),
      h("thead", null, h("tr", null, ["Name", "Skills (level)", "Shift", "Breaks", "Home", "Status", ""].map((c) =>
        h("th", { scope: "col" }, c)))),
      h("tbody", null, this.techs.map((t) => h("tr", { "data-tech-id": t.id, class: t.availability === "on_shift" ? "" : "inactive" },
        h("th", { scope: "row" }, t.name),
        h("td", null, skillsText(t.skills)),
        h("td", { class: "tech-week" }, weekText(t)),
        h("td", { class: "small" }, breaksText(t.breaks)),
        h("td", { class: "small mono" }, `${t.home_lat.toFixed(5)}, ${t.home_lon.toFixed(5)}`),
        h("td", null, AVAILABILITY.find(([v]) => v === t.availability)?.[1].split(" —")[0] ?? t.availability),
        h("td", null, h("button", { type: "button", class: "small", "aria-label": `Edit ${t.name}`, onclick: () => this.edit(t) }, "Edit")))))));
  }

  /** The form for a new technician (`tech` null) or for changing one. */
  private edit(tech: TechnicianFull | null): void {
    const general = h("p", { class: "inline-error", role: "alert", id: "tech-form-error" });
    const name = field("name", "Name", h("input", { name: "name", autocomplete: "off", required: true, maxlength: 120, value: tech?.name ?? "" }));
    const phone = field("phone", "Phone (optional)", h("input", { name: "phone", type: "tel", maxlength: 40, value: tech?.phone ?? "" }));

    // Skills: rows of (skill from the catalogue's list, level 1..5).
    const skillRows = h("ul", { class: "adm-rows", id: "skill-rows" });
    const known = this.skills.map((s) => s.skill);
    const addSkillRow = (skill = "", level = 1): void => {
      const options: Array<[string, string]> = [["", "Choose a skill…"], ...known.map((s): [string, string] => {
        const row = this.skills.find((r) => r.skill === s);
        const need = row?.services.length ? ` — ${row.services.map((x) => x.split(" (")[0]).join(", ")}` : " — no service needs it";
        return [s, `${s}${need}`];
      })];
      if (skill && !known.includes(skill)) options.push([skill, `${skill} (not in the catalogue)`]);
      const n = skillRows.childElementCount + 1;
      const pick = select(options, skill, { name: "skill", "aria-label": `Skill ${n}` });
      const lvl = select(LEVELS, String(level), { name: "level", "aria-label": `Level of skill ${n}` });
      const li = h("li", { class: "adm-row" }, pick, lvl,
        h("button", { type: "button", class: "small", "aria-label": `Remove skill ${n}`, onclick: () => li.remove() }, "Remove"));
      skillRows.append(li);
    };
    for (const [s, l] of Object.entries(tech?.skills ?? {})) addSkillRow(s, l);
    if (!tech) addSkillRow();
    const skills = fieldset("skills", "Skills and levels", [skillRows,
      h("button", { type: "button", class: "small", id: "add-skill", onclick: () => addSkillRow() }, "Add a skill")],
      "Choose from the skills the service catalogue needs; a job needs the skill at its level or higher.");

    const start = field("shift_start", "Shift starts", h("input", { type: "time", name: "shift_start", required: true, value: hhmm(tech?.shift_start) || "08:00" }));
    const end = field("shift_end", "Shift ends", h("input", { type: "time", name: "shift_end", required: true, value: hhmm(tech?.shift_end) || "17:00" }));
    const overtime = field("overtime_allowed_min", "Overtime allowed (minutes)", h("input", {
      type: "number", name: "overtime_allowed_min", min: 0, max: 600, step: 5, value: String(tech?.overtime_allowed_min ?? 60) }));

    // The week: per weekday off, or its own hours; both times empty = the shift above.
    const weekBody = h("tbody", null, WEEKDAYS.map((day, i) => {
      const entry = tech?.weekly_shifts?.[String(i + 1)];
      const own = entry && entry !== "off" ? entry : null;
      const from = h("input", { type: "time", name: "week_start", value: own ? hhmm(own.start) : "", "aria-label": `${day} starts` });
      const to = h("input", { type: "time", name: "week_end", value: own ? hhmm(own.end) : "", "aria-label": `${day} ends` });
      const off = h("input", { type: "checkbox", name: "week_off", checked: entry === "off", "aria-label": `Off on ${day}` });
      const sync = (): void => {
        from.disabled = off.checked;
        to.disabled = off.checked;
      };
      off.addEventListener("change", sync);
      sync();
      return h("tr", { "data-weekday": i + 1 }, h("th", { scope: "row" }, day), h("td", null, off), h("td", null, from), h("td", null, to));
    }));
    const week = fieldset("weekly_shifts", "Week", [h("table", { class: "adm-table adm-week", id: "week-rows" },
      h("thead", null, h("tr", null, ["Day", "Off", "Starts", "Ends"].map((c) => h("th", { scope: "col" }, c)))), weekBody)],
      "A day's own hours, or off; leave both times empty to work the shift above.");

    const breakRows = h("ul", { class: "adm-rows", id: "break-rows" });
    const addBreakRow = (b: Break = { earliest: "11:30", latest: "13:30", duration_min: 30 }): void => {
      const n = breakRows.childElementCount + 1;
      const li = h("li", { class: "adm-row" },
        h("input", { type: "number", name: "duration_min", min: 1, max: 240, value: String(b.duration_min), "aria-label": `Break ${n} minutes`, class: "num" }),
        h("span", null, "min, starting between"),
        h("input", { type: "time", name: "earliest", value: hhmm(b.earliest), "aria-label": `Break ${n} earliest start` }),
        h("span", null, "and"),
        h("input", { type: "time", name: "latest", value: hhmm(b.latest), "aria-label": `Break ${n} latest start` }),
        h("button", { type: "button", class: "small", "aria-label": `Remove break ${n}`, onclick: () => li.remove() }, "Remove"));
      breakRows.append(li);
    };
    for (const b of tech?.breaks ?? []) addBreakRow(b);
    const breaks = fieldset("breaks", "Breaks", [breakRows,
      h("button", { type: "button", class: "small", id: "add-break", onclick: () => addBreakRow() }, "Add a break")]);

    // Home base: an address resolved with the geotagger, confirmed by choosing one of its places.
    const lat = h("input", { type: "number", name: "home_lat", step: "any", min: -90, max: 90, value: tech ? String(tech.home_lat) : "", class: "num-wide" });
    const lon = h("input", { type: "number", name: "home_lon", step: "any", min: -180, max: 180, value: tech ? String(tech.home_lon) : "", class: "num-wide" });
    const resolved = h("p", { class: "small", id: "home-resolved" },
      tech ? `Current home: ${tech.home_lat.toFixed(5)}, ${tech.home_lon.toFixed(5)}` : "No home chosen yet.");
    const search = addressSearch({ id: "home", otherwise: "type the coordinates", onChoose: (m) => {
      lat.value = String(m.lat);
      lon.value = String(m.lon);
      resolved.textContent = `Home: ${m.label} — ${m.lat.toFixed(5)}, ${m.lon.toFixed(5)}`
        + (m.inside_service_area ? "" : " (outside the service area)");
    } });
    const home = fieldset("home", "Home base (start and end of the day)", [
      search.el, resolved,
      h("div", { class: "adm-inline" },
        h("span", { class: "adm-pair" }, h("label", { for: "home-lat" }, "Latitude"), Object.assign(lat, { id: "home-lat" })),
        h("span", { class: "adm-pair" }, h("label", { for: "home-lon" }, "Longitude"), Object.assign(lon, { id: "home-lon" }))),
    ], "Found with the same geotagger as the complaints; choose the right place, or type coordinates.");
    const availability = field("availability", "Status", select(AVAILABILITY, tech?.availability ?? "on_shift", { name: "availability" }));

    const fields: Field[] = [name, phone, skills, start, end, overtime, week, breaks, home, availability];
    const save = h("button", { type: "submit", class: "primary", id: "save-technician" }, tech ? "Save changes" : "Add technician");
    const form = h("form", { class: "adm-form", id: "technician-form", novalidate: true },
      h("h2", { id: "tech-form-title" }, tech ? `Edit ${tech.name}` : "New technician"),
      name.row, skills.row, h("div", { class: "adm-inline" }, start.row, end.row, overtime.row), week.row, breaks.row, home.row,
      availability.row, phone.row, general,
      h("div", { class: "adm-actions" }, save,
        tech ? h("button", { type: "button", onclick: () => this.edit(null) }, "Cancel") : null));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(fields, general);
      const body = {
        name: (name.control as HTMLInputElement).value.trim(),
        phone: (phone.control as HTMLInputElement).value.trim() || null,
        skills: Object.fromEntries([...skillRows.querySelectorAll("li")].map((li) => [
          (li.querySelector("select[name=skill]") as HTMLSelectElement).value,
          Number((li.querySelector("select[name=level]") as HTMLSelectElement).value)]).filter(([s]) => s)),
        shift_start: (start.control as HTMLInputElement).value,
        shift_end: (end.control as HTMLInputElement).value,
        overtime_allowed_min: Number((overtime.control as HTMLInputElement).value),
        weekly_shifts: Object.fromEntries([...weekBody.querySelectorAll("tr")].flatMap((tr, i): Array<[string, WeekDay]> => {
          const value = (n: string): string => (tr.querySelector(`input[name=${n}]`) as HTMLInputElement).value;
          if ((tr.querySelector("input[name=week_off]") as HTMLInputElement).checked) return [[String(i + 1), "off"]];
          if (!value("week_start") && !value("week_end")) return [];
          return [[String(i + 1), { start: value("week_start"), end: value("week_end") }]];
        })),
        breaks: [...breakRows.querySelectorAll("li")].map((li) => ({
          earliest: (li.querySelector("input[name=earliest]") as HTMLInputElement).value,
          latest: (li.querySelector("input[name=latest]") as HTMLInputElement).value,
          duration_min: Number((li.querySelector("input[name=duration_min]") as HTMLInputElement).value),
        })),
        home_lat: lat.value === "" ? null : Number(lat.value),
        home_lon: lon.value === "" ? null : Number(lon.value),
        availability: (availability.control as HTMLSelectElement).value,
      };
      if (body.home_lat === null || body.home_lon === null) {
        home.error.textContent = "Find the address and choose a place (or type latitude and longitude).";
        home.row.classList.add("has-error");
        search.input.focus();
        return;
      }
      if (!Object.keys(body.skills).length) {
        skills.error.textContent = "Choose at least one skill: a technician without skills can take no job.";
        skills.row.classList.add("has-error");
        skillRows.querySelector("select")?.focus();
        return;
      }
      save.disabled = true;
      try {
        const saved = tech
          ? await api<TechnicianFull>(`/technicians/${tech.id}`, { method: "PATCH", body })
          : await api<TechnicianFull>("/technicians", { method: "POST", body });
        notify(tech ? `${saved.name} saved.` : `${saved.name} added: the next plan can send them.`, "ok");
        this.editor.replaceChildren();
        await this.load(saved.id);
      } catch (e) {
        showErrors(e, fields, general, { home_lat: "home", home_lon: "home", end_lat: "home", end_lon: "home" });
      } finally {
        save.disabled = false;
      }
    });
    mount(this.editor, form, tech ? this.absences(tech) : null);
    if (tech) (name.control as HTMLInputElement).focus();
  }

  /** Days off by date (leave, training): listed, added, removed; plans leave the technician out on those days. */
  private absences(tech: TechnicianFull): HTMLElement {
    const path = `/technicians/${tech.id}/absences`;
    const list = h("ul", { class: "plain adm-absences", id: "absence-list", "aria-live": "polite" });
    const general = h("p", { class: "inline-error", role: "alert" });
    const first = field("first_day", "First day", h("input", { type: "date", name: "first_day", required: true }));
    const last = field("last_day", "Last day", h("input", { type: "date", name: "last_day", required: true }));
    const reason = field("reason", "Reason (optional)", h("input", { name: "reason", maxlength: 200, placeholder: "e.g. annual leave" }));
    const fields: Field[] = [first, last, reason];
    const add = h("button", { type: "submit", id: "add-absence" }, "Add absence");
    const form = h("form", { class: "adm-form", id: "absence-form", novalidate: true, "aria-labelledby": "absences-title" },
      h("h3", { id: "absences-title" }, `Absences of ${tech.name}`),
      h("p", { class: "muted small" }, "Days they do not work, first and last day included; no plan sends them on those days."),
      list, h("div", { class: "adm-inline" }, first.row, last.row), reason.row, general, h("div", { class: "adm-actions" }, add));
    const render = (rows: Array<{ id: number; first_day: string; last_day: string; reason: string }>): void => {
      mount(list, rows.length ? rows.map((a) => h("li", { "data-absence-id": a.id, class: "adm-row" },
        h("span", null, a.first_day === a.last_day ? a.first_day : `${a.first_day} – ${a.last_day}`, a.reason ? ` (${a.reason})` : ""),
        h("button", { type: "button", class: "small", "aria-label": `Remove absence ${a.first_day} – ${a.last_day}`, onclick: async () => {
          try {
            await api(`${path}/${a.id}`, { method: "DELETE" });
            await load();
          } catch (e) {
            general.textContent = explain(e);
          }
        } }, "Remove"))) : h("li", { class: "muted small" }, "No absences recorded."));
    };
    const load = async (): Promise<void> => {
      try {
        render(await api(path));
      } catch (e) {
        if (e instanceof ApiError && e.missing) {
          mount(form, h("p", { class: "muted small" }, "This server does not record absences by date yet: set the status to Off for a day away."));
          return;
        }
        general.textContent = explain(e);
      }
    };
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(fields, general);
      add.disabled = true;
      try {
        await api(path, { method: "POST", body: {
          first_day: (first.control as HTMLInputElement).value || null,
          last_day: (last.control as HTMLInputElement).value || null,
          reason: (reason.control as HTMLInputElement).value.trim(),
        } });
        form.reset();
        await load();
      } catch (e) {
        showErrors(e, fields, general);
      } finally {
        add.disabled = false;
      }
    });
    void load();
    return h("section", { class: "adm-subform" }, form);
  }
}
