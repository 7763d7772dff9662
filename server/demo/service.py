"""The demo: a real city (Baltimore, OSM) with real 311 complaints, demo staff and technicians.

The complaints are replayed as recent ones (see `replay_times`): the file's 2014-2019 rows arrive over the last
``REPLAY_HOURS`` hours, in their order and relative spacing, so SLA figures are about today, not years ago.

Loading is idempotent: every record is looked up by a natural key before it is created, so running
``groundcrew demo`` twice creates nothing twice (complaints already stored keep the times they were given)."""

from __future__ import annotations

import csv
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from server.auth import service as auth_service
from server.auth.models import Role, UserCreate
from server.config import DEMO_DATA_DIR, Settings
from server.core.errors import DomainError
from server.jobs.models import Job
from server.technicians.models import Technician

DEMO_COMPLAINTS = DEMO_DATA_DIR / "baltimore_311_demo.csv"

# (name, username, home lat, home lon, skills): homes spread over the demo city's neighbourhoods. Between them they
# hold every skill the demo's complaints need (parking, animal control, forestry and inspection too), so no demo
# job is a dead end (`groundcrew skills list` shows the coverage).
DEMO_TECHNICIANS: list[tuple[str, str, float, float, dict[str, int]]] = [
    ("Ana Ruiz", "ana", 39.2833, -76.5930, {"electrical": 3, "general": 2}),
    ("Marcus Webb", "marcus", 39.2805, -76.5735, {"roads": 3, "general": 2, "parking": 2}),
    ("Priya Shah", "priya", 39.2900, -76.5700, {"water": 3, "general": 1}),
    ("Tom Kowalski", "tom", 39.2855, -76.6010, {"sanitation": 3, "general": 2}),
    ("Grace Okafor", "grace", 39.2930, -76.5850, {"housing": 3, "sanitation": 2, "inspection": 2}),
    ("Luis Moreno", "luis", 39.2870, -76.5500, {"roads": 2, "electrical": 2, "forestry": 2}),
    ("Hannah Berg", "hannah", 39.2700, -76.5920, {"water": 2, "sanitation": 2, "animal_control": 2}),
    ("Dev Patel", "dev", 39.2990, -76.6040, {"general": 3, "housing": 2, "sanitation": 1, "parking": 1}),
]
DEMO_STAFF = [("admin", "Avery Admin", Role.admin), ("dispatcher", "Dana Dispatcher", Role.dispatcher),
              ("agent", "Alex Agent", Role.agent)]
# The demo file's five years of complaints are replayed as arriving over this many hours before the load.
REPLAY_HOURS = 72.0
_BALTIMORE_TIME = "%m/%d/%Y %I:%M:%S %p"


def replay_times(created: list[datetime | None], *, now: datetime,
                 span: timedelta = timedelta(hours=REPLAY_HOURS)) -> list[datetime | None]:
    """Each complaint's replayed receipt time: the newest at ``now``, the oldest ``span`` before it, every other
    one at the same fraction of the way between them as in the file (order and relative spacing kept, ages scaled
    by ``span`` / the file's own span). None (an unreadable time) stays None."""
    known = [t for t in created if t is not None]
    if not known:
        return list(created)
    oldest, newest = min(known), max(known)
    scale = span / (newest - oldest) if newest > oldest else 0.0
    return [None if t is None else now - (newest - t) * scale for t in created]

@dataclass
class DemoResult:
    users_created: list[tuple[str, str, str]] = field(default_factory=list)  # (username, role, password)
    technicians_created: int = 0
    complaints_imported: int = 0
    complaints_skipped: int = 0
    jobs_created: int = 0


def _ensure_staff(session: Session, result: DemoResult, password: str | None) -> None:
    for username, full_name, role in DEMO_STAFF:
        if auth_service.get_by_username(session=session, username=username):
            continue
        pw = password or secrets.token_urlsafe(9)
        auth_service.create(
            session=session, user_in=UserCreate(username=username, full_name=full_name, role=role, password=pw)
        )
        result.users_created.append((username, role.value, pw))


