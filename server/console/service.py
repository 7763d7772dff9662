"""Map data for the console: deduplicated street lines, the service area, and plan routes on real streets."""

from __future__ import annotations

import gzip
import json
import threading
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from server.core.errors import NotFound
from server.plans import service as plans_service
from server.plans.models import PlanStop
from server.technicians.models import Technician

if TYPE_CHECKING:
    from geodata import City

STATIC_DIR = Path(__file__).resolve().parent / "static"

_cache_lock = threading.Lock()
_streets_cache: dict[tuple[int, tuple[float, ...] | None], bytes] = {}


def streets_gzip(*, city: City, bbox: Sequence[float] | None) -> bytes:
    """Gzipped GeoJSON of the drivable streets in bbox (min_lon, min_lat, max_lon, max_lat), one line per street
    piece (a two-way street is drawn once, not once per direction); cached per city and bbox."""
    key = (id(city), tuple(round(v, 5) for v in bbox) if bbox else None)
    with _cache_lock:
        hit = _streets_cache.get(key)
    if hit is not None:
        return hit
    collection = city.streets_geojson(bbox)
    seen: set[tuple[tuple[float, float], ...]] = set()
    features = []
    for feature in collection["features"]:
        coords = tuple(tuple(p) for p in feature["geometry"]["coordinates"])
        if coords in seen or tuple(reversed(coords)) in seen:
            continue
        seen.add(coords)
        props = feature.get("properties") or {}
        features.append({"type": "Feature", "geometry": feature["geometry"],
                         "properties": {"name": props.get("name"), "highway": props.get("highway")}})
    body = json.dumps({"type": "FeatureCollection", "features": features}, separators=(",", ":")).encode()
    packed = gzip.compress(body, compresslevel=6)
    with _cache_lock:
        if len(_streets_cache) > 32:
            _streets_cache.clear()
        _streets_cache[key] = packed
    return packed


def service_area(*, city: City) -> dict[str, Any]:
    """The served area as a GeoJSON Feature (lon/lat polygon) with its bounding box."""
    polygon = city.service_area
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in polygon.exterior.coords]]},
        "properties": {"bbox": list(polygon.bounds)},
    }


def current_plan_routes(*, session: Session, city: City, technicians: list[int] | None = None) -> dict[str, Any]:
    """The active plan's route per technician, following the streets: home → stops in order → end. With
    ``technicians``, theirs only (a console patching in a live change's days: ``plan.created``'s ``delta``)."""
    plan = plans_service.active_plan(session=session)
    if plan is None:
        raise NotFound("no plan yet: solve one first")
    from server.jobs.models import Job

    query = select(PlanStop).where(PlanStop.plan_id == plan.id)
    if technicians is not None:
        query = query.where(col(PlanStop.technician_id).in_(technicians))
    stops = session.exec(query.order_by(col(PlanStop.technician_id), col(PlanStop.sequence))).all()
    by_tech: dict[int, list[PlanStop]] = defaultdict(list)
    for stop in stops:
        by_tech[stop.technician_id].append(stop)
    jobs = {j.id: j for j in session.exec(select(Job).where(col(Job.id).in_([s.job_id for s in stops]))).all()}
    features = []
    for tech_id, tech_stops in sorted(by_tech.items()):
        tech = session.get(Technician, tech_id)
        if tech is None:
            continue
        day = [jobs[s.job_id] for s in tech_stops if s.job_id in jobs]
        lines, on_streets = plans_service.route_lines(
            city=city, points=plans_service.technician_day_points(tech=tech, jobs=day)
        )
        features.append({
            "type": "Feature",
            "geometry": {"type": "MultiLineString", "coordinates": lines},
            "properties": {"technician_id": tech_id, "plan_version": plan.version, "on_streets": on_streets,
                           "job_ids": [s.job_id for s in tech_stops]},
        })
    return {"type": "FeatureCollection", "features": features, "plan_version": plan.version}


def board_labels(*, session: Session, technicians: list[int] | None = None) -> dict[str, Any]:
    """For each job of the active plan (with ``technicians``, of their days only), the name of the customer who
    reported it first (the schedule board labels its bars with it; names live with the customers, not the jobs).
    One query, whatever the plan's size."""
    from server.cases.models import Case
    from server.customers.models import Customer

    plan = plans_service.active_plan(session=session)
    if plan is None:
        return {"plan_version": 0, "customers": {}}
    planned = select(PlanStop.job_id).where(PlanStop.plan_id == plan.id)
    if technicians is not None:
        planned = planned.where(col(PlanStop.technician_id).in_(technicians))
    rows = session.exec(
        select(Case.job_id, Customer.display_name).join(Customer, col(Customer.id) == col(Case.customer_id))
        .where(col(Case.job_id).in_(planned)).order_by(col(Case.id))).all()
    customers: dict[int, str] = {}
    for job_id, name in rows:
        if job_id is not None and name:
            customers.setdefault(job_id, name)
    return {"plan_version": plan.version, "customers": customers}
