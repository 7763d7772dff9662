"""The audit log: rows are only ever inserted (updates and deletes are refused by the ORM)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlmodel import Field, SQLModel

from server.core.models import json_field, utc_field


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = utc_field(default_now=True, index=True)
    actor_user_id: int | None = Field(default=None, index=True)
    actor: str = Field(default="system", max_length=120)
    action: str = Field(max_length=60, index=True)
    entity: str = Field(max_length=60, index=True)
    entity_id: str = Field(max_length=60, index=True)
    detail: dict[str, Any] = json_field()


class AuditEntryPublic(SQLModel):
    id: int
    at: datetime
    actor_user_id: int | None
    actor: str
    action: str
    entity: str
    entity_id: str
    detail: dict[str, Any]


class AuditLogIsAppendOnly(RuntimeError):
    pass


@event.listens_for(AuditEntry, "before_update")
def _refuse_update(*_args: object) -> None:
    raise AuditLogIsAppendOnly("the audit log is append-only; entries cannot be changed")


@event.listens_for(AuditEntry, "before_delete")
def _refuse_delete(*_args: object) -> None:
    raise AuditLogIsAppendOnly("the audit log is append-only; entries cannot be deleted")
