"""The planning horizon (``server.horizon``): open jobs today's plan does not hold get a technician and a working day
after today - weekends, public holidays and closed dates skipped, windows days ahead met, a dispatcher's pin kept
across days, a day's capacity respected, and reasons for what cannot be planned."""

from __future__ import annotations

import time as clock
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from server.auth.models import Role
from server.config import Settings
from server.core.city import load_city
from server.horizon import service
from tests.server.conftest import JOB_BODY, create_technician

NY = ZoneInfo("America/New_York")
FRIDAY = datetime(2026, 12, 4, 15, 0, tzinfo=NY)  # the horizon starts on Monday the 7th


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # no dispatch watcher: the jobs stay unassigned (today's plan is dispatch's business, not this test's)
    return Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 32,
                    load_city=False, dispatch_background=False, timezone="America/New_York")


@pytest.fixture(scope="module")
def city():  # type: ignore[no-untyped-def]
    return load_city(Settings())



def _job(client, headers, **over) -> int:  # type: ignore[no-untyped-def]
    r = client.post("/jobs", json={**JOB_BODY, "time_windows": [], **over}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _window(day: date, start: str, end: str) -> list[dict[str, str]]:
    def at(hhmm: str) -> str:
        return datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), tzinfo=NY).isoformat()
    return [{"start": at(start), "end": at(end)}]


def test_working_days_skip_weekends_public_holidays_and_closed_dates(settings):
    assert service.working_days(settings, date(2026, 12, 4)) == [date(2026, 12, d) for d in (7, 8, 9, 10, 11)]
    us = settings.model_copy(update={"horizon_holidays_country": "US", "horizon_closed_dates": "2026-12-24"})
    # 25 Dec (Christmas) and 1 Jan are US public holidays; the 24th is closed by the organisation
    assert service.working_days(us, date(2026, 12, 23)) == [date(2026, 12, 28), date(2026, 12, 29),
                                                             date(2026, 12, 30), date(2026, 12, 31), date(2027, 1, 4)]
    six = settings.model_copy(update={"horizon_weekdays": "1-6", "horizon_days": 2})
    assert service.working_days(six, date(2026, 12, 4)) == [date(2026, 12, 5), date(2026, 12, 7)]


def test_bad_calendar_settings_are_refused_with_the_field_named(tmp_path):
    with pytest.raises(ValueError, match="horizon_weekdays"):
        Settings(data_dir=tmp_path, horizon_weekdays="Mon-Fri")
    with pytest.raises(ValueError, match="horizon_closed_dates"):
        Settings(data_dir=tmp_path, horizon_closed_dates="2026-12-24,24.12.2026")
    with pytest.raises(ValueError, match="horizon_roll_at"):
        Settings(data_dir=tmp_path, horizon_roll_at="7am")
    assert Settings(data_dir=tmp_path, horizon_roll_at="").horizon_roll_at is None  # empty: off


def test_work_beyond_one_day_is_spread_over_the_next_working_days(client, auth, app, settings, city):
    admin = auth(Role.admin)
    ana = create_technician(client, admin)
    jobs = [_job(client, admin, duration_min=180, lat=39.2850 + 0.001 * k) for k in range(6)]
    with Session(app.state.engine) as s:
        run = service.plan_horizon(session=s, settings=settings, city=city, now=FRIDAY, time_limit_s=1)
    assert run.days[0] == "2026-12-07" and run.planned == 6 and not run.unassigned
    got = client.get("/horizon", headers=auth(Role.agent)).json()
    assert {v["job_id"] for v in got["visits"]} == set(jobs)
    by_day: dict[str, list] = {}
    for v in got["visits"]:
        assert v["technician_id"] == ana and v["technician_name"] == "Ana Ruiz"
        by_day.setdefault(v["day"], []).append(v)
    assert len(by_day) >= 2  # 18 h of work do not fit one 9 h shift (plus overtime)
    for day, visits in by_day.items():
        first = datetime.fromisoformat(visits[0]["start_at"]).astimezone(NY)
        last = datetime.fromisoformat(visits[-1]["end_at"]).astimezone(NY)
        assert first.date().isoformat() == day and last.date().isoformat() == day
        assert first.hour >= 8 and (last.hour, last.minute) <= (18, 0)  # shift 8-17 + 60 min overtime


