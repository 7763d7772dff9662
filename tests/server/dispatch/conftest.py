"""Dispatch fixtures: the real demo city (built once into a shared cache), technicians and jobs on it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from server.config import Settings
from server.dispatch.problem import day_origin
from tests.conftest import WORKING_TZ

CITY_CACHE = Path("/tmp/groundcrew-geodata-cache")

# Real places in the demo city (Baltimore, from the 311 sample): on the street network.
SITES = [
    (39.294604, -76.581079), (39.305373, -76.580531), (39.2850, -76.5700), (39.2900, -76.5700),
    (39.2805, -76.5735), (39.2870, -76.5500), (39.2930, -76.5850), (39.2855, -76.6010),
    (39.2990, -76.6040), (39.2700, -76.5920), (39.2833, -76.5930), (39.2950, -76.5600),
]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 32,
                    load_city=True, GROUNDCREW_CACHE_DIR=CITY_CACHE, dispatch_background=False,
                    dispatch_morning_at=None, dispatch_solve_time_s=1.0, dispatch_replan_time_s=0.5,
                    dispatch_coalesce_s=0.0, timezone=WORKING_TZ)


def local_iso(settings: Settings, hour: int, minute: int = 0) -> str:
    """Today at a local hour, as an aware ISO string."""
    return (day_origin(settings) + timedelta(hours=hour, minutes=minute)).isoformat()


def technician_body(name: str, site: int, skills: dict[str, int] | None = None) -> dict:
    lat, lon = SITES[site]
    return {"name": name, "skills": skills or {"electrical": 3, "general": 2}, "home_lat": lat, "home_lon": lon,
            "shift_start": "00:05", "shift_end": "23:50", "overtime_allowed_min": 0}


def job_body(settings: Settings, title: str, site: int, **extra: object) -> dict:
    lat, lon = SITES[site]
    return {"title": title, "category": "streetlight", "required_skills": {"electrical": 1}, "duration_min": 20,
            "priority": 5, "lat": lat, "lon": lon, **extra}


def wait_for(predicate: Callable[[], object], timeout_s: float = 60.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def wait_solve(client, headers: dict, solve_id: str, timeout_s: float = 90.0) -> dict:  # type: ignore[no-untyped-def]
    def done() -> dict | None:
        body = client.get(f"/dispatch/solves/{solve_id}", headers=headers).json()
        return body if body["status"] in ("succeeded", "failed", "cancelled") else None

    return wait_for(done, timeout_s, f"solve {solve_id}")  # type: ignore[return-value]


def now_utc() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def session(app):  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as s:
        yield s
