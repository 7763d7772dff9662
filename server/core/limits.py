"""Request size limit as pure ASGI middleware: refuses bodies over the limit with 413 before reading
them (Content-Length) or as soon as a streamed (chunked) body passes it.

One limit holds for every route (``max_request_bytes``); a route that carries files names its own, larger one
(``BodyLimit``: a job completion with its photos, see server/fieldwork/service.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

# A refused body up to this size is read and thrown away before the 413 is sent: a client that writes its whole
# body before reading the answer (urllib, the mobile app) otherwise meets a reset connection ("broken pipe") and
# never sees the 413, and retries forever as if offline. nginx's lingering close does the same. Larger: closed.
DRAIN_MAX_BYTES = 64_000_000

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class BodyLimit:
    """A route's own body limit: ``method`` and a full-match ``path`` pattern; ``what`` names it in the 413."""

    method: str
    path: str
    max_bytes: int
    what: str

    def matches(self, scope: Scope) -> bool:
        return scope.get("method") == self.method and re.fullmatch(self.path, scope.get("path", "")) is not None


class RequestSizeLimit:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], max_bytes: int,
                 larger: Sequence[BodyLimit] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = tuple(larger)

    def _limit(self, scope: Scope) -> tuple[int, str]:
        for limit in self.larger:
            if limit.matches(scope):
                return limit.max_bytes, f" for {limit.what}"
        return self.max_bytes, ""

    async def _refuse(self, send: Send, max_bytes: int, what: str) -> None:
        body = json.dumps({"detail": f"request body too large: the limit{what} is {max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    async def _drain(receive: Receive, budget: int) -> None:
        """Read and discard the rest of a refused body, at most ``budget`` bytes."""
        seen = 0
        while seen <= budget:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return
            seen += len(message.get("body", b""))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes, what = self._limit(scope)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = 0
                if length > max_bytes:
                    if length <= DRAIN_MAX_BYTES:
                        await self._drain(receive, length)
                    await self._refuse(send, max_bytes, what)
                    return
        if not any(name == b"transfer-encoding" for name, _ in scope.get("headers", [])):
            await self.app(scope, receive, send)
            return
        # A streamed body of unknown length: read it up to the limit first, then replay it.
        chunks: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                chunks.append(message)
                break
            seen += len(message.get("body", b""))
            if seen > max_bytes:
                if message.get("more_body", False):
                    await self._drain(receive, DRAIN_MAX_BYTES - seen)
                await self._refuse(send, max_bytes, what)
                return
            chunks.append(message)
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)
