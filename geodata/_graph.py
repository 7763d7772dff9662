"""Private: the drivable graph straight from the OSM scan to flat arrays, without networkx.

It reproduces, step by step, what `osmnx.graph_from_xml(bidirectional=False, simplify=True,
retain_all=True)`, `add_edge_speeds`, `add_edge_travel_times` and `largest_component(strongly=True)`
give for the same ways — the same nodes, edges, lengths, speeds and travel times (tests compare)
— in a few seconds and a fraction of the memory (osmnx holds every OSM vertex as a networkx node
with attribute dicts, then copies the graph twice). Where osmnx keeps a *set* of differing values
on a merged edge (`highway`, `name`, `maxspeed`), the same set is built here in the same order, so
its first element is the same within one process.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from osmnx.distance import great_circle
from osmnx.routing import _clean_maxspeed, _collapse_multiple_maxspeed_values
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geodata._osm import OsmScan
from geodata.config import NetworkConfig
from geodata.errors import NoDrivableRoadsError

ONEWAY_VALUES = frozenset({"yes", "true", "1", "-1", "reverse", "T", "F"})  # osmnx graph._add_paths
REVERSED_VALUES = frozenset({"-1", "reverse", "T"})


@dataclass
class FlatGraph:
    """A prepared drivable graph as arrays (node indices into `node_*`), like `StreetNetwork`'s inputs."""

    node_osmid: NDArray[np.int64]
    node_lon: NDArray[np.float64]
    node_lat: NDArray[np.float64]
    edge_u: NDArray[np.int64]
    edge_v: NDArray[np.int64]
    edge_time_ms: NDArray[np.int64]
    edge_dist_dm: NDArray[np.int64]
    edge_name: list[str]
    edge_highway: list[str]
    edge_oneway: NDArray[np.bool_]
    coord_offsets: NDArray[np.int64]
    coords: NDArray[np.float64]
    dropped_nodes: int
    dropped_edges: int


def _collapse(values: list[Any]) -> Any:
    """osmnx simplify_graph's rule for a merged edge's attribute: one value, or the list of the distinct ones."""
    return values[0] if len(set(values)) == 1 else list(set(values))


def _first(value: Any) -> str:
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None else str(value)


