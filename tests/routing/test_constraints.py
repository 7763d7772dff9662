"""One test per constraint on small hand-made cases with known answers."""

from __future__ import annotations

from routing import Break, Job, Problem, Technician, TimeWindow, Weights, solve
from routing.plan import REASON_CAPACITY, REASON_SHIFT, REASON_SKILL, REASON_WINDOW

from .helpers import UNIT, H, line_matrix, solved, where

M = line_matrix(12)


def tech(tid: str, loc: int = 0, start: int = 8 * H, end: int = 17 * H, **kw) -> Technician:
    return Technician(id=tid, shift_start_s=start, shift_end_s=end, start_location=loc, **kw)


def job(jid: str, loc: int, dur: int = 1800, **kw) -> Job:
    return Job(id=jid, location=loc, duration_s=dur, **kw)


def test_skills_go_to_a_technician_with_the_level():
    p = Problem(
        [tech("A", skills={"gas": 1}), tech("B", loc=10, skills={"gas": 3, "elec": 1})],
        [job("J1", 1, required_skills={"gas": 2}), job("J2", 1, required_skills={"gas": 4})],
        M,
    )
    plan = solved(p)
    assert where(plan, "J1")[0] == "B"  # A is next door but lacks the level
    assert {u.job_id: u.reason for u in plan.unassigned} == {"J2": REASON_SKILL}


def test_multiple_time_windows_use_the_reachable_one():
    # 5 units = 50 min away: the 08:00-08:30 window is unreachable from an 08:00 start.
    w = [TimeWindow(8 * H, 8 * H + 1800), TimeWindow(13 * H, 14 * H)]
    plan = solved(Problem([tech("A")], [job("J1", 5, time_windows=w)], M))
    stop = plan.routes[0].stops[0]
    assert stop.start_s == 13 * H  # earliest start in the second window


def test_window_reason_when_no_window_can_be_reached():
    plan = solved(Problem([tech("A")], [job("J1", 5, time_windows=[TimeWindow(8 * H, 8 * H + 600)])], M))
    assert plan.unassigned[0].reason == REASON_WINDOW


def test_shift_end_limits_the_day_and_reasons_are_given():
    # Shift 08:00-10:00. J1 and J2 each fit alone, not both; J3 is only wanted after the shift.
    p = Problem(
        [tech("A", end=10 * H)],
        [job("J1", 1, 1800), job("J2", 2, 4800, priority=1),
         job("J3", 1, 600, time_windows=[TimeWindow(15 * H, 16 * H)])],
        M,
    )
    plan = solved(p)
    reasons = {u.job_id: u.reason for u in plan.unassigned}
    assert reasons == {"J2": REASON_CAPACITY, "J3": REASON_SHIFT}
    assert plan.routes[0].end_s <= 10 * H
    too_long = solved(Problem([tech("A", end=10 * H)], [job("J4", 1, 3 * H)], M))
    assert too_long.unassigned[0].reason == REASON_SHIFT


def test_lunch_break_is_placed_in_its_window_between_jobs():
    lunch = Break(duration_s=1800, earliest_start_s=11 * H + 1800, latest_end_s=14 * H)
    jobs = [job(f"J{k}", k % 5 + 1, 3600) for k in range(6)]
    plan = solved(Problem([tech("A", breaks=[lunch])], jobs, M))
    r = plan.routes[0]
    assert len(r.stops) == 6
    (b,) = r.breaks
    assert b.start_s >= 11 * H + 1800 and b.end_s <= 14 * H and b.end_s - b.start_s == 1800
    assert all(s.end_s <= b.start_s or s.start_s >= b.end_s for s in r.stops)


def test_a_high_priority_job_is_never_dropped_for_lower_ones():
    # Room for ~1 h of work. Two low-priority jobs next door would fill it; the urgent one is far.
    p = Problem(
        [tech("A", end=8 * H + 5400)],
        [job("LOW1", 1, 1200, priority=2), job("LOW2", 1, 1200, priority=2), job("URGENT", 3, 1800, priority=9)],
        M,
    )
    plan = solved(p)
    assert where(plan, "URGENT") is not None
    assert {u.job_id for u in plan.unassigned} <= {"LOW1", "LOW2"}
    assert plan.objective.unassigned_by_priority.get("9", 0) == 0


def test_sla_deadline_pulls_the_late_job_forward():
    # Without the SLA, visiting 2 then 4 on the way out is shortest either way; with the SLA on the
    # far job, it goes first.
    p = Problem(
        [tech("A", loc=0, end_location=6)],
        [job("NEAR", 2, 3600), job("FAR", 4, 3600, sla_deadline_s=8 * H + 4 * UNIT, priority=8)],
        M,
    )
    plan = solved(p)
    assert plan.routes[0].job_ids == ["FAR", "NEAR"]
    assert plan.objective.sla_late_jobs == 0


def test_sla_lateness_is_reported_when_unavoidable():
    p = Problem([tech("A")], [job("J1", 5, sla_deadline_s=8 * H + 60)], M)
    plan = solved(p)
    assert plan.routes[0].stops[0].late_s == 5 * UNIT - 60
    assert plan.objective.sla_lateness_s == 5 * UNIT - 60


