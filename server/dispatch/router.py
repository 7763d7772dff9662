"""Dispatch operations API: solve jobs, dispatcher overrides with previews, and explanations. The technician's
steps in the field are server/fieldwork's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import FastAPI, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from server.core.city import CityDep
from server.core.deps import DispatcherUser, SessionDep, SettingsDep, StaffUser
from server.core.routing import FeatureRouter
from server.dispatch import control, service
from server.dispatch.models import (
    Override,
    OverridePreview,
    SolveJob,
    SolveJobPublic,
    SolveRequest,
)
from server.dispatch.runtime import after_commit


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start this process's dispatch watcher (new urgent jobs, morning plan) when the city is loaded here."""
    settings = app.state.settings
    watcher = None
    if settings.dispatch_background and settings.load_city:
        from server.dispatch.watcher import Watcher

        watcher = Watcher(app.state.engine, settings)
        watcher.start()
    try:
        yield
    finally:
        if watcher is not None:
            watcher.close()


router = FeatureRouter(tags=["dispatch"], lifespan=lifespan)


def _engine(request: Request):  # type: ignore[no-untyped-def]
    return request.app.state.engine


@router.post("/dispatch/solves", response_model=SolveJobPublic, status_code=status.HTTP_202_ACCEPTED,
             summary="Start solving a new plan (returns at once; poll GET for status and best-so-far)")
def start_solve(body: SolveRequest, session: SessionDep, settings: SettingsDep, user: DispatcherUser,
                request: Request, response: Response) -> SolveJob:
    job, _ = service.request_solve(session=session, engine=_engine(request), settings=settings,
                                   trigger=body.trigger, reason=f"{body.trigger} by {user.username}",
                                         time_limit_s=body.time_limit_s, requested_by=user.username, coalesce=False)
    response.headers["Location"] = f"/dispatch/solves/{job.id}"
    return job


@router.get("/dispatch/solves", response_model=list[SolveJobPublic], summary="Recent solve jobs")
def list_solves(session: SessionDep, _: StaffUser,
                limit: Annotated[int, Query(ge=1, le=200)] = 20) -> list[SolveJob]:
    return service.list_solves(session=session, limit=limit)


@router.get("/dispatch/solves/{solve_id}", response_model=SolveJobPublic, summary="A solve job: status, best so far")
def get_solve(solve_id: str, session: SessionDep, _: StaffUser) -> SolveJob:
    return service.get(session=session, solve_id=solve_id)


@router.delete("/dispatch/solves/{solve_id}", response_model=SolveJobPublic,
               summary="Stop a solve early (a running one keeps and stores its best plan so far)")
def stop_solve(solve_id: str, session: SessionDep, user: DispatcherUser) -> SolveJob:
    return service.cancel(session=session, solve_id=solve_id, actor=user)


@router.post("/dispatch/overrides/preview", response_model=OverridePreview,
             summary="What an assign/unassign/pin/reorder/lock would cost (added travel, SLA risk); changes nothing")
async def preview_override(body: Override, session: SessionDep, settings: SettingsDep, city: CityDep,
                           _: DispatcherUser) -> OverridePreview:
    def _run() -> OverridePreview:
        snapshot = control.preview_snapshot(session=session, settings=settings, city=city, override=body)
        return control.preview(snapshot=snapshot, override=body)[0]

    return await run_in_threadpool(_run)


@router.post("/dispatch/overrides/commit", summary="Make the override: a new plan version, then a coalesced re-plan")
async def commit_override(body: Override, session: SessionDep, settings: SettingsDep, city: CityDep,
                          user: DispatcherUser, request: Request) -> dict:
    def _run() -> dict:
        result, plan_id, events = control.commit(session=session, settings=settings, city=city, override=body,
                                                 user=user)
        session.commit()
        after_commit(engine=_engine(request), settings=settings, events=events)
        replan = service.request_replan(session=session, engine=_engine(request), settings=settings,
                                        trigger="override", reason=f"{body.action.value} by {user.username}")
        return {"preview": result.model_dump(mode="json"), "plan_id": plan_id,
                "replan_solve_id": replan[0].id if replan else None}

    return await run_in_threadpool(_run)


@router.get("/dispatch/jobs/{job_id}/explain",
            summary="Why this job is unassigned, or why it went to this technician (with the alternatives)")
async def explain(job_id: int, session: SessionDep, settings: SettingsDep, city: CityDep, _: StaffUser) -> dict:
    return await run_in_threadpool(control.explain, session=session, settings=settings, city=city, job_id=job_id)
