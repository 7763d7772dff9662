"""Hand-off (case → job), joining a complaint to an open job of the same incident, splitting a wrongly joined
report out, affected customers and proactive notices."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from rapidfuzz import fuzz
from sqlmodel import Session, col, select

from server.audit import service as audit
from server.auth.models import User
from server.cases.models import Case, CaseStatus
from server.config import Settings
from server.conversations.models import Conversation, Message
from server.core.errors import Conflict, Invalid, NotFound
from server.core.timeutil import as_utc, utcnow
from server.customers.models import Customer, Identity
from server.incidents.models import AffectedCustomer, ProactiveNotice
from server.jobs import service as jobs
from server.jobs.models import OPEN_STATUSES, Job, JobCreate, JobReport

EARTH_M = 6_371_000.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_M * math.asin(min(1.0, math.sqrt(a)))


def _box(lat: float, radius_m: float) -> tuple[float, float]:
    dlat = radius_m / 111_320.0
    dlon = radius_m / (111_320.0 * max(0.01, math.cos(math.radians(lat))))
    return dlat, dlon


def find_incident(*, session: Session, settings: Settings, case: Case, message: Message) -> tuple[Job, dict] | None:
    """An open job of the same category within the radius and time window whose text is similar, or None."""
    if case.lat is None or case.lon is None or not case.category:
        return None
    dlat, dlon = _box(case.lat, settings.incident_radius_m)
    jobs_near = session.exec(select(Job).where(
        Job.category == case.category, col(Job.status).in_(list(OPEN_STATUSES)),
        col(Job.lat).between(case.lat - dlat, case.lat + dlat), col(Job.lon).between(case.lon - dlon, case.lon + dlon),
    )).all()
    best: tuple[float, Job, dict] | None = None
    window = timedelta(hours=settings.incident_window_hours)
    sent_at = as_utc(message.sent_at)
    for job in jobs_near:
        dist = distance_m(case.lat, case.lon, job.lat, job.lon)
        if dist > settings.incident_radius_m:
            continue
        reported = session.exec(select(Message.sent_at, Message.text).join(
            JobReport, col(JobReport.message_id) == col(Message.id)).where(JobReport.job_id == job.id)).all()
        times = [as_utc(t) for t, _ in reported] or [as_utc(job.created_at)]
        if min(abs(sent_at - t) for t in times) > window:
            continue
        texts = [txt for _, txt in reported] or [job.description or job.title]
        similarity = max(fuzz.token_set_ratio(message.text.lower(), t.lower()) for t in texts)
        if similarity < settings.incident_min_similarity:
            continue
        score = similarity / 100 - dist / settings.incident_radius_m
        if best is None or score > best[0]:
            best = (score, job, {"distance_m": round(dist, 1), "similarity": round(similarity, 1)})
    return (best[1], best[2]) if best else None


def _report(session: Session, job: Job, case: Case, message_id: int | None, channel: str) -> JobReport:
    existing = session.exec(select(JobReport).where(JobReport.job_id == job.id, JobReport.case_id == case.id)).first()
    if existing is not None:
        return existing
    report = JobReport(job_id=job.id or 0, case_id=case.id, customer_id=case.customer_id, message_id=message_id,
                       channel=channel)
    session.add(report)
    return report


def _first_message(session: Session, case: Case) -> Message | None:
    mid = (case.triage or {}).get("message_id")
    if mid:
        return session.get(Message, mid)
    return session.exec(select(Message).where(Message.conversation_id == case.conversation_id)
                        .order_by(col(Message.sent_at), col(Message.id))).first()


def job_from_case(*, session: Session, case: Case, message: Message | None, actor: User | None) -> Job:
    """A new field job built from the case's triage and location (the case must have one)."""
    if case.lat is None or case.lon is None:
        raise Invalid(f"lat/lon: case {case.id} has no location; it cannot become a field job")
    triage = case.triage or {}
    where = (case.location_text or (case.geotag or {}).get("span") or "").strip()
    label = str(triage.get("label") or (case.category or "general").replace("_", " "))
    title = f"{label[:1].upper()}{label[1:]}" + (f" at {where}" if where else "")
    skill = triage.get("skill")
    job_in = JobCreate(
        title=title[:200], description=(message.text if message else "")[:5000], category=case.category or "general",
        required_skills={skill: 1} if skill else {}, duration_min=int(triage.get("duration_min") or 30),
        priority=case.priority, sla_due_at=case.sla_due_at, lat=case.lat, lon=case.lon,
        address=where[:300] or None, location_kind=(case.geotag or {}).get("kind"),
        location_confidence=min(1.0, float((case.geotag or {}).get("confidence") or 0)) or None,
    )
    return jobs.create(session=session, job_in=job_in, actor=actor)


