// Page-level notices (an ARIA live region) and modal dialogs.
import { explain } from "./api";
import { h, mount, type Child } from "./dom";

let region: HTMLElement | null = null;

export function noticeRegion(): HTMLElement {
  region ??= h("div", { id: "notices", class: "notices", "aria-live": "polite" });
  return region;
}

/** Show a message at the top of the page; errors stay until dismissed, others fade after a while. */
export function notify(text: string, kind: "error" | "info" | "ok" = "info"): HTMLElement {
  const close = h("button", { class: "link", type: "button", "aria-label": "Dismiss message" }, "×");
  const note = h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" },
    h("span", { class: "notice-text" }, text), close);
  close.addEventListener("click", () => note.remove());
  noticeRegion().append(note);
  if (kind !== "error") setTimeout(() => note.remove(), 6000);
  return note;
}

export function notifyError(err: unknown): void {
  notify(explain(err), "error");
}

export function clearNotices(): void {
  noticeRegion().replaceChildren();
}

/** A modal dialog; resolves when closed. `body` is filled by `render` and can be re-rendered. */
export function openDialog(title: string, render: (body: HTMLElement, close: () => void) => void): Promise<void> {
  return new Promise((resolve) => {
    const body = h("div", { class: "dialog-body" });
    const dlg = h("dialog", { class: "dialog", "aria-labelledby": "dialog-title" },
      h("header", { class: "dialog-head" },
        h("h2", { id: "dialog-title" }, title),
        h("button", { type: "button", class: "link", "aria-label": "Close dialog", onclick: () => close() }, "×")),
      body);
    const close = () => {
      if (dlg.open) dlg.close();
    };
    dlg.addEventListener("close", () => {
      dlg.remove();
      resolve();
    });
    document.body.append(dlg);
    render(body, close);
    dlg.showModal();
  });
}

/** An inline error inside a panel or dialog (role=alert so screen readers hear it). */
export function inlineError(target: HTMLElement, err: unknown): void {
  mount(target, h("p", { class: "inline-error", role: "alert" }, explain(err)));
}

export function badge(text: Child, cls = ""): HTMLElement {
  return h("span", { class: `badge ${cls}` }, text);
}
