"""Open311 GeoReport v2: api keys, the service list from the triage taxonomy, request validation, the
service-request view of cases and jobs, and FixMyStreet's ``servicerequestupdates`` extension both ways (our
notices out, citizens' updates in). Errors are ``Open311Error`` (spec code + description).

Specifications: GeoReport v2, http://wiki.open311.org/GeoReport_v2 (open311/open311.github.io,
GeoReport_v2/index.md); the updates extension, https://github.com/mysociety/fixmystreet/wiki/Open311-FMS---Complete-Spec
and the client that speaks it, mysociety/fixmystreet perllib/Open311.pm."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, not_, or_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from server.cases.models import Case, CaseStatus
from server.conversations.models import AuthorKind, Conversation, Direction, InboundMessage, Message, Visibility
from server.core.errors import NotFound
from server.core.timeutil import as_utc, utcnow
from server.customers.models import Channel
from server.intake.guard import clean_inbound
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
    if cat is None:  # GeoReport v2: "404 - service_code ... was not found"
        raise Open311Error(404, f"service_code: {code[:40]!r} not found (see services.json)")
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
    handle, name = _author(params)
    return NewRequest(category=cat, text=text[:MAX_DESCRIPTION + 200], lat=lat, lon=lon, address=address,
                      author_handle=handle, author_name=name, media_url=media, attributes=attributes,
                      external_id=uuid.uuid4().hex)


def _author(params: dict[str, str]) -> tuple[str, str]:
    """Who wrote it: (handle, name). The handle is the email, else the phone, device or account id, else a new
    anonymous one; a malformed email is a 400."""
    email = (params.get("email") or "").strip().lower()
    phone = (params.get("phone") or "").strip()
    device = (params.get("device_id") or "").strip()
    account = (params.get("account_id") or "").strip()
    if email and ("@" not in email or " " in email):
        raise Open311Error(400, "email: not an email address")
    handle = email or phone or (f"device:{device}" if device else "") or (f"account:{account}" if account else "")
    name = " ".join(p for p in ((params.get("first_name") or "").strip(), (params.get("last_name") or "").strip())
                    if p)
    return handle or f"anonymous:{uuid.uuid4().hex[:12]}", name


# ------------------------------------------------------------------ service requests (GET)
#: GeoReport v2, GET Service Requests, "Response Volume": "Default query limit is a span of 90 days or first 1000
#: requests returned, whichever is smallest."
MAX_SPAN = timedelta(days=90)
MAX_REQUESTS = 1000


def _iso(value: datetime | None) -> str | None:
    return as_utc(value).isoformat().replace("+00:00", "Z") if value else None


def public_url(link: str | None, base_url: str) -> str:
    """A media link as clients can fetch it: our own uploads are stored as a path (``/open311/v2/media/...``) and
    published under the URL the client reached us at; other links as given."""
    if not link:
        return ""
    return base_url.rstrip("/") + link if link.startswith("/") else link


def request_dict(*, case: Case, message: Message | None, job: Job | None, taxonomy: Taxonomy,
                 agency: str, base_url: str = "") -> dict[str, Any]:
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
        "media_url": public_url(media, base_url),
    }


def _open311_cases():  # type: ignore[no-untyped-def]
    return select(Case).join(Conversation, col(Conversation.id) == col(Case.conversation_id)).where(
        Conversation.channel == Channel.open311)


def view(*, session: Session, case: Case, taxonomy: Taxonomy, agency: str, base_url: str = "") -> dict[str, Any]:
    return views(session=session, cases=[case], taxonomy=taxonomy, agency=agency, base_url=base_url)[0]


def views(*, session: Session, cases: Sequence[Case], taxonomy: Taxonomy, agency: str,
          base_url: str = "") -> list[dict[str, Any]]:
    """Service requests for many cases with two queries in all (their jobs, their first messages)."""
    job_ids = {c.job_id for c in cases if c.job_id}
    jobs = {j.id: j for j in session.exec(select(Job).where(col(Job.id).in_(job_ids))).all()} if job_ids else {}
    conversation_ids = {c.conversation_id for c in cases}
    first_ids = (select(func.min(Message.id)).where(col(Message.conversation_id).in_(conversation_ids))
                 .group_by(col(Message.conversation_id)))
    messages = {m.conversation_id: m for m in session.exec(select(Message).where(col(Message.id).in_(first_ids)))
                } if conversation_ids else {}
    return [request_dict(case=c, message=messages.get(c.conversation_id), job=jobs.get(c.job_id) if c.job_id else None,
                         taxonomy=taxonomy, agency=agency, base_url=base_url) for c in cases]


def get_request(*, session: Session, request_id: str, taxonomy: Taxonomy, agency: str,
                base_url: str = "") -> dict[str, Any]:
    """One Open311 service request by id, or a 404 Open311Error."""
    if not request_id.isdigit() or len(request_id) > 18:
        raise Open311Error(404, f"service_request_id: {request_id[:40]!r} not found")
    case = session.exec(_open311_cases().where(Case.id == int(request_id))).first()
    if case is None:
        raise Open311Error(404, f"service_request_id: {request_id!r} not found")
    return view(session=session, case=case, taxonomy=taxonomy, agency=agency, base_url=base_url)


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


def window(params: dict[str, str], *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """``start_date``/``end_date`` as GeoReport v2 reads them: neither → the last 90 days; one of them → the 90
    days after start_date (or before end_date); both → as given, at most 90 days apart. Errors are 400s."""
    start, end = _date(params, "start_date"), _date(params, "end_date")
    if start is None and end is None:
        end = now or utcnow()
        return end - MAX_SPAN, end
    if start is None:
        return end - MAX_SPAN, end  # type: ignore[operator]
    if end is None:
        return start, start + MAX_SPAN
    if end < start:
        raise Open311Error(400, "end_date: before start_date")
    if end - start > MAX_SPAN:
        raise Open311Error(400, "end_date: at most 90 days after start_date (GeoReport v2); ask in windows")
    return start, end


def list_requests(*, session: Session, params: dict[str, str], taxonomy: Taxonomy, agency: str,
                  base_url: str = "") -> list[dict[str, Any]]:
    """GET Service Requests (GeoReport v2).

    ``service_request_id``: a comma list of at most 1000 ids; it overrides every other filter (unknown ids are
    left out). Otherwise ``service_code`` (comma list; an unknown code is a 404), ``status`` (open, closed, or
    both), and ``start_date``/``end_date`` on ``requested_datetime`` (see ``window``: the last 90 days by default).
    Newest first, up to 1000 a page; ``page``/``page_size`` (1..1000, default 1000) page further (our extension)."""
    query = _open311_cases()
    ids = [i.strip() for i in (params.get("service_request_id") or "").split(",") if i.strip()]
    if ids:
        if not all(i.isdigit() and len(i) <= 18 for i in ids) or len(ids) > MAX_REQUESTS:
            raise Open311Error(400, f"service_request_id: a comma-separated list of at most {MAX_REQUESTS} "
                                    "numeric ids")
        cases = session.exec(query.where(col(Case.id).in_([int(i) for i in ids])).order_by(col(Case.id))).all()
        return views(session=session, cases=cases, taxonomy=taxonomy, agency=agency, base_url=base_url)
    codes = [c.strip() for c in (params.get("service_code") or "").split(",") if c.strip()]
    if codes:
        names = []
        for code in codes:
            cat = taxonomy.by_service_code(code)
            if cat is None:
                raise Open311Error(404, f"service_code: {code[:40]!r} not found (see services.json)")
            names.append(cat.name)
        query = query.where(col(Case.category).in_(names))
    start, end = window(params)
    # requested_datetime is the sent time of the conversation's first message (what request_dict shows), not
    # the time the row was stored (an import stores old requests today).
    first_id = (select(func.min(Message.id)).where(col(Message.conversation_id) == col(Case.conversation_id))
                .correlate(Case).scalar_subquery())
    first = aliased(Message)
    requested = func.coalesce(first.sent_at, Case.created_at)
    query = query.outerjoin(first, col(first.id) == first_id).where(requested >= start, requested <= end)
    status = (params.get("status") or "").strip().lower()
    statuses = [s for s in status.split(",") if s]
    if any(s not in ("open", "closed") for s in statuses):
        raise Open311Error(400, "status: 'open' or 'closed'")
    page = _int(params, "page", 1, 1, 100_000)
    page_size = _int(params, "page_size", MAX_REQUESTS, 1, MAX_REQUESTS)
    if statuses and set(statuses) != {"open", "closed"}:
        # open/closed depends on the job too (the same rule as request_dict), decided in the query.
        closed = or_(Case.status == CaseStatus.closed, and_(col(Job.id).is_not(None), col(Job.status).in_(CLOSED_JOB)))
        query = query.outerjoin(Job, col(Job.id) == col(Case.job_id)).where(
            closed if statuses == ["closed"] else not_(closed))
    query = query.order_by(requested.desc(), col(Case.id).desc())
    cases = session.exec(query.offset((page - 1) * page_size).limit(page_size)).all()
    return views(session=session, cases=cases, taxonomy=taxonomy, agency=agency, base_url=base_url)


def _case_of_conversation(session: Session, conversation_id: int) -> Case | None:
    return session.exec(select(Case).where(Case.conversation_id == conversation_id)
                        .order_by(col(Case.id).desc())).first()


def request_by_token(*, session: Session, token: str) -> dict[str, Any]:
    """tokens/{token}: the request id created from a POST (the token is the message's external id). Before the
    request has an id the answer holds the token alone."""
    if len(token) > 200:
        raise Open311Error(404, f"token: {token[:40]!r} not found")
    message = session.exec(select(Message).where(Message.channel == Channel.open311,
                                                 Message.external_id == token,
                                                 Message.direction == Direction.inbound)).first()
    if message is None or message.meta.get("open311_update"):
        raise Open311Error(404, f"token: {token[:40]!r} not found")
    case = _case_of_conversation(session, message.conversation_id)
    return {"service_request_id": str(case.id), "token": token} if case is not None and case.id else {"token": token}


# ------------------------------------------------------------------ servicerequestupdates (FixMyStreet extension)
#: Outbound notices that close the request (server/notify/job_closed.py's job-closed notice); every other notice
#: leaves it open.
CLOSING_KINDS = frozenset({"job_closed"})
#: The statuses FixMyStreet's Open311.pm sends with a citizen's update (plain, and with extended_statuses).
UPDATE_STATUSES = frozenset({
    "OPEN", "CLOSED", "FIXED", "IN_PROGRESS", "ACTION_SCHEDULED", "INVESTIGATING", "DUPLICATE",
    "NOT_COUNCILS_RESPONSIBILITY", "NO_FURTHER_ACTION", "INTERNAL_REFERRAL", "FOR_TRIAGE", "CANCELLED", "REOPEN"})


def update_dict(*, message: Message, case_id: int) -> dict[str, Any]:
    """One of our messages to the reporter as a ``request_update``: update_id is the message id, status what the
    request is after it (CLOSED for the closing notice, else OPEN), description its text with contact details
    redacted (the feed is public)."""
    closing = (message.meta or {}).get("kind") in CLOSING_KINDS
    return {"update_id": str(message.id), "service_request_id": str(case_id),
            "status": "CLOSED" if closing else "OPEN", "updated_datetime": _iso(message.sent_at),
            "description": redact(message.text) or "", "media_url": ""}


def list_updates(*, session: Session, params: dict[str, str]) -> list[dict[str, Any]]:
    """GET servicerequestupdates: the notices we sent on Open311 requests (ETA, scheduled, could-not-finish,
    closed) and the staff replies marked public, oldest first, in the ``start_date``/``end_date`` window on
    ``updated_datetime`` (``window``: the last 90 days by default), up to 1000 a page (``page``/``page_size``).
    Private staff replies and the citizens' own updates are not listed."""
    start, end = window(params)
    page = _int(params, "page", 1, 1, 100_000)
    page_size = _int(params, "page_size", MAX_REQUESTS, 1, MAX_REQUESTS)
    latest_case = (select(func.max(Case.id)).where(col(Case.conversation_id) == col(Message.conversation_id))
                   .correlate(Message).scalar_subquery())
    query = (select(Message, latest_case)
             .where(Message.channel == Channel.open311, Message.direction == Direction.outbound,
                    or_(Message.author_kind == AuthorKind.system, Message.visibility == Visibility.public),
                    col(Message.sent_at) >= start, col(Message.sent_at) <= end, latest_case.is_not(None))
             .order_by(col(Message.sent_at), col(Message.id)))
    rows = session.exec(query.offset((page - 1) * page_size).limit(page_size)).all()
    return [update_dict(message=message, case_id=case_id) for message, case_id in rows]


@dataclass
class NewUpdate:
    """A citizen's update to a request (POST servicerequestupdates), validated."""

    case: Case
    update_id: str
    status: str
    text: str
    updated_at: datetime
    author_handle: str
    author_name: str
    media_url: str | None


def parse_update(params: dict[str, str], *, session: Session) -> NewUpdate:
    """Validate POST servicerequestupdates parameters: ``service_request_id`` (404 when it is no Open311 request of
    ours), ``update_id`` (the client's id for the update, at most 100 characters), ``status`` (one of
    UPDATE_STATUSES, any case), ``updated_datetime`` (W3C date-time), ``description`` (required unless a photo
    comes with it), optional ``media_url``, ``email``, ``phone``, ``first_name``, ``last_name``. Other errors are
    400s naming the field."""
    for name, value in params.items():
        limit = MAX_DESCRIPTION if name == "description" else 2000 if name == "media_url" else MAX_FIELD
        if len(value) > limit:
            raise Open311Error(400, f"{name}: longer than {limit} characters")
    for name in ("service_request_id", "update_id", "status", "updated_datetime"):
        if not (params.get(name) or "").strip():
            raise Open311Error(400, f"{name}: required")
    request_id = params["service_request_id"].strip()
    case = None
    if request_id.isdigit() and len(request_id) <= 18:
        case = session.exec(_open311_cases().where(Case.id == int(request_id))).first()
    if case is None:
        raise Open311Error(404, f"service_request_id: {request_id[:40]!r} not found")
    update_id = params["update_id"].strip()
    if len(update_id) > 100:
        raise Open311Error(400, "update_id: longer than 100 characters")
    status = params["status"].strip().upper()
    if status not in UPDATE_STATUSES:
        raise Open311Error(400, f"status: {status[:40]!r} is not one of {', '.join(sorted(UPDATE_STATUSES))}")
    updated_at = _date(params, "updated_datetime")
    media = (params.get("media_url") or "").strip() or None
    if media and not media.startswith(("http://", "https://")):
        raise Open311Error(400, "media_url: must be an http(s) URL")
    handle, name = _author(params)
    return NewUpdate(case=case, update_id=update_id, status=status, text=(params.get("description") or "").strip(),
                     updated_at=updated_at or utcnow(), author_handle=handle, author_name=name, media_url=media)


def update_external_id(*, key_id: int, case_id: int, update_id: str) -> str:
    """The stored message's external id: one message per (api key, request, client's update id)."""
    return f"o311-update:{key_id}:{case_id}:{update_id}"


def store_update(*, session: Session, key_id: int, update: NewUpdate) -> tuple[Message, bool]:
    """Store a citizen's update in the request's conversation as an inbound message (no triage: it belongs to
    that request whatever it says). The same update again returns the stored message (created False); the same
    update id with other text is a 409 Open311Error."""
    from server.conversations import service as conversations

    external_id = update_external_id(key_id=key_id, case_id=update.case.id or 0, update_id=update.update_id)
    text = update.text or "(a photo, no text)"
    existing = conversations.find_message(session=session, channel=Channel.open311, external_id=external_id)
    if existing is not None:
        if existing.text != text:
            raise Open311Error(409, f"update_id: {update.update_id[:40]!r} was already used for another update")
        return existing, False
    conversation = session.get(Conversation, update.case.conversation_id)
    if conversation is None:
        raise Open311Error(404, f"service_request_id: {update.case.id} not found")
    inbound = InboundMessage(
        channel=Channel.open311, external_id=external_id, author_handle=update.author_handle[:200],
        author_name=update.author_name[:200], text=text, sent_at=update.updated_at, visibility=Visibility.private,
        media=[update.media_url] if update.media_url else [],
        thread_id=conversation.external_thread_id or external_id, subject=conversation.subject[:300])
    stored = conversations.ingest(session=session, inbound=clean_inbound(inbound))
    message = stored.message
    message.meta = {**(message.meta or {}), "open311_update": {"update_id": update.update_id,
                                                               "status": update.status}}
    session.add(message)
    session.flush()
    return message, True
