"""X (Twitter) replies through X API v2, as the brand account (user context).

- Public: ``POST /2/tweets`` with ``reply.in_reply_to_tweet_id`` = the customer's latest tweet in the thread,
  https://docs.x.com/x-api/posts/create-post .
- Private: ``POST /2/dm_conversations/with/{participant_id}/messages`` with ``text``,
  https://docs.x.com/x-api/direct-messages/create-dm-message-by-participant-id . ``participant_id`` is the
  customer's numeric user id, which inbound X messages carry in ``meta["x_user_id"]``; a username is never sent.
Auth: OAuth 1.0a user context (consumer key/secret + the brand's access token/secret, HMAC-SHA1, signed with
oauthlib; JSON bodies are not part of the signature) or an OAuth 2.0 user-context bearer token.
Media links are appended to the text (uploading media is not done here)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from oauthlib.oauth1 import Client as OAuth1Client

from server.notify.connectors import DeliveryResult, Outbound, failure, transport_failure


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
        return self._post(f"/2/dm_conversations/with/{participant}/messages", {"text": text}, "DM", "dm_event_id")

    def _headers(self, url: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.consumer_key and self.consumer_secret and self.access_token and self.access_token_secret:
            signer = OAuth1Client(self.consumer_key, client_secret=self.consumer_secret,
                                  resource_owner_key=self.access_token,
                                  resource_owner_secret=self.access_token_secret)
            _uri, signed, _body = signer.sign(url, http_method="POST", headers=headers)
            return dict(signed)
        return {**headers, "Authorization": f"Bearer {self.bearer_token}"}

    def _post(self, path: str, body: dict[str, Any], what: str, id_key: str) -> DeliveryResult:
        url = self.api_url.rstrip("/") + path
        try:
            response = httpx.post(url, json=body, headers=self._headers(url), timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            return transport_failure("X API", exc)
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        data = answer.get("data") if isinstance(answer, dict) else None
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
