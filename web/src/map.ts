// The base map: our own street GeoJSON (works with no tile server) under OSM raster tiles when online.
import L from "leaflet";
import "leaflet/dist/leaflet.css";
import Supercluster, { type ClusterProperties } from "supercluster";
import { api } from "./api";
import { markerMoved } from "./live-delta";
import type { Job } from "./types";

export const OSM_ATTRIBUTION =
  '© <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors';

export interface ServiceArea {
  type: "Feature";
  geometry: { type: "Polygon"; coordinates: number[][][] };
  properties: { bbox: [number, number, number, number] };
}

// Leaflet 1.9's canvas renderer can leave a redraw it asked a frame for without a handle: a synchronous redraw (on a
// moveend) clears `_redrawRequest` while the frame is still pending, so removing the map (which cancels only the
// request it still knows) lets that frame run on the destroyed canvas: "Cannot read properties of undefined (reading
// 'clearRect')" when a view is left just after its map moved (Leaflet issue #6030 is the same race, fixed then for the
// request it still knew). A renderer without a canvas draws nothing.
type CanvasInternals = { _ctx?: unknown; _redrawRequest?: number | null };
const canvasProto = L.Canvas.prototype as unknown as { _redraw: (this: CanvasInternals) => void };
const leafletRedraw = canvasProto._redraw;
canvasProto._redraw = function (this: CanvasInternals) {
  if (this._ctx) leafletRedraw.call(this);
  else this._redrawRequest = null; // as Leaflet's own redraw does first: a renderer added again asks for a new frame
};

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
  // The view can be left (and the map removed) while the area and the streets are still on their way: drawing on a
  // removed map reached its deleted canvas ("Cannot read properties of undefined (reading 'clearRect')").
  let removed = false;
  map.on("unload", () => { removed = true; });
  const ready = (async () => {
    const area = await serviceArea();
    if (removed) return;
    const [w, s, e, n] = area.properties.bbox;
    map.fitBounds([[s, w], [n, e]], { padding: [8, 8] });
    L.geoJSON(area as GeoJSON.Feature, {
      interactive: false, style: { color: "#4b5563", weight: 1, dashArray: "4 4", fill: false },
    }).addTo(map);
    const data = await streets();
    if (removed) return;
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

/** A bound tooltip's new content, a DOM node like `nodeTooltip`'s (an open tooltip stays open). */
export function setNodeTooltip<T extends L.Layer>(layer: T, content: HTMLElement): T {
  layer.setTooltipContent(content);
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

export interface JobClusterOptions {
  style: (job: Job) => L.CircleMarkerOptions;
  tooltip: (job: Job) => HTMLElement;
  onClick: (job: Job) => void;
  /** Pixels within which points join a cluster (default 60). */
  radius?: number;
  /** From this zoom on every job is its own marker (default 16). */
  maxZoom?: number;
  /** Up to this many jobs, every job is its own marker at every zoom (default 150). */
  clusterFrom?: number;
}

/** Job markers clustered with supercluster: only the clusters and single jobs inside the view are drawn, again at
 * every pan and zoom, so thousands of jobs stay a few dozen markers. A cluster shows its count and whether an urgent
 * job (priority 8+) is in it, and zooms in when clicked (or Enter). The map's element says what is drawn:
 * data-jobs (all indexed), data-clusters and data-points (drawn now), data-patched (live changes restyled in place). */
export class JobClusters {
  private layer = L.layerGroup();
  private index: Supercluster<{ i: number; urgent: number }, { urgent: number }>;
  private jobs: Job[] = [];
  private markers = new Map<number, { circle: L.CircleMarker; count: L.Marker | null }>();
  private pendingFocus: number | null = null;
  private loaded = false;
  readonly maxZoom: number;

  private stopped = false;
  private readonly onMove = (): void => this.draw();

  constructor(private map: L.Map, private opts: JobClusterOptions) {
    this.maxZoom = opts.maxZoom ?? 16;
    this.index = this.makeIndex(true);
    this.layer.addTo(map);
    map.on("moveend", this.onMove);
    map.on("unload", () => this.stop());
  }

  /** Draw nothing more: the map is being removed (a moveend that fires while it is torn down, or after, must not
   * put markers on its canvas: their redraw then ran on the destroyed canvas). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.map.off("moveend", this.onMove);
    this.layer.clearLayers();
    this.layer.remove();
  }

  private makeIndex(cluster: boolean): Supercluster<{ i: number; urgent: number }, { urgent: number }> {
    return new Supercluster<{ i: number; urgent: number }, { urgent: number }>({
      // Not clustering: no zoom level merges points (maxZoom 0 and a radius of nothing).
      radius: cluster ? this.opts.radius ?? 60 : 0, maxZoom: cluster ? this.maxZoom - 1 : 0,
      // Only whether a job is urgent (priority 8+) is indexed: a change of priority below or above 8 keeps the index.
      map: (p) => ({ urgent: p.urgent }),
      reduce: (acc, p) => { acc.urgent = Math.max(acc.urgent, p.urgent); },
    });
  }

  setJobs(jobs: Job[]): void {
    this.jobs = jobs;
    this.index = this.makeIndex(jobs.length > (this.opts.clusterFrom ?? 150));
    this.index.load(jobs.map((job, i) => ({
      type: "Feature", properties: { i, urgent: job.priority >= 8 ? 1 : 0 },
      geometry: { type: "Point", coordinates: [job.lon, job.lat] },
    })));
    this.loaded = true;
    this.map.getContainer().dataset.jobs = String(jobs.length);
    this.draw();
  }

  /** The same jobs as before (the same ids in the same order, each where it was and as urgent as it was: the index
   * holds), some of them changed or restyled: `changed` are restyled where drawn, nothing else is touched (a live
   * change to one job among thousands). Anything else is `setJobs`, done here. Returns whether it was a patch. */
  patch(jobs: Job[], changed: Iterable<number>): boolean {
    const same = this.loaded && jobs.length === this.jobs.length && jobs.every((job, i) => {
      const was = this.jobs[i];
      return job.id === was.id && (job === was || !markerMoved(was, job));
    });
    if (!same) {
      this.setJobs(jobs);
      return false;
    }
    const before = this.jobs;
    this.jobs = jobs;
    let redraw = false;
    for (const id of changed) {
      const drawn = this.markers.get(id);
      if (!drawn) continue; // inside a cluster or out of view: drawn afresh when the map moves
      const i = jobs.findIndex((j) => j.id === id);
      const job = jobs[i];
      if (!job || (job.reporter_count > 1) !== (drawn.count !== null)
        || (drawn.count !== null && job.reporter_count !== before[i].reporter_count)) {
        redraw = true;
        break;
      }
      drawn.circle.setStyle(this.opts.style(job));
      setNodeTooltip(drawn.circle, this.opts.tooltip(job));
    }
    if (redraw) this.draw();
    this.map.getContainer().dataset.patched = String(Number(this.map.getContainer().dataset.patched ?? 0) + 1);
    return true;
  }

  /** Centre the job at a zoom where it is its own marker, and show its tooltip (kept open across redraws until
   * another job is focused or `unfocus()`). */
  focus(job: Job): void {
    this.pendingFocus = job.id;
    this.map.setView([job.lat, job.lon], Math.max(this.maxZoom, this.map.getZoom()));
    this.draw();
  }

  private draw(): void {
    if (!this.loaded || this.stopped) return; // the map moves (fits the service area) before the first jobs arrive
    this.layer.clearLayers();
    this.markers.clear();
    const b = this.map.getBounds().pad(0.2);
    const zoom = Math.round(this.map.getZoom());
    const items = this.index.getClusters([b.getWest(), b.getSouth(), b.getEast(), b.getNorth()], zoom);
    let clusters = 0;
    let points = 0;
    for (const item of items) {
      const [lon, lat] = item.geometry.coordinates;
      const p = item.properties as Partial<ClusterProperties> & { i?: number; urgent?: number };
      if (p.cluster) {
        clusters += 1;
        const count = p.point_count ?? 0;
        const size = count < 10 ? 30 : count < 100 ? 36 : count < 1000 ? 44 : 52;
        const clusterId = p.cluster_id ?? 0;
        const label = `${count} jobs here${p.urgent ? ", some urgent" : ""}: zoom in`;
        const icon = nodeIcon(h2("span", `${p.point_count_abbreviated ?? count}`), {
          className: `cluster-icon${count >= 100 ? " cluster-big" : ""}`, iconSize: [size, size], iconAnchor: [size / 2, size / 2],
        });
        const marker = L.marker([lat, lon], { icon, title: label, keyboard: true, alt: label });
        marker.on("click", () => {
          const to = Math.min(this.index.getClusterExpansionZoom(clusterId), this.maxZoom);
          this.map.setView([lat, lon], Math.max(to, zoom + 1));
        });
        marker.addTo(this.layer);
      } else if (p.i !== undefined) {
        points += 1;
        const i = p.i;
        const job = this.jobs[i];
        const marker = L.circleMarker([job.lat, job.lon], this.opts.style(job));
        nodeTooltip(marker, this.opts.tooltip(job));
        marker.on("click", () => this.opts.onClick(this.jobs[i])); // the job as it is now (patch() swaps it)
        marker.addTo(this.layer);
        let count: L.Marker | null = null;
        if (job.reporter_count > 1) {
          count = L.marker([job.lat, job.lon], {
            icon: nodeIcon(h2("span", String(job.reporter_count)), { className: "count-icon", iconSize: [18, 18], iconAnchor: [-2, 18] }),
            keyboard: false, interactive: false,
          }).addTo(this.layer);
        }
        this.markers.set(job.id, { circle: marker, count });
      }
    }
    const el = this.map.getContainer();
    el.dataset.clusters = String(clusters);
    el.dataset.points = String(points);
    if (this.pendingFocus !== null) this.markers.get(this.pendingFocus)?.circle.openTooltip();
  }

  /** Stop showing the focused job's tooltip. */
  unfocus(): void {
    this.pendingFocus = null;
    this.draw();
  }
}

/** A tiny text element (map.ts does not import dom.ts's h(), to stay usable from any view). */
function h2(tag: "span", text: string): HTMLElement {
  const el = document.createElement(tag);
  el.textContent = text;
  return el;
}

export { L };
