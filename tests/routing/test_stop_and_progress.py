"""A running solve can be stopped from outside and reports its best plan so far (``solve(should_stop=,
on_progress=)``), on every search path: our compiled day SISR (two worker processes, and in process), OR-Tools
continuing from a previous plan (a re-plan), plain OR-Tools GLS, and the Solomon SISR portfolio.

The stop is asked for once the first progress report arrives, so nothing here depends on how fast the machine is;
the 600 s limits only make "it returned because it was stopped" unmistakable (the stopped solves return in seconds).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.solomon import read_instance, to_problem
from routing import Job, Plan, Problem, SolveProgress, Technician, TimeWindow, check_feasibility, solve

SOLOMON = Path(__file__).resolve().parents[3] / "shared" / "data" / "solomon"
LIMIT_S = 600.0


def _day(n_jobs: int = 70, n_techs: int = 6, seed: int = 3) -> Problem:
    """A city-like day: places on a 10 km square (1 s per 8 m), 8-hour shifts, some jobs with windows."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 10_000, size=(n_jobs + 1, 2))
    tt = (np.abs(xy[:, None, :] - xy[None, :, :]).sum(axis=2) / 8).astype(np.int64)
    techs = [Technician(f"t{k}", 8 * 3600, 16 * 3600, 0) for k in range(n_techs)]
    jobs = []
    for j in range(n_jobs):
        windows = [TimeWindow(int(s), int(s) + 2 * 3600)] if (s := rng.integers(8, 14) * 3600) and j % 3 == 0 else []
        jobs.append(Job(f"j{j}", j + 1, int(rng.integers(15, 60)) * 60, windows, priority=int(rng.integers(1, 10))))
    return Problem(techs, jobs, tt)


class Watch:
    """Stops the solve at the first progress report and records every report."""

    def __init__(self) -> None:
        self.reports: list[SolveProgress] = []

    def on_progress(self, progress: SolveProgress) -> None:
        self.reports.append(progress)

    def should_stop(self) -> bool:
        return bool(self.reports)


def _stopped(problem: Problem, **kwargs) -> tuple[Plan, Watch]:  # type: ignore[no-untyped-def]
    watch = Watch()
    plan = solve(problem, time_limit_s=LIMIT_S, should_stop=watch.should_stop, on_progress=watch.on_progress,
                 **kwargs)
    return plan, watch


def _check(problem: Problem, plan: Plan, watch: Watch) -> None:
    assert watch.reports, "no progress was reported"
    assert plan.stats.wall_time_s < LIMIT_S / 4, plan.stats  # returned because it was stopped, not at the limit
    assert "stopped by the caller" in plan.stats.status
    assert check_feasibility(problem, plan) == []
    ranks = [(r.plan.objective.jobs_unassigned, r.plan.objective.cost) for r in watch.reports]
    assert ranks == sorted(ranks, reverse=True) and len(set(ranks)) == len(ranks)  # each report better than the last
    assert (plan.objective.jobs_unassigned, plan.objective.cost) <= ranks[-1]  # never worse than what was shown
    for report in watch.reports:
        assert check_feasibility(problem, report.plan) == []
        assert report.plan.objective.jobs_served + report.plan.objective.jobs_unassigned == len(problem.jobs)


@pytest.mark.parametrize("workers", [1, 2])
def test_day_sisr_stops_and_reports(workers: int) -> None:
    problem = _day()
    plan, watch = _stopped(problem, workers=workers)
    _check(problem, plan, watch)


def test_a_replan_from_a_previous_plan_stops_and_reports() -> None:
    problem = _day(seed=5)
    previous = solve(problem, time_limit_s=1.0, workers=1)
    plan, watch = _stopped(problem, workers=2, warm_start=previous)
    _check(problem, plan, watch)


def test_plain_or_tools_stops_and_reports() -> None:
    problem = _day(seed=7)
    plan, watch = _stopped(problem, engine="ortools-gls")
    _check(problem, plan, watch)


def test_solomon_portfolio_stops_and_reports() -> None:
    problem = to_problem(read_instance(SOLOMON / "instances" / "R101.txt"))
    plan, watch = _stopped(problem, workers=2)
    _check(problem, plan, watch)


def test_a_solve_stopped_before_it_starts_returns_a_valid_plan() -> None:
    problem = _day(seed=9)
    plan = solve(problem, time_limit_s=LIMIT_S, workers=2, should_stop=lambda: True)
    assert plan.stats.wall_time_s < LIMIT_S / 4
    assert check_feasibility(problem, plan) == []
    assert plan.objective.jobs_served + plan.objective.jobs_unassigned == len(problem.jobs)


def test_without_hooks_nothing_changes() -> None:
    problem = _day(seed=11)
    a = solve(problem, time_limit_s=1.0, workers=1, seed=0)
    assert "stopped" not in a.stats.status and check_feasibility(problem, a) == []
