"""Solomon / Gehring–Homberger VRPTW benchmark: our optimizer vs best-known and a peer.

``run(paths, time_limit)`` solves each instance under the classic hierarchical objective
(fewest vehicles, then total Euclidean distance in double precision), checks every plan with
the independent feasibility checker, prints a table as it goes and returns a summary dict
(the CLI prints it as JSON on the last line).

Travel time equals Euclidean distance. The solver works in integers, so times and distances
are scaled by ``SCALE``; travel *times* are rounded up so that any plan feasible for the solver
is feasible in exact arithmetic, and reported distances are recomputed in double precision.
"""

from __future__ import annotations

import csv
import itertools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCALE = 1000
VEHICLE_COST = 10**9  # per used route: dominates any distance difference (scaled ~ 1e7)


@dataclass
class Instance:
    name: str
    capacity: int
    fleet: int
    xy: np.ndarray  # (n+1, 2), row 0 = depot
    demand: np.ndarray
    ready: np.ndarray
    due: np.ndarray
    service: np.ndarray

    @property
    def dist(self) -> np.ndarray:
        d = self.xy[:, None, :] - self.xy[None, :, :]
        return np.sqrt((d**2).sum(-1))


def read_instance(path: Path) -> Instance:
    """Read the Solomon text format (also used by Gehring & Homberger)."""
    lines = [ln.split() for ln in Path(path).read_text().splitlines()]
    name = lines[0][0] if lines and lines[0] else Path(path).stem
    fleet = capacity = 0
    rows = []
    for k, parts in enumerate(lines):
        if parts and parts[0].upper() == "NUMBER":
            nxt = next(p for p in lines[k + 1 :] if p)
            fleet, capacity = int(nxt[0]), int(nxt[1])
        if len(parts) == 7 and all(_isnum(x) for x in parts):
            rows.append([float(x) for x in parts])
    a = np.array(rows)
    return Instance(
        name=name,
        capacity=capacity,
        fleet=fleet,
        xy=a[:, 1:3],
        demand=a[:, 3].astype(int),
        ready=a[:, 4],
        due=a[:, 5],
        service=a[:, 6],
    )


