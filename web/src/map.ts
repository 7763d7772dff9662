// The base map: our own street GeoJSON (works with no tile server) under OSM raster tiles when online.
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import { api } from "./api";

export const OSM_ATTRIBUTION =
  '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';

export interface ServiceArea {
  type: "Feature";
  geometry: { type: "Polygon"; coordinates: number[][][] };
  properties: { bbox: [number, number, number, number] };
}

let streetsPromise: Promise<GeoJSON.FeatureCollection> | null = null;
let areaPromise: Promise<ServiceArea> | null = null;

export function streets(): Promise<GeoJSON.FeatureCollection> {
  streetsPromise ??= api<GeoJSON.FeatureCollection>("/map/streets").catch((e) => {
    streetsPromise = null;
    throw e;
  });
  return streetsPromise;
}

export function serviceArea(): Promise<ServiceArea> {
  areaPromise ??= api<ServiceArea>("/map/service-area").catch((e) => {
    areaPromise = null;
    throw e;
  });
  return areaPromise;
}

export interface BaseMap {
  map: L.Map;
  /** "tiles" when OSM tiles load, "streets" when only our street lines are drawn. */
  mode: () => "tiles" | "streets";
  ready: Promise<void>;
}

/** A Leaflet map in `el` showing the service area's streets; tiles are added only if they load. */
export function baseMap(el: HTMLElement, opts: { label: string }): BaseMap {
  const map = L.map(el, { preferCanvas: true, zoomSnap: 0.25, keyboard: true, attributionControl: true });
  map.attributionControl.setPrefix(false);
  el.setAttribute("role", "region");
  el.setAttribute("aria-label", opts.label);
  map.setView([39.29, -76.59], 13);
  let tilesOk = false;
  if (navigator.onLine) {
    const tiles = L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
      attribution: OSM_ATTRIBUTION, maxZoom: 19, crossOrigin: true,
    });
    let errors = 0;
    tiles.on("tileload", () => {
      tilesOk = true;
      el.dataset.tiles = "online";
    });
    tiles.on("tileerror", () => {
      errors += 1;
      if (!tilesOk && errors >= 4) {
        map.removeLayer(tiles);
        el.dataset.tiles = "offline";
      }
    });
    tiles.addTo(map);
  } else {
    el.dataset.tiles = "offline";
  }
  const ready = (async () => {
    const area = await serviceArea();
    const [w, s, e, n] = area.properties.bbox;
    map.fitBounds([[s, w], [n, e]], { padding: [8, 8] });
    L.geoJSON(area as GeoJSON.Feature, {
      interactive: false, style: { color: "#4b5563", weight: 1, dashArray: "4 4", fill: false },
    }).addTo(map);
    const data = await streets();
    const layer = L.geoJSON(data, {
      interactive: false, attribution: OSM_ATTRIBUTION,
      style: (f) => ({
        color: "#9aa3b2",
        weight: ["primary", "secondary", "trunk", "motorway"].includes(String(f?.properties?.highway)) ? 2 : 1,
        opacity: 0.9,
      }),
    });
    layer.addTo(map);
    layer.bringToBack();
    el.dataset.streets = String(data.features.length);
  })();
  return { map, mode: () => (tilesOk ? "tiles" : "streets"), ready };
}

/** Leaflet takes a string as HTML: every tooltip and icon of ours is a DOM node (built with `h()`, text as text
 * nodes), never a string, so a technician or customer name can never become markup. */
export function nodeTooltip<T extends L.Layer>(layer: T, content: HTMLElement, options?: L.TooltipOptions): T {
  layer.bindTooltip(content, options);
  return layer;
}

/** A marker icon whose content is a DOM node (never an HTML string). */
export function nodeIcon(content: HTMLElement, options: Omit<L.DivIconOptions, "html">): L.DivIcon {
  return L.divIcon({ ...options, html: content });
}

/** Plain text as a tooltip node. */
export function textTip(text: string): HTMLElement {
  const el = document.createElement("span");
  el.textContent = text;
  return el;
}

export { L };
