"""Identity resolution across channels, merges that can be undone exactly, merge suggestions, customer 360.

Rules: a *verified* key (a channel handle the platform vouches for: a tweet's author, an SMS sender, an email
From, a signed-in account linked on a web form) that is already known means the same customer, and two
customers found through verified keys of one message are merged automatically. Keys that are only claimed
(an email typed into a form), similar names, the same address or a message mentioning another customer's
handle only ever produce a *suggestion* an agent confirms. Two customers whose verified keys conflict
(different verified emails or phone numbers) are never merged, automatically or by hand."""

from __future__ import annotations

import re
from typing import Any

from rapidfuzz import fuzz
from sqlalchemy import bindparam, update
from sqlmodel import Session, col, or_, select

from server.audit import service as audit
from server.auth.models import User
from server.cases.models import Case
from server.conversations.models import Conversation, InboundMessage, Message
from server.core.errors import Conflict, Invalid, NotFound
from server.core.timeutil import utcnow
from server.customers import service as customers
from server.customers.models import Channel, Customer, CustomerCreate, Identity, IdentityCreate, normalize_handle
from server.identity.models import CustomerMerge, MergeSuggestion, SuggestionStatus
from server.jobs.models import Job, JobReport

# Channels whose verified handles identify one person: two different verified ones cannot be the same customer.
EXCLUSIVE_CHANNELS = (Channel.email, Channel.sms, Channel.phone)
PROFILE_FIELDS = ("address", "address_lat", "address_lon", "preferred_channel")
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{1,30})")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_PHONE = re.compile(r"(?<!\d)\+?1?[ (.-]*\d{3}[ ).-]*\d{3}[ .-]*\d{4}(?!\d)")


def survivor(*, session: Session, customer_id: int) -> Customer:
    """The customer a (possibly merged-away) id now lives in."""
    customer = customers.get(session=session, customer_id=customer_id)
    seen = {customer.id}
    while customer.merged_into_id is not None:
        customer = customers.get(session=session, customer_id=customer.merged_into_id)
        if customer.id in seen:  # pragma: no cover - a cycle would be a bug; never loop forever
            break
        seen.add(customer.id)
    return customer


_IDENTITY_BY_HANDLE = select(Identity).where(Identity.channel == bindparam("channel"),
                                             Identity.handle == bindparam("handle"))


def _find(session: Session, channel: str, handle: str) -> Identity | None:
    return session.exec(_IDENTITY_BY_HANDLE,
                        params={"channel": channel, "handle": normalize_handle(channel, handle)}).first()


_CUSTOMER_BY_HANDLE = select(Customer).join(Identity, col(Identity.customer_id) == col(Customer.id)).where(
    Identity.channel == bindparam("channel"), Identity.handle == bindparam("handle"))


def _known_author(session: Session, channel: str, handle: str) -> Customer | None:
    """The customer (merges followed) whose identity this handle is, in one statement for the usual case of a
    customer never merged away (the lookup of the identity and then its customer were two round trips on every
    message)."""
    owner = session.exec(_CUSTOMER_BY_HANDLE,
                         params={"channel": channel, "handle": normalize_handle(channel, handle)}).first()
    if owner is None or owner.merged_into_id is None:
        return owner
    return survivor(session=session, customer_id=owner.id or 0)


_VOUCH = update(Identity).where(Identity.channel == bindparam("v_channel"), Identity.handle == bindparam("v_handle"),
                               col(Identity.verified).is_(False)).values(verified=True).execution_options(
    synchronize_session=False)


def _vouch(session: Session, channel: str, handle: str) -> None:
    """An email identity first seen unauthenticated becomes verified once mail from it is authenticated (SPF/DKIM/
    DMARC; issue 26), so its verified-key protections (no merge with a conflicting customer) apply from then on."""
    session.execute(_VOUCH, {"v_channel": channel, "v_handle": normalize_handle(channel, handle)})


