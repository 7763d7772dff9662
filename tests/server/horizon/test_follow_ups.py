"""Follow-up and multi-day visits in the planning horizon: a return visit goes to the technician it prefers (a cost
for anyone else, not a pin) and not before the day its part arrives; a job longer than a working day is split into
daily parts on consecutive working days of one technician (the rule in server/horizon/service.py)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from server.auth.models import Role
from server.horizon import service
from server.jobs.models import Job
from tests.server.conftest import create_technician
from tests.server.horizon.test_horizon import FRIDAY, NY, _job, city, settings

__all__ = ["city", "settings"]


def _plan(app, settings, city):  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as s:
        return service.plan_horizon(session=s, settings=settings, city=city, now=FRIDAY, time_limit_s=1)


def test_a_follow_up_goes_to_its_technician_and_not_before_its_part_arrives(client, auth, app, settings, city, db):
    admin = auth(Role.admin)
    ana = create_technician(client, admin, home_lat=39.2850, home_lon=-76.5705)  # lives at the job
    bo = create_technician(client, admin, name="Bo Chen", home_lat=39.2870, home_lon=-76.5740)  # a few minutes away
    control = _job(client, admin)
    follow = _job(client, admin)
    row = db.get(Job, follow)
    row.preferred_technician_id = bo
    row.earliest_at = datetime(2026, 12, 9, 0, 0, tzinfo=NY)  # Wednesday: the part arrives
    db.add(row)
    db.commit()
    run = _plan(app, settings, city)
    assert not run.unassigned
    visits = {v["job_id"]: v for v in client.get("/horizon", headers=admin).json()["visits"]}
    assert visits[control]["technician_id"] == ana  # the nearest technician, with no preference
    assert visits[follow]["technician_id"] == bo  # preferred: Bo, though Ana is nearer
    assert visits[follow]["day"] >= "2026-12-09"
    assert visits[control]["day"] == "2026-12-07"  # the first working day (no release date)


def test_a_preference_is_not_a_pin(client, auth, app, settings, city, db):
    admin = auth(Role.admin)
    ana = create_technician(client, admin)
    bo = create_technician(client, admin, name="Bo Chen", home_lat=39.2900, home_lon=-76.5800)
    client.post(f"/technicians/{bo}/absences", json={"first_day": "2026-12-07", "last_day": "2026-12-18",
                                                     "reason": "leave"}, headers=admin)
    follow = _job(client, admin)
    row = db.get(Job, follow)
    row.preferred_technician_id = bo  # away the whole horizon: someone else does it rather than nobody
    db.add(row)
    db.commit()
    _plan(app, settings, city)
    visits = {v["job_id"]: v for v in client.get("/horizon", headers=admin).json()["visits"]}
    assert visits[follow]["technician_id"] == ana


def test_a_multi_day_visit_is_split_into_parts_on_consecutive_days_of_one_technician(client, auth, app, settings,
                                                                                      city, db):
    admin = auth(Role.admin)
    create_technician(client, admin)
    bo = create_technician(client, admin, name="Bo Chen", home_lat=39.2900, home_lon=-76.5800)
    big = _job(client, admin, duration_min=12 * 60, title="Rewire the substation")
    small = _job(client, admin)
    row = db.get(Job, big)
    row.preferred_technician_id = bo
    db.add(row)
    db.commit()
    run = _plan(app, settings, city)
    assert not run.unassigned, run.unassigned
    visits = client.get("/horizon", headers=admin).json()["visits"]
    parts = sorted((v for v in visits if v["job_id"] == big), key=lambda v: v["part"])
    # a 8-17 shift less a 30 min break is 8.5 h; less the drive there and back, rounded down to 15 min: 2 parts
    assert [(v["part"], v["parts"]) for v in parts] == [(1, 2), (2, 2)]
    assert {v["technician_id"] for v in parts} == {bo}
    assert [v["day"] for v in parts] == ["2026-12-07", "2026-12-08"]
    minutes = [(datetime.fromisoformat(v["end_at"]) - datetime.fromisoformat(v["start_at"])).total_seconds() / 60
               for v in parts]
    assert sum(minutes) == 12 * 60 + 2 * 30 and max(minutes) <= 9 * 60  # the work + each day's break, on site
    assert any(v["job_id"] == small for v in visits)


def test_a_day_off_breaks_the_run_of_a_multi_day_visit(client, auth, app, settings, city):
    admin = auth(Role.admin)
    ana = create_technician(client, admin)
    client.post(f"/technicians/{ana}/absences", json={"first_day": "2026-12-08", "last_day": "2026-12-08",
                                                      "reason": "training"}, headers=admin)
    big = _job(client, admin, duration_min=12 * 60)
    _plan(app, settings, city)
    parts = sorted((v for v in client.get("/horizon", headers=admin).json()["visits"] if v["job_id"] == big),
                   key=lambda v: v["part"])
    assert [v["day"] for v in parts] == ["2026-12-09", "2026-12-10"]  # not Monday + Wednesday
    assert date.fromisoformat(parts[0]["day"]).isoweekday() == 3


def test_a_multi_day_visit_nobody_has_the_days_for_says_why(client, auth, app, settings, city):
    admin = auth(Role.admin)
    ana = create_technician(client, admin)
    client.post(f"/technicians/{ana}/absences", json={"first_day": "2026-12-09", "last_day": "2026-12-09",
                                                      "reason": "training"}, headers=admin)
    huge = _job(client, admin, duration_min=40 * 60)  # needs 5 days of ~8.25 h in a row; Wednesday is off
    run = _plan(app, settings, city)
    assert [u["job_id"] for u in run.unassigned] == [huge]
    assert "multi-day visit" in run.unassigned[0]["reason"]
