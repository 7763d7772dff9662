"""When a job closes (completed or cancelled), every reporter is told on their own channel — here and nowhere else
(server/notify/job_notices.py sends arrival windows and "unable", never a second closing message).

This is a session hook rather than a call in one service so that it holds whoever closes the job (the
technician app, a dispatcher, a plan): ``after_flush`` notes jobs whose status just became closed, and
``after_flush_postexec`` queues one outbound message per reporting conversation (deduplicated, so a job
re-closed never notifies twice). The commit that closed the job writes the notices in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlmodel import Session, col, select

from server.conversations.models import AuthorKind, Conversation, DeliveryStatus, Direction, Message, Visibility
from server.core.timeutil import utcnow
from server.jobs.models import Job, JobReport, JobStatus

CLOSED = (JobStatus.completed, JobStatus.cancelled)
_KEY = "gc_closed_jobs"


def closing_text(job: Job) -> str:
    """What a reporter is told when the job closes."""
    where = f" at {job.address}" if job.address else ""
    if job.status == JobStatus.completed:
        return f"Update on your report: the {job.title.lower()}{where} has been fixed. Thank you for telling us."
    return f"Update on your report: the work order for the {job.title.lower()}{where} was closed. Reply if the " \
           "problem is still there."


def notice_key(job_id: int, conversation_id: int) -> str:
    return f"gc:job-closed:{job_id}:{conversation_id}"


@event.listens_for(Session, "after_flush")
def _note_closed_jobs(session: Session, _context: Any) -> None:
    for obj in session.dirty:
        if not isinstance(obj, Job):
            continue
        history = inspect(obj).attrs.status.history
        if history.added and history.added[0] in CLOSED and (not history.deleted or history.deleted[0] not in CLOSED):
            session.info.setdefault(_KEY, set()).add(obj.id)


@event.listens_for(Session, "after_flush_postexec")
def _queue_closing_notices(session: Session, _context: Any) -> None:
    job_ids = session.info.pop(_KEY, None)
    if not job_ids:
        return
    from server.cases.models import Case, CaseStatus

    for job_id in sorted(job_ids):
        job = session.get(Job, job_id)
        if job is None:
            continue
        rows = session.exec(
            select(JobReport, Message).join(Message, col(Message.id) == col(JobReport.message_id))
            .where(JobReport.job_id == job_id).order_by(col(JobReport.id))
        ).all()
        seen: set[int] = set()
        for _report, reported in rows:
            if reported.conversation_id in seen:
                continue
            seen.add(reported.conversation_id)
            conversation = session.get(Conversation, reported.conversation_id)
            if conversation is None:
                continue
            external_id = notice_key(job_id, reported.conversation_id)
            exists = session.exec(select(Message.id).where(
                Message.channel == conversation.channel, Message.external_id == external_id)).first()
            if exists is not None:
                continue
            session.add(Message(
                conversation_id=conversation.id or 0, customer_id=conversation.customer_id,
                channel=conversation.channel, direction=Direction.outbound, author_kind=AuthorKind.system,
                author_name="Groundcrew", text=closing_text(job), visibility=Visibility.private,
                external_id=external_id, delivery_status=DeliveryStatus.queued,
                meta={"kind": "job_closed", "job_id": job_id}, reply_to_external_id=reported.external_id,
            ))
            conversation.last_message_at = utcnow()
            session.add(conversation)
        for case in session.exec(select(Case).where(Case.job_id == job_id, Case.status != CaseStatus.closed)).all():
            case.status = CaseStatus.closed
            case.updated_at = utcnow()
            session.add(case)
