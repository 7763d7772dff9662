"""Sending to customers: every outbound message is first stored in its thread (queued), then delivered
by its channel's connector, and its delivery status recorded honestly:

queued → sent (the provider accepted it; its id in meta["provider_id"]) → delivered / failed (the provider's
status callback, with its reason in meta["detail"]); ``recorded`` when no provider is configured. A transient
failure (provider down, 5xx, rate limit) stays queued with meta["attempts"] and meta["next_attempt_at"] and is
tried again with exponential backoff (a Celery task when a broker is set, else a timer in this process), up to
``notify_max_attempts``; a refusal fails at once with the provider's reason. A recipient who opted out on the
channel (consent) is never sent to. A message is handed to a provider at most once per attempt: only queued
rows are sent, each under a row lock (PostgreSQL: FOR UPDATE SKIP LOCKED, so two workers never send the same
message) and in one delivery pass at a time per process. A ``dedupe_key`` makes a notice impossible to store twice
(it becomes the message's unique external id on that channel)."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from server.config import Settings
from server.consent.service import is_opted_out
from server.conversations import service as conversations
from server.conversations.models import AuthorKind, Conversation, DeliveryStatus, Direction, Message, Visibility
from server.core import tasks
from server.core.errors import NotFound
from server.core.timeutil import as_utc, utcnow
from server.customers.models import Identity
from server.events.broker import make_event, publish
from server.notify.connectors import Connector, DeliveryResult, Outbound, QuickReply
from server.notify.providers import connector_for_channel

log = logging.getLogger(__name__)
MAX_RETRY_DELAY_S = 6 * 3600  # backoff stops doubling here


def connector_for(settings: Settings, channel: str | None = None) -> Connector:
    """The connector this deployment delivers ``channel`` through (no channel: the one for channels without a
    provider, i.e. the relay or the process's recording outbox)."""
    return connector_for_channel(settings, channel or "")


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
    quick_replies: list[dict[str, str]] | None = None,
) -> tuple[Message, bool]:
    """Store an outbound message in the customer's conversation, queued for delivery on its channel.

    Returns (message, created). With a ``dedupe_key`` the same notice is stored at most once. ``conversation``:
    the row of ``conversation_id`` when the caller holds it (saves reading it again). ``new_key``: the key names
    a row this transaction created (nothing can have used it yet: no lookup; the unique external id still holds).
    ``quick_replies``: buttons to answer with ([{"label", "payload", "description"}], kept in the message's meta),
    sent where the channel's connector has them (X DMs, Messenger) and ignored elsewhere."""
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
    if quick_replies:
        message.meta = {**message.meta, "quick_replies": [
            {"label": str(q["label"]), "payload": str(q["payload"]), "description": str(q.get("description") or "")}
            for q in quick_replies]}
    session.add(message)
    conversation.last_message_at = utcnow()
    session.add(conversation)
    session.flush()
    return message, True



# Built once, like intake's lookups (building it was about half of _outbound's time under cProfile): the thread and
# its subject, the customer's first handle on a channel, and the latest message they sent in the thread (what this
# answers: its id, time and meta, where inbound X messages keep the author's numeric id).
_LATEST_INBOUND = (select(Message.id).where(Message.conversation_id == Conversation.id,
                                            Message.direction == Direction.inbound)
                   .order_by(col(Message.sent_at).desc(), col(Message.id).desc()).limit(1).correlate(Conversation))
_OUTBOUND_CONTEXT = select(
    Conversation.external_thread_id, Conversation.subject,
    select(Identity.handle).where(Identity.customer_id == Conversation.customer_id,
                                  Identity.channel == bindparam("channel"))
    .order_by(col(Identity.id)).limit(1).correlate(Conversation).scalar_subquery(),
    select(Message.external_id).where(Message.id == _LATEST_INBOUND.scalar_subquery()).scalar_subquery(),
    select(Message.sent_at).where(Message.id == _LATEST_INBOUND.scalar_subquery()).scalar_subquery(),
    select(Message.meta).where(Message.id == _LATEST_INBOUND.scalar_subquery()).scalar_subquery(),
).where(Conversation.id == bindparam("conversation_id"))


