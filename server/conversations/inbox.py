"""The agents' inbox: conversations by status tab, assignee, channel and search, each with its first-response SLA
timer; the customer's timeline across channels; canned replies.

A snoozed conversation whose time has come counts as open (computed at read time: nothing has to wake it up), and
"needs attention" is an open conversation with a case that is still open, or whose customer wrote again and is
waiting for an answer (a follow-up on a case already handed off to the field stays here)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from server.auth.models import Role, User
from server.cases.models import Case, CaseStatus
from server.conversations.models import (
    CannedReply,
    CannedReplyCreate,
    CannedReplyUpdate,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
)
from server.core.errors import Conflict, Invalid, NotFound
from server.core.pagination import PageParams
from server.core.timeutil import as_utc, utcnow
from server.customers.models import Customer, Identity

#: Status tabs; "all" shows every status.
TABS = ("open", "pending", "snoozed", "resolved", "all")
MAX_QUERY = 200


def _status_filter(tab: str, now: datetime) -> ColumnElement[bool] | None:
    """The WHERE clause of a tab; a snooze that has run out is open."""
    snoozed = col(Conversation.status) == ConversationStatus.snoozed
    if tab == "open":
        return or_(col(Conversation.status) == ConversationStatus.open,
                   and_(snoozed, col(Conversation.snoozed_until) <= now))
    if tab == "snoozed":
        return and_(snoozed, or_(col(Conversation.snoozed_until).is_(None), col(Conversation.snoozed_until) > now))
    if tab in ("pending", "resolved"):
        return col(Conversation.status) == ConversationStatus(tab)
    if tab == "all":
        return None
    raise Invalid(f"status: one of {', '.join(TABS)}")


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _search_filter(q: str) -> ColumnElement[bool]:
    """Customer name or handle, the subject, or any message's text (case-insensitive substring)."""
    pattern = _like(q.strip().lstrip("@") if q.strip().startswith("@") else q.strip())
    by_name = exists().where(col(Customer.id) == col(Conversation.customer_id),
                             func.lower(col(Customer.display_name)).like(pattern, escape="\\"))
    by_handle = exists().where(col(Identity.customer_id) == col(Conversation.customer_id),
                               func.lower(col(Identity.handle)).like(pattern, escape="\\"))
    by_text = exists().where(col(Message.conversation_id) == col(Conversation.id),
                             func.lower(col(Message.text)).like(pattern, escape="\\"))
    return or_(func.lower(col(Conversation.subject)).like(pattern, escape="\\"), by_name, by_handle, by_text)


def _attention_filter(now: datetime) -> ColumnElement[bool]:
    open_case = exists().where(col(Case.conversation_id) == col(Conversation.id),
                               col(Case.status).in_([CaseStatus.open, CaseStatus.needs_location]))
    any_case = exists().where(col(Case.conversation_id) == col(Conversation.id))
    status = _status_filter("open", now)
    assert status is not None
    return and_(status, or_(open_case, and_(col(Conversation.awaiting_since).is_not(None), any_case)))


def sla(conversation: Conversation, *, first_response_min: int, now: datetime) -> dict[str, Any] | None:
    """The first-response timer of an open conversation a customer waits on: due time, breached, seconds left
    (negative: overdue by that many seconds); None when nobody waits or the conversation is not open."""
    if conversation.awaiting_since is None or effective_status(conversation, now) != ConversationStatus.open:
        return None
    due = as_utc(conversation.awaiting_since) + timedelta(minutes=first_response_min)
    left = int((due - now).total_seconds())
    return {"due_at": due, "breached": left <= 0, "remaining_s": left}


def effective_status(conversation: Conversation, now: datetime) -> ConversationStatus:
    if (conversation.status == ConversationStatus.snoozed and conversation.snoozed_until is not None
            and as_utc(conversation.snoozed_until) <= now):
        return ConversationStatus.open
    return conversation.status


