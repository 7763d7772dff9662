"""Server fixtures: an app on a fresh database, users of every role and their tokens."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.app import create_app
from server.auth import service as auth_service
from server.auth.models import Role, UserCreate
from server.config import Settings

PASSWORD = "correct-horse-1"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # insecure_channels: the API tests post unsigned webhooks (tests/security/test_webhooks.py checks the secrets)
    return Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 32,
                    load_city=False, insecure_channels=True)


@pytest.fixture
def app(settings: Settings):  # type: ignore[no-untyped-def]
    application = create_app(settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def db(app) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        yield session


@pytest.fixture
def make_user(app) -> Callable[..., int]:  # type: ignore[no-untyped-def]
    def _make(username: str, role: Role, technician_id: int | None = None) -> int:
        with Session(app.state.engine) as session:
            user = auth_service.create(session=session, user_in=UserCreate(
                username=username, role=role, password=PASSWORD, full_name=username.title(),
                technician_id=technician_id,
            ))
            session.commit()
            return user.id or 0

    return _make


@contextlib.contextmanager
def statements_run(engine: Engine, commits: bool = False) -> Iterator[list[str]]:
    """The SQL statements the engine sends while the block runs, whitespace collapsed, in order (with
    ``commits``, each commit too, as "COMMIT")."""
    statements: list[str] = []

    def record(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()))

    def commit(conn):  # type: ignore[no-untyped-def]
        statements.append("COMMIT")

    event.listen(engine, "before_cursor_execute", record)
    if commits:
        event.listen(engine, "commit", commit)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)
        if commits:
            event.remove(engine, "commit", commit)


def sign_in(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def auth(client: TestClient, make_user: Callable[..., int]) -> Callable[[Role], dict[str, str]]:
    """Headers for a freshly created user of the given role."""
    counter = {"n": 0}

    def _auth(role: Role, technician_id: int | None = None) -> dict[str, str]:
        counter["n"] += 1
        name = f"{role.value}{counter['n']}"
        make_user(name, role, technician_id)
        return sign_in(client, name)

    return _auth


TECH_BODY = {
    "name": "Ana Ruiz", "skills": {"electrical": 3}, "home_lat": 39.2833, "home_lon": -76.5930,
    "shift_start": "08:00", "shift_end": "17:00",
    "breaks": [{"earliest": "11:30", "latest": "14:00", "duration_min": 30}],
}
JOB_BODY = {
    "title": "Streetlight out", "category": "streetlight", "required_skills": {"electrical": 1},
    "duration_min": 45, "priority": 6, "lat": 39.2850, "lon": -76.5700,
    "time_windows": [{"start": "2026-11-23T13:00:00Z", "end": "2026-11-23T22:00:00Z"}],
}


def create_technician(client: TestClient, headers: dict[str, str], **over: object) -> int:
    """A technician made over the API from TECH_BODY with these fields changed; their id."""
    r = client.post("/technicians", json={**TECH_BODY, **over}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]
