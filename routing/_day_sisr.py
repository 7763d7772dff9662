"""SISR for a field-service day: skills, each technician's own home, shift, overtime and breaks, jobs with several
windows, soft SLA deadlines and priority drop penalties — compiled with numba.

Why: on a day with lunch breaks OR-Tools' local search is slow (each move re-checks the break intervals), so within
10 s its metaheuristics hardly run. Here every candidate route is checked by a compiled copy of
``schedule.simulate`` (earliest starts, breaks taken as late as still allowed), which is exactly how the plan
builder times a route, so every plan found is feasible as built. Routes of a day are short (~8 jobs), so checking a
whole route per candidate place costs little. Objective as ``schedule.evaluate``: arc cost, overtime, SLA lateness
weighted by priority, continuity misses, a fixed cost per technician used, plus ``_ortools.drop_penalties`` for
jobs left out.
"""

from __future__ import annotations

import math
import time

import numba as nb
import numpy as np

from . import _control, _ortools
from ._day import day_arrays
from ._sisr import ruin_size, run_batches, seed_kernels
from .model import Problem

INF = np.int64(1) << 62
BLINK = 0.01


@nb.njit(cache=True)
def _window_start(j, t, nwin, win_start, win_end):
    for k in range(nwin[j]):
        if t <= win_end[j, k]:
            return max(t, win_start[j, k])
    return -1


@nb.njit(cache=True)
def _take_break(t, trav, early, late, dur):
    """Take a break now (or at its earliest start): the drive of ``trav`` goes on until then. Returns (time after the
    break, drive left), or (-1, 0) when its latest start has passed."""
    bs = max(t, early)
    if bs > late:
        return -1, 0
    return bs + dur, trav - min(trav, bs - t)


@nb.njit(cache=True, inline="always")  # a call passes the day's ~25 arrays: inlined, ~10% more iterations per second
def route_cost(v, seq, m, d, limit=INF):
    """Cost of technician v doing seq[:m] (as ``schedule.simulate`` times it), or -1 when infeasible. ``d`` is the
    day (``_day.DayArrays``). An insertion asks only whether a place beats the best so far: once the cost of the
    jobs so far reaches ``limit`` the answer is ``limit``, the rest of the route unchecked (every term is a cost >= 0,
    so the route cannot come back under it). Under the limit the answer is exact.

    ``d.place[j]`` >= 0: job j may stand only at that position of its route (work in progress first; a dispatcher's
    pinned position). Checking it here makes every insertion and removal of the search respect it."""
    if m == 0:
        return 0
    t = d.avail[v]
    here = d.depart[v]
    pb = 0
    cost = d.fixed
    load = 0
    for k in range(m):
        j = seq[k]
        if d.place[j] >= 0 and d.place[j] != k:
            return -1
        load += d.demand[j]
        dur = d.service[v, j]
        trav = d.travel[here, d.loc[j]]
        while pb < d.nbrk[v]:
            s = _window_start(j, t + trav, d.nwin, d.win_start, d.win_end)
            if s >= 0 and max(s + dur, d.b_early[v, pb]) <= d.b_late[v, pb]:
                break  # the break can still come after this job
            t, trav = _take_break(t, trav, d.b_early[v, pb], d.b_late[v, pb], d.b_dur[v, pb])
            if t < 0:
                return -1
            pb += 1
        s = _window_start(j, t + trav, d.nwin, d.win_start, d.win_end)
        if s < 0:
            return -1
        if d.sla[j] >= 0 and s > d.sla[j]:
            cost += d.sla_w[j] * (s - d.sla[j])
        cost += d.arc[here, d.loc[j]] + d.extra[v, j]
        if cost >= limit:
            return limit
        t = s + dur
        here = d.loc[j]
    if load > d.capacity[v]:
        return -1
    trav = d.travel[here, d.end_loc[v]]
    while pb < d.nbrk[v]:
        t, trav = _take_break(t, trav, d.b_early[v, pb], d.b_late[v, pb], d.b_dur[v, pb])
        if t < 0:
            return -1
        pb += 1
    end = t + trav
    if end > d.max_end[v]:
        return -1
    cost += d.arc[here, d.end_loc[v]]
    if end > d.shift_end[v]:
        cost += d.ot_w[v] * (end - d.shift_end[v])
    return cost