def _outbound(session: Session, message: Message) -> Outbound:
    """What the connector needs, read in one statement: the thread and its subject, the customer's handle on the
    message's channel (their first identity there) and the latest message they sent in the thread."""
    row = session.exec(_OUTBOUND_CONTEXT, params={"channel": message.channel,
                                                  "conversation_id": message.conversation_id}).one_or_none()
    if row is None:
        raise NotFound(f"conversation {message.conversation_id} not found")
    thread_id, subject, to_handle, reply_to, last_at, last_meta = row
    if isinstance(last_at, str):  # SQLite hands a scalar subquery's datetime back as text
        last_at = datetime.fromisoformat(last_at)
    recipient_id = (last_meta or {}).get("x_user_id") if isinstance(last_meta, dict) else None
    return Outbound(
        message_id=message.id or 0, channel=str(message.channel), to_handle=to_handle,
        text=message.text, visibility=str(message.visibility), thread_id=thread_id,
        reply_to_external_id=reply_to, idempotency_key=f"groundcrew-message-{message.id}",
        subject=subject or "", recipient_id=str(recipient_id) if recipient_id else None,
        media=tuple(message.media or ()), author_name=message.author_name,
        last_inbound_at=as_utc(last_at) if last_at else None, quick_replies=_quick_replies(message.meta),
    )


def _quick_replies(meta: dict[str, Any] | None) -> tuple[QuickReply, ...]:
    """The message's answer buttons (``send_to_customer(quick_replies=...)``); malformed entries are left out."""
    found = (meta or {}).get("quick_replies")
    if not isinstance(found, list):
        return ()
    return tuple(QuickReply(label=str(q["label"]), payload=str(q["payload"]),
                            description=str(q.get("description") or ""))
                 for q in found if isinstance(q, dict) and q.get("label") and q.get("payload"))


def _next_attempt_at(meta: dict[str, Any] | None) -> datetime | None:
    value = (meta or {}).get("next_attempt_at")
    try:
        return as_utc(datetime.fromisoformat(value)) if value else None
    except (TypeError, ValueError):
        return None


def status_event(message: Message) -> dict[str, Any]:
    """The live event for a message's delivery state (``message.status``, staff only): the console shows it on the
    conversation and the customer 360 without reloading."""
    meta = message.meta or {}
    return make_event("message.status", {
        "message_id": message.id, "conversation_id": message.conversation_id, "customer_id": message.customer_id,
        "channel": str(message.channel), "status": str(message.delivery_status), "detail": meta.get("detail"),
        "attempts": meta.get("attempts", 0), "provider_status": meta.get("provider_status"),
        "next_attempt_at": meta.get("next_attempt_at")}, staff_only=True)


def deliver(*, session: Session, message: Message, connector: Connector, max_attempts: int = 6,
            retry_base_s: float = 30.0, settings: Settings | None = None) -> Message:
    """Hand one queued, due message to the connector and record the outcome (commits).

    Not queued, or waiting for a later retry: nothing happens. Opted out: failed, nothing sent. Accepted: sent
    (``recorded`` from the recording outbox). Transient failure: queued again for ``retry_base_s * 2**(n-1)``
    seconds (at most six hours) after the n-th attempt, until ``max_attempts``; any other failure: failed with
    the reason. With ``settings``, the outcome is published as a ``message.status`` live event after the commit."""
    if message.delivery_status != DeliveryStatus.queued:
        return message
    now = utcnow()
    due = _next_attempt_at(message.meta)
    if due is not None and due > now:
        return message
    outbound = _outbound(session, message)
    attempts = int(message.meta.get("attempts", 0))
    if is_opted_out(session=session, channel=message.channel, handle=outbound.to_handle):
        result, name = DeliveryResult(ok=False, detail="recipient opted out"), "consent"
    else:
        result, name = connector.deliver(outbound), connector.name
        attempts += 1
    session.refresh(message)  # a status callback may have moved it while the provider answered
    meta: dict[str, Any] = {**message.meta, "attempts": attempts, "connector": name, "detail": result.detail}
    meta.pop("next_attempt_at", None)
    if result.external_id:
        meta["provider_id"] = result.external_id
    if message.delivery_status != DeliveryStatus.queued:  # the provider's callback came first: keep its state
        meta["detail"] = message.meta.get("detail") or result.detail
    elif result.ok:
        message.delivery_status = DeliveryStatus.recorded if result.recorded else DeliveryStatus.sent
    elif result.retryable and attempts < max_attempts:
        retry_at = utcnow() + timedelta(seconds=min(retry_base_s * 2 ** (attempts - 1), MAX_RETRY_DELAY_S))
        meta["next_attempt_at"] = retry_at.isoformat()
        meta["detail"] = (f"attempt {attempts} of {max_attempts} failed: {result.detail}; "
                          f"next try at {retry_at:%Y-%m-%d %H:%M:%S} UTC")
    else:
        message.delivery_status = DeliveryStatus.failed
        if result.unconfirmed:
            meta["unconfirmed"] = True  # the provider's own report may still say it went out
        if result.retryable:
            meta["detail"] = f"gave up after {attempts} attempts: {result.detail}"
    message.meta = meta
    session.add(message)
    session.commit()
    if message.delivery_status != DeliveryStatus.queued:
        log.info("message %s on %s: %s (%s)", message.id, message.channel, message.delivery_status, meta["detail"])
    if settings is not None:
        publish(settings, status_event(message))
    return message


