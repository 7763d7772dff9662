"""Payload builders in each provider's real shape."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from sqlmodel import Session, func, select

from server.cases.models import Case
from server.conversations.models import Message
from server.customers.models import Customer
from server.jobs.models import Job


def tweet(tweet_id: str, text: str, *, user_id: str = "u1", username: str = "resident1", name: str = "Res Ident",
          reply_to: str | None = None, lon_lat: tuple[float, float] | None = None, followers: int = 10,
          created_at: str | None = None) -> dict[str, Any]:
    """A tweet sent now unless created_at says otherwise (incidents join only reports close in time)."""
    created_at = created_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    data: dict[str, Any] = {"id": tweet_id, "text": text, "author_id": user_id, "created_at": created_at,
                            "conversation_id": reply_to or tweet_id, "public_metrics": {"retweet_count": 0}}
    if reply_to:
        data["referenced_tweets"] = [{"type": "replied_to", "id": reply_to}]
    if lon_lat:
        data["geo"] = {"coordinates": {"type": "Point", "coordinates": list(lon_lat)}}
    return {"data": data, "includes": {"users": [{"id": user_id, "username": username, "name": name,
                                                  "public_metrics": {"followers_count": followers}}]}}


def fb_comment(comment_id: str, text: str, *, sender: str = "fb-1", name: str = "Fay Book",
               post_id: str = "page_1", page: str = "page") -> dict[str, Any]:
    now = int(datetime.now(UTC).timestamp())  # sent now, like tweet() and email()
    return {"object": "page", "entry": [{"id": page, "time": now, "changes": [{"field": "feed", "value": {
        "item": "comment", "verb": "add", "comment_id": comment_id, "post_id": post_id, "parent_id": post_id,
        "from": {"id": sender, "name": name}, "message": text, "created_time": now}}]}]}


def email(message_id: str, text: str, *, sender: str = "Eve Mail <eve@example.org>", subject: str = "Problem",
          in_reply_to: str | None = None, references: str | None = None) -> bytes:
    headers = [f"From: {sender}", "To: help@groundcrew.example", f"Subject: {subject}",
               f"Date: {format_datetime(datetime.now(UTC))}", f"Message-ID: <{message_id}>"]
    if in_reply_to:
        headers.append(f"In-Reply-To: <{in_reply_to}>")
    if references:
        headers.append(f"References: {references}")
    return ("\r\n".join(headers) + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n").encode()


def sms(sid: str, text: str, *, sender: str = "+14105550100") -> dict[str, str]:
    return {"MessageSid": sid, "AccountSid": "AC1", "From": sender, "To": "+14105559999", "Body": text,
            "NumMedia": "0"}


def counts(session: Session) -> dict[str, int]:
    return {name: session.exec(select(func.count()).select_from(model)).one()
            for name, model in (("message", Message), ("customer", Customer), ("case", Case), ("job", Job))}
