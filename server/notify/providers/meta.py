"""Facebook Page replies through Meta's Graph API: Messenger (private) and comment replies (public).

- Private: the Send API, ``POST /me/messages`` with ``recipient.id`` = the customer's page-scoped id (PSID),
  https://developers.facebook.com/docs/messenger-platform/reference/send-api/ . Inside the standard 24-hour window
  after the customer's last message: ``messaging_type=RESPONSE``. Outside it the message is not sent (fails with
  the reason) unless the deployment set a message tag it may use (``messaging_type=MESSAGE_TAG``,
  https://developers.facebook.com/docs/messenger-platform/send-messages/message-tags/). Answer buttons
  (``Outbound.quick_replies``) go as ``message.quick_replies`` (``content_type: text``, ``title`` <= 20 characters,
  ``payload`` <= 1000, at most 13; https://developers.facebook.com/docs/messenger-platform/reference/buttons/
  quick-replies).
- Public: ``POST /{comment-or-post-id}/comments`` with ``message``,
  https://developers.facebook.com/docs/graph-api/reference/object/comments/ .
Calls carry the page token as ``access_token`` and, when the app secret is known, ``appsecret_proof``."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from server.core.timeutil import as_utc, utcnow
from server.notify.connectors import DeliveryResult, Outbound, QuickReply, failure, transport_failure

WINDOW = timedelta(hours=24)
_TRANSIENT_CODES = {1, 2, 4, 17, 32, 341, 613}  # unknown/service/rate-limit errors Meta says to retry


def appsecret_proof(access_token: str, app_secret: str) -> str:
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


@dataclass
class MetaPage:
    page_access_token: str
    app_secret: str | None = None
    graph_url: str = "https://graph.facebook.com/v21.0"
    message_tag: str | None = None
    timeout_s: float = 15.0
    name: str = "meta"

    def deliver(self, outbound: Outbound) -> DeliveryResult:
        if outbound.visibility == "public":
            target = outbound.reply_to_external_id or outbound.thread_id
            if not target:
                return failure("no Page post or comment to reply to", retryable=False)
            body: dict[str, Any] = {"message": _with_links(outbound.text, outbound.media)}
            return self._post(f"/{target}/comments", body, "comment reply")
        if not outbound.to_handle:
            return failure("no Messenger recipient (page-scoped id) is known for this customer", retryable=False)
        inside = outbound.last_inbound_at is not None and utcnow() - as_utc(outbound.last_inbound_at) < WINDOW
        message: dict[str, Any] = {"text": _with_links(outbound.text, outbound.media)}
        if replies := quick_replies(outbound.quick_replies):
            message["quick_replies"] = replies
        body = {"recipient": {"id": outbound.to_handle}, "message": message}
        if inside:
            body["messaging_type"] = "RESPONSE"
        elif self.message_tag:
            body["messaging_type"] = "MESSAGE_TAG"
            body["tag"] = self.message_tag
        else:
            last = as_utc(outbound.last_inbound_at).isoformat() if outbound.last_inbound_at else "never"
            return failure("outside Messenger's 24-hour window (the customer last wrote: "
                           f"{last}); not sent — answer publicly or set GROUNDCREW_META_MESSAGE_TAG where Meta's "
                           "policy allows a tag", retryable=False)
        return self._post("/me/messages", body, "Messenger message")

    def _post(self, path: str, body: dict[str, Any], what: str) -> DeliveryResult:
        params = {"access_token": self.page_access_token}
        if self.app_secret:
            params["appsecret_proof"] = appsecret_proof(self.page_access_token, self.app_secret)
        try:
            response = httpx.post(self.graph_url.rstrip("/") + path, params=params, json=body, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            return transport_failure("Meta Graph API", exc)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        if response.status_code >= 300 or not isinstance(answer, dict) or "error" in answer:
            error = answer.get("error") if isinstance(answer, dict) and isinstance(answer.get("error"), dict) else {}
            transient = bool(error.get("is_transient")) or error.get("code") in _TRANSIENT_CODES
            detail = (f"Meta refused the {what} (HTTP {response.status_code}, code {error.get('code')}"
                      f"/{error.get('error_subcode')}): {error.get('message') or response.text[:200]}")
            return failure(detail, status=response.status_code,
                           retryable=True if transient else None if response.status_code >= 300 else False)
        ext = answer.get("message_id") or answer.get("id")
        return DeliveryResult(ok=True, detail=f"accepted by Meta ({what})", external_id=str(ext) if ext else None)


#: Meta's limits on quick replies (https://developers.facebook.com/docs/messenger-platform/reference/buttons/
#: quick-replies): buttons per message, characters per title, per payload.
MAX_QUICK_REPLIES, MAX_TITLE, MAX_PAYLOAD = 13, 20, 1000


def quick_replies(replies: tuple[QuickReply, ...]) -> list[dict[str, str]]:
    """Messenger's ``quick_replies`` for our answer buttons: text buttons, titles cut to 20 characters; a button
    whose payload is over the limit is left out (cutting it would break its signature)."""
    return [{"content_type": "text", "title": q.label[:MAX_TITLE], "payload": q.payload}
            for q in replies if len(q.payload) <= MAX_PAYLOAD][:MAX_QUICK_REPLIES]


def _with_links(text: str, media: tuple[str, ...]) -> str:
    return "\n".join([text, *media]) if media else text