def _ensure_technicians(session: Session, result: DemoResult, password: str | None) -> None:
    lunch = [{"earliest": "11:30", "latest": "14:00", "duration_min": 30}]
    for name, username, lat, lon, skills in DEMO_TECHNICIANS:
        tech = session.exec(select(Technician).where(Technician.name == name)).first()
        if tech is None:
            tech = Technician(
                name=name, skills=skills, home_lat=lat, home_lon=lon, shift_start=time(8, 0),
                shift_end=time(17, 0), breaks=lunch, overtime_allowed_min=60,
            )
            session.add(tech)
            session.flush()
            result.technicians_created += 1
        if auth_service.get_by_username(session=session, username=username) is None:
            pw = password or secrets.token_urlsafe(9)
            auth_service.create(session=session, user_in=UserCreate(
                username=username, full_name=name, role=Role.technician, password=pw, technician_id=tech.id,
            ))
            result.users_created.append((username, Role.technician.value, pw))


def _import_complaints(
    session: Session, settings: Settings, result: DemoResult, path: Path, max_jobs: int,
    progress: Callable[[int], None] | None,
) -> None:
    """Each 311 row goes through the real intake pipeline (identity, triage, geotag, case); field work with a
    confident place becomes a job for today until ``max_jobs`` jobs exist, the rest stay open cases."""
    from server.core.city import load_city
    from server.intake.importers import RowError, baltimore_row, file_placeholders
    from server.intake.pipeline import receive

    tz = ZoneInfo(settings.timezone)
    today = datetime.now(tz).date()
    day_start = datetime.combine(today, time(8, 0), tzinfo=tz)
    day_end = datetime.combine(today, time(17, 0), tzinfo=tz)
    existing_jobs = len(session.exec(select(Job.id)).all())
    jobs_budget = max(0, max_jobs - existing_jobs)
    try:
        city = load_city(settings)
    except Exception:  # no map: GPS-only geotagging still works
        city = None
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows.sort(key=lambda r: r["ServiceRequestNum"])
    stand_ins = file_placeholders(rows, "Address", "Latitude", "Longitude")  # "not geocoded" points of this file
    received = replay_times([_created(row, tz) for row in rows], now=datetime.now(tz))
    for index, row in enumerate(rows):
        if progress:
            progress(index)
        try:
            inbound, _code = baltimore_row(row, tz, stand_ins)
            if received[index] is not None:
                inbound.sent_at = received[index]
            intake = receive(session=session, settings=settings, city=city, inbound=inbound, auto_reply=False,
                             auto_handoff=jobs_budget > 0)
        except (RowError, DomainError):
            result.complaints_skipped += 1
            continue
        if not intake.created:
            continue
        result.complaints_imported += 1
        job = intake.job
        if job is not None and not intake.joined_incident:  # its SLA is its complaint's: receipt + policy hours
            jobs_budget -= 1
            job.time_windows = [{"start": day_start.isoformat(), "end": day_end.isoformat()}]
            session.add(job)
            result.jobs_created += 1
        if index % 200 == 199:
            session.commit()


def _created(row: dict[str, str], tz: ZoneInfo) -> datetime | None:
    try:
        return datetime.strptime((row.get("CreatedDate") or "").strip(), _BALTIMORE_TIME).replace(tzinfo=tz)
    except ValueError:
        return None


def load_demo(
    *, session: Session, settings: Settings, password: str | None = None, complaints: Path = DEMO_COMPLAINTS,
    max_jobs: int = 60, progress: Callable[[int], None] | None = None,
) -> DemoResult:
    """Create demo staff, technicians and complaints; returns what was newly created."""
    result = DemoResult()
    _ensure_staff(session, result, password)
    _ensure_technicians(session, result, password)
    session.commit()
    _import_complaints(session, settings, result, complaints, max_jobs, progress)
    session.commit()
    return result
