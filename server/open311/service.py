"""Open311 GeoReport v2: api keys, the service list from the triage taxonomy, request validation and the
service-request view of cases and jobs. Errors are ``Open311Error`` (spec code + description)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, not_, or_
from sqlmodel import Session, col, select

from server.cases.models import Case, CaseStatus
from server.conversations.models import Conversation, Message
from server.core.errors import NotFound
from server.core.timeutil import as_utc, utcnow
from server.customers.models import Channel
from server.jobs.models import Job, JobStatus
from server.open311.models import Open311Key
from server.privacy.redact import redact
from server.triage.service import Category, Taxonomy

MAX_DESCRIPTION = 4000
MAX_FIELD = 300
CLOSED_JOB = (JobStatus.completed, JobStatus.cancelled, JobStatus.unable)
JOB_NOTES = {
    JobStatus.unassigned: "Received; waiting for a crew to be scheduled.",
    JobStatus.assigned: "Scheduled: a technician is assigned.",
    JobStatus.en_route: "A technician is on the way.",
    JobStatus.on_site: "A technician is on site.",
    JobStatus.completed: "Work completed.",
    JobStatus.cancelled: "Closed without work (cancelled).",
    JobStatus.unable: "Closed: the crew could not complete the work.",
}
CASE_NOTES = {
    CaseStatus.open: "Received; being reviewed.",
    CaseStatus.needs_location: "Received; we need a more precise location.",
    CaseStatus.handed_off: "Passed to a field crew.",
    CaseStatus.closed: "Closed.",
}
HAZARD = {"variable": True, "code": "safety_hazard", "datatype": "singlevaluelist", "required": False,
          "datatype_description": "", "order": 1, "description": "Is anyone in danger right now?",
          "values": [{"key": "yes", "name": "Yes"}, {"key": "no", "name": "No"}]}
ACCESS = {"variable": True, "code": "access_notes", "datatype": "string", "required": False,
          "datatype_description": "At most 300 characters.", "order": 2,
          "description": "How to find or reach the problem (gate code, rear alley, ...)."}


# Private attributes (access notes: gate codes, where the key is) follow this mark in the stored text, which
# agents and the crew read; the public feed shows only what comes before it.
PRIVATE_MARK = "\n\nAccess notes (private): "


LEGACY_MARK = " Access: "  # how requests stored before issue 25 appended their access notes


def public_description(text: str) -> str:
    """The part of a stored request text that may be published: without its private attributes (also in requests
    stored before the mark existed; a description that itself says " Access: " loses its tail, the safe way)."""
    return text.split(PRIVATE_MARK, 1)[0].split(LEGACY_MARK, 1)[0]


class Open311Error(Exception):
    """A GeoReport error: HTTP status and ``[{"code": status, "description": ...}]``."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


