"""Intake fixtures: the real demo city (built once, cached under tests/output), an app that geotags with it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.config import Settings
from tests.conftest import OUTPUT_DIR, SHARED_DATA

CITY_CACHE = OUTPUT_DIR / ".city-cache"
TWCS = SHARED_DATA / "complaints" / "twcs" / "twcs_sample.csv"
BALTIMORE_311 = SHARED_DATA / "complaints" / "baltimore_311" / "baltimore_311_sample.csv"


@pytest.fixture(scope="session")
def city():  # type: ignore[no-untyped-def]
    from server.core.city import load_city

    return load_city(Settings(GROUNDCREW_CACHE_DIR=CITY_CACHE))


@pytest.fixture
def geo_settings(database_url: str, tmp_path: Path, city) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 32,
                    load_city=True, GROUNDCREW_CACHE_DIR=CITY_CACHE, insecure_channels=True)


@pytest.fixture
def geo_app(geo_settings: Settings):  # type: ignore[no-untyped-def]
    application = create_app(geo_settings)
    yield application
    application.state.engine.dispose()


@pytest.fixture
def geo_client(geo_app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(geo_app) as test_client:
        yield test_client
