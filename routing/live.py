"""Live operations: insertion previews for a dispatcher's override and mid-day re-planning."""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from .errors import RoutingInputError
from .model import Job, Problem, job_from_dict
from .plan import Plan, Route
from .schedule import Infeasible, evaluate, simulate, timeline
from .solve import solve


@dataclass(slots=True)
class Insertion:
    """Inserting the job at ``position`` in ``technician_id``'s route, and what it costs."""

    technician_id: str
    position: int
    start_s: int
    added_travel_s: int
    job_late_s: int
    added_lateness_s: int  # lateness change over the whole route, the new job included
    added_overtime_s: int
    added_cost: int


def _route_cost(problem: Problem, route: Route) -> tuple[int, int, int, int]:
    """(travel, weighted lateness, lateness seconds, overtime) of a timed route."""
    late_cost = late_s = 0
    for s in route.stops:
        if s.late_s:
            late_s += s.late_s
            late_cost += problem.weights.sla_lateness_per_s * problem.job(s.job_id).priority * s.late_s
    return route.travel_s, late_cost, late_s, route.overtime_s


def recommend(problem: Problem, plan: Plan, job: Job, k: int = 5) -> list[Insertion]:
    """The ``k`` cheapest feasible insertions of ``job`` into ``plan`` (existing stops keep their
    order; times are re-simulated earliest-first). ``job`` may be new or already in the problem."""
    if not 0 <= job.location < problem.travel_time_s.shape[0]:
        raise RoutingInputError(f"job '{job.id}': location {job.location} is not a matrix index")
    jobs = [j for j in problem.jobs if j.id != job.id] + [job]
    prob = copy.copy(problem)
    prob.jobs = jobs
    prob._index = {j.id: j for j in jobs}  # type: ignore[attr-defined]
    w = problem.weights
    out: list[Insertion] = []
    for route in plan.routes:
        tech = prob.technician(route.technician_id)
        if not prob.may_serve(tech, job):
            continue
        seq = [j for j in route.job_ids if j != job.id]
        try:
            base = timeline(prob, tech, seq)
        except Infeasible:
            base = route
        b_travel, b_late_cost, b_late, b_ot = _route_cost(prob, base)
        positions = [job.pinned_position] if job.pinned_position is not None else range(len(seq) + 1)
        for pos in positions:
            if pos > len(seq):
                continue
            cand = [*seq[:pos], job.id, *seq[pos:]]
            try:
                starts, brks = simulate(prob, tech, cand)
            except Infeasible:
                continue
            r = timeline(prob, tech, cand, starts, brks)
            travel, late_cost, late, ot = _route_cost(prob, r)
            cost = (w.travel_per_s * (travel - b_travel) + (late_cost - b_late_cost)
                    + round(w.overtime_per_s * tech.overtime_cost_factor * (ot - b_ot)))
            if job.preferred_technicians and tech.id not in job.preferred_technicians:
                cost += w.continuity
            out.append(Insertion(tech.id, pos, starts[pos], travel - b_travel, r.stops[pos].late_s,
                                 late - b_late, ot - b_ot, cost))
    out.sort(key=lambda i: (i.added_cost, i.added_travel_s, i.technician_id, i.position))
    return out[:k]


@dataclass(slots=True)
class Changes:
    """What happened since the plan was made."""

    add_jobs: list[Job] = field(default_factory=list)
    cancel_job_ids: list[str] = field(default_factory=list)
    update_jobs: list[Job] = field(default_factory=list)  # replaces the job with the same id
    unavailable_technician_ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Changes:
        return cls(
            add_jobs=[job_from_dict(j) for j in d.get("add_jobs", [])],
            cancel_job_ids=list(d.get("cancel_job_ids", [])),
            update_jobs=[job_from_dict(j) for j in d.get("update_jobs", [])],
            unavailable_technician_ids=list(d.get("unavailable_technician_ids", [])),
        )


