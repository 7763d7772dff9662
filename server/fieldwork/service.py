"""Technician lifecycle: assigned → en route → on site → completed | unable (with a reason), a timestamped
event for every step, completion records, live location pings that move ETAs, and customer notices."""

from __future__ import annotations

import base64
import binascii
import os
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server.addresses import service as addresses
from server.auth.models import Role, User
from server.config import Settings
from server.core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from server.core.limits import BodyLimit
from server.core.timeutil import as_utc, utcnow
from server.dispatch.models import JobPin, TechnicianDispatchState, TechnicianStatus, TechnicianStatusChange
from server.events.broker import make_event
from server.fieldwork.models import JobCompletion, LocationPing, ReturnVisit, StatusChange, Upload
from server.jobs.models import Job, JobEvent, JobPublic, JobReport, JobStatus
from server.notify import job_notices
from server.technicians import service as technicians
from server.technicians.models import Technician

ALLOWED: dict[JobStatus, set[JobStatus]] = {
    JobStatus.unassigned: {JobStatus.cancelled},
    JobStatus.assigned: {JobStatus.en_route, JobStatus.on_site, JobStatus.unable, JobStatus.cancelled},
    JobStatus.en_route: {JobStatus.on_site, JobStatus.unable, JobStatus.cancelled},
    JobStatus.on_site: {JobStatus.completed, JobStatus.unable},
    JobStatus.completed: set(),
    JobStatus.unable: set(),
    JobStatus.cancelled: set(),
}
SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
IMAGE_KINDS = "a JPEG, PNG, WebP or HEIC image"
HEIF_BRANDS = {b"heic": "heic", b"heix": "heic", b"hevc": "heic", b"hevx": "heic", b"heim": "heic", b"heis": "heic",
               b"hevm": "heic", b"hevs": "heic", b"mif1": "heif", b"msf1": "heif"}


class AttachmentTooLarge(DomainError):
    """A photo or signature over the per-file limit, or all of them over the per-completion limit."""

    status_code = 413


class AttachmentNotAnImage(DomainError):
    """A photo or signature whose content is not an image type we keep (whatever its name says)."""

    status_code = 415


def completion_body_limit(settings: Settings) -> BodyLimit:
    """The body limit of ``POST /jobs/{id}/status`` (a completion carries its photos, base64-encoded)."""
    return BodyLimit("POST", r"/jobs/\d+/status", settings.completion_max_request_bytes,
                     "a job completion with its photos")


