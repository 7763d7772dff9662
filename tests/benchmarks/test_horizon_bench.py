"""`groundcrew bench horizon` runs end to end on a small backlog and reports what it planned (no timing asserted)."""

from __future__ import annotations

from benchmarks import horizon


def test_a_small_backlog_is_planned_over_the_working_days():
    out = horizon.run(technicians=3, jobs=12, days=2, solve_s=1, seed=1)
    assert len(out["days"]) == 2 and out["vehicles"] == 6
    assert out["planned"] + out["unassigned"] == 12 and out["planned"] > 0
    assert out["travel_min"] > 0