def _endpoints(u: NDArray[np.int64], v: NDArray[np.int64], n: int, alive: NDArray[np.bool_]) -> NDArray[np.bool_]:
    """osmnx `_is_endpoint` for every node at once: a self-loop, no way in or no way out, or not exactly two
    neighbours with 2 or 4 directed edges. Only `alive` nodes can be endpoints."""
    out_deg, in_deg = np.bincount(u, minlength=n), np.bincount(v, minlength=n)
    deg = out_deg + in_deg
    pairs = np.sort(np.concatenate([u * n + v, v * n + u]))  # distinct (node, neighbour) pairs, sorted
    pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])] if len(pairs) else pairs
    neighbours = np.bincount(pairs // n, minlength=n)
    loop = np.zeros(n, dtype=bool)
    loop[u[u == v]] = True
    return alive & (loop | (out_deg == 0) | (in_deg == 0) | ~((neighbours == 2) & ((deg == 2) | (deg == 4))))


def _adjacency(u: NDArray[np.int64], v: NDArray[np.int64], n: int) -> tuple[Any, Any, Any]:
    """Distinct successors of each node in order of their first segment (networkx's adjacency order), with
    that segment's index: (ptr, successor, segment), CSR-style."""
    uniq, first = np.unique(u * n + v, return_index=True)
    pu, pv = uniq // n, uniq % n
    order = np.lexsort((first, pu))
    ptr = np.zeros(n + 1, dtype=np.int64)
    ptr[1:] = np.cumsum(np.bincount(pu, minlength=n))
    return ptr, pv[order], first[order]


def flat_graph(scan: OsmScan, config: NetworkConfig, source_name: str) -> FlatGraph:
    """The prepared drivable graph of a scanned file (see the module docstring)."""
    if not scan.drivable:
        raise NoDrivableRoadsError(
            f"{source_name} has no drivable roads (highway=residential/primary/... open to cars); "
            "check that the extract covers streets, not only buildings or footpaths"
        )
    # ---- nodes (in order of first use) and segments, as osmnx._add_paths makes them ----
    index: dict[int, int] = {}
    lon_l: list[float] = []
    lat_l: list[float] = []
    for way in scan.drivable:
        for nid, lon, lat in zip(way.node_ids, way.lons, way.lats, strict=True):
            if nid not in index:
                index[nid] = len(lon_l)
                lon_l.append(lon)
                lat_l.append(lat)
    n = len(lon_l)
    # osmium's coordinates are 7-decimal fixed point divided by 1e7 (correctly rounded), exactly the floats
    # osmnx parsed back from the "%.7f" XML, so no rounding step is needed here.
    node_lon = np.array(lon_l)
    node_lat = np.array(lat_l)
    seg_u: list[int] = []
    seg_v: list[int] = []
    seg_way: list[int] = []
    way_attrs: list[tuple[Any, Any, Any, bool]] = []  # (highway, name, maxspeed, oneway); None = tag absent
    for w, way in enumerate(scan.drivable):
        tags = way.tags
        oneway_tag = tags.get("oneway")
        if tags.get("highway") in {"motorway", "motorway_link"} and oneway_tag is None:
            oneway_tag = "yes"  # implied by OSM (write_drivable_xml adds it for osmnx)
        one_way = oneway_tag in ONEWAY_VALUES or tags.get("junction") == "roundabout"
        way_attrs.append((tags.get("highway"), tags.get("name"), tags.get("maxspeed"), one_way))
        nodes = [index[k] for k, _ in itertools.groupby(way.node_ids)]
        if one_way and oneway_tag in REVERSED_VALUES:
            nodes.reverse()
        pairs = list(itertools.pairwise(nodes))
        for a, b in pairs:
            seg_u.append(a)
            seg_v.append(b)
            seg_way.append(w)
        if not one_way:
            for a, b in pairs:
                seg_u.append(b)
                seg_v.append(a)
                seg_way.append(w)
    su, sv = np.array(seg_u, dtype=np.int64), np.array(seg_v, dtype=np.int64)
    seg_len = great_circle(node_lat[su], node_lon[su], node_lat[sv], node_lon[sv])
    seg_len[np.isnan(seg_len)] = 0

    # ---- simplify (osmnx.simplification.simplify_graph) ----
    endpoint = _endpoints(su, sv, n, np.ones(n, dtype=bool))
    ptr_a, succ_a, seg_a = _adjacency(su, sv, n)
    ptr, succ_v = ptr_a.tolist(), succ_a.tolist()

    def successors(x: int) -> list[int]:
        return succ_v[ptr[x] : ptr[x + 1]]

    paths: list[list[int]] = []
    for e in np.flatnonzero(endpoint).tolist():
        for first in successors(e):
            if endpoint[first]:
                continue
            path = [e, first]
            on_path = {e, first}
            for nxt in successors(first):
                if nxt in on_path:
                    continue
                path.append(nxt)
                on_path.add(nxt)
                cur = nxt
                while not endpoint[cur]:
                    options = [k for k in successors(cur) if k not in on_path]
                    if len(options) == 1:
                        cur = options[0]
                        path.append(cur)
                        on_path.add(cur)
                    elif not options:
                        if e in successors(cur):
                            path.append(e)
                        break
                    else:  # pragma: no cover - osmnx raises GraphSimplificationError here
                        raise NoDrivableRoadsError(f"{source_name}: impossible street pattern near OSM node {cur}")
                break
            paths.append(path)
    first_seg = seg_a.tolist()

    def segment(a: int, b: int) -> int:
        """The first segment a → b (osmnx reads the first of parallel edges)."""
        return first_seg[ptr[a] + succ_v[ptr[a] : ptr[a + 1]].index(b)]

    removed = np.zeros(n, dtype=bool)
    for path in paths:
        removed[path[1:-1]] = True
    # Edges: segments between kept nodes, then one per simplified path.
    kept_seg = np.flatnonzero(~removed[su] & ~removed[sv]).tolist()
    seg_len_l: list[float] = seg_len.tolist()
    e_u: list[int] = su[kept_seg].tolist()
    e_v: list[int] = sv[kept_seg].tolist()
    e_len: list[float] = [seg_len_l[s] for s in kept_seg]
    e_hw: list[Any] = [way_attrs[seg_way[s]][0] for s in kept_seg]
    e_name: list[Any] = [way_attrs[seg_way[s]][1] for s in kept_seg]
    e_speed: list[Any] = [way_attrs[seg_way[s]][2] for s in kept_seg]
    e_oneway: list[bool] = [way_attrs[seg_way[s]][3] for s in kept_seg]
    e_path: list[list[int]] = [[a, b] for a, b in zip(e_u, e_v, strict=True)]
    for path in paths:
        segs = [segment(a, b) for a, b in itertools.pairwise(path)]
        attrs = [way_attrs[seg_way[s]] for s in segs]
        e_u.append(path[0])
        e_v.append(path[-1])
        e_len.append(sum(seg_len_l[s] for s in segs))
        e_hw.append(_collapse([a[0] for a in attrs]))
        names = [a[1] for a in attrs if a[1] is not None]
        e_name.append(_collapse(names) if names else None)
        speeds = [a[2] for a in attrs if a[2] is not None]
        e_speed.append(_collapse(speeds) if speeds else None)
        e_oneway.append(bool(_collapse([a[3] for a in attrs])))
        e_path.append(path)
    eu, ev = np.array(e_u, dtype=np.int64), np.array(e_v, dtype=np.int64)

    # Rings: weakly connected parts with no endpoint (on the simplified graph) go.
    alive = ~removed
    s_end = _endpoints(eu, ev, n, alive)
    _, comp = connected_components(coo_matrix((np.ones(len(eu)), (eu, ev)), shape=(n, n)), directed=True,
                                   connection="weak")
    comp_has_end = np.zeros(comp.max() + 1, dtype=bool)
    comp_has_end[comp[s_end]] = True
    alive &= comp_has_end[comp]
    keep_e = alive[eu] & alive[ev]

    # ---- speeds and travel times (osmnx.routing.add_edge_speeds / add_edge_travel_times) ----
    hw_first = [h[0] if isinstance(h, list) else h for h in e_hw]
    any_maxspeed = any(s is not None for s in e_speed)
    if any_maxspeed:
        collapsed = [float("nan") if s is None else _collapse_multiple_maxspeed_values(s, agg=np.mean)
                     for s in e_speed]
        clean: dict[str, Any] = {}
        for c in collapsed:
            text = str(c)
            if text not in clean:
                clean[text] = _clean_maxspeed(text)
        kph = pd.Series([clean[str(c)] for c in collapsed], dtype=float)
    else:
        kph = pd.Series([np.nan] * len(e_speed), dtype=float)
    kph = kph[keep_e]  # osmnx sees the graph after ring removal
    hw_kept = pd.Series(hw_first)[keep_e]
    avg = pd.Series(dict(config.highway_speeds_kmh), dtype=float).dropna()
    for hw, group in kph.groupby(hw_kept.to_numpy()):
        if hw not in avg:
            avg.loc[hw] = np.mean(group)
    avg = avg.fillna(config.fallback_speed_kmh).fillna(np.mean(avg))
    speed = kph.to_numpy().copy()
    missing = np.isnan(speed)
    speed[missing] = avg.reindex(hw_kept.to_numpy()[missing]).to_numpy()
    length = np.array(e_len)[keep_e]
    travel_time = (length / 1000) / (speed / (60 * 60))

    # ---- largest strongly connected part (osmnx.truncate.largest_component(strongly=True)) ----
    idx_e = np.flatnonzero(keep_e)
    n0, e0 = int(alive.sum()), len(idx_e)
    _, scc = connected_components(coo_matrix((np.ones(e0), (eu[idx_e], ev[idx_e])), shape=(n, n)), directed=True,
                                  connection="strong")
    sizes = np.bincount(scc[alive])
    in_big = alive & (scc == np.argmax(sizes))
    sel = in_big[eu[idx_e]] & in_big[ev[idx_e]]
    if not sel.any():
        raise NoDrivableRoadsError("no two roads connect in both directions; the network is unusable for routing")
    final_nodes = np.flatnonzero(in_big)
    new_id = np.full(n, -1, dtype=np.int64)
    new_id[final_nodes] = np.arange(len(final_nodes))
    edges = idx_e[sel]
    osmids = np.fromiter(index.keys(), dtype=np.int64, count=n)
    offsets = np.zeros(len(edges) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(e_path[e]) for e in edges])
    flat_nodes = np.fromiter(itertools.chain.from_iterable(e_path[e] for e in edges), dtype=np.int64,
                             count=int(offsets[-1]))
    return FlatGraph(
        node_osmid=osmids[final_nodes],
        node_lon=node_lon[final_nodes],
        node_lat=node_lat[final_nodes],
        edge_u=new_id[eu[edges]],
        edge_v=new_id[ev[edges]],
        edge_time_ms=np.maximum(1, np.round(travel_time[sel] * 1000)).astype(np.int64),
        edge_dist_dm=np.maximum(1, np.round(length[sel] * 10)).astype(np.int64),
        edge_name=[_first(e_name[e]) for e in edges],
        edge_highway=[_first(e_hw[e]) for e in edges],
        edge_oneway=np.array([e_oneway[e] for e in edges], dtype=bool),
        coord_offsets=offsets,
        coords=np.column_stack([node_lon[flat_nodes], node_lat[flat_nodes]]),
        dropped_nodes=n0 - len(final_nodes),
        dropped_edges=e0 - len(edges),
    )
