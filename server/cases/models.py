"""Cases: an online conversation that may need field work, with its triage and geotag."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlmodel import Field, SQLModel

from server.core.models import enum_field, json_field, utc_field


class CaseStatus(StrEnum):
    open = "open"
    needs_location = "needs_location"
    handed_off = "handed_off"
    closed = "closed"


class CaseBase(SQLModel):
    category: str | None = Field(default=None, max_length=60, index=True)
    priority: int = Field(default=5, ge=1, le=10)
    sla_due_at: datetime | None = utc_field()
    needs_field_work: bool = False
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    location_text: str | None = Field(default=None, max_length=300)


class CaseCreate(CaseBase):
    conversation_id: int


class CaseUpdate(SQLModel):
    category: str | None = Field(default=None, max_length=60)
    priority: int | None = Field(default=None, ge=1, le=10)
    status: CaseStatus | None = None
    needs_field_work: bool | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class Case(CaseBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    status: CaseStatus = enum_field(CaseStatus.open, index=True)
    category_confidence: float | None = None
    sentiment: float | None = None
    urgency: float | None = None
    triage: dict[str, Any] = json_field()
    geotag: dict[str, Any] = json_field()
    job_id: int | None = Field(default=None, foreign_key="job.id", index=True)
    created_at: datetime = utc_field(default_now=True, index=True)
    updated_at: datetime = utc_field(default_now=True)


class CasePublic(CaseBase):
    id: int
    conversation_id: int
    customer_id: int
    status: CaseStatus
    category_confidence: float | None
    sentiment: float | None
    urgency: float | None
    triage: dict[str, Any]
    geotag: dict[str, Any]
    job_id: int | None
    created_at: datetime
    updated_at: datetime
