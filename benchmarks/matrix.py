"""`groundcrew bench matrix`: csgraph travel-time matrix vs the plain networkx way, same run."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from geodata import GeodataError, load_network

NX_SAMPLE_SOURCES = 40  # networkx runs this many sources and is extrapolated to all of them


def _random_points(net: Any, n: int, seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    pts: list[tuple[float, float]] = []
    while len(pts) < n:
        i = rng.integers(net.n_nodes, size=n)
        jitter = rng.normal(0, 2e-4, size=(n, 2))
        cand = [(round(float(net.node_lat[k] + dy), 6), round(float(net.node_lon[k] + dx), 6))
                for k, (dy, dx) in zip(i, jitter, strict=True)]
        for p in cand:
            try:
                net.snap(*p)
            except GeodataError:
                continue
            pts.append(p)
            if len(pts) == n:
                break
    return pts


def run(osm: Path, points: int, seed: int = 0, cache_dir: Path | None = None) -> dict[str, Any]:
    """Time an N×N matrix (s) on the city in `osm`; progress goes to stderr."""
    cache_dir = cache_dir or Path(tempfile.gettempdir()) / "groundcrew-geodata-cache"
    t0 = time.perf_counter()
    net = load_network(Path(osm), cache_dir, progress=True)
    load_s = time.perf_counter() - t0
    pts = _random_points(net, points, seed)
    print(f"[bench] {net.n_nodes} nodes, {net.n_edges} edges; {points} points", file=sys.stderr)
    t0 = time.perf_counter()
    m = net.travel_time_matrix(pts)
    seconds = time.perf_counter() - t0
    cache = net.matrix_cache()
    cache.add_many(pts[:-1])
    t0 = time.perf_counter()
    cache.add(*pts[-1])
    add_one_s = time.perf_counter() - t0
    # The plain osmnx/networkx way: nearest node per point, one Dijkstra per source on the MultiDiGraph.
    G = net.to_networkx()
    nodes = [p.exits[0][0] for p in m.points]
    sample = min(points, NX_SAMPLE_SOURCES)
    t0 = time.perf_counter()
    targets = set(nodes)
    for s in nodes[:sample]:
        dist = nx.single_source_dijkstra_path_length(G, s, weight="travel_time")
        _ = [dist.get(t, np.inf) for t in targets]
    nx_sample_s = time.perf_counter() - t0
    nx_s = nx_sample_s * points / sample
    result: dict[str, Any] = {
        "nodes": net.n_nodes, "edges": net.n_edges, "points": points, "seconds": round(seconds, 3),
        "networkx_seconds": round(nx_s, 3),
        "speedup": round(nx_s / seconds, 1),
        "add_one_point_ms": round(add_one_s * 1000, 2),
        "load_seconds": round(load_s, 3),
        "mean_travel_time_s": round(float(np.mean(m.travel_time_s)), 1),
    }
    if sample < points:
        result["networkx_note"] = f"networkx ran {sample} of {points} sources ({nx_sample_s:.2f} s), extrapolated"
    return result
