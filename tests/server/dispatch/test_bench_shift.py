"""The live dispatch benchmark runs at any hour: its technicians are on shift now and any lunch fits the shift."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from server.dispatch.bench import bench_shift, zone_at_local_hour
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


@pytest.mark.parametrize("utc_hour", range(24))
def test_the_live_bench_plans_a_working_morning_whatever_the_hour(utc_hour: int) -> None:
    """``bench live`` runs in a zone where it is 09:00 (in the demo's own zone an evening run cut the shift at
    midnight and left most jobs unplanned): a full nine-hour shift with lunch, at any hour of the day."""
    now = datetime(2026, 12, 6, utc_hour, 20, tzinfo=UTC)
    local = now.astimezone(ZoneInfo(zone_at_local_hour(9, now)))
    assert local.hour == 9
    start, end, lunch = bench_shift(local)
    assert (start.hour, end.hour) == (8, 17) and lunch


def test_a_big_bench_day_has_a_distinct_place_per_technician_and_job() -> None:
    """500 technicians and 5,000 jobs need more places than the demo file's ~1,650: the rest are real places moved
    a little, all distinct and on the street network (the 500/5,000 run stopped with an IndexError before)."""
    from server.config import Settings
    from server.core.city import load_city
    from server.dispatch.bench import JITTER_DEG, _places
    from tests.server.dispatch.conftest import CITY_CACHE

    city = load_city(Settings(GROUNDCREW_CACHE_DIR=CITY_CACHE, load_city=True))
    places = _places(city, 2000, seed=7)
    assert len(places) == len(set(places)) == 2000
    real = places[:1600]
    assert all(min(abs(lat - a) + abs(lon - b) for a, b in real) <= 2 * JITTER_DEG for lat, lon in places[1600:])
    assert places[:50] == _places(city, 50, seed=7)  # small runs keep their places