def inbox(
    *, session: Session, page: PageParams, first_response_min: int, status: str = "open", assignee: str | None = None,
    me: User, channel: str | None = None, q: str | None = None, needs_attention: bool = False, sort: str = "recent",
    now: datetime | None = None,
) -> dict[str, Any]:
    """One page of the inbox with the count of every status tab under the same other filters. ``assignee``: "me",
    "none" or a user id; ``sort``: "recent" (latest message first) or "sla" (longest-waiting customer first);
    ``needs_attention`` narrows the open tab only."""
    now = now or utcnow()
    filters: list[ColumnElement[bool]] = []
    if assignee == "me":
        filters.append(col(Conversation.assignee_user_id) == me.id)
    elif assignee == "none":
        filters.append(col(Conversation.assignee_user_id).is_(None))
    elif assignee:
        if not assignee.isdigit():
            raise Invalid("assignee: 'me', 'none' or a user id")
        filters.append(col(Conversation.assignee_user_id) == int(assignee))
    if channel:
        filters.append(col(Conversation.channel) == channel)
    if q and q.strip():
        if len(q) > MAX_QUERY:
            raise Invalid(f"q: at most {MAX_QUERY} characters")
        filters.append(_search_filter(q))
    def where(tab: str) -> list[ColumnElement[bool]]:
        # "Needs attention" narrows the Open tab only: what is pending, snoozed or resolved needs nobody right now.
        if tab == "open" and needs_attention:
            return [*filters, _attention_filter(now)]
        return [*filters, *([f] if (f := _status_filter(tab, now)) is not None else [])]

    counts = {tab: int(session.exec(select(func.count()).select_from(Conversation).where(*where(tab))).one())
              for tab in TABS}
    query = select(Conversation).where(*where(status))
    if sort == "sla":
        waiting_first = col(Conversation.awaiting_since).is_(None)
        query = query.order_by(waiting_first, col(Conversation.awaiting_since), col(Conversation.id))
    elif sort == "recent":
        query = query.order_by(col(Conversation.last_message_at).desc(), col(Conversation.id).desc())
    else:
        raise Invalid("sort: 'recent' or 'sla'")
    rows = list(session.exec(query.offset(page.offset).limit(page.limit)).all())
    return {"items": _rows(session, rows, first_response_min=first_response_min, now=now),
            "total": counts[status], "offset": page.offset, "limit": page.limit, "counts": counts}


def _rows(session: Session, rows: list[Conversation], *, first_response_min: int, now: datetime
          ) -> list[dict[str, Any]]:
    ids = [c.id for c in rows] or [-1]
    customers = {c.id: c for c in session.exec(
        select(Customer).where(col(Customer.id).in_([c.customer_id for c in rows] or [-1]))).all()}
    users = {u.id: u for u in session.exec(
        select(User).where(col(User.id).in_([c.assignee_user_id for c in rows if c.assignee_user_id] or [-1]))).all()}
    public = col(Message.direction) != Direction.note  # the row's snippet is what the customer saw or wrote
    last_ids = session.exec(select(func.max(Message.id)).where(col(Message.conversation_id).in_(ids), public)
                            .group_by(col(Message.conversation_id))).all()
    last = {m.conversation_id: m for m in session.exec(select(Message).where(col(Message.id).in_(last_ids or [-1])))}
    cases: dict[int, Case] = {}
    for case in session.exec(select(Case).where(col(Case.conversation_id).in_(ids)).order_by(col(Case.id))).all():
        cases[case.conversation_id] = case  # the newest case of each conversation wins
    items = []
    for conv in rows:
        customer = customers.get(conv.customer_id)
        message = last.get(conv.id or 0)
        case = cases.get(conv.id or 0)
        user = users.get(conv.assignee_user_id)
        items.append({
            "conversation_id": conv.id, "channel": conv.channel, "subject": conv.subject,
            "status": effective_status(conv, now), "snoozed_until": conv.snoozed_until,
            "last_message_at": conv.last_message_at, "awaiting_since": conv.awaiting_since,
            "sla": sla(conv, first_response_min=first_response_min, now=now),
            "assignee": None if user is None else {"id": user.id, "name": user.full_name or user.username},
            "customer": {"id": conv.customer_id, "display_name": customer.display_name if customer else ""},
            "last_message": None if message is None else {
                "text": message.text[:280], "direction": message.direction, "author_name": message.author_name},
            "case": None if case is None else {
                "id": case.id, "status": case.status, "category": case.category, "priority": case.priority,
                "category_confidence": case.category_confidence, "sentiment": case.sentiment,
                "urgency": case.urgency, "sla_due_at": case.sla_due_at, "job_id": case.job_id,
                "needs_field_work": case.needs_field_work,
                "geotag_confidence": (case.geotag or {}).get("confidence"),
                "geotag_kind": (case.geotag or {}).get("kind"),
            },
        })
    return items


def agents(*, session: Session) -> list[dict[str, Any]]:
    """Staff a conversation can be assigned to (active admins, dispatchers and agents), by name."""
    users = session.exec(select(User).where(col(User.is_active).is_(True), col(User.role) != Role.technician)
                         .order_by(col(User.full_name), col(User.username))).all()
    return [{"id": u.id, "name": u.full_name or u.username, "username": u.username, "role": u.role} for u in users]


