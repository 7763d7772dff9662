"""Which search trajectories run on the two cores: when every vehicle costs (fewest vehicles first), both
squeeze the fleet (pure ILS rarely reached the best-known fleet); otherwise ILS and a squeeze; with a warm
start, ILS beside guided local search continuing from the given plan."""

from __future__ import annotations

import dataclasses

from routing import Job, Problem, Technician, TimeWindow, Weights
from routing._search import variants_for
from tests.routing.helpers import H, line_matrix


def _problem(vehicle_fixed: int) -> Problem:
    techs = [Technician(id=f"t{k}", shift_start_s=0, shift_end_s=8 * H, start_location=0) for k in range(3)]
    jobs = [Job(id=str(i), location=i, duration_s=600, time_windows=[TimeWindow(0, 8 * H)]) for i in (1, 2, 3)]
    return Problem(technicians=techs, jobs=jobs, travel_time_s=line_matrix(4),
                   weights=dataclasses.replace(Weights(), vehicle_fixed=vehicle_fixed))


def test_two_different_squeezes_when_vehicles_cost_else_ils_and_a_squeeze():
    fleet = variants_for(_problem(vehicle_fixed=10**6), seed=0, workers=2, warm=False)
    assert [v["kind"] for v in fleet] == ["squeeze", "squeeze"] and fleet[0] != fleet[1]
    assert variants_for(_problem(vehicle_fixed=10**6), seed=0, workers=1, warm=False)[0]["kind"] == "squeeze"
    day = variants_for(_problem(vehicle_fixed=0), seed=0, workers=2, warm=False)
    assert [v["kind"] for v in day] == ["ils", "squeeze"]


def test_a_warm_start_is_continued_by_guided_local_search():
    assert [v["kind"] for v in variants_for(_problem(vehicle_fixed=10**6), seed=0, workers=2, warm=True)] == [
        "ils", "gls"]
    assert [v["kind"] for v in variants_for(_problem(vehicle_fixed=0), seed=0, workers=1, warm=True)] == ["gls"]
