"""Cases API (online staff)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, status
from fastapi.responses import Response
from sqlmodel import Session

from server.cases import service
from server.cases.models import Case, CaseCreate, CasePublic, CaseStatus, CaseUpdate
from server.core.deps import AgentUser, SessionDep, StaffUser
from server.core.models import Page
from server.core.pagination import PageDep, page_response
from server.core.routing import FeatureRouter
from server.core.shared_reads import shared_read

router = FeatureRouter(prefix="/cases", tags=["cases"])


@router.get("", response_model=Page[CasePublic], summary="List cases, most urgent first")
async def list_cases(
    request: Request, _: StaffUser, page: PageDep,
    status_: Annotated[CaseStatus | None, Query(alias="status")] = None,
    customer_id: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    def read(session: Session) -> Response:
        rows, total = service.list_cases(session=session, page=page, status=status_, customer_id=customer_id)
        return page_response(CasePublic, rows, total, page)

    return await shared_read(request, ("cases", page.offset, page.limit, status_, customer_id), read)


@router.post("", response_model=CasePublic, status_code=status.HTTP_201_CREATED, summary="Open a case")
def create_case(case_in: CaseCreate, session: SessionDep, user: AgentUser) -> Case:
    case = service.create(session=session, case_in=case_in, actor=user)
    session.commit()
    session.refresh(case)
    return case


@router.get("/{case_id}", response_model=CasePublic, summary="One case")
def get_case(case_id: int, session: SessionDep, _: StaffUser) -> Case:
    return service.get(session=session, case_id=case_id)


@router.patch("/{case_id}", response_model=CasePublic, summary="Change a case")
def update_case(case_id: int, case_in: CaseUpdate, session: SessionDep, user: AgentUser) -> Case:
    case = service.get(session=session, case_id=case_id)
    service.update(session=session, case=case, case_in=case_in, actor=user)
    session.commit()
    session.refresh(case)
    return case