_delivery_lock = threading.Lock()
_delivery_again = threading.Event()


def deliver_queued(*, engine: Engine, settings: Settings, limit: int = 200, wait: bool = True,
                   schedule_retries: bool = True) -> int:
    """Deliver every queued outbound message that is due (oldest first); returns how many were attempted.

    One delivery pass runs at a time in a process (concurrent passes would fight over the same rows and the
    database's write lock). With ``wait=False`` (request background tasks) a call that finds a pass running
    asks it to go round once more and returns at once instead of holding a worker thread. Messages left waiting
    for a retry get a later pass scheduled (``schedule_retries``)."""
    if not _delivery_lock.acquire(blocking=wait):
        _delivery_again.set()
        return 0
    try:
        attempted, next_due = 0, None
        while True:
            _delivery_again.clear()
            done, next_due = _deliver_pass(engine=engine, settings=settings, limit=limit)
            attempted += done
            if not _delivery_again.is_set() and done < limit:
                break
    finally:
        _delivery_lock.release()
    if next_due is not None and schedule_retries:
        schedule_retry(engine=engine, settings=settings, at=next_due)
    return attempted


def _deliver_pass(*, engine: Engine, settings: Settings, limit: int) -> tuple[int, datetime | None]:
    """One pass: (messages attempted, when the earliest one left waiting for a retry is due)."""
    now = utcnow()
    connectors: dict[str, Connector] = {}
    next_due: datetime | None = None
    attempted = 0
    with Session(engine) as session:
        rows = session.exec(
            select(Message.id, Message.meta).where(Message.direction == Direction.outbound,
                                                   Message.delivery_status == DeliveryStatus.queued)
            .order_by(col(Message.id))
        ).all()
        session.rollback()
        for message_id, meta in rows:
            if attempted >= limit:
                break
            waiting = _next_attempt_at(meta)
            if waiting is not None and waiting > now:
                next_due = waiting if next_due is None else min(next_due, waiting)
                continue
            message = session.exec(select(Message).where(Message.id == message_id,
                                                         Message.delivery_status == DeliveryStatus.queued)
                                   .with_for_update(skip_locked=True)).first()
            if message is None:  # sent meanwhile, or another worker holds it
                session.rollback()
                continue
            channel = str(message.channel)
            if channel not in connectors:
                connectors[channel] = connector_for_channel(settings, channel)
            deliver(session=session, message=message, connector=connectors[channel],
                    max_attempts=settings.notify_max_attempts, retry_base_s=settings.notify_retry_base_s,
                    settings=settings)
            attempted += 1
            waiting = _next_attempt_at(message.meta) if message.delivery_status == DeliveryStatus.queued else None
            if waiting is not None:
                next_due = waiting if next_due is None else min(next_due, waiting)
    return attempted, next_due


_retry_lock = threading.Lock()
_retry: dict[str, Any] = {"timer": None, "at": None}


def schedule_retry(*, engine: Engine, settings: Settings, at: datetime) -> None:
    """Run a delivery pass at ``at``: a Celery task when a broker is set, else a timer in this process (the
    earliest pending one wins; a restarted process retries on its next delivery pass)."""
    with _retry_lock:
        pending = _retry["at"]
        timer = _retry["timer"]
        if pending is not None and pending <= at and (timer is None or timer.is_alive()):
            return
        delay = max(0.0, (at - utcnow()).total_seconds())
        if settings.broker_url:
            tasks.submit(tasks.DELIVER, engine=engine, settings=settings, delay_s=delay)
            _retry.update(timer=None, at=at)
            return
        if timer is not None:
            timer.cancel()
        timer = threading.Timer(delay, _retry_now, kwargs={"engine": engine, "settings": settings})
        timer.daemon = True
        _retry.update(timer=timer, at=at)
        timer.start()


def cancel_retries() -> None:
    """Stop a pending in-process retry timer (shutdown, tests)."""
    with _retry_lock:
        if _retry["timer"] is not None:
            _retry["timer"].cancel()
        _retry.update(timer=None, at=None)


def _retry_now(*, engine: Engine, settings: Settings) -> None:
    with _retry_lock:
        _retry.update(timer=None, at=None)
    try:
        deliver_queued(engine=engine, settings=settings)
    except Exception:  # a background retry must not die silently; the messages stay queued
        log.exception("delivery retry pass failed")


# Twilio message statuses (https://www.twilio.com/docs/messaging/api/message-resource#message-status-values) →
# ours; the ones not listed (accepted, scheduled, queued, sending) mean Twilio still has it: `sent`.
_TWILIO_STATUS = {"sent": DeliveryStatus.sent, "delivered": DeliveryStatus.delivered,
                  "read": DeliveryStatus.delivered, "undelivered": DeliveryStatus.failed,
                  "failed": DeliveryStatus.failed, "canceled": DeliveryStatus.failed}
