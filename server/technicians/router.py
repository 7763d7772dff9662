"""Technicians API. A technician may read only their own record."""

from __future__ import annotations

from fastapi import Request, status
from fastapi.responses import Response
from sqlmodel import Session

from server.audit import service as audit
from server.auth.access import is_technician
from server.core.deps import CurrentUser, DispatcherUser, SessionDep, SettingsDep, StaffUser
from server.core.errors import NotFound, Unavailable
from server.core.models import Page
from server.core.pagination import PageDep, page_response
from server.core.routing import FeatureRouter
from server.core.shared_reads import shared_read
from server.technicians import service
from server.technicians.models import (
    AbsenceCreate,
    AbsencePublic,
    CatalogueEntryPublic,
    SkillCoveragePublic,
    Technician,
    TechnicianAbsence,
    TechnicianCreate,
    TechnicianPublic,
    TechnicianUpdate,
)

router = FeatureRouter(prefix="/technicians", tags=["technicians"])


@router.get("", response_model=Page[TechnicianPublic], summary="List technicians")
async def list_technicians(request: Request, user: CurrentUser, page: PageDep) -> Response:
    only = (user.technician_id if user.technician_id is not None else -1) if is_technician(user) else None

    def read(session: Session) -> Response:
        rows, total = service.list_technicians(session=session, page=page, only_id=only)
        return page_response(TechnicianPublic, rows, total, page)

    return await shared_read(request, ("technicians", page.offset, page.limit, only), read)


@router.post("", response_model=TechnicianPublic, status_code=status.HTTP_201_CREATED, summary="Add a technician")
def create_technician(tech_in: TechnicianCreate, session: SessionDep, user: DispatcherUser) -> Technician:
    tech = service.create(session=session, tech_in=tech_in, actor=user)
    session.commit()
    session.refresh(tech)
    return tech


@router.get("/skills", response_model=list[SkillCoveragePublic],
            summary="Skills the service catalogue needs and who has them (the skills to choose from)")
def list_skills(session: SessionDep, settings: SettingsDep, _: StaffUser) -> list[dict[str, object]]:
    """Needed skills first; a skill only technicians have (no service needs it) comes last."""
    try:
        services = service.catalogue(path=settings.taxonomy_path)
    except (OSError, ValueError) as exc:
        raise Unavailable(f"taxonomy_path: the service catalogue cannot be read ({exc})") from None
    return [c.as_dict() for c in service.skill_coverage(session=session, services=services)]


@router.get("/catalogue", response_model=list[CatalogueEntryPublic],
            summary="The loaded service catalogue: each service, its skill, duration, SLA, field work or not")
def service_catalogue(settings: SettingsDep, _: StaffUser) -> list[dict[str, object]]:
    try:
        entries = service.service_catalogue(path=settings.taxonomy_path)
    except (OSError, ValueError) as exc:
        raise Unavailable(f"taxonomy_path: the service catalogue cannot be read ({exc})") from None
    return [e._asdict() for e in entries]


@router.get("/{technician_id}", response_model=TechnicianPublic, summary="One technician")
def get_technician(technician_id: int, session: SessionDep, user: CurrentUser) -> Technician:
    if is_technician(user) and user.technician_id != technician_id:
        raise NotFound(f"technician {technician_id} not found")
    return service.get(session=session, technician_id=technician_id)


@router.patch("/{technician_id}", response_model=TechnicianPublic, summary="Change a technician")
def update_technician(
    technician_id: int, tech_in: TechnicianUpdate, session: SessionDep, user: DispatcherUser
) -> Technician:
    tech = service.get(session=session, technician_id=technician_id)
    service.update(session=session, tech=tech, tech_in=tech_in, actor=user)
    session.commit()
    session.refresh(tech)
    return tech


@router.get("/{technician_id}/absences", response_model=list[AbsencePublic], summary="A technician's absences")
def list_absences(technician_id: int, session: SessionDep, _: StaffUser) -> list[TechnicianAbsence]:
    service.get(session=session, technician_id=technician_id)
    return service.absences(session=session, technician_id=technician_id)


@router.post("/{technician_id}/absences", response_model=AbsencePublic, status_code=status.HTTP_201_CREATED,
             summary="Record days a technician does not work (dispatcher); plans leave them out")
def add_absence(technician_id: int, body: AbsenceCreate, session: SessionDep, user: DispatcherUser
                ) -> TechnicianAbsence:
    service.get(session=session, technician_id=technician_id)
    absence = TechnicianAbsence(technician_id=technician_id, **body.model_dump())
    session.add(absence)
    audit.record(session=session, actor_user_id=user.id, actor=user.username, action="technician.absence_added",
                 entity="technician", entity_id=technician_id, detail=body.model_dump(mode="json"))
    session.commit()
    session.refresh(absence)
    return absence


@router.delete("/{technician_id}/absences/{absence_id}", status_code=status.HTTP_204_NO_CONTENT,
               summary="Remove a recorded absence (dispatcher)")
def remove_absence(technician_id: int, absence_id: int, session: SessionDep, user: DispatcherUser) -> Response:
    absence = session.get(TechnicianAbsence, absence_id)
    if absence is None or absence.technician_id != technician_id:
        raise NotFound(f"absence {absence_id} of technician {technician_id} not found")
    session.delete(absence)
    audit.record(session=session, actor_user_id=user.id, actor=user.username, action="technician.absence_removed",
                 entity="technician", entity_id=technician_id,
                 detail={"first_day": str(absence.first_day), "last_day": str(absence.last_day)})
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