def test_a_stored_horizon_is_announced_to_staff_only(client, auth, app, settings, city, monkeypatch):
    sent: list[dict] = []
    monkeypatch.setattr(service, "publish", lambda _settings, event: sent.append(event))
    admin = auth(Role.admin)
    create_technician(client, admin)
    _job(client, admin, duration_min=60)
    with Session(app.state.engine) as s:
        run = service.plan_horizon(session=s, settings=settings, city=city, now=FRIDAY, time_limit_s=1)
    assert [e["type"] for e in sent] == ["horizon.updated"]  # open consoles read the horizon again
    assert sent[0]["data"] == {"run_id": run.id, "planned": 1, "unassigned": 0}
    assert sent[0]["_audience"]["staff_only"] is True  # technicians' apps do not show the horizon


def test_a_window_days_ahead_is_met_on_that_day_and_a_pin_holds_across_days(client, auth, app, settings, city, db):
    admin = auth(Role.admin)
    create_technician(client, admin)
    bo = create_technician(client, admin, name="Bo Chen", home_lat=39.2900, home_lon=-76.5800)
    wednesday = date(2026, 12, 9)
    windowed = _job(client, admin, time_windows=_window(wednesday, "10:00", "12:00"))
    pinned = _job(client, admin)
    from server.dispatch.models import JobPin
    db.add(JobPin(job_id=pinned, technician_id=bo))
    db.commit()
    with Session(app.state.engine) as s:
        service.plan_horizon(session=s, settings=settings, city=city, now=FRIDAY, time_limit_s=1)
    visits = {v["job_id"]: v for v in client.get("/horizon", headers=admin).json()["visits"]}
    w = visits[windowed]
    start = datetime.fromisoformat(w["start_at"]).astimezone(NY)
    assert w["day"] == "2026-12-09" and 10 <= start.hour < 12
    assert visits[pinned]["technician_id"] == bo


def test_what_cannot_be_planned_says_why_and_off_technicians_get_nothing(client, auth, app, settings, city):
    admin = auth(Role.admin)
    off = create_technician(client, admin, name="Cy Off", skills={"plumbing": 3})
    client.patch(f"/technicians/{off}", json={"availability": "off"}, headers=admin)
    create_technician(client, admin)
    nobody = _job(client, admin, required_skills={"plumbing": 1})
    past = _job(client, admin, time_windows=_window(date(2026, 12, 4), "16:00", "17:00"))  # today only
    with Session(app.state.engine) as s:
        run = service.plan_horizon(session=s, settings=settings, city=city, now=FRIDAY, time_limit_s=1)
    reasons = {u["job_id"]: u["reason"] for u in run.unassigned}
    assert reasons[nobody] == "no technician with the required skill"
    assert "window" in reasons[past] or "shift" in reasons[past]
    assert all(v["technician_id"] != off for v in client.get("/horizon", headers=admin).json()["visits"])


def test_a_new_run_replaces_the_visits_and_the_api_is_for_staff(client, auth, app, settings, city, monkeypatch):
    admin = auth(Role.admin)
    create_technician(client, admin)
    _job(client, admin)
    assert client.get("/horizon", headers=auth(Role.dispatcher)).json()["run_id"] is None
    assert client.get("/horizon").status_code == 401
    assert client.get("/horizon", headers=auth(Role.technician)).status_code == 403
    assert client.post("/horizon", headers=auth(Role.agent)).status_code == 403
    monkeypatch.setattr(service, "utcnow", lambda: FRIDAY.astimezone(ZoneInfo("UTC")))
    monkeypatch.setattr("server.core.city.load_city", lambda *_a, **_k: city)
    r = client.post("/horizon", params={"time_limit_s": 1}, headers=auth(Role.dispatcher))
    assert r.status_code == 202
    deadline = clock.monotonic() + 120  # waits for the side thread's run; not a timing assertion
    while client.get("/horizon", headers=admin).json()["run_id"] is None and clock.monotonic() < deadline:
        clock.sleep(0.2)
    first = client.get("/horizon", headers=admin).json()
    assert first["run_id"] is not None and first["planned"] == 1
    with Session(app.state.engine) as s:
        service.plan_horizon(session=s, settings=settings, city=city, now=FRIDAY + timedelta(minutes=1),
                             time_limit_s=1)
    second = client.get("/horizon", headers=admin).json()
    assert second["run_id"] > first["run_id"] and len(second["visits"]) == 1


