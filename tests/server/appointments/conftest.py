"""Appointment fixtures: the real demo city (Baltimore, shared cache), technicians on shift now in a zone where it is
mid-morning (tests/conftest.py), a planned day, and customers who complain on their own channels."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, select

from server.appointments import service
from server.appointments.models import Appointment
from server.auth.models import Role
from server.config import Settings
from server.conversations.models import Direction, Message
from server.core.city import load_city
from server.jobs.models import Job
from tests.conftest import WORKING_TZ
from tests.server.dispatch.conftest import CITY_CACHE, SITES, wait_solve

#: Complaints the demo city places confidently and triage files under a customer-present service (no_water).
NO_WATER = "No water at all in my house since this morning, 400 N Broadway"
NO_WATER_2 = "There is no water in my apartment at 1500 E Fayette St, please send someone"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 32,
                    load_city=True, GROUNDCREW_CACHE_DIR=CITY_CACHE, dispatch_background=False,
                    dispatch_morning_at=None, dispatch_solve_time_s=1.0, dispatch_replan_time_s=0.5,
                    dispatch_coalesce_s=0.0, timezone=WORKING_TZ, insecure_channels=True,
                    channel_public_url="https://groundcrew.example", appointment_working_days="1,2,3,4,5,6,7")


def technician(name: str, site: int, skills: dict[str, int]) -> dict[str, Any]:
    lat, lon = SITES[site]
    return {"name": name, "skills": skills, "home_lat": lat, "home_lon": lon, "shift_start": "08:00",
            "shift_end": "18:00", "overtime_allowed_min": 0}


@pytest.fixture
def day(client, auth, settings) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Two technicians who can do water work, one who cannot, a few streetlight jobs, and today's plan."""
    dispatcher = auth(Role.dispatcher)
    techs = [client.post("/technicians", headers=dispatcher, json=technician(n, i, s)).json()["id"]
             for i, (n, s) in enumerate([("Ana Ruiz", {"water": 3, "general": 2}),
                                         ("Marcus Webb", {"water": 2, "electrical": 3}),
                                         ("Lee Park", {"electrical": 3})])]
    for i in range(3):
        lat, lon = SITES[3 + i]
        client.post("/jobs", headers=dispatcher, json={
            "title": f"light {i}", "category": "streetlight", "required_skills": {"electrical": 1},
            "duration_min": 30, "priority": 5, "lat": lat, "lon": lon})
    solve = client.post("/dispatch/solves", json={"time_limit_s": 0.5}, headers=dispatcher).json()
    assert wait_solve(client, dispatcher, solve["id"])["status"] == "succeeded"
    return {"dispatcher": dispatcher, "technicians": techs}


def outbound(app, conversation_id: int, kind: str | None = None) -> list[Message]:  # type: ignore[no-untyped-def]
    """What we sent into a conversation, oldest first (optionally one kind of notice)."""
    with Session(app.state.engine) as session:
        rows = session.exec(select(Message).where(Message.conversation_id == conversation_id,
                                                  Message.direction == Direction.outbound)
                            .order_by(col(Message.id))).all()
        return [m for m in rows if kind is None or (m.meta or {}).get("kind") == kind]


def appointment_of(app, job_id: int) -> Appointment:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        appt = session.exec(select(Appointment).where(Appointment.job_id == job_id)).one()
        session.expunge(appt)
        return appt


@pytest.fixture
def sweep(app, settings) -> Callable[..., dict[str, int]]:  # type: ignore[no-untyped-def]
    """One round of the appointment sweep (the periodic task), as the API process runs it."""
    from server.appointments import service

    def run(**kwargs: Any) -> dict[str, int]:
        return service.sweep(engine=app.state.engine, settings=settings, **kwargs)

    return run


def water_job(client, dispatcher) -> int:  # type: ignore[no-untyped-def]
    """A no-water job (a customer-present service) beside the first site, created over the API; its id."""
    lat, lon = SITES[0]
    r = client.post("/jobs", headers=dispatcher, json={
        "title": "no water", "category": "no_water", "required_skills": {"water": 1}, "duration_min": 60,
        "priority": 6, "lat": lat + 0.001, "lon": lon})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def later_day_slots(app, settings: Settings, job_id: int, day: date) -> list[service.Slot]:  # type: ignore[no-untyped-def]
    """The windows a later ``day`` offers for the job (the per-day insertion check the offers use)."""
    with Session(app.state.engine) as s:
        return service._later_day_slots(s, settings, load_city(settings), s.get(Job, job_id), day, [])