@nb.njit(cache=True)
def _insert_all(rem, n_rem, routes, lens, rcost, unassigned, d, buf, blink):
    """Cheapest feasible insertion of each job in rem[:n_rem] (in that order); jobs that fit nowhere stay out.

    A place is timed (``route_cost``, the whole route) only when its lower bound is below the best found so far: the
    arcs' detour plus the job's own extra cost plus the technician's fixed cost on an empty route, since inserting
    a job never lets anyone start earlier and so never lowers the lateness or overtime terms. The places chosen are
    the ones timing every place would choose (``tests/routing/test_day_sisr.py`` compares), and the blinks (places
    skipped at random) are drawn as before, so a seeded search follows the same path, faster. A place that passes the
    bound is timed only until its cost reaches the best (``route_cost``'s ``limit``)."""
    n_v = routes.shape[0]
    for oi in range(n_rem):
        j = rem[oi]
        lj = d.loc[j]
        best = INF
        bv = -1
        bp = -1
        for v in range(n_v):
            if not d.allowed[v, j]:
                continue
            m = lens[v]
            own = d.extra[v, j] + (d.fixed if m == 0 else 0)
            for p in range(m + 1):
                if blink and np.random.random() < BLINK:
                    continue
                a = d.depart[v] if p == 0 else d.loc[routes[v, p - 1]]
                b = d.end_loc[v] if p == m else d.loc[routes[v, p]]
                if d.arc[a, lj] + d.arc[lj, b] - d.arc[a, b] + own >= best:
                    continue
                for q in range(p):
                    buf[q] = routes[v, q]
                buf[p] = j
                for q in range(p, m):
                    buf[q + 1] = routes[v, q]
                c = route_cost(v, buf, m + 1, d, best + rcost[v])
                if c < 0:
                    continue
                delta = c - rcost[v]
                if delta < best:
                    best = delta
                    bv = v
                    bp = p
        if bv < 0:
            unassigned[j] = True
            continue
        m = lens[bv]
        for q in range(m, bp, -1):
            routes[bv, q] = routes[bv, q - 1]
        routes[bv, bp] = j
        lens[bv] = m + 1
        rcost[bv] += best
        unassigned[j] = False


@nb.njit(cache=True)
def _total(rcost, unassigned, penalty):
    t = 0
    for v in range(len(rcost)):
        t += rcost[v]
    for j in range(len(unassigned)):
        if unassigned[j]:
            t += penalty[j]
    return t


@nb.njit(cache=True)
def construct(routes, lens, rcost, unassigned, priority, d):
    """The starting plan: every job, highest priority first, at its cheapest feasible place."""
    n = len(unassigned)
    order = np.argsort(-priority * 1_000_000 + np.arange(n))
    rem = np.empty(n, dtype=np.int64)
    for k in range(n):
        rem[k] = order[k]
    buf = np.empty(n + 1, dtype=np.int64)
    _insert_all(rem, n, routes, lens, rcost, unassigned, d, buf, False)


