"""Reading plans: the active version, a technician's day, and routes drawn on the streets."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from geodata import GeodataError
from server.core.errors import NotFound
from server.jobs.models import Job
from server.plans.models import Plan, PlanStatus, PlanStop
from server.technicians.models import Technician

if TYPE_CHECKING:
    from geodata import City


def active_plan(*, session: Session) -> Plan | None:
    """The newest active plan version, if any."""
    return session.exec(
        select(Plan).where(Plan.status == PlanStatus.active).order_by(col(Plan.version).desc())
    ).first()


def route_lines(*, city: City, points: list[tuple[float, float]]) -> tuple[list[list[list[float]]], bool]:
    """The legs between consecutive (lat, lon) points along the streets, as lon/lat line coordinates, and whether
    every leg is on the streets. A leg that cannot be routed (a point off the map, or on a piece of road cut off
    from the rest) is drawn straight, as is a piece geodata could not trace (logged there); the other legs of the
    day still follow the streets."""
    if len(points) < 2:
        return [], True
    try:
        legs = city.network.route_geojson(points)["features"]
        return ([leg["geometry"]["coordinates"] for leg in legs],
                all(leg["properties"].get("on_streets", True) for leg in legs))
    except GeodataError:  # some leg cannot be routed: find which, leg by leg
        lines = []
        on_streets = True
        for a, b in itertools.pairwise(points):
            try:
                leg = city.network.route_geojson([a, b])["features"][0]
                lines.append(leg["geometry"]["coordinates"])
                on_streets &= leg["properties"].get("on_streets", True)
            except GeodataError:
                lines.append([[a[1], a[0]], [b[1], b[0]]])
                on_streets = False
        return lines, on_streets


def technician_day_points(
    *, tech: Technician, jobs: list[Job], from_current: bool = False
) -> list[tuple[float, float]]:
    """Where the technician drives today: start (current position or home) → jobs in order → end."""
    start = (tech.current_lat, tech.current_lon) if from_current and tech.current_lat is not None else None
    points = [start or (tech.home_lat, tech.home_lon)]
    points += [(job.lat, job.lon) for job in jobs]
    end_lat = tech.end_lat if tech.end_lat is not None else tech.home_lat
    end_lon = tech.end_lon if tech.end_lon is not None else tech.home_lon
    points.append((end_lat, end_lon))
    return points


def technician_route(*, session: Session, city: City, technician_id: int) -> dict[str, Any]:
    """A technician's day from the active plan: ordered stops with ETAs and the route on the streets."""
    tech = session.get(Technician, technician_id)
    if tech is None:
        raise NotFound(f"technician {technician_id} not found")
    plan = active_plan(session=session)
    if plan is None:
        raise NotFound("no plan yet: the dispatcher has not planned the day")
    stops = session.exec(
        select(PlanStop).where(PlanStop.plan_id == plan.id, PlanStop.technician_id == technician_id)
        .order_by(col(PlanStop.sequence))
    ).all()
    jobs = {j.id: j for j in session.exec(select(Job).where(col(Job.id).in_([s.job_id for s in stops]))).all()}
    ordered = [s for s in stops if s.job_id in jobs]
    lines, on_streets = route_lines(
        city=city, points=technician_day_points(tech=tech, jobs=[jobs[s.job_id] for s in ordered])
    )
    return {
        "technician_id": technician_id,
        "plan_version": plan.version,
        "plan_created_at": plan.created_at.isoformat(),
        "stops": [
            {**stop.model_dump(mode="json", exclude={"id", "plan_id"}),
             "lat": jobs[stop.job_id].lat, "lon": jobs[stop.job_id].lon, "status": jobs[stop.job_id].status}
            for stop in ordered
        ],
        "geometry": {"type": "MultiLineString", "coordinates": lines},
        "on_streets": on_streets,
    }
