"""Route geometry between consecutive stops, as GeoJSON for maps."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.sparse.csgraph import dijkstra
from shapely.ops import substring

from geodata.errors import NoRouteError
from geodata.matrix import extended_csr
from geodata.network import StreetNetwork, pack, unpack
from geodata.snapping import SnappedPoint, snap_many


def _part(net: StreetNetwork, edge: int, f0: float, f1: float) -> list[list[float]]:
    """Lon/lat vertices of edge `edge` between fractions f0 → f1 of its length."""
    line = net.edge_lines_xy[edge]
    seg = substring(line, f0, f1, normalized=True)
    xy = np.asarray(seg.coords) if not seg.is_empty else np.zeros((0, 2))
    if len(xy) == 0:
        return []
    lon, lat = net.projection.to_lonlat(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat]).tolist()


def _leg(net: StreetNetwork, a: SnappedPoint, b: SnappedPoint) -> tuple[list[list[float]], float, float]:
    """Coordinates, travel_time_s and distance_m of the fastest drive a → b (kerb to kerb)."""
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
    if direct is not None:
        e, fa, fb = direct
        coords += _part(net, e, fa, fb)
    else:
        entry_node = b.entries[best_entry][0]  # type: ignore[index]
        path = [entry_node]
        while pred[path[-1]] != n and pred[path[-1]] >= 0:
            path.append(int(pred[path[-1]]))
        path.reverse()
        exit_node = path[0]
        # Leave a along the edge whose end is the exit node.
        e_out, fa = next((e, f) for e, f in a.on_edges if net.edge_v[e] == exit_node)
        coords += _part(net, e_out, fa, 1.0)
        for u, v in itertools.pairwise(path):
            row = slice(net.csr.indptr[u], net.csr.indptr[u + 1])
            pos = net.csr.indptr[u] + int(np.searchsorted(net.csr.indices[row], v))
            coords += net.edge_coords(int(net.csr_edge[pos])).tolist()
        e_in, fb = next((e, f) for e, f in b.on_edges if net.edge_u[e] == entry_node)
        coords += _part(net, e_in, 0.0, fb)
    coords.append([b.lon, b.lat])
    w_total = best_w + pack(a.access_time_ms + b.access_time_ms, a.access_dist_dm + b.access_dist_dm)
    t, d = unpack(w_total)
    dedup = [coords[0]] + [c for p, c in zip(coords, coords[1:], strict=False) if c != p]  # noqa: RUF007
    return [[round(x, 6), round(y, 6)] for x, y in dedup], float(t), float(d)


def route_geojson(
    net: StreetNetwork, stops: Sequence[tuple[float, float]] | Sequence[SnappedPoint]
) -> dict[str, Any]:
    """FeatureCollection with one LineString per leg between consecutive (lat, lon) stops.

    Each feature's properties: `leg` (0-based), `travel_time_s`, `distance_m`.
    """
    pts = [p if isinstance(p, SnappedPoint) else None for p in stops]
    raw = [p for p in stops if not isinstance(p, SnappedPoint)]
    if raw:
        it = iter(snap_many(net, raw))  # type: ignore[arg-type]
        pts = [p if p is not None else next(it) for p in pts]
    features = []
    for i, (a, b) in enumerate(itertools.pairwise(pts)):
        coords, t, d = _leg(net, a, b)  # type: ignore[arg-type]
        features.append({
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": coords},
            "properties": {"leg": i, "travel_time_s": round(t, 3), "distance_m": round(d, 1)},
        })
    return {"type": "FeatureCollection", "features": features}
