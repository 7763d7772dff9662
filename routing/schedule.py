"""Timelines of routes and objective evaluation, independent of the solver.

``timeline`` turns an ordered job list into a timed ``Route``: either from given service starts
(the solver's) or by simulating an earliest-start day with breaks taken as late as still
allowed before the next job. ``evaluate`` computes the objective breakdown of a plan. Both are
used by the live tools (``recommend``), the greedy baseline and the Plan builder.
"""

from __future__ import annotations

from .model import Break, Job, Problem, Technician
from .plan import BreakStop, ObjectiveBreakdown, Plan, Route, Stop


def usable_breaks(tech: Technician) -> list[Break]:
    """Breaks still to be taken: those whose latest start is not before availability."""
    return sorted(
        (b for b in tech.breaks if b.latest_start_s >= tech.available_from_s), key=lambda b: b.earliest_start_s
    )


def window_start(job: Job, t: int) -> int | None:
    """Earliest allowed service start at or after ``t`` (None if every window has closed)."""
    if job.in_progress or not job.time_windows:
        return t
    for w in job.time_windows:
        if t <= w.end_s:
            return max(t, w.start_s)
    return None


def _arrive(depart: int, travel: int, brks: list[tuple[int, int]]) -> int:
    """Arrival when leaving at ``depart``; the breaks (start, end) in between, in order, interrupt the drive (as
    ``simulate`` takes them: the drive goes on until each break starts)."""
    t = depart
    for bs, be in brks:
        travel -= min(travel, max(0, bs - t))
        t = be
    return t + travel


class Infeasible(Exception):
    """Raised by ``simulate`` when the sequence cannot be done by this technician."""


def simulate(problem: Problem, tech: Technician, job_ids: list[str]) -> tuple[list[int], list[int]]:
    """Earliest feasible service starts and break starts for a job order, or ``Infeasible``."""
    tt = problem.travel_time_s
    pending = usable_breaks(tech)
    t = tech.available_from_s
    loc = tech.depart_loc
    starts: list[int] = []
    brk_starts: list[int] = []
    for k, jid in enumerate(job_ids):
        job = problem.job(jid)
        if job.in_progress and k != 0:
            raise Infeasible(f"in-progress job '{jid}' must be first")
        dur = problem.service_s(job, tech)
        travel = int(tt[loc, job.location])
        while pending:
            b = pending[0]
            s = window_start(job, t + travel)
            if s is not None and max(s + dur, b.earliest_start_s) <= b.latest_start_s:
                break  # the break can still come after this job
            bs = max(t, b.earliest_start_s)
            if bs > b.latest_start_s:
                raise Infeasible(f"break cannot be taken before job '{jid}'")
            brk_starts.append(bs)
            pending.pop(0)
            travel -= min(travel, bs - t)  # the break interrupts the drive
            t = bs + b.duration_s
        arrive = t + travel
        s = window_start(job, arrive)
        if s is None:
            raise Infeasible(f"job '{jid}' reached after its last window")
        starts.append(s)
        t = s + dur
        loc = job.location
    travel = int(tt[loc, tech.end_loc])
    for b in pending:
        bs = max(t, b.earliest_start_s)
        if bs > b.latest_start_s:
            raise Infeasible("break cannot be taken before the end of the day")
        brk_starts.append(bs)
        travel -= min(travel, bs - t)
        t = bs + b.duration_s
    end = t + travel
    if end > tech.shift_end_s + tech.max_overtime_s:
        raise Infeasible("route ends after shift end plus allowed overtime")
    return starts, brk_starts


