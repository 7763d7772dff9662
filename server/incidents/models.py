"""Proactive notices: at most one per (incident job, customer). (The "notify every reporter when a job closes" hook
is server/notify/job_closed.py, installed with server/notify/models.py.)"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from server.core.models import utc_field


class ProactiveNotice(SQLModel, table=True):
    __tablename__ = "proactive_notice"
    __table_args__ = (UniqueConstraint("job_id", "customer_id", name="uq_proactive_notice_job_customer"),)

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="job.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    channel: str = Field(max_length=32)
    sent_by: str = Field(default="system", max_length=100)
    created_at: datetime = utc_field(default_now=True)


class ProactiveNoticePublic(SQLModel):
    id: int
    job_id: int
    customer_id: int
    message_id: int | None
    channel: str
    created_at: datetime


class AffectedCustomer(SQLModel):
    customer_id: int
    display_name: str
    address: str | None
    distance_m: float
    preferred_channel: str | None
    channel: str | None
    already_notified: bool


class ProactiveRequest(SQLModel):
    customer_ids: list[int] | None = Field(default=None, max_length=1000,
                                           description="Default: every affected customer not yet notified.")
    text: str | None = Field(default=None, max_length=2000)


class HandoffRequest(SQLModel):
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    address: str | None = Field(default=None, max_length=300)

