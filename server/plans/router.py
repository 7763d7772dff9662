"""Plans API (read side; solving arrives with the dispatch feature)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlmodel import Session, col, select

from server.core.city import CityDep
from server.core.deps import CurrentUser, SessionDep, StaffUser
from server.core.errors import NotFound
from server.core.models import Page
from server.core.pagination import PageDep, paginate
from server.core.routing import FeatureRouter
from server.core.shared_reads import shared_read
from server.plans import service
from server.plans.models import Plan, PlanDetail, PlanPublic, PlanStatus, PlanStop

router = FeatureRouter(prefix="/plans", tags=["plans"])
routes_router = FeatureRouter()


def _detail(session: Session, plan: Plan) -> PlanDetail:
    stops = session.exec(
        select(PlanStop).where(PlanStop.plan_id == plan.id)
        .order_by(col(PlanStop.technician_id), col(PlanStop.sequence))
    ).all()
    return PlanDetail.model_validate({**plan.model_dump(), "stops": [s.model_dump() for s in stops]})


@router.get("", response_model=Page[PlanPublic], summary="Plan versions, newest first")
def list_plans(session: SessionDep, _: StaffUser, page: PageDep) -> Page[PlanPublic]:
    rows, total = paginate(session, select(Plan).order_by(col(Plan.version).desc()), page)
    return Page(items=rows, total=total, offset=page.offset, limit=page.limit)


@router.get("/current", response_model=PlanDetail, summary="The active plan with its stops")
async def current_plan(request: Request, _: StaffUser) -> PlanDetail:
    def read(session: Session) -> PlanDetail:
        plan = session.exec(
            select(Plan).where(Plan.status == PlanStatus.active).order_by(col(Plan.version).desc())
        ).first()
        if plan is None:
            raise NotFound("no plan yet: solve one first")
        return _detail(session, plan)

    # Every console reloads it after the same live event: identical waiting requests share one read.
    return await shared_read(request, ("plan-current",), read)


@router.get("/{plan_id}", response_model=PlanDetail, summary="One plan version with its stops")
def get_plan(plan_id: int, session: SessionDep, _: StaffUser) -> PlanDetail:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id} not found")
    return _detail(session, plan)


@routes_router.get("/technicians/me/route", summary="My day: ordered stops, ETAs, the route on the streets",
            tags=["technicians"])
def my_route(session: SessionDep, city: CityDep, user: CurrentUser) -> dict[str, Any]:
    if user.technician_id is None:
        raise NotFound("this account is not linked to a technician")
    return service.technician_route(session=session, city=city, technician_id=user.technician_id)


@routes_router.get("/technicians/{technician_id}/route", summary="A technician's day from the active plan",
            tags=["technicians"])
def technician_route(technician_id: int, session: SessionDep, city: CityDep, _: StaffUser) -> dict[str, Any]:
    return service.technician_route(session=session, city=city, technician_id=technician_id)