@nb.njit(cache=True)
def sisr_batch(iterations, temp_from, temp_to, routes, lens, rcost, unassigned, b_routes, b_lens, b_unassigned,
               penalty, priority, adj, d, state):
    """SISR iterations on (routes, lens, rcost, unassigned); best kept in b_*; state = [current, best, iterations].
    Every route is copied back on acceptance or rejection: a day has few, short routes."""
    n_v = routes.shape[0]
    n = len(unassigned)
    w_routes = routes.copy()
    w_lens = lens.copy()
    w_rcost = rcost.copy()
    w_un = unassigned.copy()
    rem = np.empty(n, dtype=np.int64)
    removed = np.zeros(n, dtype=np.bool_)
    ruined = np.zeros(n_v, dtype=np.bool_)
    route_of = np.full(n, -1, dtype=np.int64)
    keys = np.empty(n, dtype=np.float64)
    buf = np.empty(n + 1, dtype=np.int64)
    sla_of = d.sla
    cur = state[0]
    for it in range(iterations):
        temp = temp_from * (temp_to / temp_from) ** (it / max(1, iterations))
        route_of[:] = -1
        ruined[:] = False
        for v in range(n_v):
            for q in range(w_lens[v]):
                route_of[w_routes[v, q]] = v
        n_rem = 0
        for j in range(n):  # jobs left out are retried every time
            if w_un[j]:
                rem[n_rem] = j
                n_rem += 1
                removed[j] = True
        ls_max, ks = ruin_size(w_lens)
        seed = np.random.randint(0, n)
        strings = 0
        for k in range(n):
            if strings >= ks:
                break
            c = adj[seed, k]
            v = route_of[c]
            if removed[c] or v < 0 or ruined[v]:
                continue
            m = w_lens[v]
            ln = int(np.random.random() * min(float(m), ls_max)) + 1
            p = 0
            while w_routes[v, p] != c:
                p += 1
            lo = max(0, p - ln + 1)
            hi = min(p, m - ln)
            s = lo + np.random.randint(0, hi - lo + 1)
            for q in range(s, s + ln):
                x = w_routes[v, q]
                removed[x] = True
                rem[n_rem] = x
                n_rem += 1
            jq = 0
            for q in range(m):
                x = w_routes[v, q]
                if not removed[x]:
                    w_routes[v, jq] = x
                    jq += 1
            w_lens[v] = jq
            w_rcost[v] = route_cost(v, w_routes[v], jq, d)
            ruined[v] = True
            strings += 1
        feasible = True
        for v in range(n_v):
            if ruined[v] and w_rcost[v] < 0:  # removing a job broke the route (a break no longer fits)
                feasible = False
        if feasible:
            u = np.random.random() * 10.0
            for i in range(n_rem):  # random order, or highest priority first, or earliest deadline first
                x = rem[i]
                if u < 4.0:
                    keys[i] = np.random.random()
                elif u < 8.0:
                    keys[i] = -priority[x] + 0.5 * np.random.random()
                else:
                    keys[i] = (float(sla_of[x]) if sla_of[x] >= 0 else 1e18) + np.random.random()  # no SLA: last
            order = np.argsort(keys[:n_rem])
            tmp = np.empty(n_rem, dtype=np.int64)
            for i in range(n_rem):
                tmp[i] = rem[order[i]]
                removed[tmp[i]] = False
            _insert_all(tmp, n_rem, w_routes, w_lens, w_rcost, w_un, d, buf, True)
        else:
            for i in range(n_rem):
                removed[rem[i]] = False
        new = _total(w_rcost, w_un, penalty) if feasible else INF
        if feasible and new < cur - temp * math.log(np.random.random()):
            cur = new
            routes[:, :] = w_routes
            lens[:] = w_lens
            rcost[:] = w_rcost
            unassigned[:] = w_un
            if cur < state[1]:
                state[1] = cur
                b_routes[:, :] = routes
                b_lens[:] = lens
                b_unassigned[:] = unassigned
        else:
            w_routes[:, :] = routes
            w_lens[:] = lens
            w_rcost[:] = rcost
            w_un[:] = unassigned
    state[0] = cur
    state[2] += iterations


