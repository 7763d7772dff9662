"""Conversations and messages: storing inbound messages once, threading them, and replies."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from server.auth.models import Role, User
from server.cases.models import Case
from server.conversations.models import (
    AuthorKind,
    Conversation,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    InboundMessage,
    Message,
    MessageCreate,
    StatusChange,
    Visibility,
)
from server.core.errors import Conflict, Forbidden, Invalid, NotFound
from server.core.pagination import PageParams, paginate
from server.core.timeutil import as_utc, utcnow
from server.customers import service as customers
from server.customers.models import Customer
from server.jobs.models import Job, JobReport


def get(*, session: Session, conversation_id: int) -> Conversation:
    """The conversation, or NotFound."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise NotFound(f"conversation {conversation_id} not found")
    return conversation


def list_conversations(
    *, session: Session, page: PageParams, customer_id: int | None = None, only_customers: set[int] | None = None,
    only_ids: set[int] | None = None,
) -> tuple[list[Conversation], int]:
    """Conversations, most recently active first (``only_*``: restricted to those customers / conversations)."""
    query = select(Conversation)
    if customer_id is not None:
        query = query.where(Conversation.customer_id == customer_id)
    if only_customers is not None:
        query = query.where(col(Conversation.customer_id).in_(only_customers or {-1}))
    if only_ids is not None:
        query = query.where(col(Conversation.id).in_(only_ids or {-1}))
    return paginate(session, query.order_by(col(Conversation.last_message_at).desc()), page)


def technician_conversation_ids(*, session: Session, user: User) -> set[int]:
    """The conversations tied to a job assigned to this technician: the thread of a case handed off to that job, or
    one a report of it came through. Only these reach the technician: the same customer's other threads (another
    complaint, a complaint about the technician) are the office's."""
    if user.technician_id is None:
        return set()
    mine = select(Job.id).where(Job.assigned_technician_id == user.technician_id)
    by_case = select(Case.conversation_id).where(col(Case.job_id).in_(mine))
    by_report_case = (select(Case.conversation_id).join(JobReport, col(JobReport.case_id) == col(Case.id))
                      .where(col(JobReport.job_id).in_(mine)))
    by_report_message = (select(Message.conversation_id).join(JobReport, col(JobReport.message_id) == col(Message.id))
                         .where(col(JobReport.job_id).in_(mine)))
    found: set[int] = set()
    for query in (by_case, by_report_case, by_report_message):
        found |= {i for i in session.exec(query).all() if i is not None}
    return found


def ensure_visible(*, session: Session, user: User, conversation: Conversation) -> None:
    """Staff read every conversation; a technician only one tied to their jobs (403 otherwise, as for customers)."""
    if user.role == Role.technician and conversation.id not in technician_conversation_ids(session=session,
                                                                                           user=user):
        raise Forbidden(f"conversation {conversation.id} is not tied to any of your jobs")


def messages(*, session: Session, conversation_id: int, reader: User | None = None) -> list[Message]:
    """A conversation's messages in time order; with ``reader``, only those that reader may see (no private notes
    for a technician: see ``for_reader``)."""
    query = select(Message).where(Message.conversation_id == conversation_id)
    if reader is not None and not sees_notes(reader):
        query = query.where(col(Message.direction) != Direction.note)
    return list(session.exec(query.order_by(col(Message.sent_at), col(Message.id))).all())


def sees_notes(user: User) -> bool:
    """Private notes are the office's working notes about a customer (who called, what was promised, a suspicion):
    staff (admin, dispatcher, agent) read them; a technician reads the thread they reply in on the customer's
    doorstep, so notes never reach the field app, nor the customer through it."""
    return user.role != Role.technician


def for_reader(messages: Iterable[Message], *, user: User) -> list[Message]:
    """``messages`` without the private notes ``user`` may not read (every route that hands a thread, a timeline or
    a 360 view to a technician passes through here or ``messages(reader=...)``)."""
    if sees_notes(user):
        return list(messages)
    return [m for m in messages if m.direction != Direction.note]


# Built once: intake looks these up for every message (building a statement costs as much as running it).
_MESSAGE_BY_EXTERNAL_ID = select(Message).where(Message.channel == bindparam("channel"),
                                                Message.external_id == bindparam("external_id"))
_CONVERSATION_BY_THREAD = select(Conversation).where(Conversation.channel == bindparam("channel"),
                                                     Conversation.external_thread_id == bindparam("thread_id"))


def find_message(*, session: Session, channel: str, external_id: str) -> Message | None:
    return session.exec(_MESSAGE_BY_EXTERNAL_ID, params={"channel": channel, "external_id": external_id}).first()


def _thread_for(*, session: Session, inbound: InboundMessage, customer_id: int) -> tuple[Conversation, bool]:
    """The conversation this message belongs to: its thread id, else the message it replies to, else new (True)."""
    if inbound.thread_id:
        conversation = session.exec(_CONVERSATION_BY_THREAD,
                                    params={"channel": inbound.channel, "thread_id": inbound.thread_id}).first()
        if conversation is not None:
            return conversation, False
    if inbound.reply_to_external_id:
        parent = find_message(session=session, channel=inbound.channel, external_id=inbound.reply_to_external_id)
        if parent is not None:
            return get(session=session, conversation_id=parent.conversation_id), False
    conversation = Conversation(
        customer_id=customer_id, channel=inbound.channel,
        external_thread_id=inbound.thread_id or inbound.external_id, subject=inbound.subject or inbound.text[:120],
    )
    session.add(conversation)
    session.flush()
    return conversation, True


