"""Search strategies: OR-Tools parameter sets and phases, our compiled SISR, and the two-core portfolio.

For a fresh plan of a problem our own SISR models (``_sisr`` for identical fleets with an arcs-plus-vehicles
objective, ``_day_sisr`` for field-service days), both cores run it: it is several times stronger in the same time
(see SISR_PORTFOLIO and DAY_SISR_PORTFOLIO). Everything else — warm starts, pinned positions, work in progress,
workload balance — runs the OR-Tools strategies below.

What measurably helps on VRPTW (see benchmarks/solomon.py): a cheapest-insertion first
solution, then OR-Tools' iterated local search with SISR ruin-and-recreate (Christiaens &
Vanden Berghe 2020) and simulated-annealing acceptance, preceded — when vehicles cost — by a
route-minimisation phase: OR-Tools squeezing the fleet, and beside it our own ejection-pool route
minimisation (``_fleet``), whose smaller fleet OR-Tools' ILS then shortens (started from that plan by
locking its routes for the first solution). Two processes run different variants and the best plan
wins. On a day with breaks, where OR-Tools' local search is slow, one of them first searches the day
without the breaks (``_breakless_first``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import multiprocessing as mp
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from . import _control, _fleet, _ortools
from .model import Problem

FS = routing_enums_pb2.FirstSolutionStrategy
LSM = routing_enums_pb2.LocalSearchMetaheuristic


@dataclass
class Outcome:
    routes: list[list[int]]  # problem job indices per vehicle
    starts: list[list[int]]
    breaks: list[list[int] | None]  # None: break starts left open by the solver (see Built.read)
    cost: int
    phases: list[dict[str, Any]] = field(default_factory=list)
    status: str = ""


class FleetBoard:
    """The complete plan with the fewest technicians that any worker of a portfolio has found, in shared memory.

    Why: on Solomon-like problems both workers run SISR and one of them also the ejection-pool route minimisation.
    When a worker empties a route, everything the other found on the larger fleet is worthless (each technician used
    costs more than any distance), so the other continues from the smaller fleet at once (between two ~20 ms batches)
    and both spend the rest of the budget shortening it. Layout: [version, technicians used, payload length,
    payload...], the payload each vehicle's job indices followed by -1."""

    def __init__(self, ctx: Any, n_jobs: int, n_vehicles: int) -> None:
        self.array = ctx.Array("q", 3 + n_jobs + n_vehicles)
        self.array[1] = n_vehicles + 1

    def publish(self, routes: list[list[int]]) -> bool:
        """Post ``routes`` (every job served) if they use fewer technicians than the board holds."""
        used = sum(1 for r in routes if r)
        flat = [x for r in routes for x in (*r, -1)]
        with self.array.get_lock():
            if used >= self.array[1] or len(flat) > len(self.array) - 3:
                return False
            self.array[3:3 + len(flat)] = flat
            self.array[2] = len(flat)
            self.array[1] = used
            self.array[0] += 1
        return True

    def fewer_than(self, used: int) -> list[list[int]] | None:
        """The board's plan if it uses fewer than ``used`` technicians."""
        if self.array[1] >= used:  # an unlocked peek: the common case costs no lock
            return None
        with self.array.get_lock():
            if self.array[1] >= used:
                return None
            flat = self.array[3:3 + self.array[2]]
        routes: list[list[int]] = [[]]
        for x in flat:
            if x < 0:
                routes.append([])
            else:
                routes[-1].append(x)
        return routes[:-1]


#: This worker process's board (set by the pool initializer); None outside a fleet portfolio.
_BOARD: FleetBoard | None = None


def _join_board(board: FleetBoard | None, stop: Any = None, offers: Any = None) -> None:
    """Pool initializer: this worker's fleet board, and the parent's stop event and offer queue (``_control``)."""
    global _BOARD
    _BOARD = board
    if stop is not None:
        _control.join(_control.SearchControl(stop, (lambda w, c, r: offers.put((w, c, r))) if offers else None))


def _used(routes: list[list[int]]) -> int:
    return sum(1 for r in routes if r)


def _publish(routes: list[list[int]], jobs: list[int]) -> None:
    if _BOARD is not None and sum(map(len, routes)) == len(jobs):
        _BOARD.publish(routes)


def _params(seconds: float, first: int = FS.PARALLEL_CHEAPEST_INSERTION) -> Any:
    p = pywrapcp.DefaultRoutingSearchParameters()
    p.first_solution_strategy = first
    p.time_limit.FromMilliseconds(max(1, int(seconds * 1000)))
    return p


def _ils(p: Any, *, avg_removed: int, max_seq: int, route_min: bool, temp: float | None,
         recreate: int = FS.LOCAL_CHEAPEST_INSERTION, final_ratio: float = 100.0,
         improve: bool = False) -> Any:
    """Iterated local search with SISR ruin (OR-Tools ≥ 9.12)."""
    p.use_iterated_local_search = True
    ils = p.iterated_local_search_parameters
    ils.perturbation_strategy = 1  # RUIN_AND_RECREATE
    rr = ils.ruin_recreate_parameters
    del rr.ruin_strategies[:]
    s = rr.ruin_strategies.add()
    s.sisr.max_removed_sequence_size = max_seq
    s.sisr.avg_num_removed_visits = avg_removed
    s.sisr.bypass_factor = 0.01
    rr.recreate_strategy.heuristic = recreate
    # SISR-style is cheap iterations without local search; ``improve`` runs OR-Tools' local search
    # after each recreate instead (fewer, stronger iterations).
    ils.improve_perturbed_solution = improve
    if route_min:
        ils.reference_solution_acceptance_strategy.absences_based.remove_route_with_lowest_absences = True
    else:
        sa = ils.reference_solution_acceptance_strategy.simulated_annealing
        sa.cooling_schedule_strategy = 1  # EXPONENTIAL
        if temp is None:
            sa.automatic_temperatures = True
        else:
            sa.initial_temperature = temp
            sa.final_temperature = temp / final_ratio
    ils.best_solution_acceptance_strategy.greedy_descent.SetInParent()
    return p


