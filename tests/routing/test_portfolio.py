"""Which search trajectories run on the two cores: when every vehicle costs (fewest vehicles first) and the
budget allows, both squeeze the fleet (pure ILS rarely reached the best-known fleet); otherwise ILS and a
squeeze, or, on a day with breaks, ILS and a search that first leaves the breaks out; with a warm start, ILS beside
guided local search continuing from the given plan. A day our compiled SISR models (``_day_sisr``) runs two SISR
searches instead."""

from __future__ import annotations

import dataclasses
import time

from routing import Break, Job, Problem, Technician, TimeWindow, Weights, check_feasibility
from routing._search import run_variant, variants_for
from routing.solve import build_plan
from tests.routing.helpers import H, line_matrix

FLEET, DAY = 10**6, 0  # vehicle_fixed: Solomon-style fleet minimisation / a dispatch day


LUNCH = Break(duration_s=1800, earliest_start_s=3 * H, latest_end_s=5 * H)


def _kinds(vehicle_fixed: int, *, workers: int = 2, warm: bool = False, seconds: float = 10,
           breaks: bool = False, balance: int = 1) -> list[str]:
    # Shifts that end a minute apart: technicians not identical, so these are the OR-Tools portfolios (identical
    # fleets with an arcs-plus-vehicles objective run our SISR: tests/routing/test_sisr.py).
    techs = [Technician(id=f"t{k}", shift_start_s=0, shift_end_s=8 * H + 60 * k, start_location=0,
                        breaks=[LUNCH] if breaks else []) for k in range(3)]
    jobs = [Job(id=str(i), location=i, duration_s=600, time_windows=[TimeWindow(0, 8 * H)]) for i in (1, 2, 3)]
    problem = Problem(technicians=techs, jobs=jobs, travel_time_s=line_matrix(4),
                      weights=dataclasses.replace(Weights(), vehicle_fixed=vehicle_fixed, balance_per_s=balance))
    return [v["kind"] for v in variants_for(problem, 0, workers, warm, seconds)]


def test_a_day_our_sisr_models_runs_it_on_both_cores():
    # Workload balance (``balance_per_s``, a span cost) is what keeps the other tests here on the OR-Tools portfolios.
    assert _kinds(DAY, balance=0) == ["day_sisr", "day_sisr"]
    assert _kinds(DAY, balance=0, breaks=True) == ["day_sisr", "day_sisr"]
    assert _kinds(DAY, balance=0, workers=1) == ["day_sisr"]
    # a re-plan from the current plan runs the same engine, both trajectories starting from that plan
    assert _kinds(DAY, balance=0, warm=True) == ["day_sisr", "day_sisr"]
    assert _kinds(DAY, balance=0, warm=True, workers=1) == ["day_sisr"]


def test_two_squeezes_when_vehicles_cost_and_there_is_time_else_ils_and_a_squeeze():
    assert _kinds(FLEET) == ["squeeze", "eject"]
    assert _kinds(FLEET, workers=1) == ["eject"]  # one core: the trajectory that also minimises routes
    assert _kinds(FLEET, seconds=2) == ["ils", "squeeze"]  # no time for squeeze attempts to pay off
    assert _kinds(DAY) == ["ils", "squeeze"]


def test_the_two_fleet_squeezes_differ():
    techs = [Technician(id="t", shift_start_s=0, shift_end_s=H, start_location=0)]
    problem = Problem(technicians=techs, jobs=[Job(id="1", location=1, duration_s=60)], travel_time_s=line_matrix(2),
                      weights=dataclasses.replace(Weights(), vehicle_fixed=FLEET))
    first, second = variants_for(problem, 0, 2, False, 10)
    assert first != second


def test_a_warm_start_our_sisr_does_not_model_is_continued_by_guided_local_search():
    assert _kinds(FLEET, warm=True) == ["ils", "gls"]
    assert _kinds(DAY, workers=1, warm=True) == ["gls"]


def test_a_day_with_breaks_runs_ils_beside_a_search_that_first_leaves_the_breaks_out():
    assert _kinds(DAY, breaks=True) == ["ils", "breakless_first"]
    assert _kinds(DAY, breaks=True, workers=1) == ["ils"]
    assert _kinds(FLEET, breaks=True) == ["squeeze", "eject"]  # fleet minimisation (eject squeezes on such days)
    assert _kinds(DAY, breaks=True, warm=True) == ["ils", "gls"]


def test_the_search_without_breaks_first_still_plans_every_break():
    # Two technicians, ten one-hour jobs along a line: a full day each, so each lunch has to go between jobs.
    techs = [Technician(id=f"t{k}", shift_start_s=0, shift_end_s=8 * H, start_location=0, breaks=[LUNCH])
             for k in range(2)]
    jobs = [Job(id=f"J{i}", location=i % 5 + 1, duration_s=H) for i in range(10)]
    problem = Problem(technicians=techs, jobs=jobs, travel_time_s=line_matrix(6, 300))
    out = run_variant(problem, list(range(10)), {"kind": "breakless_first", "share": 0.3}, time.monotonic() + 1.0,
                      None)
    assert out is not None and out.phases[0]["phase"] == "ils without breaks"
    plan = build_plan(problem, out, {})
    assert check_feasibility(problem, plan) == []
    assert sum(len(r.stops) for r in plan.routes) == 10
    for route in plan.routes:
        (lunch,) = route.breaks
        assert lunch.start_s >= 3 * H and lunch.end_s <= 5 * H
        assert all(s.end_s <= lunch.start_s or s.start_s >= lunch.end_s for s in route.stops)


def test_a_sisr_day_trajectory_builds_no_or_tools_model(monkeypatch):
    """Our compiled SISR reads the day from ``routing._day``; the OR-Tools model built before every trajectory was
    unused there and its Python build ate the search's time (tens of seconds on a 5,000-job horizon)."""
    from routing import _ortools

    def refused(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the OR-Tools model was built for a SISR trajectory")

    monkeypatch.setattr(_ortools, "build", refused)
    techs = [Technician(id=f"t{k}", shift_start_s=0, shift_end_s=8 * H, start_location=0) for k in range(2)]
    jobs = [Job(id=str(i), location=i, duration_s=600, time_windows=[TimeWindow(0, 8 * H)]) for i in (1, 2, 3)]
    problem = Problem(technicians=techs, jobs=jobs, travel_time_s=line_matrix(4))
    out = run_variant(problem, [0, 1, 2], {"kind": "day_sisr", "seed": 0}, time.monotonic() + 0.3, None)
    assert out is not None and sorted(j for r in out.routes for j in r) == [0, 1, 2]
