"""Address search for staff: type an address, an intersection or a landmark, get places to choose from.

Why: a dispatcher handing a case to the field, editing a job's place or setting a technician's home base needs the
same geotagger the complaints go through, not a pin dropped on an empty block. Each answer says how it was found and
how likely it is to be right (probability of being within 250 m), so a person can tell an address point from a
guess along a street.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import BaseModel
from shapely.geometry import Point

from geodata.projection import haversine_m
from server.core.city import CityDep
from server.core.deps import StaffUser
from server.core.routing import FeatureRouter

router = FeatureRouter(prefix="/addresses", tags=["addresses"])

#: Two answers closer than this (m) are the same place said twice; the more confident one is kept.
SAME_PLACE_M = 25.0


class AddressMatch(BaseModel):
    lat: float
    lon: float
    kind: str  # address, intersection, landmark, street, neighbourhood, block
    confidence: float  # probability the place is within 250 m of what was meant
    radius_m: float  # how far off it may be
    label: str  # how it was found, in words ("address point 10 Mikonkatu")
    inside_service_area: bool


@router.get("/search", response_model=list[AddressMatch], summary="Places matching a typed address (staff)")
def search(
    city: CityDep,
    _: StaffUser,
    q: Annotated[str, Query(min_length=2, max_length=300, description="Address, intersection or landmark as typed")],
    limit: Annotated[int, Query(ge=1, le=10)] = 5,
) -> list[AddressMatch]:
    """Best first; an empty list when nothing in the map matches (say so to the user; never a guess)."""
    area = city.service_area
    out: list[AddressMatch] = []
    for c in city.geotag(q.strip()):
        if any(float(haversine_m(c.lat, c.lon, m.lat, m.lon)) < SAME_PLACE_M for m in out):
            continue
        out.append(AddressMatch(lat=round(c.lat, 7), lon=round(c.lon, 7), kind=c.kind,
                                confidence=round(c.confidence, 3),
                                radius_m=round(c.radius_m, 1), label=c.explanation,
                                inside_service_area=bool(area.covers(Point(c.lon, c.lat)))))
        if len(out) >= limit:
            break
    return out