# ------------------------------------------------------------------ api keys
def _hash(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def issue_key(*, session: Session, name: str, user_id: int | None) -> tuple[Open311Key, str]:
    """A new key: returns the row and the plaintext key (shown once; only its hash is stored)."""
    plaintext = "o311_" + secrets.token_urlsafe(24)
    key = Open311Key(name=name.strip(), key_hash=_hash(plaintext), prefix=plaintext[:9], created_by_user_id=user_id)
    session.add(key)
    session.flush()
    return key, plaintext


def list_keys(*, session: Session) -> list[Open311Key]:
    """Every key, newest first."""
    return list(session.exec(select(Open311Key).order_by(col(Open311Key.id).desc())).all())


def revoke_key(*, session: Session, key_id: int) -> Open311Key:
    """Revoke a key (it stays listed, refused from now on)."""
    key = session.get(Open311Key, key_id)
    if key is None:
        raise NotFound(f"key_id: open311 key {key_id} does not exist")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        session.add(key)
    return key


def check_key(*, session: Session, api_key: str | None) -> Open311Key:
    """The active key, or a 403 Open311Error."""
    if not api_key:
        raise Open311Error(403, "api_key: required to submit a service request")
    key = session.exec(select(Open311Key).where(Open311Key.key_hash == _hash(api_key))).first()
    if key is None or key.revoked_at is not None:
        raise Open311Error(403, "api_key: not valid (unknown or revoked)")
    return key


# ------------------------------------------------------------------ services
def services(taxonomy: Taxonomy) -> list[Category]:
    """The categories offered as Open311 services: those that send someone out."""
    return [c for c in taxonomy.categories if c.field_work]


def service(taxonomy: Taxonomy, code: str | None) -> Category | None:
    """The field-work category with this service code, or None."""
    cat = taxonomy.by_service_code(code)
    return cat if cat is not None and cat.field_work else None


def service_dict(cat: Category) -> dict[str, Any]:
    return {"service_code": cat.service_code, "service_name": cat.label, "description": cat.description,
            "metadata": True, "type": "realtime", "keywords": ", ".join(k.rstrip("*") for k in cat.keywords[:8]),
            "group": cat.group}


def definition_dict(cat: Category) -> dict[str, Any]:
    return {"service_code": cat.service_code, "attributes": [HAZARD, ACCESS]}


# ------------------------------------------------------------------ POST validation
@dataclass
class NewRequest:
    category: Category
    text: str
    lat: float | None
    lon: float | None
    address: str | None
    author_handle: str
    author_name: str
    media_url: str | None
    attributes: dict[str, str] = field(default_factory=dict)
    external_id: str = ""


def _number(params: dict[str, str], name: str, low: float, high: float) -> float | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name}: {raw[:40]!r} is not a number") from None
    if not low <= value <= high or value != value:
        raise Open311Error(400, f"{name}: {value} is outside {low}..{high}")
    return value


def parse_new_request(params: dict[str, str], *, taxonomy: Taxonomy) -> NewRequest:
    """Validate POST requests parameters (already decoded) into a NewRequest, or raise a 400 Open311Error."""
    for name, value in params.items():
        limit = MAX_DESCRIPTION if name == "description" else MAX_FIELD if not name.startswith("media") else 2000
        if len(value) > limit:
            raise Open311Error(400, f"{name}: longer than {limit} characters")
    code = (params.get("service_code") or "").strip()
    if not code:
        raise Open311Error(400, "service_code: required")
    cat = service(taxonomy, code)
    if cat is None:
        raise Open311Error(400, f"service_code: {code!r} is not a service here (see services.json)")
    lat, lon = _number(params, "lat", -90, 90), _number(params, "long", -180, 180)
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat/long: give both coordinates or neither")
    address = (params.get("address_string") or "").strip() or None
    address_id = (params.get("address_id") or "").strip() or None
    if lat is None and address is None and address_id is None:
        raise Open311Error(400, "location: give lat and long, address_string or address_id")
    if address is None and address_id is not None:
        address = address_id
    attributes: dict[str, str] = {}
    for name, value in params.items():
        if name.startswith("attribute[") and name.endswith("]"):
            attributes[name[len("attribute["):-1]] = value.strip()
    hazard = attributes.get("safety_hazard")
    if hazard is not None and hazard not in ("yes", "no", ""):
        raise Open311Error(400, "attribute[safety_hazard]: must be 'yes' or 'no'")
    media = (params.get("media_url") or "").strip() or None
    if media and not media.startswith(("http://", "https://")):
        raise Open311Error(400, "media_url: must be an http(s) URL")
    description = (params.get("description") or "").strip()
    text = description or cat.label
    if hazard == "yes":
        text += " (Reporter says this is dangerous: someone is in danger.)"
    if attributes.get("access_notes"):  # for the crew, never the public feed (see public_description)
        text += PRIVATE_MARK + attributes["access_notes"]
    email = (params.get("email") or "").strip().lower()
    phone = (params.get("phone") or "").strip()
    device = (params.get("device_id") or "").strip()
    account = (params.get("account_id") or "").strip()
    if email and ("@" not in email or " " in email):
        raise Open311Error(400, "email: not an email address")
    handle = email or phone or (f"device:{device}" if device else "") or (f"account:{account}" if account else "")
    name = " ".join(p for p in ((params.get("first_name") or "").strip(), (params.get("last_name") or "").strip())
                    if p)
    return NewRequest(category=cat, text=text[:MAX_DESCRIPTION + 200], lat=lat, lon=lon, address=address,
                      author_handle=handle or f"anonymous:{uuid.uuid4().hex[:12]}", author_name=name,
                      media_url=media, attributes=attributes, external_id=uuid.uuid4().hex)


