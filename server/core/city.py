"""The city (street network, gazetteer, geotagger) the server dispatches in, loaded once per process."""

from __future__ import annotations

import importlib
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from server.config import Settings
from server.core.errors import Unavailable

if TYPE_CHECKING:
    from geodata import City

log = logging.getLogger("groundcrew.city")
_lock = threading.Lock()
_loaded: dict[tuple[str, str], City] = {}


def _key(settings: Settings) -> tuple[str, str]:
    return (str(Path(settings.osm_source).resolve()), str(settings.cache_dir.resolve()))


def load_city(settings: Settings, progress: bool = False) -> City:
    """The configured city, built or read from the disk cache on first use, then shared in this process.

    Once loaded, each feature folder with a ``city_hooks.py`` adds what it knows to it (``on_city_loaded(settings=,
    city=)``; e.g. the stored address points); a feature that fails is logged and skipped, never fatal."""
    import geodata

    key = _key(settings)
    with _lock:
        city = _loaded.get(key)
        if city is None:
            city = geodata.load_city(settings.osm_source, settings.cache_dir, progress=progress)
            _on_loaded(settings, city)
            _loaded[key] = city
        return city


def loaded_city(settings: Settings) -> City | None:
    """The configured city if this process has loaded it already (never loads it)."""
    return _loaded.get(_key(settings))


def _on_loaded(settings: Settings, city: City) -> None:
    from server.models import feature_modules

    for module_name in feature_modules("city_hooks"):
        try:
            importlib.import_module(module_name).on_city_loaded(settings=settings, city=city)
        except Exception:  # the city works without what a feature adds to it
            log.exception("%s could not add to the city", module_name)


def get_city(request: Request) -> City:
    """Dependency: the city of this deployment; 503 while it cannot be loaded."""
    try:
        return load_city(request.app.state.settings)
    except Exception as exc:  # a broken OSM source must not take the whole API down
        raise Unavailable(f"the street map is not available: {exc}") from exc


CityDep = Annotated["City", Depends(get_city)]
