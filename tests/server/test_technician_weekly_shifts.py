"""A technician's weekly shift pattern (issue 30): per ISO weekday a shift or off, a weekday left out works the
everyday shift_start..shift_end. Checked by the API (the error names the field), read by today's plan and by the
planning horizon through one lookup (server/technicians/service.shift_on)."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from server.auth.models import Role
from server.config import Settings
from server.core.city import load_city
from server.dispatch.problem import build_snapshot, tech_key
from server.horizon import service as horizon
from server.horizon.models import HorizonVisit
from server.technicians.models import Technician, TechnicianCreate, shift_on, weekly_summary
from tests.server.conftest import JOB_BODY, TECH_BODY, create_technician

NY = ZoneInfo("America/New_York")
FRIDAY = datetime(2026, 12, 4, 10, 0, tzinfo=NY)
NEXT_FRIDAY = date(2026, 12, 11)
CREW = {"1": {"start": "07:00", "end": "17:30"}, "2": {"start": "07:00", "end": "17:30"},
        "3": {"start": "07:00", "end": "17:30"}, "4": {"start": "07:00", "end": "17:30"},
        "5": {"start": "07:00", "end": "12:00"}, "6": "off", "7": "off"}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # no dispatch watcher: the jobs stay open for the horizon (today's plan is built here by hand)
    return Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 32,
                    load_city=False, dispatch_background=False, timezone="America/New_York")



def test_the_shift_of_a_day_follows_the_pattern_and_falls_back_to_the_everyday_shift():
    tech = TechnicianCreate.model_validate({**TECH_BODY, "weekly_shifts": {"5": {"start": "07:00", "end": "12:00"},
                                                                          "4": {"start": "07:00", "end": "11:45"},
                                                                          "6": "off", "7": None}})
    assert shift_on(tech, date(2026, 12, 7)) == (time(8), time(17), tech.breaks)  # Monday: the everyday shift
    friday = shift_on(tech, NEXT_FRIDAY)
    assert friday is not None and (friday.start, friday.end) == (time(7), time(12))
    assert friday.breaks == tech.breaks  # the 11:30-14:00 lunch (30 min) can still be 11:30-12:00
    thursday = shift_on(tech, date(2026, 12, 10))
    assert thursday is not None and thursday.breaks == []  # but it cannot end by 11:45
    assert shift_on(tech, date(2026, 12, 12)) is None and shift_on(tech, date(2026, 12, 13)) is None
    assert weekly_summary(tech) == "Mon-Wed 08:00-17:00, Thu 07:00-11:45, Fri 07:00-12:00"
    crew = TechnicianCreate.model_validate({**TECH_BODY, "weekly_shifts": CREW})
    assert weekly_summary(crew) == "Mon-Thu 07:00-17:30, Fri 07:00-12:00"


@pytest.mark.parametrize(("pattern", "field"), [
    ({"5": {"start": "12:00", "end": "07:00"}}, "weekly_shifts.5.end"),
    ({"8": {"start": "07:00", "end": "12:00"}}, "weekly_shifts: weekday must be 1"),
    ({"0": "off"}, "weekly_shifts: weekday must be 1"),
    ({"1": {"start": "7am", "end": "12:00"}}, "weekly_shifts.1.start"),
    ({"2": {"start": "07:00", "end": "25:00"}}, "weekly_shifts.2.end"),
    ({"3": {"start": "07:00"}}, "weekly_shifts.3.end"),
    ({"4": "sometimes"}, "weekly_shifts.4"),
])
def test_the_api_refuses_a_bad_pattern_naming_the_field(client, auth, pattern, field):
    admin = auth(Role.admin)
    r = client.post("/technicians", json={**TECH_BODY, "weekly_shifts": pattern}, headers=admin)
    assert r.status_code == 422 and field in r.text, r.text
    ana = create_technician(client, admin)
    r = client.patch(f"/technicians/{ana}", json={"weekly_shifts": pattern}, headers=admin)
    assert r.status_code == 422 and field in r.text, r.text


def test_the_pattern_round_trips_and_old_clients_keep_working(client, auth):
    admin = auth(Role.admin)
    old = client.post("/technicians", json=TECH_BODY, headers=admin).json()
    assert old["weekly_shifts"] == {} and old["shift_start"] == "08:00:00"
    r = client.patch(f"/technicians/{old['id']}", json={"weekly_shifts": {"5": {"start": "7:00", "end": "12:00"}}},
                     headers=admin)
    assert r.status_code == 422  # "HH:MM" exactly
    r = client.patch(f"/technicians/{old['id']}", json={"weekly_shifts": {5: {"start": "07:00", "end": "12:00"},
                                                                          "6": None}}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["weekly_shifts"] == {"5": {"start": "07:00", "end": "12:00"}, "6": "off"}
    assert client.get(f"/technicians/{old['id']}", headers=admin).json()["weekly_shifts"] == r.json()["weekly_shifts"]
    r = client.patch(f"/technicians/{old['id']}", json={"name": "Ana R."}, headers=admin)  # untouched by others
    assert r.json()["weekly_shifts"] == {"5": {"start": "07:00", "end": "12:00"}, "6": "off"}


def test_off_on_fridays_is_out_of_fridays_plan_and_a_short_friday_bounds_the_horizons_friday(
        client, auth, app, settings):
    admin = auth(Role.admin)
    # Ana works Friday mornings only (no room for her lunch break); Bo works Monday to Thursday (off on Fridays).
    ana = create_technician(client, admin, skills={"electrical": 3, "water": 2}, overtime_allowed_min=0,
                weekly_shifts={"1": "off", "2": "off", "3": "off", "4": "off",
                               "5": {"start": "08:00", "end": "11:45"}})
    bo = create_technician(client, admin, name="Bo Chen", home_lat=39.2900, home_lon=-76.5800,
                           weekly_shifts={"5": "off"})
    city = load_city(settings.model_copy(update={"load_city": True}))
    with Session(app.state.engine) as s:
        today = build_snapshot(session=s, settings=settings, city=city, now=FRIDAY)
        assert [t.id for t in today.problem.technicians] == [tech_key(ana)]  # Bo is off today (a Friday)
        ana_today = today.problem.technicians[0]
        assert ana_today.shift_end_s - ana_today.shift_start_s == 225 * 60 and ana_today.breaks == []
    for k in range(3):  # water work only Ana can do, and electrical work both can
        r = client.post("/jobs", json={**JOB_BODY, "time_windows": [], "required_skills": {"water": 1},
                                       "duration_min": 60, "lat": 39.2850 + 0.001 * k}, headers=admin)
        assert r.status_code == 201
        r = client.post("/jobs", json={**JOB_BODY, "time_windows": [], "lon": -76.5750 + 0.001 * k}, headers=admin)
        assert r.status_code == 201
    with Session(app.state.engine) as s:
        horizon.plan_horizon(session=s, settings=settings, city=city, now=FRIDAY, time_limit_s=1)
        visits = list(s.exec(select(HorizonVisit)).all())
        assert visits
        anas = [v for v in visits if v.technician_id == ana]
        assert anas and {v.day for v in anas} == {NEXT_FRIDAY}  # her only working day of the horizon
        assert all(v.end_at.astimezone(NY).time() <= time(11, 45) and v.start_at.astimezone(NY).time() >= time(8)
                   for v in anas)
        assert not any(v.technician_id == bo and v.day == NEXT_FRIDAY for v in visits)
        assert s.get(Technician, ana).weekly_shifts["1"] == "off"
