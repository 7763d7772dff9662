"""``solve(problem) -> Plan``: the optimizer's front door."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from . import _control, _search
from .model import Problem
from .plan import (
    REASON_CAPACITY,
    REASON_SHIFT,
    REASON_SKILL,
    REASON_WINDOW,
    Plan,
    SolveProgress,
    SolverStats,
    Unassigned,
)
from .schedule import Infeasible, evaluate, simulate, timeline

ENGINES = ("groundcrew", "ortools-gls")


def screen(problem: Problem) -> tuple[list[int], dict[int, str]]:
    """Split jobs into those worth modelling and those impossible for a stated reason.

    A job is worth modelling as soon as one technician may do it, in shift, and can reach it in time; the others are
    looked at only when none can (the reason names the first test nobody passed). Listing every capable technician
    for every job first took 10 million skill checks on a 2,000-vehicle, 5,000-job horizon."""
    ok: list[int] = []
    reasons: dict[int, str] = {}
    for j, job in enumerate(problem.jobs):
        capable = in_shift = reachable = False
        for t in problem.technicians:
            if not problem.may_serve(t, job):
                continue
            capable = True
            if not (job.in_progress or not job.time_windows or any(
                    w.end_s >= t.available_from_s and w.start_s <= t.shift_end_s + t.max_overtime_s
                    for w in job.time_windows)):
                continue
            in_shift = True
            try:
                simulate(problem, t, [job.id])
            except Infeasible:
                continue
            reachable = True
            break
        if reachable:
            ok.append(j)
        elif not capable:
            reasons[j] = REASON_SKILL
        elif not in_shift:
            reasons[j] = REASON_SHIFT
        else:
            reasons[j] = REASON_WINDOW if job.time_windows and not job.in_progress else REASON_SHIFT
    return ok, reasons


def repair(problem: Problem, tech, seq: list[int]) -> list[int]:
    """The longest greedy feasible subsequence of a warm-start route (times may have moved on:
    windows closed, the technician is elsewhere). Dropped jobs are re-inserted by the search."""
    kept: list[int] = []
    load = 0
    for j in seq:
        job = problem.jobs[j]
        if not problem.can_do(tech, job) or job.pinned_technician not in (None, tech.id):
            continue
        if tech.capacity is not None and load + job.demand > tech.capacity:
            continue
        try:
            simulate(problem, tech, [problem.jobs[k].id for k in [*kept, j]])
        except Infeasible:
            continue
        kept.append(j)
        load += job.demand
    return kept


def warm_up() -> None:
    """Load the compiled search kernels now rather than within the first solve's time limit (about 1.5 s in a fresh
    process; compiled and cached on disk the first time ever). ``make install`` runs it once; the Solomon
    benchmark calls it before timing."""
    from . import _day_sisr, _sisr

    _sisr.warm_up()
    _day_sisr.warm_up()


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


def solve(
    problem: Problem,
    *,
    time_limit_s: float = 10.0,
    seed: int = 0,
    warm_start: Plan | None = None,
    in_force: Plan | None = None,
    engine: str = "groundcrew",
    workers: int | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_progress: Callable[[SolveProgress], None] | None = None,
) -> Plan:
    """Best plan found within ``time_limit_s`` (plus model-building and a small constant).

    ``should_stop()`` is asked about every 0.2 s while the search runs; once it answers True the solve returns its
    best plan so far within about a search step (typically well under a second; building the first solution of a
    very large day cannot be interrupted). ``on_progress`` gets each better complete plan found, about once a second
    per search trajectory, in the calling thread.

    ``warm_start`` (a previous plan) seeds the search with its routes, which both speeds up
    re-solves and keeps the plan stable. ``in_force`` is the plan people have been told, when that is not the warm
    start (a search overtaken by a live change continues from its own best): moving one of its jobs to another
    technician is what ``Weights.disruption`` prices. ``engine='ortools-gls'`` is plain OR-Tools guided local
    search, kept as the baseline the benchmarks compare with. ``seed`` picks the portfolio
    variants; OR-Tools itself is deterministic, so runs differ only by where the clock stops.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    t0 = time.monotonic()
    jobs, reasons = screen(problem)
    index, modelled = {job.id: k for k, job in enumerate(problem.jobs)}, set(jobs)

    def held(plan: Plan) -> list[list[int]]:
        """The plan's modelled jobs per technician, as problem indices."""
        a = plan.assignment()
        return [[index[j] for j in a.get(t.id, []) if j in index and index[j] in modelled] for t in problem.technicians]

    warm = extra = None
    if warm_start is not None:
        warm = [repair(problem, t, seq) for t, seq in zip(problem.technicians, held(warm_start), strict=True)]
    told = held(in_force) if in_force is not None else warm
    if problem.weights.disruption and told is not None:  # moving a job of the plan in force to someone else costs
        extra = {(v, j): problem.weights.disruption
                 for u, seq in enumerate(told) for j in seq
                 for v in range(len(problem.technicians)) if v != u}
    # Leave room for process start-up and building the plan so the call returns on time.
    reserve = 0.15 + (0.25 if (workers or default_workers()) > 1 else 0.0)
    budget = max(0.05, time_limit_s - (time.monotonic() - t0) - reserve)
    flag = _control.CallbackFlag(should_stop) if should_stop or on_progress else None
    best_so_far = _BestSoFar(problem, reasons, on_progress, t0) if flag is not None else None
    if not jobs:
        out, used = None, 1
    elif engine == "ortools-gls":
        variant = {"kind": "gls", "first": _search.FS.AUTOMATIC}
        outer = _control.current()
        if flag is not None:
            _control.join(_control.SearchControl(flag, best_so_far))
        try:
            out, used = _search.run_variant(problem, jobs, variant, time.monotonic() + budget, warm, extra), 1
        finally:
            _control.join(outer)
    else:
        out, used = _search.portfolio(problem, jobs, budget, seed, workers or default_workers(), warm, extra,
                                      stop=flag, sink=best_so_far)
    plan = build_plan(problem, out, reasons)
    if best_so_far is not None and best_so_far.best is not None and _rank(best_so_far.best) < _rank(plan):
        plan = best_so_far.best  # the search was stopped before it could return what it had offered
    status = out.status if out else "no jobs to model" if not jobs else "no solution found"
    if flag is not None and flag.is_set():
        status = f"stopped by the caller after {time.monotonic() - t0:.1f} s; {status}"
    plan.stats = SolverStats(
        engine=engine, seed=seed, time_limit_s=time_limit_s, wall_time_s=round(time.monotonic() - t0, 3),
        workers=used, phases=out.phases if out else [], status=status,
    )
    return plan


