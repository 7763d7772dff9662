"""Many-to-many travel time (s) and distance (m) with scipy.sparse.csgraph.dijkstra.

Each point enters the graph as a virtual node whose out-links are its along-edge exits; one
Dijkstra per source then gives the fastest time and that route's length to every node.
`MatrixCache` keeps a matrix keyed by location, so a new job costs one forward search (new →
all) and one backward search on the reversed graph (all → new), not a new matrix.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geodata.network import StreetNetwork, pack, unpack
from geodata.snapping import Link, SnappedPoint, snap_many


@dataclass(frozen=True)
class TravelMatrix:
    """`travel_time_s[i, j]` and `distance_m[i, j]` from point i to point j (inf if unreachable)."""

    points: list[SnappedPoint]
    travel_time_s: NDArray[np.float64]
    distance_m: NDArray[np.float64]


def extended_csr(base: csr_matrix, links: Sequence[Sequence[Link]]) -> csr_matrix:
    """`base` plus one virtual node per link list, with edges virtual→node (min over duplicates)."""
    n, k = base.shape[0], len(links)
    cols: list[int] = []
    data: list[float] = []
    counts = np.zeros(k, dtype=np.int64)
    for i, row in enumerate(links):
        best: dict[int, float] = {}
        for node, t_ms, d_dm in row:
            w = max(1.0, float(pack(t_ms, d_dm)))  # an explicit 0 would read as "no edge"
            if w < best.get(node, np.inf):
                best[node] = w
        for node in sorted(best):
            cols.append(node)
            data.append(best[node])
        counts[i] = len(best)
    indptr = np.concatenate([base.indptr, base.indptr[-1] + np.cumsum(counts)])
    indices = np.concatenate([base.indices, np.array(cols, dtype=base.indices.dtype)])
    values = np.concatenate([base.data, np.array(data, dtype=np.float64)])
    return csr_matrix((values, indices, indptr), shape=(n + k, n + k))


def _node_costs(base: csr_matrix, links: Sequence[Sequence[Link]]) -> NDArray[np.float64]:
    """Packed cost from each link list's virtual node to every base node (k × n)."""
    if not links:
        return np.zeros((0, base.shape[0]))
    n = base.shape[0]
    graph = extended_csr(base, links)
    dist = dijkstra(graph, directed=True, indices=np.arange(n, n + len(links)))
    return np.atleast_2d(dist)[:, :n]


def _reduce(costs: NDArray[np.float64], links: Sequence[Sequence[Link]]) -> NDArray[np.float64]:
    """For rows of node costs, the min over each point's links of (cost to node + link cost): (rows × m)."""
    m = len(links)
    width = max((len(lk) for lk in links), default=0)
    nodes = np.zeros((m, width), dtype=np.int64)
    extra = np.full((m, width), np.inf)
    for j, lk in enumerate(links):
        for c, (node, t_ms, d_dm) in enumerate(lk):
            nodes[j, c] = node
            extra[j, c] = pack(t_ms, d_dm)
    out = np.full((costs.shape[0], m), np.inf)
    for c in range(width):
        np.minimum(out, costs[:, nodes[:, c]] + extra[:, c], out=out)
    return out


def _finish(
    net: StreetNetwork, w: NDArray[np.float64], sources: Sequence[SnappedPoint], targets: Sequence[SnappedPoint]
) -> NDArray[np.float64]:
    """Apply same-edge shortcuts, off-road access legs and zero for identical locations (in place)."""
    by_edge: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for j, p in enumerate(targets):
        for e, f in p.on_edges:
            by_edge[e].append((j, f))
    for i, p in enumerate(sources):
        for e, fi in p.on_edges:
            for j, fj in by_edge.get(e, ()):
                if fj >= fi:
                    direct = pack(round((fj - fi) * net.edge_time_ms[e]), round((fj - fi) * net.edge_dist_dm[e]))
                    w[i, j] = min(w[i, j], direct)
    acc_s = pack([p.access_time_ms for p in sources], [p.access_dist_dm for p in sources])
    acc_t = pack([p.access_time_ms for p in targets], [p.access_dist_dm for p in targets])
    w += acc_s[:, None] + acc_t[None, :]
    key_s = [(p.lat, p.lon) for p in sources]
    pos_t = defaultdict(list)
    for j, p in enumerate(targets):
        pos_t[(p.lat, p.lon)].append(j)
    for i, key in enumerate(key_s):
        for j in pos_t.get(key, ()):
            w[i, j] = 0.0
    return w


