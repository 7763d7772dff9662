"""server/intake/guard.py: text cleaning, the JSON depth bound, and the per-IP limiter's storages (memory; Redis,
shared by every process, when broker_url is set; a Redis outage lets requests through)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from fastapi import HTTPException

from server.config import Settings
from server.core.errors import Invalid
from server.intake.guard import _Limiter, clean_text, parse_json


def test_clean_text_keeps_tabs_and_newlines_and_drops_xml_illegal_characters() -> None:
    assert clean_text("a\x00b\x01c\x0bd\x1fe\tf\ng\rh\ud800i\uffffj") == "abcde\tf\ng\rhij"
    same = "plain text, ünïcode ✓"
    assert clean_text(same) is same


def test_parse_json_bounds_nesting_but_not_brackets_in_strings() -> None:
    assert parse_json(b'{"text": "' + b"[" * 500 + b'"}') == {"text": "[" * 500}
    assert parse_json(b"[" * 64 + b"]" * 64) is not None
    with pytest.raises(Invalid, match="nested more than 64"):
        parse_json(b"[" * 65 + b"]" * 65)
    with pytest.raises(Invalid, match="not valid JSON"):
        parse_json(b"{")


def test_memory_limiter_counts_per_address() -> None:
    limiter = _Limiter(Settings(webform_rate_limit="2/minute"))
    limiter.hit("webform", "a")
    limiter.hit("webform", "a")
    limiter.hit("webform", "b")
    with pytest.raises(HTTPException) as refused:
        limiter.hit("webform", "a")
    assert refused.value.status_code == 429 and int(refused.value.headers["Retry-After"]) >= 1


def test_empty_limit_means_no_limit_and_bad_limits_are_refused() -> None:
    limiter = _Limiter(Settings(webform_rate_limit=""))
    for _ in range(100):
        limiter.hit("webform", "a")
    with pytest.raises(ValueError, match="not a rate limit"):
        Settings(webform_rate_limit="ten a minute")


@pytest.fixture
def redis_url() -> Iterator[str]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


def test_redis_limiter_is_shared_by_every_process(redis_url: str) -> None:
    one, two = (_Limiter(Settings(broker_url=redis_url, webform_rate_limit="2/minute")) for _ in range(2))
    one.hit("webform", "c")
    two.hit("webform", "c")
    with pytest.raises(HTTPException):
        one.hit("webform", "c")


def test_a_redis_outage_lets_requests_through() -> None:
    limiter = _Limiter(Settings(broker_url="redis://127.0.0.1:1/0", webform_rate_limit="1/minute"))
    for _ in range(3):
        limiter.hit("webform", "d")