class Ingested(NamedTuple):
    message: Message
    created: bool
    conversation: Conversation | None  # None when the message was stored before
    new_thread: bool  # the conversation was started by this message (so it has no case yet)


def ingest(
    *, session: Session, inbound: InboundMessage, customer: Customer | None = None, checked: bool = False
) -> Ingested:
    """Store an inbound message once. Redelivery of the same (channel, external id) returns the
    original and writes nothing; reuse of that id for different text is a Conflict. ``customer``: the
    author as already resolved by the intake pipeline (default: resolved from the handle here);
    ``checked``: the caller already looked the external id up in this transaction. The conversation comes back
    too: the session holds clean rows only weakly, so a caller that needs it again would otherwise re-read it."""
    existing = None if checked else find_message(
        session=session, channel=inbound.channel, external_id=inbound.external_id)
    if existing is not None:
        if existing.text != inbound.text:
            raise Conflict(
                f"external_id: '{inbound.external_id}' on {inbound.channel} was already used for a different message"
            )
        return Ingested(existing, False, None, False)
    if customer is None:
        customer, _identity = customers.resolve_or_create(
            session=session, channel=inbound.channel, handle=inbound.author_handle,
            display_name=inbound.author_name, verified=inbound.author_verified,
        )
    conversation, new_thread = _thread_for(session=session, inbound=inbound, customer_id=customer.id or 0)
    sent_at = as_utc(inbound.sent_at) if inbound.sent_at else utcnow()
    message = Message(
        conversation_id=conversation.id or 0, customer_id=customer.id, channel=inbound.channel,
        direction=Direction.inbound, author_kind=AuthorKind.customer,
        author_name=inbound.author_name or inbound.author_handle, text=inbound.text,
        visibility=inbound.visibility, external_id=inbound.external_id,
        reply_to_external_id=inbound.reply_to_external_id, sent_at=sent_at, lat=inbound.lat, lon=inbound.lon,
        place_name=inbound.place_name, media=list(inbound.media), delivery_status=DeliveryStatus.received,
    )
    session.add(message)
    if sent_at > as_utc(conversation.last_message_at):
        conversation.last_message_at = sent_at
    _customer_wrote(conversation, sent_at)
    session.add(conversation)
    session.flush()
    return Ingested(message, True, conversation, new_thread)


def _customer_wrote(conversation: Conversation, sent_at: datetime) -> None:
    """A customer's new message needs an agent again: a pending, snoozed or resolved conversation re-opens, and the
    first-response timer starts from the oldest message nobody has answered."""
    if conversation.status != ConversationStatus.open:
        conversation.status = ConversationStatus.open
        conversation.snoozed_until = None
        conversation.resolved_at = None
    if conversation.awaiting_since is None or sent_at < as_utc(conversation.awaiting_since):
        conversation.awaiting_since = sent_at


def answered(*, session: Session, conversation: Conversation) -> None:
    """An agent (or technician) replied to the customer: nobody is waiting for a first response any more."""
    conversation.awaiting_since = None
    session.add(conversation)


def set_status(*, session: Session, conversation: Conversation, change: StatusChange, now: datetime | None = None
               ) -> Conversation:
    """Open, pend, snooze (until a future time) or resolve a conversation. Resolving stops its SLA timer."""
    now = now or utcnow()
    if change.status == ConversationStatus.snoozed:
        until = as_utc(change.snoozed_until) if change.snoozed_until else None
        if until is None or until <= now:
            raise Invalid("snoozed_until: must be in the future")
        conversation.snoozed_until = until
    else:
        conversation.snoozed_until = None
    conversation.status = change.status
    conversation.resolved_at = now if change.status == ConversationStatus.resolved else None
    if change.status == ConversationStatus.resolved:
        conversation.awaiting_since = None
    session.add(conversation)
    session.flush()
    return conversation


def assign(*, session: Session, conversation: Conversation, user_id: int | None) -> Conversation:
    """Give the conversation to a staff user (admin, dispatcher or agent), or to nobody."""
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None or not user.is_active:
            raise Invalid(f"user_id: no active user {user_id}")
        if user.role == Role.technician:
            raise Invalid(f"user_id: {user.username} is a technician; conversations go to staff")
    conversation.assignee_user_id = user_id
    session.add(conversation)
    session.flush()
    return conversation


def add_note(*, session: Session, conversation: Conversation, text: str, author: User) -> Message:
    """A private note in the thread: staff see it, it is never queued, so no connector ever sends it."""
    message = Message(
        conversation_id=conversation.id or 0, customer_id=conversation.customer_id, channel=conversation.channel,
        direction=Direction.note, author_kind=AuthorKind.agent, author_name=author.full_name or author.username,
        author_user_id=author.id, text=text, visibility=Visibility.private, delivery_status=DeliveryStatus.recorded,
        meta={"kind": "note"},
    )
    session.add(message)
    session.flush()
    return message


def existing_reply(*, session: Session, conversation: Conversation, message_in: MessageCreate) -> Message | None:
    """A retried reply (same external id, same text, same thread) is the stored one; the id reused otherwise is a
    Conflict; None when this reply is new."""
    if not message_in.external_id:
        return None
    existing = find_message(session=session, channel=conversation.channel, external_id=message_in.external_id)
    if existing is None:
        return None
    if existing.text == message_in.text and existing.conversation_id == conversation.id:
        return existing
    raise Conflict(f"external_id: '{message_in.external_id}' was already used for a different message")


def author_kind(user: User) -> AuthorKind:
    return AuthorKind.technician if user.role == Role.technician else AuthorKind.agent

