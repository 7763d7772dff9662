"""What the address points add to a city when the server loads it: every stored, not suspended point."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from server.config import Settings

if TYPE_CHECKING:
    from geodata import City

log = logging.getLogger("groundcrew.addresses")


def on_city_loaded(*, settings: Settings, city: City) -> None:
    """Teach the city the stored address points (one query; a database not created or not migrated yet gives
    none, and an SQLite file that does not exist is not created)."""
    from server.addresses.service import apply_stored_points
    from server.core.db import make_engine

    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        db_path = url.split("///", 1)[-1]
        if not db_path or db_path == ":memory:" or not Path(db_path).exists():
            return
    t0 = time.perf_counter()
    engine = make_engine(settings)
    try:
        count = apply_stored_points(engine=engine, city=city)
    finally:
        engine.dispose()
    if count:
        log.info("taught %d stored address points to the city in %.2f s", count, time.perf_counter() - t0)
