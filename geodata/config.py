"""Deployment settings for building a street network; passed in, never global."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

# Default free-flow speeds (km/h) per OSM highway class, used when a way has no usable maxspeed.
DEFAULT_HIGHWAY_SPEEDS_KMH: dict[str, float] = {
    "motorway": 90.0,
    "motorway_link": 50.0,
    "trunk": 70.0,
    "trunk_link": 40.0,
    "primary": 50.0,
    "primary_link": 35.0,
    "secondary": 45.0,
    "secondary_link": 30.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "living_street": 15.0,
    "road": 30.0,
    "service": 15.0,
}

DRIVABLE_HIGHWAYS: frozenset[str] = frozenset(DEFAULT_HIGHWAY_SPEEDS_KMH)
EXCLUDED_SERVICE_VALUES: frozenset[str] = frozenset(
    {"parking", "parking_aisle", "driveway", "private", "emergency_access", "drive-through"}
)


@dataclass(frozen=True)
class NetworkConfig:
    """How to turn OSM ways into a travel-time network.

    Speeds are km/h; distances are metres. `access_speed_kmh` prices the off-road leg between a
    point and the road it snaps to (walking a hose from the kerb, a van in a yard).
    """

    highway_speeds_kmh: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_HIGHWAY_SPEEDS_KMH))
    fallback_speed_kmh: float = 30.0
    max_snap_distance_m: float = 250.0
    access_speed_kmh: float = 10.0
    include_service_roads: bool = True
    service_area_margin_m: float = 100.0

    def __post_init__(self) -> None:
        if self.max_snap_distance_m <= 0:
            raise ValueError("max_snap_distance_m must be > 0 metres")
        if self.access_speed_kmh <= 0 or self.fallback_speed_kmh <= 0:
            raise ValueError("speeds must be > 0 km/h")
        bad = {k: v for k, v in self.highway_speeds_kmh.items() if not v > 0}
        if bad:
            raise ValueError(f"highway speeds must be > 0 km/h, got {bad}")

    def cache_key(self) -> str:
        """A short stable hash of the settings, part of the on-disk cache key."""
        payload = asdict(self)
        payload["highway_speeds_kmh"] = dict(sorted(self.highway_speeds_kmh.items()))
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]
