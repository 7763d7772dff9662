"""One description of a field-service day, as named arrays that every engine reads.

Why: each constraint of a day (who may do a job, how long it takes them, its windows, SLA, capacity, shifts, breaks,
fixed places) used to be worked out again by each engine — the compiled SISR unpacked a 24-field positional tuple,
OR-Tools read the ``Job`` objects, the live insertion check and the feasibility check each had their own rule. Now
``day_arrays`` resolves a day once and the engines read the same fields by name; a new constraint is a field here and
its use where it binds. ``DayArrays`` is a ``NamedTuple``, so numba's kernels take it as it is and read ``d.travel``.

Indices: ``v`` = position of a technician in ``problem.technicians``; ``k`` = position of a job in the ``jobs`` list
given (problem job indices), not the problem's own index. Times are seconds from the day's origin; costs are the
objective's integer units (``Weights``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

from .model import Job, Problem, Technician
from .schedule import usable_breaks

#: "No limit": a window with no end, a technician with no capacity.
UNBOUNDED = np.int64(1) << 62

I64 = NDArray[np.int64]


class DayArrays(NamedTuple):
    """A day over a list of jobs, resolved once: everything an engine needs to time and cost a route."""

    travel: I64  # (locations, locations) s
    arc: I64  # (locations, locations) cost of driving each arc: travel (+ distance) weighted
    loc: I64  # (jobs,) matrix index of each job
    service: I64  # (technicians, jobs) s on site, skill-scaled per technician
    nwin: I64  # (jobs,) number of time windows (1 with an unbounded window when the job has none)
    win_start: I64  # (jobs, max windows) s
    win_end: I64  # (jobs, max windows) s; UNBOUNDED = open
    sla: I64  # (jobs,) SLA deadline s, -1 = none
    sla_w: I64  # (jobs,) lateness cost per s past the deadline (weight x priority)
    extra: I64  # (technicians, jobs) cost of this technician doing this job (continuity, caller's extra costs)
    demand: I64  # (jobs,)
    capacity: I64  # (technicians,) UNBOUNDED = none
    avail: I64  # (technicians,) s the technician can start (live position time or shift start)
    depart: I64  # (technicians,) matrix index they start from
    end_loc: I64  # (technicians,) matrix index they end at
    shift_end: I64  # (technicians,) s
    max_end: I64  # (technicians,) shift end + allowed overtime, s
    ot_w: I64  # (technicians,) overtime cost per s
    fixed: np.int64  # cost of using a technician at all
    nbrk: I64  # (technicians,) breaks still to take
    b_dur: I64  # (technicians, max breaks) s
    b_early: I64  # (technicians, max breaks) earliest start s
    b_late: I64  # (technicians, max breaks) latest start s
    place: I64  # (jobs,) the only position the job may take in its route (work in progress: 0; pinned), -1 = any
    allowed: NDArray[np.bool_]  # (technicians, jobs) skills suffice and no pin to another technician


def _skill_tables(p: Problem, job_objs: list[Job]) -> tuple[np.ndarray, np.ndarray]:
    """(technician × job) whether the skills suffice (``Problem.can_do``) and the service seconds
    (``Problem.service_s``), each worked out once per distinct pair of a technician's skills and a job's needs and
    duration: per pair of technician and job it was 10 million Python calls on a 2,000-vehicle, 5,000-job horizon."""
    t_key: dict[tuple, int] = {}
    t_rep: list[Technician] = []
    t_idx = np.empty(len(p.technicians), np.int64)
    for v, t in enumerate(p.technicians):
        key = tuple(sorted(t.skills.items()))
        if key not in t_key:
            t_key[key] = len(t_rep)
            t_rep.append(t)
        t_idx[v] = t_key[key]
    j_key: dict[tuple, int] = {}
    j_rep: list[Job] = []
    j_idx = np.empty(len(job_objs), np.int64)
    for k, job in enumerate(job_objs):
        key = (tuple(sorted(job.required_skills.items())), job.duration_s, job.scale_duration_by_skill)
        if key not in j_key:
            j_key[key] = len(j_rep)
            j_rep.append(job)
        j_idx[k] = j_key[key]
    can = np.array([[p.can_do(t, job) for job in j_rep] for t in t_rep], np.bool_).reshape(len(t_rep), len(j_rep))
    svc = np.array([[p.service_s(job, t) for job in j_rep] for t in t_rep], np.int64).reshape(len(t_rep), len(j_rep))
    return can[np.ix_(t_idx, j_idx)], svc[np.ix_(t_idx, j_idx)]


def day_arrays(problem: Problem, jobs: list[int], extra_cost: dict[tuple[int, int], int] | None = None) -> DayArrays:
    """Resolve ``problem`` over ``jobs`` (problem job indices). ``extra_cost[(v, j)]`` (j a problem job index) is
    added when technician ``v`` does job ``j`` (re-planning disruption costs ride on it)."""
    p, w = problem, problem.weights
    techs = p.technicians
    nv, nj = len(techs), len(jobs)
    job_objs = [p.jobs[j] for j in jobs]
    tt = np.asarray(p.travel_time_s, dtype=np.int64)
    arc = w.travel_per_s * tt
    if w.distance_per_m and p.distance_m is not None:
        arc = arc + w.distance_per_m * np.asarray(p.distance_m, dtype=np.int64)
    max_w = max([1, *(len(j.time_windows) for j in job_objs)])
    nwin = np.ones(nj, np.int64)
    ws = np.zeros((nj, max_w), np.int64)
    we = np.full((nj, max_w), UNBOUNDED, np.int64)
    for k, job in enumerate(job_objs):
        if job.time_windows and not job.in_progress:  # work in progress has started: no window applies
            nwin[k] = len(job.time_windows)
            for q, tw in enumerate(job.time_windows):
                ws[k, q], we[k, q] = tw.start_s, tw.end_s
    tech_pos = {t.id: v for v, t in enumerate(techs)}
    extra = np.zeros((nv, nj), np.int64)
    allowed, service = _skill_tables(p, job_objs)
    for k, job in enumerate(job_objs):
        if job.preferred_technicians and w.continuity:
            pref = {tech_pos[i] for i in job.preferred_technicians}
            extra[[v for v in range(nv) if v not in pref], k] += w.continuity
        if job.pinned_technician is not None:
            allowed[:, k] &= np.array([t.id == job.pinned_technician for t in techs], np.bool_)
    local = {j: k for k, j in enumerate(jobs)}
    for (v, j), c in (extra_cost or {}).items():
        if j in local:
            extra[v, local[j]] += c
    brks = [usable_breaks(t) for t in techs]
    nb_max = max([1, *map(len, brks)])
    b_dur = np.zeros((nv, nb_max), np.int64)
    b_early = np.zeros((nv, nb_max), np.int64)
    b_late = np.zeros((nv, nb_max), np.int64)
    for v, bl in enumerate(brks):
        for q, b in enumerate(bl):
            b_dur[v, q], b_early[v, q], b_late[v, q] = b.duration_s, b.earliest_start_s, b.latest_start_s
    return DayArrays(
        travel=tt,
        arc=arc.astype(np.int64),
        loc=np.array([j.location for j in job_objs], np.int64),
        service=service,
        nwin=nwin, win_start=ws, win_end=we,
        sla=np.array([j.sla_deadline_s if j.sla_deadline_s is not None else -1 for j in job_objs], np.int64),
        sla_w=np.array([w.sla_lateness_per_s * j.priority for j in job_objs], np.int64),
        extra=extra,
        demand=np.array([j.demand for j in job_objs], np.int64),
        capacity=np.array([t.capacity if t.capacity is not None else UNBOUNDED for t in techs], np.int64),
        avail=np.array([t.available_from_s for t in techs], np.int64),
        depart=np.array([t.depart_loc for t in techs], np.int64),
        end_loc=np.array([t.end_loc for t in techs], np.int64),
        shift_end=np.array([t.shift_end_s for t in techs], np.int64),
        max_end=np.array([t.shift_end_s + t.max_overtime_s for t in techs], np.int64),
        ot_w=np.array([round(w.overtime_per_s * t.overtime_cost_factor) for t in techs], np.int64),
        fixed=np.int64(w.vehicle_fixed),
        nbrk=np.array(list(map(len, brks)), np.int64), b_dur=b_dur, b_early=b_early, b_late=b_late,
        place=np.array([0 if j.in_progress else -1 if j.pinned_position is None else j.pinned_position
                        for j in job_objs], np.int64),
        allowed=allowed,
    )


def windows(d: DayArrays, k: int) -> list[tuple[int, int]]:
    """Job k's time windows as (start s, end s); [] when it has none (or is in progress)."""
    if d.win_end[k, 0] == UNBOUNDED and d.nwin[k] == 1 and d.win_start[k, 0] == 0:
        return []
    return [(int(d.win_start[k, q]), int(d.win_end[k, q])) for q in range(int(d.nwin[k]))]
