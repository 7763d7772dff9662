"""Geotag on intake: GPS, else the text, else the customer's known address — the chosen candidate and its
alternatives as stored on the case (``Case.geotag``)."""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from geodata import City


def _as_dict(candidate: Any) -> dict[str, Any]:
    data = asdict(candidate)
    data["confidence"] = round(float(data["confidence"]), 3)
    return data


def _real_point(gps: tuple[float, float]) -> bool:
    """Not a placeholder (0,0 or whole degrees like the 39,-77 of un-geocoded 311 rows)."""
    lat, lon = float(gps[0]), float(gps[1])
    return not (lat == round(lat) and lon == round(lon)) and -90 <= lat <= 90 and -180 <= lon <= 180


def locate(
    *, city: City | None, text: str, gps: tuple[float, float] | None = None, place_hint: str | None = None,
    known_address: str | None = None, min_confidence: float = 0.6, stated_address: str | None = None,
) -> dict[str, Any]:
    """The best location candidate as a dict (lat, lon, kind, confidence, radius_m, span, explanation) plus
    ``alternatives`` and ``confident``; ``{"confident": False, "explanation": why}`` when nothing was found.

    A trusted GPS point settles it without reading the text (that is also what keeps intake fast); bogus or
    out-of-area GPS falls back to the text (and ``stated_address``, an address typed in an address field), then to
    the known address. ``confident`` is the geotagger's calibrated confidence (the probability of being within
    250 m) at or above ``min_confidence``. A well-formed street address whose street is not on this map is
    marked ``outside_service_area``: asking the customer "where is it?" again would not help; an agent decides."""
    if city is None:
        if gps is not None:
            return {"lat": gps[0], "lon": gps[1], "kind": "gps", "confidence": 0.9, "radius_m": 30.0, "span": "",
                    "explanation": "GPS point sent with the report (no street map loaded to check it)",
                    "alternatives": [], "confident": min_confidence <= 0.9}
        return {"confident": False, "explanation": "no street map is loaded, so the text could not be geotagged",
                "alternatives": []}
    from geodata import GeodataError

    candidates: list[Any] = []
    try:
        if gps is not None:
            candidates = city.geotag("", gps=gps)
            if not candidates and _real_point(gps) and not city.network.contains(gps[0], gps[1]):
                # A plausible fix outside our map: the problem is outside the service area. Reading the text
                # would only find a namesake street inside it.
                return {"confident": False, "outside_service_area": True, "alternatives": [],
                        "explanation": f"GPS point ({gps[0]:.5f}, {gps[1]:.5f}) is outside the service area"}
        if not candidates or candidates[0].kind != "gps":
            candidates = city.geotag(text or "", gps=gps, place_hint=place_hint, known_address=known_address,
                                     stated_address=stated_address)
    except GeodataError as exc:
        return {"confident": False, "explanation": f"could not geotag: {exc}", "alternatives": []}
    except ValueError as exc:  # e.g. an unparseable point handed through
        return {"confident": False, "explanation": f"could not geotag: {exc}", "alternatives": []}
    if not candidates or candidates[0].confidence < min_confidence:
        unmapped = city.geotagger.unmapped_address(stated_address or text or "")
        if unmapped:
            return {"confident": False, "outside_service_area": True, "span": unmapped[:300], "alternatives": [],
                    "explanation": f"'{unmapped[:120]}' looks like a street address, but no such street is on "
                                   "this map: probably outside the service area"}
    if not candidates:
        return {"confident": False, "explanation": "no street, address, intersection or place recognised",
                "alternatives": []}
    best = _as_dict(candidates[0])
    best["alternatives"] = [_as_dict(c) for c in candidates[1:4]]
    best["confident"] = best["confidence"] >= min_confidence
    if best["kind"] != "gps" and not city.network.contains(best["lat"], best["lon"]):
        # Found, but where the map has no complete streets (a road that runs on past the extract's edge):
        # no technician can be routed there, so an agent decides; asking the customer again would not help.
        best.update(confident=False, outside_service_area=True,
                    explanation=best["explanation"] + "; this is outside the service area")
    return best
