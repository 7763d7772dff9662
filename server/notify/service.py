"""Sending to customers: every outbound message is first stored in its thread (queued), then delivered
by the deployment's connector, and its delivery status recorded. A ``dedupe_key`` makes a notice
impossible to send twice (it becomes the message's unique external id on that channel)."""

from __future__ import annotations

import threading

from sqlalchemy import bindparam
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server.config import Settings
from server.conversations import service as conversations
from server.conversations.models import AuthorKind, Conversation, DeliveryStatus, Direction, Message, Visibility
from server.core.errors import NotFound
from server.core.timeutil import utcnow
from server.customers.models import Identity
from server.notify.connectors import Connector, Outbound, RecordingOutbox, WebhookConnector

_connectors: dict[str, Connector] = {}


def connector_for(settings: Settings) -> Connector:
    """The connector this deployment delivers through (one per process, so the outbox keeps its record)."""
    key = settings.outbound_webhook_url or "recording"
    if key not in _connectors:
        _connectors[key] = (
            WebhookConnector(settings.outbound_webhook_url) if settings.outbound_webhook_url else RecordingOutbox()
        )
    return _connectors[key]


def send_to_customer(
    *,
    session: Session,
    conversation_id: int,
    text: str,
    kind: str,
    author_kind: AuthorKind = AuthorKind.system,
    author_name: str = "Groundcrew",
    author_user_id: int | None = None,
    visibility: Visibility = Visibility.private,
    dedupe_key: str | None = None,
    conversation: Conversation | None = None,
    new_key: bool = False,
) -> tuple[Message, bool]:
    """Store an outbound message in the customer's conversation, queued for delivery on its channel.

    Returns (message, created). With a ``dedupe_key`` the same notice is stored at most once. ``conversation``:
    the row of ``conversation_id`` when the caller holds it (saves reading it again). ``new_key``: the key names
    a row this transaction created (nothing can have used it yet: no lookup; the unique external id still holds)."""
    if conversation is None or conversation.id != conversation_id:
        conversation = conversations.get(session=session, conversation_id=conversation_id)
    external_id = f"gc:{dedupe_key}" if dedupe_key else None
    if external_id and not new_key:
        existing = conversations.find_message(session=session, channel=conversation.channel, external_id=external_id)
        if existing is not None:
            return existing, False
    message = Message(
        conversation_id=conversation.id or 0, customer_id=conversation.customer_id, channel=conversation.channel,
        direction=Direction.outbound, author_kind=author_kind, author_name=author_name,
        author_user_id=author_user_id, text=text, visibility=visibility, external_id=external_id,
        delivery_status=DeliveryStatus.queued, meta={"kind": kind},
    )
    session.add(message)
    conversation.last_message_at = utcnow()
    session.add(conversation)
    session.flush()
    return message, True


# Built once, like intake's lookups (building it was about half of _outbound's time under cProfile; no change was
# measurable at the tweet endpoint): the thread, the customer's first handle on a channel, the message it answers.
_OUTBOUND_CONTEXT = select(
    Conversation.external_thread_id,
    select(Identity.handle).where(Identity.customer_id == Conversation.customer_id,
                                  Identity.channel == bindparam("channel"))
    .order_by(col(Identity.id)).limit(1).correlate(Conversation).scalar_subquery(),
    select(Message.external_id).where(Message.conversation_id == Conversation.id,
                                      Message.direction == Direction.inbound)
    .order_by(col(Message.sent_at).desc()).limit(1).correlate(Conversation).scalar_subquery(),
).where(Conversation.id == bindparam("conversation_id"))


def _outbound(session: Session, message: Message) -> Outbound:
    """What the connector needs, read in one statement: the thread, the customer's handle on the message's
    channel (their first identity there) and the latest message they sent in the thread (what this answers)."""
    row = session.exec(_OUTBOUND_CONTEXT, params={"channel": message.channel,
                                                  "conversation_id": message.conversation_id}).one_or_none()
    if row is None:
        raise NotFound(f"conversation {message.conversation_id} not found")
    thread_id, to_handle, reply_to = row
    return Outbound(
        message_id=message.id or 0, channel=str(message.channel), to_handle=to_handle,
        text=message.text, visibility=str(message.visibility), thread_id=thread_id,
        reply_to_external_id=reply_to, idempotency_key=f"groundcrew-message-{message.id}",
    )


def deliver(*, session: Session, message: Message, connector: Connector) -> Message:
    """Hand one queued message to the connector and record the outcome (sent or failed, with why)."""
    if message.delivery_status != DeliveryStatus.queued:
        return message
    result = connector.deliver(_outbound(session, message))
    attempts = int(message.meta.get("attempts", 0)) + 1
    message.meta = {**message.meta, "attempts": attempts, "connector": connector.name, "detail": result.detail,
                    **({"provider_id": result.external_id} if result.external_id else {})}
    message.delivery_status = DeliveryStatus.sent if result.ok else DeliveryStatus.failed
    session.add(message)
    session.commit()
    return message


_delivery_lock = threading.Lock()
_delivery_again = threading.Event()


def deliver_queued(*, engine: Engine, settings: Settings, limit: int = 200, wait: bool = True) -> int:
    """Deliver every queued outbound message (oldest first); returns how many were attempted.

    One delivery pass runs at a time in a process (concurrent passes would fight over the same rows and the
    database's write lock). With ``wait=False`` (request background tasks) a call that finds a pass running
    asks it to go round once more and returns at once instead of holding a worker thread."""
    if not _delivery_lock.acquire(blocking=wait):
        _delivery_again.set()
        return 0
    try:
        attempted = 0
        while True:
            _delivery_again.clear()
            attempted += _deliver_pass(engine=engine, settings=settings, limit=limit)
            if not _delivery_again.is_set():
                return attempted
    finally:
        _delivery_lock.release()


def _deliver_pass(*, engine: Engine, settings: Settings, limit: int) -> int:
    connector = connector_for(settings)
    with Session(engine) as session:
        queued = session.exec(
            select(Message).where(Message.direction == Direction.outbound,
                                  Message.delivery_status == DeliveryStatus.queued)
            .order_by(col(Message.id)).limit(limit)
        ).all()
        for message in queued:
            deliver(session=session, message=message, connector=connector)
        return len(queued)
