"""Locations confirmed in the field, through the API a technician's app uses: a job placed from a written address,
completed on site with a recent, accurate fix near it, teaches a ``field`` address point at the fix; every other
case is refused with its reason and the job is still completed; a later confirmation of the same address far away
suspends the point instead of adding a second one. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlmodel import Session, select

from server.addresses import service as addresses
from server.addresses.models import AddressPointRecord, TechnicianFix
from server.auth.models import Role
from server.config import Settings
from server.core.timeutil import utcnow
from server.jobs.models import Job, JobEvent, JobStatus
from server.technicians.models import Technician

JOB_AT = (39.2850, -76.5700)  # a real street corner of the demo city
M_PER_DEG_LAT = 111_195.0
ADDRESS = "3400 E Baltimore St"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 32,
                    load_city=False, dispatch_background=False, dispatch_auto_replan=False)


def north(metres: float) -> tuple[float, float]:
    return JOB_AT[0] + metres / M_PER_DEG_LAT, JOB_AT[1]


def _setup(app, auth, *, kind: str | None = "block", address: str | None = ADDRESS,
           at: tuple[float, float] = JOB_AT) -> tuple[int, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A technician (signed in) and a job assigned to them."""
    with Session(app.state.engine) as session:
        tech = Technician(name="Ana Ruiz", skills={}, home_lat=39.2833, home_lon=-76.5930)
        session.add(tech)
        session.flush()
        job = Job(title="Streetlight out", lat=at[0], lon=at[1], address=address, location_kind=kind,
                  status=JobStatus.assigned, assigned_technician_id=tech.id)
        session.add(job)
        session.commit()
        job_id, tech_id = job.id or 0, tech.id or 0
    return job_id, auth(Role.technician, tech_id)


def _visit(client, headers, job_id: int, *, fix: tuple[float, float] | None, accuracy_m: float | None = 12.0,
           arrive_min: float = 20, fix_min: float = 3, done_min: float = 0) -> dict:  # type: ignore[no-untyped-def]
    """En route, on site ``arrive_min`` minutes ago, a fix ``fix_min`` minutes ago, completed ``done_min`` ago,
    each sent when it happened; the completed step's address-point outcome."""
    now = utcnow()
    steps: list[tuple[float, str]] = [(arrive_min + 10, "en_route"), (arrive_min, "on_site"), (done_min, "completed")]
    if fix is not None:
        steps.append((fix_min, "fix"))
    for minutes, step in sorted(steps, key=lambda s: -s[0]):
        at = (now - timedelta(minutes=minutes)).isoformat()
        if step == "fix":
            assert fix is not None
            body: dict = {"lat": fix[0], "lon": fix[1], "at": at}
            if accuracy_m is not None:
                body["accuracy_m"] = accuracy_m
            assert client.post("/technicians/me/location", json=body, headers=headers).status_code == 202
            continue
        extra = {"notes": "lamp replaced"} if step == "completed" else {}
        moved = client.post(f"/jobs/{job_id}/status", headers=headers, json={"status": step, "at": at, **extra})
        assert moved.status_code == 200 and moved.json()["status"] == step, moved.text
    events = client.get(f"/jobs/{job_id}/events", headers=headers).json()
    return next(e for e in events if e["status"] == "completed")["data"]["address_point"]


def _points(app) -> list[AddressPointRecord]:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        return list(session.exec(select(AddressPointRecord).order_by(AddressPointRecord.id)).all())


@pytest.mark.parametrize("kind", ["block", "address", "stated_address", "customer_address"])
def test_a_job_completed_on_site_teaches_its_address_at_the_fix(client, app, auth, kind):
    """Every way a written address places a job counts, an Open311/web-form address (stated_address) included."""
    job_id, technician = _setup(app, auth, kind=kind)
    fix = north(40)
    outcome = _visit(client, technician, job_id, fix=fix)
    assert outcome["outcome"] == "learned" and 35 < outcome["distance_m"] < 45
    [point] = _points(app)
    assert (point.text, point.source, point.confirmations) == (ADDRESS, "field", 1)
    assert (point.lat, point.lon) == (round(fix[0], 7), round(fix[1], 7))  # the technician's fix, not the job's point
    assert point.suspended_at is None


@pytest.mark.parametrize(("case", "setup", "visit", "why"), [
    ("gps job", {"kind": "gps"}, {}, "not from a written address"),
    ("landmark job", {"kind": "landmark"}, {}, "not from a written address"),
    ("typed-in job", {"kind": None}, {}, "not from a written address"),
    ("no address text", {"address": None}, {}, "no address text"),
    ("no fix", {}, {"fix": None}, "no GPS fix"),
    ("fix without accuracy", {}, {"accuracy_m": None}, "no GPS fix with an accuracy"),
    ("inaccurate fix", {}, {"accuracy_m": 80.0}, "only accurate to 80 m"),
    ("fix far from the job", {}, {"fix": north(400)}, "400 m from the job's location"),
    ("old fix", {}, {"arrive_min": 30, "fix_min": 25, "done_min": 0}, "25 min older"),
    ("fix before arriving", {}, {"arrive_min": 11, "fix_min": 13, "done_min": 10}, "before the technician marked"),
])
def test_a_completion_that_proves_nothing_teaches_nothing(client, app, auth, case, setup, visit, why):
    job_id, technician = _setup(app, auth, **setup)
    outcome = _visit(client, technician, job_id, **{"fix": north(40), **visit})
    assert outcome["outcome"] == "refused" and why in outcome["reason"], (case, outcome)
    assert _points(app) == []


