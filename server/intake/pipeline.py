"""The intake pipeline: one inbound message → normalize → identity → triage → geotag → case → incident join or
job (the automatic hand-off policy) → stored, in the caller's transaction.

Every message runs inside its own SAVEPOINT (unless the caller's transaction holds it alone), so a bad one rolls
back alone and an importer commits batches.
Redelivery of the same (channel, external id) writes nothing and returns the original result."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from server.audit import service as audit
from server.cases.models import Case, CaseStatus
from server.config import Settings
from server.conversations import service as conversations
from server.conversations.models import Conversation, InboundMessage, Message
from server.core.errors import Conflict, Invalid
from server.core.timeutil import as_utc, utcnow
from server.customers.models import Channel, Customer, Identity, normalize_handle
from server.identity import service as identity
from server.incidents import service as incidents
from server.intake.adapters import our_handles
from server.intake.geotag import locate
from server.intake.guard import clean_inbound, clean_text
from server.jobs.models import Job
from server.triage.replies import reply
from server.triage.service import load_taxonomy, triage

if TYPE_CHECKING:
    from geodata import City

ASK_LOCATION = reply("ask_location", "en")  # per language in server/triage/replies.toml
NO_REPLY_CHANNELS = (Channel.open311, Channel.phone)


@dataclass
class IntakeResult:
    message: Message
    case: Case | None
    job: Job | None
    created: bool
    joined_incident: bool
    needs_location: bool
    listening: bool = False

    def summary(self) -> dict[str, Any]:
        """What the channel endpoints answer."""
        case, job = self.case, self.job
        return {
            "message_id": self.message.id, "conversation_id": self.message.conversation_id,
            "customer_id": self.message.customer_id, "created": self.created, "case_id": case.id if case else None,
            "case_status": str(case.status) if case else None, "category": case.category if case else None,
            "priority": case.priority if case else None, "job_id": job.id if job else None,
            "joined_incident": self.joined_incident, "needs_location": self.needs_location,
            "listening": self.listening, "geotag": case.geotag if case else None,
        }


_taxonomy_memo: dict[str, tuple[float, Any]] = {}


def _taxonomy(settings: Settings) -> Any:
    """The taxonomy, re-checked on disk at most once a second (load_taxonomy stats the file on every call)."""
    key = str(settings.taxonomy_path)
    hit = _taxonomy_memo.get(key)
    now = time.monotonic()
    if hit is None or now - hit[0] > 1.0:
        hit = (now, load_taxonomy(settings.taxonomy_path))
        _taxonomy_memo[key] = hit
    return hit[1]


def _existing_result(session: Session, message: Message) -> IntakeResult:
    """The result of a message stored before: its conversation's case (and job), nothing written."""
    from server.listening.models import ListeningMention

    case = session.exec(select(Case).where(Case.conversation_id == message.conversation_id, Case.created_at
                                           >= message.created_at).order_by(col(Case.id))).first()
    case = case or session.exec(select(Case).where(Case.conversation_id == message.conversation_id)
                                .order_by(col(Case.id).desc())).first()
    job = session.get(Job, case.job_id) if case is not None and case.job_id else None
    listening = session.exec(select(ListeningMention.id).where(ListeningMention.message_id == message.id)).first()
    return IntakeResult(message=message, case=case, job=job, created=False,
                        joined_incident=bool(case is not None and (case.geotag or {}).get("incident")),
                        needs_location=case is not None and case.status == CaseStatus.needs_location,
                        listening=listening is not None or bool((message.meta or {}).get("listening")))


