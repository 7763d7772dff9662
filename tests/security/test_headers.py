"""Security headers (issue 25): every response — the console page, its static assets, API answers, errors, the
413 of the size limit — carries the Content-Security-Policy, nosniff, frame denial and Referrer-Policy. The console
running under that policy in a real browser is checked in tests/security/test_console_xss.py."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from server.app import create_app
from server.config import Settings
from server.core.security_headers import CONSOLE_CSP, DOCS_CSP


@pytest.fixture
def client(tmp_path):  # type: ignore[no-untyped-def]
    app = create_app(Settings(data_dir=tmp_path, load_city=False, dispatch_background=False,
                              dispatch_morning_at=None, max_request_bytes=1024))
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


def _directives(csp: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in csp.split(";")) if d}


def _assert_headers(response, csp: str = CONSOLE_CSP) -> None:  # type: ignore[no-untyped-def]
    where = f"{response.request.method} {response.request.url.path} -> {response.status_code}"
    assert response.headers.get("content-security-policy") == csp, where
    assert response.headers.get("x-content-type-options") == "nosniff", where
    assert response.headers.get("x-frame-options") == "DENY", where
    assert response.headers.get("referrer-policy") == "no-referrer", where


def test_every_kind_of_response_has_the_headers(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    _assert_headers(page)
    asset = re.search(r'src="(/static/assets/[^"]+\.js)"', page.text)
    assert asset
    for response in (
        client.get(asset.group(1)),                       # a static asset
        client.get("/static/index.html"),
        client.get("/health"),                            # public API
        client.get("/openapi.json"),
        client.get("/jobs"),                              # 401
        client.get("/no/such/path"),                      # 404
        client.post("/auth/token", data={"username": "nobody", "password": "x"}),  # 400/401/429
        client.post("/jobs", content=b"x" * 4000, headers={"Content-Type": "application/json"}),  # 413
        client.options("/jobs"),                          # 405
    ):
        _assert_headers(response)


def test_the_policy_allows_only_what_the_console_needs() -> None:
    policy = _directives(CONSOLE_CSP)
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval, no other origin
    assert policy["style-src"] == ["'self'"]
    assert policy["connect-src"] == ["'self'"]  # fetch, WebSocket and EventSource to the console's own origin
    assert policy["img-src"] == ["'self'", "data:", "https://tile.openstreetmap.org"]  # Leaflet icons, OSM tiles
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"] and policy["default-src"] == ["'self'"]


def test_built_console_has_no_inline_script_or_style(client: TestClient) -> None:
    html = client.get("/").text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline <script> would be refused by the CSP"
    assert "<style" not in html and " style=" not in html and not re.search(r"\son[a-z]+=", html)


def test_docs_pages_get_their_own_policy_still_unframeable(client: TestClient) -> None:
    docs = client.get("/docs")
    _assert_headers(docs, DOCS_CSP)
    assert "frame-ancestors 'none'" in DOCS_CSP


def test_a_route_that_sets_its_own_policy_keeps_it() -> None:
    import asyncio

    from server.core.security_headers import SecurityHeaders

    sent: list[dict] = []

    async def inner(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-security-policy", b"sandbox")]})
        await send({"type": "http.response.body", "body": b""})

    async def collect(message) -> None:  # type: ignore[no-untyped-def]
        sent.append(message)

    # In a thread of its own: the console tests' session-wide browser keeps an event loop running on this one.
    import threading

    runner = threading.Thread(target=lambda: asyncio.run(
        SecurityHeaders(inner)({"type": "http", "path": "/x"}, None, collect)))  # type: ignore[arg-type]
    runner.start()
    runner.join(timeout=10)
    headers = sent[0]["headers"]
    assert [v for k, v in headers if k == b"content-security-policy"] == [b"sandbox"]
    assert (b"x-content-type-options", b"nosniff") in headers


def test_an_unhandled_error_answers_500_with_the_headers(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A bug's 500 comes from Starlette's outermost error middleware, which ran outside the security headers."""
    app = create_app(Settings(data_dir=tmp_path, load_city=False, dispatch_background=False,
                              dispatch_morning_at=None))

    @app.get("/boom-for-test")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/boom-for-test")
    app.state.engine.dispose()
    assert response.status_code == 500 and "a bug" not in response.text
    _assert_headers(response)
