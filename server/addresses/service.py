"""Address points: import a file into the deployment's store (checked, idempotent, all or nothing), teach the stored
points to the city, and learn points from jobs completed on site.

**Field confirmation** (`confirm_from_completion`). A completed job teaches the city where its address is only
when all of this holds, so that it does not learn a wrong point:

1. the job's place came from a written address — the case's geotag kind is ``address``, ``stated_address``,
   ``block`` or ``customer_address`` (not GPS, a landmark, a street, an agent's pin or a job typed in by hand) —
   and the job has that address text;
2. the technician's last GPS fix carries an accuracy of at most 50 m (``LocationPing.accuracy_m``; a fix without
   one is not evidence), was taken after they marked themselves on site (1 min slack for clocks) and at most
   10 min before the completion (and not after it);
3. that fix is within 150 m of the job's location: the technician is really there, and the place agrees with
   where we sent them (a technician who had to find the place elsewhere is not confirming our point).

Then the technician's **fix** (not the job's location) is stored as a ``field`` point for the job's address text:
the job's location is our own geotagger's guess (a block interpolation can be 100 m off), and storing it would
only echo that guess back as a certainty; the fix is an independent measurement of where the work was done,
with an error the phone states (≤ 50 m, typically 5–20 m). A later confirmation of the same address within 150 m
is averaged into the point (``confirmations`` counts them); one more than 150 m away **suspends** the point
(two places for one address text: a person decides) instead of adding a second one, and a suspended address
learns nothing more. Stored points reach a city when a process loads it (``city_hooks``): the live city of a
running process is not changed under the requests reading it (teaching one point re-fits the street numbering,
~0.6 s on Boston, and the gazetteer is not made to be written while it is read).
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server.addresses.models import AddressPointRecord, TechnicianFix
from server.core.timeutil import as_utc, utcnow

if TYPE_CHECKING:  # geodata is imported where it is used: importing it loads osmnx (~1 s), and dispatch imports us
    from geodata import City
    from geodata.address_points import AddressPoint, RowProblem
    from server.jobs.models import Job

log = logging.getLogger("groundcrew.addresses")

FIELD_SOURCE = "field"
FIELD_KINDS = frozenset({"address", "stated_address", "block", "customer_address"})
FIX_MAX_ACCURACY_M = 50.0
FIX_MAX_AGE_S = 600.0
FIX_CLOCK_SLACK_S = 60.0
AGREE_RADIUS_M = 150.0
INSERT_BATCH = 1000
Progress = Callable[[str, int, int], None]  # (stage, done, total)


def text_key(text: str) -> str:
    """The address text as a key: casefolded, commas and full stops dropped, spacing evened out."""
    return " ".join(re.sub(r"[.,;]", " ", text.casefold()).split())[:300]


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(a)))


def teach(*, city: City, points: list[AddressPoint]) -> Any | None:
    """Give the points to the city's gazetteer (``City.add_address_points``); its report, or None when this
    geodata has no such method yet or there is nothing to teach."""
    add = getattr(city, "add_address_points", None)
    if add is None or not points:
        return None
    return add(points)


# ------------------------------------------------------------------------------------------- import
@dataclass
class ImportReport:
    """What an address-points import did. ``problems`` are bad rows by line (nothing is stored when there are any,
    unless bad rows were skipped on request)."""

    path: str
    source: str
    rows: int = 0
    imported: int = 0
    already_known: int = 0
    repeated: int = 0
    placeholder_rows: int = 0
    placeholder_points: list[tuple[float, float]] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    stored: bool = False
    taught: Any = None
    seconds: float = 0.0

    @property
    def bad(self) -> int:
        return len(self.problems)

    def as_dict(self) -> dict[str, Any]:
        taught = self.taught
        if taught is not None and not isinstance(taught, dict):
            taught = {k: getattr(taught, k) for k in ("added", "unmatched", "outside_map") if hasattr(taught, k)}
        return {"file": self.path, "source": self.source, "rows": self.rows, "imported": self.imported,
                "already_known": self.already_known, "repeated_in_file": self.repeated,
                "placeholder_rows_dropped": self.placeholder_rows,
                "placeholder_points": [list(p) for p in self.placeholder_points], "bad": self.bad,
                "stored": self.stored, "taught": taught, "seconds": round(self.seconds, 2)}


def import_points(
    *, engine: Engine, city: City | None, path: Path, fmt: str = "auto", source: str = "import",
    skip_bad: bool = False, progress: Progress | None = None,
) -> ImportReport:
    """Read, check and store an address-points file in one transaction.

    Every row is checked first: unreadable rows and points outside the city's map are problems by line. Rows
    on a placeholder point of this file (`placeholder_points`) are dropped and counted, not errors. With any
    problem nothing is stored, unless ``skip_bad`` (then the good rows are). Points already stored (same address
    text and point) are counted, not stored twice. The stored points are then taught to ``city``. Raises
    AddressFileError when the file as a whole cannot be read (unknown format, not UTF-8)."""
    from geodata.address_points import RowProblem, iter_address_points, placeholder_points

    t0 = time.perf_counter()
    report = ImportReport(path=str(path), source=source)
    numbered: list[tuple[int, AddressPoint]] = []
    for line, item in iter_address_points(path, fmt, source=source):
        if not (isinstance(item, RowProblem) and item.message.startswith("missing column")):
            report.rows += 1  # a header without the needed columns is a problem, not a row
        if isinstance(item, RowProblem):
            report.problems.append(item)
        else:
            numbered.append((line, item))
        if progress and report.rows % 500 == 0:
            progress("Reading", report.rows, 0)
    stand_ins = placeholder_points((p.text, p.lat, p.lon) for _, p in numbered)
    report.placeholder_points = sorted(stand_ins)
    kept: list[tuple[int, AddressPoint]] = []
    for done, (line, point) in enumerate(numbered, start=1):
        if (point.lat, point.lon) in stand_ins:
            report.placeholder_rows += 1
        elif city is not None and not city.network.contains(point.lat, point.lon):
            report.problems.append(RowProblem(line, f"lat/lon: ({point.lat:.6f}, {point.lon:.6f}) is outside the "
                                                    f"city's map ({city.source.name}); is this file for this city?"))
        else:
            kept.append((line, point))
        if progress and (done % 500 == 0 or done == len(numbered)):
            progress("Checking", done, len(numbered))
    report.problems.sort(key=lambda p: p.line)
    if report.problems and not skip_bad:
        report.seconds = time.perf_counter() - t0
        return report
    unique: dict[tuple[str, float, float], AddressPoint] = {}
    for _line, point in kept:
        key = (text_key(point.text), round(point.lat, 7), round(point.lon, 7))
        if key in unique:
            report.repeated += 1
        else:
            unique[key] = point
    new_points = _store(engine, unique, source, progress)
    report.imported = len(new_points)
    report.already_known = len(unique) - len(new_points)
    report.stored = True
    if city is not None:
        report.taught = teach(city=city, points=new_points)
    report.seconds = time.perf_counter() - t0
    return report


def _insert_ignoring_known(session: Session):  # type: ignore[no-untyped-def]
    """INSERT ... ON CONFLICT DO NOTHING for the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = AddressPointRecord
    return insert(table).on_conflict_do_nothing(index_elements=["text_key", "lat", "lon"]).returning(
        col(table.id), col(table.text_key), col(table.lat), col(table.lon))