def attach(*, session: Session, settings: Settings, case: Case, message: Message | None, actor: User | None,
           allow_join: bool = True) -> tuple[Job, bool]:
    """Link the case to a job: an open job of the same incident (joined=True) or a new one."""
    message = message or _first_message(session, case)
    joined = None
    if allow_join and message is not None:
        joined = find_incident(session=session, settings=settings, case=case, message=message)
    if joined is not None:
        job, why = joined
        case.geotag = {**(case.geotag or {}), "incident": {"job_id": job.id, **why}}
    else:
        job = job_from_case(session=session, case=case, message=message, actor=actor)
    _report(session, job, case, message.id if message else None, str(message.channel if message else "") or "")
    case.job_id = job.id
    case.status = CaseStatus.handed_off
    case.updated_at = utcnow()
    session.add(case)
    session.flush()
    if joined is not None:
        audit.record(session=session, action="join_incident", entity="job", entity_id=job.id,
                     actor_user_id=actor.id if actor else None, actor=actor.username if actor else "system",
                     detail={"case_id": case.id, **joined[1]})
    return job, joined is not None


def handoff(*, session: Session, settings: Settings, case_id: int, actor: User, lat: float | None = None,
            lon: float | None = None, address: str | None = None) -> tuple[Job, bool, bool]:
    """An agent turns a case into field work in one call, at the place they placed or confirmed on the map
    (``lat``/``lon`` are required: the geotagger's guess alone never becomes a job here; 422 without them, and for a
    place outside the service area). Returns (job, joined an existing incident, created now). A case already handed
    off returns its job."""
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"case {case_id} not found")
    if (lat is None) != (lon is None):
        raise Invalid("lat/lon: give both coordinates or neither")
    if case.job_id is not None:
        if lat is not None:
            raise Conflict(f"case {case_id} was already handed off to job {case.job_id}; correct the job instead")
        return jobs.get(session=session, job_id=case.job_id), False, False
    if case.status == CaseStatus.closed:
        raise Conflict(f"status: case {case_id} is closed")
    if lat is None or lon is None:
        if case.lat is None or case.lon is None:
            raise Invalid(f"lat/lon: case {case_id} has no location yet; place the pin and send its lat and lon "
                          f"(the geotagger found: {(case.geotag or {}).get('explanation', 'nothing')})")
        raise Invalid(f"lat/lon: confirm the place of case {case_id}: send the lat and lon you placed or confirmed "
                      f"(the geotagger's {case.lat:.5f}, {case.lon:.5f} is a suggestion, not a confirmation)")
    jobs.ensure_on_map(settings=settings, lat=lat, lon=lon)
    moved = (case.lat, case.lon) != (lat, lon)
    case.lat, case.lon = lat, lon
    case.geotag = {**(case.geotag or {}), "lat": lat, "lon": lon, "kind": "agent", "confidence": 1.0,
                   "explanation": f"{'placed' if moved else 'confirmed'} by {actor.username}", "confident": True}
    if address:
        case.location_text = address
    case.needs_field_work = True
    job, joined = attach(session=session, settings=settings, case=case, message=None, actor=actor)
    audit.record(session=session, action="handoff", entity="case", entity_id=case.id, actor_user_id=actor.id,
                 actor=actor.username, detail={"job_id": job.id, "joined": joined})
    return job, joined, True


def split(*, session: Session, job_id: int, report_id: int, actor: User) -> Job:
    """Take a wrongly joined report out of a job into a new job of its own."""
    job = jobs.get(session=session, job_id=job_id)
    report = session.get(JobReport, report_id)
    if report is None or report.job_id != job_id:
        raise NotFound(f"report {report_id} of job {job_id} not found")
    count = len(session.exec(select(JobReport.id).where(JobReport.job_id == job_id)).all())
    if count < 2:
        raise Conflict(f"job {job_id} has only this report; there is nothing to split it from")
    case = session.get(Case, report.case_id) if report.case_id else None
    if case is None:
        raise Conflict(f"report {report_id} has no case to build a job from")
    message = session.get(Message, report.message_id) if report.message_id else None
    if case.lat is None or case.lon is None:
        case.lat, case.lon = job.lat, job.lon
    new_job = job_from_case(session=session, case=case, message=message, actor=actor)
    report.job_id = new_job.id or 0
    case.job_id = new_job.id
    geotag = dict(case.geotag or {})
    geotag.pop("incident", None)
    case.geotag = {**geotag, "split_from_job": job_id}
    session.add_all([report, case])
    session.flush()
    audit.record(session=session, action="split", entity="job", entity_id=job_id, actor_user_id=actor.id,
                 actor=actor.username, detail={"report_id": report_id, "new_job_id": new_job.id})
    return new_job


