"""The city (street network, gazetteer, geotagger) the server dispatches in, loaded once per process."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from server.config import Settings
from server.core.errors import Unavailable

if TYPE_CHECKING:
    from geodata import City

_lock = threading.Lock()
_loaded: dict[tuple[str, str], City] = {}


def load_city(settings: Settings, progress: bool = False) -> City:
    """The configured city, built or read from the disk cache on first use, then shared in this process."""
    import geodata

    key = (str(Path(settings.osm_source).resolve()), str(settings.cache_dir.resolve()))
    with _lock:
        city = _loaded.get(key)
        if city is None:
            city = geodata.load_city(settings.osm_source, settings.cache_dir, progress=progress)
            _loaded[key] = city
        return city


def get_city(request: Request) -> City:
    """Dependency: the city of this deployment; 503 while it cannot be loaded."""
    try:
        return load_city(request.app.state.settings)
    except Exception as exc:  # a broken OSM source must not take the whole API down
        raise Unavailable(f"the street map is not available: {exc}") from exc


CityDep = Annotated["City", Depends(get_city)]
