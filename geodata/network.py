"""The drivable street network from OSM data (straight from the scan, or through osmnx), as flat numpy arrays.

Travel times are seconds, distances metres. Inside, each edge weight is packed into one exact
float64 `time_ms * 2**24 + distance_dm`, so a single search yields the fastest route's time and
that same route's length (ties broken by the shorter one). Matrices run on a contraction hierarchy
of the same packed weights (`geodata._cch`) when pyroutingkit is installed, else on Dijkstra.
"""

from __future__ import annotations

import contextlib
import logging
import math
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import osmnx as ox
import shapely
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from shapely.geometry import LineString, Point, Polygon

from geodata._cch import CCH, node_order, rk_available
from geodata._osm import OsmScan, write_drivable_xml
from geodata.config import NetworkConfig
from geodata.errors import NetworkUnavailableError, NoDrivableRoadsError
from geodata.projection import LocalProjection

if TYPE_CHECKING:
    from geodata.matrix import MatrixCache, TravelMatrix
    from geodata.snapping import SnappedPoint

log = logging.getLogger(__name__)

DIST_BITS = 24
DIST_SCALE = float(2**DIST_BITS)  # distance unit is 0.1 m, so one route may be up to 1,677 km long


def pack(time_ms: Any, dist_dm: Any) -> Any:
    """Pack integer milliseconds and decimetres into one exactly-summable float64 weight."""
    return np.asarray(time_ms, dtype=np.float64) * DIST_SCALE + np.asarray(dist_dm, dtype=np.float64)


def pack_int(time_ms: Any, dist_dm: Any) -> NDArray[np.int64]:
    """`pack` in int64 (the CCH's weights); the same numbers, exact."""
    return (np.asarray(time_ms, dtype=np.int64) << DIST_BITS) + np.asarray(dist_dm, dtype=np.int64)


