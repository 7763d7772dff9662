"""A booked window keeps its last quarter free in plans (``PLAN_MARGIN_SHARE``): a day that runs late still arrives
inside the window the customer was given. Offers check the same shortened window, so a window whose only fit is in
its last quarter is not offered (``groundcrew bench week`` measured the misses without it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import routing
from server.appointments import service

ORIGIN = datetime(2026, 12, 7, 5, tzinfo=UTC)  # local midnight in New York


def _at(hour: float) -> datetime:
    return ORIGIN + timedelta(hours=hour)


def test_the_plan_window_is_the_customers_less_its_last_quarter() -> None:
    assert service.plan_window(_at(10), _at(12)) == (_at(10), _at(11.5))
    assert service.plan_window(_at(14), _at(15)) == (_at(14), _at(14.75))


def test_a_window_whose_only_fit_is_in_its_last_quarter_is_not_offered() -> None:
    # One technician from 08:00, busy at the same place with a booked visit 08:00-09:40; the new job is 10 min away.
    tt = [[0, 600], [600, 0]]
    tech = routing.Technician(id="t1", shift_start_s=8 * 3600, shift_end_s=17 * 3600, start_location=0)
    busy = routing.Job(id="j1", location=0, duration_s=100 * 60,
                       time_windows=[routing.TimeWindow(8 * 3600, 8 * 3600 + 60)])
    new = routing.Job(id="j2", location=1, duration_s=30 * 60)
    problem = routing.Problem([tech], [busy, new], tt, tt)
    routes = [routing.timeline(problem, tech, ["j1"])]
    slots = service._fits(problem, routes, new, ORIGIN, [(_at(8), _at(10)), (_at(10), _at(12))])
    # 09:50 is inside 08:00-10:00 but after 09:30, the last start that keeps its last quarter free.
    assert [(s.start, s.end) for s in slots] == [(_at(10), _at(12))]
