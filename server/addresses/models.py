"""Address points the deployment knows (imported files, locations confirmed in the field) and each technician's
last GPS fix that carried an accuracy (the evidence for a field confirmation)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from server.core.models import utc_field


class AddressPointRecord(SQLModel, table=True):
    """One known address point. ``text_key`` (casefolded, spacing and punctuation evened out) with the point is
    unique, so importing the same file again adds nothing. A suspended point (two field confirmations of the same
    address more than the agreement radius apart) is kept for a person to look at but taught to no city."""

    __tablename__ = "address_point"
    __table_args__ = (UniqueConstraint("text_key", "lat", "lon", name="uq_address_point_text_key_point"),)

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(max_length=300)
    text_key: str = Field(max_length=300, index=True)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    source: str = Field(max_length=60, index=True)
    confirmations: int = Field(default=1, ge=1, description="Field confirmations averaged into the point.")
    suspended_at: datetime | None = utc_field()
    suspended_reason: str | None = Field(default=None, max_length=300)
    created_at: datetime = utc_field(default_now=True)
    updated_at: datetime = utc_field(default_now=True)


class TechnicianFix(SQLModel, table=True):
    """A technician's latest GPS fix that came with its accuracy (m). Kept apart from ``Technician.current_lat``,
    which the 'on site' step sets to the job's own location: that is not evidence of where anyone was."""

    __tablename__ = "technician_fix"

    technician_id: int = Field(foreign_key="technician.id", primary_key=True)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    accuracy_m: float = Field(ge=0)
    at: datetime = utc_field(nullable=False)