def unpack(weight: Any) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Packed weights → (travel_time_s, distance_m); inf stays inf."""
    w = np.asarray(weight, dtype=np.float64)
    t_ms = np.floor(w / DIST_SCALE)
    with np.errstate(invalid="ignore"):
        d_dm = np.where(np.isfinite(w), w - t_ms * DIST_SCALE, np.inf)
    return t_ms / 1000.0, d_dm / 10.0


@dataclass(frozen=True)
class BuildReport:
    """What a network build kept and dropped (dropped = outside the largest strongly connected part)."""

    source: str
    nodes: int
    edges: int
    dropped_nodes: int
    dropped_edges: int
    build_seconds: float


@contextlib.contextmanager
def _quiet_osmnx() -> Iterator[None]:
    """Run osmnx without its disk cache or console log, restoring its settings afterwards."""
    saved = (ox.settings.use_cache, ox.settings.log_console)
    ox.settings.use_cache, ox.settings.log_console = False, False
    try:
        yield
    finally:
        ox.settings.use_cache, ox.settings.log_console = saved


def graph_from_scan(scan: OsmScan, config: NetworkConfig, source_name: str) -> nx.MultiDiGraph:
    """Drivable, one-way-aware osmnx graph (unsimplified topology kept simple) from a scanned file."""
    with tempfile.TemporaryDirectory(prefix="geodata-") as tmp:
        xml = Path(tmp) / "drivable.osm"
        write_drivable_xml(scan, xml, source_name)
        with _quiet_osmnx():
            return ox.graph_from_xml(xml, bidirectional=False, simplify=True, retain_all=True)


def graph_from_place(place: str) -> nx.MultiDiGraph:
    """Download the drive network of a named place (needs the internet)."""
    with _quiet_osmnx():
        try:
            return ox.graph_from_place(place, network_type="drive", retain_all=True)
        except (OSError, ConnectionError) as exc:
            raise NetworkUnavailableError(
                f"cannot download the street network of {place!r}: {exc}. "
                "Offline? Export the area as an .osm/.osm.pbf file and load that instead."
            )
        except Exception as exc:
            if "connect" in str(exc).lower() or "resolve" in str(exc).lower():
                raise NetworkUnavailableError(
                    f"cannot download the street network of {place!r}: {exc}. "
                    "Offline? Export the area as an .osm/.osm.pbf file and load that instead."
                )
            raise


def prepare_graph(G: nx.MultiDiGraph, config: NetworkConfig) -> tuple[nx.MultiDiGraph, int, int]:
    """Add speeds (km/h) and travel times (s); keep the largest strongly connected part.

    Returns the graph and how many nodes and edges were dropped.
    """
    if G.number_of_edges() == 0:
        raise NoDrivableRoadsError("the street graph has no edges; the area holds no drivable roads")
    ox.routing.add_edge_speeds(G, hwy_speeds=dict(config.highway_speeds_kmh), fallback=config.fallback_speed_kmh)
    ox.routing.add_edge_travel_times(G)
    n0, e0 = G.number_of_nodes(), G.number_of_edges()
    G = ox.truncate.largest_component(G, strongly=True)
    if G.number_of_edges() == 0:
        raise NoDrivableRoadsError("no two roads connect in both directions; the network is unusable for routing")
    return G, n0 - G.number_of_nodes(), e0 - G.number_of_edges()


def _first(value: Any) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


class StreetNetwork:
    """Flat arrays of a directed street graph, plus snapping/matrix helpers built on load.

    Nodes: `node_lon`, `node_lat` (degrees). Edges: `edge_u`, `edge_v` (node indices),
    `edge_time_ms`, `edge_dist_dm`, per-edge names/highway classes and lon/lat polylines.
    """

    def __init__(
        self,
        *,
        node_osmid: NDArray[np.int64],
        node_lon: NDArray[np.float64],
        node_lat: NDArray[np.float64],
        edge_u: NDArray[np.int64],
        edge_v: NDArray[np.int64],
        edge_time_ms: NDArray[np.int64],
        edge_dist_dm: NDArray[np.int64],
        edge_name: list[str],
        edge_highway: list[str],
        edge_oneway: NDArray[np.bool_],
        coord_offsets: NDArray[np.int64],
        coords: NDArray[np.float64],
        config: NetworkConfig,
        report: BuildReport,
        extract_area: NDArray[np.float64] | None = None,
    ) -> None:
        self.node_osmid = node_osmid
        self.node_lon = node_lon
        self.node_lat = node_lat
        self.edge_u = edge_u
        self.edge_v = edge_v
        self.edge_time_ms = edge_time_ms
        self.edge_dist_dm = edge_dist_dm
        self.edge_name = edge_name
        self.edge_highway = edge_highway
        self.edge_oneway = edge_oneway
        self.coord_offsets = coord_offsets
        self.coords = coords
        self.config = config
        self.report = report
        self.extract_area = extract_area  # lon/lat ring where the source extract is complete (None: unknown)
        self._cch: CCH | None = None
        self._cch_failed = False
        self._prepare()

    # ---- construction -------------------------------------------------------------------
    @classmethod
    def from_graph(
        cls, G: nx.MultiDiGraph, config: NetworkConfig, report: BuildReport,
        extract_area: Sequence[tuple[float, float]] | None = None,
    ) -> StreetNetwork:
        """Flatten a prepared osmnx graph (edges need `length` and `travel_time`); `extract_area`
        is the lon/lat ring where the source file's data is complete (see `_osm.extract_area`)."""
        nodes = list(G.nodes)
        index = {n: i for i, n in enumerate(nodes)}
        lon = np.array([G.nodes[n]["x"] for n in nodes], dtype=float)
        lat = np.array([G.nodes[n]["y"] for n in nodes], dtype=float)
        us, vs, tms, dms, names, hws, oneway, offsets, chunks = [], [], [], [], [], [], [], [0], []
        for u, v, data in G.edges(data=True):
            us.append(index[u])
            vs.append(index[v])
            tms.append(max(1, round(float(data["travel_time"]) * 1000)))
            dms.append(max(1, round(float(data["length"]) * 10)))
            names.append(_first(data.get("name")))
            hws.append(_first(data.get("highway")))
            oneway.append(bool(data.get("oneway", False)))
            geom = data.get("geometry")
            xy = np.asarray(geom.coords) if geom is not None else np.array(
                [[lon[index[u]], lat[index[u]]], [lon[index[v]], lat[index[v]]]]
            )
            chunks.append(xy[:, :2])
            offsets.append(offsets[-1] + len(xy))
        return cls(
            node_osmid=np.array(nodes, dtype=np.int64),
            node_lon=lon,
            node_lat=lat,
            edge_u=np.array(us, dtype=np.int64),
            edge_v=np.array(vs, dtype=np.int64),
            edge_time_ms=np.array(tms, dtype=np.int64),
            edge_dist_dm=np.array(dms, dtype=np.int64),
            edge_name=names,
            edge_highway=hws,
            edge_oneway=np.array(oneway, dtype=bool),
            coord_offsets=np.array(offsets, dtype=np.int64),
            coords=np.concatenate(chunks) if chunks else np.zeros((0, 2)),
            config=config,
            report=report,
            extract_area=None if extract_area is None else np.asarray(extract_area, dtype=float),
        )

    def __getstate__(self) -> dict[str, Any]:
        keep = ("node_osmid", "node_lon", "node_lat", "edge_u", "edge_v", "edge_time_ms", "edge_dist_dm",
                "edge_name", "edge_highway", "edge_oneway", "coord_offsets", "coords", "config", "report",
                "extract_area", "_cch")
        return {k: self.__dict__.get(k) for k in keep}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._prepare()

    @property
    def cch(self) -> CCH | None:
        """The contraction hierarchy of this graph (packed time+length weights), built on first use and kept
        in the disk cache; None when pyroutingkit (which orders the nodes) is not installed."""
        if self._cch is None and not self.__dict__.get("_cch_failed") and rk_available():
            try:
                order = node_order(self.edge_u, self.edge_v, self.node_lat, self.node_lon)
            except (RuntimeError, OSError, ValueError) as exc:  # e.g. a pyroutingkit whose saved order we cannot read
                log.warning("no contraction hierarchy (%s); travel-time matrices use Dijkstra", exc)
                self._cch_failed = True
                return None
            self._cch = CCH(self.n_nodes, self.edge_u, self.edge_v, pack_int(self.edge_time_ms, self.edge_dist_dm),
                            order)
        return self._cch

    def _prepare(self) -> None:
        """Derived structures: projection, CSR graphs, edge pairing, spatial index, service area."""
        self.projection = LocalProjection(float(np.mean(self.node_lat)), float(np.mean(self.node_lon)))
        self.node_x, self.node_y = self.projection.to_xy(self.node_lon, self.node_lat)
        n = len(self.node_lon)
        weight = pack(self.edge_time_ms, self.edge_dist_dm)
        # CSR with the minimum packed weight over parallel edges (to_scipy_sparse_array would sum them).
        order = np.lexsort((weight, self.edge_v, self.edge_u))
        u, v = self.edge_u[order], self.edge_v[order]
        first = np.ones(len(order), dtype=bool)
        first[1:] = (u[1:] != u[:-1]) | (v[1:] != v[:-1])
        keep = order[first]
        self.csr_edge = keep  # edge id behind each CSR entry (row-major, sorted by column)
        self.csr = csr_matrix((weight[keep], (self.edge_u[keep], self.edge_v[keep])), shape=(n, n))
        self.csr.sort_indices()
        self.csr_rev = self.csr.T.tocsr()
        self.edge_weight = weight
        # Geometry in metres for snapping.
        ex, ey = self.projection.to_xy(self.coords[:, 0], self.coords[:, 1])
        self.coords_xy = np.column_stack([ex, ey])
        counts = np.diff(self.coord_offsets)
        self.edge_lines_xy = shapely.linestrings(self.coords_xy, indices=np.repeat(np.arange(len(counts)), counts))
        self.edge_len_xy = shapely.length(self.edge_lines_xy)
        # Pair each directed edge with its reverse twin (same road, opposite direction).
        seen: dict[tuple[int, int, int], int] = {}
        twin = np.full(len(self.edge_u), -1, dtype=np.int64)
        piece_fwd: list[int] = []
        for e in range(len(self.edge_u)):
            a, b, length = int(self.edge_u[e]), int(self.edge_v[e]), round(self.edge_len_xy[e])
            match = -1
            for dl in (0, -1, 1):
                cand = seen.get((b, a, length + dl))
                if cand is not None and twin[cand] == -1:
                    match = cand
                    break
            if match >= 0 and a != b:
                twin[match], twin[e] = e, match
            else:
                seen[(a, b, length)] = e
                piece_fwd.append(e)
        self.edge_twin = twin
        self.piece_edge = np.array(piece_fwd, dtype=np.int64)
        self.tree = shapely.STRtree(self.edge_lines_xy[self.piece_edge])
        area = shapely.convex_hull(shapely.multipoints(np.column_stack([self.node_x, self.node_y])))
        if self.extract_area is not None:  # roads that leave the mapped area do not make it a served area
            ex, ey = self.projection.to_xy(self.extract_area[:, 0], self.extract_area[:, 1])
            mapped = area.intersection(Polygon(np.column_stack([ex, ey])))
            if mapped.geom_type == "Polygon" and mapped.area > 0:
                area = mapped
        self.service_area_xy: Polygon = area.buffer(self.config.service_area_margin_m)
        shapely.prepare(self.service_area_xy)

    # ---- basic facts ---------------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return len(self.node_lon)

    @property
    def n_edges(self) -> int:
        return len(self.edge_u)

    @property
    def service_area(self) -> Polygon:
        """The area served (lon/lat polygon): the road network's convex hull, cut to the area the
        OSM extract maps completely when the file tells (its bounds, or its stand-alone nodes), plus a margin."""
        x, y = np.asarray(self.service_area_xy.exterior.coords).T
        lon, lat = self.projection.to_lonlat(x, y)
        return Polygon(np.column_stack([lon, lat]))

    def edge_coords(self, e: int) -> NDArray[np.float64]:
        """Lon/lat vertices of edge `e` in travel direction."""
        return self.coords[self.coord_offsets[e] : self.coord_offsets[e + 1]]

    def contains(self, lat: float, lon: float) -> bool:
        """True if the point lies inside the service area."""
        x, y = self.projection.to_xy(lon, lat)
        return bool(self.service_area_xy.contains(Point(float(x), float(y))))

    def to_networkx(self) -> nx.MultiDiGraph:
        """A networkx view of the same graph (node = index; `travel_time` s, `length` m) for checks."""
        G = nx.MultiDiGraph()
        G.add_nodes_from(range(self.n_nodes))
        for e in range(self.n_edges):
            G.add_edge(int(self.edge_u[e]), int(self.edge_v[e]), key=e,
                       travel_time=self.edge_time_ms[e] / 1000.0, length=self.edge_dist_dm[e] / 10.0)
        return G

    # ---- services (thin wrappers; the work lives in snapping/matrix/routes) --------------------
    def snap(self, lat: float, lon: float) -> SnappedPoint:
        """Snap a point to the nearest drivable edge; raises why it cannot be served."""
        from geodata.snapping import snap

        return snap(self, lat, lon)

    def snap_many(self, coords: Sequence[tuple[float, float]]) -> list[SnappedPoint]:
        """Snap many (lat, lon) points at once."""
        from geodata.snapping import snap_many

        return snap_many(self, coords)

    def travel_time_matrix(self, points: Sequence[tuple[float, float]], engine: str | None = None) -> TravelMatrix:
        """Travel time (s) and distance (m) between every ordered pair of (lat, lon) points
        (engine: "auto", "cch" or "dijkstra" — same numbers, see `geodata.matrix`)."""
        from geodata.matrix import travel_time_matrix

        return travel_time_matrix(self, points, engine)

    def matrix_cache(self, engine: str | None = None) -> MatrixCache:
        """An empty location-keyed matrix cache on this network."""
        from geodata.matrix import MatrixCache

        return MatrixCache(self, engine=engine)

    def route_geojson(self, stops: Sequence[tuple[float, float]]) -> dict[str, Any]:
        """GeoJSON LineStrings of the fastest legs between consecutive (lat, lon) stops."""
        from geodata.routes import route_geojson

        return route_geojson(self, stops)

    def streets_geojson(self, bbox: Sequence[float] | None = None) -> dict[str, Any]:
        """Drivable street lines as a GeoJSON FeatureCollection; bbox = (min_lon, min_lat, max_lon, max_lat)."""
        pieces = np.arange(len(self.piece_edge))
        if bbox is not None:
            x0, y0 = self.projection.to_xy(bbox[0], bbox[1])
            x1, y1 = self.projection.to_xy(bbox[2], bbox[3])
            pieces = self.tree.query(shapely.box(float(x0), float(y0), float(x1), float(y1)))
            pieces.sort()
        features = []
        for p in pieces:
            e = int(self.piece_edge[p])
            features.append({
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": np.round(self.edge_coords(e), 6).tolist()},
                "properties": {"name": self.edge_name[e] or None, "highway": self.edge_highway[e],
                               "oneway": bool(self.edge_twin[e] < 0)},
            })
        return {"type": "FeatureCollection", "features": features}


