"""Live event stream for the console and the app: WebSocket at ``/events/ws`` and Server-Sent Events at
``/events/stream``. Technicians receive only events about themselves and their jobs.

Signing in to the stream: a browser cannot send an Authorization header with a WebSocket or an EventSource, and
an access token in the URL ends up in access logs. So the console first asks ``POST /events/ticket`` (with its
Authorization header) for a ticket — random, single use, valid ``TICKET_TTL_S`` seconds, bound to that user —
and opens ``/events/ws?ticket=...`` or ``/events/stream?ticket=...``. Clients that can send headers (the mobile
app's SSE) keep sending ``Authorization: Bearer <access token>``. ``?token=`` is refused. A WebSocket that is
refused is accepted and closed at once with code 4401 (not signed in), so every client sees the same code."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from server.auth.models import User
from server.core.deps import CurrentUser, SessionDep, get_current_user, load_user, oauth2_scheme
from server.core.errors import Unauthorized
from server.core.routing import FeatureRouter
from server.events import service
from server.events.broker import Subscription, hub, make_event, public, relay_from_redis
from server.events.models import EventTicketPublic

#: The WebSocket close code for "not signed in" (RFC 6455 leaves 4000-4999 to applications; 4401 echoes HTTP 401).
CLOSE_UNAUTHORIZED = 4401
_NO_TOKEN_IN_URL = ("?token= is no longer accepted (URLs end up in logs): get a single-use ticket from "
                    "POST /events/ticket and pass ?ticket=, or send an Authorization header")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """With a broker configured, relay Redis pub/sub events into this process's subscribers."""
    settings = app.state.settings
    task = None
    if settings.broker_url:
        ready = asyncio.Event()
        task = asyncio.create_task(relay_from_redis(settings.broker_url, ready))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), timeout=5)
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


router = FeatureRouter(prefix="/events", tags=["events"], lifespan=lifespan)

HEARTBEAT_S = 15.0


def _user_for_ticket(app: FastAPI, ticket: str) -> User:
    """The user a ticket was issued to (redeeming it); blocking, call it off the event loop."""
    engine = app.state.engine
    with Session(engine) as session:
        user_id = service.redeem(session=session, ticket=ticket)
    if user_id is None:
        raise Unauthorized("the ticket is unknown, used or expired: get a new one from POST /events/ticket")
    user = load_user(engine, user_id)
    if user is None or not user.is_active:
        raise Unauthorized("the account behind this ticket no longer exists or is disabled")
    return user


async def _stream_user(request: Request | WebSocket, ticket: str | None) -> User:
    """Who opens the stream: by ``?ticket=``, else by the Authorization header (checked as every request is)."""
    if "token" in request.query_params:
        raise Unauthorized(_NO_TOKEN_IN_URL)
    if ticket:
        return await asyncio.to_thread(_user_for_ticket, request.app, ticket)
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and bearer:
        return await get_current_user(request, request.app.state.settings, bearer)  # type: ignore[arg-type]
    raise Unauthorized("not signed in: pass ?ticket= (from POST /events/ticket) or an Authorization header")


def _gap(sub: Subscription) -> dict[str, Any] | None:
    """``stream.gap`` once the queue has drained after events were dropped for this subscriber (a client too slow
    to read them): the events it holds are no longer the whole story, so it reads its state afresh."""
    if sub.dropped <= sub.gaps_told or not sub.queue.empty():
        return None
    sub.gaps_told = sub.dropped
    return public(make_event("stream.gap", {"dropped": sub.dropped}))


@router.post("/ticket", status_code=201, response_model=EventTicketPublic,
             summary="A single-use ticket (valid ~30 s) for opening /events/ws or /events/stream")
def events_ticket(session: SessionDep, user: CurrentUser) -> EventTicketPublic:
    """Pass it as ``?ticket=``: the access token itself never goes into a URL (and so into access logs)."""
    assert user.id is not None
    ticket = service.issue(session=session, user_id=user.id)
    return EventTicketPublic(ticket=ticket, expires_in_s=service.TICKET_TTL_S)


@router.websocket("/ws")
async def events_ws(websocket: WebSocket, ticket: Annotated[str | None, Query(max_length=200)] = None) -> None:
    """Each message is one JSON event ``{type, id, at, data}``; close code 4401 when not signed in."""
    try:
        user = await _stream_user(websocket, ticket)
    except Unauthorized as exc:
        # Closing before the handshake would answer HTTP 403; accept, then close with the documented code.
        await websocket.accept()
        await websocket.close(code=CLOSE_UNAUTHORIZED, reason=exc.detail[:120])
        return
    await websocket.accept()
    sub = hub.subscribe(user)
    await websocket.send_json({"type": "hello", "id": "", "at": "", "data": {"role": user.role.value,
                                                                            "technician_id": user.technician_id}})

    async def _drain_client() -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError):
            while True:
                await websocket.receive_text()  # pings from the client; disconnect ends the stream

    reader = asyncio.create_task(_drain_client())
    try:
        while not reader.done():
            get = asyncio.create_task(sub.queue.get())
            done, _ = await asyncio.wait({get, reader}, timeout=HEARTBEAT_S, return_when=asyncio.FIRST_COMPLETED)
            if get in done:
                await websocket.send_json(public(get.result()))
                if gap := _gap(sub):
                    await websocket.send_json(gap)
            else:
                get.cancel()
                if not done:
                    await websocket.send_json({"type": "heartbeat", "id": "", "at": "", "data": {}})
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        reader.cancel()
        hub.unsubscribe(sub)


@router.get("/stream", summary="Server-Sent Events stream of live events (same filtering as the WebSocket)")
async def events_sse(
    request: Request,
    ticket: Annotated[str | None, Query(max_length=200, description="A ticket from POST /events/ticket "
                                        "(or send an Authorization header).")] = None,
    limit: Annotated[int | None, Query(ge=1, le=100_000, description="Close after this many events.")] = None,
) -> StreamingResponse:
    await oauth2_scheme(request)  # documents the bearer scheme
    user = await _stream_user(request, ticket)
    sub = hub.subscribe(user)

    async def stream() -> AsyncIterator[str]:
        sent = 0
        try:
            yield ": connected\n\n"
            while limit is None or sent < limit:
                try:
                    event = await asyncio.wait_for(sub.queue.get(), timeout=HEARTBEAT_S)
                except TimeoutError:
                    if await request.is_disconnected():
                        break
                    yield ": heartbeat\n\n"
                    continue
                for body in (public(event), _gap(sub)):
                    if body:
                        yield f"id: {body['id']}\nevent: {body['type']}\ndata: {json.dumps(body, default=str)}\n\n"
                sent += 1
        finally:
            hub.unsubscribe(sub)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
