// Administration › Users and roles: who may sign in and as what. Create a user with a first password to hand over,
// change a role, deactivate (every token of theirs stops working at once) or reactivate. The server refuses to
// demote or deactivate the last active administrator; that refusal is shown as it comes.
import { all, api, currentSession, explain } from "./api";
import { clearErrors, field, select, showErrors, type Field } from "./admin-forms";
import { h, mount } from "./dom";
import type { Technician } from "./types";
import { notify, openDialog } from "./ui";

interface UserRow {
  id: number;
  username: string;
  full_name: string;
  role: string;
  technician_id: number | null;
  is_active: boolean;
  created_at: string;
}

const ROLES: Array<[string, string]> = [
  ["admin", "Administrator"], ["dispatcher", "Dispatcher"], ["agent", "Agent"], ["technician", "Technician (mobile app)"],
];

export class UsersScreen {
  private list = h("div", { class: "adm-list" });
  private status = h("p", { class: "muted small", role: "status", id: "users-status" });
  private users: UserRow[] = [];
  private techs: Technician[] = [];

  mount(el: HTMLElement): void {
    mount(el, h("div", { class: "adm-split" },
      h("section", { class: "adm-pane", "aria-labelledby": "users-title" },
        h("h2", { id: "users-title" }, "Users and roles"),
        h("p", { class: "muted small" }, "Administrators set things up; dispatchers plan; agents answer customers; technicians use the mobile app."),
        this.status, this.list),
      h("section", { class: "adm-editor", "aria-labelledby": "user-form-title" }, this.createForm())));
    void this.load();
  }

  private async load(): Promise<void> {
    try {
      [this.users, this.techs] = await Promise.all([all<UserRow>("/users"), all<Technician>("/technicians")]);
      this.render();
    } catch (e) {
      mount(this.list, h("p", { class: "inline-error", role: "alert" }, explain(e)));
    }
  }

  private render(): void {
    const me = currentSession()?.username;
    const techName = new Map(this.techs.map((t) => [t.id, t.name]));
    mount(this.list, h("table", { class: "adm-table", id: "users-table" },
      h("caption", { class: "visually-hidden" }, "Users"),
      h("thead", null, h("tr", null, ["User", "Name", "Role", "Status", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", null, this.users.map((u) => {
        const self = u.username === me;
        const role = select(ROLES, u.role, { "aria-label": `Role of ${u.username}`, name: "role", disabled: self || !u.is_active });
        role.addEventListener("change", () => void this.change(u, { role: role.value }, `${u.username} is now ${role.selectedOptions[0]?.textContent ?? role.value}.`, () => { role.value = u.role; }));
        const toggle = h("button", { type: "button", class: "small", disabled: self,
          "aria-label": `${u.is_active ? "Deactivate" : "Reactivate"} ${u.username}`,
          onclick: () => void this.toggleActive(u) }, u.is_active ? "Deactivate" : "Reactivate");
        return h("tr", { "data-user-id": u.id, "data-username": u.username, class: u.is_active ? "" : "inactive" },
          h("th", { scope: "row" }, u.username, self ? h("span", { class: "muted small" }, " (you)") : null),
          h("td", null, u.full_name, u.technician_id ? h("span", { class: "muted small" }, ` — technician ${techName.get(u.technician_id) ?? u.technician_id}`) : null),
          h("td", null, role),
          h("td", null, u.is_active ? "active" : "deactivated"),
          h("td", null, toggle));
      }))));
  }

  private async change(u: UserRow, body: Record<string, unknown>, done: string, undo: () => void): Promise<void> {
    this.status.textContent = "Saving…";
    try {
      const saved = await api<UserRow>(`/users/${u.id}`, { method: "PATCH", body });
      Object.assign(u, saved);
      this.status.textContent = done;
      notify(done, "ok");
      this.render();
    } catch (e) {
      undo();
      this.status.textContent = "";
      notify(explain(e), "error");
    }
  }

  private async toggleActive(u: UserRow): Promise<void> {
    if (!u.is_active) {
      await this.change(u, { is_active: true }, `${u.username} can sign in again.`, () => undefined);
      return;
    }
    await openDialog(`Deactivate ${u.username}?`, (body, close) => {
      const yes = h("button", { type: "button", class: "primary danger", id: "confirm-deactivate" }, "Deactivate");
      yes.addEventListener("click", async () => {
        close();
        await this.change(u, { is_active: false }, `${u.username} is deactivated: signed out everywhere.`, () => undefined);
      });
      mount(body, h("p", null, `${u.full_name || u.username} will be signed out on every device and cannot sign in until reactivated. Their records and history are kept.`),
        h("div", { class: "adm-actions" }, yes, h("button", { type: "button", onclick: close }, "Cancel")));
      yes.focus();
    });
  }

  private createForm(): HTMLElement {
    const general = h("p", { class: "inline-error", role: "alert" });
    const username = field("username", "Username", h("input", { name: "username", autocomplete: "off", required: true, maxlength: 64 }),
      "Letters, digits and . _ @ - (no spaces); what they type to sign in.");
    const fullName = field("full_name", "Full name", h("input", { name: "full_name", maxlength: 120 }));
    const role = field("role", "Role", select(ROLES, "agent", { name: "role" }));
    const techPick = select([["", "—"]], "", { name: "technician_id" });
    const tech = field("technician_id", "Technician record (for the mobile app)", techPick);
    const password = field("password", "First password", h("input", { name: "password", type: "password", autocomplete: "new-password", minlength: 8, required: true }),
      "At least 8 characters; hand it over privately — they change it after signing in.");
    const fields: Field[] = [username, fullName, role, tech, password];
    const syncTech = (): void => {
      tech.row.hidden = (role.control as HTMLSelectElement).value !== "technician";
      mount(techPick, h("option", { value: "" }, "—"), this.techs.map((t) => h("option", { value: String(t.id) }, t.name)));
    };
    role.control.addEventListener("change", syncTech);
    tech.row.hidden = true;
    const save = h("button", { type: "submit", class: "primary", id: "create-user" }, "Create user");
    const form = h("form", { class: "adm-form", id: "user-form", novalidate: true },
      h("h2", { id: "user-form-title" }, "New user"), ...fields.map((f) => f.row), general, h("div", { class: "adm-actions" }, save));
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      clearErrors(fields, general);
      const roleValue = (role.control as HTMLSelectElement).value;
      const body: Record<string, unknown> = {
        username: (username.control as HTMLInputElement).value.trim(),
        full_name: (fullName.control as HTMLInputElement).value.trim(),
        role: roleValue,
        password: (password.control as HTMLInputElement).value,
      };
      if (roleValue === "technician" && techPick.value) body.technician_id = Number(techPick.value);
      save.disabled = true;
      try {
        const made = await api<UserRow>("/users", { method: "POST", body });
        notify(`${made.username} created as ${made.role}.`, "ok");
        form.reset();
        syncTech();
        await this.load();
      } catch (e) {
        showErrors(e, fields, general);
      } finally {
        save.disabled = false;
      }
    });
    return form;
  }
}