def receive(
    *, session: Session, settings: Settings, city: City | None, inbound: InboundMessage, followers: int = 0,
    reposts: int = 0, addressed_to_us: bool = True, service_code: str | None = None,
    known_address: str | None = None, auto_handoff: bool | None = None, auto_reply: bool = True,
    savepoint: bool = True, stated_address: str | None = None, meta: dict[str, Any] | None = None,
    sender_authenticated: bool | None = None,
) -> IntakeResult:
    """Take one inbound message all the way in (see the module docstring); the caller commits.

    ``service_code`` (Open311) forces the category; ``known_address`` overrides the customer's address on file
    as the last geotag resort; ``stated_address`` is an address typed in an address field (Open311
    ``address_string``, the web form's address): where the problem is, trusted as far as it resolves;
    ``auto_handoff`` overrides ``settings.auto_handoff`` (the demo uses it to make only today's jobs);
    ``auto_reply=False`` stores no automatic replies (historical imports); ``savepoint=False`` when the caller's
    transaction holds this message alone (a failure rolls all of it back anyway): two round trips fewer.
    ``meta``: provider facts kept on the stored message (``x_user_id`` for X DMs, Messenger ids, the email sender
    verdict); ``sender_authenticated=False`` (an email whose From failed SPF/DKIM/DMARC): the case's priority is
    capped at ``settings.unauthenticated_max_priority`` and the customer's address on file is not used to place it.
    Text fields lose NUL and other XML-illegal control characters first (every channel, both databases)."""
    inbound = clean_inbound(inbound)
    known_address = clean_text(known_address) if known_address else known_address
    stated_address = clean_text(stated_address) if stated_address else stated_address
    existing = conversations.find_message(session=session, channel=inbound.channel, external_id=inbound.external_id)
    if existing is not None:
        if existing.text != inbound.text:
            raise Conflict(f"external_id: '{inbound.external_id}' on {inbound.channel} was already used for a "
                           "different message")
        return _existing_result(session, existing)
    taxonomy = _taxonomy(settings)
    hint = None
    if service_code is not None:
        category = taxonomy.by_service_code(service_code)
        if category is None:
            raise Invalid(f"service_code: unknown service code '{service_code}'")
        hint = category.name
    with session.begin_nested() if savepoint else contextlib.nullcontext(), session.no_autoflush:
        return _receive(session, settings, city, inbound, taxonomy, hint, followers, reposts, addressed_to_us,
                        known_address, settings.auto_handoff if auto_handoff is None else auto_handoff, auto_reply,
                        stated_address, meta or {}, sender_authenticated)


_LATEST_CASE = select(Case).where(Case.conversation_id == bindparam("conversation_id")).order_by(col(Case.id).desc())


def _receive(session: Session, settings: Settings, city: City | None, inbound: InboundMessage, taxonomy: Any,
             hint: str | None, followers: int, reposts: int, addressed_to_us: bool, known_address: str | None,
             auto_handoff: bool, auto_reply: bool, stated_address: str | None = None,
             meta: dict[str, Any] | None = None, sender_authenticated: bool | None = None) -> IntakeResult:
    untrusted = sender_authenticated is False
    quarantine = _claims_verified_sender(session, inbound, meta or {}) if untrusted else None
    if quarantine is not None:
        # Not attached to the customer it names: its own record, its own thread (a forged In-Reply-To must not
        # put it in their conversation either), no automatic reply to an address that did not send it.
        customer = _unverified_sender(session, inbound, quarantine)
        inbound = inbound.model_copy(update={"thread_id": None, "reply_to_external_id": None})
        meta, auto_reply = {**(meta or {}), "sender_quarantine": quarantine}, False
    else:
        customer = identity.resolve(session=session, inbound=inbound)
    if known_address and not customer.address:
        _learn_address(session, city, customer, known_address)
    message, _, conversation, new_thread = conversations.ingest(session=session, inbound=inbound, customer=customer,
                                                                checked=True)
    if meta:
        message.meta = {**(message.meta or {}), **meta}
        session.add(message)
    identity.suggest_from_message(session=session, customer=customer, message=message,
                                  ours=our_handles(settings.social_handles))
    gps = (inbound.lat, inbound.lon) if inbound.lat is not None and inbound.lon is not None else None
    received_at = as_utc(message.sent_at)
    if not addressed_to_us:
        return _listening(session, settings, city, message, customer, taxonomy, gps, followers, reposts)
    from server.appointments.service import answer_offer  # "2" to an open slot offer books it: no triage

    if (answered := answer_offer(session=session, settings=settings, message=message, city=city)) is not None:
        return IntakeResult(message=message, case=answered.case, job=answered.job, created=True,
                            joined_incident=False, needs_location=False)

    # A thread this message started has no case yet; else its latest case decides (a follow-up or a new problem).
    case = None if new_thread else session.exec(_LATEST_CASE,
                                                params={"conversation_id": message.conversation_id}).first()
    if case is not None and case.status != CaseStatus.closed:
        return _follow_up(session, settings, city, message, customer, case, gps, known_address, auto_handoff,
                          trust_address_on_file=not untrusted)

    result = triage(inbound.text, received_at=received_at, visibility=str(inbound.visibility), followers=followers,
                    reposts=reposts, taxonomy=taxonomy, category_hint=hint, channel=str(inbound.channel))
    geotag = locate(city=city, text=inbound.text, gps=gps, place_hint=inbound.place_name,
                    known_address=known_address or (None if untrusted else customer.address),
                    min_confidence=settings.geotag_min_confidence, stated_address=stated_address)
    label = taxonomy.by_name(result.category).label if result.category else None
    priority, triage_record = result.priority, {**result.to_dict(), "label": label, "message_id": message.id}
    if untrusted:  # a forged From must not buy an urgent dispatch: an agent can raise it after checking
        triage_record["sender_authenticated"] = False
        if quarantine is not None:
            triage_record["sender_quarantine"] = quarantine
        if priority > settings.unauthenticated_max_priority:
            triage_record["priority_capped_from"] = priority
            priority = settings.unauthenticated_max_priority
    case = Case(
        conversation_id=message.conversation_id, customer_id=customer.id or 0, category=result.category,
        priority=priority, sla_due_at=result.sla_due_at, needs_field_work=result.field_work,
        category_confidence=result.confidence, sentiment=result.sentiment, urgency=result.urgency,
        triage=triage_record, geotag=geotag,
    )
    _apply_location(case, geotag, inbound.place_name)
    session.add(case)
    job, joined, needs_location = None, False, False
    if result.field_work and not geotag.get("confident") and not geotag.get("outside_service_area"):
        needs_location = True
        case.status = CaseStatus.needs_location
        if auto_reply and message.channel not in NO_REPLY_CHANNELS:
            session.flush()
            _ask_for_location(session, case, message, conversation)
    elif auto_handoff and result.field_work and not result.needs_agent and geotag.get("confident"):
        session.flush()
        job, joined = incidents.attach(session=session, settings=settings, case=case, message=message, actor=None)
    session.add(case)  # flushed when the savepoint is released
    return IntakeResult(message=message, case=case, job=job, created=True, joined_incident=joined,
                        needs_location=needs_location)