def _store(engine: Engine, unique: dict[tuple[str, float, float], AddressPoint], source: str,
           progress: Progress | None) -> list[AddressPoint]:
    """Insert the points not stored yet, all in one transaction; the points that were new."""
    items = list(unique.items())
    now = utcnow()
    new: list[AddressPoint] = []
    with Session(engine) as session, session.begin():
        statement = _insert_ignoring_known(session)
        for start in range(0, len(items), INSERT_BATCH):
            batch = items[start:start + INSERT_BATCH]
            rows = [{"text": p.text[:300], "text_key": key[0], "lat": key[1], "lon": key[2], "source": source,
                     "confirmations": 1, "created_at": now, "updated_at": now} for key, p in batch]
            returned = session.execute(statement, rows).all()
            inserted = {(r.text_key, r.lat, r.lon) for r in returned}
            new += [p for key, p in batch if key in inserted]
            if progress:
                progress("Storing", min(start + INSERT_BATCH, len(items)), len(items))
    return new


def stored_points(*, session: Session) -> list[AddressPoint]:
    """Every stored point that is not suspended, oldest first."""
    from geodata.address_points import AddressPoint

    rows = session.exec(select(AddressPointRecord.text, AddressPointRecord.lat, AddressPointRecord.lon,
                               AddressPointRecord.source)
                        .where(col(AddressPointRecord.suspended_at).is_(None))
                        .order_by(col(AddressPointRecord.id))).all()
    return [AddressPoint(text=t, lat=lat, lon=lon, source=s) for t, lat, lon, s in rows]


