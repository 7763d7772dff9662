"""Technician records: create, read, change, and live position."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from server.audit import service as audit
from server.auth.models import User
from server.core.errors import NotFound, invalid_from, refuse_nulls
from server.core.pagination import PageParams, paginate_rows
from server.technicians.models import Technician, TechnicianCreate, TechnicianUpdate


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