# ------------------------------------------------------------------ service requests (GET)
def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat().replace("+00:00", "Z") if value else None


def request_dict(*, case: Case, message: Message | None, job: Job | None, taxonomy: Taxonomy,
                 agency: str) -> dict[str, Any]:
    """One service request in GeoReport v2 field names (service_code always a string)."""
    cat = taxonomy.by_name(case.category) if case.category else None
    closed = case.status == CaseStatus.closed or (job is not None and job.status in CLOSED_JOB)
    notes = JOB_NOTES[job.status] if job is not None else CASE_NOTES[case.status]
    lat = job.lat if job is not None else case.lat
    lon = job.lon if job is not None else case.lon
    updated = max(d for d in (case.updated_at, job.updated_at if job else None) if d is not None)
    media = (message.media[0] if message is not None and message.media else None)
    return {
        "service_request_id": str(case.id),
        "status": "closed" if closed else "open",
        "status_notes": notes,
        "service_name": cat.label if cat else (case.category or ""),
        "service_code": str(cat.service_code) if cat else "",
        # public: contact details people put in their complaint (phone, email, @handles) are not shown
        "description": redact(public_description(message.text)) or "" if message is not None else "",
        "agency_responsible": f"{agency}: {cat.group}" if cat and cat.group else agency,
        "service_notice": "",
        "requested_datetime": _iso(message.sent_at if message is not None else case.created_at),
        "updated_datetime": _iso(updated),
        "expected_datetime": _iso(job.eta_at if job is not None and not closed else None),
        "address": (job.address if job is not None and job.address else case.location_text) or "",
        "address_id": "",
        "zipcode": "",
        "lat": lat,
        "long": lon,
        "media_url": media or "",
    }


def _open311_cases():  # type: ignore[no-untyped-def]
    return select(Case).join(Conversation, col(Conversation.id) == col(Case.conversation_id)).where(
        Conversation.channel == Channel.open311)


def view(*, session: Session, case: Case, taxonomy: Taxonomy, agency: str) -> dict[str, Any]:
    return views(session=session, cases=[case], taxonomy=taxonomy, agency=agency)[0]


def views(*, session: Session, cases: Sequence[Case], taxonomy: Taxonomy, agency: str) -> list[dict[str, Any]]:
    """Service requests for many cases with two queries in all (their jobs, their first messages)."""
    job_ids = {c.job_id for c in cases if c.job_id}
    jobs = {j.id: j for j in session.exec(select(Job).where(col(Job.id).in_(job_ids))).all()} if job_ids else {}
    conversation_ids = {c.conversation_id for c in cases}
    first_ids = (select(func.min(Message.id)).where(col(Message.conversation_id).in_(conversation_ids))
                 .group_by(col(Message.conversation_id)))
    messages = {m.conversation_id: m for m in session.exec(select(Message).where(col(Message.id).in_(first_ids)))
                } if conversation_ids else {}
    return [request_dict(case=c, message=messages.get(c.conversation_id), job=jobs.get(c.job_id) if c.job_id else None,
                         taxonomy=taxonomy, agency=agency) for c in cases]


