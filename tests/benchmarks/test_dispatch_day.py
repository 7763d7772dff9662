"""The dispatch-day benchmark's yardsticks: the greedy dispatcher and the unavoidable-lateness bound."""

from __future__ import annotations

import numpy as np

from benchmarks.dispatch_day import greedy, unavoidable_lateness_s
from routing import Job, Problem, Technician, TimeWindow, check_feasibility, solve

H = 3600


def _problem() -> Problem:
    # Locations: 0 and 1 are homes, 2..4 jobs. Travel: 600 s between any two different places, except that the roads
    # technician lives 60 s from "rushed", a job they lack the skill for (the bound must not count them).
    tt = np.full((5, 5), 600, dtype=np.int64)
    np.fill_diagonal(tt, 0)
    tt[1, 3] = tt[3, 1] = 60
    techs = [Technician("electrician", 8 * H, 17 * H, 0, skills={"electrical": 2}),
             Technician("roads", 8 * H, 17 * H, 1, skills={"roads": 1})]
    jobs = [
        # Only home from 13:00 but promised by 09:30: 3.5 h late whatever the plan.
        Job("afternoon", 2, 1800, time_windows=[TimeWindow(13 * H, 17 * H)], priority=9, sla_deadline_s=9 * H + 1800),
        # Due 5 min after the shift starts, 10 min away for the only able technician: 5 min late at best.
        Job("rushed", 3, 1800, required_skills={"electrical": 1}, priority=8, sla_deadline_s=8 * H + 300),
        # Reachable in time: no lateness is forced.
        Job("easy", 4, 1800, required_skills={"roads": 1}, priority=6, sla_deadline_s=10 * H),
    ]
    return Problem(techs, jobs, tt)


def test_unavoidable_lateness_is_the_bound_no_plan_beats():
    problem = _problem()
    bound = unavoidable_lateness_s(problem)
    assert bound == 3 * H + 1800 + 300
    plan = solve(problem, time_limit_s=1, workers=1)
    assert plan.objective.jobs_served == 3
    assert plan.objective.sla_lateness_s >= bound
    assert plan.objective.sla_lateness_s == bound  # this tiny day lets the optimizer meet the bound exactly


def test_greedy_plan_is_feasible_serves_the_day_and_respects_the_bound():
    problem = _problem()
    plan = greedy(problem)
    assert check_feasibility(problem, plan) == []
    assert plan.objective.jobs_served == 3
    assert plan.objective.sla_lateness_s >= unavoidable_lateness_s(problem)
