"""Technician records: create, read, change, and live position."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy import func
from sqlmodel import Session, col, select

from server.audit import service as audit
from server.auth.models import User
from server.core.errors import NotFound, invalid_from, refuse_nulls
from server.core.pagination import PageParams, paginate_rows
from server.jobs.models import OPEN_STATUSES, Job
from server.technicians import models
from server.technicians.models import DayShift, Technician, TechnicianAbsence, TechnicianCreate, TechnicianUpdate

if TYPE_CHECKING:
    from pathlib import Path


def get(*, session: Session, technician_id: int) -> Technician:
    """The technician, or NotFound."""
    tech = session.get(Technician, technician_id)
    if tech is None:
        raise NotFound(f"technician {technician_id} not found")
    return tech


def list_technicians(
    *, session: Session, page: PageParams, only_id: int | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Technicians in id order (optionally just one, for a technician reading their own record)."""
    query = select(Technician).order_by(col(Technician.id))
    if only_id is not None:
        query = query.where(Technician.id == only_id)
    return paginate_rows(session, query, page)


def create(*, session: Session, tech_in: TechnicianCreate, actor: User | None) -> Technician:
    """Add a technician."""
    tech = Technician.model_validate(tech_in)
    session.add(tech)
    session.flush()
    audit.record(
        session=session, action="create", entity="technician", entity_id=tech.id,
        actor_user_id=actor.id if actor else None, actor=actor.username if actor else "system",
        detail={"name": tech.name},
    )
    return tech


def update(*, session: Session, tech: Technician, tech_in: TechnicianUpdate, actor: User) -> Technician:
    """Change a technician; the merged record is validated as a whole (shift order, breaks)."""
    data = tech_in.model_dump(exclude_unset=True)
    refuse_nulls(data, TechnicianCreate)
    try:
        merged = TechnicianCreate.model_validate({**tech.model_dump(), **data})
    except ValidationError as exc:  # the change makes the record as a whole invalid (e.g. shift order)
        raise invalid_from(exc) from None
    for key in data:
        setattr(tech, key, getattr(merged, key))
    session.add(tech)
    audit.record(
        session=session, action="update", entity="technician", entity_id=tech.id,
        actor_user_id=actor.id, actor=actor.username, detail={"fields": sorted(data)},
    )
    return tech


def all_technicians(*, session: Session) -> list[Technician]:
    """Every technician, in id order."""
    return list(session.exec(select(Technician).order_by(col(Technician.id))).all())


def by_name(*, session: Session, name: str) -> Technician | None:
    """The technician with this name (case and surrounding spaces ignored), or None."""
    key = name.strip().lower()
    return session.exec(select(Technician).where(func.lower(func.trim(Technician.name)) == key)
                        .order_by(col(Technician.id))).first()


def add_many(
    *, session: Session, technicians: list[TechnicianCreate], actor: User | None
) -> tuple[list[Technician], list[Technician]]:
    """Add each technician whose name is not stored yet: (created, already stored and left unchanged). The caller
    commits once, so a roster is stored whole or not at all."""
    created, existing = [], []
    for tech_in in technicians:
        found = by_name(session=session, name=tech_in.name)
        if found is not None:
            existing.append(found)
        else:
            created.append(create(session=session, tech_in=tech_in, actor=actor))
    return created, existing


@dataclass
class SkillCoverage:
    """One skill: the services (taxonomy categories) whose jobs need it, who has it, and open jobs needing it."""

    skill: str
    services: list[str] = field(default_factory=list)  # "pothole (Pothole or road surface damage)"
    technicians: dict[int, int] = field(default_factory=dict)  # level → how many technicians have exactly it
    on_shift: int = 0  # of them, currently on shift (availability)
    open_jobs: int = 0

    @property
    def technician_count(self) -> int:
        return sum(self.technicians.values())

    def as_dict(self) -> dict[str, Any]:
        return {"skill": self.skill, "services": self.services, "technicians": self.technician_count,
                "on_shift": self.on_shift, "by_level": {str(k): v for k, v in sorted(self.technicians.items())},
                "open_jobs": self.open_jobs}


class Service(NamedTuple):
    """A field-work service of the catalogue and the skill its jobs need."""

    name: str
    label: str
    skill: str


def _categories(path: Path | None) -> list[Any]:
    """The raw ``[[category]]`` tables of the taxonomy at ``path`` (default: the shipped one); ValueError naming the
    file when it is not valid TOML."""
    from server.triage.service import DEFAULT_TAXONOMY

    source = path or DEFAULT_TAXONOMY
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source}: not valid TOML: {exc}") from None
    return list(data.get("category") or [])