def replan(problem: Problem, plan: Plan, changes: Changes, now_s: int, *, time_limit_s: float = 5.0,
           seed: int = 0, workers: int | None = None) -> Plan:
    """Re-optimise the rest of the day at ``now_s``.

    Work that has started is frozen: finished and in-progress stops stay where they are and the
    technician becomes available at the in-progress job's end, at its place. Everything else is
    re-planned from the old plan as a warm start, with ``Weights.disruption`` charged for every
    job moved to another technician so the new plan changes only what pays off.
    """
    t0 = time.monotonic()
    jobs = {j.id: j for j in problem.jobs}
    for jid in changes.cancel_job_ids:
        if jid not in jobs:
            raise RoutingInputError(f"changes: cancelled job '{jid}' is not in the problem")
        del jobs[jid]
    for j in changes.update_jobs:
        if j.id not in jobs:
            raise RoutingInputError(f"changes: updated job '{j.id}' is not in the problem")
        jobs[j.id] = j
    for j in changes.add_jobs:
        if j.id in jobs:
            raise RoutingInputError(f"changes: added job '{j.id}' already exists")
        jobs[j.id] = j
    out_ids = set(changes.unavailable_technician_ids)
    frozen: dict[str, Route] = {}
    frozen_jobs: set[str] = set()
    techs = []
    for t in problem.technicians:
        t = copy.deepcopy(t)
        r = plan.route_of(t.id)
        done = [s for s in (r.stops if r else []) if s.start_s <= now_s and s.job_id in jobs]
        if done:
            last = done[-1]
            t.current_location = jobs[last.job_id].location
            t.busy_until_s = max(now_s, last.end_s)
            frozen_jobs.update(s.job_id for s in done)
            frozen[t.id] = replace(r, stops=done, breaks=[b for b in r.breaks if b.start_s <= now_s])
        else:
            t.busy_until_s = max(now_s, t.busy_until_s or 0)
        taken = [b for b in (r.breaks if r else []) if b.start_s <= now_s]
        if taken:
            t.breaks = t.breaks[len(taken):]
            t.busy_until_s = max(t.busy_until_s or 0, max(b.end_s for b in taken))
        if t.id in out_ids:  # unavailable from now on: keeps only the frozen work
            continue
        # Already too late to be home in time: the overtime is a fact, not a choice.
        home = (t.busy_until_s or now_s) + int(problem.travel_time_s[t.depart_loc, t.end_loc])
        t.max_overtime_s = max(t.max_overtime_s, home - t.shift_end_s)
        t.shift_end_s = max(t.shift_end_s, t.busy_until_s or now_s)
        techs.append(t)
    if not techs:
        raise RoutingInputError("changes: no technician is left available")
    rest = [j for jid, j in jobs.items() if jid not in frozen_jobs]
    sub = Problem(techs, rest, problem.travel_time_s, problem.distance_m, problem.weights,
                  problem.skill_duration_factors, problem.skill_catalog)
    warm = Plan(routes=[Route(r.technician_id, 0, 0, stops=[s for s in r.stops if s.job_id not in frozen_jobs])
                        for r in plan.routes if r.technician_id not in out_ids])
    spent = time.monotonic() - t0
    new = solve(sub, time_limit_s=max(0.1, time_limit_s - spent - 0.1), seed=seed, warm_start=warm,
                workers=workers)
    full = Problem(problem.technicians, list(jobs.values()), problem.travel_time_s, problem.distance_m,
                   problem.weights, problem.skill_duration_factors, problem.skill_catalog)
    routes = [r for r in new.routes if r.technician_id not in out_ids] + [
        frozen.get(tid) or Route(tid, now_s, now_s) for tid in changes.unavailable_technician_ids
    ]
    done_routes = []
    for r in routes:
        f = frozen.get(r.technician_id)
        if f is None or r is f:
            done_routes.append(r)
            continue
        merged = replace(r, start_s=f.start_s, stops=f.stops + r.stops, breaks=f.breaks + r.breaks,
                         travel_s=sum(s.travel_s for s in f.stops) + r.travel_s,
                         distance_m=sum(s.distance_m for s in f.stops) + r.distance_m)
        if not r.stops:  # only frozen work left: drive home after it
            tech = full.technician(r.technician_id)
            back = int(full.travel_time_s[full.job(f.stops[-1].job_id).location, tech.end_loc])
            merged.end_s = f.stops[-1].end_s + back
            merged.travel_s += back
            merged.overtime_s = max(0, merged.end_s - tech.shift_end_s)
        done_routes.append(merged)
    result = Plan(routes=done_routes, unassigned=new.unassigned, stats=new.stats)
    result.objective = evaluate(full, result)
    return result