class DaySearch:
    """SISR over a field-service day: build arrays, construct, run until a deadline, read the best routes."""

    def __init__(self, problem: Problem, jobs: list[int], extra_cost: dict | None = None, seed: int = 0,
                 start: list[list[int]] | None = None) -> None:
        """``start``: routes to begin from (problem job indices per technician, e.g. the plan being re-planned); the
        jobs they leave out are inserted cheapest-first by priority. Without it, cheapest insertion by priority."""
        p = problem
        self.jobs = list(jobs)
        self.d = d = day_arrays(p, self.jobs, extra_cost)
        job_objs = [p.jobs[j] for j in jobs]
        nv, nj = d.service.shape
        max_arc = int(d.arc.max()) if d.arc.size else 0
        self.penalty = np.array(_ortools.drop_penalties(p, jobs, max_arc + int(d.extra.max(initial=0))), np.int64)
        self.priority = np.array([11 if j.must_serve else j.priority for j in job_objs], np.int64)
        near = d.travel[np.ix_(d.loc, d.loc)] + d.travel[np.ix_(d.loc, d.loc)].T
        self.adj = np.argsort(near, axis=1, kind="stable").astype(np.int64)
        self.routes = np.zeros((nv, nj + 1), np.int64)
        self.lens = np.zeros(nv, np.int64)
        self.rcost = np.zeros(nv, np.int64)
        self.unassigned = np.ones(nj, np.bool_)
        seed_kernels(seed)
        if start is None:
            construct(self.routes, self.lens, self.rcost, self.unassigned, self.priority, d)
        else:
            self._begin_with(start)
        total = _total(self.rcost, self.unassigned, self.penalty)
        self.state = np.array([total, total, 0], np.int64)
        self.b_routes, self.b_lens, self.b_unassigned = self.routes.copy(), self.lens.copy(), self.unassigned.copy()

    def _begin_with(self, start: list[list[int]]) -> None:
        """Each technician's given route, kept as far as it stays feasible (a job that no longer fits is left out),
        then every job not placed inserted cheapest-first, highest priority first."""
        local = {j: k for k, j in enumerate(self.jobs)}
        buf = np.empty(len(self.jobs) + 1, dtype=np.int64)
        for v, route in enumerate(start[:len(self.lens)]):
            m = 0
            for j in route:
                k = local.get(j)
                if k is None or not self.unassigned[k] or not self.d.allowed[v, k]:
                    continue
                buf[:m] = self.routes[v, :m]
                buf[m] = k
                c = route_cost(v, buf, m + 1, self.d)
                if c < 0:
                    continue
                self.routes[v, m] = k
                m += 1
                self.rcost[v] = c
                self.unassigned[k] = False
            self.lens[v] = m
        missing = np.array(sorted(np.flatnonzero(self.unassigned), key=lambda k: (-self.priority[k], k)), np.int64)
        _insert_all(missing, len(missing), self.routes, self.lens, self.rcost, self.unassigned, self.d, buf, False)

    @property
    def best_cost(self) -> int:
        return int(self.state[1])

    def best_routes(self) -> list[list[int]]:
        """Problem job indices per technician."""
        return [[self.jobs[x] for x in self.b_routes[v, :self.b_lens[v]]] for v in range(len(self.b_lens))]

    def run(self, deadline: float, temp_from: float, temp_to: float) -> None:
        """Iterate until ``deadline`` (time.monotonic()), cooling geometrically from ``temp_from`` to ``temp_to``."""

        def batch(iterations: int, t0: float, t1: float) -> None:
            sisr_batch(iterations, t0, t1, self.routes, self.lens, self.rcost, self.unassigned, self.b_routes,
                       self.b_lens, self.b_unassigned, self.penalty, self.priority, self.adj, self.d, self.state)

        def between() -> bool:
            _control.offer(self.best_cost, self.best_routes)
            return False

        run_batches(batch, deadline, temp_from, temp_to, between, seconds=0.05)
        _control.offer(self.best_cost, self.best_routes, force=True)


def warm_up() -> None:
    """Load (first time ever: compile, then cached on disk) the kernels on a one-job day."""
    from .model import Job, Technician

    problem = Problem([Technician("t", 0, 100, 0)], [Job("j", 1, 1)], np.array([[0, 1], [1, 0]]))
    DaySearch(problem, [0]).run(time.monotonic() + 0.001, 1.0, 0.1)