def run_variant(problem: Problem, jobs: list[int], variant: dict[str, Any], deadline: float,
                warm: list[list[int]] | None, extra_cost: dict | None = None) -> Outcome | None:
    """One search trajectory until ``deadline`` (time.monotonic()); returns the best found.

    OR-Tools' ILS cannot start from a given assignment, so a warm start continues with guided
    local search, and the distance phase after route minimisation re-runs ILS on the smaller fleet.
    """
    kind = variant.get("kind", "ils")
    first = variant.get("first", FS.PARALLEL_CHEAPEST_INSERTION)
    if kind == "day_sisr":
        return _day_sisr(problem, jobs, variant, deadline, extra_cost, warm)
    if kind == "sisr" and warm is None:
        return _sisr_fleet(problem, jobs, variant, deadline, extra_cost)
    if kind == "squeeze" and warm is None:
        return _squeeze(problem, jobs, variant, deadline, extra_cost)
    if kind == "breakless_first" and warm is None:
        return _breakless_first(problem, jobs, variant, deadline, extra_cost)
    if kind == "eject" and warm is None:
        return _eject(problem, jobs, variant, deadline, extra_cost)
    # The OR-Tools model only for the trajectories that search with it: the engines above build their own. Built for
    # every trajectory before, it cost tens of seconds of Python on a big day, all of it out of the search's time
    # (sampled: ~35 s in a 500-technician, 5,000-job horizon roll-over).
    b = _ortools.build(problem, jobs, extra_cost=extra_cost)
    r = b.routing
    phases: list[dict[str, Any]] = []
    sol = None
    t0 = time.monotonic()

    def note(name: str) -> None:
        phases.append({"phase": name, "cost": sol.ObjectiveValue() if sol else None,
                       "s": round(time.monotonic() - t0, 2)})

    if warm is not None and kind != "ils":
        r.CloseModelWithParameters(_params(1, first))
        routes = b.routes_to_indices(warm)
        sol = r.ReadAssignmentFromRoutes(routes, True)
        if sol is None:  # keep the routes that the model accepts, one technician at a time
            kept = [[] for _ in routes]
            for v, seq in enumerate(routes):
                kept[v] = seq
                if r.ReadAssignmentFromRoutes(kept, True) is None:
                    kept[v] = []
            sol = r.ReadAssignmentFromRoutes(kept, True)
        note("warm start")
    if kind == "ils":
        rm = variant.get("route_min", 0.0) if problem.weights.vehicle_fixed else 0.0
        if rm > 0:
            p = _ils(_params((deadline - time.monotonic()) * rm, first), avg_removed=variant.get("removed", 15),
                     max_seq=variant.get("max_seq", 15), route_min=True, temp=None)
            sol = r.SolveWithIteratedLocalSearch(p)
            note("ils route minimisation")
        left = deadline - time.monotonic()
        if left > 0.05 or sol is None:
            temp = _temperature(problem, jobs, variant.get("temp", 2.0))
            polish = variant.get("polish", 0.0)
            p = _ils(_params(max(left * (1 - polish), 0.05), first), avg_removed=variant.get("removed", 15),
                     max_seq=variant.get("max_seq", 15), route_min=False, temp=temp,
                     recreate=variant.get("recreate", FS.LOCAL_CHEAPEST_INSERTION),
                     final_ratio=variant.get("final_ratio", 100.0),
                     improve=variant.get("improve", False))
            if sol is None:
                sol = r.SolveWithIteratedLocalSearch(p)
                note("ils sisr")
            elif variant.get("after_route_min") == "gls":
                p = _params(left, first)
                p.local_search_metaheuristic = LSM.GUIDED_LOCAL_SEARCH
                s2 = r.SolveFromAssignmentWithParameters(sol, p)
                if s2 is not None and s2.ObjectiveValue() <= sol.ObjectiveValue():
                    sol = s2
                note("gls")
            else:
                # ILS cannot start from ``sol``: keep its fleet instead (forbid the technicians it
                # left idle) and let SISR rebuild and polish within that fleet.
                idle = frozenset(v for v, seq in enumerate(b.read(sol)[0]) if not seq)
                b2 = _ortools.build(problem, jobs, disabled=idle, extra_cost=extra_cost)
                s2 = b2.routing.SolveWithIteratedLocalSearch(p)
                if s2 is not None and s2.ObjectiveValue() < sol.ObjectiveValue():
                    b, r, sol = b2, b2.routing, s2
                note("ils sisr within route-minimised fleet")
            left = deadline - time.monotonic()
            if sol is None:  # ILS found nothing in time (large problem): any solution beats none
                p = _params(max(left, 0.2), FS.LOCAL_CHEAPEST_INSERTION)
                p.local_search_metaheuristic = LSM.GUIDED_LOCAL_SEARCH
                sol = r.SolveWithParameters(p)
                note("fallback gls")
            elif polish and left > 0.05:
                p = _params(left, first)
                p.local_search_metaheuristic = LSM.GUIDED_LOCAL_SEARCH
                s2 = r.SolveFromAssignmentWithParameters(sol, p)
                if s2 is not None and s2.ObjectiveValue() < sol.ObjectiveValue():
                    sol = s2
                note("gls polish")
    else:
        p = _params(deadline - time.monotonic(), first)
        p.local_search_metaheuristic = LSM.GUIDED_LOCAL_SEARCH
        s2 = _solve(r, p, sol)
        if s2 is not None and (sol is None or s2.ObjectiveValue() <= sol.ObjectiveValue()):
            sol = s2
        note("gls")
    if sol is None:
        return None
    return _finish(b, sol, phases)


