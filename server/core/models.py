"""Column helpers and the generic page shape used by every list endpoint."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import JSON
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field

from server.core import fast_defaults
from server.core.timeutil import UTCDateTime, utcnow

fast_defaults.install()  # every model module imports this one: rows and pages are built without re-inspecting

T = TypeVar("T")


def utc_field(*, default_now: bool = False, nullable: bool = True, index: bool = False) -> Any:
    """An aware-UTC datetime column."""
    if default_now:
        return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=index)
    return Field(default=None, sa_type=UTCDateTime, nullable=nullable, index=index)


def json_field(default_factory: Any = dict) -> Any:
    """A JSON column (lists/dicts), portable across SQLite and PostgreSQL."""
    return Field(default_factory=default_factory, sa_type=JSON)


def enum_field(default: Any, *, index: bool = False, enum: type[StrEnum] | None = None) -> Any:
    """A string enum stored as plain VARCHAR (no database enum types to migrate), read back as the enum."""
    enum_cls = enum or type(default)
    sa_type = SAEnum(
        enum_cls, native_enum=False, create_constraint=False, length=32,
        values_callable=lambda members: [m.value for m in members],
    )
    return Field(default=default, sa_type=sa_type, index=index)


class Page(BaseModel, Generic[T]):
    """One page of a list: the items plus what is needed to fetch the next page."""

    items: list[T]
    total: int
    offset: int
    limit: int


class Message(BaseModel):
    detail: str


__all__ = ["Page", "datetime", "enum_field", "json_field", "utc_field"]
