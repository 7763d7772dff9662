"""Shared reads: identical read requests that wait at the same time are answered by one database read.

Every console reloads the job board and the technicians 400 ms after the same live event, and many clients poll
the same public Open311 lists, so identical requests arrive together; under load they queue for a session slot
(``deps.session_slot``) side by side. Reading once for all of them is the "collapsed forwarding" of HTTP caches
and Go's ``singleflight``, with one rule that keeps every answer as fresh as if it had been read alone: a request
joins only a read that has **not started yet**. The read then begins after the request arrived, so it sees every
write that was committed before the request was sent (read-your-writes holds). Nothing is kept once the read is
answered: this is not a cache and nothing can be stale.

The key must name everything the answer depends on: the endpoint, its normalised parameters and whatever the
caller's role changes (a technician's own id, say); authorization is checked per request before the key is made."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import anyio.to_thread
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.engine import Engine
from sqlmodel import Session

from server.core.deps import loop_local, session_slot

T = TypeVar("T")


class _Abandoned(Exception):
    """The request that was to read went away before reading (cancelled): a waiting request reads itself."""


#: Per event loop: the answers of the reads that are waiting for a session slot (a read leaves once it starts).
_WAITING: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[int, Hashable], asyncio.Future[Any]]] = (
    weakref.WeakKeyDictionary())


def _read_in_thread(engine: Engine, read: Callable[[Session], T]) -> T:
    with Session(engine) as session:
        return read(session)


def copy_answer(answer: T) -> T:
    """A Response of its own for each request (middleware may add headers to the one it sends); other answers are
    shared as they are (read-only for the callers)."""
    if not isinstance(answer, Response):
        return answer
    copy = Response(answer.body, status_code=answer.status_code)
    copy.raw_headers = list(answer.raw_headers)
    return copy  # type: ignore[return-value]


async def shared_read(request: Request, key: Hashable, read: Callable[[Session], T]) -> T:
    """``read(session)`` in a worker thread with a session slot, or the answer of an identical read that was waiting
    for a slot when this request arrived. ``read`` must only read; a Response it returns must be complete (no
    background task)."""
    engine: Engine = request.app.state.engine
    waiting = loop_local(_WAITING, dict)
    full_key = (id(engine), key)
    while (pending := waiting.get(full_key)) is not None:
        try:
            return copy_answer(await asyncio.shield(pending))
        except _Abandoned:
            continue  # the request that was to read went away: try again (perhaps reading ourselves)
    answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    waiting[full_key] = answer
    try:
        async with session_slot():
            del waiting[full_key]  # started: a request arriving from now on reads again
            result = await anyio.to_thread.run_sync(_read_in_thread, engine, read)
    except BaseException as exc:
        if waiting.get(full_key) is answer:
            del waiting[full_key]
        abandoned = isinstance(exc, asyncio.CancelledError) or not isinstance(exc, Exception)
        answer.set_exception(_Abandoned() if abandoned else exc)
        answer.exception()  # retrieved: no "never retrieved" warning when no one was waiting
        raise
    answer.set_result(result)
    return result