def timeline(
    problem: Problem,
    tech: Technician,
    job_ids: list[str],
    starts: list[int] | None = None,
    break_starts: list[int] | None = None,
    route_start: int | None = None,
) -> Route:
    """A timed route. Without ``starts`` the earliest feasible schedule is simulated."""
    if starts is None:
        starts, break_starts = simulate(problem, tech, job_ids)
    tt, dm = problem.travel_time_s, problem.distance_m
    brks = [(bs, bs + b.duration_s) for bs, b in zip(break_starts or [], usable_breaks(tech), strict=False)]
    stops: list[Stop] = []
    loc = tech.depart_loc
    if route_start is not None:
        prev_end = route_start
    elif job_ids:
        first_travel = int(tt[loc, problem.job(job_ids[0]).location])
        before = [(bs, be) for bs, be in brks if be <= starts[0]]
        prev_end = starts[0] - first_travel - sum(be - bs for bs, be in before)
        if before:  # a break taken before leaving (or on the way): the day starts by then
            prev_end = min(prev_end, before[0][0])
        prev_end = max(tech.available_from_s, prev_end)
    else:
        prev_end = tech.available_from_s
    start_s = prev_end
    travel_total = dist_total = 0
    for jid, s in zip(job_ids, starts, strict=True):
        job = problem.job(jid)
        travel = int(tt[loc, job.location])
        dist = int(dm[loc, job.location]) if dm is not None else 0
        in_gap = [(bs, be) for bs, be in brks if bs >= prev_end and be <= s]
        arrive = _arrive(prev_end, travel, in_gap)
        end = s + problem.service_s(job, tech)
        late = max(0, s - job.sla_deadline_s) if job.sla_deadline_s is not None else 0
        stops.append(Stop(jid, arrive, s, end, max(0, s - arrive), travel, dist, late))
        travel_total += travel
        dist_total += dist
        prev_end, loc = end, job.location
    travel = int(tt[loc, tech.end_loc])
    dist = int(dm[loc, tech.end_loc]) if dm is not None else 0
    end_s = _arrive(prev_end, travel, [(bs, be) for bs, be in brks if bs >= prev_end])
    if not job_ids:
        end_s = start_s
    travel_total += travel if job_ids else 0
    dist_total += dist if job_ids else 0
    return Route(
        technician_id=tech.id,
        start_s=start_s,
        end_s=end_s,
        stops=stops,
        breaks=[BreakStop(bs, be) for bs, be in brks] if job_ids else [],
        travel_s=travel_total,
        distance_m=dist_total,
        overtime_s=max(0, end_s - tech.shift_end_s),
    )


def evaluate(problem: Problem, plan: Plan) -> ObjectiveBreakdown:
    """Objective breakdown of ``plan`` under ``problem.weights`` (same terms the solver uses)."""
    w = problem.weights
    ob = ObjectiveBreakdown()
    spans = []
    cost = 0
    for r in plan.routes:
        if not r.stops:
            continue
        tech = problem.technician(r.technician_id)
        ob.technicians_used += 1
        ob.travel_s += r.travel_s
        ob.distance_m += r.distance_m
        ob.overtime_s += r.overtime_s
        cost += w.vehicle_fixed + w.travel_per_s * r.travel_s + w.distance_per_m * r.distance_m
        cost += round(w.overtime_per_s * tech.overtime_cost_factor * r.overtime_s)
        spans.append(r.end_s - r.start_s)
        for s in r.stops:
            ob.jobs_served += 1
            job = problem.job(s.job_id)
            if s.late_s:
                ob.sla_late_jobs += 1
                ob.sla_lateness_s += s.late_s
                cost += w.sla_lateness_per_s * job.priority * s.late_s
            if job.preferred_technicians and r.technician_id not in job.preferred_technicians:
                ob.continuity_misses += 1
                cost += w.continuity
    for u in plan.unassigned:
        ob.jobs_unassigned += 1
        key = "must_serve" if problem.job(u.job_id).must_serve else str(problem.job(u.job_id).priority)
        ob.unassigned_by_priority[key] = ob.unassigned_by_priority.get(key, 0) + 1
    if spans:
        ob.max_route_span_s, ob.min_route_span_s = max(spans), min(spans)
    ob.cost = cost
    return ob
