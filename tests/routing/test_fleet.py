"""Route minimisation by an ejection pool (``routing._fleet``): which problems it models, that its moves keep every
time window and customer, that an ejection takes the least-penalised customers, and that it empties routes on a
real Solomon instance, whose plans the independent checker accepts."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.solomon import read_instance, to_problem
from routing import Break, Job, Problem, Technician, TimeWindow, Weights, check_feasibility
from routing._fleet import _Solution, feasible, fleet_model, minimise_routes
from routing._search import FLEET_PORTFOLIO, Outcome, run_variant
from routing.solve import build_plan, screen
from tests.routing.helpers import H, line_matrix

SOLOMON = Path(__file__).resolve().parents[3] / "shared" / "data" / "solomon" / "instances"
needs_solomon = pytest.mark.skipif(not SOLOMON.is_dir(), reason=f"Solomon data not found at {SOLOMON}")


def _day(techs: list[Technician] | None = None, jobs: list[Job] | None = None) -> Problem:
    techs = techs or [Technician(id=f"t{k}", shift_start_s=0, shift_end_s=8 * H, start_location=0) for k in range(2)]
    jobs = jobs or [Job(id=str(i), location=i, duration_s=600, time_windows=[TimeWindow(0, 8 * H)]) for i in (1, 2, 3)]
    return Problem(technicians=techs, jobs=jobs, travel_time_s=line_matrix(4),
                   weights=dataclasses.replace(Weights(), vehicle_fixed=10**6))


def test_only_identical_technicians_and_simple_jobs_are_modelled():
    assert fleet_model(_day(), [0, 1, 2]) is not None
    base = _day()
    lunch = dataclasses.replace(base.technicians[1], breaks=[Break(1800, 3 * H, 5 * H)])
    assert fleet_model(_day(techs=[base.technicians[0], lunch]), [0, 1, 2]) is None
    late = dataclasses.replace(base.technicians[1], shift_end_s=9 * H)
    assert fleet_model(_day(techs=[base.technicians[0], late]), [0, 1, 2]) is None
    two_windows = dataclasses.replace(base.jobs[0], time_windows=[TimeWindow(0, H), TimeWindow(2 * H, 3 * H)])
    assert fleet_model(_day(jobs=[two_windows, *base.jobs[1:]]), [0, 1, 2]) is None
    pinned = dataclasses.replace(base.jobs[0], pinned_technician="t0")
    assert fleet_model(_day(jobs=[pinned, *base.jobs[1:]]), [0, 1, 2]) is None
    skilled = dataclasses.replace(base.jobs[0], required_skills={"gas": 1})
    gas = dataclasses.replace(base.technicians[0], skills={"gas": 2})
    assert fleet_model(_day(techs=[gas, base.technicians[1]], jobs=[skilled, *base.jobs[1:]]), [0, 1, 2]) is None


def test_an_ejection_takes_the_customer_ejected_least_often():
    # v, a and b must each start at exactly 1 h at the same place: no technician can do two of them.
    same = [Job(id=n, location=1, duration_s=600, time_windows=[TimeWindow(H, H)]) for n in ("v", "a", "b")]
    fm = fleet_model(_day(jobs=same), [0, 1, 2])
    v, a, b = 1, 2, 3  # node numbers
    sol = _Solution(fm, [[a], [b]], np.random.default_rng(0))
    assert len(sol.insertions(v)[0]) == 0
    penalty = np.ones(fm.end + 1, dtype=np.int64)
    penalty[a] = 3
    route, nodes = sol.ejection(v, penalty)
    assert (route, nodes) == (1, [0, v, fm.end])  # b (penalty 1) makes room, not a (3)
    penalty[b] = 5
    assert sol.ejection(v, penalty) == (0, [0, v, fm.end])


@needs_solomon
def test_random_moves_keep_every_customer_and_window():
    problem = to_problem(read_instance(SOLOMON / "R107.txt"))
    fm = fleet_model(problem, list(range(len(problem.jobs))))
    start, _ = minimise_routes(fm, [[k] for k in range(1, fm.end)], time.monotonic() + 0.5)
    sol = _Solution(fm, start, np.random.default_rng(1))
    sol.perturb(300)
    routes = [r.nodes for r in sol.routes]
    assert sorted(r[1:-1] for r in routes) != sorted(start)  # the moves did move customers
    assert sorted(x for r in routes for x in r[1:-1]) == list(range(1, fm.end))
    width = max(map(len, routes))
    assert feasible(fm, np.asarray([r + [fm.end] * (width - len(r)) for r in routes])).all()


@needs_solomon
def test_the_ejection_pool_empties_routes_of_a_real_instance_and_the_checker_agrees():
    problem = to_problem(read_instance(SOLOMON / "R101.txt"))  # best known: 19 routes
    jobs, _ = screen(problem)
    fm = fleet_model(problem, jobs)
    routes, stats = minimise_routes(fm, [[k] for k in range(1, fm.end)], time.monotonic() + 3.0, seed=0)
    assert len(routes) <= 22 and stats["removed"] == 100 - len(routes)
    assert stats["ejections"] > 0  # the last routes went only by ejecting customers
    assignment = [[fm.jobs[x - 1] for x in r] for r in routes]
    assignment += [[] for _ in range(len(problem.technicians) - len(assignment))]
    plan = build_plan(problem, Outcome(assignment, [[] for _ in assignment], [None] * len(assignment), 0), {})
    assert check_feasibility(problem, plan) == []
    assert not plan.unassigned


@needs_solomon
def test_the_ejection_variant_hands_a_smaller_fleet_to_or_tools():
    problem = to_problem(read_instance(SOLOMON / "RC101.txt"))
    jobs, _ = screen(problem)
    # An extra cost on one (technician, job) pair: the objective is no longer arcs plus vehicles only, so SISR
    # (tests/routing/test_sisr.py) does not apply and OR-Tools shortens the smaller fleet.
    out = run_variant(problem, jobs, FLEET_PORTFOLIO[1], time.monotonic() + 5.0, None, {(0, jobs[0]): 1})
    names = [p["phase"] for p in out.phases]
    assert names[0] == "ils sisr" and names[1].startswith("ejection pool") and names[2] == "ils sisr from that plan"
    plan = build_plan(problem, out, {})
    assert check_feasibility(problem, plan) == [] and not plan.unassigned
    pool = out.phases[1]
    assert sum(1 for r in out.routes if r) == pool["to_routes"] <= pool["from_routes"]


def test_without_identical_technicians_the_ejection_variant_squeezes():
    base = _day()
    lunch = dataclasses.replace(base.technicians[1], breaks=[Break(1800, 3 * H, 5 * H)])
    problem = _day(techs=[base.technicians[0], lunch])
    out = run_variant(problem, [0, 1, 2], FLEET_PORTFOLIO[1], time.monotonic() + 1.0, None)
    assert not any(p["phase"].startswith("ejection pool") for p in out.phases)
    assert sorted(j for r in out.routes for j in r) == [0, 1, 2]


@needs_solomon
def test_a_sample_of_ejections_when_routes_are_long(monkeypatch):
    import routing._fleet as fleet

    monkeypatch.setattr(fleet, "MAX_ROWS", 200)  # every ejection is now a sample
    problem = to_problem(read_instance(SOLOMON / "R201.txt"))  # long routes: best known 4 for 100 customers
    fm = fleet_model(problem, list(range(len(problem.jobs))))
    routes, stats = minimise_routes(fm, [[k] for k in range(1, fm.end)], time.monotonic() + 2.0, seed=0)
    assert stats["ejections"] > 0 and len(routes) < 20
    assert sorted(x for r in routes for x in r) == list(range(1, fm.end))
    width = max(map(len, routes)) + 2
    assert feasible(fm, np.asarray([[0, *r] + [fm.end] * (width - len(r) - 1) for r in routes])).all()
