"""What a technician may see: only their own jobs and the customers who reported those jobs."""

from __future__ import annotations

from sqlmodel import Session, select

from server.auth.models import Role, User
from server.core.errors import Forbidden, NotFound
from server.jobs.models import Job, JobPublic, JobReport


def is_technician(user: User) -> bool:
    return user.role == Role.technician


def technician_customer_ids(*, session: Session, user: User) -> set[int]:
    """Customers linked to any job assigned to this technician user."""
    if user.technician_id is None:
        return set()
    rows = session.exec(
        select(JobReport.customer_id)
        .join(Job, Job.id == JobReport.job_id)  # type: ignore[arg-type]
        .where(Job.assigned_technician_id == user.technician_id)
    ).all()
    return {r for r in rows if r is not None}


def ensure_job_visible(*, user: User, job: Job | JobPublic) -> None:
    """Technicians get 404 for jobs that are not theirs (existence is not revealed)."""
    ensure_assignment_visible(user=user, job_id=job.id or 0, assigned_technician_id=job.assigned_technician_id)


def ensure_assignment_visible(*, user: User, job_id: int, assigned_technician_id: int | None) -> None:
    """``ensure_job_visible`` for a job known by its id and whom it is assigned to."""
    if is_technician(user) and (user.technician_id is None or assigned_technician_id != user.technician_id):
        raise NotFound(f"job {job_id} not found")


def ensure_customer_visible(*, session: Session, user: User, customer_id: int) -> None:
    """Technicians may read a customer only when that customer reported one of their jobs."""
    if is_technician(user) and customer_id not in technician_customer_ids(session=session, user=user):
        raise Forbidden(f"customer {customer_id} is not linked to any of your jobs")
