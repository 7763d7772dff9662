// Building DOM without HTML strings: every piece of text becomes a text node, so messages from
// customers (hostile input) can never become markup. No HTML string is ever parsed by the console.

export type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, unknown>;

function append(parent: Node, child: Child): void {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    for (const c of child) append(parent, c);
  } else if (child instanceof Node) {
    parent.appendChild(child);
  } else {
    parent.appendChild(document.createTextNode(String(child)));
  }
}

const URL_ATTRS = new Set(["href", "src", "action", "formaction", "xlink:href"]);

function setAttrs(el: Element, attrs: Attrs | null | undefined): void {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) {
      // A handler is a function; a string here would be script in an attribute.
      if (typeof value !== "function") throw new TypeError(`${key}: event handlers must be functions`);
      el.addEventListener(key.slice(2).toLowerCase(), value as EventListener);
    } else if (key === "dataset" && typeof value === "object") {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        (el as HTMLElement).dataset[k] = String(v);
      }
    } else if (key === "style") {
      // CSSOM only: a style attribute string is refused by the Content-Security-Policy (no inline styles).
      if (typeof value !== "object") throw new TypeError("style: pass an object of properties, not a string");
      Object.assign((el as HTMLElement).style, value);
    } else if (URL_ATTRS.has(key) && /^\s*(javascript|data|vbscript):/i.test(String(value))) {
      throw new TypeError(`${key}: script URLs are not links`);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
}

/** An HTML element with attributes (strings, booleans, `on*` listeners) and text/node children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K, attrs?: Attrs | null, ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element (for the timeline). */
export function svg(tag: string, attrs?: Attrs | null, ...children: Child[]): SVGElement {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el as SVGElement;
}

/** Replace all children of `el`. */
export function mount(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

export function clear(el: Element): void {
  el.replaceChildren();
}