def timeline(*, session: Session, customer_id: int, limit: int = 300) -> dict[str, Any]:
    """Everything that happened with a customer across channels, oldest first: their messages and ours (notes
    marked), cases opened and handed off; with their jobs' live state (status, ETA, technician) and links."""
    from server.jobs.models import Job
    from server.technicians.models import Technician

    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound(f"customer {customer_id} not found")
    conversations = list(session.exec(select(Conversation).where(Conversation.customer_id == customer_id)
                                      .order_by(col(Conversation.last_message_at).desc())).all())
    conv_ids = [c.id for c in conversations] or [-1]
    messages = list(session.exec(select(Message).where(col(Message.conversation_id).in_(conv_ids))
                                 .order_by(col(Message.sent_at).desc(), col(Message.id).desc()).limit(limit)).all())
    cases = list(session.exec(select(Case).where(Case.customer_id == customer_id).order_by(col(Case.id))).all())
    job_ids = sorted({c.job_id for c in cases if c.job_id})
    jobs = list(session.exec(select(Job).where(col(Job.id).in_(job_ids or [-1])).order_by(col(Job.id))).all())
    techs = {t.id: t.name for t in session.exec(select(Technician).where(
        col(Technician.id).in_([j.assigned_technician_id for j in jobs if j.assigned_technician_id] or [-1])))}
    events: list[dict[str, Any]] = [{
        "kind": "note" if m.direction == Direction.note else "message", "at": m.sent_at, "id": m.id,
        "conversation_id": m.conversation_id, "channel": m.channel, "direction": m.direction,
        "author_kind": m.author_kind, "author_name": m.author_name, "text": m.text,
        "delivery_status": m.delivery_status,
    } for m in messages]
    for case in cases:
        events.append({"kind": "case", "at": case.created_at, "id": case.id, "conversation_id": case.conversation_id,
                       "status": case.status, "category": case.category, "job_id": case.job_id})
    events.sort(key=lambda e: (as_utc(e["at"]), 0 if e["kind"] == "case" else 1, e["id"]))
    return {
        "customer": {"id": customer.id, "display_name": customer.display_name, "address": customer.address},
        "conversations": [{"id": c.id, "channel": c.channel, "subject": c.subject, "status": c.status,
                           "last_message_at": c.last_message_at} for c in conversations],
        "jobs": [{"id": j.id, "title": j.title, "status": j.status, "eta_at": j.eta_at,
                  "technician": techs.get(j.assigned_technician_id) if j.assigned_technician_id else None,
                  "conversation_ids": sorted({c.conversation_id for c in cases if c.job_id == j.id})}
                 for j in jobs],
        "events": events,
        "truncated": len(messages) >= limit,
    }


# Canned replies --------------------------------------------------------------------------------------------------

def fill(text: str, customer: Customer | None) -> str:
    """Put the customer's name in ({{name}}, {{first_name}}); "there" when we do not know it ("Hi there")."""
    name = (customer.display_name if customer else "").strip() or "there"
    first = (customer.first_name if customer else "").strip() or "there"
    return text.replace("{{first_name}}", first).replace("{{name}}", name)


def canned_replies(*, session: Session, q: str | None = None) -> list[CannedReply]:
    """Canned replies by short code; ``q`` matches the code or the text."""
    query = select(CannedReply)
    if q and q.strip():
        pattern = _like(q.strip())
        query = query.where(or_(func.lower(col(CannedReply.short_code)).like(pattern, escape="\\"),
                                func.lower(col(CannedReply.text)).like(pattern, escape="\\")))
    return list(session.exec(query.order_by(col(CannedReply.short_code))).all())


def get_canned(*, session: Session, canned_id: int) -> CannedReply:
    canned = session.get(CannedReply, canned_id)
    if canned is None:
        raise NotFound(f"canned reply {canned_id} not found")
    return canned


def _unique_code(session: Session, short_code: str, own_id: int | None = None) -> None:
    clash = session.exec(select(CannedReply.id).where(CannedReply.short_code == short_code,
                                                      col(CannedReply.id) != (own_id or -1))).first()
    if clash is not None:
        raise Conflict(f"short_code: '{short_code}' is already used by canned reply {clash}")


def create_canned(*, session: Session, canned_in: CannedReplyCreate, actor: User) -> CannedReply:
    _unique_code(session, canned_in.short_code)
    canned = CannedReply.model_validate(canned_in, update={"created_by_user_id": actor.id})
    session.add(canned)
    session.flush()
    return canned


def update_canned(*, session: Session, canned: CannedReply, canned_in: CannedReplyUpdate) -> CannedReply:
    data = canned_in.model_dump(exclude_unset=True, exclude_none=True)
    if "short_code" in data:
        _unique_code(session, data["short_code"], canned.id)
    for key, value in data.items():
        setattr(canned, key, value)
    canned.updated_at = utcnow()
    session.add(canned)
    session.flush()
    return canned


def delete_canned(*, session: Session, canned: CannedReply) -> None:
    session.delete(canned)
    session.flush()

