// A place for field work: the address search (our geotagger) above a map with one pin. The pin starts where the place
// is known, or nowhere: then the user places it (click the map, choose an address, or "Pin the map's centre" from the
// keyboard). It can be dragged, or nudged with the arrow keys when focused. Used by the inbox's hand-off and the job
// edit dialog; the map element carries data-pin ("none", "start" or "placed"), data-lat and data-lon for tests.
import { addressSearch, insideRing, type AddressMatch, type AddressSearch } from "./address-search";
import { h } from "./dom";
import { baseMap, L, nodeIcon, serviceArea, type ServiceArea } from "./map";

export interface Place {
  lat: number;
  lon: number;
  /** "start": where it was (not touched); "address": an address chosen; "map": clicked; "drag"/"keys": moved. */
  how: "start" | "address" | "map" | "drag" | "keys" | "centre";
  /** The text searched for, when an address was chosen. */
  query?: string;
  match?: AddressMatch;
}

export interface LocationPickerOptions {
  /** Prefix of the ids: `${id}-map`, and the address search's (`${id}-address`, `find-${id}`, `${id}-matches`). */
  id: string;
  /** Where the pin starts; null: no pin until the user places one. */
  start: { lat: number; lon: number } | null;
  mapLabel: string;
  /** Text for the search box at first (e.g. the place as the customer wrote it). */
  query?: string;
  /** The search box's label. */
  searchLabel?: string;
  /** Called each time the pin is placed or moved. */
  onChange: (place: Place) => void;
}

export interface LocationPicker {
  search: AddressSearch;
  /** The map's element (give it a height with a class). */
  mapEl: HTMLElement;
  /** "Pin the map's centre" (the keyboard way to place a pin). */
  centreButton: HTMLButtonElement;
  place: () => Place | null;
  /** Whether the pin is inside the service area (null while the area is not known or there is no pin). */
  inside: () => boolean | null;
  /** Call once the map's element is in the page (Leaflet measures it). */
  start: () => void;
  remove: () => void;
}

export function locationPicker(opts: LocationPickerOptions): LocationPicker {
  const mapEl = h("div", { class: "map pick-map", id: `${opts.id}-map`, dataset: { pin: "none" } });
  let current: Place | null = opts.start ? { ...opts.start, how: "start" } : null;
  let area: ServiceArea | null = null;
  let pin: L.Marker | null = null;
  let bm: ReturnType<typeof baseMap> | null = null;
  void serviceArea().then((a) => { area = a; if (current) opts.onChange(current); }).catch(() => undefined);

  const show = (): void => {
    mapEl.dataset.pin = current ? (current.how === "start" ? "start" : "placed") : "none";
    if (current) {
      mapEl.dataset.lat = String(current.lat);
      mapEl.dataset.lon = String(current.lon);
    }
  };
  const set = (p: Place, pan = false): void => {
    current = p;
    if (bm) {
      if (!pin) pin = makePin(bm.map, p);
      else pin.setLatLng([p.lat, p.lon]);
      if (pan) bm.map.setView([p.lat, p.lon], Math.max(bm.map.getZoom(), 16));
    }
    show();
    opts.onChange(p);
  };
  const makePin = (map: L.Map, p: { lat: number; lon: number }): L.Marker => {
    const marker = L.marker([p.lat, p.lon], {
      draggable: true, keyboard: true, title: "Work location (drag to move; arrow keys nudge it)", alt: "Work location pin",
      icon: nodeIcon(h("span", { "aria-hidden": "true" }), { className: "pin-icon", iconSize: [30, 30], iconAnchor: [15, 30] }),
    }).addTo(map);
    marker.on("dragend", () => {
      const at = marker.getLatLng();
      set({ lat: at.lat, lon: at.lng, how: "drag" });
    });
    // Keyboard: arrow keys nudge the pin by about 10 m when it has focus.
    marker.on("keydown", (ev: L.LeafletKeyboardEvent) => {
      const k = ev.originalEvent.key;
      const step = 0.0001;
      if (!current || !["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight"].includes(k)) return;
      ev.originalEvent.preventDefault();
      const lat = current.lat + (k === "ArrowUp" ? step : k === "ArrowDown" ? -step : 0);
      const lon = current.lon + (k === "ArrowRight" ? step : k === "ArrowLeft" ? -step : 0);
      set({ lat, lon, how: "keys" });
    });
    return marker;
  };

  const search = addressSearch({ id: opts.id, value: opts.query, label: opts.searchLabel ?? "Find the address", onChoose: (m, q) => set({ lat: m.lat, lon: m.lon, how: "address", query: q, match: m }, true) });
  const centreButton = h("button", { type: "button", class: "small", id: `${opts.id}-pin-centre`, onclick: () => {
    if (!bm) return;
    const c = bm.map.getCenter();
    set({ lat: c.lat, lon: c.lng, how: "centre" });
  } }, "Pin the map's centre");

  return {
    search, mapEl, centreButton,
    place: () => current,
    inside: () => (current && area ? insideRing(current.lat, current.lon, area.geometry.coordinates[0]) : null),
    start: () => {
      bm = baseMap(mapEl, { label: opts.mapLabel });
      const map = bm.map;
      if (current) {
        map.setView([current.lat, current.lon], 16);
        pin = makePin(map, current);
        // baseMap fits the service area once it is known: come back to the pin.
        void bm.ready.then(() => { if (current) map.setView([current.lat, current.lon], 16); }).catch(() => undefined);
      }
      map.on("click", (ev: L.LeafletMouseEvent) => set({ lat: ev.latlng.lat, lon: ev.latlng.lng, how: "map" }));
      show();
      setTimeout(() => map.invalidateSize(), 50);
    },
    remove: () => bm?.map.remove(),
  };
}
