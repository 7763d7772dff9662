"""Our compiled SISR for a field-service day (``routing._day_sisr``): its route check is ``schedule.simulate`` and
its cost is ``schedule.evaluate``, exactly, on random routes of a day with breaks, several windows, SLA deadlines,
overtime and continuity; its plans pass the independent checker; and where it does not model a day, OR-Tools runs.
(The per-constraint cases in test_constraints.py run through it too: ``solve(..., workers=1)`` on those days.)"""

from __future__ import annotations

import time

import numpy as np
import pytest

from routing import Break, Job, Plan, Problem, Technician, TimeWindow, Weights, check_feasibility, warm_up
from routing._day_sisr import DaySearch, _insert_all, route_cost
from routing._search import _day_sisr, _day_sisr_applies
from routing.schedule import Infeasible, evaluate, simulate, timeline
from routing.solve import build_plan, screen
from tests.routing.helpers import H, line_matrix


@pytest.fixture(scope="module", autouse=True)
def _kernels():
    warm_up()


def _day(seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    n_loc = 20
    xy = rng.uniform(0, 1, (n_loc, 2))
    travel = np.rint(np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) * 3600).astype(np.int64)
    techs = [
        Technician("A", 8 * H, 17 * H, 0, skills={"gas": 2, "elec": 1}, max_overtime_s=H,
                   breaks=[Break(1800, 11 * H + 1800, 14 * H)]),
        Technician("B", 8 * H, 16 * H, 1, end_location=2, skills={"gas": 1}, max_overtime_s=1800,
                   overtime_cost_factor=2.0, breaks=[Break(1800, 12 * H, 13 * H + 1800), Break(900, 15 * H, 16 * H)]),
        Technician("C", 9 * H, 17 * H, 3, skills={"elec": 3}, busy_until_s=10 * H, current_location=4),
    ]
    jobs = []
    for i in range(14):
        r = rng.random()
        windows = ([TimeWindow(8 * H, 12 * H)] if r < 0.3 else
                   [TimeWindow(8 * H, 10 * H), TimeWindow(14 * H, 16 * H)] if r < 0.5 else [])
        prio = int(rng.integers(1, 11))
        jobs.append(Job(f"J{i}", int(rng.integers(5, n_loc)), int(rng.integers(2, 7)) * 600, time_windows=windows,
                        required_skills={str(rng.choice(["gas", "elec"])): 1}, priority=prio,
                        sla_deadline_s=9 * H + int(rng.integers(0, 6)) * H if prio >= 6 else None,
                        preferred_technicians=["A"] if i % 4 == 0 else [],
                        scale_duration_by_skill=i % 3 == 0))
    return Problem(techs, jobs, travel, weights=Weights(vehicle_fixed=500))


def test_the_route_check_and_cost_are_simulate_and_evaluate_exactly():
    problem = _day()
    search = DaySearch(problem, list(range(len(problem.jobs))))
    rng = np.random.default_rng(1)
    checked = {"feasible": 0, "infeasible": 0}
    for _ in range(400):
        v = int(rng.integers(len(problem.technicians)))
        tech = problem.technicians[v]
        able = [k for k, j in enumerate(problem.jobs) if problem.can_do(tech, j)]
        seq = [int(x) for x in rng.permutation(able)[:int(rng.integers(0, 6))]]
        cost = route_cost(v, np.asarray([*seq, 0], dtype=np.int64), len(seq), search.d)
        ids = [problem.jobs[k].id for k in seq]
        try:
            simulate(problem, tech, ids)
        except Infeasible:
            assert cost == -1, ids
            checked["infeasible"] += 1
            continue
        routes = [timeline(problem, t, ids if t is tech else []) for t in problem.technicians]
        assert cost == evaluate(problem, Plan(routes=routes, unassigned=[])).cost, ids
        arr = np.asarray([*seq, 0], dtype=np.int64)
        # Asked only whether it costs less than a limit (an insertion's question): the exact cost under the limit,
        # an answer at or above the limit otherwise, and at a limit reached before the last job, the limit itself.
        assert route_cost(v, arr, len(seq), search.d, cost + 1) == cost
        assert route_cost(v, arr, len(seq), search.d, cost) >= cost
        if seq:
            assert route_cost(v, arr, len(seq), search.d, search.d.fixed) == search.d.fixed
        checked["feasible"] += 1
    assert min(checked.values()) > 40  # both kinds of route were really compared


