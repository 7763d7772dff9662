"""Job fixtures: the server with the demo city loaded (an edited place is checked against its street map), no
dispatch watcher and no coalescing delay (a re-plan an edit asks for is queued at once)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.config import Settings
from tests.server.intake.conftest import CITY_CACHE


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-secret-" + "x" * 32,
                    load_city=True, GROUNDCREW_CACHE_DIR=CITY_CACHE, dispatch_background=False,
                    dispatch_morning_at=None, dispatch_coalesce_s=0.0, insecure_channels=True)