class CatalogueEntry(NamedTuple):
    """One service of the catalogue as an administrator reads it (durations in minutes, SLA in hours)."""

    name: str
    label: str
    service_code: str
    group: str
    skill: str  # "" when no field work
    duration_min: int
    priority: int
    sla_hours: float
    field_work: bool
    customer_present: bool
    description: str


def service_catalogue(*, path: Path | None) -> list[CatalogueEntry]:
    """Every service of the taxonomy at ``path``, field work or not, in file order (read from the TOML, without
    loading the triage classifier); ValueError naming the file when it cannot be read as a catalogue."""
    out = []
    for raw in _categories(path):
        if not isinstance(raw, dict):
            continue
        field_work = bool(raw.get("field_work", True))
        out.append(CatalogueEntry(
            name=str(raw.get("name", "?")).strip().lower(), label=str(raw.get("label") or raw.get("name", "?")),
            service_code=str(raw.get("service_code", "")), group=str(raw.get("group", "")),
            skill=str(raw.get("skill", "")).strip().lower() if field_work else "",
            duration_min=int(raw.get("duration_min", 0) or 0), priority=int(raw.get("priority", 0) or 0),
            sla_hours=float(raw.get("sla_hours", 0) or 0), field_work=field_work,
            customer_present=bool(raw.get("customer_present", False)),
            description=str(raw.get("description", ""))))
    return out


def catalogue(*, path: Path | None) -> list[Service]:
    """The field-work services of the triage taxonomy at ``path`` (default: the shipped one) with their skills.

    Read straight from the TOML (the fields as the triage loader reads them), without training the triage
    classifier that loading the taxonomy implies; ValueError naming the file when it is not valid TOML."""
    services = []
    for raw in _categories(path):
        if not isinstance(raw, dict) or not bool(raw.get("field_work", True)):
            continue
        skill = str(raw.get("skill", "")).strip().lower()
        name = str(raw.get("name", "?")).strip().lower()
        if skill:
            services.append(Service(name=name, label=str(raw.get("label") or name), skill=skill))
    return services


def skill_coverage(*, session: Session, services: list[Service]) -> list[SkillCoverage]:
    """Every skill a catalogue service or an open job needs, or a technician has: needed skills first (by name),
    then skills nothing needs."""
    rows: dict[str, SkillCoverage] = {}

    def row(skill: str) -> SkillCoverage:
        return rows.setdefault(skill, SkillCoverage(skill=skill))

    for service in services:
        row(service.skill).services.append(f"{service.name} ({service.label})")
    for tech in all_technicians(session=session):
        for skill, level in (tech.skills or {}).items():
            entry = row(skill)
            entry.technicians[int(level)] = entry.technicians.get(int(level), 0) + 1
            entry.on_shift += tech.availability == "on_shift"
    for needs in session.exec(select(Job.required_skills).where(col(Job.status).in_(list(OPEN_STATUSES)))).all():
        for skill in needs or {}:
            row(skill).open_jobs += 1
    return sorted(rows.values(), key=lambda r: (not r.services and not r.open_jobs, r.skill))


def unknown_skills(*, session: Session, services: list[Service], names: list[str]) -> tuple[list[str], list[str]]:
    """Of ``names`` (lower case), those neither a catalogue service needs nor any technician has (a typo, or a skill
    nobody set up), and the known skills to choose from instead, sorted. A job needing an unknown skill could never
    be planned, so an edit that adds one is refused rather than left to sit unassignable."""
    known = {s.skill for s in services if s.skill}
    for tech in all_technicians(session=session):
        known.update(tech.skills or {})
    return [n for n in names if n not in known], sorted(known)


def absences(*, session: Session, technician_id: int | None = None, between: tuple[date, date] | None = None
             ) -> list[TechnicianAbsence]:
    """Absences (of one technician, or everyone's), those overlapping ``between`` (inclusive dates) when given."""
    query = select(TechnicianAbsence).order_by(col(TechnicianAbsence.first_day), col(TechnicianAbsence.id))
    if technician_id is not None:
        query = query.where(TechnicianAbsence.technician_id == technician_id)
    if between is not None:
        query = query.where(col(TechnicianAbsence.last_day) >= between[0],
                            col(TechnicianAbsence.first_day) <= between[1])
    return list(session.exec(query).all())


def absent_on(*, session: Session, day: date) -> set[int]:
    """Ids of the technicians absent on ``day`` (a local date)."""
    return {a.technician_id for a in absences(session=session, between=(day, day))}


def shift_on(*, tech: Technician, day: date) -> DayShift | None:
    """This technician's shift on ``day`` (local date: start, end, the break rules that fit) or None when their
    weekly pattern has that weekday off. The one place a day's hours are read (today's plan, the horizon, later-day
    appointment offers); availability and recorded absences are the callers' filters."""
    return models.shift_on(tech, day)