def build_network(scan: OsmScan, config: NetworkConfig, source_name: str, *, via: str = "arrays") -> StreetNetwork:
    """Build the network from a scanned OSM file.

    `via="arrays"` (default) goes straight from the scan to flat arrays (`geodata._graph`), a few
    seconds and little memory on a metro area; `via="osmnx"` builds the same network through an
    osmnx graph (the reference the arrays path is tested against; ~10x slower, ~1.5 GB on Porto).
    """
    t0 = time.perf_counter()
    if via == "osmnx":
        G = graph_from_scan(scan, config, source_name)
        G, dropped_nodes, dropped_edges = prepare_graph(G, config)
        report = BuildReport(source_name, G.number_of_nodes(), G.number_of_edges(), dropped_nodes, dropped_edges,
                             round(time.perf_counter() - t0, 3))
        return StreetNetwork.from_graph(G, config, report, scan.extract_area)
    if via != "arrays":
        raise ValueError(f"unknown build path {via!r}; use 'arrays' or 'osmnx'")
    from geodata._graph import flat_graph

    g = flat_graph(scan, config, source_name)
    report = BuildReport(source_name, len(g.node_lon), len(g.edge_u), g.dropped_nodes, g.dropped_edges,
                         round(time.perf_counter() - t0, 3))
    return StreetNetwork(
        node_osmid=g.node_osmid, node_lon=g.node_lon, node_lat=g.node_lat, edge_u=g.edge_u, edge_v=g.edge_v,
        edge_time_ms=g.edge_time_ms, edge_dist_dm=g.edge_dist_dm, edge_name=g.edge_name,
        edge_highway=g.edge_highway, edge_oneway=g.edge_oneway, coord_offsets=g.coord_offsets, coords=g.coords,
        config=config, report=report,
        extract_area=None if scan.extract_area is None else np.asarray(scan.extract_area, dtype=float),
    )


def network_from_place(place: str, config: NetworkConfig | None = None) -> StreetNetwork:
    """Build from a place name with osmnx (online only); raises NetworkUnavailableError offline."""
    config = config or NetworkConfig()
    t0 = time.perf_counter()
    G, dn, de = prepare_graph(graph_from_place(place), config)
    report = BuildReport(place, G.number_of_nodes(), G.number_of_edges(), dn, de, round(time.perf_counter() - t0, 3))
    return StreetNetwork.from_graph(G, config, report)


def line_substring_xy(line: LineString, start_m: float, end_m: float) -> LineString:
    """Part of a projected line between two distances (metres) from its start; reversed if end < start."""
    from shapely.ops import substring

    return substring(line, start_m, end_m)
