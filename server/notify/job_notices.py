"""The closed loop to the customer: arrival windows, ETA updates and "could not do it today", posted into every
reporter's own conversation on their own channel, and "a return visit is needed" in each reporter's language.
Dedupe keys make each notice impossible to send twice. The closing message ("fixed" / "closed") is
server/notify/job_closed.py's alone: one owner per notice."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from server.cases.models import Case
from server.config import Settings
from server.conversations.models import Conversation, Message
from server.core.timeutil import as_utc, utcnow
from server.events.broker import make_event
from server.jobs.models import Job, JobReport
from server.notify.models import JobNotice
from server.notify.service import send_to_customer
from server.technicians.models import Technician
from server.triage.replies import reply


def reporter_conversations(*, session: Session, job_id: int) -> list[int]:
    """Every reporter's conversation for this job (one per report, deduplicated)."""
    found: list[int] = []
    for report in session.exec(select(JobReport).where(JobReport.job_id == job_id).order_by(col(JobReport.id))).all():
        conversation_id = None
        if report.message_id is not None:
            message = session.get(Message, report.message_id)
            conversation_id = message.conversation_id if message else None
        if conversation_id is None and report.case_id is not None:
            case = session.get(Case, report.case_id)
            conversation_id = case.conversation_id if case else None
        if conversation_id is None and report.customer_id is not None:
            conv = session.exec(select(Conversation).where(Conversation.customer_id == report.customer_id)
                                .order_by(col(Conversation.last_message_at).desc())).first()
            conversation_id = conv.id if conv else None
        if conversation_id is not None and conversation_id not in found:
            found.append(conversation_id)
    return found


def arrival_window(settings: Settings, eta: datetime) -> tuple[datetime, datetime]:
    """A window of ``dispatch_eta_window_min`` around the ETA, on 5-minute marks, in local time."""
    local = as_utc(eta).astimezone(ZoneInfo(settings.timezone))
    rounded = (local + timedelta(minutes=2, seconds=30)).replace(second=0, microsecond=0)
    rounded -= timedelta(minutes=rounded.minute % 5)
    start = rounded - timedelta(minutes=settings.dispatch_eta_window_min // 2)
    return start, start + timedelta(minutes=settings.dispatch_eta_window_min)


def _post(session: Session, job: Job, text: str, kind: str, key: str, technician_id: int | None) -> list[dict]:
    events = []
    for conversation_id in reporter_conversations(session=session, job_id=job.id or 0):
        message, created = send_to_customer(session=session, conversation_id=conversation_id, text=text, kind=kind,
                                            dedupe_key=f"{key}:c{conversation_id}")
        if created:
            events.append(make_event("message.queued", {
                "message_id": message.id, "conversation_id": conversation_id, "job_id": job.id, "kind": kind,
                "text": text, "channel": str(message.channel)}, technician_ids=[technician_id]))
    return events


def send_eta(*, session: Session, settings: Settings, job: Job, tech: Technician, eta: datetime,
             kind: str = "eta") -> list[dict[str, Any]]:
    """Tell every reporter the arrival window (``kind``: eta = on the way, scheduled, eta_update)."""
    start, end = arrival_window(settings, eta)
    window = f"{start:%H:%M}–{end:%H:%M}"
    first = tech.first_name
    if kind == "scheduled":
        text = f"{first} from our field crew will come to fix this, arriving about {window}."
    elif kind == "eta_update":
        text = f"Update: {first} is now expected about {window}."
    else:
        text = f"{first} is on the way, arriving about {window}."
    events = _post(session, job, text, kind, f"{kind}:{job.id}:{start:%Y%m%d%H%M}", tech.id)
    notice = session.get(JobNotice, job.id)
    if notice is None:
        notice = JobNotice(job_id=job.id or 0, eta_at=eta, sent_at=utcnow())
    else:
        notice.eta_at, notice.sent_at, notice.count = eta, utcnow(), notice.count + 1
    session.add(notice)
    return events


def maybe_update_eta(*, session: Session, settings: Settings, job: Job, tech: Technician,
                     eta: datetime) -> list[dict[str, Any]]:
    """A new message only when the customer was told a window and the ETA moved more than the margin."""
    notice = session.get(JobNotice, job.id)
    if notice is None:
        return []
    if abs((as_utc(eta) - as_utc(notice.eta_at)).total_seconds()) <= settings.dispatch_eta_margin_min * 60:
        return []
    return send_eta(session=session, settings=settings, job=job, tech=tech, eta=eta, kind="eta_update")


def send_unable(*, session: Session, job: Job, tech: Technician | None, reason: str) -> list[dict[str, Any]]:
    who = tech.first_name if tech else "Our crew"
    text = (f"{who} could not complete the work on “{job.title}” today ({reason}). "
            "It stays open and we will schedule another visit.")
    return _post(session, job, text, "unable", f"unable:{job.id}", tech.id if tech else None)


def conversation_language(*, session: Session, conversation_id: int) -> str | None:
    """The language triage found in this conversation (its newest case), None when unknown."""
    case = session.exec(select(Case).where(Case.conversation_id == conversation_id)
                        .order_by(col(Case.id).desc())).first()
    return (case.triage or {}).get("language") if case is not None else None


def send_return_visit(*, session: Session, settings: Settings, job: Job, follow_up: Job, tech: Technician | None,
                      reason: str) -> list[dict[str, Any]]:
    """Tell every reporter, in their language, that the work needs a return visit and why (instead of the plain
    "could not do it today"): the follow-up carries their reports, so its arrival window and closing reach them too."""
    who = tech.first_name if tech else None
    day = None
    if follow_up.earliest_at is not None:
        day = as_utc(follow_up.earliest_at).astimezone(ZoneInfo(settings.timezone)).date()
    events = []
    for conversation_id in reporter_conversations(session=session, job_id=follow_up.id or 0):
        language = conversation_language(session=session, conversation_id=conversation_id)
        text = reply("return_visit", language).format(who=who or reply("return_visit_crew", language),
                                                      title=job.title, reason=reason)
        if day is not None:
            weekday = reply("appointment_weekdays", language).split()[day.weekday()]
            text += " " + reply("return_visit_not_before", language).format(day=f"{weekday} {day.isoformat()}")
        message, created = send_to_customer(session=session, conversation_id=conversation_id, text=text,
                                            kind="return_visit", dedupe_key=f"return:{job.id}:{follow_up.id}:"
                                                                            f"c{conversation_id}")
        if created:
            events.append(make_event("message.queued", {
                "message_id": message.id, "conversation_id": conversation_id, "job_id": follow_up.id,
                "kind": "return_visit", "text": text, "channel": str(message.channel)},
                technician_ids=[tech.id if tech else None]))
    return events
