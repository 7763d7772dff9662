"""Deliveries that arrive twice: a provider re-sending a webhook (in sequence and at the same moment from several
connections), and a technician's app retrying a status update after its request timed out. Each must leave exactly
one record. Against a real uvicorn process, on SQLite and on the real PostgreSQL. Webhooks are signed as the real
platforms sign them (Meta: X-Hub-Signature-256; Twilio: X-Twilio-Signature) and refused unsigned or mis-signed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from sqlmodel import Session, func, select

from server.auth.models import Role
from server.conversations.models import Message
from server.jobs.models import Job, JobEvent
from server.technicians.models import Technician
from tests.faults.server_process import ServerProcess
from tests.server.conftest import JOB_BODY, TECH_BODY
from tests.server.intake.helpers import fb_comment, sms

FB_SECRET = "fb-app-secret-123"
TWILIO_TOKEN = "twilio-auth-token-456"
PUBLIC_URL = "https://groundcrew.example"
CONCURRENT = 8


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(database_url, tmp_path, env={
        "GROUNDCREW_FACEBOOK_APP_SECRET": FB_SECRET, "GROUNDCREW_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "GROUNDCREW_CHANNEL_PUBLIC_URL": PUBLIC_URL}).start()
    yield proc
    proc.stop()


def _messages(server: ServerProcess, channel: str, external_id: str) -> int:
    engine = server.engine()
    with Session(engine) as session:
        n = session.exec(select(func.count()).select_from(Message).where(
            Message.channel == channel, Message.external_id == external_id)).one()
    engine.dispose()
    return n


def meta_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def twilio_signature(token: str, url: str, form: dict[str, str]) -> str:
    signed = url + "".join(k + v for k, v in sorted(form.items()))
    return base64.b64encode(hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def _post_all(fn, n: int) -> list[httpx.Response]:  # type: ignore[no-untyped-def]
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda _i: fn(), range(n)))


def test_facebook_webhook_verified_and_stored_once(server):
    body = json.dumps(fb_comment("fb-c-77", "Streetlight out at Eastern and Conkling")).encode()
    url = server.base + "/channels/facebook"
    ctype = {"content-type": "application/json"}

    def post(signature: str | None, content: bytes = body) -> httpx.Response:
        headers = {**ctype, **({"X-Hub-Signature-256": signature} if signature is not None else {})}
        return httpx.post(url, content=content, headers=headers, timeout=30)

    assert post(None).status_code == 401
    assert post(meta_signature("wrong-secret", body)).status_code == 401
    assert post("sha256=" + "0" * 64).status_code == 401
    assert post(meta_signature(FB_SECRET, body).replace("sha256=", "sha1=")).status_code == 401
    tampered = body.replace(b"Streetlight", b"Streetlamp!")
    assert post(meta_signature(FB_SECRET, body), tampered).status_code == 401  # signature of another body
    assert _messages(server, "facebook", "fb-c-77") == 0

    good = meta_signature(FB_SECRET, body)
    first, again = post(good), post(good)
    # Meta: always 200 ("Required 200 OK Response"); the body says which delivery filed the message
    assert (first.status_code, again.status_code) == (200, 200), (first.text, again.text)
    assert (first.json()["created"], again.json()["created"]) == (True, False)
    assert again.json()["message_id"] == first.json()["message_id"]

    # the same delivery on CONCURRENT connections at once, for a new comment
    body2 = json.dumps(fb_comment("fb-c-78", "Pothole on Boston St")).encode()
    results = _post_all(lambda: post(meta_signature(FB_SECRET, body2), body2), CONCURRENT)
    assert {r.status_code for r in results} == {200}, [r.text for r in results]
    assert sorted(r.json()["created"] for r in results) == [False] * (CONCURRENT - 1) + [True]
    assert len({r.json()["message_id"] for r in results}) == 1
    assert _messages(server, "facebook", "fb-c-77") == 1 and _messages(server, "facebook", "fb-c-78") == 1


def test_twilio_webhook_verified_and_stored_once(server):
    signed_url = PUBLIC_URL + "/channels/sms"  # what Twilio signs: the public URL it was configured with
    form = sms("SM-fault-1", "Streetlight out at 2400 Eastern Ave")

    def post(signature: str | None, data: dict[str, str] = form) -> httpx.Response:
        headers = {"content-type": "application/x-www-form-urlencoded",
                   **({"X-Twilio-Signature": signature} if signature is not None else {})}
        return httpx.post(server.base + "/channels/sms", content=urlencode(data), headers=headers, timeout=30)

    assert post(None).status_code == 401
    assert post(twilio_signature("wrong-token", signed_url, form)).status_code == 401
    assert post(twilio_signature(TWILIO_TOKEN, server.base + "/channels/sms", form)).status_code == 401  # other URL
    assert post(twilio_signature(TWILIO_TOKEN, signed_url, form), {**form, "Body": "changed"}).status_code == 401
    assert _messages(server, "sms", "SM-fault-1") == 0

    good = twilio_signature(TWILIO_TOKEN, signed_url, form)
    first, again = post(good), post(good)
    # Twilio: TwiML with 200 either way (https://www.twilio.com/docs/api/errors/15003); the header tells
    assert (first.status_code, again.status_code) == (200, 200), (first.text, again.text)
    assert (first.headers["X-Groundcrew-Created"], again.headers["X-Groundcrew-Created"]) == ("true", "false")

    form2 = sms("SM-fault-2", "Water main break on Fleet St", sender="+14105550111")
    results = _post_all(lambda: post(twilio_signature(TWILIO_TOKEN, signed_url, form2), form2), CONCURRENT)
    assert {r.status_code for r in results} == {200}, [r.text for r in results]
    assert sorted(r.headers["X-Groundcrew-Created"] for r in results) == ["false"] * (CONCURRENT - 1) + ["true"]
    assert _messages(server, "sms", "SM-fault-1") == 1 and _messages(server, "sms", "SM-fault-2") == 1


def _assigned_job(server: ServerProcess) -> tuple[int, dict[str, str]]:
    engine = server.engine()
    with Session(engine) as session:
        tech = Technician.model_validate(TECH_BODY)
        session.add(tech)
        session.commit()
        tech_id = tech.id
    engine.dispose()
    server.add_user("disp", Role.dispatcher)
    server.add_user("tech", Role.technician, tech_id)
    job = httpx.post(server.base + "/jobs", json=JOB_BODY, headers=server.headers("disp"), timeout=30).json()
    engine = server.engine()
    with Session(engine) as session:
        row = session.get(Job, job["id"])
        row.assigned_technician_id, row.status = tech_id, "assigned"
        session.add(row)
        session.commit()
    engine.dispose()
    return job["id"], server.headers("tech")


def _events(server: ServerProcess, job_id: int, status: str) -> int:
    engine = server.engine()
    with Session(engine) as session:
        n = session.exec(select(func.count()).select_from(JobEvent).where(
            JobEvent.job_id == job_id, JobEvent.status == status)).one()
    engine.dispose()
    return n


def test_status_update_retried_after_a_timeout_is_applied_once(server):
    job_id, tech = _assigned_job(server)
    url = f"{server.base}/jobs/{job_id}/status"
    body = {"status": "en_route", "idempotency_key": "outbox-7f3a-1"}
    # The app gives up before the answer arrives (the server still does the work)...
    try:
        httpx.post(url, json=body, headers=tech, timeout=httpx.Timeout(5.0, read=0.0005))
        timed_out = False
    except httpx.TimeoutException:
        timed_out = True
    if timed_out:  # the app's next try comes later, once the server has done the work (on a busy machine the
        deadline = time.monotonic() + 60  # original may not even have been read yet when a retry is sent at once)
        while _events(server, job_id, "en_route") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
    # ...and retries the same outbox entry until it gets an answer.
    retry = httpx.post(url, json=body, headers=tech, timeout=30)
    assert retry.status_code in (200, 201), retry.text
    assert retry.json()["status"] == "en_route"
    if timed_out:  # the first request was applied by the server: the retry is a replay
        assert retry.headers.get("Idempotent-Replay") == "true"
    assert _events(server, job_id, "en_route") == 1

    # The same outbox entry sent from two connections at once (a retry racing the original).
    body = {"status": "on_site", "idempotency_key": "outbox-7f3a-2"}
    results = _post_all(lambda: httpx.post(url, json=body, headers=tech, timeout=30), CONCURRENT)
    assert all(r.status_code in (200, 201) for r in results), [r.text for r in results]
    assert sum(r.headers.get("Idempotent-Replay") != "true" for r in results) == 1
    assert _events(server, job_id, "on_site") == 1

    # The key belongs to that step: reusing it for another step is refused and changes nothing.
    reuse = httpx.post(url, json={"status": "completed", "idempotency_key": "outbox-7f3a-2"}, headers=tech, timeout=30)
    assert reuse.status_code == 409 and "idempotency_key" in reuse.json()["detail"]
    assert _events(server, job_id, "completed") == 0
