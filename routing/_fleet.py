"""Route minimisation by an ejection pool (Nagata & Bräysy 2009), for a fleet of identical technicians.

Why: when every technician used costs (``Weights.vehicle_fixed``, the Solomon objective), OR-Tools' searches
rarely empty a route once the fleet is tight: on the Solomon set the same 7-8 instances kept one vehicle more
than the best known over four sessions of OR-Tools-only variants. This heuristic attacks the fleet directly:
delete a route, put its customers in a pool, and insert them one by one elsewhere; a customer that fits nowhere
goes in anyway by ejecting one or two customers from the route it enters, chosen as those that were ejected
least often so far (penalty counters), and the ejected join the pool. Random feasible moves between routes
(relocate, 2-opt*) after each ejection keep the search from cycling. When the pool empties the fleet is one
smaller; OR-Tools then shortens the routes of the smaller fleet.

Only for problems where this simple model is exact: identical technicians (same depot, shift, capacity, no
breaks, able to do every job), at most one time window per job, nothing pinned. Times are integers as in the
OR-Tools model, so a plan feasible here is feasible there.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import _control
from ._day import day_arrays
from .model import Problem


@dataclass
class FleetModel:
    """Node-level arrays: node 0 is the start depot, 1..n the jobs (``jobs[k - 1]``), n + 1 the end depot."""

    jobs: list[int]
    travel: np.ndarray
    cost: np.ndarray  # arc cost as the objective counts it (travel time and/or distance)
    ready: np.ndarray  # earliest start of service
    due: np.ndarray  # latest start of service
    service: np.ndarray
    demand: np.ndarray
    capacity: int  # a huge number when technicians have no capacity

    def __post_init__(self) -> None:
        # Python lists for the per-route schedule loops: scalar reads from lists are several times faster.
        self.travel_l = self.travel.tolist()
        self.ready_l, self.due_l = self.ready.tolist(), self.due.tolist()
        self.service_l = self.service.tolist()

    @property
    def end(self) -> int:
        return len(self.jobs) + 1


def fleet_model(problem: Problem, jobs: list[int]) -> FleetModel | None:
    """The node arrays, or None when the technicians or jobs are not of the simple kind this heuristic models."""
    techs = problem.technicians
    if not techs or not jobs:
        return None
    t0 = techs[0]
    same = {(t.start_location, t.end_loc, t.shift_start_s, t.shift_end_s, t.capacity) for t in techs}
    if len(same) > 1 or any(t.breaks or t.max_overtime_s or t.current_location is not None
                            or t.busy_until_s is not None for t in techs):
        return None
    day = day_arrays(problem, list(jobs))  # the jobs as every engine reads them (``_day``)
    if not (day.allowed.all() and (day.service == day.service[0]).all() and (day.nwin == 1).all()
            and (day.place < 0).all()):
        return None
    # Node 0 is the start depot, 1..n the jobs, n + 1 the end depot.
    ready = np.r_[t0.shift_start_s, np.maximum(t0.shift_start_s, day.win_start[:, 0]), t0.shift_start_s]
    due = np.r_[t0.shift_end_s, np.minimum(t0.shift_end_s, day.win_end[:, 0]), t0.shift_end_s]
    service = np.r_[0, day.service[0], 0]
    demand = np.r_[0, day.demand, 0]
    loc = np.r_[t0.start_location, day.loc, t0.end_loc]
    w = problem.weights
    travel = np.asarray(problem.travel_time_s, dtype=np.int64)[np.ix_(loc, loc)]
    cost = w.travel_per_s * travel
    if w.distance_per_m and problem.distance_m is not None:
        cost = cost + w.distance_per_m * np.asarray(problem.distance_m, dtype=np.int64)[np.ix_(loc, loc)]
    return FleetModel(
        jobs=list(jobs), travel=travel, cost=cost,
        ready=ready.astype(np.int64), due=due.astype(np.int64), service=service.astype(np.int64),
        demand=demand.astype(np.int64),
        capacity=t0.capacity if t0.capacity is not None else 1 << 50)


def arc_cost_only(problem: Problem, extra_cost: dict | None) -> bool:
    """True when the objective is only arc cost plus a fixed cost per technician used: then a search over this
    model (``_sisr``) optimises exactly what OR-Tools would."""
    w = problem.weights
    if extra_cost or w.balance_per_s:
        return False
    if w.sla_lateness_per_s and any(j.sla_deadline_s is not None for j in problem.jobs):
        return False
    return not (w.continuity and any(j.preferred_technicians for j in problem.jobs))


#: Most (route, ejected set, place) rows checked per ejection: ~40 MB of int64 sequences at routes of 50.
MAX_ROWS = 100_000


class _Route:
    """A route's nodes (with both depots) and its schedule bounds: ``early[i]`` the earliest service start at
    position i, ``late[i]`` the latest start that keeps the rest of the route feasible."""

    __slots__ = ("arr", "cum", "early", "late", "load", "nodes")

    def __init__(self, fm: FleetModel, nodes: list[int]) -> None:
        self.nodes = nodes
        self.refresh(fm)

    def refresh(self, fm: FleetModel) -> None:
        nodes, t, r, d, s = self.nodes, fm.travel_l, fm.ready_l, fm.due_l, fm.service_l
        m = len(nodes)
        early = [0] * m
        early[0] = r[nodes[0]]
        for i in range(1, m):
            early[i] = max(r[nodes[i]], early[i - 1] + s[nodes[i - 1]] + t[nodes[i - 1]][nodes[i]])
        late = [0] * m
        late[-1] = d[nodes[-1]]
        for i in range(m - 2, -1, -1):
            late[i] = min(d[nodes[i]], late[i + 1] - t[nodes[i]][nodes[i + 1]] - s[nodes[i]])
        self.arr = np.asarray(nodes, dtype=np.int64)
        self.early = np.asarray(early, dtype=np.int64)
        self.late = np.asarray(late, dtype=np.int64)
        self.cum = np.cumsum(fm.demand[self.arr])  # load picked up to and including position i
        self.load = int(self.cum[-1])


def feasible(fm: FleetModel, seqs: np.ndarray) -> np.ndarray:
    """Which rows of ``seqs`` (node sequences from start to end depot) meet every time window."""
    t, r, d, s = fm.travel, fm.ready, fm.due, fm.service
    at = r[seqs[:, 0]]
    ok = np.ones(len(seqs), dtype=bool)
    for c in range(1, seqs.shape[1]):
        prev, cur = seqs[:, c - 1], seqs[:, c]
        at = np.maximum(r[cur], at + s[prev] + t[prev, cur])
        ok &= at <= d[cur]
    return ok


class _Solution:
    def __init__(self, fm: FleetModel, routes: list[list[int]], rng: np.random.Generator) -> None:
        self.fm, self.rng = fm, rng
        self.routes = [_Route(fm, [0, *r, fm.end]) for r in routes]

    def gaps(self) -> tuple[np.ndarray, ...]:
        """Every place a customer could go: (route, position before, node before, node after, departure from the
        node before, latest start at the node after, route load)."""
        rs = self.routes
        lens = [len(r.nodes) - 1 for r in rs]
        route = np.repeat(np.arange(len(rs)), lens)
        pos = np.concatenate([np.arange(n) for n in lens])
        nodes = [np.asarray(r.nodes) for r in rs]
        before = np.concatenate([n[:-1] for n in nodes])
        after = np.concatenate([n[1:] for n in nodes])
        depart = np.concatenate([r.early[:-1] for r in rs]) + self.fm.service[before]
        late = np.concatenate([r.late[1:] for r in rs])
        load = np.repeat(np.asarray([r.load for r in rs]), lens)
        return route, pos, before, after, depart, late, load

    def insertions(self, v: int, exclude: int = -1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Feasible (route, position-before, added cost) places for node ``v`` (not in route ``exclude``)."""
        fm = self.fm
        route, pos, before, after, depart, late, load = self.gaps()
        start = np.maximum(fm.ready[v], depart + fm.travel[before, v])
        ok = ((start <= fm.due[v]) & (start + fm.service[v] + fm.travel[v, after] <= late)
              & (load + fm.demand[v] <= fm.capacity) & (route != exclude))
        before, after = before[ok], after[ok]
        return route[ok], pos[ok], fm.cost[before, v] + fm.cost[v, after] - fm.cost[before, after]

    def insert(self, v: int, r: int, pos: int) -> None:
        route = self.routes[r]
        route.nodes.insert(pos + 1, v)
        route.refresh(self.fm)

    def padded(self) -> tuple[np.ndarray, np.ndarray]:
        """All routes as one array, shorter ones padded with the end depot (travel 0, always on time)."""
        lens = np.asarray([len(r.nodes) for r in self.routes])
        nodes = np.full((len(lens), int(lens.max())), self.fm.end, dtype=np.int64)
        for k, r in enumerate(self.routes):
            nodes[k, :lens[k]] = r.nodes
        return nodes, lens

    def ejection(self, v: int, penalty: np.ndarray) -> tuple[int, list[int]] | None:
        """The cheapest way to put ``v`` in by ejecting one or two customers from the route it enters: the lowest
        sum of the ejected customers' penalties, ties at random. Returns (route, its new nodes).

        Every (route, ejected set, place for v) is one row of a single vectorised schedule check."""
        fm = self.fm
        nodes, lens = self.padded()
        m = nodes.shape[1]
        load = np.asarray([r.load for r in self.routes])
        best_p, found, found_r, found_len = math.inf, None, None, None
        for k in (1, 2):
            if k == 2 and best_p <= 2:  # two ejections cost at least 2
                break
            cust = np.arange(1, m - 1)
            sets = cust[:, None] if k == 1 else np.stack([cust[x] for x in np.triu_indices(len(cust), 1)], axis=1)
            rr = np.repeat(np.arange(len(lens)), len(sets))
            ss = np.tile(sets, (len(lens), 1))
            ok = (ss < (lens[rr] - 1)[:, None]).all(axis=1)  # every ejected position holds a customer
            rr, ss = rr[ok], ss[ok]
            out = nodes[rr[:, None], ss]
            psum = penalty[out].sum(axis=1)
            ok = (psum <= best_p) & (load[rr] - fm.demand[out].sum(axis=1) + fm.demand[v] <= fm.capacity)
            rr, ss, psum = rr[ok], ss[ok], psum[ok]
            if not len(rr):
                continue
            if len(rr) * m > MAX_ROWS:  # long routes: a random sample of the ejections keeps memory and time bounded
                pick = np.sort(self.rng.choice(len(rr), MAX_ROWS // m, replace=False))
                rr, ss, psum = rr[pick], ss[pick], psum[pick]
            kept_len = m - k
            kept = np.arange(kept_len)[None, :]
            for c in range(k):  # position in the kept route -> position in the route
                kept = kept + (kept >= ss[:, c:c + 1])
            g = np.arange(kept_len - 1)[None, :, None]  # v goes after kept position g
            jj = np.arange(kept_len + 1)[None, None, :]
            seqs = nodes[rr[:, None, None], kept[np.arange(len(rr))[:, None, None], jj - (jj > g)]]
            seqs = np.where(jj == g + 1, v, seqs)
            valid = g[:, :, 0] <= (lens[rr] - k - 2)[:, None]  # v before the route's own end
            seqs = seqs[valid]
            rows = np.broadcast_to(np.arange(len(rr))[:, None], valid.shape)[valid]
            ok = feasible(fm, seqs)
            if not ok.any():
                continue
            p = psum[rows[ok]].min()
            if p < best_p:
                best_p = p
                pick = np.flatnonzero(ok & (psum[rows] == p))
                found, found_r, found_len = seqs[pick], rr[rows[pick]], lens[rr[rows[pick]]] - k + 1
        if found is None:
            return None
        i = int(self.rng.integers(len(found)))
        return int(found_r[i]), [int(x) for x in found[i, :found_len[i]]]

    def _two_routes(self) -> tuple[int, int]:
        n = len(self.routes)
        a, b = int(self.rng.integers(n)), int(self.rng.integers(n - 1))
        return a, b + (b >= a)

    def perturb(self, moves: int) -> None:
        """Random feasible relocations and 2-opt* exchanges: diversity between ejections."""
        rng, fm = self.rng, self.fm
        for _ in range(moves):
            if len(self.routes) < 2:
                return
            if rng.random() < 0.5:  # move a random customer to a random feasible place in another route
                r, r2 = self._two_routes()
                route, other = self.routes[r], self.routes[r2]
                if len(route.nodes) <= 3:
                    continue
                i = int(rng.integers(1, len(route.nodes) - 1))
                v = route.nodes[i]
                before, after = other.arr[:-1], other.arr[1:]
                start = np.maximum(fm.ready[v], other.early[:-1] + fm.service[before] + fm.travel[before, v])
                ok = np.flatnonzero((start <= fm.due[v])
                                    & (start + fm.service[v] + fm.travel[v, after] <= other.late[1:]))
                if not len(ok) or other.load + fm.demand[v] > fm.capacity:
                    continue
                route.nodes.pop(i)
                route.refresh(fm)
                self.insert(v, r2, int(ok[int(rng.integers(len(ok)))]))
            else:
                r1, r2 = self._two_routes()
                a, b = self.routes[r1], self.routes[r2]
                n1, n2 = a.arr, b.arr
                i = np.arange(len(n1) - 1)[:, None]  # a keeps 0..i, then b's tail from j + 1
                j = np.arange(len(n2) - 1)[None, :]
                dep1 = a.early[i] + fm.service[n1[i]]
                dep2 = b.early[j] + fm.service[n2[j]]
                ok = ((np.maximum(fm.ready[n2[j + 1]], dep1 + fm.travel[n1[i], n2[j + 1]]) <= b.late[j + 1])
                      & (np.maximum(fm.ready[n1[i + 1]], dep2 + fm.travel[n2[j], n1[i + 1]]) <= a.late[i + 1])
                      & (a.cum[i] + b.load - b.cum[j] <= fm.capacity)
                      & (b.cum[j] + a.load - a.cum[i] <= fm.capacity))
                ok &= ~(((i == 0) & (j == 0)) | ((i == len(n1) - 2) & (j == len(n2) - 2)))
                ok &= ~((i == 0) & (j == len(n2) - 2)) & ~((i == len(n1) - 2) & (j == 0))  # a route emptied
                ii, jj = np.nonzero(ok)
                if not len(ii):
                    continue
                k = int(rng.integers(len(ii)))
                x, y = int(ii[k]), int(jj[k])
                a.nodes, b.nodes = a.nodes[:x + 1] + b.nodes[y + 1:], b.nodes[:y + 1] + a.nodes[x + 1:]
                a.refresh(fm)
                b.refresh(fm)


def minimise_routes(fm: FleetModel, routes: list[list[int]], deadline: float, seed: int = 0,
                    moves: int = 10, retry_s: float | None = None,
                    on_success: Callable[[list[list[int]]], None] | None = None,
                    ) -> tuple[list[list[int]], dict[str, float]]:
    """Fewest routes found before ``deadline`` (time.monotonic()), starting from a feasible plan.

    ``routes`` and the result are lists of node numbers (1..n) per non-empty route. Each attempt deletes a random
    route; the attempt ends when its pool empties (success: try the next route) or at the deadline (the last
    successful plan is returned). ``on_success`` gets each smaller plan the moment it is found."""
    rng = np.random.default_rng(seed)
    best = [list(r) for r in routes if r]
    demand = int(fm.demand.sum())
    bound = max(1, math.ceil(demand / fm.capacity)) if demand else 1
    stats: dict[str, float] = {"removed": 0, "ejections": 0, "insertions": 0}
    attempt_end = deadline
    while len(best) > bound and time.monotonic() < deadline and not _control.stopped():
        sol = _Solution(fm, best, rng)
        pool = sol.routes.pop(int(rng.integers(len(sol.routes)))).nodes[1:-1]
        penalty = np.ones(fm.end + 1, dtype=np.int64)
        while pool and time.monotonic() < attempt_end and not _control.stopped():
            v = pool.pop()
            rr, pp, _ = sol.insertions(v)
            if len(rr):  # a random feasible place, as in the paper: cheapest places empty fewer routes
                k = int(rng.integers(len(rr)))
                sol.insert(v, int(rr[k]), int(pp[k]))
                stats["insertions"] += 1
                continue
            penalty[v] += 1
            ej = sol.ejection(v, penalty)
            if ej is None:  # fits nowhere even with two ejections: retry it later
                pool.insert(0, v)
            else:
                r, seq = ej
                route = sol.routes[r]
                pool.extend(x for x in route.nodes[1:-1] if x not in seq)
                route.nodes = seq
                route.refresh(fm)
                stats["ejections"] += 1
            sol.perturb(moves)
        if pool:
            break
        best = [r.nodes[1:-1] for r in sol.routes]
        stats["removed"] += 1
        stats["success_at"] = time.monotonic()
        if on_success is not None:
            on_success(best)
        if retry_s is not None:
            attempt_end = min(deadline, time.monotonic() + retry_s)
    return best, stats