# ------------------------------------------------------------------------------------------- field
def record_fix(*, session: Session, technician_id: int, lat: float, lon: float, accuracy_m: float,
               at: datetime) -> None:
    """Keep the technician's latest fix that carried an accuracy (m); an older one arriving late changes nothing.
    One statement (an upsert)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(TechnicianFix).values(technician_id=technician_id, lat=lat, lon=lon, accuracy_m=accuracy_m,
                                             at=as_utc(at))
    session.execute(statement.on_conflict_do_update(
        index_elements=["technician_id"],
        set_={"lat": statement.excluded.lat, "lon": statement.excluded.lon,
              "accuracy_m": statement.excluded.accuracy_m, "at": statement.excluded.at},
        where=col(TechnicianFix.at) <= statement.excluded.at))


@dataclass(frozen=True)
class FieldConfirmation:
    """What a completed job taught: ``outcome`` is learned, confirmed, suspended (this one disagreed with the
    point learned before), ignored (the address is suspended) or refused; ``reason`` says why."""

    outcome: str
    reason: str
    point_id: int | None = None
    distance_m: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reason": self.reason, "point_id": self.point_id,
                "distance_m": None if self.distance_m is None else round(self.distance_m, 1)}


def _refused(reason: str, distance: float | None = None) -> FieldConfirmation:
    return FieldConfirmation("refused", reason, None, distance)


def confirm_from_completion(*, session: Session, job: Job, completed_at: datetime,
                            city: City | None = None) -> FieldConfirmation:
    """Learn the job's address point from the technician's fix when the rules of this module hold (the caller
    commits); ``city``, when given, checks the fix is inside its map. Never raises for a refusal: a job is
    completed whether or not it teaches anything."""
    from server.jobs.models import JobEvent  # dispatch calls this module: imported here, not at the top

    kind = job.location_kind or "none"
    if kind not in FIELD_KINDS:
        return _refused(f"the job's place came from '{kind}', not from a written address")
    text = " ".join((job.address or "").split())
    if not text:
        return _refused("the job has no address text")
    if job.assigned_technician_id is None:
        return _refused("no technician is assigned to the job")
    fix = session.get(TechnicianFix, job.assigned_technician_id)
    if fix is None:
        return _refused("the technician's app sent no GPS fix with an accuracy")
    if fix.accuracy_m > FIX_MAX_ACCURACY_M:
        return _refused(f"the last fix is only accurate to {fix.accuracy_m:.0f} m (needs ≤ {FIX_MAX_ACCURACY_M:.0f})")
    completed_at, fix_at = as_utc(completed_at), as_utc(fix.at)
    slack = timedelta(seconds=FIX_CLOCK_SLACK_S)
    if fix_at > completed_at + slack:
        return _refused("the last fix was taken after the completion (the technician may have left)")
    if completed_at - fix_at > timedelta(seconds=FIX_MAX_AGE_S):
        minutes = (completed_at - fix_at).total_seconds() / 60
        return _refused(f"the last fix is {minutes:.0f} min older than the completion (needs ≤ "
                        f"{FIX_MAX_AGE_S / 60:.0f})")
    arrived = session.exec(select(JobEvent.at).where(JobEvent.job_id == job.id, JobEvent.status == "on_site")
                           .order_by(col(JobEvent.at).desc())).first()
    if arrived is None or fix_at < as_utc(arrived) - slack:
        return _refused("the last fix was taken before the technician marked themselves on site")
    away = distance_m(fix.lat, fix.lon, job.lat, job.lon)
    if away > AGREE_RADIUS_M:
        return _refused(f"the technician's fix is {away:.0f} m from the job's location (needs ≤ "
                        f"{AGREE_RADIUS_M:.0f}): our point may be wrong, so it is not confirmed", away)
    if city is not None and not city.network.contains(fix.lat, fix.lon):
        return _refused("the technician's fix is outside the city's map", away)
    with session.begin_nested():
        outcome = _learn(session, text, fix, job)
    return FieldConfirmation(outcome.outcome, outcome.reason, outcome.point_id, away)


def _learn(session: Session, text: str, fix: TechnicianFix, job: Job) -> FieldConfirmation:
    key = text_key(text)
    point = session.exec(select(AddressPointRecord).where(AddressPointRecord.text_key == key,
                                                          AddressPointRecord.source == FIELD_SOURCE)
                         .with_for_update()).first()
    now = utcnow()
    if point is None:
        point = AddressPointRecord(text=text[:300], text_key=key, lat=round(fix.lat, 7), lon=round(fix.lon, 7),
                                   source=FIELD_SOURCE, created_at=now, updated_at=now)
        session.add(point)
        session.flush()
        return FieldConfirmation("learned", f"'{text}' learned from job {job.id}", point.id)
    if point.suspended_at is not None:
        return FieldConfirmation("ignored", f"'{text}' is suspended ({point.suspended_reason}); a person decides",
                                 point.id)
    apart = distance_m(point.lat, point.lon, fix.lat, fix.lon)
    if apart > AGREE_RADIUS_M:
        point.suspended_at = now
        point.suspended_reason = (f"job {job.id} confirmed it {apart:.0f} m from the point learned before "
                                  f"({point.confirmations} confirmation(s))")[:300]
        point.updated_at = now
        session.add(point)
        session.flush()
        return FieldConfirmation("suspended", point.suspended_reason, point.id)
    n = point.confirmations
    point.lat = round((point.lat * n + fix.lat) / (n + 1), 7)
    point.lon = round((point.lon * n + fix.lon) / (n + 1), 7)
    point.confirmations = n + 1
    point.updated_at = now
    session.add(point)
    session.flush()
    return FieldConfirmation("confirmed", f"'{text}' confirmed {apart:.0f} m from the point learned before "
                                          f"({n + 1} confirmations)", point.id)


def apply_stored_points(*, engine: Engine, city: City) -> int:
    """Teach every stored, not suspended point to the city; how many were given. A database without the table
    (not migrated yet) gives none."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        with Session(engine) as session:
            points = stored_points(session=session)
    except (OperationalError, ProgrammingError) as exc:  # no address_point table yet, or no database
        log.info("no stored address points applied: %s", str(exc.orig).strip().splitlines()[0] if exc.orig else exc)
        return 0
    teach(city=city, points=points)
    return len(points)