_FINAL = (DeliveryStatus.delivered, DeliveryStatus.failed, DeliveryStatus.recorded)


def record_provider_status(*, session: Session, message_id: int, provider: str, provider_id: str,
                           provider_status: str, error_code: str | None = None,
                           error_message: str | None = None, settings: Settings | None = None) -> Message:
    """Apply a provider's status report to our message (commits). Reports that arrive late or out of order
    never move a message back (sent after delivered is ignored), and a report for another provider id than the
    one we stored changes nothing. With ``settings``, a report that changed the state is published as a
    ``message.status`` live event."""
    message = session.exec(select(Message).where(Message.id == message_id).with_for_update()).first()
    if message is None or message.direction != Direction.outbound:
        raise NotFound(f"message {message_id}: no such outbound message")
    known = message.meta.get("provider_id")
    if known and known != provider_id:
        log.warning("status report for %s names %s, not our %s: ignored", message_id, provider_id, known)
        return message
    meta = {**message.meta, "provider_id": provider_id, "provider_status": provider_status}
    new = _TWILIO_STATUS.get(provider_status, DeliveryStatus.sent)
    current = message.delivery_status
    # Final: delivered, recorded, and failed, except a send we could not confirm (no answer after sending), where
    # the provider's signed report about our message is the truth.
    final = current in _FINAL and not (current == DeliveryStatus.failed and message.meta.get("unconfirmed"))
    changed = not final and not (current == DeliveryStatus.sent and new == DeliveryStatus.sent)
    if changed:
        message.delivery_status = new
        if new == DeliveryStatus.failed:
            reason = f"error {error_code}" if error_code else "no error code"
            if error_message:
                reason += f": {error_message}"
            more = f" (https://www.twilio.com/docs/api/errors/{error_code})" if error_code else ""
            meta["detail"] = f"{provider} reports {provider_status}: {reason}{more}"[:500]
        else:
            meta["detail"] = f"{provider} reports {provider_status}"
        meta.pop("next_attempt_at", None)
        meta.pop("unconfirmed", None)
    message.meta = meta
    session.add(message)
    session.commit()
    if changed and settings is not None:
        publish(settings, status_event(message))
    return message


def record_messenger_deliveries(*, session: Session, mids: list[str], settings: Settings | None = None) -> int:
    """Messenger's ``message_deliveries`` webhook (``delivery.mids``: the ids the Send API gave our messages,
    https://developers.facebook.com/docs/messenger-platform/reference/webhook-events/message-deliveries): those of
    our sent Messenger messages become ``delivered``. Returns how many changed."""
    wanted = {m for m in mids if isinstance(m, str) and m}
    if not wanted:
        return 0
    sent = session.exec(select(Message.id, Message.meta).where(
        Message.channel == "facebook", Message.direction == Direction.outbound,
        Message.delivery_status == DeliveryStatus.sent)).all()
    session.rollback()
    changed = 0
    for message_id, meta in sent:
        provider_id = (meta or {}).get("provider_id")
        if provider_id in wanted:
            record_provider_status(session=session, message_id=message_id or 0, provider="Meta",
                                   provider_id=provider_id, provider_status="delivered", settings=settings)
            changed += 1
    return changed


tasks.register(tasks.DELIVER, lambda engine, settings: deliver_queued(engine=engine, settings=settings))


def delivery_summary(*, session: Session, channels: list[str], since: datetime) -> dict[str, dict[str, Any]]:
    """Per channel: the newest outbound message's outcome (status, when, the provider's reason) and how many
    outbound messages since ``since`` ended in each delivery status — what an administrator checks to see
    whether a channel really delivers."""
    from sqlalchemy import func

    out: dict[str, dict[str, Any]] = {ch: {"last": None, "since": as_utc(since), "counts": {}} for ch in channels}
    rows = session.exec(select(Message.channel, Message.delivery_status, func.count())
                        .where(Message.direction == Direction.outbound, col(Message.sent_at) >= since,
                               col(Message.channel).in_(channels))
                        .group_by(Message.channel, Message.delivery_status)).all()
    for channel, status, count in rows:
        out[str(channel)]["counts"][str(status)] = int(count)
    for ch in channels:
        last = session.exec(select(Message).where(Message.direction == Direction.outbound, Message.channel == ch)
                            .order_by(col(Message.sent_at).desc(), col(Message.id).desc()).limit(1)).first()
        if last is not None:
            out[ch]["last"] = {"message_id": last.id, "status": str(last.delivery_status),
                               "at": as_utc(last.sent_at), "detail": str((last.meta or {}).get("detail") or ""),
                               "attempts": int((last.meta or {}).get("attempts") or 0)}
    return out