def _attach(session: Session, customer: Customer, channel: str, handle: str, name: str, verified: bool) -> Identity:
    return customers.add_identity(
        session=session, customer=customer,
        identity_in=IdentityCreate(channel=channel, handle=handle, display_name=name, verified=verified), actor=None,
    )


def conflicting_keys(*, session: Session, a_id: int, b_id: int) -> list[str]:
    """Verified keys that make two customers provably different people (e.g. two different verified emails)."""
    rows = session.exec(select(Identity).where(
        col(Identity.customer_id).in_([a_id, b_id]), col(Identity.verified).is_(True),
        col(Identity.channel).in_(list(EXCLUSIVE_CHANNELS)),
    )).all()
    by_channel: dict[str, dict[int, set[str]]] = {}
    for ident in rows:
        by_channel.setdefault(str(ident.channel), {}).setdefault(ident.customer_id, set()).add(ident.handle)
    out = []
    for channel, owners in sorted(by_channel.items()):
        if len(owners) == 2 and owners[a_id] != owners[b_id]:
            out.append(f"{channel} {', '.join(sorted(owners[a_id]))} (customer {a_id}) vs "
                       f"{', '.join(sorted(owners[b_id]))} (customer {b_id})")
    return out


def resolve(*, session: Session, inbound: InboundMessage) -> Customer:
    """The customer who wrote this message: found by its verified keys (merging customers that the same
    message proves to be one person), else created; unverified matches become suggestions."""
    if not inbound.linked_handles:
        known = _known_author(session, inbound.channel, inbound.author_handle)
        if known is None:
            return _first_contact(session, inbound)
        if inbound.author_verified and inbound.channel == Channel.email:
            _vouch(session, inbound.channel, inbound.author_handle)
        return known
    keys = [(inbound.channel, inbound.author_handle, inbound.author_verified)]
    keys += [(link.channel, link.handle, link.verified) for link in inbound.linked_handles]
    found: list[tuple[tuple[Any, str, bool], Identity | None]] = [(k, _find(session, k[0], k[1])) for k in keys]
    primary_identity = found[0][1]
    customer: Customer | None = None
    if primary_identity is not None:
        customer = survivor(session=session, customer_id=primary_identity.customer_id)
    suggest: list[tuple[int, str]] = []
    for (channel, _handle, verified), ident in found[1:]:
        if ident is None:
            continue
        owner = survivor(session=session, customer_id=ident.customer_id)
        if customer is None and verified and ident.verified:
            customer = owner
        elif customer is not None and owner.id != customer.id:
            if verified and ident.verified and not conflicting_keys(session=session, a_id=customer.id or 0,
                                                                    b_id=owner.id or 0):
                merge(session=session, survivor_id=customer.id or 0, other_id=owner.id or 0, actor=None,
                      reason=f"same verified {channel} {ident.handle}", automatic=True)
            else:
                suggest.append((owner.id or 0, f"same {channel} {ident.handle} (not verified on both sides)"))
        elif customer is None:
            suggest.append((owner.id or 0, f"same {channel} {ident.handle} (not verified)"))
    created = customer is None
    if customer is None:
        customer = customers.create(
            session=session, customer_in=CustomerCreate(display_name=inbound.author_name or inbound.author_handle),
            actor=None,
        )
    for (channel, handle, verified), ident in found:
        if ident is None:
            _attach(session, customer, channel, handle, inbound.author_name, verified)
    for other_id, reason in suggest:
        add_suggestion(session=session, a_id=customer.id or 0, b_id=other_id, reason=reason)
    if created:
        _suggest_similar_names(session, customer)
    return customer


def _first_contact(session: Session, inbound: InboundMessage) -> Customer:
    """A new customer with the one identity this message came from (one audit entry for both)."""
    customer = Customer(display_name=(inbound.author_name or inbound.author_handle)[:200])
    session.add(customer)
    session.flush()
    session.add(Identity(customer_id=customer.id or 0, channel=inbound.channel, display_name=inbound.author_name,
                         handle=normalize_handle(inbound.channel, inbound.author_handle),
                         verified=inbound.author_verified))
    audit.record(session=session, action="create", entity="customer", entity_id=customer.id,
                 detail={"first_contact": str(inbound.channel)})
    _suggest_similar_names(session, customer)
    return customer


