"""`groundcrew bench week` on a tiny week: every booked window ends once, the figures add up (no timing asserted)."""

from __future__ import annotations

import random
from datetime import date

import routing
from benchmarks import week


def test_a_tiny_week_accounts_for_every_booking():
    out = week.run(technicians=3, days=2, per_day=14, seed=3, solve_s=1, present_share=0.5, answer_rate=1.0,
                   no_show_rate=0.3, horizon=False, echo=lambda _line: None)
    assert out["days"] == 2 and out["technicians"] == 3
    assert out["arrivals"] == 3 * 14  # the working day before the week, then the two days
    assert out["booked"] > 0 and out["offered"] > 0
    assert out["met"] + out["missed"] + out["no_show"] == out["booked"]
    assert sum(out["missed_why"].values()) == out["missed"]
    assert sum(d["booked_today"] for d in out["per_day"]) == out["booked"]
    assert out["travel_min_baseline"] > 0 and out["travel_min_booked"] > 0
    assert out["travel_ratio"] == round(out["travel_min_booked"] / out["travel_min_baseline"], 3)
    assert out["met_pct"] == round(100 * out["met"] / max(1, out["met"] + out["missed"]), 1)
    assert out["jobs_done"] > 0


def test_working_days_skip_the_weekend():
    assert week.working_days(date(2027, 4, 9), 3) == [date(2027, 4, 9), date(2027, 4, 12), date(2027, 4, 13)]


def _one_visit(window: tuple[int, int]) -> tuple[routing.Problem, routing.Plan]:
    tt = [[0, 600], [600, 0]]
    tech = routing.Technician(id="t1", shift_start_s=8 * 3600, shift_end_s=16 * 3600, start_location=0)
    job = routing.Job(id="j1", location=1, duration_s=1800, time_windows=[routing.TimeWindow(*window)])
    problem = routing.Problem([tech], [job], tt, tt)
    return problem, routing.solve(problem, time_limit_s=0.5, seed=0)


def test_a_visit_reached_after_its_window_is_missed_and_an_absent_customer_is_a_no_show():
    from datetime import UTC, datetime, timedelta

    origin = datetime(2027, 4, 12, 4, tzinfo=UTC)
    problem, plan = _one_visit((8 * 3600, 9 * 3600))
    assert [s.job_id for r in plan.routes for s in r.stops] == ["j1"]

    def booking(end_s: int, no_show: bool) -> week.Booking:
        return week.Booking(1, 1, origin + timedelta(seconds=8 * 3600), origin + timedelta(seconds=end_s),
                            date(2027, 4, 12), no_show=no_show)

    on_time = booking(9 * 3600, False)  # 10 min away, no noise: arrives at 08:10
    done, driven = week._execute(problem, plan, {"j1": on_time}, origin, random.Random(0), 0.0)
    assert done == {"j1": "done"} and on_time.outcome == "met" and driven == 1200  # there and home
    late = booking(8 * 3600 + 300, False)  # the window closes at 08:05
    week._execute(problem, plan, {"j1": late}, origin, random.Random(0), 0.0)
    assert (late.outcome, late.why) == ("missed", "late")
    absent = booking(9 * 3600, True)
    done, _ = week._execute(problem, plan, {"j1": absent}, origin, random.Random(0), 0.0)
    assert done == {"j1": "no_show"} and absent.outcome == "no_show"
