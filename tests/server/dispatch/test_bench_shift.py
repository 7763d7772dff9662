"""The live dispatch benchmark runs at any hour: its technicians are on shift now and any lunch fits the shift."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from server.dispatch.bench import bench_shift
from server.technicians.models import BreakRule, TechnicianCreate


@pytest.mark.parametrize("hour, minute", [(0, 10), (3, 0), (9, 30), (15, 0), (18, 20), (19, 45), (23, 50)])
def test_the_bench_shift_covers_now_and_its_lunch_fits(hour: int, minute: int) -> None:
    now = datetime(2026, 11, 23, hour, minute)
    start, end, lunch = bench_shift(now)
    assert start <= now.time() <= end
    # The technician record accepts it, and the lunch lies inside the shift.
    TechnicianCreate(name="Bench", skills={"general": 2}, home_lat=39.29, home_lon=-76.61, shift_start=start,
                     shift_end=end, breaks=lunch)
    for brk in (BreakRule.model_validate(b) for b in lunch):
        finish = (datetime.combine(now.date(), brk.latest) + timedelta(minutes=brk.duration_min)).time()
        assert start <= brk.earliest < brk.latest and finish <= end
    assert bool(lunch) == (hour <= 18)  # from ~19:00 the shift is cut at midnight and has no room for lunch
