"""`groundcrew bench matrix`: cold build and travel-time matrices, CCH vs Dijkstra (vs networkx), same run.

Cold builds run in child processes with an empty cache, so their wall time and peak RSS are the
build's own. The matrices run in this process on the cached network: contraction hierarchies and
the scipy Dijkstra on the same snapped points, checked identical, plus one point added to a cache
of N-1 and the plain networkx way (a sample of sources, extrapolated). Wall and CPU seconds are
both printed: on a shared machine the CPU seconds say what the work costs, the wall seconds what
a user waited; the load average at the start says how shared it was.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from geodata import GeodataError, load_network

NX_SAMPLE_SOURCES = 40  # networkx runs this many sources and is extrapolated to all of them
TARGETS = {"matrix_1000_s": 0.5, "cold_build_s": 10.0, "cold_build_peak_mb": 600.0}

_CHILD = """
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
if sys.argv[3] == "arrays":
    from geodata import load_network
    net = load_network(Path(sys.argv[1]), Path(sys.argv[2]))
    extra = {"cch_arcs": net.cch.n_arcs if net.cch is not None else None}
else:
    from geodata._osm import scan_osm
    from geodata.config import NetworkConfig
    from geodata.network import build_network
    net = build_network(scan_osm(Path(sys.argv[1]), NetworkConfig()), NetworkConfig(), "x", via="osmnx")
    extra = {}
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": round(time.perf_counter() - t0, 2), "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
                  "nodes": net.n_nodes, "edges": net.n_edges, "peak_rss_mb": round(ru.ru_maxrss / 1024), **extra}))
"""


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


def cold_build(osm: Path, cache_dir: Path, via: str = "arrays") -> dict[str, Any]:
    """Build the network in a fresh Python process (empty cache for `via="arrays"`): seconds and peak RSS (MB)."""
    out = subprocess.run([sys.executable, "-c", _CHILD, str(osm), str(cache_dir), via], capture_output=True,
                         text=True, check=True, cwd=Path(__file__).resolve().parents[1])
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> dict[str, Any]:
    """What this ran on; the load average says how busy the machine was."""
    return {"cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(),
            "python": platform.python_version(), "load_avg_1m": round(os.getloadavg()[0], 2)}


def run(osm: Path, points: int, seed: int = 0, osmnx_build: bool = True, note: str = "") -> dict[str, Any]:
    """Time cold builds and N×N matrices on the city in `osm`; progress goes to stderr."""
    result: dict[str, Any] = {"osm": Path(osm).name, "points": points, "machine": machine()}
    if note:
        result["machine"]["note"] = note
    with tempfile.TemporaryDirectory(prefix="groundcrew-bench-") as tmp:
        print("[bench] cold build (arrays + CCH), fresh process, empty cache", file=sys.stderr, flush=True)
        result["cold_build"] = cold_build(osm, Path(tmp))
        if osmnx_build:
            print("[bench] cold build the osmnx way, fresh process", file=sys.stderr, flush=True)
            result["cold_build_osmnx"] = cold_build(osm, Path(tmp), via="osmnx")
        t0 = time.perf_counter()
        net = load_network(Path(osm), Path(tmp))
        result["warm_load_s"] = round(time.perf_counter() - t0, 2)
    result.update(nodes=net.n_nodes, edges=net.n_edges)
    pts = _random_points(net, points, seed)
    snapped = net.snap_many(pts)
    print(f"[bench] {net.n_nodes} nodes, {net.n_edges} edges; {points} points", file=sys.stderr, flush=True)
    matrices, timing = {}, {}
    for engine in ("cch", "dijkstra"):
        net.travel_time_matrix(snapped[:2], engine=engine)  # first call loads numba's compiled code: not timed
        runs = []
        for _ in range(3 if engine == "cch" else 1):  # CCH: median of 3; Dijkstra: one run (seconds each)
            t0, c0 = time.perf_counter(), time.process_time()
            matrices[engine] = net.travel_time_matrix(snapped, engine=engine)
            runs.append((time.perf_counter() - t0, time.process_time() - c0))
        wall, cpu = sorted(runs)[len(runs) // 2]
        timing[engine] = {"matrix_s": round(wall, 3), "matrix_cpu_s": round(cpu, 3)}
        if engine == "cch":
            t0 = time.perf_counter()
            net.travel_time_matrix(pts, engine=engine)
            timing[engine]["matrix_with_snapping_s"] = round(time.perf_counter() - t0, 3)
        cache = net.matrix_cache(engine=engine)
        cache.add_many(pts[:-1])
        t0, c0 = time.perf_counter(), time.process_time()
        cache.add(*pts[-1])
        timing[engine]["add_one_point_ms"] = round((time.perf_counter() - t0) * 1000, 2)
        timing[engine]["add_one_point_cpu_ms"] = round((time.process_time() - c0) * 1000, 2)
        print(f"[bench] {engine}: {timing[engine]}", file=sys.stderr, flush=True)
    a, b = matrices["cch"], matrices["dijkstra"]
    same = bool(np.array_equal(a.travel_time_s, b.travel_time_s) and np.array_equal(a.distance_m, b.distance_m))
    result["engines"] = timing
    result["identical_matrices"] = same
    result["speedup_cch_vs_dijkstra"] = round(timing["dijkstra"]["matrix_s"] / timing["cch"]["matrix_s"], 1)
    # The plain osmnx/networkx way: nearest node per point, one Dijkstra per source on the MultiDiGraph.
    G = net.to_networkx()
    nodes = [p.exits[0][0] for p in a.points]
    sample = min(points, NX_SAMPLE_SOURCES)
    t0 = time.perf_counter()
    targets = set(nodes)
    for s in nodes[:sample]:
        dist = nx.single_source_dijkstra_path_length(G, s, weight="travel_time")
        _ = [dist.get(t, np.inf) for t in targets]
    nx_sample_s = time.perf_counter() - t0
    result["networkx_s"] = round(nx_sample_s * points / sample, 1)
    if sample < points:
        result["networkx_note"] = f"networkx ran {sample} of {points} sources ({nx_sample_s:.2f} s), extrapolated"
    result["mean_travel_time_s"] = round(float(np.mean(a.travel_time_s[np.isfinite(a.travel_time_s)])), 1)
    result["bench_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    build = result["cold_build"]
    result["targets"] = {
        "matrix_s": {"target": TARGETS["matrix_1000_s"], "got": timing["cch"]["matrix_s"],
                     "cpu_s": timing["cch"]["matrix_cpu_s"],
                     "met": timing["cch"]["matrix_s"] < TARGETS["matrix_1000_s"],
                     "note": "target is for 1000 points" if points != 1000 else ""},
        "cold_build_s": {"target": TARGETS["cold_build_s"], "got": build["seconds"], "cpu_s": build["cpu_s"],
                         "met": build["seconds"] < TARGETS["cold_build_s"]},
        "cold_build_peak_mb": {"target": TARGETS["cold_build_peak_mb"], "got": build["peak_rss_mb"],
                               "met": build["peak_rss_mb"] < TARGETS["cold_build_peak_mb"]},
        "identical_to_dijkstra": same,
    }
    return result