def _isnum(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def to_problem(inst: Instance, fleet: int | None = None):
    """The instance as a routing ``Problem``: one technician per vehicle, jobs per customer."""
    from routing import Job, Problem, Technician, TimeWindow, Weights

    d = inst.dist
    tt = np.ceil(d * SCALE - 1e-6).astype(np.int64)  # conservative: feasible in exact arithmetic
    dm = np.rint(d * SCALE).astype(np.int64)
    depot_due = math.floor(inst.due[0] * SCALE)
    techs = [
        Technician(id=f"v{k}", shift_start_s=int(inst.ready[0] * SCALE), shift_end_s=depot_due,
                   start_location=0, capacity=inst.capacity)
        for k in range(fleet or inst.fleet)
    ]
    jobs = [
        Job(
            id=str(i),
            location=i,
            duration_s=round(inst.service[i] * SCALE),
            time_windows=[TimeWindow(round(inst.ready[i] * SCALE), round(inst.due[i] * SCALE))],
            demand=int(inst.demand[i]),
        )
        for i in range(1, len(inst.xy))
    ]
    w = Weights(travel_per_s=0, distance_per_m=1, sla_lateness_per_s=0, overtime_per_s=0,
                continuity=0, vehicle_fixed=VEHICLE_COST)
    return Problem(technicians=techs, jobs=jobs, travel_time_s=tt, distance_m=dm, weights=w)


def exact_distance(inst: Instance, routes: list[list[int]]) -> float:
    d = inst.dist
    total = 0.0
    for r in routes:
        if r:
            seq = [0, *r, 0]
            total += sum(d[a, b] for a, b in itertools.pairwise(seq))
    return total


def check_exact(inst: Instance, routes: list[list[int]]) -> list[str]:
    """Feasibility in double precision, straight from the instance (independent of the model)."""
    d = inst.dist
    errs = []
    seen: list[int] = []
    for k, r in enumerate(routes):
        if not r:
            continue
        if inst.demand[r].sum() > inst.capacity:
            errs.append(f"route {k}: load {inst.demand[r].sum()} > {inst.capacity}")
        t, prev = inst.ready[0], 0
        for c in r:
            t = max(t + d[prev, c], inst.ready[c])
            if t > inst.due[c] + 1e-9:
                errs.append(f"route {k}: customer {c} starts {t:.3f} after due {inst.due[c]}")
            t += inst.service[c]
            prev = c
        if t + d[prev, 0] > inst.due[0] + 1e-9:
            errs.append(f"route {k}: back at depot {t + d[prev, 0]:.3f} after {inst.due[0]}")
        seen += r
    n = len(inst.xy) - 1
    if sorted(seen) != list(range(1, n + 1)):
        errs.append(f"{n - len(set(seen))} customers not served exactly once")
    return errs


def solve_pyvrp(inst: Instance, time_limit: float, seed: int) -> list[list[int]]:
    """The same instance with PyVRP (the state of the art peer), same scaling and objective."""
    from pyvrp import Model
    from pyvrp.stop import MaxRuntime

    d = inst.dist
    tt = np.ceil(d * SCALE - 1e-6).astype(np.int64)
    dm = np.rint(d * SCALE).astype(np.int64)
    m = Model()
    locs = [m.add_location(x=float(x), y=float(y)) for x, y in inst.xy]
    depot = m.add_depot(locs[0], tw_early=int(inst.ready[0] * SCALE), tw_late=int(inst.due[0] * SCALE))
    m.add_vehicle_type(num_available=inst.fleet, capacity=inst.capacity, start_depot=depot, end_depot=depot,
                       fixed_cost=VEHICLE_COST, tw_early=int(inst.ready[0] * SCALE),
                       tw_late=int(inst.due[0] * SCALE))
    for i in range(1, len(locs)):
        m.add_client(locs[i], delivery=int(inst.demand[i]), service_duration=round(inst.service[i] * SCALE),
                     tw_early=round(inst.ready[i] * SCALE), tw_late=round(inst.due[i] * SCALE))
    for i, a in enumerate(locs):
        for j, b in enumerate(locs):
            m.add_edge(a, b, distance=int(dm[i, j]), duration=int(tt[i, j]))
    res = m.solve(stop=MaxRuntime(time_limit), seed=seed, display=False)
    return [[_client_number(a, m) for a in r if a.is_client()] for r in res.best.routes()]


def _client_number(activity, model) -> int:
    """PyVRP client activity (0-based client index) → Solomon customer number (after the depot)."""
    return int(activity.idx) + len(model.depots)


def load_bks(paths: list[Path]) -> dict[str, tuple[int, float]]:
    """``bks.csv`` beside the instances (same folder or its parent); rows without BKS are skipped."""
    table: dict[str, tuple[int, float]] = {}
    dirs = {p if p.is_dir() else p.parent for p in paths}
    for d in dirs:
        for cand in (d / "bks.csv", d.parent / "bks.csv"):
            if cand.is_file():
                with open(cand) as f:
                    for row in csv.DictReader(f):
                        if row.get("bks_vehicles") and row.get("bks_distance"):
                            table.setdefault(row["instance"], (int(row["bks_vehicles"]), float(row["bks_distance"])))
                break
    return table


def _instances(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.suffix.lower() in (".txt", ".vrp") and q.stem != "README")
        else:
            out.append(p)
    return out


def _stats(rows: list[dict], key: str) -> dict:
    gaps = [r[f"{key}_gap_pct"] for r in rows if r.get(f"{key}_gap_pct") is not None]
    return {
        "mean_gap_pct": round(float(np.mean(gaps)), 3) if gaps else None,
        "max_gap_pct": round(float(np.max(gaps)), 3) if gaps else None,
        "gap_instances": len(gaps),
        "vehicles_over_bks": sum(1 for r in rows if r.get(f"{key}_over")),
        "vehicles_under_bks": sum(1 for r in rows if r.get(f"{key}_under")),
        "infeasible": sum(1 for r in rows if r.get(f"{key}_errors")),
        "mean_distance": round(float(np.mean([r[f"{key}_dist"] for r in rows])), 3) if rows else None,
        "total_vehicles": int(sum(r[f"{key}_veh"] for r in rows)),
    }


def run(paths: list[Path], time_limit: float, peer: str | None = None, seed: int = 0,
        engine: str = "groundcrew", workers: int | None = None) -> dict:
    """Solve every instance, print a table row per instance, return the summary.

    ``workers``: our search processes (default: both cores). With ``workers=1`` the whole run — ours and the peer
    (PyVRP is single-threaded) — is pinned to one CPU core, so the comparison is per core on a machine with more."""
    import os

    from routing import check_feasibility, solve, warm_up

    if peer not in (None, "pyvrp"):
        raise ValueError(f"unknown peer {peer!r} (supported: pyvrp)")
    pinned = None
    if workers == 1 and hasattr(os, "sched_setaffinity"):
        pinned = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {pinned})
    warm_up()  # as a running server has: the compiled kernels loaded before the first timed solve
    files = _instances([Path(p) for p in paths])
    bks = load_bks([Path(p) for p in paths])
    rows: list[dict] = []
    hdr = f"{'instance':10} {'bks':>13} {engine:>22} {'gap%':>7}"
    if peer:
        hdr += f" {peer:>16} {'gap%':>7}"
    print(hdr, flush=True)
    for f in files:
        inst = read_instance(f)
        problem = to_problem(inst)
        t0 = time.monotonic()
        plan = solve(problem, time_limit_s=time_limit, seed=seed, engine=engine, workers=workers)
        wall = time.monotonic() - t0
        routes = [[int(j) for j in r.job_ids] for r in plan.routes if r.stops]
        errs = [str(v) for v in check_feasibility(problem, plan)] + check_exact(inst, routes)
        row: dict = {"instance": inst.name, "ours_veh": len(routes), "ours_dist": exact_distance(inst, routes),
                     "ours_errors": errs, "ours_wall_s": round(wall, 2)}
        results = [("ours", routes)]
        if peer == "pyvrp":
            proutes = solve_pyvrp(inst, time_limit, seed)
            row.update({"peer_veh": len(proutes), "peer_dist": exact_distance(inst, proutes),
                        "peer_errors": check_exact(inst, proutes)})
            results.append(("peer", proutes))
        b = bks.get(inst.name)
        for key, _ in results:
            if b is not None:
                row[f"{key}_over"] = row[f"{key}_veh"] > b[0]
                row[f"{key}_under"] = row[f"{key}_veh"] < b[0]
                if row[f"{key}_veh"] == b[0]:
                    row[f"{key}_gap_pct"] = 100 * (row[f"{key}_dist"] - b[1]) / b[1]
        rows.append(row)

        def cell(key: str, row: dict = row) -> tuple[str, str]:
            gap = row.get(f"{key}_gap_pct")
            bad = " INFEASIBLE" if row[f"{key}_errors"] else ""
            return f"{row[f'{key}_veh']:>3}/{row[f'{key}_dist']:>9.2f}{bad}", ("" if gap is None else f"{gap:.2f}")

        line = f"{inst.name:10} {(f'{b[0]}/{b[1]:.2f}' if b else '-'):>13}"
        c, g = cell("ours")
        line += f" {c:>22} {g:>7}"
        if peer:
            c, g = cell("peer")
            line += f" {c:>16} {g:>7}"
        print(line, flush=True)
    s = _stats(rows, "ours")
    summary: dict = {"instances": len(rows), "time_limit_s": time_limit, "engine": engine, "seed": seed,
                     "workers": workers or "default", "pinned_cpu": pinned,
                     "bks_instances": sum(1 for r in rows if r["instance"] in bks), **s}
    if peer:
        summary["peer"] = {"name": peer, **_stats(rows, "peer")}
    return summary


if __name__ == "__main__":  # python -m benchmarks.solomon PATH... --time-limit S [--peer pyvrp]
    import argparse
    import json

    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="+", type=Path)
    ap.add_argument("--time-limit", type=float, default=10.0)
    ap.add_argument("--peer", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--engine", default="groundcrew")
    ap.add_argument("--workers", type=int, default=None)
    a = ap.parse_args()
    print(json.dumps(run(a.paths, a.time_limit, a.peer, a.seed, a.engine, a.workers)))