def test_a_day_search_gives_a_feasible_plan_costing_what_it_reports():
    problem = _day(2)
    jobs, reasons = screen(problem)
    out = _day_sisr(problem, jobs, {"kind": "day_sisr"}, time.monotonic() + 1.0, None)
    assert out.phases[-1]["phase"] == "sisr" and out.phases[-1]["iterations"] > 100
    assert out.phases[-1]["cost"] <= out.phases[0]["cost"]  # never worse than its construction
    plan = build_plan(problem, out, reasons)
    assert check_feasibility(problem, plan) == []
    penalty = dict(zip((problem.jobs[j].id for j in jobs), DaySearch(problem, jobs).penalty.tolist(), strict=True))
    served = {s.job_id for r in plan.routes for s in r.stops}
    assert out.cost == plan.objective.cost + sum(c for job_id, c in penalty.items() if job_id not in served)


def test_what_it_does_not_model_goes_to_or_tools():
    """Work in progress, pinned positions and a re-plan's disruption cost are modelled (they went to OR-Tools before,
    whose search is weaker on a day); only workload balance is not."""
    problem = _day()
    assert _day_sisr_applies(problem, None) and _day_sisr_applies(problem, {(0, 1): 600})
    problem.jobs[0].in_progress, problem.jobs[0].pinned_technician = True, "A"
    assert _day_sisr_applies(problem, None)
    jobs, _ = screen(problem)
    out = _day_sisr(problem, jobs, {"kind": "day_sisr"}, time.monotonic() + 1.0, None)
    assert out.status == "sisr" and out.routes[0][0] == 0  # our SISR, the job in progress first
    assert check_feasibility(problem, build_plan(problem, out, {})) == []
    problem.weights.balance_per_s = 1
    assert not _day_sisr_applies(problem, None)
    out = _day_sisr(problem, jobs, {"kind": "day_sisr"}, time.monotonic() + 1.0, None)
    assert out.status != "sisr" and out.routes[0][0] == 0  # OR-Tools, the job in progress first


def test_work_in_progress_and_pinned_positions_are_fixed_places():
    problem = _day(3)
    problem.jobs[2].in_progress, problem.jobs[2].pinned_technician = True, "A"
    problem.jobs[2].required_skills = {}
    problem.jobs[5].pinned_technician, problem.jobs[5].pinned_position = "B", 0
    problem.jobs[5].required_skills, problem.jobs[5].time_windows = {}, []
    search = DaySearch(problem, list(range(len(problem.jobs))))
    a, b = 0, 1
    buf = np.zeros(len(problem.jobs) + 1, dtype=np.int64)
    others = [k for k, j in enumerate(problem.jobs) if k not in (2, 5) and problem.can_do(problem.technicians[a], j)]
    buf[:2] = [others[0], 2]  # the job in progress second: refused
    assert route_cost(a, buf, 2, search.d) == -1
    buf[:1] = [2]
    assert route_cost(a, buf, 1, search.d) >= 0
    buf[:1] = [5]
    assert route_cost(b, buf, 1, search.d) >= 0
    jobs, reasons = screen(problem)
    out = _day_sisr(problem, jobs, {"kind": "day_sisr"}, time.monotonic() + 1.0, None)
    plan = build_plan(problem, out, reasons)
    assert check_feasibility(problem, plan) == []
    assert plan.route_of("A").job_ids[0] == problem.jobs[2].id and plan.route_of("B").job_ids[0] == problem.jobs[5].id


def test_a_replan_starts_from_the_plan_and_its_disruption_cost_keeps_it_stable():
    """From a previous plan (``start``), with the disruption cost ``solve`` puts on moving a planned job to another
    technician: the search starts at least as good as the given plan, and a re-plan with nothing changed moves no
    job to another technician."""
    problem = _day(4)
    jobs, reasons = screen(problem)
    first = build_plan(problem, _day_sisr(problem, jobs, {"kind": "day_sisr"}, time.monotonic() + 1.0, None), reasons)
    index = {j.id: k for k, j in enumerate(problem.jobs)}
    start = [[index[i] for i in r.job_ids] for r in first.routes]
    extra = {(v, j): problem.weights.disruption for u, seq in enumerate(start) for j in seq
             for v in range(len(problem.technicians)) if v != u}
    search = DaySearch(problem, jobs, extra, start=start)
    assert search.best_routes() == start  # a feasible plan is taken as it is
    out = _day_sisr(problem, jobs, {"kind": "day_sisr", "seed": 1}, time.monotonic() + 1.0, extra, start)
    assert out.phases[0]["phase"] == "from the previous plan"
    again = build_plan(problem, out, reasons)
    assert check_feasibility(problem, again) == []
    before = {s.job_id: r.technician_id for r in first.routes for s in r.stops}
    after = {s.job_id: r.technician_id for r in again.routes for s in r.stops}
    assert set(after) >= set(before) and all(after[j] == t for j, t in before.items())
    # a start that no longer fits (a technician now busy until late) keeps what fits and inserts the rest
    problem.technicians[0].busy_until_s = 15 * H
    search = DaySearch(problem, jobs, extra, start=start)
    routes = search.best_routes()
    assert sum(map(len, routes)) >= sum(map(len, start)) - len(start[0])
    for kept, given in zip(routes[1:], start[1:], strict=True):  # the other routes kept in order, jobs added
        assert [j for j in kept if j in given] == given


