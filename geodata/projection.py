"""A local equirectangular projection: metres around a city, exact enough (<0.1 %) for ~50 km."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geodata.errors import InvalidCoordinatesError

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class LocalProjection:
    """Projects lon/lat degrees to x/y metres east/north of (lat0, lon0)."""

    lat0: float
    lon0: float

    @property
    def _kx(self) -> float:
        return EARTH_RADIUS_M * math.radians(1.0) * math.cos(math.radians(self.lat0))

    @property
    def _ky(self) -> float:
        return EARTH_RADIUS_M * math.radians(1.0)

    def to_xy(self, lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Degrees → metres."""
        lon_a = np.asarray(lon, dtype=float)
        lat_a = np.asarray(lat, dtype=float)
        return (lon_a - self.lon0) * self._kx, (lat_a - self.lat0) * self._ky

    def to_lonlat(self, x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Metres → degrees."""
        return (np.asarray(x, dtype=float) / self._kx + self.lon0, np.asarray(y, dtype=float) / self._ky + self.lat0)


def check_lat_lon(lat: object, lon: object) -> tuple[float, float]:
    """Validate one coordinate pair; returns floats or raises InvalidCoordinatesError."""
    try:
        la, lo = float(lat), float(lon)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidCoordinatesError(f"coordinates must be numbers, got lat={lat!r}, lon={lon!r}")
    if not (math.isfinite(la) and math.isfinite(lo)):
        raise InvalidCoordinatesError(f"coordinates must be finite, got lat={lat!r}, lon={lon!r}")
    if not -90.0 <= la <= 90.0:
        raise InvalidCoordinatesError(f"latitude must be within -90..90 degrees, got {la} (lat/lon swapped?)")
    if not -180.0 <= lo <= 180.0:
        raise InvalidCoordinatesError(f"longitude must be within -180..180 degrees, got {lo}")
    return la, lo


def haversine_m(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> NDArray[np.float64]:
    """Great-circle distance in metres."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.minimum(a, 1.0)))