def test_the_same_address_confirmed_far_away_is_suspended_not_doubled(client, app, auth):
    first, technician = _setup(app, auth)
    assert _visit(client, technician, first, fix=north(20))["outcome"] == "learned"
    # a second job of the same address, placed 60 m from the first fix: it agrees, the point is averaged
    second, technician = _setup(app, auth, at=north(60))
    agreed = _visit(client, technician, second, fix=north(60))
    assert agreed["outcome"] == "confirmed"
    [point] = _points(app)
    assert point.confirmations == 2 and abs(point.lat - north(40)[0]) < 1e-7  # the mean of the two fixes
    # a third, sent 500 m away for the same text (our geotag moved it) and confirmed there: two places, one text
    third, technician = _setup(app, auth, kind="customer_address", address="3400  e. baltimore st",
                               at=north(500))
    conflict = _visit(client, technician, third, fix=north(520))
    assert conflict["outcome"] == "suspended"
    [point] = _points(app)  # still one point, now suspended: a person decides
    assert point.suspended_at is not None and "480 m" in (point.suspended_reason or "")
    with Session(app.state.engine) as session:
        assert addresses.stored_points(session=session) == []  # not taught to any city
    fourth, technician = _setup(app, auth)
    assert _visit(client, technician, fourth, fix=north(20))["outcome"] == "ignored"
    assert len(_points(app)) == 1 and _points(app)[0].confirmations == 2


def test_an_older_fix_arriving_late_does_not_replace_the_newer(app):
    now = utcnow()
    with Session(app.state.engine) as session:
        tech = Technician(name="Ana Ruiz", skills={}, home_lat=39.2833, home_lon=-76.5930)
        session.add(tech)
        session.flush()
        tech_id = tech.id or 0
        addresses.record_fix(session=session, technician_id=tech_id, lat=39.29, lon=-76.57, accuracy_m=8, at=now)
        addresses.record_fix(session=session, technician_id=tech_id, lat=39.30, lon=-76.58, accuracy_m=5,
                             at=now - timedelta(minutes=5))
        session.commit()
        fix = session.get(TechnicianFix, tech_id)
        assert fix is not None and (fix.lat, fix.accuracy_m) == (39.29, 8)
        addresses.record_fix(session=session, technician_id=tech_id, lat=39.31, lon=-76.59, accuracy_m=4,
                             at=now + timedelta(seconds=30))
        session.commit()
        session.refresh(fix)
        assert (fix.lat, fix.accuracy_m) == (39.31, 4)


class _City:
    """Stands in for this process's City: a map that holds only the points north of 39.2855."""

    def __init__(self) -> None:
        self.network = SimpleNamespace(contains=lambda lat, lon: lat > 39.2855)


def test_a_fix_outside_the_map_confirms_nothing_and_a_rolled_back_one_stores_nothing(client, app, auth):
    job_id, technician = _setup(app, auth)
    now = utcnow()
    for status, minutes in (("en_route", 30), ("on_site", 20)):
        client.post(f"/jobs/{job_id}/status", headers=technician,
                    json={"status": status, "at": (now - timedelta(minutes=minutes)).isoformat()})
    client.post("/technicians/me/location", headers=technician,
                json={"lat": north(30)[0], "lon": JOB_AT[1], "accuracy_m": 10, "at": now.isoformat()})
    with Session(app.state.engine) as session:
        job = session.get(Job, job_id)
        assert job is not None
        outside = addresses.confirm_from_completion(session=session, job=job, completed_at=now, city=_City())
        assert outside.outcome == "refused" and "outside the city's map" in outside.reason
        inside = addresses.confirm_from_completion(session=session, job=job, completed_at=now, city=None)
        assert inside.outcome == "learned" and inside.point_id is not None
        session.rollback()  # the completion failed after all: nothing was learned
    assert _points(app) == []


def test_stored_field_points_are_what_a_city_learns_when_loaded(client, app, auth):
    job_id, technician = _setup(app, auth)
    _visit(client, technician, job_id, fix=north(25))
    with Session(app.state.engine) as session:
        [point] = addresses.stored_points(session=session)
    assert (point.text, point.source) == (ADDRESS, "field") and abs(point.lat - north(25)[0]) < 1e-7


def test_the_completed_event_says_why_nothing_was_learned(client, app, auth):
    job_id, technician = _setup(app, auth, kind="gps")
    _visit(client, technician, job_id, fix=north(10))
    with Session(app.state.engine) as session:
        event = session.exec(select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.status == "completed")).one()
        assert event.data["address_point"]["outcome"] == "refused"
        assert "'gps'" in event.data["address_point"]["reason"]
