"""The board's calendar in ``GET /horizon`` (``shifts``): each technician's hours today and on the horizon's days, read
from their weekly pattern (a different Wednesday, a short Friday whose lunch break no longer fits, weekends off), with
a recorded absence and today's availability saying why a day is not worked."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import Session

from server.auth.models import Role
from server.horizon import service
from server.horizon.models import HorizonRun
from tests.server.conftest import create_technician
from tests.server.horizon.test_horizon import FRIDAY, NY, settings

__all__ = ["settings"]

WEEK = {"3": {"start": "12:00", "end": "20:00"}, "5": {"start": "07:00", "end": "11:00"}, "6": "off", "7": "off"}


def _run(app, days: list[date]) -> None:  # type: ignore[no-untyped-def]
    """A stored horizon run over ``days`` (no visits: the calendar does not depend on them)."""
    with Session(app.state.engine) as s:
        s.add(HorizonRun(days=[d.isoformat() for d in days]))
        s.commit()


def test_each_day_shows_that_weekdays_shift_an_absence_or_why_not(client, auth, app, settings):
    admin = auth(Role.admin)
    ana = create_technician(client, admin, weekly_shifts=WEEK)
    bo = create_technician(client, admin, name="Bo Chen", availability="sick")
    away = {"first_day": "2026-12-08", "last_day": "2026-12-08", "reason": "training"}
    assert client.post(f"/technicians/{ana}/absences", headers=admin, json=away).status_code == 201
    days = [date(2026, 12, d) for d in (7, 8, 9, 10, 11)]
    with Session(app.state.engine) as s:
        got = service.shifts(session=s, settings=settings, run_days=[d.isoformat() for d in days], now=FRIDAY)
    by = {(r.technician_id, r.day): r for r in got}
    assert len(got) == 2 * 6  # today (Friday the 4th) and the five working days, for both
    friday, monday, tuesday, wednesday, thursday, next_friday = (by[(ana, d)] for d in [date(2026, 12, 4), *days])
    assert (monday.start, monday.end, monday.off) == ("08:00", "17:00", None) and len(monday.breaks) == 1
    assert (tuesday.off, tuesday.reason, tuesday.start) == ("absence", "training", None)
    assert (wednesday.start, wednesday.end) == ("12:00", "20:00") and len(wednesday.breaks) == 1
    assert (thursday.start, thursday.end) == ("08:00", "17:00")
    assert (next_friday.start, next_friday.end, next_friday.breaks) == ("07:00", "11:00", [])  # lunch cannot fit
    assert (friday.start, friday.end) == ("07:00", "11:00")
    # Bo is off sick today; on later days his everyday shift stands (the horizon plans him, as plan_horizon does).
    assert (by[(bo, date(2026, 12, 4))].off, by[(bo, date(2026, 12, 4))].start) == ("sick", None)
    assert (by[(bo, days[0])].start, by[(bo, days[0])].off) == ("08:00", None)


def test_get_horizon_gives_the_board_each_technicians_day_from_today_on(client, auth, app, settings):
    admin = auth(Role.admin)
    ana = create_technician(client, admin, weekly_shifts=WEEK)
    today = datetime.now(NY).date()
    before = client.get("/horizon", headers=auth(Role.agent)).json()  # no run yet: today only
    assert before["run_id"] is None and [r["day"] for r in before["shifts"]] == [today.isoformat()]
    ahead = [today + timedelta(days=k) for k in range(1, 8)]  # a week: one of each weekday
    _run(app, [today - timedelta(days=1), *ahead])  # a day before today is not the board's
    body = client.get("/horizon", headers=auth(Role.agent)).json()
    mine = {r["day"]: r for r in body["shifts"] if r["technician_id"] == ana}
    assert sorted(mine) == [d.isoformat() for d in [today, *ahead]]
    for d in ahead:
        row = mine[d.isoformat()]
        if d.isoweekday() == 3:
            assert (row["start"], row["end"], row["off"]) == ("12:00", "20:00", None)
        elif d.isoweekday() in (6, 7):
            assert (row["start"], row["off"]) == (None, "day off")
        elif d.isoweekday() == 5:
            assert (row["start"], row["end"]) == ("07:00", "11:00")
        else:
            assert (row["start"], row["end"]) == ("08:00", "17:00")
