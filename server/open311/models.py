"""Open311 api keys: issued by admins, stored hashed, required to POST service requests."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from server.core.models import utc_field


class Open311KeyCreate(SQLModel):
    name: str = Field(min_length=1, max_length=120, description="Who the key is for (an app, a partner).")


class Open311Key(SQLModel, table=True):
    __tablename__ = "open311_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=12)
    created_by_user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = utc_field(default_now=True)
    revoked_at: datetime | None = utc_field()
    last_used_at: datetime | None = utc_field()


class Open311KeyPublic(SQLModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


class Open311KeyIssued(Open311KeyPublic):
    api_key: str = Field(description="Shown once: only its hash is kept.")
