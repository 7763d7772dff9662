"""X (Twitter) replies through X API v2, as the brand account (user context).

- Public: ``POST /2/tweets`` with ``reply.in_reply_to_tweet_id`` = the customer's latest tweet in the thread,
  https://docs.x.com/x-api/posts/create-post .
- Private: ``POST /2/dm_conversations/with/{participant_id}/messages`` with ``text``,
  https://docs.x.com/x-api/direct-messages/create-dm-message-by-participant-id . ``participant_id`` is the
  customer's numeric user id, which inbound X messages carry in ``meta["x_user_id"]``; a username is never sent.
- Private with answer buttons (``Outbound.quick_replies``): X API v2 has no quick replies, so such a DM goes through
  ``POST /1.1/direct_messages/events/new.json`` (a ``message_create`` event whose ``message_data.quick_reply`` is
  ``{"type": "options", "options": [{"label", "description", "metadata"}]}``: at most 20 options, label <= 36
  characters, description <= 72, metadata <= 1000; https://developer.x.com/en/docs/direct-messages/quick-replies/
  api-reference/options and .../sending-and-receiving/api-reference/new-event). That endpoint takes OAuth 1.0a user
  context only: with a bearer token alone, or when X refuses this app that endpoint (401/403/404/410, e.g. error
  453 of an access level without v1.1), the DM goes as v2 text (the text always says how to answer by typing).
Auth: OAuth 1.0a user context (consumer key/secret + the brand's access token/secret, HMAC-SHA1, signed with
oauthlib; JSON bodies are not part of the signature) or an OAuth 2.0 user-context bearer token.
Media links are appended to the text (uploading media is not done here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, overload

import httpx
from oauthlib.oauth1 import Client as OAuth1Client

from server.notify.connectors import DeliveryResult, Outbound, QuickReply, failure, transport_failure


@dataclass
class XApi:
    consumer_key: str | None = None
    consumer_secret: str | None = None
    access_token: str | None = None
    access_token_secret: str | None = None
    bearer_token: str | None = None
    api_url: str = "https://api.x.com"
    timeout_s: float = 15.0
    name: str = "x"

    def deliver(self, outbound: Outbound) -> DeliveryResult:
        text = "\n".join([outbound.text, *outbound.media]) if outbound.media else outbound.text
        if outbound.visibility == "public":
            if not outbound.reply_to_external_id:
                return failure("no tweet of the customer's to reply to in this thread", retryable=False)
            return self._post("/2/tweets", {"text": text, "reply": {
                "in_reply_to_tweet_id": outbound.reply_to_external_id}}, "reply", "id")
        participant = outbound.recipient_id
        if not participant or not participant.isdigit():
            return failure("the customer's numeric X user id is unknown (no inbound X message carried it); "
                           "a DM needs it, not the username", retryable=False)
        if outbound.quick_replies and self._oauth1:
            sent = self._post("/1.1/direct_messages/events/new.json", dm_event(participant, text,
                                                                              outbound.quick_replies),
                              "DM with quick replies", "id", envelope="event", unavailable=UNAVAILABLE)
            if sent is not None:
                return sent
            # This app may not use v1.1 DM events (X's access tiers): the same DM as text, which says how to answer.
        return self._post(f"/2/dm_conversations/with/{participant}/messages", {"text": text}, "DM", "dm_event_id")

    @property
    def _oauth1(self) -> bool:
        return bool(self.consumer_key and self.consumer_secret and self.access_token and self.access_token_secret)

    def _headers(self, url: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self._oauth1:
            signer = OAuth1Client(self.consumer_key, client_secret=self.consumer_secret,
                                  resource_owner_key=self.access_token,
                                  resource_owner_secret=self.access_token_secret)
            _uri, signed, _body = signer.sign(url, http_method="POST", headers=headers)
            return dict(signed)
        return {**headers, "Authorization": f"Bearer {self.bearer_token}"}

    @overload
    def _post(self, path: str, body: dict[str, Any], what: str, id_key: str, envelope: str = "data",
              unavailable: None = None) -> DeliveryResult: ...

    @overload
    def _post(self, path: str, body: dict[str, Any], what: str, id_key: str, envelope: str = "data",
              unavailable: frozenset[int] = ...) -> DeliveryResult | None: ...

    def _post(self, path: str, body: dict[str, Any], what: str, id_key: str, envelope: str = "data",
              unavailable: frozenset[int] | None = None) -> DeliveryResult | None:
        """POST ``body``; with ``unavailable``, None when X answers one of those statuses (nothing was sent)."""
        url = self.api_url.rstrip("/") + path
        try:
            response = httpx.post(url, json=body, headers=self._headers(url), timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            return transport_failure("X API", exc)
        if unavailable and response.status_code in unavailable:
            return None
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        data = answer.get(envelope) if isinstance(answer, dict) else None  # v2: "data"; v1.1 DM events: "event"
        if response.status_code >= 300 or not isinstance(data, dict):
            reason = ""
            if isinstance(answer, dict):
                errors = answer.get("errors") if isinstance(answer.get("errors"), list) else []
                reason = str(answer.get("detail") or answer.get("title")
                             or (errors[0].get("message") if errors and isinstance(errors[0], dict) else "") or "")
            return failure(f"X refused the {what} (HTTP {response.status_code}): {reason or response.text[:200]}",
                           status=response.status_code if response.status_code >= 300 else None,
                           retryable=None if response.status_code >= 300 else False)
        ext = data.get(id_key)
        return DeliveryResult(ok=True, detail=f"accepted by X ({what})", external_id=str(ext) if ext else None)


#: X's limits on quick reply options (https://developer.x.com/en/docs/direct-messages/quick-replies/api-reference/
#: options): options per message, characters per label, per description, per metadata.
MAX_OPTIONS, MAX_LABEL, MAX_DESCRIPTION, MAX_METADATA = 20, 36, 72, 1000
#: Answers of the v1.1 DM endpoint that mean this app may not use it (not permitted for the app's access level, or
#: gone), not that the DM is bad: the DM then goes through v2 as text.
UNAVAILABLE = frozenset({401, 403, 404, 410})


def dm_event(participant: str, text: str, quick_replies: tuple[QuickReply, ...]) -> dict[str, Any]:
    """The v1.1 ``message_create`` event of a DM with quick reply options. Every option has a description when any
    has one (X refuses a mix); labels and descriptions are cut to X's limits, and an option whose metadata is over
    the limit is left out (cutting it would break its signature)."""
    options = [q for q in quick_replies if len(q.payload) <= MAX_METADATA][:MAX_OPTIONS]
    described = any(q.description for q in options)
    data: dict[str, Any] = {"text": text}
    if options:
        data["quick_reply"] = {"type": "options", "options": [
            {"label": q.label[:MAX_LABEL], "metadata": q.payload,
             **({"description": (q.description or q.label)[:MAX_DESCRIPTION]} if described else {})}
            for q in options]}
    return {"event": {"type": "message_create", "message_create": {
        "target": {"recipient_id": participant}, "message_data": data}}}
