"""Security headers on every HTTP response, as pure ASGI middleware (no BaseHTTPMiddleware: no extra task or
body streaming per request; it only adds headers to ``http.response.start``).

The console's Content-Security-Policy allows only what the console loads: its own scripts and styles (the built
``index.html`` has no inline script or style; Leaflet and Chart.js set styles through the CSSOM, which the policy
does not block), images from itself, ``data:`` URIs (Leaflet's bundled icons) and OpenStreetMap's tile server, and
fetch/WebSocket/EventSource to its own origin (``'self'`` covers ``ws:``/``wss:`` to the same host in CSP 3).
Nothing may frame any page. A response that sets its own policy keeps it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: Where the console's map tiles come from (``web/src/map.ts``).
TILE_ORIGIN = "https://tile.openstreetmap.org"

CONSOLE_CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    f"img-src 'self' data: {TILE_ORIGIN}",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

#: FastAPI's interactive docs (/docs, /redoc) load Swagger UI / ReDoc from jsDelivr and start them with an inline
#: script that FastAPI writes (no user data in it); they hold no session of the console's.
DOCS_CDN = "https://cdn.jsdelivr.net"
DOCS_CSP = "; ".join([
    "default-src 'self'",
    f"script-src 'self' 'unsafe-inline' {DOCS_CDN}",
    f"style-src 'self' 'unsafe-inline' {DOCS_CDN} https://fonts.googleapis.com",  # ReDoc's font
    "font-src 'self' https://fonts.gstatic.com",
    f"img-src 'self' data: {DOCS_CDN} https://fastapi.tiangolo.com",
    "worker-src 'self' blob:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
])
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})


def _headers(csp: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
    ]


class SecurityHeaders:
    """Adds CSP, ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Referrer-Policy: no-referrer``
    and ``Cross-Origin-Opener-Policy`` to every HTTP response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._default = _headers(CONSOLE_CSP)
        self._docs = _headers(DOCS_CSP)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self._docs if scope.get("path") in DOCS_PATHS else self._default

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in extra if h[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
