"""The API client, sync engine and controller against a real server (no window)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlmodel import select

from mobile_app.api import ApiClient, AuthError, OfflineError, Tokens
from mobile_app.controller import Controller
from server.conversations.models import Message
from tests.mobile_app.conftest import PASSWORD, LiveServer, free_port

pytestmark = pytest.mark.slow


def test_sign_in_and_read_only_own_jobs(live_server: LiveServer) -> None:
    api = ApiClient(live_server.url)
    tokens = api.sign_in("ana", PASSWORD)
    assert tokens.role == "technician" and api.me()["technician_id"]
    assert sorted(j["id"] for j in api.jobs()) == sorted(live_server.assigned["ana"])


def test_bad_credentials_unreachable_and_expired_session(live_server: LiveServer) -> None:
    with pytest.raises(AuthError, match="Sign-in refused"):
        ApiClient(live_server.url).sign_in("ana", "wrong-password")
    with pytest.raises(OfflineError, match="Cannot reach the server"):
        ApiClient(f"http://127.0.0.1:{free_port()}", timeout_s=2).sign_in("ana", PASSWORD)
    forgotten = []
    api = ApiClient(live_server.url, tokens=Tokens("expired.garbage.token", "bad-refresh"), on_tokens=forgotten.append)
    with pytest.raises(AuthError, match="session has expired"):
        api.jobs()
    assert forgotten == [None]


def test_signing_out_revokes_the_tokens_on_the_server(live_server: LiveServer, tmp_path: Path) -> None:
    """A phone that signs out leaves no working token behind (a lost phone's saved session is dead)."""
    controller = Controller(tmp_path / "app")
    controller.sign_in_now(live_server.url, "ana", PASSWORD)
    tokens = controller.api.tokens
    assert tokens is not None
    done = threading.Event()
    controller.start()
    try:
        controller.sign_out()
        controller.worker.submit(lambda: None, lambda _r, _e: done.set())  # runs after the sign-out's revocation
        assert done.wait(timeout=20)
    finally:
        controller.stop()
    stale = ApiClient(live_server.url, tokens=tokens)
    with pytest.raises(AuthError):
        stale.me()


def test_refresh_renews_an_expired_access_token(live_server: LiveServer) -> None:
    good = ApiClient(live_server.url).sign_in("ana", PASSWORD)
    saved = []
    api = ApiClient(live_server.url, tokens=Tokens("expired", good.refresh_token), on_tokens=saved.append)
    assert api.me()["username"] == "ana"
    assert saved and saved[0].access_token != "expired"


def test_reply_is_idempotent_by_key(live_server: LiveServer, tmp_path: Path) -> None:
    controller = Controller(tmp_path / "app")
    controller.sign_in_now(live_server.url, "ana", PASSWORD)
    job_id = live_server.assigned["ana"][0]
    customer = controller.job_extra(job_id)["customers"][0]
    conversation = controller.reply_conversation(customer["id"])
    assert conversation is not None
    item = controller.engine.act_message(conversation["id"], "Technician on the way", job_id=job_id)
    controller.engine.flush()
    # the answer was lost: the same key goes again, and the server keeps one message
    controller.api.post_message(conversation["id"], text="Technician on the way", key=item.key)
    with live_server.session() as session:
        rows = session.exec(select(Message).where(Message.external_id == item.key)).all()
    assert len(rows) == 1 and rows[0].channel == conversation["channel"]
    controller.engine.pull()
    history = controller.history(customer["id"])
    assert history[-1]["text"] == "Technician on the way" and history[-1]["author_kind"] == "technician"
