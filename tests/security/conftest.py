"""Security tests: an app on a fresh SQLite database (the access rules do not depend on the database; the storage
tests prove both databases), users of every role, and two technicians with a job, customer and conversation each."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.app import create_app
from server.auth import service as auth_service
from server.auth.models import Role, UserCreate
from server.config import Settings
from tests.conftest import DatabaseFactory
from tests.server.conftest import JOB_BODY, PASSWORD, TECH_BODY, sign_in


@pytest.fixture
def sec_settings(sqlite_factory: DatabaseFactory, tmp_path: Path) -> Settings:
    return Settings(database_url=sqlite_factory.new_url(), data_dir=tmp_path, secret_key="sec-secret-" + "y" * 32,
                    load_city=False, dispatch_background=False, dispatch_morning_at=None)


@pytest.fixture
def sec_app(sec_settings: Settings):  # type: ignore[no-untyped-def]
    application = create_app(sec_settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def sec_client(sec_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(sec_app) as test_client:
        yield test_client


@dataclass
class World:
    """Who is signed in and the objects a technician owns (``own``) or does not (``other``)."""

    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    own: dict[str, int] = field(default_factory=dict)
    other: dict[str, int] = field(default_factory=dict)


def _user(app, username: str, role: Role, technician_id: int | None = None) -> None:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        auth_service.create(session=session, user_in=UserCreate(
            username=username, role=role, password=PASSWORD, technician_id=technician_id))
        session.commit()


def build_world(client: TestClient, app) -> World:  # type: ignore[no-untyped-def]
    """admin, dispatcher, agent and technician (tech A) signed in; tech A and tech B each have one assigned job
    reported by their own customer through their own conversation."""
    from server.jobs.models import Job, JobReport

    world = World()
    for role in (Role.admin, Role.dispatcher, Role.agent):
        _user(app, role.value, role)
        world.headers[role.value] = sign_in(client, role.value)
    dispatcher, agent = world.headers["dispatcher"], world.headers["agent"]
    techs = [client.post("/technicians", json={**TECH_BODY, "name": name}, headers=dispatcher).json()["id"]
             for name in ("Tech A", "Tech B")]
    for which, tech_id, handle in (("own", techs[0], "@alice"), ("other", techs[1], "@bob")):
        msg = client.post("/conversations/inbound", headers=agent, json={
            "channel": "twitter", "external_id": f"tw-{handle}", "author_handle": handle,
            "text": f"streetlight out, {handle} here"}).json()
        job_id = client.post("/jobs", json=JOB_BODY, headers=dispatcher).json()["id"]
        with Session(app.state.engine) as session:
            job = session.get(Job, job_id)
            job.assigned_technician_id = tech_id
            job.status = "assigned"
            session.add(job)
            report = JobReport(job_id=job_id, customer_id=msg["customer_id"], message_id=msg["id"], channel="twitter")
            session.add(report)
            session.commit()
            report_id = report.id
        getattr(world, which).update(technician_id=tech_id, job_id=job_id, customer_id=msg["customer_id"],
                                     conversation_id=msg["conversation_id"], report_id=report_id)
    _user(app, "techa", Role.technician, techs[0])
    world.headers["technician"] = sign_in(client, "techa")
    for name, headers in world.headers.items():
        world.tokens[name] = headers["Authorization"].split(" ", 1)[1]
    return world


@pytest.fixture
def world(sec_client: TestClient, sec_app) -> World:  # type: ignore[no-untyped-def]
    return build_world(sec_client, sec_app)
