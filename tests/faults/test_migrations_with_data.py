"""Migrations on a database with data in it: upgrade from revision 0001 with rows in every 0001 table to all heads
(every feature branch) with the rows intact, then each feature branch's downgrade back to 0001 with the rows still
intact. On SQLite and the real PostgreSQL."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text

from server.config import Settings
from server.core.migrate import alembic_config, upgrade
from tests.conftest import _pg_admin, pg_url, postgres_available

ROWS = [
    "INSERT INTO technician (id, name, skills, home_lat, home_lon, shift_start, shift_end, breaks, "
    "overtime_allowed_min, availability, created_at) VALUES (1, 'Ana', '{}', 39.28, -76.59, '08:00:00', '17:00:00', "
    "'[]', 60, 'on_shift', '2026-11-20 10:00:00')",
    "INSERT INTO customer (id, display_name, created_at) VALUES (1, 'Alice', '2026-11-20 10:00:00')",
    "INSERT INTO job (id, title, description, category, required_skills, duration_min, priority, time_windows, lat, "
    "lon, must_not_drop, pinned, status, version, created_at, updated_at) VALUES (1, 'Streetlight out', '', "
    "'streetlight', '{}', 30, 5, '[]', 39.28, -76.57, false, false, 'unassigned', 1, '2026-11-20 10:00:00', "
    "'2026-11-20 10:00:00')",
]
CHECKS = {"SELECT name FROM technician WHERE id = 1": "Ana", "SELECT display_name FROM customer WHERE id = 1": "Alice",
          "SELECT title FROM job WHERE id = 1": "Streetlight out"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request, tmp_path: Path):  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'm.db'}"
        return
    if postgres_available():
        pytest.skip(f"PostgreSQL not reachable: {postgres_available()}")
    name = f"gc_mig_{uuid.uuid4().hex[:8]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_url(name)
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _check(url: str) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        for query, expected in CHECKS.items():
            assert conn.execute(text(query)).scalar_one() == expected, query
    engine.dispose()


def test_upgrade_from_0001_with_data_to_heads_and_back(empty_url, tmp_path):
    settings = Settings(database_url=empty_url, data_dir=tmp_path, load_city=False)
    config = alembic_config(settings)
    heads = ScriptDirectory.from_config(config).get_heads()
    assert len(heads) >= 3  # the feature branches off 0001
    upgrade(settings, revision="0001")
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        for row in ROWS:
            conn.execute(text(row))
    engine.dispose()
    upgrade(settings)  # all heads
    _check(empty_url)
    for head in heads:  # each branch's downgrade (back to 0001, the branch point), data intact
        command.downgrade(config, f"{head}@-1")
        _check(empty_url)
    upgrade(settings)
    _check(empty_url)
