"""Email replies over SMTP to a real SMTP server (aiosmtpd) started by the test: the answer arrives with our
From, "Re: <subject>", and In-Reply-To / References threading it under the customer's mail (RFC 5322 §3.6.4,
https://www.rfc-editor.org/rfc/rfc5322#section-3.6.4); transient (4xx) answers are retried, permanent (5xx)
refusals fail with the server's reason (RFC 5321 §4.2.1)."""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session

from server.conversations import service as conversations
from server.intake.mail import MailPolicy, parse_email
from tests.server.notify.conftest import run_pass, stored

FROM = "City Services <help@city.example>"


class Mailbox:
    """An aiosmtpd handler that keeps what it accepts; RCPT and DATA answers can be scripted."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.data_answers: list[str] = []
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_answers:
            return self.data_answers.pop(0)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"


@pytest.fixture
def mailbox(app) -> Iterator[Mailbox]:  # type: ignore[no-untyped-def]
    box = Mailbox()
    with socket.socket() as probe:  # aiosmtpd needs a port number it can connect to, not 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        s = app.state.settings
        s.smtp_host, s.smtp_port, s.smtp_security, s.email_from = "127.0.0.1", controller.port, "none", FROM
        s.notify_retry_base_s = 0.0
        yield box
    finally:
        controller.stop()


def _mail_in(app, sender: str, message_id: str, references: str = "") -> int:  # type: ignore[no-untyped-def]
    """The customer's mail, parsed and stored as intake stores it; returns the conversation id."""
    raw = (f"From: Ann Lee <{sender}>\r\nTo: help@city.example\r\nSubject: Gas smell on Elm St\r\n"
           f"Message-ID: <{message_id}>\r\nDate: Fri, 04 Dec 2026 09:00:00 +0000\r\n"
           + (f"In-Reply-To: <{references.split()[-1].strip('<>')}>\r\nReferences: {references}\r\n"
              if references else "")
           + "\r\nThere is a strong gas smell outside 12 Elm St.\r\n").encode()
    with Session(app.state.engine) as session:
        inbound = parse_email(raw, policy=MailPolicy(verify_dkim_locally=False)).inbound
        done = conversations.ingest(session=session, inbound=inbound)
        session.commit()
        return done.message.conversation_id


def test_reply_arrives_threaded_with_our_from_and_message_id(app, mailbox, queue_reply):
    conversation_id = _mail_in(app, "ann@example.net", "first.1@mail.example.net")
    again = _mail_in(app, "ann@example.net", "second.2@mail.example.net", references="<first.1@mail.example.net>")
    assert again == conversation_id  # the customer's follow-up is in the same thread
    message_id = queue_reply(conversation_id, "A gas crew is on the way to 12 Elm St.")
    run_pass(app)
    assert len(mailbox.messages) == 1
    got = mailbox.messages[0]
    assert mailbox.envelopes[0] == ("help@city.example", ["ann@example.net"])
    assert got["From"] == FROM and got["To"] == "ann@example.net"
    assert got["Subject"] == "Re: Gas smell on Elm St"
    assert got["In-Reply-To"] == "<second.2@mail.example.net>"
    assert got["References"] == "<first.1@mail.example.net> <second.2@mail.example.net>"
    assert got.get_content().strip() == "A gas crew is on the way to 12 Elm St."
    message = stored(app, message_id)
    assert message.delivery_status == "sent"
    assert got["Message-ID"] == f"<{message.meta['provider_id']}>"
    assert got["Message-ID"].startswith(f"<groundcrew.{message_id}.") and got["Message-ID"].endswith("@city.example>")


def test_temporary_failure_is_retried_and_a_refused_address_fails(app, mailbox, queue_reply):
    mailbox.data_answers = ["451 4.3.0 Try again later"]
    conversation_id = _mail_in(app, "ann@example.net", "first.3@mail.example.net")
    message_id = queue_reply(conversation_id, "Update: crew arrives at 3 pm.")
    run_pass(app)
    message = stored(app, message_id)
    assert message.delivery_status == "queued" and "451" in message.meta["detail"]
    run_pass(app)
    assert stored(app, message_id).delivery_status == "sent" and len(mailbox.messages) == 1

    mailbox.refuse["gone@example.net"] = "550 5.1.1 No such user"
    refused = queue_reply(_mail_in(app, "gone@example.net", "first.4@mail.example.net"), "Update.")
    run_pass(app)
    message = stored(app, refused)
    assert message.delivery_status == "failed" and "550" in message.meta["detail"]
    assert "No such user" in message.meta["detail"] and message.meta["attempts"] == 1


def test_header_injection_through_the_subject_is_not_possible(app, mailbox, thread_with, queue_reply):
    conversation_id, _ = thread_with(channel="email", external_id="x.5@mail.example.net", text="hi",
                                     author_handle="ann@example.net", thread_id="x.5@mail.example.net",
                                     subject="Hello\r\nBcc: everyone@example.com")
    queue_reply(conversation_id, "Thanks.")
    run_pass(app)
    got = mailbox.messages[0]
    assert got["Bcc"] is None and mailbox.envelopes[0][1] == ["ann@example.net"]


PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c63"
                    "f8cf000000000301010018dd8db40000000049454e44ae426082")  # a 1x1 PNG


def test_our_stored_photos_go_as_attachments_and_other_media_as_links(app, mailbox, thread_with, queue_reply):
    """An Open311 photo and a job's completion photo stored on this server are attached (multipart/mixed, RFC 2046)
    from data_dir; a URL elsewhere stays a link (never fetched by the server); a name outside our patterns too."""
    data_dir = app.state.settings.data_dir
    (data_dir / "uploads" / "open311" / "41").mkdir(parents=True)
    (data_dir / "uploads" / "open311" / "41" / "0123456789abcdef.png").write_bytes(PNG)
    (data_dir / "uploads" / "jobs" / "7").mkdir(parents=True)
    (data_dir / "uploads" / "jobs" / "7" / "photo0.png").write_bytes(PNG)
    conversation_id = _mail_in(app, "ann@example.net", "first.6@mail.example.net")
    message_id = queue_reply(conversation_id, "Fixed: see the photos.")
    media = ["https://gc.example.org/open311/v2/media/41/0123456789abcdef.png", "/jobs/7/attachments/photo0.png",
             "https://elsewhere.example/pothole.jpg", "/jobs/7/attachments/../../../../etc/passwd"]
    with Session(app.state.engine) as session:
        from server.conversations.models import Message

        message = session.get(Message, message_id)
        message.media = media
        session.add(message)
        session.commit()
    run_pass(app)
    assert stored(app, message_id).delivery_status == "sent"
    got = mailbox.messages[0]
    assert got.get_content_type() == "multipart/mixed"
    attached = [(part.get_filename(), part.get_content_type(), part.get_content()) for part in got.iter_attachments()]
    assert attached == [("0123456789abcdef.png", "image/png", PNG), ("photo0.png", "image/png", PNG)]
    text = got.get_body(preferencelist=("plain",)).get_content()
    assert "Fixed: see the photos." in text and "https://elsewhere.example/pothole.jpg" in text
    assert "/etc/passwd" in text and "open311/v2/media" not in text  # not ours: a link; ours: attached