def image_type(content: bytes) -> str | None:
    """The file extension of ``content`` by its magic bytes (jpg, png, webp, heic, heif), None for anything else;
    the name a client gives a file is never trusted."""
    if content[:3] == b"\xff\xd8\xff":
        return "jpg"
    if content[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "webp"
    if content[4:8] == b"ftyp":  # ISO base media file: HEIF's brand is the major brand
        return HEIF_BRANDS.get(content[8:12])
    return None


def _over(size: int, limit: int) -> tuple[str, str]:
    """``size`` and ``limit`` in MB with as many decimals as it takes to tell them apart ('0.25 MB', '0.20 MB')."""
    for digits in (1, 2, 3):
        shown = f"{size / 1_000_000:.{digits}f} MB", f"{limit / 1_000_000:.{digits}f} MB"
        if shown[0] != shown[1]:
            return shown
    return f"{size} bytes", f"{limit} bytes"


@dataclass
class _Checked:
    content: bytes
    name: str  # as stored: prefix, the client's name made safe, our extension


def _check(settings: Settings, upload: Upload, field: str, prefix: str) -> _Checked:
    """One file, decoded and checked (size per file, type by content); errors name the field and the file."""
    shown = Path(upload.filename).name[:80] or "?"
    try:
        content = base64.b64decode(upload.content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"{field} ('{shown}'): content_base64 is not valid base64")
    if not content:
        raise Invalid(f"{field} ('{shown}'): the file is empty")
    if len(content) > settings.upload_max_file_bytes:
        size, limit = _over(len(content), settings.upload_max_file_bytes)
        raise AttachmentTooLarge(f"{field} ('{shown}'): {size} is over the limit of {limit} per file")
    kind = image_type(content)
    if kind is None:
        raise AttachmentNotAnImage(f"{field} ('{shown}'): not {IMAGE_KINDS} (the content is checked, not the name)")
    stem = SAFE_NAME.sub("_", Path(Path(upload.filename).name).stem)[:80] or "file"
    return _Checked(content, f"{prefix}-{stem}.{kind}")


def check_attachments(*, settings: Settings, change: StatusChange) -> list[tuple[str, _Checked]]:
    """Every file of a completion checked before anything is stored: (field, file) pairs, photos first.
    Per file: ``upload_max_file_bytes`` (413) and an image by content (415); per completion:
    ``upload_max_photos`` (422) and ``upload_max_total_bytes`` (413)."""
    if len(change.photos) > settings.upload_max_photos:
        raise Invalid(f"photos: {len(change.photos)} photos; at most {settings.upload_max_photos} per completion")
    files = [(f"photos[{i}]", _check(settings, p, f"photos[{i}]", f"photo{i}")) for i, p in enumerate(change.photos)]
    if change.signature is not None:
        files.append(("signature", _check(settings, change.signature, "signature", "signature")))
    total = sum(len(f.content) for _, f in files)
    if total > settings.upload_max_total_bytes:
        size, limit = _over(total, settings.upload_max_total_bytes)
        raise AttachmentTooLarge(f"photos/signature: {size} in all is over the limit of {limit} per completion")
    return files


def _save(settings: Settings, job_id: int, checked: _Checked) -> str:
    folder = settings.data_dir
    for part in ("uploads", "jobs", str(job_id)):  # customers' photos and signatures: the server's user only
        folder = folder / part
        folder.mkdir(mode=0o700, exist_ok=True)
        folder.chmod(0o700)
    fd = os.open(folder / checked.name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        os.fchmod(out.fileno(), 0o600)  # an existing file keeps its mode through O_CREAT: set it
        out.write(checked.content)
    return str(Path("uploads") / "jobs" / str(job_id) / checked.name)


def travel_s(*, settings: Settings, origin: tuple[float, float], target: tuple[float, float]) -> float | None:
    """Driving time on the street network, or None when the map is unavailable or a point is off it."""
    from server.core.city import load_city
    from server.dispatch.problem import matrix_cache

    if not settings.load_city:  # this process runs without the street map (some tests, tools)
        return None
    try:
        cache, lock = matrix_cache(load_city(settings))
        with lock:
            value = cache.travel_time_s(origin, target)
        return value if value != float("inf") else None
    except Exception:
        return None


def _tech_position(session: Session, tech: Technician, job: Job) -> tuple[float, float]:
    if tech.current_lat is not None and tech.current_lon is not None:
        return (tech.current_lat, tech.current_lon)
    last = session.exec(select(Job).where(Job.assigned_technician_id == tech.id, Job.status == JobStatus.completed)
                        .order_by(col(Job.updated_at).desc())).first()
    return (last.lat, last.lon) if last else (tech.home_lat, tech.home_lon)


def replayed_step(*, session: Session, job_id: int, change: StatusChange) -> Job | None:
    """The job when ``change`` repeats an already applied step (same idempotency key); None when the key
    is new; Conflict when the key was used for another job or step."""
    if not change.idempotency_key:
        return None
    seen = session.exec(select(JobEvent).where(JobEvent.idempotency_key == change.idempotency_key)).first()
    if seen is None:
        return None
    if seen.job_id != job_id or seen.status != change.status.value:
        raise Conflict(f"idempotency_key: already used for job {seen.job_id} → {seen.status}")
    return session.get(Job, job_id)


def change_status(*, session: Session, settings: Settings, job_id: int, change: StatusChange,
                  user: User) -> tuple[Job, list[dict[str, Any]], bool]:
    """Move a job one step (the caller commits). Returns (job, events, replayed). A repeated
    ``idempotency_key`` returns the job as it is and changes nothing."""
    # Lock the job row first (PostgreSQL; SQLite serialises writers anyway) so a retry racing its original
    # waits for it and then sees its key below, instead of applying the step twice.
    job = session.exec(select(Job).where(Job.id == job_id).with_for_update()).first()
    if job is None:
        raise NotFound(f"job {job_id} not found")
    new = JobStatus(change.status.value)
    # Who may move it is decided before anything else, a replayed key included: a job that is not yours is the
    # same 404 as one that does not exist (nothing about it, not even that it exists, is revealed).
    if user.role == Role.technician:
        if user.technician_id is None or job.assigned_technician_id != user.technician_id:
            raise NotFound(f"job {job_id} not found")
        if new == JobStatus.cancelled:
            raise Forbidden("status: only a dispatcher can cancel a job")
    elif user.role not in (Role.admin, Role.dispatcher):
        raise Forbidden(f"status: changing a job's status needs a technician or a dispatcher (you are {user.role})")
    replay = replayed_step(session=session, job_id=job_id, change=change)
    if replay is not None:
        return replay, [], True
    if new not in ALLOWED[job.status]:
        allowed = ", ".join(sorted(s.value for s in ALLOWED[job.status])) or "none (it is finished)"
        raise Conflict(f"status: job {job_id} cannot go from {job.status.value} to {new.value}; "
                       f"allowed next: {allowed}")
    if new == JobStatus.unable and not change.reason and change.return_visit is not None:
        change.reason = change.return_visit.reason
    if new == JobStatus.unable and not change.reason:
        raise Invalid("reason: required when the status is 'unable' (say why the job could not be done)")
    if change.return_visit is not None and new != JobStatus.unable:
        raise Invalid("return_visit: only with status 'unable' (a completed job needs no return visit)")
    if change.work_left_min is not None and new != JobStatus.completed:
        raise Invalid("work_left_min: only with status 'completed' (today's part of a multi-day visit)")
    if new != JobStatus.completed and (change.photos or change.signature or change.parts_used or change.notes):
        raise Invalid("photos/signature/parts_used/notes: only with status 'completed'")
    at = as_utc(change.at) if change.at else utcnow()
    if at > utcnow() + timedelta(minutes=5):
        raise Invalid("at: is in the future")
    tech = session.get(Technician, job.assigned_technician_id) if job.assigned_technician_id else None
    previous = job.status
    events: list[dict[str, Any]] = []
    data: dict[str, Any] = {}
    local_day = at.astimezone(ZoneInfo(settings.timezone)).date()
    left = work_left(job=job, tech=tech, said=change.work_left_min, day=local_day) if new == JobStatus.completed else 0
    if left > 0:  # today's part of a multi-day visit: the job stays open for the next part
        return _part_done(session=session, job=job, change=change, user=user, left_min=left)
    if new == JobStatus.completed:
        files = check_attachments(settings=settings, change=change)  # all of them, before any is stored
        photos = [_save(settings, job_id, f) for field, f in files if field != "signature"]
        signature = next((_save(settings, job_id, f) for field, f in files if field == "signature"), None)
        session.merge(JobCompletion(job_id=job_id, technician_id=job.assigned_technician_id, notes=change.notes,
                                    parts_used=[p.model_dump() for p in change.parts_used], photos=photos,
                                    signature=signature, signed_by=change.signed_by, completed_at=at))
        data = {"photos": len(photos), "signed": signature is not None, "parts": len(change.parts_used)}
    job.status = new
    job.version += 1
    job.updated_at = utcnow()
    if new == JobStatus.en_route and tech is not None:
        seconds = travel_s(settings=settings, origin=_tech_position(session, tech, job), target=(job.lat, job.lon))
        if seconds is not None:
            job.eta_at = at + timedelta(seconds=seconds)
        eta = as_utc(job.eta_at) if job.eta_at else at + timedelta(minutes=15)
        data["eta_at"] = eta.isoformat()
        events += job_notices.send_eta(session=session, settings=settings, job=job, tech=tech, eta=eta, kind="eta")
    elif new == JobStatus.on_site:
        job.eta_at = at
        if tech is not None:
            tech.current_lat, tech.current_lon, tech.last_seen_at = job.lat, job.lon, at
            session.add(tech)
    elif new == JobStatus.completed:
        # The reporters' closing message is not sent here: server/notify/job_closed.py owns it for every way a job
        # closes (completed or cancelled); the commit below writes it and ``commit_and_publish`` delivers it.
        from server.core.city import loaded_city

        confirmed = addresses.confirm_from_completion(session=session, job=job, completed_at=at, city=(
            loaded_city(settings) if settings.load_city else None))
        data["address_point"] = confirmed.as_dict()
    elif new == JobStatus.unable and change.return_visit is not None:
        follow = open_follow_up(session=session, settings=settings, job=job, visit=change.return_visit, user=user)
        data["follow_up"] = follow.id
        events += job_notices.send_return_visit(session=session, settings=settings, job=job, follow_up=follow,
                                                tech=tech, reason=change.return_visit.reason)
        public = JobPublic.model_validate({**follow.model_dump(), "reporter_count": len(
            job_notices.reporter_conversations(session=session, job_id=follow.id or 0))})
        events.append(make_event("job.created", {"job_id": follow.id, "job": public.model_dump(mode="json")}))
    elif new == JobStatus.unable:
        events += job_notices.send_unable(session=session, job=job, tech=tech, reason=change.reason or "")
    if new in (JobStatus.completed, JobStatus.unable, JobStatus.cancelled):
        pin = session.get(JobPin, job_id)
        if pin is not None:
            session.delete(pin)
        job.pinned = False
    session.add(job)
    session.add(JobEvent(job_id=job_id, status=new.value, previous_status=previous.value, at=at,
                         technician_id=job.assigned_technician_id, actor_user_id=user.id, actor=user.username,
                         reason=change.reason, idempotency_key=change.idempotency_key, data=data))
    session.flush()
    events.insert(0, make_event("job.status", {
        "job_id": job_id, "status": new.value, "previous_status": previous.value, "at": at.isoformat(),
        "technician_id": job.assigned_technician_id, "reason": change.reason,
        "eta_at": as_utc(job.eta_at).isoformat() if job.eta_at else None,
        # what else changed, so a console patches the job it holds instead of reading the job list again
        "version": job.version, "pinned": job.pinned}, technician_ids=[job.assigned_technician_id]))
    return job, events, False


def day_work_min(tech: Technician, day: date | None = None) -> int:
    """A technician's working day less their breaks (min): the most one part of a multi-day visit holds. ``day``:
    that date's shift in their weekly pattern (0 on a day off); without it, the everyday shift."""
    shift = technicians.shift_on(tech=tech, day=day) if day is not None else None
    if day is not None and shift is None:
        return 0
    start_t, end_t, breaks = shift if shift is not None else (tech.shift_start, tech.shift_end, tech.breaks)
    start = start_t.hour * 60 + start_t.minute
    end = end_t.hour * 60 + end_t.minute
    return max(0, end - start - sum(int(b.get("duration_min", 0)) for b in breaks))


def work_left(*, job: Job, tech: Technician | None, said: int | None, day: date | None = None) -> int:
    """Work left after this visit (min): what the technician said, else for a job longer than their working day
    (a multi-day visit; ``day``'s shift when given) its duration less that day, else 0 (the job is done)."""
    if said is not None:
        return said
    work = day_work_min(tech, day) if tech is not None else 0
    return job.duration_min - work if work and job.duration_min > work else 0


def _part_done(*, session: Session, job: Job, change: StatusChange, user: User,
               left_min: int) -> tuple[Job, list[dict[str, Any]], bool]:
    """Close today's part of a multi-day visit: the job goes back to the pool with the work left as its duration and
    its technician preferred for the next part (the horizon plans it on their next working day). No closing notice:
    the job is not done (server/notify/job_closed.py fires on 'completed' only)."""
    at = as_utc(change.at) if change.at else utcnow()
    previous, tech_id = job.status, job.assigned_technician_id
    job.parts_done += 1
    job.duration_min = max(1, left_min)
    job.status, job.assigned_technician_id, job.eta_at = JobStatus.unassigned, None, None
    job.preferred_technician_id = tech_id or job.preferred_technician_id
    job.version += 1
    job.updated_at = utcnow()
    pin = session.get(JobPin, job.id)
    if pin is not None:
        session.delete(pin)
    job.pinned = False
    session.add(job)
    data = {"part": job.parts_done, "work_left_min": job.duration_min}
    session.add(JobEvent(job_id=job.id or 0, status="part_done", previous_status=previous.value, at=at,
                         technician_id=tech_id, actor_user_id=user.id, actor=user.username, reason=change.reason,
                         idempotency_key=change.idempotency_key, data=data))
    session.flush()
    return job, [make_event("job.status", {
        "job_id": job.id, "status": job.status.value, "previous_status": previous.value, "at": at.isoformat(),
        "technician_id": tech_id, "reason": change.reason, "eta_at": None, "version": job.version, "pinned": False,
        **data}, technician_ids=[tech_id])], False


def open_follow_up(*, session: Session, settings: Settings, job: Job, visit: ReturnVisit, user: User) -> Job:
    """A return visit to ``job``: same place, skills and priority, the same reporters (so its notices reach them),
    its technician preferred, not before ``visit.earliest_day`` (local midnight)."""
    earliest = None
    if visit.earliest_day is not None:
        earliest = datetime.combine(visit.earliest_day, time(0), ZoneInfo(settings.timezone))
    follow = Job(title=job.title, description=f"Return visit for job {job.id}: {visit.reason}\n\n"
                                              f"{job.description}"[:5000],
                 category=job.category, required_skills=dict(job.required_skills),
                 duration_min=visit.duration_min or job.duration_min, priority=job.priority, time_windows=[],
                 lat=job.lat, lon=job.lon, address=job.address, location_kind=job.location_kind,
                 location_confidence=job.location_confidence, geometry=job.geometry, must_not_drop=job.must_not_drop,
                 follow_up_of=job.id, preferred_technician_id=job.assigned_technician_id, earliest_at=earliest)
    session.add(follow)
    session.flush()
    for report in session.exec(select(JobReport).where(JobReport.job_id == job.id).order_by(col(JobReport.id))):
        session.add(JobReport(job_id=follow.id or 0, case_id=report.case_id, customer_id=report.customer_id,
                              message_id=report.message_id, channel=report.channel))
    job.follow_ups = [*job.follow_ups, follow.id or 0]
    session.add(JobEvent(job_id=follow.id or 0, status=JobStatus.unassigned.value, actor_user_id=user.id,
                         actor=user.username, reason=f"return visit for job {job.id}: {visit.reason}",
                         data={"follow_up_of": job.id}))
    session.flush()
    return follow


def record_location(*, session: Session, settings: Settings, user: User,
                    ping: LocationPing) -> tuple[Technician, list[dict[str, Any]]]:
    """A position from the app: stored on the technician; the ETA of the job they are driving to moves,
    and the customer hears about it when it moved more than the margin (the caller commits)."""
    if user.role != Role.technician or user.technician_id is None:
        raise Forbidden("location pings come from a technician account linked to a technician record")
    tech = session.get(Technician, user.technician_id)
    if tech is None:
        raise NotFound(f"technician {user.technician_id} not found")
    at = as_utc(ping.at) if ping.at else utcnow()
    if tech.last_seen_at is not None and at < as_utc(tech.last_seen_at):
        return tech, []  # an older ping from the offline outbox arriving late: the newer position stands
    tech.current_lat, tech.current_lon, tech.last_seen_at = ping.lat, ping.lon, at
    session.add(tech)
    if ping.accuracy_m is not None:  # evidence for confirming addresses in the field (server/addresses)
        addresses.record_fix(session=session, technician_id=tech.id or 0, lat=ping.lat, lon=ping.lon,
                             accuracy_m=ping.accuracy_m, at=at)
    events = [make_event("technician.location", {"technician_id": tech.id, "lat": ping.lat, "lon": ping.lon,
                                                 "at": at.isoformat()}, technician_ids=[tech.id])]
    driving = session.exec(select(Job).where(Job.assigned_technician_id == tech.id,
                                             Job.status == JobStatus.en_route)).first()
    if driving is not None:
        seconds = travel_s(settings=settings, origin=(ping.lat, ping.lon), target=(driving.lat, driving.lon))
        if seconds is not None:
            eta = at + timedelta(seconds=seconds)
            driving.eta_at = eta
            session.add(driving)
            events.append(make_event("job.eta", {"job_id": driving.id, "technician_id": tech.id,
                                                 "eta_at": eta.isoformat()}, technician_ids=[tech.id]))
            events += job_notices.maybe_update_eta(session=session, settings=settings, job=driving, tech=tech, eta=eta)
    session.flush()
    return tech, events


def technician_status(*, session: Session, technician_id: int, change: TechnicianStatusChange,
                      user: User) -> tuple[TechnicianDispatchState, list[dict[str, Any]]]:
    """Done early, running late, off sick (or back to working): recorded; the caller triggers a re-plan."""
    if user.role == Role.technician and user.technician_id != technician_id:
        raise Forbidden(f"technician {technician_id} is not you; you can only report your own status")
    if user.role not in (Role.technician, Role.admin, Role.dispatcher):
        raise Forbidden(f"status: a technician's dispatch status is changed by a dispatcher or by the technician "
                        f"(you are {user.role})")
    tech = session.get(Technician, technician_id)
    if tech is None:
        raise NotFound(f"technician {technician_id} not found")
    if change.status == TechnicianStatus.running_late and change.late_min <= 0:
        raise Invalid("late_min: say how many minutes late (1..600) when running late")
    state = session.get(TechnicianDispatchState, technician_id) or TechnicianDispatchState(technician_id=technician_id)
    state.status = change.status.value
    state.late_min = change.late_min if change.status == TechnicianStatus.running_late else 0
    state.note, state.updated_at = change.note, utcnow()
    session.add(state)
    events: list[dict[str, Any]] = [make_event("technician.status", {
        "technician_id": technician_id, "status": state.status, "late_min": state.late_min, "note": state.note},
        technician_ids=[technician_id])]
    if change.status == TechnicianStatus.off_sick:  # their waiting jobs go back to the pool for the re-plan
        released: list[int] = events[0]["data"].setdefault("unassigned_job_ids", [])  # consoles patch these
        for job in session.exec(select(Job).where(Job.assigned_technician_id == technician_id,
                                                  Job.status == JobStatus.assigned)).all():
            released.append(job.id or 0)
            job.status, job.assigned_technician_id, job.eta_at = JobStatus.unassigned, None, None
            job.version += 1
            session.add(job)
            pin = session.get(JobPin, job.id)
            if pin is not None:
                session.delete(pin)
            session.add(JobEvent(job_id=job.id or 0, status="unassigned", previous_status="assigned",
                                 technician_id=technician_id, actor_user_id=user.id, actor=user.username,
                                 reason="technician off sick"))
    session.flush()
    return state, events


def history(*, session: Session, job_id: int) -> list[JobEvent]:
    return list(session.exec(select(JobEvent).where(JobEvent.job_id == job_id)
                             .order_by(col(JobEvent.at), col(JobEvent.id))).all())


def started_at(events: list[JobEvent], status: str) -> datetime | None:
    for event in events:
        if event.status == status:
            return event.at
    return None


def commit_and_publish(*, session: Session, engine: Engine, settings: Settings, events: list[dict[str, Any]],
                       deliver: bool = False) -> None:
    """Commit, publish the events, and start delivering queued customer messages (``deliver``: also when the
    change queued them without an event, as the job-closed notice of server/notify/job_closed.py)."""
    from server.dispatch.runtime import after_commit

    session.commit()
    after_commit(engine=engine, settings=settings, events=events, deliver=deliver)


def attachments(*, session: Session, job_id: int) -> list[dict[str, Any]]:
    """The photos and signature the technician left on completing the job (empty before)."""
    completion = session.get(JobCompletion, job_id)
    if completion is None:
        return []
    stored = [("photo", p) for p in completion.photos]
    if completion.signature:
        stored.append(("signature", completion.signature))
    return [{"kind": kind, "name": Path(path).name, "url": f"/jobs/{job_id}/attachments/{Path(path).name}"}
            for kind, path in stored]


def attachment_file(*, session: Session, settings: Settings, job_id: int, name: str) -> Path:
    """The stored file of one of the job's attachments, by its name in ``attachments``; NotFound otherwise (only
    files the completion names are served, never another path under data_dir)."""
    completion = session.get(JobCompletion, job_id)
    stored = [*completion.photos, *([completion.signature] if completion.signature else [])] if completion else []
    for path in stored:
        if Path(path).name == name:
            target = settings.data_dir / path
            if target.is_file():
                return target
    raise NotFound(f"attachment '{name[:80]}' of job {job_id} not found")