def test_a_carried_over_search_prices_moves_against_the_plan_in_force_not_its_own_start():
    """A search overtaken by a live change continues from its own best (``warm_start``) but people were told the plan
    in force: moving one of that plan's jobs to another technician is what costs. Two technicians at the same place,
    two jobs: the warm start gives both to A, the plan in force to B; the re-plan keeps them with B."""
    from routing import Route, Stop, solve

    techs = [Technician("A", 8 * H, 17 * H, 0), Technician("B", 8 * H, 17 * H, 0)]
    jobs = [Job("1", 1, 600), Job("2", 2, 600)]
    problem = Problem(technicians=techs, jobs=jobs, travel_time_s=line_matrix(3))

    def plan(tech: str) -> Plan:
        return Plan(routes=[Route(tech, 0, 0, stops=[Stop(j, 0, 0, 0, 0, 0) for j in ("1", "2")])])

    assert problem.weights.disruption > 0
    own = solve(problem, time_limit_s=0.5, warm_start=plan("A"), workers=1)
    assert sorted(own.assignment()["A"]) == ["1", "2"]  # without a plan in force, its own start is what moving costs
    told = solve(problem, time_limit_s=0.5, warm_start=plan("A"), in_force=plan("B"), workers=1)
    assert check_feasibility(problem, told) == [] and sorted(told.assignment()["B"]) == ["1", "2"]
    assert not told.assignment().get("A")


def _insert_timing_every_place(rem, routes, lens, rcost, unassigned, d) -> None:
    """The reference for ``_insert_all`` without its bound: every place of every allowed route timed."""
    for j in rem:
        best = bv = bp = None
        for v in range(routes.shape[0]):
            if not d.allowed[v, j]:
                continue
            m = int(lens[v])
            for p in range(m + 1):
                seq = np.array([*routes[v, :p], j, *routes[v, p:m]], np.int64)
                c = route_cost(v, seq, m + 1, d)
                if c >= 0 and (best is None or c - rcost[v] < best):
                    best, bv, bp = c - rcost[v], v, p
        if bv is None:
            unassigned[j] = True
            continue
        m = int(lens[bv])
        routes[bv, bp + 1:m + 1] = routes[bv, bp:m].copy()
        routes[bv, bp] = j
        lens[bv] = m + 1
        rcost[bv] += best
        unassigned[j] = False


def test_insertion_skips_only_places_that_cannot_be_cheapest():
    """``_insert_all`` times a place only when its lower bound (the arcs' detour, the job's extra cost, the fixed cost
    of an empty route) is below the best so far; on days with breaks, several windows, SLA deadlines, overtime and
    continuity it puts every job where timing every place would."""
    compared = 0
    for seed in range(6):
        problem = _day(seed)
        search = DaySearch(problem, list(range(len(problem.jobs))), seed=seed)
        d = search.d
        rng = np.random.default_rng(seed)
        for _ in range(60):
            routes, lens, rcost = search.routes.copy(), search.lens.copy(), search.rcost.copy()
            unassigned = search.unassigned.copy()
            placed = [int(x) for v in range(len(lens)) for x in routes[v, :lens[v]]]
            out = set(rng.choice(placed, size=int(rng.integers(1, len(placed) + 1)), replace=False).tolist())
            for v in range(len(lens)):
                keep = [x for x in routes[v, :lens[v]] if x not in out]
                routes[v, :len(keep)] = keep
                lens[v] = len(keep)
                rcost[v] = route_cost(v, routes[v], len(keep), d)
            if (rcost < 0).any():  # taking a job out broke a route (a break no longer fits): not a state to insert into
                continue
            unassigned[list(out)] = True
            rem = np.array(rng.permutation(sorted(out)), np.int64)
            ours = routes.copy(), lens.copy(), rcost.copy(), unassigned.copy()
            _insert_all(rem, len(rem), *ours, d, np.empty(len(unassigned) + 1, np.int64), False)
            _insert_timing_every_place(rem, routes, lens, rcost, unassigned, d)
            for v in range(len(lens)):
                assert list(ours[0][v, :ours[1][v]]) == list(routes[v, :lens[v]])
            assert (ours[2] == rcost).all() and (ours[3] == unassigned).all()
            compared += 1
    assert compared >= 200