def test_continuity_prefers_the_known_technician():
    # A and B are equally far from the job; the customer knows B.
    p = Problem([tech("A", loc=2), tech("B", loc=6)], [job("J1", 4, preferred_technicians=["B"])], M)
    assert where(solved(p), "J1")[0] == "B"


def test_continuity_yields_to_large_travel_savings():
    p = Problem(
        [tech("A", loc=4), tech("B", loc=11)],
        [job("J1", 4, preferred_technicians=["B"])],
        M,
        weights=Weights(continuity=600),
    )
    assert where(solved(p), "J1")[0] == "A"


def test_pinned_technician_and_position():
    p = Problem(
        [tech("A", loc=0), tech("B", loc=9)],
        [job("J1", 8, pinned_technician="A"), job("J2", 1), job("J3", 2, pinned_technician="A", pinned_position=0)],
        M,
    )
    plan = solved(p)
    assert where(plan, "J1")[0] == "A"
    assert where(plan, "J3") == ("A", 0)


def test_in_progress_job_stays_first():
    p = Problem(
        [tech("A", loc=0), tech("B", loc=5)],
        [job("J1", 1), job("NOW", 5, pinned_technician="A", in_progress=True)],
        M,
    )
    plan = solved(p)
    assert where(plan, "NOW") == ("A", 0)


def test_overtime_is_used_only_within_allowance():
    jobs = [job("J1", 2, 3 * H)]
    short = solved(Problem([tech("A", end=10 * H)], jobs, M))
    assert short.unassigned and short.unassigned[0].job_id == "J1"
    ot = solved(Problem([tech("A", end=10 * H, max_overtime_s=2 * H)], jobs, M))
    r = ot.routes[0]
    assert r.job_ids == ["J1"]
    assert r.overtime_s == 8 * H + 2 * UNIT + 3 * H + 2 * UNIT - 10 * H
    assert ot.objective.overtime_s == r.overtime_s


def test_capacity_and_must_serve():
    p = Problem(
        [tech("A", capacity=10)],
        [job("J1", 1, demand=6, priority=10), job("J2", 2, demand=6, must_serve=True)],
        M,
    )
    plan = solved(p)
    assert where(plan, "J2") is not None  # must_serve outranks priority 10
    assert [u.job_id for u in plan.unassigned] == ["J1"]


def test_skill_scaled_duration():
    p = Problem(
        [tech("EXPERT", skills={"hvac": 5})],
        [job("J1", 1, 3600, required_skills={"hvac": 1}, scale_duration_by_skill=True)],
        M,
    )
    s = solved(p).routes[0].stops[0]
    assert s.end_s - s.start_s == round(3600 * 0.8)


def test_break_before_a_late_first_job_keeps_the_day_consistent():
    lunch = Break(duration_s=1800, earliest_start_s=11 * H + 1800, latest_end_s=14 * H)
    p = Problem([tech("A", start=11 * H, breaks=[lunch])],
                [job("J1", 1, 1800, time_windows=[TimeWindow(13 * H, 14 * H)])], M)
    r = solved(p).routes[0]  # solved() asserts the independent checker finds nothing
    (b,) = r.breaks
    assert (r.start_s <= b.start_s and b.end_s <= r.stops[0].start_s) or b.start_s >= r.stops[0].end_s


def test_two_breaks_on_the_drive_home_both_delay_the_return():
    # One job done by 08:40; both breaks must be taken after it, on the 100 min drive home (ends at 10 units).
    breaks = [Break(1800, 9 * H, 10 * H), Break(900, 10 * H, 11 * H)]
    p = Problem([tech("A", loc=0, end=13 * H, end_location=10, breaks=breaks)], [job("J1", 0, dur=2400)], M)
    plan = solved(p)
    route = plan.routes[0]
    assert [(b.start_s, b.end_s) for b in route.breaks] == [(9 * H, 9 * H + 1800), (10 * H, 10 * H + 900)]
    # Driving 08:40-09:00 and 09:30-10:00 (50 min), the rest after the second break: home at 11:05.
    assert route.end_s == 10 * H + 900 + (100 - 50) * 60


def test_an_overdue_backlog_is_served_while_there_is_room():
    """A job 30 days past its SLA deadline is served when a technician has room (it was dropped: its lateness,
    counted from the deadline, outweighed the penalty for dropping it). Both engines, both workers' paths."""
    day = 24 * H
    jobs = [job("old3", 3, priority=3, sla_deadline_s=-30 * day), job("old7", 1, priority=7, sla_deadline_s=-400 * day),
            job("fresh5", 2, priority=5, sla_deadline_s=12 * H), job("new", 4, priority=1)]
    for engine in ("groundcrew", "ortools-gls"):
        plan = solve(Problem([tech("A")], jobs, M), time_limit_s=1.0, workers=1, engine=engine)
        assert not plan.unassigned, (engine, plan.unassigned)
    # with room for only some, priority still decides (aging an overdue job's priority is the caller's policy)
    short = solve(Problem([tech("A", end=9 * H + 40 * 60)], jobs, M), time_limit_s=1.0, workers=1)
    assert {s.job_id for r in short.routes for s in r.stops} == {"old7", "fresh5"}
