"""Horizon API: the tentative plan of the working days after today, and asking for a new one."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request, status
from sqlmodel import Session

from server.core.city import CityDep
from server.core.deps import DispatcherUser, SessionDep, SettingsDep, StaffUser
from server.core.routing import FeatureRouter
from server.core.tasks import run_in_background
from server.horizon import service
from server.horizon.models import HorizonPublic

router = FeatureRouter(prefix="/horizon", tags=["horizon"])


@router.get("", response_model=HorizonPublic, summary="The current horizon plan (working days after today, tentative)")
def get_horizon(session: SessionDep, _: StaffUser) -> HorizonPublic:
    return service.current(session=session)


@router.post("", status_code=status.HTTP_202_ACCEPTED, summary="Plan the horizon now (dispatcher)")
def plan_now(request: Request, settings: SettingsDep, city: CityDep, _: DispatcherUser,
             time_limit_s: Annotated[float, Query(gt=0, le=120, description="Optimizer seconds")] = 10.0,
             ) -> dict[str, Any]:
    """Plans on a side thread (never in the request); ``GET /horizon`` shows the new run when it is stored. The nightly
    roll-over runs ``groundcrew horizon plan``."""
    engine = request.app.state.engine

    def work() -> None:
        with Session(engine) as session:
            service.plan_horizon(session=session, settings=settings, city=city, time_limit_s=time_limit_s,
                                 trigger="dispatcher")

    run_in_background(work)
    return {"status": "planning", "time_limit_s": time_limit_s}
