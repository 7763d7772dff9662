"""recommend() and replan() on small cases with known answers."""

from __future__ import annotations

from routing import Changes, Job, Problem, Technician, check_feasibility, recommend, replan

from .helpers import H, line_matrix, solved, where

M = line_matrix(12)


def _problem() -> Problem:
    techs = [Technician("A", 8 * H, 17 * H, 0), Technician("B", 8 * H, 17 * H, 10)]
    jobs = [Job(f"J{k}", k, 1800) for k in (1, 2, 3, 8, 9)]
    return Problem(techs, jobs, M)


def test_recommend_ranks_the_nearby_technician_first():
    p = _problem()
    plan = solved(p)
    best = recommend(p, plan, Job("NEW", 9, 600), k=3)
    assert len(best) == 3
    assert best[0].technician_id == "B"
    assert best[0].added_travel_s <= best[1].added_travel_s
    assert [b.added_cost for b in best] == sorted(b.added_cost for b in best)


def test_recommend_respects_skills():
    p = _problem()
    p.technicians[1].skills = {"gas": 1}
    plan = solved(p)
    best = recommend(p, plan, Job("NEW", 9, 600, required_skills={"gas": 1}), k=5)
    assert best and {b.technician_id for b in best} == {"B"}


def test_replan_freezes_started_work_and_serves_new_job():
    p = _problem()
    plan = solved(p)
    now = plan.routes[0].stops[0].start_s + 60  # A's first job is under way
    first = plan.routes[0].stops[0].job_id
    new = replan(p, plan, Changes(add_jobs=[Job("URGENT", 5, 900, priority=9)], cancel_job_ids=["J9"]), now,
                 time_limit_s=1, workers=1)
    assert where(new, first) == ("A", 0)
    assert new.routes[0].stops[0] == plan.routes[0].stops[0]
    assert where(new, "URGENT") is not None and where(new, "J9") is None
    full = Problem(p.technicians, [j for j in p.jobs if j.id != "J9"] + [Job("URGENT", 5, 900, priority=9)], M)
    assert check_feasibility(full, new) == []
    moved = [j for j in ("J1", "J2", "J3", "J8") if where(new, j)[0] != where(plan, j)[0]]
    assert moved == []  # nothing had a reason to change technician


def test_replan_moves_work_off_an_unavailable_technician():
    p = _problem()
    plan = solved(p)
    new = replan(p, plan, Changes(unavailable_technician_ids=["B"]), 8 * H, time_limit_s=1, workers=1)
    assert new.route_of("B").stops == []
    assert {j for r in new.routes for j in r.job_ids} | {u.job_id for u in new.unassigned} == {
        "J1", "J2", "J3", "J8", "J9"}
    assert check_feasibility(p, new) == []


def test_changes_round_trip_through_json():
    import json

    c = Changes(add_jobs=[Job("N", 3, 600, priority=9)], cancel_job_ids=["J1"], unavailable_technician_ids=["B"])
    assert Changes.from_dict(json.loads(json.dumps(c.to_dict()))) == c
