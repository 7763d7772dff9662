"""Which search trajectories run on the two cores: when every vehicle costs (fewest vehicles first) and the
budget allows, both squeeze the fleet (pure ILS rarely reached the best-known fleet); otherwise ILS and a
squeeze; with a warm start, ILS beside guided local search continuing from the given plan."""

from __future__ import annotations

import dataclasses

from routing import Job, Problem, Technician, TimeWindow, Weights
from routing._search import variants_for
from tests.routing.helpers import H, line_matrix

FLEET, DAY = 10**6, 0  # vehicle_fixed: Solomon-style fleet minimisation / a dispatch day


def _kinds(vehicle_fixed: int, *, workers: int = 2, warm: bool = False, seconds: float = 10) -> list[str]:
    techs = [Technician(id=f"t{k}", shift_start_s=0, shift_end_s=8 * H, start_location=0) for k in range(3)]
    jobs = [Job(id=str(i), location=i, duration_s=600, time_windows=[TimeWindow(0, 8 * H)]) for i in (1, 2, 3)]
    problem = Problem(technicians=techs, jobs=jobs, travel_time_s=line_matrix(4),
                      weights=dataclasses.replace(Weights(), vehicle_fixed=vehicle_fixed))
    return [v["kind"] for v in variants_for(problem, 0, workers, warm, seconds)]


def test_two_squeezes_when_vehicles_cost_and_there_is_time_else_ils_and_a_squeeze():
    assert _kinds(FLEET) == ["squeeze", "squeeze"]
    assert _kinds(FLEET, workers=1) == ["squeeze"]
    assert _kinds(FLEET, seconds=2) == ["ils", "squeeze"]  # no time for squeeze attempts to pay off
    assert _kinds(DAY) == ["ils", "squeeze"]


def test_the_two_fleet_squeezes_differ():
    techs = [Technician(id="t", shift_start_s=0, shift_end_s=H, start_location=0)]
    problem = Problem(technicians=techs, jobs=[Job(id="1", location=1, duration_s=60)], travel_time_s=line_matrix(2),
                      weights=dataclasses.replace(Weights(), vehicle_fixed=FLEET))
    first, second = variants_for(problem, 0, 2, False, 10)
    assert first != second


def test_a_warm_start_is_continued_by_guided_local_search():
    assert _kinds(FLEET, warm=True) == ["ils", "gls"]
    assert _kinds(DAY, workers=1, warm=True) == ["gls"]