def test_sooner_rather_than_later_and_the_most_urgent_first(client, auth, app, settings, city):
    admin = auth(Role.admin)
    create_technician(client, admin)
    low = [_job(client, admin, duration_min=240, priority=2, lat=39.2850 + 0.001 * k) for k in range(2)]
    high = [_job(client, admin, duration_min=240, priority=9, lat=39.2860 + 0.001 * k) for k in range(2)]
    with Session(app.state.engine) as s:
        service.plan_horizon(session=s, settings=settings, city=city, now=FRIDAY, time_limit_s=1)
    day = {v["job_id"]: v["day"] for v in client.get("/horizon", headers=admin).json()["visits"]}
    # two 4 h jobs fill a day: the urgent pair goes Monday, the rest Tuesday (not Thursday, not Friday)
    assert {day[j] for j in high} == {"2026-12-07"}
    assert {day[j] for j in low} == {"2026-12-08"}


def test_a_technician_sees_only_their_own_coming_days(client, auth, app, settings, city, make_user):
    admin = auth(Role.admin)
    ana = create_technician(client, admin)
    bo = create_technician(client, admin, name="Bo Chen", home_lat=39.2900, home_lon=-76.5800)
    jobs = [_job(client, admin, lat=39.2850 + 0.002 * k) for k in range(4)]
    from server.dispatch.models import JobPin
    with Session(app.state.engine) as s:
        s.add(JobPin(job_id=jobs[0], technician_id=bo))
        s.commit()
        service.plan_horizon(session=s, settings=settings, city=city, now=FRIDAY, time_limit_s=1)
    make_user("ana-phone", Role.technician, technician_id=ana)
    from tests.server.conftest import sign_in
    mine = client.get("/horizon/mine", headers=sign_in(client, "ana-phone")).json()
    everyone = client.get("/horizon", headers=admin).json()["visits"]
    assert mine == [v for v in everyone if v["technician_id"] == ana]
    assert jobs[0] not in {v["job_id"] for v in mine}  # pinned to Bo
    assert all(v["address"] is None or isinstance(v["address"], str) for v in mine)
    assert client.get("/horizon/mine", headers=auth(Role.dispatcher)).status_code == 404  # not a technician


def test_the_daily_roll_over_runs_once_a_day_after_the_morning_plan(client, auth, app, settings, city):
    """The API process plans the horizon by itself once a day: from ``horizon_roll_at`` on, after today's morning
    plan is stored, never twice a day; before, it ran only on request or from cron."""
    from server.plans.models import Plan

    admin = auth(Role.admin)
    create_technician(client, admin)
    _job(client, admin, duration_min=60)
    at = settings.model_copy(update={"horizon_roll_at": "07:00", "dispatch_morning_at": "06:30"})
    early, later = FRIDAY.replace(hour=6, minute=50), FRIDAY.replace(hour=7, minute=5)
    with Session(app.state.engine) as s:
        assert service.roll_over(session=s, settings=at, city=city, now=early) is None  # before 07:00
        assert service.roll_over(session=s, settings=at, city=city, now=later) is None  # no morning plan yet
        s.add(Plan(version=1, day=FRIDAY.date().isoformat(), trigger="morning"))
        s.commit()
        run = service.roll_over(session=s, settings=at, city=city, now=later)
        assert run is not None and run.trigger == service.ROLL_OVER and run.planned == 1
    with Session(app.state.engine) as s:  # today's roll-over is done: not again that day
        assert not service.roll_over_due(session=s, settings=at, now=later.replace(hour=9))
        off = at.model_copy(update={"horizon_roll_at": None})
        assert not service.roll_over_due(session=s, settings=off, now=later)