def suggest_from_message(*, session: Session, customer: Customer, message: Message,
                         ours: frozenset[str] = frozenset()) -> None:
    """A message that mentions another customer's handle, email or phone suggests they are one person.
    ``ours``: our own social handles (lower case), mentioned by nearly every post to us and never a customer's."""
    text = message.text
    if "@" not in text and not any(ch.isdigit() for ch in text):
        return
    probes: list[tuple[str, str]] = []
    if message.channel in (Channel.twitter, Channel.facebook):
        probes += [(str(message.channel), m) for m in _MENTION.findall(text) if m.lower() not in ours]
    probes += [(Channel.email.value, m) for m in _EMAIL.findall(text)]
    probes += [(Channel.sms.value, m) for m in _PHONE.findall(text)]
    for channel, handle in probes[:10]:
        ident = _find(session, channel, handle)
        if ident is None:
            continue
        owner = survivor(session=session, customer_id=ident.customer_id)
        if owner.id != customer.id:
            add_suggestion(session=session, a_id=customer.id or 0, b_id=owner.id or 0,
                           reason=f"message {message.id} mentions {channel} {ident.handle}")


def _suggest_similar_names(session: Session, customer: Customer) -> None:
    words = [w for w in re.findall(r"[^\W\d_]+", customer.display_name.lower()) if len(w) > 1]
    if len(words) < 2:
        return  # single tokens and numeric handles are too weak to suggest anything
    rows = session.exec(select(Customer).where(
        col(Customer.display_name).ilike(f"%{words[-1]}%"), col(Customer.merged_into_id).is_(None),
        Customer.id != customer.id,
    ).limit(50)).all()
    for other in rows:
        score = fuzz.token_sort_ratio(customer.display_name.lower(), other.display_name.lower())
        if score >= 88:
            add_suggestion(session=session, a_id=customer.id or 0, b_id=other.id or 0,
                           reason=f"similar names: '{customer.display_name}' / '{other.display_name}'",
                           score=score / 100)


def suggest_same_address(*, session: Session, customer: Customer) -> None:
    """Customers with the same address on file are suggested as one person."""
    if not customer.address:
        return
    key = " ".join(customer.address.lower().replace(",", " ").split())
    for other in session.exec(select(Customer).where(
        col(Customer.address).ilike(customer.address.strip()), Customer.id != customer.id,
        col(Customer.merged_into_id).is_(None),
    ).limit(20)).all():
        if " ".join((other.address or "").lower().replace(",", " ").split()) == key:
            add_suggestion(session=session, a_id=customer.id or 0, b_id=other.id or 0,
                           reason=f"same address: {customer.address}")


def add_suggestion(
    *, session: Session, a_id: int, b_id: int, reason: str, score: float = 0.5
) -> MergeSuggestion | None:
    """Record (or add a reason to) a pending suggestion that two customers are one person."""
    if a_id == b_id:
        return None
    lo, hi = sorted((a_id, b_id))
    suggestion = session.exec(select(MergeSuggestion).where(
        MergeSuggestion.customer_a_id == lo, MergeSuggestion.customer_b_id == hi)).first()
    if suggestion is None:
        suggestion = MergeSuggestion(customer_a_id=lo, customer_b_id=hi, reasons=[reason], score=score)
        session.add(suggestion)
        session.flush()
    elif suggestion.status == SuggestionStatus.pending and reason not in suggestion.reasons:
        suggestion.reasons = [*suggestion.reasons, reason][:20]
        suggestion.score = min(1.0, max(suggestion.score, score) + 0.1)
        session.add(suggestion)
    return suggestion