def _rank(plan: Plan) -> tuple[int, int]:
    return plan.objective.jobs_unassigned, plan.objective.cost


class _BestSoFar:
    """Turns the search's offered routes into complete plans, keeps the best, and tells ``on_progress`` of each
    better one."""

    def __init__(self, problem: Problem, reasons: dict[int, str],
                 on_progress: Callable[[SolveProgress], None] | None, t0: float) -> None:
        self.problem, self.reasons, self.on_progress, self.t0 = problem, reasons, on_progress, t0
        self.best: Plan | None = None

    def __call__(self, worker: int, cost: int, routes: list[list[int]]) -> None:
        n = len(routes)
        try:
            plan = build_plan(self.problem, _search.Outcome(routes, [[] for _ in range(n)], [None] * n, cost),
                              self.reasons)
        except Infeasible:  # a route a search holds mid-move: the next offer will do
            return
        if self.best is not None and _rank(plan) >= _rank(self.best):
            return
        self.best = plan
        if self.on_progress is not None:
            self.on_progress(SolveProgress(elapsed_s=round(time.monotonic() - self.t0, 3), plan=plan))


def build_plan(problem: Problem, out: _search.Outcome | None, reasons: dict[int, str]) -> Plan:
    routes = []
    served: set[int] = set()
    for v, tech in enumerate(problem.technicians):
        if out is None or not out.routes[v]:
            routes.append(timeline(problem, tech, []))
            continue
        seq = out.routes[v]
        served.update(seq)
        ids = [problem.jobs[j].id for j in seq]
        if out.breaks[v] is None:  # break start left open by the solver: earliest feasible schedule of the route
            routes.append(timeline(problem, tech, ids))
        else:
            routes.append(timeline(problem, tech, ids, out.starts[v][1:-1], out.breaks[v]))
    unassigned = [Unassigned(problem.jobs[j].id, reasons.get(j, REASON_CAPACITY))
                  for j in range(len(problem.jobs)) if j not in served]
    plan = Plan(routes=routes, unassigned=unassigned)
    plan.objective = evaluate(problem, plan)
    return plan
