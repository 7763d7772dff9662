"""Our compiled SISR (``routing._sisr``) and the board through which the two workers share smaller fleets: every
customer kept once and every window met, real Solomon plans improved and accepted by the independent checker, a
smaller fleet posted by one worker taken up by the other, and SISR chosen only where it optimises the whole
objective."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.solomon import check_exact, exact_distance, read_instance, to_problem
from routing import Break, Job, Problem, Technician, TimeWindow, Weights, _search, check_feasibility, warm_up
from routing._fleet import arc_cost_only, feasible, fleet_model
from routing._search import FleetBoard, Outcome, _first_solution, _sisr_fleet, variants_for
from routing._sisr import Search
from routing.solve import build_plan, screen
from tests.routing.helpers import H, line_matrix

SOLOMON = Path(__file__).resolve().parents[3] / "shared" / "data" / "solomon" / "instances"
needs_solomon = pytest.mark.skipif(not SOLOMON.is_dir(), reason=f"Solomon data not found at {SOLOMON}")


@pytest.fixture(scope="module", autouse=True)
def _kernels():
    warm_up()  # compiled once per checkout (cached on disk), loaded once per process


def _start(name: str):
    inst = read_instance(SOLOMON / f"{name}.txt")
    problem = to_problem(inst)
    jobs, _ = screen(problem)
    fm = fleet_model(problem, jobs)
    node = {j: k + 1 for k, j in enumerate(fm.jobs)}
    start = _first_solution(problem, jobs, None, time.monotonic() + 10)
    return inst, problem, jobs, fm, [[node[j] for j in r] for r in start if r]


@needs_solomon
def test_sisr_keeps_every_customer_once_meets_every_window_and_improves_a_real_plan():
    inst, problem, _, fm, start = _start("R101")
    search = Search(fm, start, len(problem.technicians), problem.weights.vehicle_fixed)
    first = search.best_cost
    search.run(time.monotonic() + 1.5, 100_000, 1_000)
    routes = search.best_routes()
    assert sorted(x for r in routes for x in r) == list(range(1, fm.end))
    seqs = np.full((len(routes), max(map(len, routes)) + 2), fm.end)
    for k, r in enumerate(routes):
        seqs[k, :len(r) + 1] = [0, *r]
    assert feasible(fm, seqs).all()
    assert search.best_cost < first and search.state[4] > 1000  # iterations ran and found a better plan
    # The cost it reports is what the plan costs: arcs plus the fixed cost per route.
    arcs = sum(int(fm.cost[a, b]) for r in routes for a, b in zip([0, *r], [*r, fm.end], strict=True))
    assert search.best_cost == arcs + len(routes) * problem.weights.vehicle_fixed
    exact = [[fm.jobs[x - 1] + 1 for x in r] for r in routes]
    assert check_exact(inst, exact) == []


def test_a_start_that_misses_a_window_is_refused():
    techs = [Technician(id="t", shift_start_s=0, shift_end_s=H, start_location=0)]
    jobs = [Job(id="1", location=1, duration_s=60, time_windows=[TimeWindow(0, 100)]),
            Job(id="2", location=2, duration_s=60, time_windows=[TimeWindow(0, 100)])]
    problem = Problem(technicians=techs, jobs=jobs, travel_time_s=line_matrix(3, 90))
    fm = fleet_model(problem, [0, 1])
    with pytest.raises(ValueError, match="misses a time window"):
        Search(fm, [[1, 2]], 1, 0)  # job 2 cannot start before 180


def test_the_board_keeps_only_a_smaller_complete_fleet():
    board = FleetBoard(mp.get_context("fork"), 4, 3)
    assert board.fewer_than(3) is None
    assert board.publish([[0, 1], [2, 3], []])
    assert not board.publish([[0], [1, 2], [3]])  # more routes: refused
    assert board.fewer_than(2) is None
    assert board.fewer_than(3) == [[0, 1], [2, 3], []]
    assert board.publish([[0, 1, 2, 3], [], []])
    assert board.fewer_than(2) == [[0, 1, 2, 3], [], []]


@needs_solomon
def test_a_worker_takes_up_the_smaller_fleet_the_other_posts(monkeypatch):
    inst, problem, jobs, _, start = _start("RC101")
    # A plan with fewer routes than SISR starts from: the first worker's result after a short search.
    first = _sisr_fleet(problem, jobs, {"kind": "sisr"}, time.monotonic() + 2.0, None)
    smaller = [r for r in first.routes if r]
    assert len(smaller) < len(start)
    board = FleetBoard(mp.get_context("fork"), len(jobs), len(problem.technicians))
    board.publish(first.routes)
    monkeypatch.setattr(_search, "_BOARD", board)
    out = _sisr_fleet(problem, jobs, {"kind": "sisr", "seed": 1}, time.monotonic() + 1.0, None)
    assert any(p["phase"].startswith(f"adopted {len(smaller)} routes") for p in out.phases)
    routes = [r for r in out.routes if r]
    assert len(routes) <= len(smaller)
    plan = build_plan(problem, out, {})
    assert check_feasibility(problem, plan) == [] and not plan.unassigned
    assert exact_distance(inst, [[j + 1 for j in r] for r in routes]) > 0


@needs_solomon
def test_the_ejection_variant_posts_each_smaller_fleet(monkeypatch):
    _, problem, jobs, _, start = _start("RC101")
    board = FleetBoard(mp.get_context("fork"), len(jobs), len(problem.technicians))
    monkeypatch.setattr(_search, "_BOARD", board)
    out = _sisr_fleet(problem, jobs, _search.SISR_PORTFOLIO[1], time.monotonic() + 4.0, None, eject=True)
    names = [p["phase"] for p in out.phases]
    assert names[:3] == ["cheapest insertion", "sisr", names[2]] and names[2].startswith("fleet minimisation")
    posted = board.fewer_than(len(start))
    assert posted is not None and sum(map(len, posted)) == len(jobs)
    assert sum(1 for r in out.routes if r) <= sum(1 for r in posted if r)


def _problem(*, breaks: bool = False, sla: bool = False, vehicle_fixed: int = 10**6) -> Problem:
    techs = [Technician(id=f"t{k}", shift_start_s=0, shift_end_s=8 * H, start_location=0,
                        breaks=[Break(1800, 3 * H, 5 * H)] if breaks else []) for k in range(3)]
    jobs = [Job(id=str(i), location=i, duration_s=600, time_windows=[TimeWindow(0, 8 * H)],
                sla_deadline_s=2 * H if sla else None) for i in (1, 2, 3)]
    return Problem(technicians=techs, jobs=jobs, travel_time_s=line_matrix(4),
                   weights=dataclasses.replace(Weights(), vehicle_fixed=vehicle_fixed))


def test_sisr_runs_only_where_it_optimises_the_whole_objective():
    assert [v["kind"] for v in variants_for(_problem(), 0, 2, False, 10)] == ["sisr", "eject"]
    assert [v["kind"] for v in variants_for(_problem(), 0, 2, False, 2)] == ["sisr", "sisr"]  # no time to eject
    assert [v["kind"] for v in variants_for(_problem(breaks=True), 0, 2, False, 10)] == ["squeeze", "eject"]
    sla = _problem(sla=True)
    assert not arc_cost_only(sla, None)
    assert [v["kind"] for v in variants_for(sla, 0, 2, False, 10)] == ["squeeze", "eject"]
    assert not arc_cost_only(_problem(), {(0, 0): 5})
    assert [v["kind"] for v in variants_for(_problem(), 0, 2, True, 10)] == ["ils", "gls"]  # warm start


def test_a_tiny_problem_is_solved_exactly_by_the_sisr_path():
    problem = _problem()
    out = _sisr_fleet(problem, [0, 1, 2], {"kind": "sisr"}, time.monotonic() + 0.3, None)
    # One technician (each costs 10**6) driving out to place 3 and back: 6 units of 600 s, whatever the order.
    assert isinstance(out, Outcome) and len([r for r in out.routes if r]) == 1
    assert out.cost == 10**6 + 6 * 600
    assert check_feasibility(problem, build_plan(problem, out, {})) == []


def _routes_ok(fm, routes) -> bool:
    seqs = np.full((len(routes), max(map(len, routes)) + 2), fm.end)
    for k, r in enumerate(routes):
        seqs[k, :len(r) + 1] = [0, *r]
    return bool(feasible(fm, seqs).all())


def _twelve(capacity: int, windows: dict[int, TimeWindow] | None = None) -> Problem:
    """Twelve jobs of demand 1 along a line; ``capacity`` per technician; one technician per job."""
    windows = windows or {}
    techs = [Technician(id=f"t{k}", shift_start_s=0, shift_end_s=8 * H, start_location=0, capacity=capacity)
             for k in range(12)]
    jobs = [Job(id=str(i), location=i, duration_s=600, demand=1,
                time_windows=[windows.get(i, TimeWindow(0, 8 * H))]) for i in range(1, 13)]
    return Problem(technicians=techs, jobs=jobs, travel_time_s=line_matrix(13, 300),
                   weights=dataclasses.replace(Weights(), vehicle_fixed=10**6))


def test_fleet_minimisation_takes_one_route_per_job_down_to_the_capacity_bound():
    problem = _twelve(capacity=4)
    fm = fleet_model(problem, list(range(12)))
    search = Search(fm, [[k] for k in range(1, 13)], 12, problem.weights.vehicle_fixed)  # the worst start: 12 routes
    smaller: list[int] = []
    stats = search.minimise_fleet(time.monotonic() + 120.0, floor=3, on_success=lambda r: smaller.append(len(r)))
    routes = search.best_routes()
    # It stops at the bound (ceil(12 / 4)), not at the deadline; each plan it reports is smaller (routes that the
    # search emptied on the way go too), every job served once.
    assert smaller[-1] == 3 and all(a > b for a, b in zip([12, *smaller], smaller, strict=False))
    assert stats["from_routes"] == 12 and stats["to_routes"] == 3
    assert len(routes) == 3 and sorted(x for r in routes for x in r) == list(range(1, 13))
    assert all(sum(int(fm.demand[x]) for x in r) <= 4 for r in routes) and _routes_ok(fm, routes)
    # The distance search continues from that plan: its cost is what the plan costs.
    arcs = sum(int(fm.cost[a, b]) for r in routes for a, b in zip([0, *r], [*r, fm.end], strict=True))
    assert search.best_cost == arcs + 3 * problem.weights.vehicle_fixed


def test_fleet_minimisation_never_keeps_a_fleet_that_leaves_a_job_out():
    # Jobs 1 and 12 both start at 4000 s sharp, 11 places (3300 s) apart: no technician serves both, so two routes
    # at least, however long it searches and whatever the capacity bound (1) says.
    problem = _twelve(capacity=100, windows={1: TimeWindow(4000, 4000), 12: TimeWindow(4000, 4000)})
    fm = fleet_model(problem, list(range(12)))
    search = Search(fm, [[k] for k in range(1, 13)], 12, problem.weights.vehicle_fixed)
    stats = search.minimise_fleet(time.monotonic() + 0.5, floor=1)
    routes = search.best_routes()
    assert stats["to_routes"] == len(routes) >= 2
    assert sorted(x for r in routes for x in r) == list(range(1, 13)) and _routes_ok(fm, routes)


def test_fleet_minimisation_gives_up_an_attempt_that_stays_far_from_serving_everyone():
    # Capacity 4 for 12 jobs: at 3 routes, taking out another leaves 4 customers out whatever the search does. With
    # ``hopeless`` = (0.2 s, 3) that attempt ends after 0.2 s, not at the deadline, and its time is the caller's.
    problem = _twelve(capacity=4)
    fm = fleet_model(problem, list(range(12)))
    search = Search(fm, [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], 12, problem.weights.vehicle_fixed)
    stats = search.minimise_fleet(time.monotonic() + 600.0, floor=1, hopeless=(0.2, 3))
    assert stats["ended"] == "hopeless" and stats["to_routes"] == 3
    assert sorted(x for r in search.best_routes() for x in r) == list(range(1, 13))
    # Without it the same attempt runs to the deadline; one that comes down to fewer out is not given up.
    search.start([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]])
    assert search.minimise_fleet(time.monotonic() + 0.3, floor=1)["ended"] == "stopped"
    problem = _twelve(capacity=6)  # 2 routes fit: the attempt from 3 succeeds
    fm = fleet_model(problem, list(range(12)))
    search = Search(fm, [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], 12, problem.weights.vehicle_fixed)
    stats = search.minimise_fleet(time.monotonic() + 600.0, floor=2, hopeless=(5.0, 3))
    assert stats["ended"] == "floor" and stats["to_routes"] == 2


def test_the_compiled_insertion_serves_every_customer_of_a_real_instance():
    inst = read_instance(SOLOMON / "R101.txt") if SOLOMON.is_dir() else None
    if inst is None:
        pytest.skip(f"Solomon data not found at {SOLOMON}")
    problem = to_problem(inst)
    jobs, _ = screen(problem)
    fm = fleet_model(problem, jobs)
    search = Search(fm, [], len(problem.technicians), problem.weights.vehicle_fixed)
    assert search.construct(time.monotonic() + 60.0)
    routes = search.best_routes()
    assert len(routes) <= len(problem.technicians) and sorted(x for r in routes for x in r) == list(range(1, fm.end))
    assert _routes_ok(fm, routes) and check_exact(inst, [[fm.jobs[x - 1] + 1 for x in r] for r in routes]) == []


@needs_solomon
def test_fleet_minimisation_empties_a_route_of_a_real_plan_the_distance_search_keeps():
    inst, problem, _, fm, start = _start("RC101")  # best known: 14 routes
    search = Search(fm, start, len(problem.technicians), problem.weights.vehicle_fixed)
    used = search.best_used
    assert used > 14  # OR-Tools' first solution: more routes than needed
    stats = search.minimise_fleet(time.monotonic() + 120.0, floor=used - 1)  # ends at the first route fewer
    routes = search.best_routes()
    assert stats["to_routes"] == len(routes) == used - 1
    assert check_exact(inst, [[fm.jobs[x - 1] + 1 for x in r] for r in routes]) == []


def test_one_worker_follows_the_seed():
    a, b = variants_for(_problem(), 0, 1, False, 10), variants_for(_problem(), 1, 1, False, 10)
    assert [v["kind"] for v in a] == [v["kind"] for v in b] == ["eject"] and a[0]["seed"] != b[0]["seed"]


@needs_solomon
def test_on_one_core_the_distance_search_keeps_the_best_of_short_runs_from_two_fleet_minimisations():
    """One SISR run of the distance phase ends in a poor basin about half the time on some instances (by seed), and
    runs from the same fleet-minimised plan end in the same one; on one core the trajectory runs three short ones from
    the fleet-minimised plan, minimises the fleet again from the plan before it (to the same fleet), runs once from
    that plan, and continues the best of the four."""
    (variant,) = variants_for(_problem(), 0, 1, False, 10)
    assert variant["kind"] == "eject" and variant["chains"] == 3 and variant["cycles"] == 2
    assert "chains" not in variants_for(_problem(), 0, 2, False, 10)[1]  # two cores: as before
    _, problem, jobs, _, _ = _start("RC101")
    # The second cycle is skipped when less than ``cycle_min_share`` of the budget is left after the three runs, and its
    # run when its fleet minimisation does not get back to the fleet within ``cycle_fleet_share``; both depend on the
    # machine's speed: here the cycle always runs, with ample time to get back to the fleet (~0.1 s here, 0.3 s at
    # half speed; it stops there, so the rest is not used).
    variant = {**variant, "cycle_min_share": 0.0, "cycle_fleet_share": 0.5}
    out = _sisr_fleet(problem, jobs, variant, time.monotonic() + 6.0, None, eject=True)
    names = [p["phase"] for p in out.phases]
    chains = [p for p in out.phases if p["phase"].startswith("sisr chain")]
    assert [p["phase"] for p in chains] == [f"sisr chain {k} of 3" for k in (1, 2, 3)]
    fleet = next(p["to_routes"] for p in out.phases if "to_routes" in p)
    again = names.index(f"cycle 2: fleet minimisation to {fleet} routes")  # the same fleet, from the plan before
    assert names.index("sisr chain 3 of 3") < again < names.index("cycle 2: sisr chain")
    runs = [*chains, out.phases[names.index("cycle 2: sisr chain")]]
    assert out.cost <= min(p["cost"] for p in runs)  # the rest continued from the best of them
    plan = build_plan(problem, out, {})
    assert check_feasibility(problem, plan) == [] and not plan.unassigned


def test_two_opt_star_exchanges_two_routes_tails():
    # Along a line: routes 1 -> 6 and 5 -> 2 cross; exchanging their tails gives 1 -> 2 and 5 -> 6 (capacity 2 keeps
    # them two routes), which SISR's one-customer-at-a-time insertion reaches only through a worse plan.
    problem = _twelve(capacity=2)
    fm = fleet_model(problem, list(range(12)))
    search = Search(fm, [[1, 6], [5, 2]], 12, problem.weights.vehicle_fixed)
    assert search.descend() == 1
    assert sorted(search.best_routes()) == [[1, 2], [5, 6]]
    arcs = sum(int(fm.cost[a, b]) for r in ([1, 2], [5, 6]) for a, b in zip([0, *r], [*r, fm.end], strict=True))
    assert search.best_cost == int(search.state[0]) == arcs + 2 * problem.weights.vehicle_fixed


def _improving_tail_exchange(fm, routes, fixed):
    """A feasible 2-opt* move that lowers the cost of ``routes``, found by brute force; None when there is none."""
    def cost(r):
        return sum(int(fm.cost[a, b]) for a, b in zip([0, *r], [*r, fm.end], strict=True)) + (fixed if r else 0)

    for x, r1 in enumerate(routes):
        for y, r2 in enumerate(routes):
            if x == y:
                continue
            for i in range(len(r1) + 1):
                for j in range(len(r2) + 1):
                    a, b = r1[:i] + r2[j:], r2[:j] + r1[i:]
                    if cost(a) + cost(b) < cost(r1) + cost(r2) and _routes_ok(fm, [a or [], b or []]) and all(
                            sum(int(fm.demand[c]) for c in r) <= fm.capacity for r in (a, b)):
                        return x, y, i, j
    return None


@needs_solomon
def test_two_opt_star_descends_a_real_plan_to_a_local_optimum_and_keeps_it_valid():
    inst = read_instance(SOLOMON / "R201.txt")  # long routes: where the tail exchange matters
    problem = to_problem(inst)
    fm, fixed = fleet_model(problem, screen(problem)[0]), problem.weights.vehicle_fixed
    search = Search(fm, [], len(problem.technicians), fixed)
    assert search.construct(time.monotonic() + 60.0)  # our cheapest insertion: no local search yet
    first = search.best_cost
    assert _improving_tail_exchange(fm, search.best_routes(), fixed) is not None
    assert search.descend() > 0
    routes = search.best_routes()
    assert search.best_cost < first and sorted(x for r in routes for x in r) == list(range(1, fm.end))
    arcs = sum(int(fm.cost[a, b]) for r in routes for a, b in zip([0, *r], [*r, fm.end], strict=True))
    assert search.best_cost == arcs + len(routes) * fixed
    assert _routes_ok(fm, routes) and check_exact(inst, [[fm.jobs[x - 1] + 1 for x in r] for r in routes]) == []
    assert _improving_tail_exchange(fm, routes, fixed) is None
    # The working copy follows the current plan: SISR continues from it without losing a customer.
    search.run(time.monotonic() + 0.3, 1_000, 10, descend=True)
    routes = search.best_routes()
    assert sorted(x for r in routes for x in r) == list(range(1, fm.end)) and _routes_ok(fm, routes)
