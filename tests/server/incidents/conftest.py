"""Hand-off fixtures: the server with the demo city loaded (the place a case is handed off at is checked against
its street map), the geotagger answering the web form, no hand-off by intake itself, no dispatch watcher."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import Settings
from tests.server.intake.conftest import CITY_CACHE


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 32,
                    load_city=True, GROUNDCREW_CACHE_DIR=CITY_CACHE, dispatch_background=False,
                    dispatch_morning_at=None, dispatch_coalesce_s=0.0, insecure_channels=True,
                    auto_handoff=False)
