"""Identical deliveries that arrive at the same moment (a provider's retry racing its first try) all succeed with
the same result: one message, never a 409 (issue 25)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlmodel import Session, select

from server.auth.models import Role
from server.conversations.models import Message
from tests.server.intake.helpers import tweet

COPIES = 20


def _stored(app, external_id: str) -> int:  # type: ignore[no-untyped-def]
    with Session(app.state.engine) as session:
        return len(session.exec(select(Message).where(Message.external_id == external_id)).all())


def test_concurrent_identical_generic_inbound_all_succeed(client, app, auth):  # type: ignore[no-untyped-def]
    headers = auth(Role.agent)
    body = {"channel": "twitter", "external_id": "race-1", "author_handle": "@racer", "text": "streetlight out"}
    with ThreadPoolExecutor(COPIES) as pool:
        answers = list(pool.map(lambda _: client.post("/conversations/inbound", json=body, headers=headers),
                                range(COPIES)))
    assert sorted({a.status_code for a in answers}) in ([201], [200, 201]), [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert _stored(app, "race-1") == 1


def test_concurrent_identical_webhook_deliveries_all_succeed(client, app):  # type: ignore[no-untyped-def]
    payload = tweet("race-2", "@groundcrew the streetlight on my block is out", user_id="77", username="racer2")
    with ThreadPoolExecutor(COPIES) as pool:
        answers = list(pool.map(lambda _: client.post("/channels/twitter", json=payload), range(COPIES)))
    assert {a.status_code for a in answers} == {200}, [a.text for a in answers]  # X: 200 for every delivery
    assert sum(a.json()["created"] for a in answers) == 1, [a.text for a in answers]
    assert len({(a.json()["message_id"], a.json()["case_id"]) for a in answers}) == 1
    assert _stored(app, "race-2") == 1
