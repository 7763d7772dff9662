"""Audit log API (admin only, read only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from server.audit import service
from server.audit.models import AuditEntryPublic
from server.core.deps import AdminUser, SessionDep
from server.core.models import Page
from server.core.pagination import PageDep
from server.core.routing import FeatureRouter

router = FeatureRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=Page[AuditEntryPublic], summary="Audit entries, newest first")
def list_audit(
    session: SessionDep, _: AdminUser, page: PageDep,
    entity: Annotated[str | None, Query(max_length=60)] = None,
    entity_id: Annotated[str | None, Query(max_length=60)] = None,
) -> Page[AuditEntryPublic]:
    rows, total = service.list_entries(
        session=session, entity=entity, entity_id=entity_id, offset=page.offset, limit=page.limit
    )
    return Page(items=rows, total=total, offset=page.offset, limit=page.limit)
