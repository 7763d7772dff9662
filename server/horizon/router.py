"""Horizon API: the tentative plan of the working days after today, and asking for a new one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request, status
from sqlmodel import Session

from server.core.city import CityDep
from server.core.deps import CurrentUser, DispatcherUser, SessionDep, SettingsDep, StaffUser
from server.core.errors import NotFound
from server.core.routing import FeatureRouter
from server.core.tasks import run_in_background
from server.horizon import service
from server.horizon.models import HorizonPublic, HorizonVisitPublic


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run this process's daily roll-over (``horizon_roll_at``) when the city is loaded here."""
    settings = app.state.settings
    roller = None
    if settings.dispatch_background and settings.load_city and settings.horizon_roll_at and settings.horizon_days:
        roller = service.RollOver(app.state.engine, settings)
        roller.start()
    try:
        yield
    finally:
        if roller is not None:
            roller.close()


router = FeatureRouter(prefix="/horizon", tags=["horizon"], lifespan=lifespan)


@router.get("", response_model=HorizonPublic, summary="The current horizon plan (working days after today, tentative)")
def get_horizon(session: SessionDep, settings: SettingsDep, _: StaffUser) -> HorizonPublic:
    """With ``shifts``: each technician's hours today and on the run's days from today on (the board draws them)."""
    horizon = service.current(session=session)
    horizon.shifts = service.shifts(session=session, settings=settings, run_days=horizon.days)
    return horizon


@router.get("/mine", response_model=list[HorizonVisitPublic],
            summary="My coming working days (a technician's tentative visits, in order)")
def my_horizon(session: SessionDep, user: CurrentUser) -> list[HorizonVisitPublic]:
    """What the technician can expect after today: the plan may still change, and jobs are assigned on the day."""
    if user.technician_id is None:
        raise NotFound("this account is not linked to a technician")
    return [v for v in service.current(session=session).visits if v.technician_id == user.technician_id]


@router.post("", status_code=status.HTTP_202_ACCEPTED, summary="Plan the horizon now (dispatcher)")
def plan_now(request: Request, settings: SettingsDep, city: CityDep, _: DispatcherUser,
             time_limit_s: Annotated[float, Query(gt=0, le=120, description="Optimizer seconds")] = 10.0,
             ) -> dict[str, Any]:
    """Plans on a side thread (never in the request); ``GET /horizon`` shows the new run when it is stored. The daily
    roll-over runs by itself at ``horizon_roll_at`` (or ``groundcrew horizon plan`` from cron)."""
    engine = request.app.state.engine

    def work() -> None:
        with Session(engine) as session:
            service.plan_horizon(session=session, settings=settings, city=city, time_limit_s=time_limit_s,
                                 trigger="dispatcher")

    run_in_background(work)
    return {"status": "planning", "time_limit_s": time_limit_s}
