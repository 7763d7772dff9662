"""Many-to-many travel time (s) and distance (m): contraction hierarchies, or Dijkstra as the reference.

Both engines minimise the same packed weight (`geodata.network.pack`: time first, then length), so
they give identical answers:

- `"cch"` (default when `pyroutingkit` is installed): customizable contraction hierarchies
  (`geodata._cch`). Each point's exits start one upward search, its entries one backward search;
  a matrix is a join of those search spaces (about 0.2 s for 1000×1000 on a 53k-node metro graph).
- `"dijkstra"`: each point enters the graph as a virtual node whose out-links are its along-edge
  exits; one `scipy.sparse.csgraph.dijkstra` per source gives the cost to every node.

`MatrixCache` keeps a matrix keyed by location, so a new job costs one forward and one backward
search (kept, for CCH, so later points join against them), not a new matrix.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from geodata._cch import INF, Spaces
from geodata.errors import GeodataError
from geodata.network import StreetNetwork, pack, unpack
from geodata.snapping import Link, SnappedPoint, snap_many

ENGINES = ("auto", "cch", "dijkstra")


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
            w = float(pack(t_ms, d_dm))  # an explicit 0 stays an edge (csgraph keeps stored zeros)
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


def resolve_engine(net: StreetNetwork, engine: str | None) -> str:
    """`"cch"` or `"dijkstra"` for a requested engine (None/"auto": CCH when pyroutingkit is installed)."""
    engine = engine or "auto"
    if engine not in ENGINES:
        raise ValueError(f"unknown travel-time engine {engine!r}; use one of {', '.join(ENGINES)}")
    if engine == "dijkstra":
        return engine
    if net.cch is None:
        if engine == "cch":
            raise GeodataError("the 'cch' travel-time engine needs the pyroutingkit package (pip install "
                               "pyroutingkit); without it, use engine='dijkstra'")
        return "dijkstra"
    return "cch"


def _cch_links(links: Sequence[Sequence[Link]]) -> list[list[tuple[int, int]]]:
    """Link lists as (node, packed int cost) — the integer twin of `pack`."""
    return [[(node, (int(t_ms) << 24) + int(d_dm)) for node, t_ms, d_dm in row] for row in links]


def _from_int(w: NDArray[np.int64]) -> NDArray[np.float64]:
    """Packed int64 costs (INF = unreachable) as the packed float64 the Dijkstra engine gives (exact < 2**53)."""
    out = w.astype(np.float64)
    out[w >= INF] = np.inf
    return out


def forward_spaces(net: StreetNetwork, points: Sequence[SnappedPoint]) -> Spaces:
    """CCH upward search spaces leaving each point (from its exits)."""
    return net.cch.spaces(_cch_links([p.exits for p in points]), forward=True)


def backward_spaces(net: StreetNetwork, points: Sequence[SnappedPoint]) -> Spaces:
    """CCH upward search spaces on the reversed graph, arriving at each point (from its entries)."""
    return net.cch.spaces(_cch_links([p.entries for p in points]), forward=False)


def packed_matrix(
    net: StreetNetwork, sources: Sequence[SnappedPoint], targets: Sequence[SnappedPoint],
    engine: str | None = None,
) -> NDArray[np.float64]:
    """Packed weights sources × targets (Dijkstra: one forward search per source)."""
    if resolve_engine(net, engine) == "cch":
        w = _from_int(net.cch.join(forward_spaces(net, sources), backward_spaces(net, targets)))
        return _finish(net, w, sources, targets)
    costs = _node_costs(net.csr, [p.exits for p in sources])
    w = _reduce(costs, [p.entries for p in targets])
    return _finish(net, w, sources, targets)


def packed_matrix_backward(
    net: StreetNetwork, sources: Sequence[SnappedPoint], targets: Sequence[SnappedPoint]
) -> NDArray[np.float64]:
    """Same as `packed_matrix` on Dijkstra, but one backward search per *target* (cheap when targets are few)."""
    costs = _node_costs(net.csr_rev, [p.entries for p in targets])  # (m × n): node → target
    w = _reduce(costs, [p.exits for p in sources]).T
    return _finish(net, np.ascontiguousarray(w), sources, targets)


def travel_time_matrix(
    net: StreetNetwork, points: Sequence[tuple[float, float]] | Sequence[SnappedPoint], engine: str | None = None
) -> TravelMatrix:
    """Travel time (s) and distance (m) between every ordered pair of (lat, lon) points.

    `engine`: "auto" (default: CCH if pyroutingkit is installed, else Dijkstra), "cch" or "dijkstra";
    all give the same numbers."""
    snapped = [p if isinstance(p, SnappedPoint) else None for p in points]
    raw = [p for p in points if not isinstance(p, SnappedPoint)]
    if raw:
        it = iter(snap_many(net, raw))  # type: ignore[arg-type]
        snapped = [p if p is not None else next(it) for p in snapped]
    pts: list[SnappedPoint] = snapped  # type: ignore[assignment]
    t, d = unpack(packed_matrix(net, pts, pts, engine))
    return TravelMatrix(pts, t, d)


#: Spare rows and columns a MatrixCache allocates when it grows (~20% over 5,000 points, 4 MB per 1,000 at 512):
#: one point added to a 5,500-point cache copied the whole 242 MB matrix (0.24 s) before.
GROW_ROWS = 512


class MatrixCache:
    """A growing travel-time matrix keyed by (lat, lon) rounded to `precision` decimals (~0.1 m at 6).

    Each new point costs one forward and one backward search. With the CCH engine the cache keeps
    every point's two search spaces (a few hundred nodes each), and a new point's row and column are
    joins against them — no search is repeated for the points already there."""

    def __init__(self, net: StreetNetwork, precision: int = 6, engine: str | None = None) -> None:
        self.net = net
        self.precision = precision
        self.engine = resolve_engine(net, engine)
        self.points: list[SnappedPoint] = []
        self._index: dict[tuple[float, float], int] = {}
        self._buf = np.zeros((0, 0))  # packed weights, room for GROW_ROWS more points than cached
        self._w = self._buf[:0, :0]  # the cached points' block of _buf (a view)
        self._fwd: Spaces | None = None  # CCH: search spaces of every cached point, in order
        self._bwd: Spaces | None = None
        self.searches = 0  # searches run so far (one forward + one backward per new point)

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
            n = n_old + n_new
            if n > self._buf.shape[0]:  # grown in steps: copying an N x N matrix for each new point is O(N^2)
                buf = np.empty((n + GROW_ROWS, n + GROW_ROWS))
                buf[:n_old, :n_old] = self._w
                self._buf = buf
            w = self._buf[:n, :n]
            if self.engine == "cch":
                cch = self.net.cch
                fwd, bwd = forward_spaces(self.net, new), backward_spaces(self.net, new)
                all_fwd = Spaces.concat([s for s in (self._fwd, fwd) if s is not None])
                all_bwd = Spaces.concat([s for s in (self._bwd, bwd) if s is not None])
                w[n_old:, :] = _finish(self.net, _from_int(cch.join(fwd, all_bwd)), new, old + new)
                if n_old:
                    assert self._fwd is not None
                    w[:n_old, n_old:] = _finish(self.net, _from_int(cch.join(self._fwd, bwd)), old, new)
                self._fwd, self._bwd = all_fwd, all_bwd
            else:
                w[n_old:, :] = packed_matrix(self.net, new, old + new, "dijkstra")  # forward: new → everything
                if n_old:
                    w[:n_old, n_old:] = packed_matrix_backward(self.net, old, new)  # backward: old → new
            self.searches += 2 * n_new
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
