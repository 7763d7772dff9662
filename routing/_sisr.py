"""Slack Induction by String Removals (SISR, Christiaens & Vanden Berghe 2020), compiled with numba.

Why: OR-Tools' own SISR-style iterated local search runs a few thousand ruin-and-recreate iterations per second from
Python-built models; SISR's strength comes from millions of cheap iterations. On the simple fleet model of
``_fleet`` (identical technicians, one window per job, capacity) the whole iteration — ruin adjacent strings of
customers, re-insert them by cheapest feasible position with blinks, simulated-annealing acceptance — runs in a few
microseconds here (about 100-160 thousand iterations per second on Solomon's 100 customers, one core). Times are
integers as in the OR-Tools model, so a plan feasible here is feasible there.

The objective is arc cost plus a fixed cost per technician used; ``_fleet.arc_cost_only`` says when that is all of
it. State lives in numpy arrays so the compiled kernel runs in batches, between which Python looks at the clock and
at the portfolio's board.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numba as nb
import numpy as np

from . import _control
from ._fleet import FleetModel

C_BAR = 10.0  # average number of customers removed per ruin
L_MAX = 10.0  # longest string removed from one route
BLINK = 0.01  # chance to skip a position when re-inserting (diversity)
SPLIT = 0.5  # chance of a split string (keep a middle part) instead of a plain string


@nb.njit(cache=True, inline="always")
def _refresh(r, routes, lens, early, late, load, dist, travel, cost, ready, due, service, demand):
    """Schedule bounds, load and cost of route r; False when a time window is missed."""
    m = lens[r]
    ok = True
    early[r, 0] = ready[routes[r, 0]]
    ld = 0
    d = 0
    for i in range(1, m + 2):
        a = routes[r, i - 1]
        b = routes[r, i]
        e = early[r, i - 1] + service[a] + travel[a, b]
        if e < ready[b]:
            e = ready[b]
        if e > due[b]:
            ok = False
        early[r, i] = e
        ld += demand[b]
        d += cost[a, b]
    load[r] = ld
    dist[r] = d if m > 0 else 0
    late[r, m + 1] = due[routes[r, m + 1]]
    for i in range(m, -1, -1):
        a = routes[r, i]
        b = routes[r, i + 1]
        lt = late[r, i + 1] - travel[a, b] - service[a]
        if lt > due[a]:
            lt = due[a]
        late[r, i] = lt
    return ok


@nb.njit(cache=True)
def ruin_size(lens):
    """SISR's ruin for this solution: the longest string to remove from one route (``L_MAX`` or the mean route
    length) and how many strings, drawn so that about ``C_BAR`` customers go in all."""
    used = 0
    total = 0
    for r in range(len(lens)):
        if lens[r] > 0:
            used += 1
            total += lens[r]
    ls_max = min(L_MAX, total / max(1, used))
    return ls_max, int(np.random.random() * (4.0 * C_BAR / (1.0 + ls_max) - 1.0)) + 1


@nb.njit(cache=True)
def _total(lens, dist, fixed):
    t = 0
    for r in range(len(lens)):
        if lens[r] > 0:
            t += dist[r] + fixed
    return t


@nb.njit(cache=True, inline="always")
def _copy_route(r, src_routes, src_lens, src_early, src_late, src_load, src_dist,
                dst_routes, dst_lens, dst_early, dst_late, dst_load, dst_dist):
    m = src_lens[r] + 2
    dst_routes[r, :m] = src_routes[r, :m]
    dst_early[r, :m] = src_early[r, :m]
    dst_late[r, :m] = src_late[r, :m]
    dst_lens[r] = src_lens[r]
    dst_load[r] = src_load[r]
    dst_dist[r] = src_dist[r]


@nb.njit(cache=True)
def _recreate_order(rem_list, n_rem, keys, demand, travel):
    """The order the removed customers are re-inserted in (SISR's sort: random, largest demand, farthest or nearest
    to the depot, drawn at random 4:4:2:1)."""
    u = np.random.random() * 11.0
    for i in range(n_rem):
        v = rem_list[i]
        if u < 4.0:
            keys[i] = np.random.random()
        elif u < 8.0:
            keys[i] = -demand[v]
        elif u < 10.0:
            keys[i] = -travel[0, v]
        else:
            keys[i] = travel[0, v]
    return np.argsort(keys[:n_rem])


@nb.njit(cache=True, inline="always")
def _best_insertion(v, open_r, w_routes, w_lens, w_early, w_late, w_load, fixed, capacity, travel, cost, ready, due,
                    service, demand):
    """(route, position) of customer ``v``'s cheapest feasible insertion among the routes ``open_r`` allows, each
    position skipped with chance BLINK; (-1, -1) when it fits nowhere. One empty route is tried at most."""
    best_d = np.int64(1) << 62
    br = -1
    bp = -1
    empty_seen = False
    for r in range(w_lens.shape[0]):
        if not open_r[r]:
            continue
        m = w_lens[r]
        if m == 0:
            if empty_seen:
                continue
            empty_seen = True
        if w_load[r] + demand[v] > capacity:
            continue
        extra = fixed if m == 0 else 0
        for i in range(m + 1):
            a = w_routes[r, i]
            b = w_routes[r, i + 1]
            d = cost[a, v] + cost[v, b] - cost[a, b] + extra
            if d >= best_d:  # the cheap test first: most positions end here
                continue
            st = w_early[r, i] + service[a] + travel[a, v]
            if st < ready[v]:
                st = ready[v]
            if st > due[v]:
                continue
            if st + service[v] + travel[v, b] > w_late[r, i + 1]:
                continue
            # The blink drawn only for a position that would win: the same chance of skipping each, fewer draws.
            if np.random.random() < BLINK:
                continue
            best_d = d
            br = r
            bp = i
    return br, bp


@nb.njit(cache=True)
def sisr_batch(iterations, temp_from, temp_to, fixed, capacity, travel, cost, ready, due, service, demand, adj,
               routes, lens, early, late, load, dist,
               w_routes, w_lens, w_early, w_late, w_load, w_dist,
               b_routes, b_lens, b_dist, state):
    """``iterations`` SISR iterations; temperature falls geometrically from ``temp_from`` to ``temp_to``.

    (routes, lens, early, late, load, dist) is the current solution, w_* a working copy kept equal to it between
    iterations, b_* the best. ``state`` = [current cost, best cost, accepted, improved, iterations]."""
    n_routes = routes.shape[0]
    n = len(ready) - 2  # customers 1..n
    removed = np.zeros(n + 2, dtype=np.bool_)
    ruined = np.zeros(n_routes, dtype=np.bool_)
    open_r = np.ones(n_routes, dtype=np.bool_)  # every route may take a customer
    rem_list = np.empty(n, dtype=np.int64)
    route_of = np.empty(n + 2, dtype=np.int64)
    for r in range(n_routes):
        for i in range(1, lens[r] + 1):
            route_of[routes[r, i]] = r
    keys = np.empty(n, dtype=np.float64)
    cur = state[0]
    for it in range(iterations):
        temp = temp_from * (temp_to / temp_from) ** (it / max(1, iterations))
        # --- ruin: strings of customers adjacent to a random seed, from different routes
        ruined[:] = False
        ls_max, ks = ruin_size(w_lens)
        seed = np.random.randint(1, n + 1)
        n_rem = 0
        strings = 0
        for k in range(n):
            if strings >= ks:
                break
            c = adj[seed, k]
            if removed[c]:
                continue
            r = route_of[c]
            if ruined[r]:
                continue
            m = w_lens[r]
            lmax_t = min(float(m), ls_max)
            ln = int(np.random.random() * lmax_t) + 1
            p = 1
            while w_routes[r, p] != c:
                p += 1
            keep = 0
            if ln < m and np.random.random() < SPLIT:  # split string: a block of `keep` customers inside stays
                keep = 1
                while ln + keep < m and np.random.random() < 0.5:
                    keep += 1
            span = ln + keep
            lo = max(1, p - span + 1)
            hi = min(p, m - span + 1)
            s = lo + np.random.randint(0, hi - lo + 1)
            k0 = s + np.random.randint(0, span - keep + 1)
            for q in range(s, s + span):
                if k0 <= q < k0 + keep:
                    continue
                v = w_routes[r, q]
                removed[v] = True
                rem_list[n_rem] = v
                n_rem += 1
            ruined[r] = True
            strings += 1
        for r in range(n_routes):  # compact the ruined routes
            if not ruined[r]:
                continue
            m = w_lens[r]
            j = 1
            for i in range(1, m + 1):
                v = w_routes[r, i]
                if not removed[v]:
                    w_routes[r, j] = v
                    j += 1
            w_routes[r, j] = w_routes[r, m + 1]
            w_lens[r] = j - 1
            _refresh(r, w_routes, w_lens, w_early, w_late, w_load, w_dist, travel, cost, ready, due, service, demand)
        # --- recreate: sort the removed, insert each at its cheapest feasible place (blinking)
        order = _recreate_order(rem_list, n_rem, keys, demand, travel)
        feasible = True
        for oi in range(n_rem):
            v = rem_list[order[oi]]
            br, bp = _best_insertion(v, open_r, w_routes, w_lens, w_early, w_late, w_load, fixed, capacity, travel,
                                     cost, ready, due, service, demand)
            if br < 0:
                feasible = False
                break
            m = w_lens[br]
            for q in range(m + 1, bp, -1):
                w_routes[br, q + 1] = w_routes[br, q]
            w_routes[br, bp + 1] = v
            w_lens[br] = m + 1
            route_of[v] = br
            ruined[br] = True
            _refresh(br, w_routes, w_lens, w_early, w_late, w_load, w_dist, travel, cost, ready, due, service,
                     demand)
        for i in range(n_rem):
            removed[rem_list[i]] = False
        new = _total(w_lens, w_dist, fixed) if feasible else np.int64(1) << 62
        if feasible and new < cur - temp * math.log(np.random.random()):
            cur = new
            state[2] += 1
            for r in range(n_routes):
                if ruined[r]:
                    _copy_route(r, w_routes, w_lens, w_early, w_late, w_load, w_dist,
                                routes, lens, early, late, load, dist)
            if cur < state[1]:
                state[1] = cur
                state[3] += 1
                b_routes[:, :] = routes
                b_lens[:] = lens
                b_dist[:] = dist
        else:
            for r in range(n_routes):
                if ruined[r]:
                    _copy_route(r, routes, lens, early, late, load, dist,
                                w_routes, w_lens, w_early, w_late, w_load, w_dist)
            for r in range(n_routes):
                for i in range(1, lens[r] + 1):
                    route_of[routes[r, i]] = r
    state[0] = cur
    state[4] += iterations


@nb.njit(cache=True)
def two_opt_star(fixed, capacity, travel, cost, ready, due, service, demand,
                 routes, lens, early, late, load, dist,
                 w_routes, w_lens, w_early, w_late, w_load, w_dist,
                 b_routes, b_lens, b_dist, state):
    """Descend the current solution with 2-opt* (two routes exchange their tails) to a local optimum, first
    improvement; returns the moves made.

    Why: SISR re-inserts customers one at a time, so an exchange that moves two long tails between routes at once is
    out of its reach; on long-route instances (Solomon R2/RC2) all its runs ended in the same local optimum such a
    move leaves. Each candidate is checked in O(1): the head's earliest start (``early``) against the tail's latest
    feasible start (``late``), loads by prefix sums. The working copy (w_*) is kept equal to the current solution and
    the best (b_*, ``state``[1]) follows it when it improves; ``state``[0] is the current cost."""
    n_routes = routes.shape[0]
    pre = np.zeros((n_routes, routes.shape[1]), dtype=np.int64)  # load of positions 1..i
    for r in range(n_routes):
        for i in range(1, lens[r] + 1):
            pre[r, i] = pre[r, i - 1] + demand[routes[r, i]]
    tail_buf = np.empty(routes.shape[1], dtype=np.int64)  # r1's tail while r2's is copied over it
    moves = 0
    improved = True
    while improved:
        improved = False
        for r1 in range(n_routes):
            m1 = lens[r1]
            if m1 == 0:
                continue
            for r2 in range(n_routes):
                m2 = lens[r2]
                if r2 == r1 or m2 == 0:
                    continue
                for i in range(m1 + 1):  # r1 keeps positions 0..i, then r2's tail from j + 1
                    a = routes[r1, i]
                    a_next = routes[r1, i + 1]
                    t_a = early[r1, i] + service[a]
                    for j in range(m2 + 1):  # r2 keeps 0..j, then r1's tail from i + 1
                        if i == m1 and j == m2:
                            continue
                        if i == 0 and j == 0:
                            continue
                        b = routes[r2, j]
                        b_next = routes[r2, j + 1]
                        gain = cost[a, a_next] + cost[b, b_next] - cost[a, b_next] - cost[b, a_next]
                        len1 = i + m2 - j
                        len2 = j + m1 - i
                        if len1 == 0 or len2 == 0:
                            gain += fixed  # a route emptied
                        if gain <= 0:
                            continue
                        if pre[r1, i] + load[r2] - pre[r2, j] > capacity:
                            continue
                        if pre[r2, j] + load[r1] - pre[r1, i] > capacity:
                            continue
                        st = t_a + travel[a, b_next]
                        if st < ready[b_next]:
                            st = ready[b_next]
                        if st > late[r2, j + 1]:
                            continue
                        st = early[r2, j] + service[b] + travel[b, a_next]
                        if st < ready[a_next]:
                            st = ready[a_next]
                        if st > late[r1, i + 1]:
                            continue
                        # apply: r1 = r1[0..i] + r2[j+1..m2+1], r2 = r2[0..j] + r1[i+1..m1+1]
                        tail1 = m1 + 1 - i  # r1's tail with its end depot
                        tail_buf[:tail1] = routes[r1, i + 1:m1 + 2]
                        routes[r1, i + 1:i + 1 + m2 + 1 - j] = routes[r2, j + 1:m2 + 2]
                        routes[r2, j + 1:j + 1 + tail1] = tail_buf[:tail1]
                        lens[r1] = len1
                        lens[r2] = len2
                        for r in (r1, r2):
                            _refresh(r, routes, lens, early, late, load, dist, travel, cost, ready, due, service,
                                     demand)
                            for k in range(1, lens[r] + 1):
                                pre[r, k] = pre[r, k - 1] + demand[routes[r, k]]
                            _copy_route(r, routes, lens, early, late, load, dist,
                                        w_routes, w_lens, w_early, w_late, w_load, w_dist)
                        state[0] -= gain
                        moves += 1
                        improved = True
                        break
                    if improved:
                        break
                if improved:
                    break
            if improved:
                break
    if moves and state[0] < state[1]:
        state[1] = state[0]
        state[3] += 1
        b_routes[:, :] = routes
        b_lens[:] = lens
        b_dist[:] = dist
    return moves


@nb.njit(cache=True)
def fleet_batch(iterations, fixed, capacity, travel, cost, ready, due, service, demand, adj, open_r, absences,
                routes, lens, early, late, load, dist, out,
                w_routes, w_lens, w_early, w_late, w_load, w_dist, w_out, state):
    """Up to ``iterations`` iterations of SISR's fleet minimisation (Christiaens & Vanden Berghe 2020, sec. 6) on
    the routes ``open_r`` allows; returns at once when every customer is served.

    The current solution may leave customers out (``out``). Each iteration ruins strings as ``sisr_batch`` does and
    re-inserts the removed and the left-out customers at their cheapest feasible place in an open route (an empty
    one costing ``fixed`` more; never a route that is not open); a customer that fits nowhere stays out. The result
    is accepted when it leaves fewer customers out, or customers whose absence counts (``absences``: how many results
    have left each out) sum lower; then every customer the result left out counts one more absence, so a result that
    leaves out the customers hard to place is seldom accepted and the search moves towards serving them.
    ``state`` = [customers out, iterations done]."""
    n_routes = routes.shape[0]
    n = len(ready) - 2
    removed = np.zeros(n + 2, dtype=np.bool_)
    ruined = np.zeros(n_routes, dtype=np.bool_)
    rem_list = np.empty(n, dtype=np.int64)
    route_of = np.full(n + 2, -1, dtype=np.int64)
    for r in range(n_routes):
        for i in range(1, lens[r] + 1):
            route_of[routes[r, i]] = r
    keys = np.empty(n, dtype=np.float64)
    for _ in range(iterations):
        n_out = 0
        sum_out = 0
        for v in range(1, n + 1):
            if out[v]:
                n_out += 1
                sum_out += absences[v]
        if n_out == 0:
            break
        state[1] += 1
        # --- ruin: as sisr_batch, among the customers served
        ruined[:] = False
        ls_max, ks = ruin_size(w_lens)
        seed = np.random.randint(1, n + 1)
        n_rem = 0
        strings = 0
        for k in range(n):
            if strings >= ks:
                break
            c = adj[seed, k]
            if removed[c] or w_out[c]:
                continue
            r = route_of[c]
            if ruined[r]:
                continue
            m = w_lens[r]
            lmax_t = min(float(m), ls_max)
            ln = int(np.random.random() * lmax_t) + 1
            p = 1
            while w_routes[r, p] != c:
                p += 1
            keep = 0
            if ln < m and np.random.random() < SPLIT:
                keep = 1
                while ln + keep < m and np.random.random() < 0.5:
                    keep += 1
            span = ln + keep
            lo = max(1, p - span + 1)
            hi = min(p, m - span + 1)
            s = lo + np.random.randint(0, hi - lo + 1)
            k0 = s + np.random.randint(0, span - keep + 1)
            for q in range(s, s + span):
                if k0 <= q < k0 + keep:
                    continue
                v = w_routes[r, q]
                removed[v] = True
                rem_list[n_rem] = v
                n_rem += 1
            ruined[r] = True
            strings += 1
        for r in range(n_routes):
            if not ruined[r]:
                continue
            m = w_lens[r]
            j = 1
            for i in range(1, m + 1):
                v = w_routes[r, i]
                if not removed[v]:
                    w_routes[r, j] = v
                    j += 1
            w_routes[r, j] = w_routes[r, m + 1]
            w_lens[r] = j - 1
            _refresh(r, w_routes, w_lens, w_early, w_late, w_load, w_dist, travel, cost, ready, due, service, demand)
        for v in range(1, n + 1):  # the left-out customers are re-inserted too
            if w_out[v]:
                w_out[v] = False
                rem_list[n_rem] = v
                n_rem += 1
        # --- recreate within the open routes; what fits nowhere stays out
        order = _recreate_order(rem_list, n_rem, keys, demand, travel)
        new_out = 0
        new_sum = 0
        for oi in range(n_rem):
            v = rem_list[order[oi]]
            br, bp = _best_insertion(v, open_r, w_routes, w_lens, w_early, w_late, w_load, fixed, capacity, travel,
                                     cost, ready, due, service, demand)
            if br < 0:
                w_out[v] = True
                new_out += 1
                new_sum += absences[v]
                continue
            m = w_lens[br]
            for q in range(m + 1, bp, -1):
                w_routes[br, q + 1] = w_routes[br, q]
            w_routes[br, bp + 1] = v
            w_lens[br] = m + 1
            route_of[v] = br
            ruined[br] = True
            _refresh(br, w_routes, w_lens, w_early, w_late, w_load, w_dist, travel, cost, ready, due, service,
                     demand)
        for i in range(n_rem):
            removed[rem_list[i]] = False
        if new_out < n_out or new_sum < sum_out:
            for r in range(n_routes):
                if ruined[r]:
                    _copy_route(r, w_routes, w_lens, w_early, w_late, w_load, w_dist,
                                routes, lens, early, late, load, dist)
            out[:] = w_out
        else:
            for r in range(n_routes):
                if ruined[r]:
                    _copy_route(r, routes, lens, early, late, load, dist,
                                w_routes, w_lens, w_early, w_late, w_load, w_dist)
            for r in range(n_routes):
                for i in range(1, lens[r] + 1):
                    route_of[routes[r, i]] = r
        for v in range(1, n + 1):
            if w_out[v]:
                absences[v] += 1
        w_out[:] = out
    n_out = 0
    for v in range(1, n + 1):
        if out[v]:
            n_out += 1
    state[0] = n_out


@nb.njit(cache=True)
def seed_kernels(s):
    """Seed the random stream the compiled kernels draw from (numba's own, not numpy's)."""
    np.random.seed(s)


class Search:
    """SISR state for one fleet model: start from a plan, run until a deadline, read the best plan."""

    def __init__(self, fm: FleetModel, routes: list[list[int]], n_routes: int, fixed: int, seed: int = 0) -> None:
        self.fm, self.fixed = fm, int(fixed)
        n = len(fm.jobs)
        self.travel = np.ascontiguousarray(fm.travel, dtype=np.int64)
        self.cost = np.ascontiguousarray(fm.cost, dtype=np.int64)
        customers = np.arange(1, n + 1)
        sub = self.cost[np.ix_(customers, customers)] + self.cost[np.ix_(customers, customers)].T
        self.adj = np.zeros((n + 1, n), dtype=np.int64)
        self.adj[1:] = customers[np.argsort(sub, axis=1, kind="stable")]
        shape = (n_routes, n + 2)
        self.arrays = [np.zeros(shape, np.int64), np.zeros(n_routes, np.int64), np.zeros(shape, np.int64),
                       np.zeros(shape, np.int64), np.zeros(n_routes, np.int64), np.zeros(n_routes, np.int64)]
        self.work = [a.copy() for a in self.arrays]
        self.best = [np.zeros(shape, np.int64), np.zeros(n_routes, np.int64), np.zeros(n_routes, np.int64)]
        self.state = np.zeros(5, dtype=np.int64)
        seed_kernels(seed)
        self.start(routes)

    def start(self, routes: list[list[int]]) -> None:
        """Continue from ``routes`` (node numbers per route; at most ``n_routes`` non-empty)."""
        fm = self.fm
        rs, lens, early, late, load, dist = self.arrays
        rs[:] = 0
        lens[:] = 0
        full = [r for r in routes if r]
        if len(full) > len(lens):
            raise ValueError("more routes than the search was sized for")
        for r in range(len(lens)):
            seq = full[r] if r < len(full) else []
            rs[r, 1:len(seq) + 1] = seq
            rs[r, len(seq) + 1] = fm.end
            lens[r] = len(seq)
            ok = _refresh(r, rs, lens, early, late, load, dist, self.travel, self.cost, fm.ready, fm.due, fm.service,
                          fm.demand)
            if not ok:
                raise ValueError(f"route {r} misses a time window")
        for a, w in zip(self.arrays, self.work, strict=True):
            w[...] = a
        total = _total(lens, dist, self.fixed)
        self.state[:] = (total, total, 0, 0, 0)
        self.best[0][...] = rs
        self.best[1][...] = lens
        self.best[2][...] = dist

    @property
    def best_cost(self) -> int:
        return int(self.state[1])

    @property
    def best_used(self) -> int:
        """Technicians the best plan uses."""
        return int((self.best[1] > 0).sum())

    def best_routes(self) -> list[list[int]]:
        rs, lens, _ = self.best
        return [rs[r, 1:lens[r] + 1].tolist() for r in range(len(lens)) if lens[r]]

    def run(self, deadline: float, temp_from: float, temp_to: float,
            between: Callable[[], bool] | None = None, descend: bool = False) -> None:
        """Iterate until ``deadline`` (time.monotonic()), the temperature falling geometrically from ``temp_from`` to
        ``temp_to``; ``between()`` runs between batches and stops the search when it returns True. With ``descend``
        the current plan is taken to a 2-opt* local optimum after each batch (``two_opt_star``)."""
        fm = self.fm

        def batch(iterations: int, t0: float, t1: float) -> None:
            sisr_batch(iterations, t0, t1, self.fixed, fm.capacity, self.travel, self.cost, fm.ready, fm.due,
                       fm.service, fm.demand, self.adj, *self.arrays, *self.work, *self.best, self.state)
            if descend:
                self.descend()

        run_batches(batch, deadline, temp_from, temp_to, between)

    def descend(self) -> int:
        """Take the current plan to a 2-opt* local optimum (``two_opt_star``); the moves made."""
        fm = self.fm
        return int(two_opt_star(self.fixed, fm.capacity, self.travel, self.cost, fm.ready, fm.due, fm.service,
                                fm.demand, *self.arrays, *self.work, *self.best, self.state))

    def construct(self, deadline: float) -> bool:
        """A first plan from nothing: every customer inserted at its cheapest feasible place (``fleet_batch`` with
        all customers left out and every route open), repaired by further iterations until all are served or
        ``deadline``. True (and the plan is the best and the current one) when every customer is served."""
        n = len(self.fm.jobs)
        self.start([])
        out = np.ones(n + 2, dtype=np.bool_)
        out[0] = out[n + 1] = False
        open_r = np.ones(len(self.arrays[1]), dtype=np.bool_)
        if self._serve_all(open_r, out, np.zeros(n + 2, dtype=np.int64), np.zeros(2, np.int64), deadline) != "served":
            return False
        self.start(self._current_routes())
        return True

    def _current_routes(self) -> list[list[int]]:
        rs, lens = self.arrays[0], self.arrays[1]
        return [rs[r, 1:lens[r] + 1].tolist() for r in range(len(lens)) if lens[r]]

    def _serve_all(self, open_r: np.ndarray, out: np.ndarray, absences: np.ndarray, state: np.ndarray,
                   deadline: float, between: Callable[[], bool] | None = None,
                   hopeless: tuple[float, int] | None = None) -> str:
        """``fleet_batch`` in ~20 ms batches on the current plan (customers ``out`` left out, routes ``open_r``
        usable) until every customer is served ("served") or ``deadline``, a stop, or ``between()`` returning True
        ("stopped"). ``hopeless`` = (s, k): also give up ("hopeless") when after s seconds the fewest customers left
        out so far is still k or more."""
        fm = self.fm
        work = [*(a.copy() for a in self.arrays), out.copy()]
        state[0] = int(out.sum())
        iterations, per_iter = 10, 0.0
        began, fewest = time.monotonic(), int(state[0])
        while state[0] > 0:
            now = time.monotonic()
            if now >= deadline or _control.stopped() or (between is not None and between()):
                return "stopped"
            fewest = min(fewest, int(state[0]))
            if hopeless is not None and now - began >= hopeless[0] and fewest >= hopeless[1]:
                return "hopeless"
            if per_iter:
                iterations = max(5, int(min(0.02, deadline - now) / per_iter))
            done = int(state[1])
            fleet_batch(iterations, self.fixed, fm.capacity, self.travel, self.cost, fm.ready, fm.due, fm.service,
                        fm.demand, self.adj, open_r, absences, *self.arrays, out, *work, state)
            per_iter = max(1e-7, (time.monotonic() - now) / max(1, int(state[1]) - done))
        return "served"

    def minimise_fleet(self, deadline: float, floor: int = 1,
                       on_success: Callable[[list[list[int]]], None] | None = None,
                       between: Callable[[], bool] | None = None,
                       hopeless: tuple[float, int] | None = None) -> dict[str, Any]:
        """SISR's fleet minimisation (``fleet_batch``) from the best plan until ``deadline`` or ``floor`` routes:
        take out the route whose customers have the fewest absences (at first: the shortest), search until every
        customer is served again by the routes left, repeat. Each plan with a route fewer becomes the best
        (``on_success`` gets it); afterwards the current plan is the best, for the distance search (``run``).
        ``hopeless`` = (s, k) ends it early when an attempt still leaves k or more customers out after s seconds
        (``_search.SINGLE_CORE_CHAINS["hopeless"]``), leaving that time to the distance search.
        Returns routes before and after, iterations, the time.monotonic() of each success, and why it ended
        ("floor", "stopped": the deadline or a stop, "hopeless")."""
        fm = self.fm
        n = len(fm.jobs)
        self.start(self.best_routes())
        rs, lens, early, late, load, dist = self.arrays
        absences = np.zeros(n + 2, dtype=np.int64)
        state = np.zeros(2, dtype=np.int64)
        stats: dict[str, Any] = {"from_routes": self.best_used, "success_at": []}
        while self.best_used > floor:
            open_r = lens > 0
            out = np.zeros(n + 2, dtype=np.bool_)
            cands = np.flatnonzero(open_r)
            r = min(cands, key=lambda r: (int(absences[rs[r, 1:lens[r] + 1]].sum()), int(lens[r]), int(r)))
            out[rs[r, 1:lens[r] + 1]] = True
            lens[r] = 0
            rs[r, 1] = fm.end
            _refresh(r, rs, lens, early, late, load, dist, self.travel, self.cost, fm.ready, fm.due, fm.service,
                     fm.demand)
            open_r[r] = False
            ended = self._serve_all(open_r, out, absences, state, deadline, between, hopeless)
            if ended != "served":
                stats["ended"] = ended
                break
            routes = self._current_routes()  # every customer served by a route fewer: the best plan now
            self.start(routes)
            stats["success_at"].append(time.monotonic())
            if on_success is not None:
                on_success(routes)
        stats.setdefault("ended", "floor")
        stats["to_routes"] = self.best_used
        stats["iterations"] = int(state[1])
        self.start(self.best_routes())
        return stats


def run_batches(batch: Callable[[int, float, float], None], deadline: float, temp_from: float, temp_to: float,
                between: Callable[[], bool] | None = None, seconds: float = 0.02) -> None:
    """Call ``batch(iterations, temperature at its start, at its end)`` until ``deadline``, each call about
    ``seconds`` long (sized from the last one), on one geometric cooling schedule over the whole span; stop early when
    ``between()`` returns True or the caller stops the search (``_control``)."""
    t_start = time.monotonic()
    span = max(1e-3, deadline - t_start)
    iterations, per_iter = 10, 0.0
    while True:
        now = time.monotonic()
        if now >= deadline or _control.stopped() or (between is not None and between()):
            return
        if per_iter:
            iterations = max(5, int(min(seconds, deadline - now) / per_iter))
        f0 = (now - t_start) / span
        f1 = min(1.0, f0 + iterations * per_iter / span) if per_iter else f0
        batch(iterations, temp_from * (temp_to / temp_from) ** f0, temp_from * (temp_to / temp_from) ** f1)
        per_iter = max(1e-7, (time.monotonic() - now) / iterations)


def warm_up() -> None:
    """Load (or on first use compile, ~10 s, then cached on disk) the kernels, so a worker forked afterwards starts
    searching at once instead of each paying for it within its time budget."""
    travel = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=np.int64)
    fm = FleetModel(jobs=[0], travel=travel, cost=travel.copy(), ready=np.zeros(3, np.int64),
                    due=np.full(3, 100, np.int64), service=np.zeros(3, np.int64), demand=np.zeros(3, np.int64),
                    capacity=10)
    search = Search(fm, [[1]], 1, 1)
    search.run(time.monotonic() + 0.001, 1.0, 0.1)
    travel = np.ones((4, 4), dtype=np.int64) - np.eye(4, dtype=np.int64)
    fm = FleetModel(jobs=[0, 1], travel=travel, cost=travel.copy(), ready=np.zeros(4, np.int64),
                    due=np.full(4, 100, np.int64), service=np.zeros(4, np.int64), demand=np.zeros(4, np.int64),
                    capacity=10)
    search = Search(fm, [], 2, 1)
    search.construct(time.monotonic() + 5.0)  # the kernels run (and compile on first use)
    search.start([[1], [2]])
    search.minimise_fleet(time.monotonic() + 5.0)
    search.start([[1], [2]])
    search.descend()
