"""Notify fixtures: providers' documented HTTP APIs faked on loopback (a real HTTP server in a thread), and
conversations to answer."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from sqlmodel import Session

from server.config import Settings
from server.conversations import service as conversations
from server.conversations.models import InboundMessage, Message
from server.notify import service as notify


@dataclass
class Calls:
    """What a fake provider received, and the failures it is told to answer with first."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    fail_with: list[int] = field(default_factory=list)  # HTTP statuses to answer the next requests with

    def next_failure(self) -> int | None:
        return self.fail_with.pop(0) if self.fail_with else None


@contextlib.contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` on a free loopback port for the block; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "fake provider did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def closed_port_url() -> str:
    """A loopback URL nobody listens on (a provider that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def _no_retry_timers() -> Iterator[None]:
    yield
    notify.cancel_retries()


@pytest.fixture
def thread_with(app) -> Callable[..., tuple[int, Message]]:  # type: ignore[no-untyped-def]
    """A conversation started by the customer's inbound message (any InboundMessage fields; ``meta`` is stored
    on that message as the inbound adapters do): (conversation id, the inbound message)."""

    def _make(meta: dict[str, Any] | None = None, **fields: Any) -> tuple[int, Message]:
        with Session(app.state.engine) as session:
            done = conversations.ingest(session=session, inbound=InboundMessage(**fields))
            if meta:
                done.message.meta = {**done.message.meta, **meta}
                session.add(done.message)
            session.commit()
            session.refresh(done.message)
            return done.message.conversation_id, done.message

    return _make


@pytest.fixture
def queue_reply(app) -> Callable[..., int]:  # type: ignore[no-untyped-def]
    """Store an outbound message in a conversation, queued (as notices and replies are); returns its id."""

    def _queue(conversation_id: int, text: str, **kwargs: Any) -> int:
        with Session(app.state.engine) as session:
            message, _ = notify.send_to_customer(session=session, conversation_id=conversation_id, text=text,
                                                 kind="test", **kwargs)
            session.commit()
            return message.id or 0

    return _queue


def run_pass(app) -> int:  # type: ignore[no-untyped-def]
    """One delivery pass as the server runs it, without scheduling a timer (the test runs the next pass)."""
    settings: Settings = app.state.settings
    return notify.deliver_queued(engine=app.state.engine, settings=settings, schedule_retries=False)


def stored(app, message_id: int) -> Message:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message
