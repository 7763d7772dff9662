"""Technician absences: recorded by a dispatcher (checked, audited), they keep the technician out of today's plan and
out of those days of the planning horizon."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from server.audit.models import AuditEntry
from server.auth.models import Role
from server.config import Settings
from server.core.city import load_city
from server.dispatch.problem import build_snapshot, tech_key
from server.horizon import service as horizon
from tests.server.conftest import JOB_BODY, create_technician

NY = ZoneInfo("America/New_York")
FRIDAY = datetime(2026, 12, 4, 10, 0, tzinfo=NY)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # no dispatch watcher: the jobs stay open for the horizon (today's plan is built here by hand)
    return Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 32,
                    load_city=False, dispatch_background=False, timezone="America/New_York")



def test_absences_are_recorded_checked_listed_audited_and_removed(client, auth, db):
    admin, dispatcher = auth(Role.admin), auth(Role.dispatcher)
    ana = create_technician(client, admin)
    url = f"/technicians/{ana}/absences"
    r = client.post(url, json={"first_day": "2026-12-08", "last_day": "2026-12-09", "reason": "training"},
                    headers=dispatcher)
    assert r.status_code == 201 and r.json()["technician_id"] == ana
    bad = client.post(url, json={"first_day": "2026-12-09", "last_day": "2026-12-08"}, headers=dispatcher)
    assert bad.status_code == 422 and "last_day" in bad.text
    assert client.post(url, json={"first_day": "2026-12-08", "last_day": "2026-12-08"},
                       headers=auth(Role.agent)).status_code == 403
    assert client.post("/technicians/9999/absences", json={"first_day": "2026-12-08", "last_day": "2026-12-08"},
                       headers=dispatcher).status_code == 404
    listed = client.get(url, headers=auth(Role.agent)).json()
    assert [(a["first_day"], a["last_day"], a["reason"]) for a in listed] == [("2026-12-08", "2026-12-09", "training")]
    assert client.delete(f"{url}/{listed[0]['id']}", headers=dispatcher).status_code == 204
    assert client.get(url, headers=dispatcher).json() == []
    assert client.delete(f"{url}/{listed[0]['id']}", headers=dispatcher).status_code == 404
    actions = [e.action for e in db.exec(select(AuditEntry).where(AuditEntry.entity == "technician")).all()]
    assert "technician.absence_added" in actions and "technician.absence_removed" in actions


def test_an_absent_technician_is_left_out_of_today_and_of_those_horizon_days(client, auth, app, settings):
    admin = auth(Role.admin)
    ana = create_technician(client, admin)
    bo = create_technician(client, admin, name="Bo Chen", home_lat=39.2900, home_lon=-76.5800)
    for day in ("2026-12-04", "2026-12-08"):  # Friday (today) and Tuesday
        assert client.post(f"/technicians/{ana}/absences", json={"first_day": day, "last_day": day},
                           headers=admin).status_code == 201
    city = load_city(settings.model_copy(update={"load_city": True}))
    with Session(app.state.engine) as s:
        today = build_snapshot(session=s, settings=settings, city=city, now=FRIDAY)
        assert [t.id for t in today.problem.technicians] == [tech_key(bo)]
    for k in range(4):
        r = client.post("/jobs", json={**JOB_BODY, "time_windows": [], "lat": 39.2850 + 0.001 * k}, headers=admin)
        assert r.status_code == 201
    with Session(app.state.engine) as s:
        horizon.plan_horizon(session=s, settings=settings, city=city, now=FRIDAY, time_limit_s=1)
    visits = client.get("/horizon", headers=admin).json()["visits"]
    assert visits and not any(v["technician_id"] == ana and v["day"] == "2026-12-08" for v in visits)
    assert {v["day"] for v in visits if v["technician_id"] == ana} <= {"2026-12-07", "2026-12-09", "2026-12-10",
                                                                        "2026-12-11"}
    assert date(2026, 12, 8).isoweekday() == 2  # the absence is on a working day
