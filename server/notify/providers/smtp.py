"""Email replies over SMTP (``smtplib``), threaded into the customer's own mail thread.

From: the deployment's ``email_from``. Subject: ``Re: <the thread's subject>``. ``In-Reply-To``: the Message-ID of
the customer's latest mail (stored as that message's external id); ``References``: the thread's root then that
id (RFC 5322 §3.6.4). ``Message-ID``: our own, derived from our message id, so a retry re-sends the same id and a
mail client shows a duplicate as one. Media stored on this server (Open311 photos, job completion photos) goes as
real attachments (RFC 2046 multipart/mixed), read from ``data_dir``, never fetched over HTTP; any other media URL
(and ours beyond ``MAX_ATTACHMENT_BYTES`` in all) stays a link in the text."""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from urllib.parse import urlsplit

from server.notify.connectors import DeliveryResult, Outbound, failure


def reply_subject(subject: str) -> str:
    subject = " ".join(subject.split())  # no header folding or injection from a stored subject
    if not subject:
        return "Re: your report"
    return subject if subject.lower().startswith("re:") else f"Re: {subject}"


def _ids(*values: str | None) -> list[str]:
    out: list[str] = []
    for value in values:
        clean = (value or "").strip().strip("<>")
        if clean and not any(c in clean for c in "<> \r\n") and clean not in out:
            out.append(clean)
    return out


#: At most this much stored media is attached to one reply (bytes); beyond it, media goes as links.
MAX_ATTACHMENT_BYTES = 10_000_000
# Our own media URLs (absolute or relative): an Open311 upload and a job's completion attachment.
_OPEN311_MEDIA = re.compile(r"/open311/v2/media/(\d+)/([0-9a-f]{16}\.(?:jpg|png|gif|webp))")
_JOB_MEDIA = re.compile(r"/jobs/(\d+)/attachments/([A-Za-z0-9][A-Za-z0-9_-]{0,100}\.(?:jpg|jpeg|png|gif|webp))")
_IMAGE_TYPES = {b"\xff\xd8\xff": "jpeg", b"\x89PNG\r\n\x1a\n": "png", b"GIF87a": "gif", b"GIF89a": "gif"}


def stored_file(data_dir: Path, reference: str) -> Path | None:
    """The file under ``data_dir`` behind one of our own media URLs (Open311 photo, job attachment), or None for
    anything else. Only the URL's path is read, through two fixed patterns: no client text reaches a file name."""
    path = urlsplit(reference).path
    if (match := _OPEN311_MEDIA.fullmatch(path)) is not None:
        target = data_dir / "uploads" / "open311" / match.group(1) / match.group(2)
    elif (match := _JOB_MEDIA.fullmatch(path)) is not None:
        target = data_dir / "uploads" / "jobs" / match.group(1) / match.group(2)
    else:
        return None
    return target if target.is_file() else None


def _image_subtype(content: bytes) -> str | None:
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "webp"
    return next((kind for magic, kind in _IMAGE_TYPES.items() if content.startswith(magic)), None)


def _attachments(media: tuple[str, ...], data_dir: Path | None) -> tuple[list[tuple[str, str, bytes]], list[str]]:
    """(files to attach: (name, image subtype, bytes), media left as links)."""
    files: list[tuple[str, str, bytes]] = []
    links: list[str] = []
    total = 0
    for reference in media:
        found = stored_file(data_dir, reference) if data_dir is not None else None
        content = found.read_bytes() if found is not None else b""
        subtype = _image_subtype(content) if content else None
        if found is None or subtype is None or total + len(content) > MAX_ATTACHMENT_BYTES:
            links.append(reference)
            continue
        total += len(content)
        files.append((found.name, subtype, content))
    return files, links


def build_message(outbound: Outbound, sender: str, data_dir: Path | None = None) -> EmailMessage:
    """The reply as an RFC 5322 message: plain text, our stored media attached (``data_dir``), other media as
    links."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "groundcrew.invalid"
    token = hashlib.sha256(f"{sender}|{outbound.idempotency_key}".encode()).hexdigest()[:16]
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = outbound.to_handle or ""
    msg["Subject"] = reply_subject(outbound.subject)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = f"<groundcrew.{outbound.message_id}.{token}@{domain}>"
    parent = _ids(outbound.reply_to_external_id)
    if parent:
        msg["In-Reply-To"] = f"<{parent[0]}>"
    references = _ids(outbound.thread_id, outbound.reply_to_external_id)
    if references:
        msg["References"] = " ".join(f"<{r}>" for r in references)
    files, links = _attachments(outbound.media, data_dir)
    msg.set_content("\n".join([outbound.text, *links]) if links else outbound.text)
    for name, subtype, content in files:
        msg.add_attachment(content, maintype="image", subtype=subtype, filename=name)
    return msg


@dataclass
class SMTPMail:
    host: str
    sender: str
    port: int = 587
    username: str | None = None
    password: str | None = None
    security: str = "starttls"  # starttls | ssl | none
    timeout_s: float = 15.0
    data_dir: Path | None = None  # where our own media is stored (attached); None: every medium is a link
    name: str = "smtp"

    def deliver(self, outbound: Outbound) -> DeliveryResult:
        if not outbound.to_handle or "@" not in outbound.to_handle:
            return failure("no email address is known for this customer", retryable=False)
        msg = build_message(outbound, self.sender, self.data_dir)
        try:
            if self.security == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s,
                                                      context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
                if self.username:
                    smtp.login(self.username, self.password or "")
                smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()), (550, b""))
            return failure(f"the mail server refused {outbound.to_handle}: {code} {_text(reason)}",
                           retryable=400 <= code < 500)
        except smtplib.SMTPResponseException as exc:
            transient = 400 <= exc.smtp_code < 500 or exc.smtp_code in (530, 535)  # auth: fixable configuration
            return failure(f"the mail server answered {exc.smtp_code} {_text(exc.smtp_error)}", retryable=transient)
        except (smtplib.SMTPException, OSError) as exc:
            return failure(f"mail server unreachable: {type(exc).__name__}: {exc}")
        return DeliveryResult(ok=True, detail=f"accepted by {self.host}", external_id=msg["Message-ID"].strip("<>"))


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
