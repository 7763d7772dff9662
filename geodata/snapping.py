"""Snap points to the nearest drivable edge (not node), keeping the along-edge offsets.

A snapped point sits at a fraction of an edge; leaving it costs the rest of that edge (or of
its reverse twin on a two-way road), reaching it costs the part before it. The straight
leg from the raw point to the kerb is priced at `NetworkConfig.access_speed_kmh`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely

from geodata.errors import InvalidCoordinatesError, OutsideServiceAreaError, TooFarFromRoadError
from geodata.network import StreetNetwork
from geodata.projection import check_lat_lon

# (node index, time_ms, dist_dm) — a way out of / into the snapped point along its edge.
Link = tuple[int, int, int]


@dataclass(frozen=True)
class SnappedPoint:
    """A point on the network. Offsets are `snap_distance_m` (point→road) and along-edge links."""

    lat: float
    lon: float
    snapped_lat: float
    snapped_lon: float
    snap_distance_m: float
    edge: int
    fraction: float
    street: str
    exits: tuple[Link, ...]
    entries: tuple[Link, ...]
    on_edges: tuple[tuple[int, float], ...]  # (directed edge id, fraction along it)
    access_time_ms: int
    access_dist_dm: int

    @property
    def access_time_s(self) -> float:
        """Time for the off-road leg between the raw point and the road (s)."""
        return self.access_time_ms / 1000.0


NODE_EPS_M = 1.0  # a point this close to an edge's end node may also leave/arrive through that node


def _links(
    net: StreetNetwork, edge: int, frac: float
) -> tuple[tuple[Link, ...], tuple[Link, ...], tuple[tuple[int, float], ...]]:
    t, d = int(net.edge_time_ms[edge]), int(net.edge_dist_dm[edge])
    u, v = int(net.edge_u[edge]), int(net.edge_v[edge])
    exits = [(v, round((1 - frac) * t), round((1 - frac) * d))]
    entries = [(u, round(frac * t), round(frac * d))]
    on = [(edge, frac)]
    twin = int(net.edge_twin[edge])
    if twin >= 0:
        tt, td = int(net.edge_time_ms[twin]), int(net.edge_dist_dm[twin])
        exits.append((u, round(frac * tt), round(frac * td)))
        entries.append((v, round((1 - frac) * tt), round((1 - frac) * td)))
        on.append((twin, 1.0 - frac))
    length = float(net.edge_len_xy[edge])
    for node, off_m in ((u, frac * length), (v, (1 - frac) * length)):
        if off_m <= NODE_EPS_M:  # at a junction: any road through it serves the point
            exits.append((node, 0, 0))
            entries.append((node, 0, 0))
    return tuple(exits), tuple(entries), tuple(on)


def snap_many(net: StreetNetwork, coords: Sequence[tuple[float, float]]) -> list[SnappedPoint]:
    """Snap (lat, lon) pairs; raises a GeodataError naming the first bad point and why."""
    if len(coords) == 0:
        return []
    checked = []
    for i, pair in enumerate(coords):
        try:
            lat, lon = pair
            checked.append(check_lat_lon(lat, lon))
        except (TypeError, ValueError) as exc:
            raise InvalidCoordinatesError(f"point #{i}: {exc}")
    lat_a = np.array([c[0] for c in checked])
    lon_a = np.array([c[1] for c in checked])
    x, y = net.projection.to_xy(lon_a, lat_a)
    pts = shapely.points(x, y)
    inside = shapely.contains(net.service_area_xy, pts)
    if not inside.all():
        i = int(np.argmin(inside))
        raise OutsideServiceAreaError(
            f"point #{i} ({lat_a[i]:.6f}, {lon_a[i]:.6f}) is outside the service area of the street network "
            f"(check the coordinates, or load a map that covers them)"
        )
    max_d = net.config.max_snap_distance_m
    idx, dist = net.tree.query_nearest(pts, max_distance=max_d, return_distance=True, all_matches=False)
    found = np.zeros(len(pts), dtype=bool)
    found[idx[0]] = True
    if not found.all():
        i = int(np.argmin(found))
        raise TooFarFromRoadError(
            f"point #{i} ({lat_a[i]:.6f}, {lon_a[i]:.6f}) is more than {max_d:.0f} m from any drivable road; "
            "move it to the nearest street or raise max_snap_distance_m"
        )
    piece_of = np.empty(len(pts), dtype=np.int64)
    piece_of[idx[0]] = idx[1]
    dist_of = np.empty(len(pts))
    dist_of[idx[0]] = dist
    edges = net.piece_edge[piece_of]
    lines = net.edge_lines_xy[edges]
    along = shapely.line_locate_point(lines, pts)
    snapped = shapely.line_interpolate_point(lines, along)
    sx, sy = shapely.get_x(snapped), shapely.get_y(snapped)
    slon, slat = net.projection.to_lonlat(sx, sy)
    lengths = net.edge_len_xy[edges]
    fracs = np.clip(np.divide(along, lengths, out=np.zeros_like(along), where=lengths > 0), 0.0, 1.0)
    access_mps = net.config.access_speed_kmh / 3.6
    out = []
    for i in range(len(pts)):
        e = int(edges[i])
        exits, entries, on = _links(net, e, float(fracs[i]))
        out.append(SnappedPoint(
            lat=float(lat_a[i]), lon=float(lon_a[i]), snapped_lat=float(slat[i]), snapped_lon=float(slon[i]),
            snap_distance_m=float(dist_of[i]), edge=e, fraction=float(fracs[i]), street=net.edge_name[e],
            exits=exits, entries=entries, on_edges=on,
            access_time_ms=round(dist_of[i] / access_mps * 1000), access_dist_dm=round(dist_of[i] * 10),
        ))
    return out


def snap(net: StreetNetwork, lat: float, lon: float) -> SnappedPoint:
    """Snap one point to its nearest drivable edge, or raise why it cannot be served."""
    return snap_many(net, [(lat, lon)])[0]
