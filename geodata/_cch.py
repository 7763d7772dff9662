"""Private: customizable contraction hierarchies (CCH) on the packed travel weights.

RoutingKit (PyPI `pyroutingkit`) computes the nested-dissection node order (inertial flow); the
contraction, the customization and the queries run here in numba on *int64 packed weights*
(`time_ms * 2**24 + distance_dm`, see `geodata.network.pack`), so a query gives exactly what a
Dijkstra on the same packed weights gives: the fastest time and, among the fastest routes, the
shortest length. (RoutingKit's own metric holds uint32 weights, room for the time alone.)

Everything is in *rank space*: node `x` here is the node of rank `x`; upward = higher rank. The
upward search space of a node is its chain of ancestors in the elimination tree, so a search is a
walk up that chain and a many-to-many matrix is a join of forward and backward spaces over buckets.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba as nb
import numpy as np
from numba import types
from numba.typed import List
from numpy.typing import NDArray

INF = np.int64(2**61)  # unreachable; two of them still add up without overflow


def rk_available() -> bool:
    """True if pyroutingkit (the node ordering) can be imported."""
    try:
        import pyroutingkit  # noqa: F401
    except ImportError:
        return False
    return True


def node_order(
    tail: NDArray[np.int64], head: NDArray[np.int64], lat: NDArray[np.float64], lon: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Contraction order (node ids, first contracted first) from RoutingKit's inertial-flow nested dissection."""
    import pyroutingkit

    n = len(lat)
    topo = pyroutingkit.CCHTopology()
    topo.build(tail.astype(np.uint32), head.astype(np.uint32), lat.astype(np.float32), lon.astype(np.float32), n)
    # The order is not exposed as an attribute; `save` writes each topology vector as raw uint32.
    with tempfile.TemporaryDirectory(prefix="geodata-cch-") as tmp:
        topo.save(tmp)
        order = np.fromfile(Path(tmp) / "order", dtype="<u4").astype(np.int64)
    if len(order) != n or not np.array_equal(np.sort(order), np.arange(n)):
        raise RuntimeError(f"pyroutingkit returned no valid node order ({len(order)} entries for {n} nodes)")
    return order


# ---- contraction ----------------------------------------------------------------------------------
@nb.njit(cache=True)
def _merge_tail(a: Any, b: Any) -> Any:
    """Sorted union of sorted unique `a` and `b[1:]`."""
    out = np.empty(len(a) + len(b) - 1, dtype=np.int64)
    i, j, k = 0, 1, 0
    while i < len(a) or j < len(b):
        if j >= len(b) or (i < len(a) and a[i] < b[j]):
            v = a[i]
            i += 1
        elif i >= len(a) or b[j] < a[i]:
            v = b[j]
            j += 1
        else:
            v = a[i]
            i += 1
            j += 1
        out[k] = v
        k += 1
    return out[:k]


@nb.njit(cache=True)
def _contract(n: int, ru: Any, rv: Any) -> tuple[Any, Any, Any]:
    """Chordal supergraph of the (undirected) graph in rank space: (first_out, head, parent)."""
    # Upward neighbours of each node from the input arcs, sorted and unique.
    lo = np.minimum(ru, rv)
    hi = np.maximum(ru, rv)
    order = np.argsort(lo * n + hi)
    ups = List.empty_list(types.int64[::1])
    start = 0
    m = len(order)
    for x in range(n):
        buf = np.empty(0, dtype=np.int64)
        end = start
        while end < m and lo[order[end]] == x:
            end += 1
        if end > start:
            cand = hi[order[start:end]]
            keep = np.ones(len(cand), dtype=np.bool_)
            for i in range(len(cand)):
                if cand[i] == x or (i > 0 and cand[i] == cand[i - 1]):
                    keep[i] = False
            buf = cand[keep].copy()
        ups.append(buf)
        start = end
    parent = np.full(n, -1, dtype=np.int64)
    for x in range(n):
        nbrs = ups[x]
        if len(nbrs) == 0:
            continue
        p = nbrs[0]
        parent[x] = p
        if len(nbrs) > 1:
            ups[p] = _merge_tail(ups[p], nbrs)
    first_out = np.zeros(n + 1, dtype=np.int64)
    for x in range(n):
        first_out[x + 1] = first_out[x] + len(ups[x])
    head = np.empty(first_out[n], dtype=np.int64)
    for x in range(n):
        head[first_out[x] : first_out[x + 1]] = ups[x]
    return first_out, head, parent