_VERIFIED_OWNER = select(Identity.customer_id).where(
    Identity.channel == bindparam("channel"), Identity.handle == bindparam("handle"),
    col(Identity.verified).is_(True))


def _claims_verified_sender(session: Session, inbound: InboundMessage, meta: dict[str, Any]
                            ) -> dict[str, Any] | None:
    """When an unauthenticated message's sender is a verified identity of a known customer (mail from that address
    passed SPF/DKIM/DMARC before, or an agent verified it): what the case says about it; else None."""
    handle = normalize_handle(inbound.channel, inbound.author_handle)
    owner = session.exec(_VERIFIED_OWNER, params={"channel": inbound.channel, "handle": handle}).first()
    if owner is None:
        return None
    why = str(meta.get("sender_auth_detail") or "no SPF/DKIM/DMARC pass aligned with the From domain")
    return {"claimed_sender": handle, "verified_customer_id": owner, "auth_detail": why[:300],
            "note": (f"Unverified sender: From: {handle} is a verified address of customer {owner}, but this message "
                     f"failed sender authentication ({why[:200]}). It is kept apart from that customer's history, "
                     "was not answered automatically, and may be forged: check with the customer before acting "
                     "on it or merging.")}


def _unverified_sender(session: Session, inbound: InboundMessage, quarantine: dict[str, Any]) -> Customer:
    """A customer record of its own for a message that claims a verified customer's address without proof: no
    identity (the address stays theirs alone), so nothing reaches or joins their history."""
    name = inbound.author_name or inbound.author_handle
    customer = Customer(display_name=f"Unverified sender: {name}"[:200])
    session.add(customer)
    session.flush()
    audit.record(session=session, action="create", entity="customer", entity_id=customer.id,
                 detail={"first_contact": str(inbound.channel), "unverified_sender_claiming_customer":
                         quarantine["verified_customer_id"]})
    return customer


def _learn_address(session: Session, city: City | None, customer: Customer, address: str) -> None:
    """Keep an address the customer gave us (geotagged when the map knows it) and look for namesakes there."""
    customer.address = address[:300]
    located = locate(city=city, text="", known_address=address, min_confidence=0.0) if city is not None else {}
    if located.get("lat") is not None:
        customer.address_lat, customer.address_lon = located["lat"], located["lon"]
    session.add(customer)
    session.flush()
    identity.suggest_same_address(session=session, customer=customer)


