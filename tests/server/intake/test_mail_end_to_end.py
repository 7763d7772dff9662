"""Email, the whole loop on real servers: a customer's complaint is delivered by Dovecot's LDA (what an MTA runs)
into our real Dovecot mailbox, polled over IMAP, filed as a case; our answers leave through our SMTP connector to a
real SMTP server (aiosmtpd) that hands each accepted message to Dovecot's LDA for the customer's own mailbox, where
we read it back over IMAP with its threading headers (RFC 5322 §3.6.4: In-Reply-To = the customer's Message-ID,
References = the thread). A message is ``sent`` only once the SMTP server accepted it (250 to DATA, after the LDA
stored it); a refused recipient (RFC 5321 550) is ``failed`` and reaches no one. The customer's answer to our reply
is polled back into the same conversation."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from server.auth.models import Role
from server.cases.models import Case
from server.conversations.models import Direction, Message
from server.notify import service as notify
from tests.server.intake import dovecot

OUR_ADDRESS, FROM = "help@city.example", "City Services <help@city.example>"
MAILBOXES = {"ann@example.net": "ann"}  # the customer's address → her mailbox on the Dovecot server


class MTA:
    """A real SMTP server's handler that delivers what it accepts with Dovecot's LDA: 550 for an address without a
    mailbox (at RCPT, as Postfix's local_recipient_maps does), 250 to DATA only once the LDA stored the message."""

    def __init__(self, box: dovecot.Mailbox) -> None:
        self.box, self.accepted = box, 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.lower() not in MAILBOXES:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in local recipient table"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for rcpt in envelope.rcpt_tos:
            try:
                dovecot.deliver(self.box, MAILBOXES[rcpt.lower()], envelope.original_content,
                                envelope_from=envelope.mail_from)
            except LookupError as exc:
                return f"451 4.3.0 local delivery failed: {exc}"[:200]
        self.accepted += 1
        return "250 2.0.0 Ok: queued"


@pytest.fixture
def mail_servers(app, tmp_path: Path) -> Iterator[tuple[dovecot.Mailbox, MTA]]:  # type: ignore[no-untyped-def]
    why = dovecot.available()
    if why:
        pytest.skip(why)
    with dovecot.running(tmp_path, others={"ann": "ann-imap-pass"}) as box:
        mta = MTA(box)
        with socket.socket() as probe:  # aiosmtpd needs a port number it can connect to, not 0
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        controller = Controller(mta, hostname="127.0.0.1", port=port)
        controller.start()
        s = app.state.settings
        s.smtp_host, s.smtp_port, s.smtp_security, s.email_from = "127.0.0.1", port, "none", FROM
        s.imap_host, s.imap_port, s.imap_ssl, s.imap_user, s.imap_password = (box.host, box.port, False, box.user,
                                                                             box.password)
        try:
            yield box, mta
        finally:
            controller.stop()
            notify.cancel_retries()


def _mail(message_id: str, text: str, *, sender: str = "Ann Lee <ann@example.net>", subject: str,
          in_reply_to: str | None = None, references: str | None = None) -> bytes:
    headers = [f"From: {sender}", f"To: {OUR_ADDRESS}", f"Subject: {subject}",
               f"Date: {format_datetime(datetime.now(UTC))}", f"Message-ID: <{message_id}>", "MIME-Version: 1.0",
               "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    if in_reply_to:
        headers.append(f"In-Reply-To: <{in_reply_to}>")
    if references:
        headers.append(f"References: {references}")
    return ("\r\n".join(headers) + "\r\n\r\n" + text + "\r\n").encode()


def _inbox(box: dovecot.Mailbox, user: str, password: str) -> list[email.message.EmailMessage]:
    """Every message in a user's INBOX, oldest first (read without marking them seen)."""
    from imapclient import IMAPClient

    with IMAPClient(box.host, port=box.port, ssl=False) as client:
        client.login(user, password)
        client.select_folder("INBOX", readonly=True)
        ids = client.search(["ALL"])
        fetched = client.fetch(ids, ["BODY.PEEK[]"]) if ids else {}
    return [email.message_from_bytes(fetched[i][b"BODY[]"], policy=email.policy.default) for i in sorted(fetched)]


def _poll(app) -> Any:  # type: ignore[no-untyped-def]
    from server.intake import imap

    return imap.poll(engine=app.state.engine, settings=app.state.settings)


def _deliver(app) -> int:  # type: ignore[no-untyped-def]
    return notify.deliver_queued(engine=app.state.engine, settings=app.state.settings, schedule_retries=False)


def _outbound(app, conversation_id: int) -> list[Message]:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        return list(session.exec(select(Message).where(Message.conversation_id == conversation_id,
                                                       Message.direction == Direction.outbound)
                                 .order_by(Message.id)).all())


@pytest.mark.slow
def test_a_mailed_complaint_is_answered_into_the_customers_own_mailbox(app, client, auth, mail_servers):
    box, mta = mail_servers
    subject = "Gas smell on Elm St"
    dovecot.deliver(box, "help", _mail("c1.4711@mail.example.net", "There is a strong gas smell outside my house.",
                                       subject=subject), envelope_from="ann@example.net")
    polled = _poll(app)
    assert (polled.unseen, polled.filed, polled.failed) == (1, 1, 0)
    with Session(app.state.engine) as session:
        inbound = session.get(Message, polled.message_ids[0])
        case = session.exec(select(Case).where(Case.conversation_id == inbound.conversation_id)).one()
        conversation_id, customer_id = inbound.conversation_id, inbound.customer_id
        assert inbound.external_id == "c1.4711@mail.example.net" and case.category is not None
    # No street map here: the case asks where it is; that automatic answer is queued, nothing has left yet
    ask = _outbound(app, conversation_id)
    assert [m.delivery_status for m in ask] == ["queued"] and mta.accepted == 0
    assert _deliver(app) == 1
    assert _outbound(app, conversation_id)[0].delivery_status == "sent" and mta.accepted == 1

    agent = auth(Role.agent)
    reply = client.post(f"/conversations/{conversation_id}/messages", headers=agent,
                        json={"text": "A gas crew is on the way to Elm St."})
    assert reply.status_code == 201, reply.text  # the request's background delivery sends it
    sent = _outbound(app, conversation_id)
    assert [m.delivery_status for m in sent] == ["sent", "sent"] and mta.accepted == 2

    got = _inbox(box, "ann", "ann-imap-pass")
    assert len(got) == 2
    for mail, ours in zip(got, sent, strict=True):
        assert mail["From"] == FROM and mail["To"] == "ann@example.net"
        assert mail["Subject"] == f"Re: {subject}"
        assert mail["In-Reply-To"] == "<c1.4711@mail.example.net>"
        assert mail["References"] == "<c1.4711@mail.example.net>"
        assert mail["Message-ID"] == f"<{ours.meta['provider_id']}>"  # the id we recorded is the one she has
        assert mail.get_content().strip() == ours.text.strip()
    assert got[1].get_content().strip() == "A gas crew is on the way to Elm St."

    # She answers our reply from her mail client: it is polled back into the same conversation and case
    ours = got[1]["Message-ID"].strip("<>")
    dovecot.deliver(box, "help", _mail("c2.4712@mail.example.net", "Thank you, it is at 12 Elm St.",
                                       subject=f"Re: {subject}", in_reply_to=ours,
                                       references=f"<c1.4711@mail.example.net> <{ours}>"),
                    envelope_from="ann@example.net")
    again = _poll(app)
    assert (again.unseen, again.filed) == (1, 1)
    with Session(app.state.engine) as session:
        answer = session.get(Message, again.message_ids[0])
        assert (answer.conversation_id, answer.customer_id) == (conversation_id, customer_id)
        assert len(session.exec(select(Case).where(Case.conversation_id == conversation_id)).all()) == 1


@pytest.mark.slow
def test_a_reply_the_smtp_server_refuses_is_failed_and_reaches_no_one(app, mail_servers):
    box, mta = mail_servers
    dovecot.deliver(box, "help", _mail("z1@mail.example.org", "Broken streetlight on our road.",
                                       sender="Zed <zed@example.org>", subject="Streetlight"),
                    envelope_from="zed@example.org")
    polled = _poll(app)
    with Session(app.state.engine) as session:
        conversation_id = session.get(Message, polled.message_ids[0]).conversation_id
    assert [m.delivery_status for m in _outbound(app, conversation_id)] == ["queued"]
    _deliver(app)
    (message,) = _outbound(app, conversation_id)
    assert message.delivery_status == "failed" and "550" in message.meta["detail"]
    assert "User unknown" in message.meta["detail"] and "provider_id" not in message.meta
    assert mta.accepted == 0 and _inbox(box, "ann", "ann-imap-pass") == []