@nb.njit(cache=True)
def _find_arc(first_out: Any, head: Any, x: int, y: int) -> int:
    lo, hi = first_out[x], first_out[x + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if head[mid] < y:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < first_out[x + 1] and head[lo] == y else -1


@nb.njit(cache=True)
def _customize(first_out: Any, head: Any, ru: Any, rv: Any, w: Any) -> tuple[Any, Any]:
    """Per CCH arc (x, y), x < y: `up` = cost x → y and `down` = cost y → x (basic customization)."""
    m = len(head)
    up = np.full(m, INF, dtype=np.int64)
    down = np.full(m, INF, dtype=np.int64)
    for e in range(len(ru)):
        a, b = ru[e], rv[e]
        if a < b:
            arc = _find_arc(first_out, head, a, b)
            if w[e] < up[arc]:
                up[arc] = w[e]
        elif b < a:
            arc = _find_arc(first_out, head, b, a)
            if w[e] < down[arc]:
                down[arc] = w[e]
    n = len(first_out) - 1
    for x in range(n):  # lower triangles (x, y, z), x lowest: x's arcs are final when x comes
        for i in range(first_out[x], first_out[x + 1]):
            y = head[i]
            for j in range(i + 1, first_out[x + 1]):
                z = head[j]
                yz = _find_arc(first_out, head, y, z)
                via = down[i] + up[j]  # y → x → z
                if via < up[yz]:
                    up[yz] = via
                via = down[j] + up[i]  # z → x → y
                if via < down[yz]:
                    down[yz] = via
    return up, down


# ---- queries ----------------------------------------------------------------------------------------
@nb.njit(cache=True)
def _spaces(first_out: Any, head: Any, parent: Any, weight: Any, offsets: Any, nodes: Any, costs: Any,
            dist: Any, mark: Any) -> tuple[Any, Any, Any]:
    """Upward search from each group of start nodes (rank space, with start costs): for group g the nodes
    reached and their cost, as (space_offsets, space_nodes, space_costs). `dist`/`mark` are scratch (n)."""
    k = len(offsets) - 1
    out_off = np.zeros(k + 1, dtype=np.int64)
    chunks_n = List.empty_list(types.int64[::1])
    chunks_c = List.empty_list(types.int64[::1])
    buf = np.empty(64, dtype=np.int64)
    for g in range(k):
        cnt = 0
        for s in range(offsets[g], offsets[g + 1]):
            x = nodes[s]
            while x >= 0 and not mark[x]:
                mark[x] = True
                if cnt == len(buf):
                    nbuf = np.empty(2 * len(buf), dtype=np.int64)
                    nbuf[:cnt] = buf[:cnt]
                    buf = nbuf
                buf[cnt] = x
                cnt += 1
                x = parent[x]
            if costs[s] < dist[nodes[s]]:
                dist[nodes[s]] = costs[s]
        chain = np.sort(buf[:cnt])
        for x in chain:
            d = dist[x]
            if d >= INF:
                continue
            for a in range(first_out[x], first_out[x + 1]):
                nd = d + weight[a]
                if nd < dist[head[a]]:
                    dist[head[a]] = nd
        keep = 0
        for x in chain:
            if dist[x] < INF:
                keep += 1
        cn = np.empty(keep, dtype=np.int64)
        cc = np.empty(keep, dtype=np.int64)
        keep = 0
        for x in chain:
            if dist[x] < INF:
                cn[keep] = x
                cc[keep] = dist[x]
                keep += 1
            dist[x] = INF
            mark[x] = False
        chunks_n.append(cn)
        chunks_c.append(cc)
        out_off[g + 1] = out_off[g] + keep
    all_n = np.empty(out_off[k], dtype=np.int64)
    all_c = np.empty(out_off[k], dtype=np.int64)
    for g in range(k):
        all_n[out_off[g] : out_off[g + 1]] = chunks_n[g]
        all_c[out_off[g] : out_off[g + 1]] = chunks_c[g]
    return out_off, all_n, all_c


@nb.njit(cache=True)
def _buckets(n: int, offsets: Any, nodes: Any, costs: Any) -> tuple[Any, Any, Any]:
    """Invert backward spaces into per-node buckets of (target, cost)."""
    count = np.zeros(n + 1, dtype=np.int64)
    for i in range(len(nodes)):
        count[nodes[i] + 1] += 1
    first = np.cumsum(count)
    fill = first[:-1].copy()
    tgt = np.empty(len(nodes), dtype=np.int64)
    cst = np.empty(len(nodes), dtype=np.int64)
    for g in range(len(offsets) - 1):
        for i in range(offsets[g], offsets[g + 1]):
            v = nodes[i]
            tgt[fill[v]] = g
            cst[fill[v]] = costs[i]
            fill[v] += 1
    return first, tgt, cst


@nb.njit(cache=True)
def _join(m: int, f_off: Any, f_nodes: Any, f_costs: Any, b_first: Any, b_tgt: Any, b_cost: Any) -> Any:
    """out[i, j] = min over nodes v in both spaces of forward(i, v) + backward(v, j).

    Serial on purpose: numba's parallel layers are not fork-safe (omp) or thread-safe (workqueue), and the
    server calls this from worker threads and forked workers."""
    k = len(f_off) - 1
    out = np.full((k, m), INF, dtype=np.int64)
    for i in range(k):
        row = out[i]
        for s in range(f_off[i], f_off[i + 1]):
            v = f_nodes[s]
            f = f_costs[s]
            for b in range(b_first[v], b_first[v + 1]):
                c = f + b_cost[b]
                j = b_tgt[b]
                if c < row[j]:
                    row[j] = c
    return out


@dataclass
class Spaces:
    """Upward search spaces of a list of points (rank space), one group per point."""

    offsets: NDArray[np.int64]
    nodes: NDArray[np.int64]
    costs: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @staticmethod
    def concat(parts: list[Spaces]) -> Spaces:
        parts = [p for p in parts if len(p)]
        if not parts:
            return Spaces(np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
        shift = np.cumsum([0] + [len(p.nodes) for p in parts[:-1]])
        off = np.concatenate([parts[0].offsets[:1]] + [p.offsets[1:] + s for p, s in zip(parts, shift, strict=True)])
        return Spaces(off, np.concatenate([p.nodes for p in parts]), np.concatenate([p.costs for p in parts]))


class CCH:
    """Contraction (from a node order) and customization of one directed graph with int64 packed weights."""

    def __init__(self, n: int, tail: NDArray[np.int64], head: NDArray[np.int64], weight: NDArray[np.int64],
                 order: NDArray[np.int64]) -> None:
        self.n = n
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n, dtype=np.int64)
        self.rank = rank
        ru, rv = rank[tail], rank[head]
        self.first_out, self.head, self.parent = _contract(n, ru, rv)
        self.up, self.down = _customize(self.first_out, self.head, ru, rv, weight.astype(np.int64))

    @property
    def n_arcs(self) -> int:
        return len(self.head)

    def spaces(self, links: list[list[tuple[int, int]]], forward: bool) -> Spaces:
        """Search spaces from each list of (node, packed start cost); forward = away from the node."""
        offsets = np.zeros(len(links) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(lk) for lk in links])
        nodes = np.array([node for lk in links for node, _ in lk], dtype=np.int64)
        costs = np.array([c for lk in links for _, c in lk], dtype=np.int64)
        dist = np.full(self.n, INF, dtype=np.int64)
        mark = np.zeros(self.n, dtype=np.bool_)
        off, sn, sc = _spaces(self.first_out, self.head, self.parent, self.up if forward else self.down,
                              offsets, self.rank[nodes], costs, dist, mark)
        return Spaces(off, sn, sc)

    def join(self, fwd: Spaces, bwd: Spaces) -> NDArray[np.int64]:
        """Packed cost (int64, INF if unreachable) from each forward group to each backward group."""
        if len(fwd) == 0 or len(bwd) == 0:
            return np.full((len(fwd), len(bwd)), INF, dtype=np.int64)
        first, tgt, cst = _buckets(self.n, bwd.offsets, bwd.nodes, bwd.costs)
        return _join(len(bwd), fwd.offsets, fwd.nodes, fwd.costs, first, tgt, cst)
