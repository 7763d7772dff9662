"""An independent feasibility checker for plans.

It re-derives every constraint from the ``Problem`` and the plan's own times — it shares no
code with the OR-Tools model — so tests and benchmarks can trust a plan without trusting the
solver. An empty list means feasible.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Problem
from .plan import Plan
from .schedule import usable_breaks


@dataclass(frozen=True, slots=True)
class Violation:
    kind: str  # skills, window, shift, break, travel, sequence, capacity, pinned, coverage
    item: str  # "job 'J1'" or "technician 'T1'"
    message: str

    def __str__(self) -> str:
        return f"{self.item}: {self.kind}: {self.message}"


def check_feasibility(problem: Problem, plan: Plan) -> list[Violation]:
    """All hard-constraint violations of ``plan`` for ``problem``."""
    out: list[Violation] = []
    tt = problem.travel_time_s
    jobs = {j.id: j for j in problem.jobs}
    seen: dict[str, str] = {}
    for route in plan.routes:
        who = f"technician '{route.technician_id}'"
        try:
            tech = problem.technician(route.technician_id)
        except KeyError:
            out.append(Violation("coverage", who, "unknown technician"))
            continue
        if not route.stops:
            continue
        if route.start_s < tech.available_from_s:
            out.append(Violation("shift", who, f"starts at {route.start_s} before {tech.available_from_s}"))
        limit = tech.shift_end_s + tech.max_overtime_s
        if route.end_s > limit:
            out.append(Violation("shift", who, f"ends at {route.end_s} after shift end + overtime {limit}"))
        load = 0
        loc, prev_end = tech.depart_loc, route.start_s
        busy: list[tuple[int, int, str]] = []
        for pos, stop in enumerate(route.stops):
            item = f"job '{stop.job_id}'"
            job = jobs.get(stop.job_id)
            if job is None:
                out.append(Violation("coverage", item, "unknown job"))
                continue
            if stop.job_id in seen:
                out.append(Violation("coverage", item, f"served twice ({seen[stop.job_id]}, {tech.id})"))
            seen[stop.job_id] = tech.id
            for s, lvl in job.required_skills.items():
                if tech.level(s) < lvl:
                    out.append(Violation("skills", item, f"needs {s}>={lvl}, {tech.id} has {tech.level(s)}"))
            if job.pinned_technician not in (None, tech.id):
                out.append(Violation("pinned", item, f"pinned to {job.pinned_technician}, served by {tech.id}"))
            if job.pinned_position is not None and job.pinned_position != pos:
                out.append(Violation("pinned", item, f"pinned at position {job.pinned_position}, is at {pos}"))
            if job.in_progress and pos != 0:
                out.append(Violation("pinned", item, "in progress but not the first stop"))
            if not job.in_progress and job.time_windows and not any(
                w.start_s <= stop.start_s <= w.end_s for w in job.time_windows
            ):
                out.append(Violation("window", item, f"starts at {stop.start_s}, outside every time window"))
            dur = problem.service_s(job, tech)
            if stop.end_s - stop.start_s != dur:
                out.append(Violation("sequence", item, f"service lasts {stop.end_s - stop.start_s}s, needs {dur}s"))
            travel = int(tt[loc, job.location])
            gap_breaks = sum(b.end_s - b.start_s for b in route.breaks
                             if b.start_s >= prev_end and b.end_s <= stop.start_s)
            if stop.start_s < prev_end + travel + gap_breaks:
                out.append(Violation(
                    "travel", item,
                    f"starts at {stop.start_s}, but leaving at {prev_end} needs {travel}s travel"
                    + (f" + {gap_breaks}s break" if gap_breaks else ""),
                ))
            busy.append((stop.start_s, stop.end_s, item))
            load += job.demand
            prev_end, loc = stop.end_s, job.location
        travel = int(tt[loc, tech.end_loc])
        gap_breaks = sum(b.end_s - b.start_s for b in route.breaks if b.start_s >= prev_end)
        if route.end_s < prev_end + travel + gap_breaks:
            out.append(Violation("travel", who, f"back at {route.end_s}, needs {prev_end + travel + gap_breaks}"))
        if tech.capacity is not None and load > tech.capacity:
            out.append(Violation("capacity", who, f"load {load} exceeds capacity {tech.capacity}"))
        need = usable_breaks(tech)
        if len(route.breaks) != len(need):
            out.append(Violation("break", who, f"{len(route.breaks)} breaks planned, {len(need)} required"))
        for b, spec in zip(sorted(route.breaks, key=lambda b: b.start_s), need, strict=False):
            if b.end_s - b.start_s != spec.duration_s:
                out.append(Violation("break", who, f"break at {b.start_s} lasts {b.end_s - b.start_s}s"))
            if b.start_s < spec.earliest_start_s or b.end_s > spec.latest_end_s:
                out.append(Violation("break", who, f"break {b.start_s}-{b.end_s} outside "
                                     f"[{spec.earliest_start_s}, {spec.latest_end_s}]"))
            if b.start_s < route.start_s or b.end_s > route.end_s:
                out.append(Violation("break", who, f"break {b.start_s}-{b.end_s} outside the route"))
            for s0, e0, item in busy:
                if b.start_s < e0 and s0 < b.end_s:
                    out.append(Violation("break", who, f"break {b.start_s}-{b.end_s} overlaps {item}"))
    listed = set(seen) | {u.job_id for u in plan.unassigned}
    for u in plan.unassigned:
        if u.job_id in seen:
            out.append(Violation("coverage", f"job '{u.job_id}'", "both served and unassigned"))
    for j in problem.jobs:
        if j.id not in listed:
            out.append(Violation("coverage", f"job '{j.id}'", "neither served nor unassigned"))
    return out
