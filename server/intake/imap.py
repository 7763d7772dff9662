"""Poll a real mailbox over IMAP (``imapclient``): every UNSEEN message goes through the same email intake as
``/channels/email`` (sender authentication included), then is marked ``\\Seen``.

Idempotent: a message is marked seen only after its transaction committed, and the pipeline recognizes a
Message-ID it already stored (a crash between commit and flag, or another poller, files nothing twice). A message
that cannot be read as email is stored as an ``IntakeEvent`` (``invalid``) and marked seen, so it never blocks
the mailbox."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.config import Settings
from server.core.errors import Conflict, Invalid
from server.customers.models import Channel
from server.intake import adapters, mail
from server.intake.adapters import Skipped
from server.intake.guard import clean_text
from server.intake.models import IntakeEvent
from server.intake.pipeline import receive

if TYPE_CHECKING:
    from geodata import City

log = logging.getLogger("groundcrew.intake")
FETCH_BATCH = 50


@dataclass
class PollSummary:
    """What one poll did."""

    unseen: int = 0
    filed: int = 0  # new messages stored (a case, a follow-up or a listening entry)
    already: int = 0  # Message-IDs stored before (nothing written)
    invalid: int = 0  # not readable as email: kept as intake events
    automatic: int = 0  # auto-replies and delivery reports: kept as intake events, not filed
    failed: int = 0  # left unseen for the next poll (database trouble)
    message_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"unseen": self.unseen, "filed": self.filed, "already": self.already, "invalid": self.invalid,
                "automatic": self.automatic, "failed": self.failed, "message_ids": self.message_ids}


def _policy(settings: Settings, dnsfunc: Callable[..., bytes | None] | None) -> mail.MailPolicy:
    return mail.MailPolicy(trusted_authserv_ids=frozenset(
        i.lower() for i in adapters.our_ids(settings.email_trusted_authserv_ids)),
        verify_dkim_locally=settings.email_verify_dkim, dnsfunc=dnsfunc)


def connect(settings: Settings) -> Any:
    """A logged-in ``IMAPClient`` on ``settings.imap_folder`` (STARTTLS when the server offers it without TLS)."""
    from imapclient import IMAPClient

    if not settings.imap_host or not settings.imap_user:
        raise Invalid("imap_host: set GROUNDCREW_IMAP_HOST, GROUNDCREW_IMAP_USER and GROUNDCREW_IMAP_PASSWORD")
    client = IMAPClient(settings.imap_host, port=settings.imap_port, ssl=settings.imap_ssl, timeout=60)
    if not settings.imap_ssl and b"STARTTLS" in client.capabilities():
        client.starttls()
    client.login(settings.imap_user, settings.imap_password or "")
    client.select_folder(settings.imap_folder)
    return client


def poll(*, engine: Engine, settings: Settings, city: City | None = None, client: Any = None,
         dnsfunc: Callable[..., bytes | None] | None = None) -> PollSummary:
    """Fetch every UNSEEN message once, file it, mark it seen; returns the counts."""
    own = client is None
    client = client or connect(settings)
    summary = PollSummary()
    try:
        uids = list(client.search(["UNSEEN"]))
        summary.unseen = len(uids)
        for start in range(0, len(uids), FETCH_BATCH):
            batch = uids[start:start + FETCH_BATCH]
            for uid, data in client.fetch(batch, ["BODY.PEEK[]"]).items():
                raw = data.get(b"BODY[]") or b""
                if _file_one(engine, settings, city, raw, summary, dnsfunc):
                    client.add_flags([uid], [b"\\Seen"])
    finally:
        if own:
            try:
                client.logout()
            except Exception:  # the connection may already be gone; the flags set so far are kept
                log.debug("IMAP logout failed", exc_info=True)
    return summary


def _file_one(engine: Engine, settings: Settings, city: City | None, raw: bytes, summary: PollSummary,
              dnsfunc: Callable[..., bytes | None] | None) -> bool:
    """File one message in its own transaction; True when it may be marked seen."""
    with Session(engine) as session:
        try:
            item = mail.parse_email(raw, policy=_policy(settings, dnsfunc), provider="imap")
        except (Invalid, TypeError, ValueError, AttributeError, LookupError) as exc:  # unreadable: never blocks
            session.add(IntakeEvent(channel=Channel.email, kind="imap", outcome="invalid", detail=str(exc)[:500],
                                    payload=clean_text(raw[:200_000].decode("utf-8", "replace"))))
            session.commit()
            summary.invalid += 1
            return True
        if isinstance(item, Skipped):  # an auto-reply or a delivery report: kept, not filed
            session.add(IntakeEvent(channel=Channel.email, kind=item.kind, outcome=item.outcome,
                                    detail=item.detail[:500], external_id=item.external_id,
                                    payload=clean_text(raw[:200_000].decode("utf-8", "replace"))))
            session.commit()
            summary.automatic += 1
            return True
        try:
            result = receive(session=session, settings=settings, city=city, inbound=item.inbound, meta=item.meta,
                             sender_authenticated=item.sender_authenticated, savepoint=False)
            message_id = result.message.id
            created = result.created
            session.commit()
        except (Conflict, Invalid) as exc:  # same Message-ID with other text, or a message the pipeline refuses
            session.rollback()
            session.add(IntakeEvent(channel=Channel.email, kind="imap", outcome="invalid", detail=str(exc)[:500],
                                    external_id=item.inbound.external_id,
                                    payload=clean_text(raw[:200_000].decode("utf-8", "replace"))))
            session.commit()
            summary.invalid += 1
            return True
        except Exception:
            session.rollback()
            log.exception("IMAP message %s not filed; left unseen for the next poll", item.inbound.external_id)
            summary.failed += 1
            return False
    if created:
        summary.filed += 1
        summary.message_ids.append(message_id or 0)
    else:
        summary.already += 1
    return True


def watch(*, engine: Engine, settings: Settings, city: City | None = None,
          on_poll: Callable[[PollSummary], None] | None = None, stop: Callable[[], bool] = lambda: False) -> None:
    """Poll every ``settings.imap_poll_s`` seconds until ``stop()``; a failed poll is logged and retried."""
    from server.notify.service import deliver_queued

    while not stop():
        try:
            summary = poll(engine=engine, settings=settings, city=city)
            if summary.filed:
                deliver_queued(engine=engine, settings=settings, wait=True)
            if on_poll is not None:
                on_poll(summary)
        except Exception:
            log.exception("IMAP poll failed; retrying in %s s", settings.imap_poll_s)
        time.sleep(settings.imap_poll_s)
