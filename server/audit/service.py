"""Writing audit entries; they join the caller's transaction so they land with the change."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, func, select

from server.audit.models import AuditEntry


def record(
    *,
    session: Session,
    action: str,
    entity: str,
    entity_id: object,
    actor_user_id: int | None = None,
    actor: str = "system",
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add one audit entry to the current transaction."""
    entry = AuditEntry(
        action=action, entity=entity, entity_id=str(entity_id), actor_user_id=actor_user_id,
        actor=actor, detail=detail or {},
    )
    session.add(entry)
    return entry


def list_entries(
    *, session: Session, entity: str | None, entity_id: str | None, offset: int, limit: int
) -> tuple[list[AuditEntry], int]:
    """Audit entries, newest first, optionally for one entity."""
    query = select(AuditEntry)
    if entity:
        query = query.where(AuditEntry.entity == entity)
    if entity_id:
        query = query.where(AuditEntry.entity_id == entity_id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(col(AuditEntry.id).desc()).offset(offset).limit(limit)).all()
    return list(rows), total
