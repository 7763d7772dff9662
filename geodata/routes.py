"""Route geometry between consecutive stops, as GeoJSON for maps."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.sparse.csgraph import dijkstra
from shapely.ops import substring

from geodata.errors import NoRouteError
from geodata.matrix import extended_csr
from geodata.network import StreetNetwork, pack, unpack
from geodata.snapping import SnappedPoint, snap_many

log = logging.getLogger(__name__)


def _part(net: StreetNetwork, edge: int, f0: float, f1: float) -> list[list[float]]:
    """Lon/lat vertices of edge `edge` between fractions f0 → f1 of its length."""
    line = net.edge_lines_xy[edge]
    seg = substring(line, f0, f1, normalized=True)
    xy = np.asarray(seg.coords) if not seg.is_empty else np.zeros((0, 2))
    if len(xy) == 0:
        return []
    lon, lat = net.projection.to_lonlat(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat]).tolist()


def _at_junction(net: StreetNetwork, point: SnappedPoint, node: int) -> bool:
    """Whether ``point`` joins the network through ``node`` at no cost (it lies at that junction): the straight
    piece between them is then the drive itself, not a stand-in for a missing one."""
    return any(link == (node, 0, 0) for link in (*point.exits, *point.entries))


def _leg(
    net: StreetNetwork, a: SnappedPoint, b: SnappedPoint
) -> tuple[list[list[float]], float, float, bool]:
    """Coordinates, travel_time_s and distance_m of the fastest drive a → b (kerb to kerb), and whether every
    piece follows the streets (False: a piece that could not be traced is a straight segment, and it is logged)."""
    n = net.n_nodes
    graph = extended_csr(net.csr, [a.exits])
    dist, pred = dijkstra(graph, directed=True, indices=n, return_predecessors=True)
    best_w, best_entry = np.inf, None
    for k, (node, t_ms, d_dm) in enumerate(b.entries):
        w = dist[node] + pack(t_ms, d_dm)
        if w < best_w:
            best_w, best_entry = w, k
    # Same-edge shortcut: b lies ahead of a on one of a's edges.
    direct = None
    for e, fa in a.on_edges:
        for e2, fb in b.on_edges:
            if e == e2 and fb >= fa:
                w = pack(round((fb - fa) * net.edge_time_ms[e]), round((fb - fa) * net.edge_dist_dm[e]))
                if w <= best_w:
                    best_w, direct = w, (e, fa, fb)
    if not np.isfinite(best_w):
        raise NoRouteError(f"no drivable route from ({a.lat:.6f}, {a.lon:.6f}) to ({b.lat:.6f}, {b.lon:.6f})")
    coords: list[list[float]] = [[a.lon, a.lat]]
    complete = True
    if direct is not None:
        e, fa, fb = direct
        coords += _part(net, e, fa, fb)
    else:
        entry_node = b.entries[best_entry][0]  # type: ignore[index]
        path = [entry_node]
        while pred[path[-1]] != n and pred[path[-1]] >= 0:
            path.append(int(pred[path[-1]]))
        path.reverse()
        # Leave a along the edge whose end is the exit node; a point within NODE_EPS_M of a junction may also
        # leave through the junction itself (say at the end of a one-way street), where there is no edge to follow.
        out = next(((e, f) for e, f in a.on_edges if net.edge_v[e] == path[0]), None)
        if out is not None:
            coords += _part(net, out[0], out[1], 1.0)
        else:
            complete &= _at_junction(net, a, path[0])
        for u, v in itertools.pairwise(path):
            row = slice(net.csr.indptr[u], net.csr.indptr[u + 1])
            pos = net.csr.indptr[u] + int(np.searchsorted(net.csr.indices[row], v))
            coords += net.edge_coords(int(net.csr_edge[pos])).tolist()
        into = next(((e, f) for e, f in b.on_edges if net.edge_u[e] == entry_node), None)
        if into is not None:
            coords += _part(net, into[0], 0.0, into[1])
        else:
            complete &= _at_junction(net, b, entry_node)
    if not complete:
        log.warning("route (%.6f, %.6f) -> (%.6f, %.6f): a piece between a stop and the street network has no "
                    "edge to follow; drawn as a straight segment", a.lat, a.lon, b.lat, b.lon)
    coords.append([b.lon, b.lat])
    w_total = best_w + pack(a.access_time_ms + b.access_time_ms, a.access_dist_dm + b.access_dist_dm)
    t, d = unpack(w_total)
    dedup = [coords[0]] + [c for p, c in zip(coords, coords[1:], strict=False) if c != p]  # noqa: RUF007
    return [[round(x, 6), round(y, 6)] for x, y in dedup], float(t), float(d), complete


def route_geojson(
    net: StreetNetwork, stops: Sequence[tuple[float, float]] | Sequence[SnappedPoint]
) -> dict[str, Any]:
    """FeatureCollection with one LineString per leg between consecutive (lat, lon) stops.

    Each feature's properties: `leg` (0-based), `travel_time_s`, `distance_m`, and `on_streets` (False when a
    piece could not be traced along the streets and is drawn straight; never an exception for that).
    """
    pts = [p if isinstance(p, SnappedPoint) else None for p in stops]
    raw = [p for p in stops if not isinstance(p, SnappedPoint)]
    if raw:
        it = iter(snap_many(net, raw))  # type: ignore[arg-type]
        pts = [p if p is not None else next(it) for p in pts]
    features = []
    for i, (a, b) in enumerate(itertools.pairwise(pts)):
        coords, t, d, complete = _leg(net, a, b)  # type: ignore[arg-type]
        features.append({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": coords},
            "properties": {"leg": i, "travel_time_s": round(t, 3), "distance_m": round(d, 1),
                           "on_streets": complete},
        })
    return {"type": "FeatureCollection", "features": features}