def reporters(*, session: Session, job_id: int) -> list[dict[str, Any]]:
    """Every report of a job with its customer, channel and message."""
    rows = session.exec(select(JobReport).where(JobReport.job_id == job_id).order_by(col(JobReport.id))).all()
    out = []
    for r in rows:
        customer = session.get(Customer, r.customer_id) if r.customer_id else None
        message = session.get(Message, r.message_id) if r.message_id else None
        out.append({**r.model_dump(), "customer_name": customer.display_name if customer else "",
                    "text": message.text if message else "", "sent_at": message.sent_at if message else None,
                    "conversation_id": message.conversation_id if message else None})
    return out


def affected_customers(*, session: Session, settings: Settings, job_id: int) -> list[AffectedCustomer]:
    """Customers whose known address lies within the proactive radius of the job and who did not report it."""
    job = jobs.get(session=session, job_id=job_id)
    radius = settings.proactive_radius_m
    dlat, dlon = _box(job.lat, radius)
    reporters_ = {r for r in session.exec(select(JobReport.customer_id).where(JobReport.job_id == job_id)).all() if r}
    notified = {r for r in session.exec(select(ProactiveNotice.customer_id).where(
        ProactiveNotice.job_id == job_id)).all()}
    rows = session.exec(select(Customer).where(
        col(Customer.merged_into_id).is_(None), col(Customer.address_lat).between(job.lat - dlat, job.lat + dlat),
        col(Customer.address_lon).between(job.lon - dlon, job.lon + dlon),
    )).all()
    out = []
    for c in rows:
        if c.id in reporters_:
            continue
        dist = distance_m(job.lat, job.lon, c.address_lat or 0, c.address_lon or 0)
        if dist > radius:
            continue
        channel = _notice_channel(session, c)
        out.append(AffectedCustomer(
            customer_id=c.id or 0, display_name=c.display_name, address=c.address, distance_m=round(dist, 1),
            preferred_channel=str(c.preferred_channel) if c.preferred_channel else None, channel=channel,
            already_notified=c.id in notified))
    out.sort(key=lambda a: a.distance_m)
    return out


def _notice_channel(session: Session, customer: Customer) -> str | None:
    idents = session.exec(select(Identity).where(Identity.customer_id == customer.id).order_by(col(Identity.id))).all()
    if not idents:
        return None
    if customer.preferred_channel and any(i.channel == customer.preferred_channel for i in idents):
        return str(customer.preferred_channel)
    return str(idents[0].channel)


def send_proactive(*, session: Session, settings: Settings, job_id: int, actor: User,
                   customer_ids: list[int] | None = None, text: str | None = None) -> list[ProactiveNotice]:
    """One proactive notice per affected customer on their preferred channel — never twice for one incident."""
    from server.notify.service import send_to_customer

    job = jobs.get(session=session, job_id=job_id)
    affected = {a.customer_id: a for a in affected_customers(session=session, settings=settings, job_id=job_id)}
    targets = customer_ids if customer_ids is not None else [cid for cid, a in affected.items()
                                                             if not a.already_notified]
    unknown = [cid for cid in targets if cid not in affected]
    if unknown:
        raise Invalid(f"customer_ids: {unknown} are not affected customers of job {job_id} (not near it, "
                      "merged away, or they reported it)")
    body = text or (f"Heads-up from Groundcrew: we know about the {job.title.lower()} near you and a crew is on it. "
                    "No need to report it.")
    sent = []
    for cid in targets:
        a = affected[cid]
        if a.already_notified or a.channel is None:
            continue
        conversation = session.exec(select(Conversation).where(
            Conversation.customer_id == cid, Conversation.channel == a.channel)
            .order_by(col(Conversation.last_message_at).desc())).first()
        if conversation is None:
            conversation = Conversation(customer_id=cid, channel=a.channel, subject=f"About job {job_id}",
                                        external_thread_id=f"gc-proactive-{job_id}-{cid}")
            session.add(conversation)
            session.flush()
        message, _ = send_to_customer(session=session, conversation_id=conversation.id or 0, text=body,
                                      kind="proactive_notice", author_user_id=actor.id,
                                      author_name=actor.full_name or actor.username,
                                      dedupe_key=f"proactive:{job_id}:{cid}")
        notice = ProactiveNotice(job_id=job_id, customer_id=cid, message_id=message.id, channel=a.channel,
                                 sent_by=actor.username)
        session.add(notice)
        session.flush()
        sent.append(notice)
    audit.record(session=session, action="proactive_notice", entity="job", entity_id=job_id, actor_user_id=actor.id,
                 actor=actor.username, detail={"customers": [n.customer_id for n in sent]})
    return sent