def _squeeze(problem: Problem, jobs: list[int], variant: dict[str, Any], deadline: float,
             extra_cost: dict | None) -> Outcome | None:
    """Fleet squeezing: SISR-ILS on the whole fleet, then repeatedly forbid the technician with the
    shortest route and re-run SISR-ILS; keep the smaller fleet whenever every job still fits.

    The drop penalties make "serve everyone" the first goal of each attempt, so SISR's
    ruin-and-recreate does the ejection work a dedicated route-minimisation heuristic would do.
    """
    t0 = time.monotonic()
    total = deadline - t0
    temp = _temperature(problem, jobs, variant.get("temp", 2.0))
    phases: list[dict[str, Any]] = []

    def ils(seconds: float, disabled: frozenset[int]) -> tuple[Any, Any]:
        return _fleet_ils(problem, jobs, variant, temp, seconds, disabled, extra_cost)

    best_b, best = ils(total * variant.get("first_share", 0.3), frozenset())
    if best is None:
        return None
    phases.append({"phase": "ils sisr", "cost": best.ObjectiveValue(), "s": round(time.monotonic() - t0, 2)})
    chunk = total * variant.get("chunk", 0.25)
    while problem.weights.vehicle_fixed and deadline - time.monotonic() > 0.3 * chunk:
        routes = best_b.read(best)[0]
        used = [v for v, seq in enumerate(routes) if seq]
        if len(used) <= 1:
            break
        shortest = min(used, key=lambda v: (len(routes[v]), v))
        disabled = frozenset(v for v, seq in enumerate(routes) if not seq) | {shortest}
        b, sol = ils(min(chunk, deadline - time.monotonic()), disabled)
        ok = sol is not None and sum(len(x) for x in b.read(sol)[0]) == sum(len(x) for x in routes)
        phases.append({"phase": f"squeeze to {len(used) - 1}", "ok": ok,
                       "cost": sol.ObjectiveValue() if sol else None, "s": round(time.monotonic() - t0, 2)})
        if not ok:
            break
        best_b, best = b, sol
    left = deadline - time.monotonic()
    if left > 0.05:
        routes = best_b.read(best)[0]
        idle = frozenset(v for v, seq in enumerate(routes) if not seq)
        b, sol = ils(left, idle)
        if sol is not None and sol.ObjectiveValue() < best.ObjectiveValue():
            best_b, best = b, sol
        phases.append({"phase": "ils sisr within fleet", "cost": best.ObjectiveValue(),
                       "s": round(time.monotonic() - t0, 2)})
    return _finish(best_b, best, phases)


def _eject(problem: Problem, jobs: list[int], variant: dict[str, Any], deadline: float,
           extra_cost: dict | None) -> Outcome | None:
    """SISR-ILS on the whole fleet, then the ejection-pool route minimisation (``_fleet``) on its plan, then
    OR-Tools shortens the routes of the fleet that remains.

    Where the technicians are not identical (``_fleet.fleet_model`` is None) this is the two-attempt squeeze."""
    fm = _fleet.fleet_model(problem, jobs)
    if fm is None or not problem.weights.vehicle_fixed:
        return _squeeze(problem, jobs, {**variant, "kind": "squeeze"}, deadline, extra_cost)
    if _fleet.arc_cost_only(problem, extra_cost):
        out = _sisr_fleet(problem, jobs, variant, deadline, extra_cost, fm=fm, eject=True)
        if out is not None:
            return out
    t0 = time.monotonic()
    total = deadline - t0
    temp = _temperature(problem, jobs, variant.get("temp", 2.0))
    b, sol = _fleet_ils(problem, jobs, variant, temp, total * variant.get("first_share", 0.3), frozenset(),
                        extra_cost)
    if sol is None:
        return None
    phases = [{"phase": "ils sisr", "cost": sol.ObjectiveValue(), "s": round(time.monotonic() - t0, 2)}]
    routes = b.read(sol)[0]
    if sum(map(len, routes)) < len(jobs):  # ILS left jobs out: nothing for route minimisation to start from
        return _finish(b, sol, phases)
    node = {j: k + 1 for k, j in enumerate(fm.jobs)}
    fewer, stats = _fleet.minimise_routes(fm, [[node[j] for j in r] for r in routes if r],
                                          t0 + total * (variant.get("first_share", 0.3) + variant.get("rm_share", 0.4)),
                                          seed=variant.get("seed", 0), moves=variant.get("moves", 10),
                                          retry_s=variant.get("retry_s"))
    used = sum(1 for r in routes if r)
    if "success_at" in stats:
        stats["success_at"] = round(stats["success_at"] - t0, 2)
    phases.append({"phase": f"ejection pool {used} -> {len(fewer)} routes", "from_routes": used,
                   "to_routes": len(fewer), **stats,
                   "s": round(time.monotonic() - t0, 2)})
    if len(fewer) < used:
        start = [[fm.jobs[x - 1] for x in r] for r in fewer]
        start += [[] for _ in range(len(problem.technicians) - len(start))]
    else:
        start = routes
    idle = frozenset(v for v, seq in enumerate(start) if not seq)
    b2, s2 = _fleet_ils(problem, jobs, variant, temp, max(0.05, deadline - time.monotonic()), idle, extra_cost,
                        locked=start)
    if s2 is not None and (len(fewer) < used or s2.ObjectiveValue() < sol.ObjectiveValue()):
        b, sol = b2, s2
    phases.append({"phase": "ils sisr from that plan", "cost": sol.ObjectiveValue(),
                   "s": round(time.monotonic() - t0, 2)})
    return _finish(b, sol, phases)


def _fleet_ils(problem: Problem, jobs: list[int], variant: dict[str, Any], temp: float, seconds: float,
               disabled: frozenset[int], extra_cost: dict | None,
               locked: list[list[int]] | None = None) -> tuple[Any, Any]:
    """SISR-ILS in which the ``disabled`` technicians serve nothing; from the ``locked`` routes when given.

    ILS cannot take an initial assignment, but its first solution respects locked route prefixes: locking whole
    routes makes that first solution the given plan, which the search then changes freely."""
    b = _ortools.build(problem, jobs, disabled=disabled, extra_cost=extra_cost)
    p = _ils(_params(seconds, variant.get("first", FS.PARALLEL_CHEAPEST_INSERTION)),
             avg_removed=variant.get("removed", 15), max_seq=variant.get("max_seq", 15),
             route_min=False, temp=temp, improve=variant.get("improve", False))
    if locked is not None:
        b.routing.CloseModelWithParameters(p)
        if not b.routing.ApplyLocksToAllVehicles(b.routes_to_indices(locked), False):
            return b, None
    return b, b.routing.SolveWithIteratedLocalSearch(p)


