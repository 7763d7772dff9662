"""Channel adapters: each turns one provider's inbound payload into the channel-neutral ``InboundMessage``
(plus the reach and addressing facts triage and the listening feed need). Bad payloads raise ``Invalid``
naming the field; nothing is stored by an adapter."""

from __future__ import annotations

import email
import email.policy
import email.utils
import functools
import hashlib
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from server.conversations.models import MAX_TEXT, InboundMessage, LinkedHandle, Visibility
from server.core.errors import Invalid
from server.customers.models import Channel


@dataclass
class Normalized:
    """One inbound message in the common shape, with what the pipeline needs besides."""

    inbound: InboundMessage
    followers: int = 0
    reposts: int = 0
    addressed_to_us: bool = True
    known_address: str | None = None
    stated_address: str | None = None  # an address typed in the form's address field: where the problem is


def build(**fields: Any) -> InboundMessage:
    """An ``InboundMessage``, or ``Invalid`` naming the first bad field."""
    text = fields.get("text")
    if isinstance(text, str) and len(text) > MAX_TEXT:
        raise Invalid(f"text: {len(text)} characters is longer than the {MAX_TEXT} allowed")
    try:
        return InboundMessage(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        msg = first["msg"].removeprefix("Value error, ")
        raise Invalid(f"{where}: {msg}" if not msg.startswith(f"{where}:") else msg) from None


def _time(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, (int, float)):
        stamp = float(value) / (1000 if value > 10**11 else 1)
        return datetime.fromtimestamp(stamp, UTC)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00").replace("+0000", "+00:00"))
    except ValueError:
        raise Invalid(f"{field}: '{value}' is not an ISO 8601 time") from None


def _need(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(obj, Mapping) or obj.get(key) in (None, ""):
        raise Invalid(f"{where}.{key}: required")
    return obj[key]


# ------------------------------------------------------------------------------------------- X / Twitter v2
@functools.cache
def our_handles(spec: str) -> frozenset[str]:
    """Our social handles from the comma-separated setting, lower case without '@' (parsed once per spec)."""
    return frozenset(h.strip().lstrip("@").lower() for h in spec.split(",") if h.strip())


def twitter(payload: Any, *, handles: frozenset[str]) -> list[Normalized]:
    """X API v2 tweet payload(s): ``data`` (one tweet or a list), ``includes.users`` / ``places`` / ``media``."""
    if not isinstance(payload, Mapping):
        raise Invalid("body: expected a JSON object with 'data'")
    data = payload.get("data")
    tweets = data if isinstance(data, list) else [data] if isinstance(data, Mapping) else None
    if not tweets:
        raise Invalid("data: required (a tweet object or a list of them)")
    includes = payload.get("includes") or {}
    users = {str(u.get("id")): u for u in includes.get("users") or [] if isinstance(u, Mapping)}
    places = {str(p.get("id")): p for p in includes.get("places") or [] if isinstance(p, Mapping)}
    media = {str(m.get("media_key")): m for m in includes.get("media") or [] if isinstance(m, Mapping)}
    out = []
    for i, tweet in enumerate(tweets):
        where = f"data[{i}]" if isinstance(data, list) else "data"
        if not isinstance(tweet, Mapping):
            raise Invalid(f"{where}: expected a tweet object")
        tweet_id = str(_need(tweet, "id", where))
        text = _need(tweet, "text", where)
        author_id = str(_need(tweet, "author_id", where))
        user = users.get(author_id, {})
        username = user.get("username") or author_id
        lat = lon = None
        place_name = None
        geo = tweet.get("geo") or {}
        coords = (geo.get("coordinates") or {}).get("coordinates") if isinstance(geo, Mapping) else None
        if coords is not None:
            if not (isinstance(coords, list) and len(coords) == 2 and all(isinstance(c, (int, float)) for c in coords)):
                raise Invalid(f"{where}.geo.coordinates.coordinates: expected [longitude, latitude]")
            lon, lat = float(coords[0]), float(coords[1])
        if isinstance(geo, Mapping) and geo.get("place_id") and str(geo["place_id"]) in places:
            place_name = places[str(geo["place_id"])].get("full_name")
        replied = [r for r in tweet.get("referenced_tweets") or [] if isinstance(r, Mapping)
                   and r.get("type") == "replied_to"]
        reply_to = str(replied[0]["id"]) if replied and replied[0].get("id") else None
        mentions = {str(m.get("username", "")).lower() for m in (tweet.get("entities") or {}).get("mentions") or []
                    if isinstance(m, Mapping)}
        mentions |= {m.lower() for m in re.findall(r"@(\w{1,30})", str(text))}
        addressed = bool(mentions & handles) or (reply_to is not None and str(tweet.get("in_reply_to_user_id", ""))
                                                 in {str(u["id"]) for u in users.values()
                                                     if str(u.get("username", "")).lower() in handles})
        keys = (tweet.get("attachments") or {}).get("media_keys") or []
        links = [str(media[k].get("url") or media[k].get("preview_image_url")) for k in keys
                 if k in media and (media[k].get("url") or media[k].get("preview_image_url"))]
        metrics = tweet.get("public_metrics") or {}
        inbound = build(
            channel=Channel.twitter, external_id=tweet_id, author_handle=username,
            author_name=user.get("name") or username, author_verified=True, text=text,
            sent_at=_time(tweet.get("created_at"), f"{where}.created_at"), visibility=Visibility.public,
            lat=lat, lon=lon, place_name=place_name, media=links[:10], reply_to_external_id=reply_to,
            thread_id=str(tweet.get("conversation_id")) if tweet.get("conversation_id") else None,
        )
        out.append(Normalized(inbound, followers=int((user.get("public_metrics") or {}).get("followers_count") or 0),
                              reposts=int(metrics.get("retweet_count") or 0) + int(metrics.get("quote_count") or 0),
                              addressed_to_us=addressed))
    return out


# ------------------------------------------------------------------------------------------- Facebook page
def facebook(payload: Any) -> list[Normalized]:
    """Meta page webhook (``object: page``, ``entry[].changes[]`` with ``field: feed`` posts and comments)."""
    if not isinstance(payload, Mapping) or payload.get("object") != "page":
        raise Invalid("object: expected 'page' (a Facebook page webhook)")
    entries = payload.get("entry")
    if not isinstance(entries, list) or not entries:
        raise Invalid("entry: required (a list)")
    out = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise Invalid(f"entry[{i}]: expected an object")
        page_id = str(entry.get("id", ""))
        for j, change in enumerate(entry.get("changes") or []):
            where = f"entry[{i}].changes[{j}].value"
            value = change.get("value") if isinstance(change, Mapping) else None
            if not isinstance(value, Mapping):
                raise Invalid(f"{where}: required")
            if change.get("field") != "feed" or value.get("verb", "add") != "add":
                continue
            if value.get("item") not in ("post", "status", "comment", "photo"):
                continue
            sender = value.get("from") or {}
            sender_id = str(_need(sender, "id", f"{where}.from"))
            if sender_id == page_id:
                continue  # our own page's posts and replies
            item_id = str(value.get("comment_id") or value.get("post_id") or "")
            if not item_id:
                raise Invalid(f"{where}.post_id: required")
            text = value.get("message")
            if not isinstance(text, str) or not text.strip():
                raise Invalid(f"{where}.message: required")
            parent = value.get("parent_id") if value.get("item") == "comment" else None
            links = [str(value[k]) for k in ("photo", "link") if isinstance(value.get(k), str)]
            inbound = build(
                channel=Channel.facebook, external_id=item_id, author_handle=sender_id,
                author_name=str(sender.get("name") or ""), author_verified=True, text=text,
                sent_at=_time(value.get("created_time"), f"{where}.created_time"), visibility=Visibility.public,
                media=links, reply_to_external_id=str(parent) if parent else None,
                thread_id=str(value.get("post_id")) if value.get("post_id") else None,
            )
            out.append(Normalized(inbound))
    if not out:
        raise Invalid("entry: no new post or comment from a visitor in this delivery")
    return out


# ------------------------------------------------------------------------------------------- email (RFC 822)
_TAGS = re.compile(r"<[^>]+>")
_QUOTED = re.compile(r"(?ms)^On .{0,200}wrote:\s*$.*|^>.*$")


def _clean_id(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    ids = re.findall(r"<([^<>]+)>", value)
    return (ids[0] if ids else value.strip("<> "))[:200] or None


def parse_email(raw: bytes) -> Normalized:
    """A raw RFC 822 message: From is the author, Message-ID the external id; threads by References/In-Reply-To."""
    if not raw.strip():
        raise Invalid("body: empty; send the raw RFC 822 message")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if not msg.keys():
        raise Invalid("body: not an RFC 822 message (no headers)")
    from_header = msg.get("From")
    name, address = email.utils.parseaddr(str(from_header or ""))
    if not address or "@" not in address:
        raise Invalid("From: required (a sender address)")
    message_id = _clean_id(msg.get("Message-ID"))
    if not message_id:
        message_id = "sha256-" + hashlib.sha256(raw).hexdigest()[:40]
    body_part = msg.get_body(preferencelist=("plain", "html"))
    text = ""
    if body_part is not None:
        try:
            text = body_part.get_content()
        except (LookupError, UnicodeError):
            text = body_part.get_payload(decode=True).decode("utf-8", "replace")  # type: ignore[union-attr]
        if body_part.get_content_type() == "text/html":
            text = html.unescape(_TAGS.sub(" ", text))
    text = _QUOTED.sub("", text).strip()
    subject = str(msg.get("Subject") or "").strip()
    if not text:
        text = subject
    if not text:
        raise Invalid("body: the email has no text (no text/plain or text/html part and no Subject)")
    in_reply_to = _clean_id(msg.get("In-Reply-To"))
    references = re.findall(r"<([^<>]+)>", str(msg.get("References") or ""))
    thread = references[0] if references else in_reply_to or message_id
    sent_at = None
    if msg.get("Date"):
        try:
            sent_at = email.utils.parsedate_to_datetime(str(msg["Date"]))
        except (TypeError, ValueError):
            raise Invalid(f"Date: '{msg['Date']}' is not an RFC 822 date") from None
        if sent_at.tzinfo is None:
            sent_at = sent_at.replace(tzinfo=UTC)
    attachments = [f"attachment:{part.get_filename()}" for part in msg.iter_attachments() if part.get_filename()]
    return Normalized(build(
        channel=Channel.email, external_id=message_id, author_handle=address, author_name=name,
        author_verified=True, text=text, sent_at=sent_at, visibility=Visibility.private, media=attachments[:10],
        reply_to_external_id=in_reply_to, thread_id=thread[:200], subject=subject[:300],
    ))


# ------------------------------------------------------------------------------------------- SMS (Twilio)
def sms(form: Mapping[str, str]) -> Normalized:
    """A Twilio Messaging webhook (form fields MessageSid, From, Body, NumMedia, MediaUrlN)."""
    sid = form.get("MessageSid") or form.get("SmsSid")
    if not sid:
        raise Invalid("MessageSid: required")
    sender = form.get("From")
    if not sender:
        raise Invalid("From: required")
    body = form.get("Body")
    if body is None or not body.strip():
        raise Invalid("Body: required (the text of the SMS)")
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError:
        raise Invalid("NumMedia: not a number") from None
    links = [form[f"MediaUrl{i}"] for i in range(min(count, 10)) if form.get(f"MediaUrl{i}")]
    lat = lon = None
    if form.get("Latitude") or form.get("Longitude"):
        try:
            lat, lon = float(form.get("Latitude", "")), float(form.get("Longitude", ""))
        except ValueError:
            raise Invalid("Latitude/Longitude: not numbers") from None
    return Normalized(build(
        channel=Channel.sms, external_id=sid, author_handle=sender, author_name="", author_verified=True, text=body,
        visibility=Visibility.private, media=links, lat=lat, lon=lon, thread_id=f"sms:{sender}",
    ))


# ------------------------------------------------------------------------------------------- web form
def webform(body: Any) -> Normalized:
    """Our own web form: submission_id, name, email and/or phone, text, optional lat/lon, address, photos."""
    if not isinstance(body, Mapping):
        raise Invalid("body: expected a JSON object")
    submission = body.get("submission_id")
    if not submission:
        raise Invalid("submission_id: required (the form's unique id for this submission)")
    email_addr = (body.get("email") or "").strip() or None
    phone = (body.get("phone") or "").strip() or None
    if not email_addr and not phone:
        raise Invalid("email: give an email address or a phone number so we can answer")
    if email_addr and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email_addr):
        raise Invalid(f"email: '{email_addr}' is not an email address")
    # Typed into a public form: a claim, never proof (an "account_verified" in the body is ignored). Matching
    # customers only become merge suggestions an agent confirms.
    primary = (Channel.email, email_addr) if email_addr else (Channel.sms, phone)
    linked = [LinkedHandle(channel=primary[0], handle=primary[1] or "", verified=False)]
    if email_addr and phone:
        linked.append(LinkedHandle(channel=Channel.sms, handle=phone, verified=False))
    for key in ("lat", "lon"):
        if body.get(key) is not None and not isinstance(body.get(key), (int, float)):
            raise Invalid(f"{key}: must be a number")
    photos = body.get("photos") or []
    if not isinstance(photos, list):
        raise Invalid("photos: must be a list of URLs")
    return Normalized(build(
        channel=Channel.webform, external_id=str(submission), author_handle=str(email_addr or phone),
        author_name=str(body.get("name") or ""), author_verified=False, text=body.get("text") or "",
        sent_at=_time(body.get("submitted_at"), "submitted_at"), visibility=Visibility.private,
        lat=body.get("lat"), lon=body.get("lon"), place_name=body.get("address") or None, media=photos,
        linked_handles=linked,
    ), known_address=body.get("home_address") or None, stated_address=body.get("address") or None)