def list_suggestions(*, session: Session, status: SuggestionStatus, offset: int, limit: int
                     ) -> tuple[list[MergeSuggestion], int]:
    """Suggestions with this status, strongest first."""
    from server.core.pagination import PageParams, paginate

    query = select(MergeSuggestion).where(MergeSuggestion.status == status)
    return paginate(session, query.order_by(col(MergeSuggestion.score).desc(), col(MergeSuggestion.id)),
                    PageParams(offset=offset, limit=limit))


def decide_suggestion(*, session: Session, suggestion_id: int, confirm: bool, actor: User) -> MergeSuggestion:
    """Confirm (merge the two customers) or reject a pending suggestion."""
    suggestion = session.get(MergeSuggestion, suggestion_id)
    if suggestion is None:
        raise NotFound(f"merge suggestion {suggestion_id} not found")
    if suggestion.status != SuggestionStatus.pending:
        raise Conflict(f"status: merge suggestion {suggestion_id} was already {suggestion.status}")
    if confirm:
        a = survivor(session=session, customer_id=suggestion.customer_a_id)
        b = survivor(session=session, customer_id=suggestion.customer_b_id)
        if a.id == b.id:
            raise Conflict(f"customers {suggestion.customer_a_id} and {suggestion.customer_b_id} are already merged")
        record = merge(session=session, survivor_id=a.id or 0, other_id=b.id or 0, actor=actor,
                       reason="confirmed suggestion: " + "; ".join(suggestion.reasons)[:250])
        suggestion.merge_id = record.id
    suggestion.status = SuggestionStatus.confirmed if confirm else SuggestionStatus.rejected
    suggestion.decided_by = actor.username
    suggestion.decided_at = utcnow()
    session.add(suggestion)
    audit.record(session=session, action="confirm" if confirm else "reject", entity="merge_suggestion",
                 entity_id=suggestion.id, actor_user_id=actor.id, actor=actor.username)
    return suggestion


# Tables whose rows belong to a customer, moved on merge and moved back on unmerge.
_OWNED: dict[str, Any] = {"identity": Identity, "conversation": Conversation, "message": Message, "case": Case,
                          "job_report": JobReport}


def _owned(name: str) -> Any:
    if name == "listening_mention":
        from server.listening.models import ListeningMention

        return ListeningMention
    return _OWNED[name]


def merge(*, session: Session, survivor_id: int, other_id: int, actor: User | None, reason: str = "",
          automatic: bool = False) -> CustomerMerge:
    """Merge ``other_id`` into ``survivor_id``: every identity, conversation, message, case and report moves;
    empty profile fields are filled from the other. Refused when verified keys conflict (409 naming them)."""
    if survivor_id == other_id:
        raise Invalid("other_id: a customer cannot be merged with itself")
    keep = customers.get(session=session, customer_id=survivor_id)
    other = customers.get(session=session, customer_id=other_id)
    for c in (keep, other):
        if c.merged_into_id is not None:
            raise Conflict(f"customer {c.id} was already merged into customer {c.merged_into_id}; merge that one")
    conflicts = conflicting_keys(session=session, a_id=survivor_id, b_id=other_id)
    if conflicts:
        raise Conflict("conflicting verified keys, these are different people: " + "; ".join(conflicts))
    moved: dict[str, list[int]] = {}
    for name in (*_OWNED, "listening_mention"):
        model = _owned(name)
        rows = session.exec(select(model).where(model.customer_id == other_id)).all()
        moved[name] = sorted(r.id for r in rows)
        for row in rows:
            row.customer_id = survivor_id
            session.add(row)
    filled: dict[str, Any] = {}
    for field in PROFILE_FIELDS:
        if getattr(keep, field) is None and getattr(other, field) is not None:
            value = getattr(other, field)
            setattr(keep, field, value)
            filled[field] = value.value if hasattr(value, "value") else value
    other.merged_into_id = survivor_id
    session.add(keep)
    session.add(other)
    record = CustomerMerge(survivor_id=survivor_id, merged_id=other_id, reason=reason[:300], automatic=automatic,
                           moved=moved, filled=filled, actor=actor.username if actor else "system")
    session.add(record)
    session.flush()
    audit.record(session=session, action="merge", entity="customer", entity_id=survivor_id,
                 actor_user_id=actor.id if actor else None, actor=actor.username if actor else "system",
                 detail={"merged_id": other_id, "merge_id": record.id, "reason": reason[:200], "automatic": automatic,
                         "moved": {k: len(v) for k, v in moved.items()}})
    return record