def get_request(*, session: Session, request_id: str, taxonomy: Taxonomy, agency: str) -> dict[str, Any]:
    """One Open311 service request by id, or a 404 Open311Error."""
    if not request_id.isdigit() or len(request_id) > 18:
        raise Open311Error(404, f"service_request_id: {request_id[:40]!r} not found")
    case = session.exec(_open311_cases().where(Case.id == int(request_id))).first()
    if case is None:
        raise Open311Error(404, f"service_request_id: {request_id!r} not found")
    return view(session=session, case=case, taxonomy=taxonomy, agency=agency)


def _date(params: dict[str, str], name: str) -> datetime | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name}: {raw[:40]!r} is not an ISO 8601 date-time") from None
    return as_utc(value)


def _int(params: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = (params.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise Open311Error(400, f"{name}: must be an integer {low}..{high}")
    return int(raw)


def list_requests(*, session: Session, params: dict[str, str], taxonomy: Taxonomy,
                  agency: str) -> list[dict[str, Any]]:
    """GET requests: filters service_request_id (comma list; others ignored then), service_code (comma list),
    start_date, end_date (requested time; default the last 90 days), status (open/closed), page/page_size."""
    query = _open311_cases()
    ids = [i.strip() for i in (params.get("service_request_id") or "").split(",") if i.strip()]
    if ids:
        if not all(i.isdigit() and len(i) <= 18 for i in ids) or len(ids) > 200:
            raise Open311Error(400, "service_request_id: a comma-separated list of at most 200 numeric ids")
        cases = session.exec(query.where(col(Case.id).in_([int(i) for i in ids])).order_by(col(Case.id))).all()
        return views(session=session, cases=cases, taxonomy=taxonomy, agency=agency)
    codes = [c.strip() for c in (params.get("service_code") or "").split(",") if c.strip()]
    if codes:
        names = []
        for code in codes:
            cat = taxonomy.by_service_code(code)
            if cat is None:
                raise Open311Error(400, f"service_code: {code!r} is not a service here")
            names.append(cat.name)
        query = query.where(col(Case.category).in_(names))
    start, end = _date(params, "start_date"), _date(params, "end_date")
    if start and end and end < start:
        raise Open311Error(400, "end_date: before start_date")
    if start:
        query = query.where(Case.created_at >= start)
    if end:
        query = query.where(Case.created_at <= end)
    status = (params.get("status") or "").strip().lower()
    statuses = [s for s in status.split(",") if s]
    if any(s not in ("open", "closed") for s in statuses):
        raise Open311Error(400, "status: 'open' or 'closed'")
    page = _int(params, "page", 1, 1, 100_000)
    page_size = _int(params, "page_size", 50, 1, 1000)
    if statuses and set(statuses) != {"open", "closed"}:
        # open/closed depends on the job too (the same rule as request_dict), decided in the query.
        closed = or_(Case.status == CaseStatus.closed, and_(col(Job.id).is_not(None), col(Job.status).in_(CLOSED_JOB)))
        query = query.outerjoin(Job, col(Job.id) == col(Case.job_id)).where(
            closed if statuses == ["closed"] else not_(closed))
    query = query.order_by(col(Case.created_at).desc(), col(Case.id).desc())
    cases = session.exec(query.offset((page - 1) * page_size).limit(page_size)).all()
    return views(session=session, cases=cases, taxonomy=taxonomy, agency=agency)


def request_by_token(*, session: Session, token: str) -> dict[str, Any]:
    """tokens/{token}: the request id created from a POST (the token is the message's external id)."""
    message = session.exec(select(Message).where(Message.channel == Channel.open311,
                                                 Message.external_id == token)).first()
    if message is None or len(token) > 200:
        raise Open311Error(404, f"token: {token[:40]!r} not found")
    case = session.exec(select(Case).where(Case.conversation_id == message.conversation_id)
                        .order_by(col(Case.id).desc())).first()
    return {"service_request_id": str(case.id) if case else "", "token": token}
