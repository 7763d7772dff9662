"""Shared reads (server/core/shared_reads.py): identical requests waiting for a session slot are answered by one
read, a request never joins a read that has already started, and a read that fails or goes away is handled."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from server.auth.models import Role
from server.core import deps
from server.core.errors import NotFound
from server.core.shared_reads import shared_read
from server.jobs.models import Job
from tests.server.conftest import sign_in, statements_run


@contextlib.asynccontextmanager
async def all_slots_taken() -> AsyncIterator[None]:
    """Every session slot of this event loop held, so requests queue for one (as under load)."""
    slots = deps.session_slot()
    for _ in range(deps.SESSION_CONCURRENCY):
        await slots.acquire()
    try:
        yield
    finally:
        for _ in range(deps.SESSION_CONCURRENCY):
            slots.release()


def run(scenario: Callable[[], Any]) -> Any:
    """``asyncio.run(scenario())`` on a thread of its own: a loop of its own, whatever else this process runs (in
    the full suite the console tests' session-wide Playwright browser keeps its sync API's loop running on the main
    thread, where asyncio.run refuses)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(scenario())).result()


def _request(app: Any) -> Any:
    return SimpleNamespace(app=app)


def _counting(value: Any, calls: list[str], name: str, gate: threading.Event | None = None) -> Callable:
    def read(session: Session) -> Any:
        calls.append(name)
        if gate is not None:
            assert gate.wait(10), "the test never opened the gate"
        return value
    return read


def test_identical_waiting_requests_share_one_read_of_the_job_board(app, client, make_user, db):
    make_user("dora", Role.dispatcher)
    headers = sign_in(client, "dora")
    for i in range(3):
        db.add(Job(title=f"Streetlight {i}", lat=39.29, lon=-76.59, duration_min=20, priority=5 + i))
    db.commit()
    engine = app.state.engine

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            async with all_slots_taken():
                requests = [asyncio.create_task(http.get("/jobs?limit=50", headers=headers)) for _ in range(8)]
                await asyncio.sleep(0.3)  # all eight are waiting for a slot now
            return await asyncio.gather(*requests)

    with statements_run(engine) as statements:
        responses = run(scenario)
    assert [r.status_code for r in responses] == [200] * 8
    assert len({r.content for r in responses}) == 1
    assert responses[0].json()["total"] == 3
    board_reads = [s for s in statements if "FROM job" in s and "count(*) OVER" in s]
    assert len(board_reads) == 1, board_reads


def test_different_parameters_are_different_reads(app, client, make_user):
    make_user("dora", Role.dispatcher)
    headers = sign_in(client, "dora")

    async def scenario() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            async with all_slots_taken():
                requests = [asyncio.create_task(http.get(f"/jobs?limit={n}", headers=headers)) for n in (5, 6)]
                await asyncio.sleep(0.3)
            return await asyncio.gather(*requests)

    with statements_run(app.state.engine) as statements:
        first, second = run(scenario)
    assert first.json()["limit"] == 5 and second.json()["limit"] == 6
    assert len([s for s in statements if "FROM job" in s and "count(*) OVER" in s]) == 2


def test_a_request_does_not_join_a_read_that_has_started(app):
    """The read that began before this request arrived may miss a write this request's client already saw
    committed; so the request reads again."""
    calls: list[str] = []
    gate = threading.Event()

    async def scenario() -> tuple[Any, Any]:
        first = asyncio.create_task(shared_read(_request(app), "key", _counting("old", calls, "first", gate)))
        while calls != ["first"]:  # the first read holds a slot and is running in its thread
            await asyncio.sleep(0.01)
        second = asyncio.create_task(shared_read(_request(app), "key", _counting("new", calls, "second")))
        await asyncio.sleep(0.2)
        gate.set()
        return await first, await second

    assert run(scenario) == ("old", "new")
    assert sorted(calls) == ["first", "second"]


def test_a_waiting_request_joins_the_read_that_has_not_started(app):
    calls: list[str] = []

    async def scenario() -> list[Any]:
        async with all_slots_taken():
            first = asyncio.create_task(shared_read(_request(app), "key", _counting("answer", calls, "first")))
            await asyncio.sleep(0.05)
            second = asyncio.create_task(shared_read(_request(app), "key", _counting("other", calls, "second")))
            await asyncio.sleep(0.05)
        return [await first, await second]

    assert run(scenario) == ["answer", "answer"]
    assert calls == ["first"]


def test_a_failed_read_fails_every_request_that_shared_it(app):
    calls: list[str] = []

    def missing(session: Session) -> Any:
        calls.append("read")
        raise NotFound("job 7 not found")

    async def scenario() -> list[Any]:
        async with all_slots_taken():
            tasks = [asyncio.create_task(shared_read(_request(app), "job-7", missing)) for _ in range(3)]
            await asyncio.sleep(0.05)
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = run(scenario)
    assert all(isinstance(r, NotFound) for r in results), results
    assert calls == ["read"]


def test_when_the_reading_request_goes_away_a_waiting_one_reads_itself(app):
    calls: list[str] = []

    async def scenario() -> Any:
        async with all_slots_taken():
            first = asyncio.create_task(shared_read(_request(app), "key", _counting("first's", calls, "first")))
            await asyncio.sleep(0.05)
            second = asyncio.create_task(shared_read(_request(app), "key", _counting("second's", calls, "second")))
            await asyncio.sleep(0.05)
            first.cancel()  # its client disconnected while it waited for a slot
            await asyncio.sleep(0.05)
        with pytest.raises(asyncio.CancelledError):
            await first
        return await second

    assert run(scenario) == "second's"
    assert calls == ["second"]


def test_each_request_gets_a_response_object_of_its_own(app, client, make_user):
    """Middleware may add headers to the response it sends; a shared object would collect every request's."""
    from fastapi.responses import Response

    answer = Response(b"{}", media_type="application/json")

    async def scenario() -> list[Any]:
        async with all_slots_taken():
            tasks = [asyncio.create_task(shared_read(_request(app), "r", lambda session: answer)) for _ in range(3)]
            await asyncio.sleep(0.05)
        return await asyncio.gather(*tasks)

    responses = run(scenario)
    assert len({id(r) for r in responses}) == 3
    assert len({id(r.raw_headers) for r in responses}) == 3
    assert all(r.body == b"{}" and r.headers["content-type"] == "application/json" for r in responses)