def unmerge(*, session: Session, customer_id: int, merge_id: int, actor: User) -> CustomerMerge:
    """Undo a merge: the rows that moved go back and copied profile fields are cleared, restoring both histories."""
    record = session.get(CustomerMerge, merge_id)
    if record is None or record.survivor_id != customer_id:
        raise NotFound(f"merge {merge_id} of customer {customer_id} not found")
    if record.undone_at is not None:
        raise Conflict(f"merge {merge_id} was already undone")
    keep = customers.get(session=session, customer_id=record.survivor_id)
    if keep.merged_into_id is not None:
        raise Conflict(f"customer {keep.id} was since merged into customer {keep.merged_into_id}; undo that first")
    other = customers.get(session=session, customer_id=record.merged_id)
    for name, ids in record.moved.items():
        if not ids:
            continue
        model = _owned(name)
        for row in session.exec(select(model).where(col(model.id).in_(ids))).all():
            if row.customer_id == keep.id:
                row.customer_id = other.id
                session.add(row)
    for field, value in record.filled.items():
        current = getattr(keep, field)
        if (current.value if hasattr(current, "value") else current) == value:
            setattr(keep, field, None)
    other.merged_into_id = None
    record.undone_at = utcnow()
    record.undone_by = actor.username
    session.add_all([keep, other, record])
    session.flush()
    audit.record(session=session, action="unmerge", entity="customer", entity_id=keep.id, actor_user_id=actor.id,
                 actor=actor.username, detail={"merged_id": other.id, "merge_id": record.id})
    return record


def merges_of(*, session: Session, customer_id: int) -> list[CustomerMerge]:
    return list(session.exec(select(CustomerMerge).where(or_(
        CustomerMerge.survivor_id == customer_id, CustomerMerge.merged_id == customer_id)).order_by(
        col(CustomerMerge.id))).all())


def customer_360(*, session: Session, customer_id: int) -> dict[str, Any]:
    """Everything about one customer: identities, every conversation (messages in time order) on every
    channel, a cross-channel timeline, cases, jobs and merges."""
    customer = survivor(session=session, customer_id=customer_id)
    cid = customer.id or 0
    conversations = session.exec(select(Conversation).where(Conversation.customer_id == cid)
                                 .order_by(col(Conversation.created_at), col(Conversation.id))).all()
    conv_ids = [c.id for c in conversations]
    messages = session.exec(select(Message).where(col(Message.conversation_id).in_(conv_ids or [-1]))
                            .order_by(col(Message.sent_at), col(Message.id))).all() if conv_ids else []
    by_conv: dict[int, list[Message]] = {}
    for m in messages:
        by_conv.setdefault(m.conversation_id, []).append(m)
    cases = session.exec(select(Case).where(Case.customer_id == cid).order_by(col(Case.created_at))).all()
    job_ids = {r for r in session.exec(select(JobReport.job_id).where(JobReport.customer_id == cid)).all()}
    job_ids |= {c.job_id for c in cases if c.job_id is not None}
    jobs = session.exec(select(Job).where(col(Job.id).in_(sorted(job_ids) or [-1])).order_by(col(Job.id))).all()
    return {
        "customer": customer, "requested_id": customer_id,
        "identities": customers.identities(session=session, customer_id=cid),
        "conversations": [{**c.model_dump(), "messages": by_conv.get(c.id or 0, [])} for c in conversations],
        "timeline": list(messages), "cases": list(cases), "jobs": list(jobs),
        "merges": merges_of(session=session, customer_id=cid),
    }
