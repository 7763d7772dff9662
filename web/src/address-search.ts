// Address search with our geotagger (GET /addresses/search, the same one the complaints go through): type an address,
// an intersection or a landmark, get the places it may mean with how sure it is of each, choose one. One widget for
// the technician form's home base, the inbox's hand-off and the job edit dialog.
import { api, explain } from "./api";
import { h, mount } from "./dom";

/** One answer of GET /addresses/search. */
export interface AddressMatch {
  lat: number;
  lon: number;
  /** address, intersection, landmark, street, neighbourhood, block */
  kind: string;
  /** Probability the place is within 250 m of what was meant. */
  confidence: number;
  radius_m: number;
  /** How it was found, in words ("address point 10 Mikonkatu"). */
  label: string;
  inside_service_area: boolean;
}

/** What a match is, how sure the geotagger is and where: "address, 92 % sure within 250 m, 39.29000, -76.58500". */
export function matchDetail(m: AddressMatch): string {
  return `${m.kind}, ${Math.round(m.confidence * 100)} % sure within 250 m, ${m.lat.toFixed(5)}, ${m.lon.toFixed(5)}`
    + (m.inside_service_area ? "" : " — outside the service area");
}

/** Whether (lat, lon) is inside a lon/lat ring (ray casting; the ring's first and last points may repeat). */
export function insideRing(lat: number, lon: number, ring: number[][]): boolean {
  let inside = false;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    const [xi, yi] = ring[i];
    const [xj, yj] = ring[j];
    if ((yi > lat) !== (yj > lat) && lon < ((xj - xi) * (lat - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

export interface AddressSearchOptions {
  /** Prefix of the ids: `${id}-address` (the box), `find-${id}` (the button), `${id}-matches` (the answers),
   * `${id}-match-N` (each answer's radio). */
  id: string;
  /** Called when the user chooses an answer (with the text they searched for). */
  onChoose: (match: AddressMatch, query: string) => void;
  label?: string;
  placeholder?: string;
  value?: string;
  /** What else the user can do when nothing matches ("place the pin on the map yourself"). */
  otherwise?: string;
}

export interface AddressSearch {
  /** The label, the box with its Find button and the answers. */
  el: HTMLElement;
  input: HTMLInputElement;
  /** Look up what the box holds and show the answers. */
  find: () => Promise<void>;
}

/** The search box and its answers; Enter in the box or Find looks it up. Nothing found is said, never guessed. */
export function addressSearch(opts: AddressSearchOptions): AddressSearch {
  const { id } = opts;
  const input = h("input", { type: "search", name: "address", autocomplete: "off", id: `${id}-address`,
    placeholder: opts.placeholder ?? "e.g. 400 E Pratt St", maxlength: 300, value: opts.value ?? "" });
  const found = h("div", { class: "adm-found", id: `${id}-matches`, "aria-live": "polite" });
  let seq = 0;
  const find = async (): Promise<void> => {
    const q = input.value.trim();
    if (q.length < 2) {
      mount(found, h("p", { class: "field-error" }, "Type at least two characters of an address."));
      return;
    }
    const mine = ++seq; // a slower earlier answer must not replace a later one
    mount(found, h("p", { class: "muted small" }, "Looking up…"));
    try {
      const matches = await api<AddressMatch[]>(`/addresses/search?q=${encodeURIComponent(q)}&limit=5`);
      if (mine !== seq) return;
      if (!matches.length) {
        mount(found, h("p", { class: "field-error", role: "alert" },
          `Nothing on the map matches “${q}”. Try a street address or an intersection, or ${opts.otherwise ?? "place the pin on the map yourself"}.`));
        return;
      }
      mount(found, h("fieldset", { class: "adm-matches" }, h("legend", null, "Choose the place that is meant"),
        matches.map((m, i) => {
          const radio = h("input", { type: "radio", name: `${id}-match`, id: `${id}-match-${i}`, value: String(i) });
          radio.addEventListener("change", () => opts.onChoose(m, q));
          return h("div", { class: "adm-match" }, radio, h("label", { for: `${id}-match-${i}` },
            `${m.label} `, h("span", { class: "muted small" }, matchDetail(m))));
        })));
    } catch (e) {
      if (mine === seq) mount(found, h("p", { class: "field-error", role: "alert" }, explain(e)));
    }
  };
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault(); // inside a form, Enter looks the address up; it does not submit
      void find();
    }
  });
  const el = h("div", { class: "address-search" },
    h("label", { for: `${id}-address` }, opts.label ?? "Address"),
    h("div", { class: "adm-inline" }, input, h("button", { type: "button", id: `find-${id}`, onclick: () => void find() }, "Find")),
    found);
  return { el, input, find };
}