def _first_solution(problem: Problem, jobs: list[int], extra_cost: dict | None, deadline: float
                    ) -> list[list[int]] | None:
    """OR-Tools' parallel cheapest insertion, improved by its local search to a local optimum: where SISR starts.
    None when it leaves a job out."""
    b = _ortools.build(problem, jobs, extra_cost=extra_cost)
    sol = b.routing.SolveWithParameters(_params(max(0.1, deadline - time.monotonic())))
    if sol is None:
        return None
    routes = b.read(sol)[0]
    return routes if sum(map(len, routes)) == len(jobs) else None


#: Most of the budget our compiled insertion may take to serve every job before OR-Tools' first solution is asked.
CONSTRUCT_SHARE = 0.05


def _sisr_fleet(problem: Problem, jobs: list[int], variant: dict[str, Any], deadline: float,
                extra_cost: dict | None, *, fm: _fleet.FleetModel | None = None, eject: bool = False
                ) -> Outcome | None:
    """Our compiled SISR (``_sisr``) from our compiled insertion (else OR-Tools' first solution) until the deadline;
    with ``eject``, after a ``first_share`` of the time a route minimisation empties what routes it can by
    ``rm_share`` — SISR's fleet minimisation when the variant's ``fleet`` is "sisr", else the ejection pool
    (``_fleet``) — then SISR shortens the smaller fleet. In a portfolio each smaller fleet goes on the
    ``FleetBoard`` and SISR continues from a smaller one the other worker posts.

    Only where ``_fleet`` models the problem exactly and the objective is arc cost plus vehicles
    (``_fleet.arc_cost_only``); elsewhere the OR-Tools squeeze runs instead."""
    fm = fm or _fleet.fleet_model(problem, jobs)
    if fm is None or not _fleet.arc_cost_only(problem, extra_cost):
        return _squeeze(problem, jobs, {**variant, "kind": "squeeze"}, deadline, extra_cost)
    from . import _sisr  # numba: imported only where it runs

    t0 = time.monotonic()
    total = deadline - t0
    node = {j: k + 1 for k, j in enumerate(fm.jobs)}
    n_vehicles = len(problem.technicians)

    def to_nodes(routes: list[list[int]]) -> list[list[int]]:
        return [[node[j] for j in r] for r in routes if r]

    def to_jobs(routes: list[list[int]]) -> list[list[int]]:
        out = [[fm.jobs[x - 1] for x in r] for r in routes if r]
        return out + [[] for _ in range(n_vehicles - len(out))]

    search = _sisr.Search(fm, [], n_vehicles, problem.weights.vehicle_fixed, seed=variant.get("seed", 0))
    # The first plan: compiled cheapest insertion (milliseconds); OR-Tools' first solution and local search (1-4 s
    # on Solomon's 100 customers, a share of the budget SISR puts to better use) only where that leaves one out.
    if search.construct(t0 + CONSTRUCT_SHARE * total):
        phases: list[dict[str, Any]] = [{"phase": "cheapest insertion", "routes": search.best_used,
                                         "s": round(time.monotonic() - t0, 2)}]
    else:
        start = _first_solution(problem, jobs, extra_cost, deadline)
        if start is None:
            return None if eject else _squeeze(problem, jobs, {**variant, "kind": "squeeze"}, deadline, extra_cost)
        phases = [{"phase": "or-tools first solution", "routes": _used(start), "s": round(time.monotonic() - t0, 2)}]
        search.start(to_nodes(start))
    temp = _temperature(problem, jobs, variant.get("temp", 2.0))
    ratio = variant.get("final_ratio", 100.0)

    posted = [n_vehicles + 1]

    def between() -> bool:
        """Post a smaller fleet found here; continue from a smaller one found by the other worker."""
        _control.offer(search.best_cost, lambda: to_jobs(search.best_routes()))
        used = search.best_used
        if _BOARD is not None:
            if used < posted[0]:
                _publish(to_jobs(search.best_routes()), jobs)
                posted[0] = used
            adopted = _BOARD.fewer_than(used)
            if adopted is not None:
                search.start(to_nodes(adopted))
                phases.append({"phase": f"adopted {_used(adopted)} routes from the other worker",
                               "s": round(time.monotonic() - t0, 2)})
        return False

    if eject:
        search.run(t0 + total * variant.get("first_share", 0.3), temp, temp / ratio)
        phases.append({"phase": "sisr", "cost": search.best_cost, "iterations": int(search.state[4]),
                       "s": round(time.monotonic() - t0, 2)})
        routes = search.best_routes()
        _publish(to_jobs(routes), jobs)
    before_fleet = search.best_routes()
    floor = max(1, -(-int(fm.demand.sum()) // int(fm.capacity)))
    hopeless = variant.get("hopeless")  # (share of the budget, customers) -> (seconds, customers)
    hopeless = (hopeless[0] * total, hopeless[1]) if hopeless else None
    if eject and variant.get("fleet") == "sisr":
        stats = search.minimise_fleet(t0 + total * (variant.get("first_share", 0.3) + variant.get("rm_share", 0.4)),
                                      floor, on_success=lambda r: _publish(to_jobs(r), jobs), hopeless=hopeless)
        stats["success_at"] = [round(s - t0, 2) for s in stats["success_at"]]
        phases.append({"phase": f"fleet minimisation {stats['from_routes']} -> {stats['to_routes']} routes",
                       **stats, "s": round(time.monotonic() - t0, 2)})
    elif eject:
        fewer, stats = _fleet.minimise_routes(
            fm, routes, t0 + total * (variant.get("first_share", 0.3) + variant.get("rm_share", 0.4)),
            seed=variant.get("seed", 0), moves=variant.get("moves", 10), retry_s=variant.get("retry_s"),
            on_success=lambda r: _publish(to_jobs(r), jobs))
        if "success_at" in stats:
            stats["success_at"] = round(stats["success_at"] - t0, 2)
        phases.append({"phase": f"ejection pool {len(routes)} -> {len(fewer)} routes", "from_routes": len(routes),
                       "to_routes": len(fewer), **stats, "s": round(time.monotonic() - t0, 2)})
        if len(fewer) < len(routes):
            search.start(fewer)
    before = int(search.state[4])
    end_temp = temp / ratio
    descend = bool(variant.get("descend", False))  # 2-opt* after each batch, once the fleet is minimised
    chains = int(variant.get("chains", 1))
    if chains > 1:
        # Several short SISR runs from the same plan, then the rest of the time from the best of them (see
        # ``SINGLE_CORE_CHAINS``): one run ends in a poor basin on some instances about half the time.
        begin, first = search.best_routes(), None
        now = time.monotonic()
        each = (deadline - now) * variant.get("chain_share", 0.15)
        for k in range(chains):
            search.start(begin)
            search.run(now + each * (k + 1), temp, temp / ratio, between, descend)
            phases.append({"phase": f"sisr chain {k + 1} of {chains}", "cost": search.best_cost,
                           "s": round(time.monotonic() - t0, 2)})
            if first is None or search.best_cost < first[0]:
                first = (search.best_cost, search.best_routes())
        for c in range(1, int(variant.get("cycles", 1))):
            # Another fleet minimisation from the plan before the first, down to the fleet the first reached (fast:
            # it does not try for fewer), then one run from its plan (see ``SINGLE_CORE_CHAINS``).
            now = time.monotonic()
            if deadline - now < variant["cycle_min_share"] * total:
                break
            fleet_now = sum(1 for r in first[1] if r)
            search.start(before_fleet)
            search.minimise_fleet(now + variant["cycle_fleet_share"] * total, max(floor, fleet_now), hopeless=hopeless)
            phases.append({"phase": f"cycle {c + 1}: fleet minimisation to {search.best_used} routes",
                           "s": round(time.monotonic() - t0, 2)})
            if search.best_used > fleet_now:
                continue
            now = time.monotonic()
            each = (deadline - now) * variant["cycle_chain_share"]
            search.run(now + each, temp, temp / ratio, between, descend)
            phases.append({"phase": f"cycle {c + 1}: sisr chain", "cost": search.best_cost,
                           "s": round(time.monotonic() - t0, 2)})
            if search.best_cost < first[0]:
                first = (search.best_cost, search.best_routes())
        search.start(first[1])
        temp /= variant.get("reheat_divisor", 5.0)  # the rest continues the best run, not a fresh start
    search.run(deadline, temp, end_temp, between, descend)
    phases.append({"phase": "sisr", "cost": search.best_cost, "iterations": int(search.state[4]) - before,
                   "s": round(time.monotonic() - t0, 2)})
    routes = to_jobs(search.best_routes())
    return Outcome(routes, [[] for _ in routes], [None] * len(routes), search.best_cost, phases, "sisr")


def _day_sisr(problem: Problem, jobs: list[int], variant: dict[str, Any], deadline: float,
              extra_cost: dict | None, warm: list[list[int]] | None = None) -> Outcome | None:
    """Our compiled SISR for a field-service day (``_day_sisr``) until the deadline, from the given routes (``warm``:
    the plan being re-planned, whose changes ``extra_cost`` prices) or else a priority-ordered cheapest insertion;
    where it does not model the problem (``_day_sisr_applies``), OR-Tools instead."""
    if not _day_sisr_applies(problem, extra_cost):
        if warm is not None:
            return run_variant(problem, jobs, {"kind": "gls", "first": FS.PARALLEL_CHEAPEST_INSERTION}, deadline,
                               warm, extra_cost)
        return run_variant(problem, jobs, PORTFOLIO[0], deadline, None, extra_cost)
    from . import _day_sisr  # numba: imported only where it runs

    t0 = time.monotonic()
    search = _day_sisr.DaySearch(problem, jobs, extra_cost, seed=variant.get("seed", 0), start=warm)
    phases: list[dict[str, Any]] = [{"phase": "from the previous plan" if warm is not None else
                                     "cheapest insertion by priority", "cost": search.best_cost,
                                     "s": round(time.monotonic() - t0, 2)}]
    temp = _temperature(problem, jobs, variant.get("temp", 2.0))
    search.run(deadline, temp, temp / variant.get("final_ratio", 100.0))
    phases.append({"phase": "sisr", "cost": search.best_cost, "iterations": int(search.state[2]),
                   "s": round(time.monotonic() - t0, 2)})
    routes = search.best_routes()
    return Outcome(routes, [[] for _ in routes], [None] * len(routes), search.best_cost, phases, "sisr")


def _day_sisr_applies(problem: Problem, extra_cost: dict | None = None) -> bool:
    """What ``_day_sisr`` does not model: workload balance. (Work in progress and pinned positions are fixed places
    in a route; continuity and a re-plan's disruption cost are per technician-job costs: all modelled.)"""
    return not problem.weights.balance_per_s


def _finish(b: Any, sol: Any, phases: list[dict[str, Any]]) -> Outcome:
    routes, starts, brks = b.read(sol)
    return Outcome(routes, starts, brks, sol.ObjectiveValue(), phases, str(b.routing.status()))


def _breakless_first(problem: Problem, jobs: list[int], variant: dict[str, Any], deadline: float,
                     extra_cost: dict | None) -> Outcome | None:
    """ILS on the same day without the technicians' breaks for a ``share`` of the time, then guided local search on
    the real model continuing from those routes (the breaks fitted into them; a route that no longer fits is
    rebuilt by the search).

    Break intervals make every OR-Tools local-search move many times dearer: on a 10-technician, 80-job city day
    with lunch breaks, the first descent from the cheapest-insertion solution took 6.6 s (0.7 s without the breaks),
    so within a 10 s budget the metaheuristic hardly ran and every ILS/GLS setting ended in the same local optimum.
    Without the breaks the search reaches good routes in a fraction of the time; the lunch is then a small change."""
    t0 = time.monotonic()
    relaxed = dataclasses.replace(
        problem, technicians=[dataclasses.replace(t, breaks=[]) for t in problem.technicians])
    first = run_variant(relaxed, jobs, PORTFOLIO[0], t0 + variant.get("share", 0.3) * (deadline - t0), None,
                        extra_cost)
    gls = {"kind": "gls", "first": variant.get("first", FS.PARALLEL_CHEAPEST_INSERTION)}
    out = run_variant(problem, jobs, gls, deadline, first.routes if first else None, extra_cost)
    if out is not None and first is not None:
        out.phases = [{"phase": "ils without breaks", "cost": first.cost, "s": round(time.monotonic() - t0, 2)},
                      *out.phases]
    return out


def _temperature(problem: Problem, jobs: list[int], factor: float) -> float:
    """Initial SA temperature: ``factor`` times the mean arc cost between jobs (SISR uses ~T0=100
    on Solomon, about twice the mean distance)."""
    locs = [problem.jobs[j].location for j in jobs]
    w = problem.weights
    cost = w.travel_per_s * problem.travel_time_s[np.ix_(locs, locs)].mean()
    if w.distance_per_m and problem.distance_m is not None:
        cost += w.distance_per_m * problem.distance_m[np.ix_(locs, locs)].mean()
    return max(1.0, factor * float(cost))


def _solve(r: pywrapcp.RoutingModel, p: Any, init: Any) -> Any:
    if init is None:
        return r.SolveWithParameters(p)
    return r.SolveFromAssignmentWithParameters(init, p)


def _worker(args: tuple) -> Outcome | None:
    problem, jobs, variant, deadline, warm, extra, k = args
    control = _control.current()
    if control is not None:
        control.worker, control.best_offered, control.last_offer = k, None, time.monotonic()
    # ``deadline`` is the parent's (time.monotonic() is one system-wide clock on Linux and macOS): however long this
    # process took to start, the search ends when the caller's budget does, not later.
    out = run_variant(problem, jobs, variant, max(deadline, time.monotonic() + 0.05), warm, extra)
    if control is not None and out is not None:  # the final routes, whatever the throttle says
        control.offer(out.cost, lambda: out.routes, force=True)
    return out


#: Two trajectories, one per core: (A) SISR-ILS with simulated annealing for the whole budget;
#: (B) fleet squeezing (see ``_squeeze``). With a warm start B is replaced by GLS continuing from
#: the given plan (ILS cannot take an initial solution). Chosen on Solomon samples at 10 s: pure
#: ILS beat ILS+GLS-polish mixes, squeezing beat absence-based route minimisation (see the
#: routing report for the figures). B makes one long squeeze attempt (68% of the budget) rather than
#: several 25% ones: a restarted ILS needs seconds before it can empty a route, and when squeezing
#: fails B's remaining time only repeated A's trajectory. Full 40 Solomon at 10 s: vehicles over
#: BKS 12 -> 8, total vehicles 308 -> 298, mean gap 2.44% -> 2.17%.
PORTFOLIO: list[dict[str, Any]] = [
    {"kind": "ils", "first": FS.PARALLEL_CHEAPEST_INSERTION, "removed": 15, "max_seq": 15, "temp": 2.0},
    {"kind": "squeeze", "first": FS.PARALLEL_CHEAPEST_INSERTION, "removed": 15, "max_seq": 15, "temp": 2.0,
     "chunk": 0.68},
]

#: When every vehicle used costs (``Weights.vehicle_fixed``: fewest vehicles first, as on Solomon): B above (one long
#: squeeze attempt) beside the ejection-pool route minimisation (``_eject``, ``_fleet``). Earlier, the second core ran
#: a squeeze with two shorter attempts; every OR-Tools-only variant left the same 7-8 instances one vehicle above the
#: best known. Full 40 Solomon at 10 s, one run each: two squeezes 1.92 % mean gap / 8 over BKS / 298 vehicles;
#: squeeze + ejection pool 2.39 % / 3 over / 292 (PyVRP 0.14, same budget: 0.47 % / 4 over / 293). The mean gap
#: rises because it now counts instances reached at the smaller fleet, whose routes OR-Tools has only the rest of
#: the budget to shorten (R107 8.5 %, R111 6.7 %).
FLEET_PORTFOLIO: list[dict[str, Any]] = [
    PORTFOLIO[1],
    {"kind": "eject", "first": FS.PARALLEL_CHEAPEST_INSERTION, "removed": 15, "max_seq": 15, "temp": 2.0,
     "first_share": 0.3, "rm_share": 0.45, "moves": 10, "retry_s": 2.0},
]
#: A dispatch day with breaks (vehicles free): ILS as in PORTFOLIO beside a search that first ignores the breaks
#: (see ``_breakless_first``). The squeeze it replaces only repeats ILS's trajectory when vehicles cost nothing
#: (measured: identical plans on 5 of 7 seeded city days). City days of ``benchmarks/dispatch_day.py`` (10
#: technicians, 80 jobs, 10 s, seeds 0-6), best of the two workers, objective: lower on 4 days, the same on 2,
#: +0.07 % on 1.
BREAKS_PORTFOLIO: list[dict[str, Any]] = [PORTFOLIO[0], {"kind": "breakless_first", "share": 0.3}]
#: Identical technicians and an objective of arc cost plus vehicles (Solomon): our compiled SISR beside SISR with the
#: ejection-pool route minimisation, sharing smaller fleets through the ``FleetBoard``. From the same route-minimised
#: start (6 s), SISR ended at R109 1154.6 / RC108 1146.7 where OR-Tools' ILS reached 1230 / 1208 and its GLS
#: 1193 / 1198. Full 40 Solomon at 10 s: mean gap 2.17 % -> 0.53 % (0.78 % beside PyVRP's 0.64 % in one run).
#: The second worker (the only one on one core) minimises the fleet with SISR's own procedure (``fleet``: "sisr",
#: ``_sisr.Search.minimise_fleet``) from 10 % to 50 % of the budget, where the Python ejection pool (``_fleet``) ran
#: from 20 % to 65 %; both start from our compiled insertion, not OR-Tools' first solution (1-4 s of 10 on a loaded
#: machine). Ten hard Solomon instances at 10 s, one core each, load 8-10: 6 above the best-known fleet with the
#: ejection pool, 1-2 with SISR's fleet minimisation (R104 still 10 for 9). Figures on all 40: README.
SISR_PORTFOLIO: list[dict[str, Any]] = [
    {"kind": "sisr", "temp": 2.0, "seed": 0},
    {"kind": "eject", "temp": 2.0, "seed": 1, "first_share": 0.1, "rm_share": 0.4, "fleet": "sisr"},
]
#: On one core, the SISR trajectory's distance search after the fleet minimisation: three runs of 15 % of the time
#: left, each from the fleet-minimised plan, then the rest from the best of them at a fifth of the starting
#: temperature. One run of that length ends in a poor basin about half the time on some Solomon instances (gap
#: RC102 0 % or 4-7 %, R202 0-0.3 % or 3-5 %, R109 0-0.2 % or 3-4 %, R204 0 % or 2-5 %, by seed). Measured on the
#: 25 shared instances with a best-known solution other than C1, 10 s, one core, seeds 0-3, the variants one after
#: the other, two seeds at a time each pinned to its own core: mean gap at the best-known fleet 0.98 % -> 0.67 % (96
#: runs each; the one-run baseline's seeds 0-1 shared the machine with tests, on the quiet seeds 2-3 0.89 % ->
#: 0.74 %). One run per seed on the full 40 showed no gain (README). ``descend``: after each SISR batch of that
#: distance search the current plan goes to a 2-opt* local optimum (``_sisr.two_opt_star``), which SISR's one-at-a-time
#: re-insertion cannot reach; 20 R/RC instances × seeds 0-3: 0.725 % -> 0.595 %; full 40 paired with the version before,
#: seeds 2 and 3: 0.978 -> 0.476 % and 0.467 -> 0.569 % (docs/benchmark-history.md). ``cycles``: the three runs
#: from one fleet-minimised plan end in the same basin (R109 seed 3: 4.8 % in all three; RC102 3.8 %), and that plan
#: decides which; so a second cycle minimises the fleet again from the plan before the first (to the fleet the first
#: reached, which takes ~0.1 s, not the ~1.6 s of trying for fewer), runs once for ``cycle_chain_share`` of the time
#: left from its plan, and the rest continues the best of all four runs; skipped when less than
#: ``cycle_min_share`` of the budget is left. 20 R/RC instances with a BKS × seeds 0-3, 10 s, one core, two seeds at
#: a time each pinned to its own core: 0.747 / 0.414 % -> 0.378 / 0.320 % mean gap at the BKS fleet (seeds 0-1 / 2-3),
#: 2 -> 1 over BKS; three cycles (chain share 0.3) 0.452 / 0.480 %.
SINGLE_CORE_CHAINS: dict[str, Any] = {"chains": 3, "chain_share": 0.15, "reheat_divisor": 5.0, "descend": True,
                                      "hopeless": (0.15, 3), "cycles": 2, "cycle_fleet_share": 0.2,
                                      "cycle_chain_share": 0.4, "cycle_min_share": 0.3}
#: ``hopeless`` above (share of the budget, customers): on one core the fleet minimisation ends when a route-removal
#: attempt still leaves 3 or more customers out after 15 % of the budget, and its time goes to the distance search.
#: Measured (15 R/RC instances × seeds 0-3, the 4 s fleet window from a 1 s SISR start, fewest customers left out per
#: attempt): every successful attempt had come down to 1 customer out, within 0.4 s where it took long (R104, R112);
#: the attempts that ended with 3 or more out (R107, R109, R111, R202, RC104, RC108, RC202, RC203) never succeeded and
#: used the rest of the window (about 3.9 s of 10) for nothing.
#: Any other day our compiled SISR models (``_day_sisr_applies``), vehicles free: two SISR runs with different seeds.
#: City day of ``benchmarks/dispatch_day.py`` (10 technicians with lunch breaks, 80 jobs, seed 0), one SISR run of
#: 9 s: travel 12,737 s with SLA lateness at its unavoidable bound, where the OR-Tools portfolio reached 13,973-15,313
#: s in 10 s and 13,077 s in 30 s.
DAY_SISR_PORTFOLIO: list[dict[str, Any]] = [{"kind": "day_sisr", "seed": 0}, {"kind": "day_sisr", "seed": 1}]
#: Below this budget a failed squeeze attempt leaves too little time for the distance search, and pure ILS is
#: the better second trajectory: Solomon C101 at 2 s (the fleet already minimal) is solved to optimality by
#: ILS + squeeze but ends 3 % above it with two squeezes.
FLEET_PORTFOLIO_MIN_S = 6.0
#: How long a stopped portfolio waits for its trajectories to return their best before it ends them (s).
STOP_GRACE_S = 0.5


def _pool_context() -> Any:
    """``fork`` is fastest but unsafe in a multi-threaded process (a server): a child can inherit a lock
    held by another thread and hang. There, use ``forkserver`` (children forked from a clean process)."""
    methods = mp.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return mp.get_context("fork")
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["routing._search", "routing._warm"])
        return ctx
    return mp.get_context("spawn")


def variants_for(problem: Problem, seed: int, workers: int, warm: bool, seconds: float) -> list[dict[str, Any]]:
    """The search trajectories to run, one per worker: our SISR where it models the problem (``_sisr_applies``,
    ``_day_sisr_applies``; with the ejection pool beside it when vehicles cost and there is time); otherwise a
    squeeze and the ejection-pool route minimisation when vehicles cost and there is time for them to pay off; ILS
    and a search that first leaves out the breaks on a day with breaks; else ILS and a squeeze.

    A warm start (the plan being re-planned) does not change the engine where our day SISR models the day: both
    trajectories start from it. Elsewhere the last (or only) trajectory continues from it with OR-Tools' GLS."""
    squeezes = problem.weights.vehicle_fixed and not warm and seconds >= FLEET_PORTFOLIO_MIN_S
    breaks = not problem.weights.vehicle_fixed and any(t.breaks for t in problem.technicians)
    pool_of = FLEET_PORTFOLIO if squeezes else BREAKS_PORTFOLIO if breaks else PORTFOLIO
    if not warm and _sisr_applies(problem):
        pool_of = SISR_PORTFOLIO if squeezes else [SISR_PORTFOLIO[0], {**SISR_PORTFOLIO[0], "seed": 1}]
    elif not problem.weights.vehicle_fixed and _day_sisr_applies(problem) and (warm or not _sisr_applies(problem)):
        return [dict(DAY_SISR_PORTFOLIO[(seed + k) % len(DAY_SISR_PORTFOLIO)]) for k in range(max(1, workers))]
    if squeezes and workers <= 1:
        # One core: the trajectory that also minimises routes (SISR or the squeeze first, then the ejection pool),
        # not the one that only shortens them: vehicles come first in this objective. Solomon R1/RC1, 10 s, one
        # core, machine shared with other work: the same fleets or one route fewer (R103 13 instead of 14).
        one = {**pool_of[1], "seed": pool_of[1].get("seed", 0) + seed}  # the caller's seed picks the stream
        return [{**one, **SINGLE_CORE_CHAINS} if pool_of is SISR_PORTFOLIO else one]
    variants = [dict(pool_of[(seed + k) % len(pool_of)]) for k in range(max(1, 2 if warm else workers))]
    if warm:
        variants[-1] = {"kind": "gls", "first": FS.PARALLEL_CHEAPEST_INSERTION}
    if workers <= 1 and warm:
        variants = variants[-1:]
    return variants


@contextlib.contextmanager
def _main_script_left_out(ctx: Any) -> Any:
    """Start workers without re-running the caller's main script in each of them.

    A forkserver/spawn child runs the parent's ``__main__`` file again before its task (multiprocessing's
    "init_main_from_path"). Started from the ``groundcrew`` command, that imports the whole server — about 0.7 s of
    CPU per worker per solve, which made server solves overrun their limit. The workers need only this package, so
    the script's path is hidden while the pool starts its processes (a module run with ``-m`` is left alone)."""
    main = sys.modules.get("__main__")
    hide = (ctx.get_start_method() != "fork" and main is not None
            and getattr(getattr(main, "__spec__", None), "name", None) is None and hasattr(main, "__file__"))
    if not hide:
        yield
        return
    path = main.__file__
    del main.__file__
    try:
        yield
    finally:
        main.__file__ = path


def _drain(offers: Any, sink: Any) -> None:
    """Hand the workers' queued offers to ``sink`` (in this thread)."""
    if offers is None:
        return
    while True:
        try:
            item = offers.get_nowait()
        except Exception:  # queue.Empty (or a queue closed by a terminated pool)
            return
        sink(*item)


def _sisr_applies(problem: Problem) -> bool:
    """Identical technicians, simple jobs, an objective of arcs plus vehicles: what ``_sisr`` models exactly."""
    return (_fleet.fleet_model(problem, list(range(len(problem.jobs)))) is not None
            and _fleet.arc_cost_only(problem, None))


def portfolio(problem: Problem, jobs: list[int], seconds: float, seed: int, workers: int,
              warm: list[list[int]] | None, extra_cost: dict | None = None, *,
              stop: Any = None, sink: Any = None) -> tuple[Outcome | None, int]:
    """Run ``workers`` variants in parallel (one per core) and keep the cheapest outcome.

    ``stop`` (anything with ``is_set()``): when set, every trajectory returns its best so far within about one search
    step. ``sink(worker, cost, routes)`` hears each trajectory's improving routes now and then (see ``_control``);
    it runs in the calling thread.

    OR-Tools' iterated local search obeys no search limit but its time limit (measured with OR-Tools 9.15: neither
    a custom limit, nor ``CancelSearch`` from a callback or another thread, ends it early), so with ``stop`` even a
    single trajectory runs in a worker process: one that has not returned ``STOP_GRACE_S`` after the stop is ended
    and the caller keeps the best routes it offered."""
    variants = variants_for(problem, seed, workers, warm is not None, seconds)
    if mp.current_process().daemon or (workers <= 1 and stop is None):
        outer = _control.current()
        if stop is not None:
            _control.join(_control.SearchControl(stop, sink))
        try:
            return run_variant(problem, jobs, variants[0], time.monotonic() + seconds, warm, extra_cost), 1
        finally:
            _control.join(outer)
    ctx = _pool_context()
    if any(v["kind"] in ("sisr", "eject", "day_sisr") for v in variants) and ctx.get_start_method() == "fork":
        t = time.monotonic()
        from .solve import warm_up

        warm_up()  # once in the parent: the forked workers inherit the loaded kernels
        seconds -= time.monotonic() - t
    # One absolute deadline for every worker: a process that starts slowly (forkserver: it imports the caller's main
    # module) searches less instead of returning late, and one that starts fast is not cut short by a guessed
    # start-up allowance (it was 0.5 s: 19 % of a 3 s re-plan's search, measured through the server).
    deadline = time.monotonic() + max(0.1, seconds)
    args = [(problem, jobs, v, deadline, warm, extra_cost, k) for k, v in enumerate(variants)]
    shares = problem.weights.vehicle_fixed and any(v["kind"] in ("sisr", "eject") for v in variants)
    board = FleetBoard(ctx, len(jobs), len(problem.technicians)) if shares else None
    stop_all = ctx.Event() if stop is not None else None
    offers = ctx.Queue() if stop is not None and sink is not None else None
    with _main_script_left_out(ctx):
        pool = ctx.Pool(len(variants), initializer=_join_board, initargs=(board, stop_all, offers))
    try:
        pending = pool.map_async(_worker, args)
        # A worker that never answers (killed, wedged) must not hang the caller: wait a bounded time,
        # then fall back to one in-process trajectory.
        give_up = time.monotonic() + seconds + 30.0
        while True:
            try:
                outs = pending.get(timeout=0.1 if stop is not None else max(0.0, give_up - time.monotonic()))
                break
            except mp.TimeoutError:
                _drain(offers, sink)
                if stop is not None and stop.is_set():
                    if not stop_all.is_set():  # type: ignore[union-attr]
                        stop_all.set()  # type: ignore[union-attr]
                        give_up = time.monotonic() + STOP_GRACE_S
                    elif time.monotonic() >= give_up:  # a search that cannot be interrupted: keep what it offered
                        _drain(offers, sink)
                        return None, len(variants)
                elif time.monotonic() >= give_up:
                    raise
        _drain(offers, sink)
    except mp.TimeoutError:
        pool.terminate()
        return run_variant(problem, jobs, variants[0], time.monotonic() + min(seconds, 5.0), warm, extra_cost), 1
    finally:
        pool.terminate()
        pool.join()
    best = None
    for o in outs:  # ties go to the first variant: deterministic choice
        if o is not None and (best is None or o.cost < best.cost):
            best = o
    return best, len(variants)
