"""Offset/limit pagination shared by every list endpoint."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlmodel import Session, func, select
from sqlmodel.sql.expression import SelectOfScalar

T = TypeVar("T")


class PageParams(BaseModel):
    offset: int
    limit: int


async def page_params(
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500, description="Items per page (1..500).")] = 50,
) -> PageParams:
    return PageParams(offset=offset, limit=limit)


PageDep = Annotated[PageParams, Depends(page_params)]


def paginate(session: Session, query: SelectOfScalar[Any], page: PageParams) -> tuple[list[Any], int]:
    """The page of rows for ``query`` (already ordered) and the total count."""
    total = session.exec(select(func.count()).select_from(query.order_by(None).subquery())).one()
    rows = session.exec(query.offset(page.offset).limit(page.limit)).all()
    return list(rows), int(total)
