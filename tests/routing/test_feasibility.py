"""The independent checker catches each kind of violation on a tampered plan."""

from __future__ import annotations

import copy

from routing import Break, Job, Problem, Technician, TimeWindow, check_feasibility

from .helpers import H, line_matrix, solved

M = line_matrix(6)


def _case():
    lunch = Break(1800, 11 * H + 1800, 14 * H)
    p = Problem(
        [Technician("A", 8 * H, 17 * H, 0, skills={"gas": 2}, breaks=[lunch])],
        [Job("J1", 1, 3600, required_skills={"gas": 1}, time_windows=[TimeWindow(9 * H, 10 * H)]),
         Job("J2", 3, 3600), Job("J3", 5, 3600)],
        M,
    )
    return p, solved(p)


def kinds(p, plan):
    return {v.kind for v in check_feasibility(p, plan)}


def test_checker_accepts_the_solver_plan_and_catches_tampering():
    p, plan = _case()
    assert check_feasibility(p, plan) == []

    late = copy.deepcopy(plan)
    s = next(s for s in late.routes[0].stops if s.job_id == "J1")
    s.start_s, s.end_s = 11 * H, 12 * H
    assert "window" in kinds(p, late)

    fast = copy.deepcopy(plan)
    a, b = fast.routes[0].stops[:2]
    b.start_s, b.end_s = a.end_s, a.end_s + 3600  # no time to drive
    assert "travel" in kinds(p, fast)

    nobreak = copy.deepcopy(plan)
    nobreak.routes[0].breaks = []
    assert "break" in kinds(p, nobreak)

    twice = copy.deepcopy(plan)
    twice.routes[0].stops.append(copy.deepcopy(twice.routes[0].stops[0]))
    assert "coverage" in kinds(p, twice)

    p2 = copy.deepcopy(p)
    p2.technicians[0].skills = {"gas": 0 + 1}
    p2.jobs[0].required_skills = {"gas": 2}
    assert "skills" in kinds(p2, plan)

    overtime = copy.deepcopy(plan)
    overtime.routes[0].end_s = 18 * H
    assert "shift" in kinds(p, overtime)