def _apply_location(case: Case, geotag: dict[str, Any], place_name: str | None) -> None:
    if geotag.get("lat") is not None and geotag.get("confident"):
        case.lat, case.lon = float(geotag["lat"]), float(geotag["lon"])
    case.location_text = (geotag.get("span") or place_name or None) if geotag.get("lat") is not None else place_name
    if case.location_text:
        case.location_text = case.location_text[:300]


def _ask_for_location(session: Session, case: Case, message: Message, conversation: Conversation | None) -> None:
    if message.channel in NO_REPLY_CHANNELS:
        return
    from server.notify.service import send_to_customer

    # The case was created just now (cases are never deleted, so its id is new): no earlier ask can exist.
    text = reply("ask_location", (case.triage or {}).get("language"))  # the customer's language when we have it
    send_to_customer(session=session, conversation_id=message.conversation_id, text=text,
                     kind="ask_location", dedupe_key=f"ask-location:{case.id}", conversation=conversation, new_key=True)


def _follow_up(session: Session, settings: Settings, city: City | None, message: Message, customer: Customer,
               case: Case, gps: tuple[float, float] | None, known_address: str | None,
               auto_handoff: bool, trust_address_on_file: bool = True) -> IntakeResult:
    """A further message on a thread with an open case: when we asked where, geotag the whole thread again."""
    job = session.get(Job, case.job_id) if case.job_id else None
    joined = False
    if case.status == CaseStatus.needs_location:
        thread = [m.text for m in conversations.messages(session=session, conversation_id=message.conversation_id)
                  if m.direction == "inbound"]
        geotag = locate(city=city, text=message.text, gps=gps, place_hint=message.place_name,
                        min_confidence=settings.geotag_min_confidence)
        if not geotag.get("confident"):
            geotag = locate(city=city, text=" . ".join(reversed(thread)), gps=gps, place_hint=message.place_name,
                            known_address=known_address or (customer.address if trust_address_on_file else None),
                            min_confidence=settings.geotag_min_confidence)
        geotag["rerun_on_message_id"] = message.id
        case.geotag = geotag
        _apply_location(case, geotag, message.place_name)
        case.updated_at = utcnow()
        if geotag.get("confident"):
            case.status = CaseStatus.open
            if auto_handoff and case.needs_field_work and not (case.triage or {}).get("needs_agent"):
                first = session.get(Message, (case.triage or {}).get("message_id") or message.id) or message
                job, joined = incidents.attach(session=session, settings=settings, case=case, message=first,
                                               actor=None)
    session.add(case)
    session.flush()
    return IntakeResult(message=message, case=case, job=job, created=True, joined_incident=joined,
                        needs_location=case.status == CaseStatus.needs_location)


def _listening(session: Session, settings: Settings, city: City | None, message: Message, customer: Customer,
               taxonomy: Any, gps: tuple[float, float] | None, followers: int, reposts: int) -> IntakeResult:
    """A public post not addressed to us: kept, and listed for agents when it matches the taxonomy inside the
    service area."""
    from server.listening.models import ListeningMention

    message.meta = {**(message.meta or {}), "listening": True}
    session.add(message)
    result = triage(message.text, received_at=as_utc(message.sent_at), visibility=str(message.visibility),
                    followers=followers, reposts=reposts, taxonomy=taxonomy)
    if result.category is None or result.needs_agent:
        session.flush()
        return IntakeResult(message, None, None, True, False, False, listening=True)
    geotag = locate(city=city, text=message.text, gps=gps, place_hint=message.place_name,
                    min_confidence=settings.geotag_min_confidence)
    if geotag.get("lat") is None or not geotag.get("confident"):
        session.flush()
        return IntakeResult(message, None, None, True, False, False, listening=True)
    session.add(ListeningMention(
        message_id=message.id or 0, customer_id=customer.id, category=result.category, confidence=result.confidence,
        priority=result.priority, lat=geotag["lat"], lon=geotag["lon"], location_confidence=geotag["confidence"],
    ))
    session.flush()
    return IntakeResult(message, None, None, True, False, False, listening=True)