def packed_matrix(
    net: StreetNetwork, sources: Sequence[SnappedPoint], targets: Sequence[SnappedPoint]
) -> NDArray[np.float64]:
    """Packed weights sources × targets (one forward search per source)."""
    costs = _node_costs(net.csr, [p.exits for p in sources])
    w = _reduce(costs, [p.entries for p in targets])
    return _finish(net, w, sources, targets)


def packed_matrix_backward(
    net: StreetNetwork, sources: Sequence[SnappedPoint], targets: Sequence[SnappedPoint]
) -> NDArray[np.float64]:
    """Same as `packed_matrix`, but one backward search per *target* (cheap when targets are few)."""
    costs = _node_costs(net.csr_rev, [p.entries for p in targets])  # (m × n): node → target
    w = _reduce(costs, [p.exits for p in sources]).T
    return _finish(net, np.ascontiguousarray(w), sources, targets)


def travel_time_matrix(
    net: StreetNetwork, points: Sequence[tuple[float, float]] | Sequence[SnappedPoint]
) -> TravelMatrix:
    """Travel time (s) and distance (m) between every ordered pair of (lat, lon) points."""
    snapped = [p if isinstance(p, SnappedPoint) else None for p in points]
    raw = [p for p in points if not isinstance(p, SnappedPoint)]
    if raw:
        it = iter(snap_many(net, raw))  # type: ignore[arg-type]
        snapped = [p if p is not None else next(it) for p in snapped]
    pts: list[SnappedPoint] = snapped  # type: ignore[assignment]
    t, d = unpack(packed_matrix(net, pts, pts))
    return TravelMatrix(pts, t, d)


class MatrixCache:
    """A growing travel-time matrix keyed by (lat, lon) rounded to `precision` decimals (~0.1 m at 6)."""

    def __init__(self, net: StreetNetwork, precision: int = 6) -> None:
        self.net = net
        self.precision = precision
        self.points: list[SnappedPoint] = []
        self._index: dict[tuple[float, float], int] = {}
        self._w = np.zeros((0, 0))

    def __len__(self) -> int:
        return len(self.points)

    def key(self, lat: float, lon: float) -> tuple[float, float]:
        return (round(float(lat), self.precision), round(float(lon), self.precision))

    def __contains__(self, latlon: tuple[float, float]) -> bool:
        return self.key(*latlon) in self._index

    def add(self, lat: float, lon: float) -> int:
        """Index of the point, computing its row and column if new (one forward + one backward search)."""
        return self.add_many([(lat, lon)])[0]

    def add_many(self, coords: Sequence[tuple[float, float]]) -> list[int]:
        """Indices of the points; new ones are snapped (errors name the bad point) and searched once each way."""
        keys = [self.key(lat, lon) for lat, lon in coords]
        new_keys = list(dict.fromkeys(k for k in keys if k not in self._index))
        if new_keys:
            new = snap_many(self.net, new_keys)
            old = self.points
            n_old, n_new = len(old), len(new)
            w = np.empty((n_old + n_new, n_old + n_new))
            w[:n_old, :n_old] = self._w
            w[n_old:, :] = packed_matrix(self.net, new, old + new)  # forward: new → everything
            if n_old:
                w[:n_old, n_old:] = packed_matrix_backward(self.net, old, new)  # backward: old → new
            self._w = w
            for k, p in zip(new_keys, new, strict=True):
                self._index[k] = len(self.points)
                self.points.append(p)
        return [self._index[k] for k in keys]

    def matrix(self, coords: Sequence[tuple[float, float]] | None = None) -> TravelMatrix:
        """The matrix for `coords` in that order (adding any missing), or for every cached point."""
        idx = list(range(len(self.points))) if coords is None else self.add_many(coords)
        sub = self._w[np.ix_(idx, idx)]
        t, d = unpack(sub)
        return TravelMatrix([self.points[i] for i in idx], t, d)

    def travel_time_s(self, a: tuple[float, float], b: tuple[float, float]) -> float:
        """Travel time (s) from a to b, both (lat, lon)."""
        i, j = self.add_many([a, b])
        return float(unpack(self._w[i, j])[0])
