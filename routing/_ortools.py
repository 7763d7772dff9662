"""Translate a ``Problem`` into an OR-Tools routing model and read solutions back.

Private plumbing: index bookkeeping lives here so the rest of the package speaks job ids.
Node layout: nodes 0..J-1 are the modelled jobs, then start/end nodes per technician.
All matrices are registered with ``RegisterTransitMatrix`` so no Python callback runs inside
the search (a Python callback per arc evaluation costs a large fraction of the search speed).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp

from . import _control
from ._day import UNBOUNDED, day_arrays, windows
from .model import Job, Problem

BIG = 1 << 60


@dataclass
class Built:
    problem: Problem
    jobs: list[int]  # problem job index per model node
    manager: pywrapcp.RoutingIndexManager
    routing: pywrapcp.RoutingModel
    time: pywrapcp.RoutingDimension
    breaks: dict[int, list] = field(default_factory=dict)  # vehicle -> interval vars
    horizon: int = 0
    hooks: Any = None  # _control.OrToolsHooks, kept alive with the model

    def job_index(self, node_pos: int) -> int:
        return self.manager.NodeToIndex(node_pos)

    def routes_to_indices(self, routes: list[list[int]]) -> list[list[int]]:
        """Per vehicle, problem job indices → routing indices (jobs not modelled are skipped)."""
        pos = {j: k for k, j in enumerate(self.jobs)}
        return [[self.manager.NodeToIndex(pos[j]) for j in r if j in pos] for r in routes]

    def read(
        self, sol: pywrapcp.Assignment
    ) -> tuple[list[list[int]], list[list[int]], list[list[int] | None]]:
        """Solution → (job indices per vehicle, service starts per vehicle, break starts; None where the
        solution left a break's start open: the plan builder then schedules that day itself)."""
        routing, time = self.routing, self.time
        routes, starts, brks = [], [], []
        for v in range(routing.vehicles()):
            idx = routing.Start(v)
            seq, st = [], []
            idx = sol.Value(routing.NextVar(idx))
            while not routing.IsEnd(idx):
                seq.append(self.jobs[self.manager.IndexToNode(idx)])
                st.append(sol.Value(time.CumulVar(idx)))
                idx = sol.Value(routing.NextVar(idx))
            routes.append(seq)
            starts.append(
                [sol.Value(time.CumulVar(routing.Start(v))), *st, sol.Value(time.CumulVar(routing.End(v)))]
            )
            ivs = self.breaks.get(v, [])
            if all(sol.StartMin(iv) == sol.StartMax(iv) for iv in ivs):
                brks.append([sol.StartValue(iv) for iv in ivs])
            else:  # a solution can leave a break unfixed; StartValue would abort the process (a CHECK in C++)
                brks.append(None)
        return routes, starts, brks


def drop_penalties(problem: Problem, jobs: list[int], max_arc_cost: int) -> list[int]:
    """Penalty per modelled job such that dropping one job of a priority class costs more than
    dropping every job of all lower classes together and more than any cost of serving a job.

    That is what "never drop a higher-priority job to serve lower ones" means lexicographically.
    ``must_serve`` forms a class above priority 10.
    """
    w = problem.weights
    horizon = _horizon(problem)
    max_prio = max((problem.jobs[j].priority for j in jobs), default=1)
    # Lateness counts from the SLA deadline, which for an overdue job lies before the day (days or weeks before): its
    # bound is the horizon plus the oldest deadline's age, or serving the oldest backlog would cost more than dropping
    # it, and the oldest jobs would be the first dropped.
    oldest = min((problem.jobs[j].sla_deadline_s or 0 for j in jobs), default=0)
    late_span = horizon - min(0, oldest)
    # Upper bound of what serving one job can add to the rest of the objective.
    base = 1 + 2 * max_arc_cost + w.vehicle_fixed + w.continuity + late_span * w.sla_lateness_per_s * max_prio + \
        horizon * (w.overtime_per_s * 4 + w.balance_per_s)
    classes: dict[int, int] = {}
    for j in jobs:
        c = 11 if problem.jobs[j].must_serve else problem.jobs[j].priority
        classes[c] = classes.get(c, 0) + 1
    pen: dict[int, int] = {}
    below = 0  # sum of penalties of all jobs in lower classes
    for c in sorted(classes):
        pen[c] = min(base + below, BIG // (4 * max(1, len(jobs))))
        below += pen[c] * classes[c]
    return [pen[11 if problem.jobs[j].must_serve else problem.jobs[j].priority] for j in jobs]


def _horizon(problem: Problem) -> int:
    h = max(t.shift_end_s + t.max_overtime_s for t in problem.technicians)
    for j in problem.jobs:
        for w in j.time_windows:
            h = max(h, w.end_s)
    return int(h + 1)


def build(
    problem: Problem,
    jobs: list[int],
    *,
    disabled: frozenset[int] = frozenset(),
    extra_cost: dict[tuple[int, int], int] | None = None,
) -> Built:
    """Build the routing model over ``jobs`` (problem job indices).

    ``disabled`` vehicles may serve nothing (used by the route-minimisation phase).
    ``extra_cost[(vehicle, job)]`` is added to any arc entering that job on that vehicle
    (continuity and re-planning disruption costs ride on it).
    """
    p, w = problem, problem.weights
    techs = p.technicians
    nv, nj = len(techs), len(jobs)
    n = nj + 2 * nv
    locs = np.empty(n, dtype=np.int64)
    locs[:nj] = [p.jobs[j].location for j in jobs]
    for v, t in enumerate(techs):
        locs[nj + 2 * v] = t.depart_loc
        locs[nj + 2 * v + 1] = t.end_loc
    starts = [nj + 2 * v for v in range(nv)]
    ends = [nj + 2 * v + 1 for v in range(nv)]
    manager = pywrapcp.RoutingIndexManager(n, nv, starts, ends)
    routing = pywrapcp.RoutingModel(manager)
    solver = routing.solver()
    horizon = _horizon(p)

    travel = p.travel_time_s[np.ix_(locs, locs)]
    base_cost = w.travel_per_s * travel
    if w.distance_per_m and p.distance_m is not None:
        base_cost = base_cost + w.distance_per_m * p.distance_m[np.ix_(locs, locs)]
    # Arcs into a technician's own end from another's start never happen; keep them cheap anyway.
    np.fill_diagonal(base_cost, 0)

    # The day's constraints, resolved once as the other engines read them (``_day``).
    day = day_arrays(p, list(jobs), extra_cost)
    job_objs: list[Job] = [p.jobs[j] for j in jobs]

    # Per-vehicle service durations (skill scaling) → per-vehicle time matrices, shared when equal.
    services: list[np.ndarray] = []
    for v in range(nv):
        s = np.zeros(n, dtype=np.int64)
        s[:nj] = day.service[v]
        services.append(s)
    time_cb: dict[bytes, int] = {}
    time_idx: list[int] = []
    for v in range(nv):
        key = services[v].tobytes()
        if key not in time_cb:
            time_cb[key] = routing.RegisterTransitMatrix((travel + services[v][:, None]).tolist())
        time_idx.append(time_cb[key])
    routing.AddDimensionWithVehicleTransits(time_idx, horizon, horizon, False, "Time")
    time = routing.GetDimensionOrDie("Time")

    # Per-vehicle arc costs: travel (+distance) + continuity / disruption extras.
    tech_pos = {t.id: v for v, t in enumerate(techs)}
    extras = {v: {k: int(day.extra[v, k]) for k in np.flatnonzero(day.extra[v])} for v in range(nv)}
    cost_cb: dict[tuple, int] = {}
    max_arc = int(base_cost.max()) if base_cost.size else 0
    for v in range(nv):
        key = tuple(sorted(extras[v].items()))
        if key not in cost_cb:
            m = base_cost.copy()
            for k, c in extras[v].items():
                m[:, k] += c
            max_arc = max(max_arc, int(m.max()))
            cost_cb[key] = routing.RegisterTransitMatrix(m.tolist())
        routing.SetArcCostEvaluatorOfVehicle(cost_cb[key], v)
    if w.vehicle_fixed:
        routing.SetFixedCostOfAllVehicles(w.vehicle_fixed)
    if w.balance_per_s:
        time.SetGlobalSpanCostCoefficient(w.balance_per_s)

    # Shifts, overtime (soft beyond shift end), live availability.
    for v in range(nv):
        s_idx, e_idx = routing.Start(v), routing.End(v)
        avail, shift_end, max_end = int(day.avail[v]), int(day.shift_end[v]), int(day.max_end[v])
        time.CumulVar(s_idx).SetRange(avail, max(avail, shift_end))
        time.CumulVar(e_idx).SetRange(avail, max_end)
        if max_end > shift_end and w.overtime_per_s:
            time.SetCumulVarSoftUpperBound(e_idx, shift_end, max(1, int(day.ot_w[v])))
        routing.AddVariableMinimizedByFinalizer(time.CumulVar(e_idx))

    penalties = drop_penalties(p, jobs, max_arc)
    need_seq = any(job.pinned_position is not None for job in job_objs)
    need_load = bool(day.demand.any()) and bool((day.capacity < UNBOUNDED).any())
    for k, job in enumerate(job_objs):
        idx = manager.NodeToIndex(k)
        cum = time.CumulVar(idx)
        tws = windows(day, k)
        if job.in_progress:
            cum.SetRange(0, horizon)
        elif tws:
            cum.SetRange(tws[0][0], tws[-1][1])
            for (_, a_end), (b_start, _) in itertools.pairwise(tws):
                if b_start - 1 >= a_end + 1:
                    cum.RemoveInterval(a_end + 1, b_start - 1)
        if day.sla[k] >= 0 and day.sla_w[k]:
            time.SetCumulVarSoftUpperBound(idx, int(day.sla[k]), int(day.sla_w[k]))
        routing.AddVariableMinimizedByFinalizer(cum)
        allowed = [v for v in range(nv) if v not in disabled and day.allowed[v, k]]
        if len(allowed) < nv:
            routing.VehicleVar(idx).SetValues([-1, *allowed])
        routing.AddDisjunction([idx], penalties[k])
        if job.in_progress:
            v = tech_pos[job.pinned_technician]
            if v not in disabled:
                routing.NextVar(routing.Start(v)).SetValues([idx])

    if need_seq:
        ones = [1] * nj + [0] * (2 * nv)
        cb = routing.RegisterUnaryTransitVector(ones)
        routing.AddDimension(cb, 0, nj + 1, True, "Seq")
        seq = routing.GetDimensionOrDie("Seq")
        for k, job in enumerate(job_objs):
            if job.pinned_position is not None:
                seq.CumulVar(manager.NodeToIndex(k)).SetRange(job.pinned_position, job.pinned_position)

    if need_load:
        dem = [int(x) for x in day.demand] + [0] * (2 * nv)
        cb = routing.RegisterUnaryTransitVector(dem)
        caps = [int(c) if c < UNBOUNDED else BIG // 4 for c in day.capacity]
        routing.AddDimensionWithVehicleCapacity(cb, 0, caps, True, "Load")

    built = Built(p, list(jobs), manager, routing, time, horizon=horizon)
    for v, t in enumerate(techs):
        if not day.nbrk[v]:  # breaks in ``usable_breaks`` order, as the Plan builder reads them back
            continue
        ivs = [
            solver.FixedDurationIntervalVar(
                max(int(day.b_early[v, k]), int(day.avail[v])), int(day.b_late[v, k]), int(day.b_dur[v, k]), False,
                f"break {t.id} {k}",
            )
            for k in range(int(day.nbrk[v]))
        ]
        visit = [0] * routing.Size()
        for i in range(routing.Size()):
            node = manager.IndexToNode(i)
            visit[i] = int(services[v][node])
        time.SetBreakIntervalsOfVehicle(ivs, v, visit)
        for iv in ivs:
            routing.AddIntervalToAssignment(iv)
        built.breaks[v] = ivs
    control = _control.current()
    if control is not None:  # a caller can stop this search and hears its improvements (see _control)
        built.hooks = _control.OrToolsHooks(built, control)
    return built
