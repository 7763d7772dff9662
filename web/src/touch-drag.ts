// Dragging with a finger: HTML5 drag and drop starts from a mouse, and from touch on few tablets, so a dispatcher on
// a tablet could not move a job on the board. A press held still for HOLD_MS picks a board bar or a queue card up (a
// quick swipe still scrolls, as users expect); the finger carries it over the technicians' lanes, each showing the
// time it would land at, and lifting it drops it there: the same drop, preview and confirmation as a mouse drag.

/** How long (ms) a finger rests on an item before it is picked up; moving more than SLOP_PX first is a scroll. */
export const HOLD_MS = 350;
export const SLOP_PX = 10;
/** Within this many px of a scrolling pane's top or bottom, a carried item scrolls it (to reach other rows). */
const EDGE_PX = 36;

/** A place a carried job can be dropped on (a technician's lane). */
export interface DropZone {
  /** The finger is over the zone at ``clientX``: show where the job would land; false when it cannot go here. */
  over(clientX: number): boolean;
  /** The finger left the zone (or the drag ended): take the hint away. */
  leave(): void;
  /** The job was let go over the zone at ``clientX``. */
  drop(jobId: number, clientX: number): void;
}

const zones = new WeakMap<Element, DropZone>();

/** Make ``el`` a place carried jobs can be dropped on. */
export function dropZone(el: HTMLElement, zone: DropZone): void {
  zones.set(el, zone);
  el.dataset.dropZone = "";
}

/** The drop zone under a screen point, if any. */
function zoneAt(x: number, y: number): Element | null {
  const under = document.elementFromPoint(x, y);
  const el = under?.closest("[data-drop-zone]") ?? null;
  return el && zones.has(el) ? el : null;
}

/** Scroll the pane under the finger when the finger is near its top or bottom edge. */
function edgeScroll(x: number, y: number): void {
  const pane = document.elementFromPoint(x, y)?.closest<HTMLElement>(".timeline-pane, .board-scroll");
  if (!pane) return;
  const r = pane.getBoundingClientRect();
  if (y < r.top + EDGE_PX) pane.scrollTop -= 12;
  else if (y > r.bottom - EDGE_PX) pane.scrollTop += 12;
}

/** Let a finger pick ``el`` (job ``jobId``) up by a held press and drop it on a zone; ``canDrag`` is asked at the
 * press (a job that became locked or started since the item was drawn cannot be picked up). Mouse presses are left
 * to HTML5 drag and drop. */
export function touchDraggable(el: HTMLElement, jobId: number, canDrag: () => boolean): void {
  el.addEventListener("contextmenu", (ev) => {
    if (el.classList.contains("touch-held")) ev.preventDefault(); // no long-press menu over a picked-up item
  });
  el.addEventListener("pointerdown", (down) => {
    if (down.pointerType === "mouse" || !down.isPrimary || !canDrag()) return;
    const x0 = down.clientX;
    const y0 = down.clientY;
    let carrying = false;
    let zone: Element | null = null;
    let ghost: HTMLElement | null = null;
    const timer = window.setTimeout(() => {
      carrying = true;
      el.classList.add("dragging", "touch-held");
      ghost = el.cloneNode(true) as HTMLElement;
      ghost.classList.add("touch-ghost");
      ghost.removeAttribute("id");
      ghost.setAttribute("aria-hidden", "true");
      Object.assign(ghost.style, { left: `${x0 + 8}px`, top: `${y0 + 8}px`, width: `${Math.min(260, el.offsetWidth)}px` });
      document.body.append(ghost);
      navigator.vibrate?.(15);
    }, HOLD_MS);
    const setZone = (next: Element | null, x: number) => {
      if (next !== zone && zone) zones.get(zone)?.leave();
      zone = next && zones.get(next)?.over(x) ? next : null;
      if (!zone && next) zones.get(next)?.leave();
    };
    const noScroll = (ev: TouchEvent) => {
      if (carrying && ev.cancelable) ev.preventDefault(); // the finger carries the job; the page stays put
    };
    const move = (ev: PointerEvent) => {
      if (ev.pointerId !== down.pointerId) return;
      if (!carrying) {
        if (Math.hypot(ev.clientX - x0, ev.clientY - y0) > SLOP_PX) end(); // a swipe: the page scrolls
        return;
      }
      ev.preventDefault();
      if (ghost) Object.assign(ghost.style, { left: `${ev.clientX + 8}px`, top: `${ev.clientY + 8}px` });
      edgeScroll(ev.clientX, ev.clientY);
      setZone(zoneAt(ev.clientX, ev.clientY), ev.clientX);
    };
    const up = (ev: PointerEvent) => {
      if (ev.pointerId !== down.pointerId) return;
      const target = carrying ? zone : null;
      const wasCarrying = carrying;
      end();
      if (wasCarrying) {
        // The lift is not a tap on the item: no click (which would select it) follows the drop.
        el.addEventListener("click", (c) => { c.stopImmediatePropagation(); c.preventDefault(); }, { capture: true, once: true });
        window.setTimeout(() => el.classList.remove("touch-held"), 0);
      }
      if (target) zones.get(target)?.drop(jobId, ev.clientX);
    };
    const cancel = (ev: PointerEvent) => {
      if (ev.pointerId === down.pointerId) end();
    };
    function end(): void {
      window.clearTimeout(timer);
      document.removeEventListener("pointermove", move);
      document.removeEventListener("pointerup", up);
      document.removeEventListener("pointercancel", cancel);
      document.removeEventListener("touchmove", noScroll);
      if (zone) zones.get(zone)?.leave();
      zone = null;
      el.classList.remove("dragging");
      if (!carrying) el.classList.remove("touch-held");
      ghost?.remove();
      ghost = null;
      carrying = false;
    }
    document.addEventListener("pointermove", move, { passive: false });
    document.addEventListener("pointerup", up);
    document.addEventListener("pointercancel", cancel);
    document.addEventListener("touchmove", noScroll, { passive: false });
  });
}
