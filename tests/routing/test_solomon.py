"""Real Solomon instances with their best-known solutions, at short time limits.

Gap bounds are loose sanity bounds (a few seconds, a noisy shared machine); the benchmark
(benchmarks/solomon.py) carries the real figures.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from benchmarks.solomon import check_exact, exact_distance, read_instance, to_problem
from routing import check_feasibility, solve

SOLOMON = Path(__file__).resolve().parents[3] / "shared" / "data" / "solomon"
pytestmark = pytest.mark.skipif(not SOLOMON.is_dir(), reason=f"Solomon data not found at {SOLOMON}")


def bks(name: str) -> tuple[int, float]:
    with open(SOLOMON / "bks.csv") as f:
        row = next(r for r in csv.DictReader(f) if r["instance"] == name)
    return int(row["bks_vehicles"]), float(row["bks_distance"])


@pytest.mark.parametrize(("name", "seconds", "max_gap_pct"), [("C101", 2, 0.01), ("R101", 4, 2.0), ("RC201", 4, 5.0)])
def test_solomon_within_gap_of_bks(name, seconds, max_gap_pct):
    inst = read_instance(SOLOMON / "instances" / f"{name}.txt")
    problem = to_problem(inst)
    plan = solve(problem, time_limit_s=seconds, seed=0)
    assert check_feasibility(problem, plan) == []
    routes = [[int(j) for j in r.job_ids] for r in plan.routes if r.stops]
    assert check_exact(inst, routes) == []
    assert not plan.unassigned
    vehicles, distance = bks(name)
    assert len(routes) <= vehicles + 1
    if len(routes) == vehicles:
        assert exact_distance(inst, routes) <= distance * (1 + max_gap_pct / 100)
