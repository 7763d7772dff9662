"""Customer merges (reversible, with exactly what moved) and merge suggestions an agent confirms."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from server.core.models import enum_field, json_field, utc_field


class CustomerMerge(SQLModel, table=True):
    """One merge of ``merged_id`` into ``survivor_id``; ``moved`` lists every row id that changed owner
    (identities, conversations, messages, cases, job reports) and ``filled`` the profile fields copied, so an
    unmerge restores both histories exactly."""

    __tablename__ = "customer_merge"

    id: int | None = Field(default=None, primary_key=True)
    survivor_id: int = Field(foreign_key="customer.id", index=True)
    merged_id: int = Field(foreign_key="customer.id", index=True)
    reason: str = Field(default="", max_length=300)
    automatic: bool = False
    moved: dict[str, Any] = json_field()
    filled: dict[str, Any] = json_field()
    actor: str = Field(default="system", max_length=100)
    created_at: datetime = utc_field(default_now=True)
    undone_at: datetime | None = utc_field()
    undone_by: str | None = Field(default=None, max_length=100)


class CustomerMergePublic(SQLModel):
    id: int
    survivor_id: int
    merged_id: int
    reason: str
    automatic: bool
    moved: dict[str, Any]
    filled: dict[str, Any]
    actor: str
    created_at: datetime
    undone_at: datetime | None


class SuggestionStatus(StrEnum):
    pending = "pending"
    confirmed = "confirmed"
    rejected = "rejected"


class MergeSuggestion(SQLModel, table=True):
    """Two customers who may be the same person (similar names, same address, a mention of the other's handle)."""

    __tablename__ = "merge_suggestion"
    __table_args__ = (UniqueConstraint("customer_a_id", "customer_b_id", name="uq_merge_suggestion_pair"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_a_id: int = Field(foreign_key="customer.id", index=True)
    customer_b_id: int = Field(foreign_key="customer.id", index=True)
    reasons: list[str] = json_field(list)
    score: float = 0.0
    status: SuggestionStatus = enum_field(SuggestionStatus.pending, index=True)
    merge_id: int | None = Field(default=None, foreign_key="customer_merge.id")
    decided_by: str | None = Field(default=None, max_length=100)
    created_at: datetime = utc_field(default_now=True)
    decided_at: datetime | None = utc_field()


class MergeSuggestionPublic(SQLModel):
    id: int
    customer_a_id: int
    customer_b_id: int
    reasons: list[str]
    score: float
    status: SuggestionStatus
    merge_id: int | None
    created_at: datetime
    decided_at: datetime | None


class MergeRequest(SQLModel):
    other_id: int = Field(ge=1, description="The customer merged into this one (it keeps its id for unmerge).")
    reason: str = Field(default="", max_length=300)
